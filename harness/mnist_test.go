package harness

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/noprop/noprop/results/metrics"
	"github.com/noprop/noprop/tasks"
)

// TestSplitMNISTBackprop runs the whole path on real MNIST with a short
// budget: task-IL must keep most of what it learns, class-IL must forget
// almost everything (the textbook result for plain fine-tuning).
func TestSplitMNISTBackprop(t *testing.T) {
	if testing.Short() {
		t.Skip("real MNIST run skipped in -short mode")
	}
	rn := &Runner{Methods: rules, Load: func(name string) (tasks.Dataset, error) { return tasks.Load(name, "") }}
	run := func(scenario string) Result {
		specs, err := Sweep{Methods: []MethodChoice{{Name: "backprop", Settings: json.RawMessage(`{"iterations":150}`)}},
			Datasets: []string{"mnist"}, Streams: []string{tasks.KindSplit}, Scenarios: []string{scenario},
			Seeds: 1, FirstSeed: 1, InferenceRuns: 1}.Expand(rules, nil)
		if err != nil {
			t.Fatal(err)
		}
		res, err := rn.Run(context.Background(), specs[0])
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	metric := func(res Result, name string) float64 {
		for _, m := range res.Metrics {
			if m.Name == name {
				return m.Value
			}
		}
		t.Fatalf("no metric %s", name)
		return 0
	}
	task := run("task")
	for k := 1; k <= 5; k++ {
		if a := task.Matrix[k][k-1]; a < 97 {
			t.Errorf("task-IL: accuracy on task %d right after learning it is %.2f%%, want ≥ 97", k, a)
		}
	}
	if acc := metric(task, metrics.ACC); acc < 80 {
		t.Errorf("task-IL ACC %.2f%%, want ≥ 80", acc)
	}
	class := run("class")
	if f := metric(class, metrics.Forgetting); f < 90 {
		t.Errorf("class-IL forgetting %.2f, want ≥ 90 for fine-tuning", f)
	}
	if acc := metric(class, metrics.ACC); acc > 40 {
		t.Errorf("class-IL ACC %.2f%%: fine-tuning should not retain old classes", acc)
	}
}
