package cli

import (
	"context"
	"math"
	"testing"

	"github.com/noprop/noprop/harness"
	"github.com/noprop/noprop/harness/harnesstest"
	"github.com/noprop/noprop/methods/catalog"
	"github.com/noprop/noprop/methods/methodtest"
	"github.com/noprop/noprop/tasks"
)

// TestEveryRuleReplays runs every rule of the catalog (its defaults with
// the toy overlay) under experience replay with the task weighting, on
// the toy problem split into two tasks, in each scenario: every run
// finishes with a finite accuracy matrix. That each rule honours the
// per-example outputs and weights replay hands it is the conformance
// suite's (methods/methodtest, checkPerExample).
func TestEveryRuleReplays(t *testing.T) {
	if testing.Short() {
		t.Skip("trains every rule three times")
	}
	load := func(string) (tasks.Dataset, error) {
		ds, err := methodtest.Toy()
		ds.Name = "synthetic"
		return ds, err
	}
	r := harness.DefaultReplay()
	r.PerClass = 10
	for _, m := range catalog.All {
		t.Run(m.Name, func(t *testing.T) {
			settings, err := m.Resolve("", m.Toy)
			if err != nil {
				t.Fatal(err)
			}
			specs, err := harness.Sweep{Methods: []harness.MethodChoice{{Name: m.Name, Settings: settings}},
				Datasets: []string{"synthetic"}, Streams: []string{tasks.KindSplit}, Tasks: 2, ClassOrder: "fixed",
				Scenarios: []string{"task", "domain", "class"}, Strategies: []string{harness.StrategyReplay}, Replay: &r,
				Seeds: 1, FirstSeed: 1, InferenceRuns: 1}.Expand(catalog.All, harnesstest.Classes)
			if err != nil {
				t.Fatal(err)
			}
			rn := &harness.Runner{Methods: catalog.All, Load: load}
			for _, spec := range specs {
				res, err := rn.Run(context.Background(), spec)
				if err != nil {
					t.Fatalf("%s: %v", spec.Scenario, err)
				}
				for _, row := range res.Matrix {
					for _, v := range row {
						if math.IsNaN(v) || v < 0 || v > 100 {
							t.Fatalf("%s: accuracy matrix %v", spec.Scenario, res.Matrix)
						}
					}
				}
				t.Logf("%s: final row %.1f", spec.Scenario, res.Matrix[len(res.Matrix)-1])
			}
		})
	}
}
