package cli

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/noprop/noprop/results"
	"github.com/noprop/noprop/results/metrics"
)

// TestTableSelectBy stores a 2-point lr grid, the worse point on test
// better on validation, and one run without validation, and checks that
// table --select-by val-acc shows the validation's choice with its test
// ACC and why, and says what it left out.
func TestTableSelectBy(t *testing.T) {
	db := filepath.Join(t.TempDir(), "r.db")
	s, err := results.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, r := range []struct {
		hash, settings string
		val, acc       float64
	}{{"aaa", `{"lr":0.1}`, 90, 70}, {"bbb", `{"lr":0.01}`, 80, 75}, {"ccc", `{"lr":1}`, -1, 99}} {
		spec := fmt.Sprintf(`{"method":"backprop","settings":%s,"validation":0.1}`, r.settings)
		id, err := s.StartRun(ctx, results.Run{SpecJSON: spec, ConfigHash: r.hash, Method: "backprop",
			Stream: "split-mnist", Scenario: "task", Seed: 1, NumTasks: 1})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.RecordEval(ctx, id, 1, results.EvalRow{Acc: []float64{r.acc}}); err != nil {
			t.Fatal(err)
		}
		ms := []metrics.Metric{{Name: metrics.ACC, Value: r.acc}}
		if r.val >= 0 {
			ms = append(ms, metrics.Metric{Name: metrics.ValACC, Value: r.val})
		}
		if err := s.FinishRun(ctx, id, ms, results.Memory{}); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	code, out, errOut := run(t, "table", "--db", db, "--select-by", "val-acc", "--format", "csv")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "lr=0.1 (val ACC 90.00, best of 2)") || !strings.Contains(out, "70.00") || strings.Count(out, "\n") != 2 {
		t.Errorf("table:\n%s", out)
	}
	if !strings.Contains(errOut, "left out 1 configuration") {
		t.Errorf("stderr %q: want the configuration without validation named", errOut)
	}
	code, _, errOut = run(t, "table", "--db", db, "--select-by", "test-acc")
	oneLineError(t, code, errOut, "--select-by")

	// plot draws the same choice: one configuration of the three.
	png := filepath.Join(t.TempDir(), "m.png")
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "of 3 configuration(s)"},
		{[]string{"--select-by", "val-acc"}, "of 1 configuration(s)"},
	} {
		code, out, errOut = run(t, append([]string{"plot", "matrix", "--db", db, "-o", png}, c.args...)...)
		if code != 0 || !strings.Contains(out, c.want) {
			t.Errorf("plot matrix %v: exit %d, %q %q; want %q", c.args, code, out, errOut, c.want)
		}
	}
	code, _, errOut = run(t, "plot", "matrix", "--db", db, "-o", png, "--select-by", "test-acc")
	oneLineError(t, code, errOut, "--select-by")

	// export writes the chosen configuration's rows only.
	code, out, errOut = run(t, "export", "--db", db, "--what", "runs", "--select-by", "val-acc")
	if code != 0 || strings.Count(out, "\n") != 2 || !strings.Contains(out, ",aaa,") || strings.Contains(out, ",bbb,") {
		t.Errorf("export --select-by val-acc: exit %d, stderr %q:\n%s", code, errOut, out)
	}
	code, _, errOut = run(t, "export", "--db", db, "--select-by", "test-acc")
	oneLineError(t, code, errOut, "--select-by")
}
