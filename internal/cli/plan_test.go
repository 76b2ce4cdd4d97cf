package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPlanEstimatesFromTheSameBudget: a configuration never run is
// estimated (≈) from the runs of the same budget, those that differ only
// in learning rate or validation fraction; one of another budget (more
// steps) is not.
func TestPlanEstimatesFromTheSameBudget(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "images")
	writeBlobFolder(t, data, 4, 20, 5)
	db := filepath.Join(dir, "r.db")
	if code, _, errOut := run(t, "run", "--method", "backprop", "--set", "hidden=[8]", "--set", "iterations=20", "--dataset", "folder:"+data,
		"--tasks", "2", "--scenario", "class", "--db", db); code != 0 {
		t.Fatalf("run: exit %d: %s", code, errOut)
	}
	sweep := func(name, settings, extra string) string {
		p := filepath.Join(dir, name)
		body := fmt.Sprintf("methods:\n  - name: backprop\n    settings: {hidden: [8], %s}\ndatasets: [\"folder:%s\"]\ntasks: 2\nscenarios: [class]\n%s", settings, data, extra)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	_, out, _ := run(t, "plan", sweep("lr.yaml", "iterations: 20, lr: 0.0003", "validation: 0.1\n"), "--db", db)
	if !strings.Contains(out, "≈ ") || !strings.Contains(out, "the 1 (≈) with one of the same budget") {
		t.Errorf("another learning rate and a validation hold-out:\n%s\nwant an estimate from the run of the same budget", out)
	}
	_, out, _ = run(t, "plan", sweep("more.yaml", "iterations: 40", ""), "--db", db)
	if strings.Contains(out, "≈") || !strings.Contains(out, "1 without an estimate") {
		t.Errorf("twice the steps:\n%s\nwant no estimate", out)
	}
}
