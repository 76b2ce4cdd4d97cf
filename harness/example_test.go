package harness_test

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/noprop/noprop/harness"
	"github.com/noprop/noprop/methods"
	"github.com/noprop/noprop/methods/backprop"
	"github.com/noprop/noprop/tasks"
)

// A run on a generated dataset: four classes split into two tasks, learned
// one after the other by a small back-propagation MLP in the task-incremental
// scenario. The accuracy matrix has the untrained model in row 0.
func ExampleRunner_Run() {
	rules := methods.Catalog{backprop.Method}
	rn := &harness.Runner{Methods: rules, Load: func(string) (tasks.Dataset, error) {
		return tasks.Synthetic(tasks.SyntheticConfig{Classes: 4, TrainPer: 60, TestPer: 20, Shape: tasks.Shape{C: 1, H: 1, W: 8}, Noise: 0.2, Seed: 1})
	}}
	sweep := harness.Sweep{
		Methods:  []harness.MethodChoice{{Name: "backprop", Settings: json.RawMessage(`{"hidden":[16],"iterations":100,"batch_size":16}`)}},
		Datasets: []string{"synthetic"}, Streams: []string{tasks.KindSplit}, Tasks: 2,
		Scenarios: []string{"task"}, Seeds: 1, FirstSeed: 1, InferenceRuns: 1,
	}
	specs, err := sweep.Expand(rules, func(string) (int, error) { return 4, nil })
	if err != nil {
		fmt.Println(err)
		return
	}
	res, err := rn.Run(context.Background(), specs[0])
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("matrix: %d rows (untrained + 2 tasks) x %d tasks\n", len(res.Matrix), len(res.Matrix[0]))
	fmt.Printf("task 1 right after learning it: %.0f%%\n", res.Matrix[1][0])
	for _, m := range res.Metrics[:4] {
		fmt.Printf("%s defined: %v\n", m.Name, m.Note == "")
	}
	// Output:
	// matrix: 3 rows (untrained + 2 tasks) x 2 tasks
	// task 1 right after learning it: 100%
	// acc defined: true
	// forgetting defined: true
	// bwt defined: true
	// fwt defined: true
}
