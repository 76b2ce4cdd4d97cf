package table_test

import (
	"fmt"
	"math"
	"os"

	"github.com/noprop/noprop/results"
	"github.com/noprop/noprop/results/table"
)

// Write formats summaries, here written by hand, as one row per
// configuration: mean ± standard error over seeds.
func ExampleWrite() {
	sums := []results.Summary{
		{
			Method: "noprop", Stream: "split-mnist", Scenario: "class-il", ConfigHash: "b2", N: 1,
			Metrics: map[string]results.Stat{
				"acc": {Mean: 19.87, SE: math.NaN(), N: 1},
				"fwt": {Mean: math.NaN(), SE: math.NaN(), N: 0, Note: "undefined in class-il"},
			},
		},
		{
			Method: "backprop", Stream: "split-mnist", Scenario: "class-il", ConfigHash: "a1", N: 3,
			Metrics: map[string]results.Stat{
				"acc":        {Mean: 92, SE: 1.1547, N: 3},
				"forgetting": {Mean: 8.5, SE: 0.25, N: 3},
				"fwt":        {Mean: math.NaN(), SE: math.NaN(), N: 0, Note: "undefined in class-il"},
			},
		},
	}
	if err := table.Write(os.Stdout, sums, table.Options{}); err != nil {
		fmt.Println(err)
	}
	// Output:
	// ┌──────────┬─────────────┬──────────┬───────┬──────────────┬─────────────┬─────┐
	// │  method  │   stream    │ scenario │ seeds │     ACC      │ forgetting  │ FWT │
	// ├──────────┼─────────────┼──────────┼───────┼──────────────┼─────────────┼─────┤
	// │ backprop │ split-mnist │ class-il │     3 │ 92.00 ± 1.15 │ 8.50 ± 0.25 │ n/a │
	// │ noprop   │ split-mnist │ class-il │     1 │        19.87 │         n/a │ n/a │
	// └──────────┴─────────────┴──────────┴───────┴──────────────┴─────────────┴─────┘
}
