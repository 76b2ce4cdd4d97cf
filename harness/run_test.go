package harness

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/noprop/noprop/methods"
	"github.com/noprop/noprop/results"
	"github.com/noprop/noprop/tasks"
)

func syntheticLoader(name string) (tasks.Dataset, error) {
	return tasks.Synthetic(tasks.SyntheticConfig{Classes: 4, TrainPer: 60, TestPer: 20, Shape: tasks.Shape{C: 1, H: 4, W: 5}, Noise: 0.3, Seed: 11})
}

func testSpec(t *testing.T, scenario string, seed uint64) Spec {
	t.Helper()
	s, err := NewSpec("backprop", "", json.RawMessage(`{"hidden":[16],"iterations":40,"batch_size":16}`), "synthetic", tasks.KindSplit, 2, "fixed", scenario, seed)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRunSameSeedSameMatrix(t *testing.T) {
	for _, sc := range []string{"class", "task", "domain"} {
		t.Run(sc, func(t *testing.T) {
			run := func(seed uint64) [][]float64 {
				rn := &Runner{Load: syntheticLoader}
				res, err := rn.Run(context.Background(), testSpec(t, sc, seed))
				if err != nil {
					t.Fatal(err)
				}
				if len(res.Matrix) != 3 || len(res.Matrix[0]) != 2 {
					t.Fatalf("matrix shape %dx%d, want 3x2", len(res.Matrix), len(res.Matrix[0]))
				}
				return res.Matrix
			}
			a, b := run(1), run(1)
			if !reflect.DeepEqual(a, b) {
				t.Fatalf("same seed, different matrices:\n%v\n%v", a, b)
			}
			if a[1][0] < 90 {
				t.Errorf("task 1 accuracy after learning it is %.1f%%, want ≥ 90 on separable blobs", a[1][0])
			}
		})
	}
}

func TestRunRecordsEveryUnitAndResumes(t *testing.T) {
	db := filepath.Join(t.TempDir(), "r.db")
	store, err := results.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	rn := &Runner{Load: syntheticLoader, Observers: []Observer{&StoreObserver{Store: store, Version: "test"}}}
	specs := []Spec{testSpec(t, "class", 1), testSpec(t, "class", 2)}
	done := func(s Spec) (bool, error) {
		_, ok, err := store.FindDone(context.Background(), s.ConfigHash(), s.Seed)
		return ok, err
	}

	// An interrupted batch: the context is cancelled while the first run
	// learns its second task.
	ctx, cancel := context.WithCancel(context.Background())
	rn.Observers = append(rn.Observers, cancelAfter{task: 2, cancel: cancel})
	rep, err := rn.RunAll(ctx, specs, done)
	if !errors.Is(err, context.Canceled) || rep.Ran != 0 {
		t.Fatalf("interrupted batch: report %+v, err %v", rep, err)
	}
	runs, err := store.Runs(context.Background(), results.Filter{Status: results.StatusInterrupted})
	if err != nil || len(runs) != 1 {
		t.Fatalf("interrupted runs: %d, %v", len(runs), err)
	}
	m, err := store.Matrix(context.Background(), runs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if m[1][0] < 90 {
		t.Errorf("the interrupted run's finished unit (after task 1) was not kept: %v", m)
	}

	// Resume: both runs complete; a third call skips them.
	rn.Observers = rn.Observers[:1]
	rep, err = rn.RunAll(context.Background(), specs, done)
	if err != nil || rep.Ran != 2 {
		t.Fatalf("resumed batch: report %+v, err %v", rep, err)
	}
	rep, err = rn.RunAll(context.Background(), specs, done)
	if err != nil || rep.Skipped != 2 || rep.Ran != 0 {
		t.Fatalf("repeated batch: report %+v, err %v", rep, err)
	}
	sums, err := store.Summaries(context.Background(), results.Filter{})
	if err != nil || len(sums) != 1 || sums[0].N != 2 {
		t.Fatalf("summaries %+v, %v", sums, err)
	}
	for _, name := range []string{MetricACC, MetricForgetting, MetricBWT, MetricFWT} {
		if st, ok := sums[0].Metrics[name]; !ok || st.N != 2 {
			t.Errorf("metric %s over seeds: %+v", name, st)
		}
	}
}

// cancelAfter cancels the run's context once the learner reports on a task.
type cancelAfter struct {
	task   int
	cancel context.CancelFunc
}

func (c cancelAfter) Started(RunInfo) error { return nil }
func (c cancelAfter) Epoch(_ RunInfo, task int, _ methods.EpochStats) {
	if task == c.task {
		c.cancel()
	}
}
func (c cancelAfter) Evaluated(RunInfo, int, []float64, []methods.EpochStats) error { return nil }
func (c cancelAfter) Finished(RunInfo, Result) error                                { return nil }
func (c cancelAfter) Failed(RunInfo, error, bool)                                   {}

func TestNewSpecRejectsBadInput(t *testing.T) {
	tests := []struct {
		name     string
		method   string
		settings string
		stream   string
		scenario string
	}{
		{"unknown method", "nope", `{}`, "split", "class"},
		{"unknown setting", "backprop", `{"hiden":[4]}`, "split", "class"},
		{"bad stream", "backprop", `{}`, "rotated", "class"},
		{"bad scenario", "backprop", `{}`, "split", "instance"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := NewSpec(tc.method, "", json.RawMessage(tc.settings), "mnist", tc.stream, 5, "fixed", tc.scenario, 1)
			if err == nil {
				err = CheckSettings([]Spec{s})
			}
			if err == nil {
				t.Fatal("no error")
			}
		})
	}
}

func TestConfigHashIgnoresSeedOnly(t *testing.T) {
	a, b := testSpec(t, "class", 1), testSpec(t, "class", 2)
	if a.ConfigHash() != b.ConfigHash() {
		t.Error("seeds changed the config hash")
	}
	if c := testSpec(t, "task", 1); c.ConfigHash() == a.ConfigHash() {
		t.Error("scenarios share a config hash")
	}
}

func TestRunMeasuresTrainingMemory(t *testing.T) {
	rn := &Runner{Load: syntheticLoader}
	spec, err := NewSpec("backprop", "", json.RawMessage(`{"hidden":[4096,512],"iterations":2,"batch_size":16}`), "synthetic", tasks.KindSplit, 2, "fixed", "class", 1)
	if err != nil {
		t.Fatal(err)
	}
	res, err := rn.Run(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	// The network's weights, gradients and Adam state take about 35 MB
	// (2.2M parameters, 4 copies); the dataset is resident before the
	// baseline and must not count.
	if res.Memory.PeakHeapBytes < 30<<20 || res.Memory.PeakHeapBytes > 80<<20 {
		t.Errorf("peak training heap %d bytes", res.Memory.PeakHeapBytes)
	}
	if res.Memory.PeakRSSBytes <= 0 {
		t.Errorf("peak RSS %d bytes", res.Memory.PeakRSSBytes)
	}
}
