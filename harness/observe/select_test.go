package observe

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/noprop/noprop/harness"
	"github.com/noprop/noprop/harness/harnesstest"
	"github.com/noprop/noprop/results"
	"github.com/noprop/noprop/results/metrics"
	"github.com/noprop/noprop/results/table"
	"github.com/noprop/noprop/tasks"
)

// TestSelectByValidationACC runs a small study, a 2-point grid of the fake
// rule's score noise with a validation set, crossed with fine-tuning and
// the cumulative bound, stores it, and checks that selecting by the
// validation ACC keeps the quiet configuration of each strategy, with its
// test numbers.
func TestSelectByValidationACC(t *testing.T) {
	ctx := context.Background()
	store, err := results.Open(filepath.Join(t.TempDir(), "r.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	var grid []harness.MethodChoice
	for _, noise := range []string{`{"noise": 400}`, `{"noise": 0.1}`} {
		grid = append(grid, harness.MethodChoice{Name: "noisy-centroid", Settings: json.RawMessage(noise)})
	}
	specs, err := harness.Sweep{Methods: grid, Datasets: []string{"synthetic"}, Streams: []string{tasks.KindSplit}, Tasks: 2,
		ClassOrder: "fixed", Scenarios: []string{"class"}, Strategies: []string{"finetune", "cumulative"}, Validation: 0.25,
		Seeds: 2, FirstSeed: 1, InferenceRuns: 1}.Expand(harnesstest.Catalog, harnesstest.Classes)
	if err != nil {
		t.Fatal(err)
	}
	rn := newRunner(store)
	for _, s := range specs {
		if _, err := rn.Run(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	sums, err := store.Summaries(ctx, results.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(sums) != 4 {
		t.Fatalf("%d configurations stored, want 4", len(sums))
	}
	chosen, why, dropped := results.SelectBy(sums, metrics.ValACC)
	if len(chosen) != 2 || dropped != 0 {
		t.Fatalf("%d chosen, %d dropped: want one per strategy", len(chosen), dropped)
	}
	strategies := map[string]bool{}
	for _, c := range chosen {
		strategies[table.StrategyLabel(c.SpecJSON)] = true
		if !strings.Contains(c.SpecJSON, `"noise":0.1`) || !strings.Contains(why[c.ConfigHash], "noise=0.1") {
			t.Errorf("chose %s (%s), want the quiet configuration", c.SpecJSON, why[c.ConfigHash])
		}
		if c.Metrics[metrics.ValACC].N != 2 || c.Metrics[metrics.ACC].N != 2 {
			t.Errorf("val ACC and ACC over %d and %d seeds, want 2", c.Metrics[metrics.ValACC].N, c.Metrics[metrics.ACC].N)
		}
	}
	if !strategies["finetune"] || !strategies["cumulative"] {
		t.Errorf("strategies chosen: %v", strategies)
	}
	header, rows, _ := table.Rows(chosen, table.Options{Selected: why})
	if !strings.Contains(strings.Join(header, "|"), "strategy|selected by") || len(rows) != 2 {
		t.Errorf("table header %v, %d rows", header, len(rows))
	}
}
