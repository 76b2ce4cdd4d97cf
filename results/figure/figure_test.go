package figure

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/png"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/noprop/noprop/internal/fixture"
	"github.com/noprop/noprop/results"
)

// count counts the pixels of img for which is returns true.
func count(img image.Image, is func(r, g, b uint32) bool) int {
	n := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if is(r, g, bl) {
				n++
			}
		}
	}
	return n
}

// inked counts the pixels that differ from the white background.
func inked(img image.Image) int {
	return count(img, func(r, g, b uint32) bool { return r < 0xf000 || g < 0xf000 || b < 0xf000 })
}

// colored counts the pixels of a clear hue: the data of the figures, which
// draw axes and text in black and grey.
func colored(img image.Image) int {
	return count(img, func(r, g, b uint32) bool { return max(r, g, b)-min(r, g, b) > 0x3000 })
}

func decode(t *testing.T, f *Figure) image.Image {
	t.Helper()
	b, err := f.PNG()
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("decode %s PNG: %v", f.Kind, err)
	}
	return img
}

func load(t *testing.T, f results.Filter) *Data {
	t.Helper()
	s, _ := fixture.Open(t)
	d, err := Load(t.Context(), s, f)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestEveryKindDrawsAnImage(t *testing.T) {
	d := load(t, results.Filter{})
	if len(d.Configs) != len(fixture.Methods)*len(fixture.Scenarios) {
		t.Fatalf("%d configurations, want %d", len(d.Configs), len(fixture.Methods)*len(fixture.Scenarios))
	}
	// The least share of pixels each kind inks, and of those in colour
	// (the data: axes and text are black and grey). The fixture's figures
	// ink 0.37, 0.034, 0.21, 0.051, 0.25 and colour 0.33, 0.0063, 0.18,
	// 0.014, 0.22; without their cells, lines or bars they colour at most
	// 0.002. The average figure inks 0.034 and colours 0.0078.
	minInk := map[Kind]float64{Matrix: 0.25, Curves: 0.02, Average: 0.02, Bars: 0.1, Loss: 0.03, Test: 0.03, Memory: 0.1, Compare: 0.02}
	minColor := map[Kind]float64{Matrix: 0.2, Curves: 0.003, Average: 0.004, Bars: 0.1, Loss: 0.007, Test: 0.003, Memory: 0.1, Compare: 0.003}
	for _, k := range Kinds() {
		t.Run(string(k), func(t *testing.T) {
			f, err := Draw(k, d)
			if err != nil {
				t.Fatal(err)
			}
			img := decode(t, f)
			wantW := int(math.Round(float64(f.Width/vg.Inch) * PNGDPI))
			wantH := int(math.Round(float64(f.Height/vg.Inch) * PNGDPI))
			if b := img.Bounds(); b.Dx() != wantW || b.Dy() != wantH || b.Dx() < 600 || b.Dy() < 400 {
				t.Errorf("PNG is %dx%d, want %dx%d and at least 600x400", b.Dx(), b.Dy(), wantW, wantH)
			}
			share := float64(inked(img)) / float64(img.Bounds().Dx()*img.Bounds().Dy())
			hue := float64(colored(img)) / float64(img.Bounds().Dx()*img.Bounds().Dy())
			if share < minInk[k] || hue < minColor[k] {
				t.Errorf("%.3f of the pixels inked and %.4f in colour, want at least %.2f and %.3f", share, hue, minInk[k], minColor[k])
			}
			for _, format := range []string{"svg", "pdf"} {
				var b bytes.Buffer
				if err := f.Encode(&b, format); err != nil {
					t.Fatal(err)
				}
				head := map[string]string{"svg": "<?xml", "pdf": "%PDF"}[format]
				if !strings.HasPrefix(b.String(), head) || b.Len() < 2000 {
					t.Errorf("%s: %d bytes starting %q, want a document starting %q", format, b.Len(), b.String()[:min(8, b.Len())], head)
				}
			}
		})
	}
}

func TestInkedSeesABlankFigure(t *testing.T) {
	blank := &Figure{Kind: Matrix, Width: 4 * vg.Inch, Height: 3 * vg.Inch, draw: func(draw.Canvas) {}}
	if n := inked(decode(t, blank)); n != 0 {
		t.Errorf("a blank figure inks %d pixels", n)
	}
}

func TestFiguresFollowTheStore(t *testing.T) {
	d := load(t, results.Filter{Method: "backprop", Scenario: "class"})
	if len(d.Configs) != 1 {
		t.Fatalf("%d configurations, want 1", len(d.Configs))
	}
	before, _ := Draw(Matrix, d)
	b1, _ := before.PNG()
	d.Configs[0].Mean[2][0] = 3
	after, _ := Draw(Matrix, d)
	b2, _ := after.PNG()
	if bytes.Equal(b1, b2) {
		t.Error("changing a matrix cell does not change the heatmap")
	}
	c := d.Configs[0]
	// The fixture's seeds 1 and 2 (k = 0, 1) of backprop (m = 0) in class-IL.
	want := (fixture.Accuracy(0, 0, 0, 3, 1) + fixture.Accuracy(0, 0, 1, 3, 1)) / 2
	if got := c.Mean[3][0]; math.Abs(got-want) > 1e-9 {
		t.Errorf("mean accuracy on task 1 after task 3 = %v, want %v", got, want)
	}
}

func TestAverageLearned(t *testing.T) {
	ms := [][][]float64{
		{{0, 0}, {90, 10}, {60, 80}},
		{{0, 0}, {80, 20}, {40, 100}},
	}
	mean, se := averageLearned(ms)
	// After task 1: task 1 only (90, 80); after task 2: both ((60+80)/2, (40+100)/2).
	if mean[0] != 85 || mean[1] != 70 {
		t.Errorf("mean %v, want [85 70]", mean)
	}
	if math.Abs(se[0]-5) > 1e-9 || math.Abs(se[1]-0) > 1e-9 {
		t.Errorf("se %v, want [5 0]", se)
	}
}

func TestLossLinesUpTasksAndParts(t *testing.T) {
	d := load(t, results.Filter{Method: "noprop-dt", Scenario: "task"})
	lc := curvesOf(&d.Configs[0], func(e results.Epoch) float64 { return e.Loss })
	if strings.Join(lc.parts, ",") != "block 1,block 2,block 3" {
		t.Fatalf("parts %q", lc.parts)
	}
	// Two epochs per task: tasks start at positions 1, 3, 5.
	if len(lc.taskStart) != fixture.Tasks || lc.taskStart[1] != 3 || lc.taskStart[2] != 5 {
		t.Errorf("task starts %v, want [1 3 5]", lc.taskStart)
	}
	// Block 2 (b = 1), task 2, epoch 2: 1/2 + 0.1*(2+1), the same in both seeds.
	if got := lc.mean["block 2"][3]; lc.xs["block 2"][3] != 4 || math.Abs(got-0.8) > 1e-9 {
		t.Errorf("block 2 at x %v: loss %v, want x 4, loss 0.8", lc.xs["block 2"][3], got)
	}
	// The learning curve has a point after every epoch: block 2 after task
	// t's epoch e, at 40 + 10t + 1 + 5e.
	tc := curvesOf(&d.Configs[0], func(e results.Epoch) float64 { return e.TestAcc })
	if xs, ys := tc.xs["block 2"], tc.mean["block 2"]; fmt.Sprint(xs) != "[1 2 3 4 5 6]" || fmt.Sprint(ys) != "[56 61 66 71 76 81]" {
		t.Errorf("block 2's learning curve at %v: %v, want [1 2 3 4 5 6]: [56 61 66 71 76 81]", xs, ys)
	}
	// Its lines stop where a task ends.
	if segs := byTask(tc.xs["block 2"], tc.mean["block 2"], tc.taskStart); len(segs) != fixture.Tasks {
		t.Errorf("%d line segments, want one per task: %v", len(segs), segs)
	}
	if !lessPart("block 2", "block 10") || lessPart("block 10", "block 9") {
		t.Error("block numbers do not sort as numbers")
	}
}

func TestNothingToDraw(t *testing.T) {
	s, err := results.Open(filepath.Join(t.TempDir(), "r.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := t.Context()
	id, err := s.StartRun(ctx, results.Run{SpecJSON: `{}`, ConfigHash: "h", Method: "m", Stream: "s", Scenario: "class", NumTasks: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RecordEval(ctx, id, 1, results.EvalRow{Acc: []float64{50}}); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishRun(ctx, id, nil, results.Memory{}); err != nil {
		t.Fatal(err)
	}
	d, err := Load(ctx, s, results.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []Kind{Loss, Memory, Bars, Compare} {
		if _, err := Draw(k, d); !errors.Is(err, ErrNoData) {
			t.Errorf("%s of a run without log, memory or metrics: error %v, want ErrNoData", k, err)
		}
	}
	for _, k := range []Kind{Matrix, Curves, Average} {
		f, err := Draw(k, d)
		if err != nil {
			t.Fatalf("%s of a one-task run: %v", k, err)
		}
		if inked(decode(t, f)) == 0 {
			t.Errorf("%s of a one-task run is blank", k)
		}
	}
	if _, err := Load(ctx, s, results.Filter{Method: "ff"}); err == nil || !strings.Contains(err.Error(), "methods in r.db: m") {
		t.Errorf("no match: error %v, want the stored methods named", err)
	}
}

// A label names the method and preset, and for configurations that would
// look alike the settings that differ, else the config hash.
func TestConfigLabels(t *testing.T) {
	for _, tc := range []struct {
		c    Config
		want string
	}{
		{Config{Summary: results.Summary{Method: "backprop", ConfigHash: "0123456789abcdef"}}, "backprop"},
		{Config{Summary: results.Summary{Method: "noprop-dt", ConfigHash: "0123456789abcdef"}, Preset: "quick"}, "noprop-dt:quick"},
		{Config{Summary: results.Summary{Method: "backprop", ConfigHash: "0123456789abcdef"}, Ambiguous: true, Differs: "lr=0.0001"}, "backprop lr=0.0001"},
		{Config{Summary: results.Summary{Method: "backprop", ConfigHash: "0123456789abcdef"}, Ambiguous: true}, "backprop 01234567"},
	} {
		if got := tc.c.Method(); got != tc.want {
			t.Errorf("label %q, want %q", got, tc.want)
		}
	}
}

// TestTitlesAreWhole: every kind of figure, of one configuration and of
// all of them, is wide enough for its title (the layout's own check), and
// the panels and legend leave the title's band alone.
func TestTitlesAreWhole(t *testing.T) {
	all := load(t, results.Filter{})
	one := load(t, results.Filter{Method: fixture.Methods[0].Name, Scenario: fixture.Scenarios[0]})
	if len(one.Configs) != 1 || len(all.Configs) < 4 {
		t.Fatalf("%d and %d configurations, want 1 and several", len(one.Configs), len(all.Configs))
	}
	for _, k := range Kinds() {
		for _, d := range []*Data{one, all} {
			f, err := Draw(k, d)
			if err != nil {
				t.Fatalf("%s of %d configurations: %v", k, len(d.Configs), err)
			}
			if !f.titleFits {
				t.Errorf("%s of %d configurations: the title %q does not fit the figure's %.0f pt", k, len(d.Configs), f.Title, f.Width)
			}
		}
	}
}

// TestWrapTitle: long title lines break between words at the width, a word
// longer than the width stays whole, and the given line breaks stay.
func TestWrapTitle(t *testing.T) {
	for _, tc := range []struct {
		in    string
		width int
		want  string
	}{
		{"short title", 46, "short title"},
		{"noprop-ct:paper-cifar100 embedding=\"learned\" schedule_warmup=0 (1 seed)\ncifar100, class-IL", 46,
			"noprop-ct:paper-cifar100 embedding=\"learned\"\nschedule_warmup=0 (1 seed)\ncifar100, class-IL"},
		{"aaaa bbbb cccc", 9, "aaaa bbbb\ncccc"},
		{"averyveryverylongword x", 5, "averyveryverylongword\nx"},
	} {
		if got := wrapTitle(tc.in, tc.width); got != tc.want {
			t.Errorf("wrapTitle(%q, %d) = %q, want %q", tc.in, tc.width, got, tc.want)
		}
	}
}

// TestWrapRows: a row of more than maxCols panels goes on in the rows
// below it; shorter rows are kept as they are.
func TestWrapRows(t *testing.T) {
	row := func(n int) []*plot.Plot { return make([]*plot.Plot, n) }
	got := wrapRows([][]*plot.Plot{row(2), row(2*maxCols + 1)})
	var lens []int
	for _, r := range got {
		lens = append(lens, len(r))
	}
	if want := []int{2, maxCols, maxCols, 1}; !slices.Equal(lens, want) {
		t.Errorf("row lengths %v, want %v", lens, want)
	}
}

// TestParseReference: a reference is LABEL=EPOCH:VALUE,…, its points
// sorted by epoch; anything else is an error that quotes it.
func TestParseReference(t *testing.T) {
	r, err := ParseReference("Figure 3, CT=60:22.6, 19:13")
	if err != nil {
		t.Fatal(err)
	}
	if r.Label != "Figure 3, CT" || len(r.Points) != 2 || r.Points[0] != (plotter.XY{X: 19, Y: 13}) || r.Points[1] != (plotter.XY{X: 60, Y: 22.6}) {
		t.Errorf("parsed %+v", r)
	}
	for _, bad := range []string{"", "label", "=1:2", "x=", "x=1", "x=1:y", "x=1:2,3", "x=NaN:1", "x=1:Inf"} {
		if _, err := ParseReference(bad); err == nil || !strings.Contains(err.Error(), "reference") {
			t.Errorf("ParseReference(%q): error %v, want one naming the reference", bad, err)
		}
	}
}

// TestCompareDrawsReferences: the references add their dashed curves to
// the compare figure (more ink) and their labels to its legend.
func TestCompareDrawsReferences(t *testing.T) {
	d := load(t, results.Filter{})
	plain, err := Draw(Compare, d)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := ParseReference("published=1:5,2:60,3:95")
	d.References = []Reference{r}
	with, err := Draw(Compare, d)
	if err != nil {
		t.Fatal(err)
	}
	if a, b := inked(decode(t, plain)), inked(decode(t, with)); b <= a {
		t.Errorf("inked pixels: %d without the reference, %d with it; want more with it", a, b)
	}
}

// TestSeriesDistinct: every colour of a series differs from the others.
func TestSeriesDistinct(t *testing.T) {
	for n := 1; n <= 12; n++ {
		cs := series(n)
		for i := range cs {
			for j := range i {
				r1, g1, b1, a1 := cs[i].RGBA()
				r2, g2, b2, a2 := cs[j].RGBA()
				if r1 == r2 && g1 == g2 && b1 == b2 && a1 == a2 {
					t.Errorf("series(%d): colours %d and %d are both %v", n, j, i, cs[i])
				}
			}
		}
	}
}
