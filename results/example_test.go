package results_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/noprop/noprop/results"
	"github.com/noprop/noprop/results/metrics"
	"github.com/noprop/noprop/results/table"
)

// The harness records a run task by task; reports read the aggregates back.
func Example() {
	dir, err := os.MkdirTemp("", "results-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	store, err := results.Open(filepath.Join(dir, "results.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	ctx := context.Background()

	for seed, final := range []float64{90, 92, 94} {
		id, err := store.StartRun(ctx, results.Run{
			SpecJSON:   fmt.Sprintf(`{"method":"backprop","seed":%d}`, seed),
			ConfigHash: "cfg-backprop",
			Method:     "backprop", Stream: "split-mnist", Scenario: "task-il",
			Seed: uint64(seed), NumTasks: 2,
		})
		if err != nil {
			log.Fatal(err)
		}
		// Row 0 is the untrained model, row k follows training task k.
		rows := [][]float64{{50, 50}, {99, 50}, {final, 99}}
		for k, row := range rows {
			var epochs []results.Epoch // the training log of task k
			if k > 0 {
				epochs = []results.Epoch{{Epoch: 1, Loss: 0.1, TrainAcc: 98, Seconds: 2, Examples: 12000}}
			}
			if err := store.RecordEval(ctx, id, k, results.EvalRow{Acc: row, Epochs: epochs}); err != nil {
				log.Fatal(err)
			}
		}
		ms := []metrics.Metric{
			{Name: metrics.ACC, Value: (final + 99) / 2},
			{Name: metrics.BWT, Value: final - 99},
		}
		if err := store.FinishRun(ctx, id, ms, results.Memory{PeakHeapBytes: 64 << 20}); err != nil {
			log.Fatal(err)
		}
	}

	sums, err := store.Summaries(ctx, results.Filter{Method: "backprop"})
	if err != nil {
		log.Fatal(err)
	}
	if err := table.Write(os.Stdout, sums, table.Options{}); err != nil {
		log.Fatal(err)
	}
	mean, se, n, err := store.MeanMatrix(ctx, "cfg-backprop")
	if err != nil {
		log.Fatal(err)
	}
	title := fmt.Sprintf("backprop, split-mnist, task-il: mean ± SE over %d seeds", n)
	if err := table.WriteMatrix(os.Stdout, table.Text, title, mean, se); err != nil {
		log.Fatal(err)
	}
	// Output:
	// ┌──────────┬─────────────┬──────────┬───────┬──────────────┬──────────────┐
	// │  method  │   stream    │ scenario │ seeds │     ACC      │     BWT      │
	// ├──────────┼─────────────┼──────────┼───────┼──────────────┼──────────────┤
	// │ backprop │ split-mnist │ task-il  │     3 │ 95.50 ± 0.58 │ -7.00 ± 1.15 │
	// └──────────┴─────────────┴──────────┴───────┴──────────────┴──────────────┘
	// backprop, split-mnist, task-il: mean ± SE over 3 seeds
	// ┌──────────────┬────────────┬────────────┐
	// │              │   task 1   │   task 2   │
	// ├──────────────┼────────────┼────────────┤
	// │ untrained    │ 50.0 ± 0.0 │ 50.0 ± 0.0 │
	// │ after task 1 │ 99.0 ± 0.0 │ 50.0 ± 0.0 │
	// │ after task 2 │ 92.0 ± 1.2 │ 99.0 ± 0.0 │
	// └──────────────┴────────────┴────────────┘
}

// A --setting value narrows runs by their method settings; METHOD.KEY
// narrows one rule's grid and leaves the other rules' runs alone.
func ExampleSettingsMatch() {
	matches, err := results.ParseSettingMatches("noprop-dt.embedding=one-hot,lr=1e-3,lr=3e-4")
	if err != nil {
		log.Fatal(err)
	}
	for _, spec := range []string{
		`{"method":"noprop-dt","settings":{"embedding":"one-hot","lr":0.001}}`,
		`{"method":"noprop-dt","settings":{"embedding":"learned","lr":0.001}}`,
		`{"method":"backprop","settings":{"lr":0.0003}}`,
		`{"method":"backprop","settings":{"lr":0.0001}}`,
	} {
		fmt.Println(results.SettingsMatch(spec, matches))
	}
	// Output:
	// true
	// false
	// true
	// false
}
