package report

import (
	"bytes"
	"encoding/base64"
	"html"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/noprop/noprop/internal/fixture"
	"github.com/noprop/noprop/results"
	"github.com/noprop/noprop/results/figure"
	"github.com/noprop/noprop/results/metrics"
	"github.com/noprop/noprop/results/table"
)

func build(t *testing.T, f results.Filter) (*Report, *results.Store) {
	t.Helper()
	s, path := fixture.Open(t)
	r, err := Build(t.Context(), s, f, Options{
		Metrics: []string{metrics.ACC, metrics.Forgetting},
		Source:  path, Version: "v9", Now: time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	return r, s
}

func TestReportHoldsTableMatricesSettingsAndFigures(t *testing.T) {
	r, s := build(t, results.Filter{})
	var page, md bytes.Buffer
	if err := r.WriteHTML(&page); err != nil {
		t.Fatal(err)
	}
	if err := r.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	text := html.UnescapeString(page.String())

	sums, err := s.Summaries(t.Context(), results.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	mean, se, _, err := s.SummaryMatrix(t.Context(), sums[0])
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"<th>ACC</th>", "<th>forgetting</th>", "<th>peak heap MiB</th>",
		table.FormatStat(sums[0].Metrics[metrics.ACC], sums[0].N),
		table.FormatStat(sums[3].Metrics[metrics.Forgetting], sums[3].N),
		"after task 3", table.FormatCell(mean[3][0], se[3][0]), table.FormatCell(mean[0][2], se[0][2]),
		"backprop on split-mnist, class-IL", "noprop-dt:quick on split-mnist, task-IL",
		`"lr": 0.001`, `"timesteps": 3`, `"hidden": [`, "abc123", "v9", "fp32 avx512, bf16 none, vector avx512", sums[0].RunIDs[0], "seeds</dt><dd>1, 2",
	}
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("page lacks %q", w)
		}
		if strings.HasPrefix(w, "<") || strings.HasPrefix(w, "seeds") {
			continue
		}
		if !strings.Contains(md.String(), w) {
			t.Errorf("markdown lacks %q", w)
		}
	}
	// Settings are text: a setting that looks like markup is escaped.
	if strings.Contains(page.String(), "<script>") || !strings.Contains(page.String(), "&lt;script&gt;") {
		t.Error("a setting's markup was not escaped in the page")
	}

	imgs := regexp.MustCompile(`<img src="data:image/png;base64,([^"]+)"`).FindAllStringSubmatch(page.String(), -1)
	if len(imgs) != len(figure.Kinds()) {
		t.Fatalf("%d embedded images, want %d", len(imgs), len(figure.Kinds()))
	}
	for i, m := range imgs {
		// html/template writes '+' as &#43; in attributes.
		b, err := base64.StdEncoding.DecodeString(html.UnescapeString(m[1]))
		if err != nil {
			t.Fatalf("image %d: %v", i, err)
		}
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil || img.Bounds().Dx() < 600 {
			t.Errorf("image %d: %v, %v", i, err, img.Bounds())
		}
	}
	if regexp.MustCompile(`(src|href)="(https?:|file:|//|[a-z]+\.png)`).MatchString(page.String()) {
		t.Error("the page refers to a file outside itself")
	}
	for _, k := range figure.Kinds() {
		if !strings.Contains(md.String(), "](figures/"+string(k)+".png)") {
			t.Errorf("markdown does not show figures/%s.png", k)
		}
	}
}

func TestReportFiltersAndWritesFiles(t *testing.T) {
	r, _ := build(t, results.Filter{Method: "noprop-dt", Scenario: "task"})
	if len(r.Configs) != 1 || len(r.Summary.Rows) != 1 || r.Filter != "--method noprop-dt --scenario task" {
		t.Fatalf("%d configurations, %d table rows, filter %q", len(r.Configs), len(r.Summary.Rows), r.Filter)
	}
	dir := filepath.Join(t.TempDir(), "report")
	files, err := r.Write(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(figure.Kinds())+2 {
		t.Errorf("wrote %v", files)
	}
	for _, f := range files {
		if info, err := os.Stat(f); err != nil || info.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	page, _ := os.ReadFile(filepath.Join(dir, "index.html"))
	if strings.Contains(string(page), "backprop on") {
		t.Error("the filtered report shows backprop")
	}
}
