package harness

import (
	"os/exec"
	"strings"
	"testing"
)

// TestHarnessDoesNotImportTheCatalog keeps the method table a value: the
// harness runs whatever rules it is handed (fakes in its own tests).
func TestHarnessDoesNotImportTheCatalog(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.HasPrefix(dep, "github.com/noprop/noprop/methods/") && dep != "github.com/noprop/noprop/methods/nn" &&
			!strings.HasPrefix(dep, "github.com/noprop/noprop/methods/nn/") {
			t.Errorf("harness depends on %s: it must take rules as a value", dep)
		}
	}
}

// TestHarnessImportsNoStoreOrDisplay keeps storage and presentation out of
// the runner: the store's gate and recorder and the displays are observers
// that the command line wires (harness/observe).
func TestHarnessImportsNoStoreOrDisplay(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		// results/metrics is formulas over accuracy matrices, nothing stored
		// or drawn: the runner computes a run's metrics with them.
		store := dep == "github.com/noprop/noprop/results" ||
			strings.HasPrefix(dep, "github.com/noprop/noprop/results/") && dep != "github.com/noprop/noprop/results/metrics"
		if store || strings.Contains(dep, "/mpb") || strings.Contains(dep, "tablewriter") {
			t.Errorf("harness depends on %s", dep)
		}
	}
}
