package harness

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/noprop/noprop/harness/harnesstest"
	"github.com/noprop/noprop/methods"
	"github.com/noprop/noprop/methods/nn"
	"github.com/noprop/noprop/tasks"
)

// oneSpec expands a one-run sweep of the fake catalog.
func oneSpec(t *testing.T, method, settings, scenario string, seed uint64) Spec {
	t.Helper()
	specs, err := Sweep{Methods: []MethodChoice{{Name: method, Settings: json.RawMessage(settings)}},
		Datasets: []string{"synthetic"}, Streams: []string{tasks.KindSplit}, Tasks: 2, ClassOrder: "fixed",
		Scenarios: []string{scenario}, Seeds: 1, FirstSeed: seed, InferenceRuns: 3}.Expand(harnesstest.Catalog, harnesstest.Classes)
	if err != nil {
		t.Fatal(err)
	}
	return specs[0]
}

func testSpec(t *testing.T, scenario string, seed uint64) Spec {
	return oneSpec(t, "centroid", "", scenario, seed)
}

func newRunner(obs ...RunObserver) *Runner {
	return &Runner{Methods: harnesstest.Catalog, Load: harnesstest.Load, Observers: obs}
}

func TestRunSameSeedSameMatrix(t *testing.T) {
	for _, sc := range []string{"class", "task", "domain"} {
		t.Run(sc, func(t *testing.T) {
			run := func(seed uint64) [][]float64 {
				rn := newRunner()
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

// cancelAfter cancels the run's context once the learner reports on a task.
type cancelAfter struct {
	task   int
	cancel context.CancelFunc
}

func (c cancelAfter) Started(RunInfo) {}
func (c cancelAfter) Epoch(_ RunInfo, task int, _ methods.EpochStats) {
	if task == c.task {
		c.cancel()
	}
}
func (c cancelAfter) Evaluated(RunInfo, Eval) error  { return nil }
func (c cancelAfter) Finished(RunInfo, Result) error { return nil }
func (c cancelAfter) Failed(RunInfo, error, bool)    {}

func TestConfigHashIgnoresSeedOnly(t *testing.T) {
	a, b := testSpec(t, "class", 1), testSpec(t, "class", 2)
	if a.ConfigHash() != b.ConfigHash() {
		t.Error("seeds changed the config hash")
	}
	if c := testSpec(t, "task", 1); c.ConfigHash() == a.ConfigHash() {
		t.Error("scenarios share a config hash")
	}
}

func TestInferenceRunsOfStochasticRules(t *testing.T) {
	rn := newRunner()
	res, err := rn.Run(context.Background(), oneSpec(t, "noisy-centroid", `{"noise":30}`, "class", 1))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Inference) != 3 {
		t.Fatalf("%d inference matrices, want 3", len(res.Inference))
	}
	differ := false
	for i, row := range res.Matrix {
		for j, a := range row {
			mean := 0.0
			for _, m := range res.Inference {
				mean += m[i][j] / 3
				differ = differ || m[i][j] != res.Inference[0][i][j]
			}
			if math.Abs(mean-a) > 1e-9 {
				t.Errorf("cell (%d,%d) = %v, want the mean %v of the inference runs", i, j, a, mean)
			}
		}
	}
	if !differ {
		t.Error("the inference runs of a noisy rule gave identical accuracies: seeds were not varied")
	}
	again, _ := newRunner().Run(context.Background(), oneSpec(t, "noisy-centroid", `{"noise":30}`, "class", 1))
	if !reflect.DeepEqual(res.Inference, again.Inference) {
		t.Error("inference runs are not reproducible")
	}
	// A deterministic rule is evaluated once, whatever the spec asks.
	det, err := rn.Run(context.Background(), oneSpec(t, "centroid", "", "class", 1))
	if err != nil || det.Inference != nil || det.Matrix == nil {
		t.Errorf("deterministic rule: %d inference matrices, %v", len(det.Inference), err)
	}
	if s := oneSpec(t, "centroid", "", "class", 1); s.InferenceRuns != 1 {
		t.Errorf("deterministic rule's spec has %d inference runs, want 1", s.InferenceRuns)
	}
}

// cancelOnScores cancels a context the first time it scores.
type cancelOnScores struct {
	methods.Learner
	cancel context.CancelFunc
	calls  *int
}

func (c cancelOnScores) Scores(x nn.Matrix, active []int) nn.Matrix {
	*c.calls++
	c.cancel()
	return c.Learner.Scores(x, active)
}

func TestEvaluationHonoursCancellation(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	cat := methods.Catalog{{Name: "centroid", Settings: func() any { return &harnesstest.CentroidSettings{} },
		New: func(p methods.Problem, raw json.RawMessage) (methods.Learner, error) {
			l, err := harnesstest.NewCentroid(p, raw)
			return cancelOnScores{l, cancel, &calls}, err
		}}}
	rn := &Runner{Methods: cat, Load: harnesstest.Load}
	_, err := rn.Run(ctx, testSpec(t, "class", 1))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want cancellation", err)
	}
	if calls != 1 {
		t.Errorf("%d calls to Scores after cancellation, want the evaluation to stop after the first", calls)
	}
}

func TestSweepRejectsBadInputBeforeWork(t *testing.T) {
	good := Sweep{Methods: []MethodChoice{{Name: "centroid"}}, Datasets: []string{"mnist"}, Streams: []string{"split"},
		Scenarios: []string{"class"}, Seeds: 1, FirstSeed: 1, InferenceRuns: 1}
	tests := []struct {
		name string
		edit func(*Sweep)
		want string
	}{
		{"no methods", func(s *Sweep) { s.Methods = nil }, "no methods"},
		{"no scenarios", func(s *Sweep) { s.Scenarios = nil }, "no scenarios"},
		{"no datasets", func(s *Sweep) { s.Datasets = nil }, "no datasets"},
		{"unknown method", func(s *Sweep) { s.Methods[0].Name = "nope" }, `unknown method "nope"`},
		{"unknown setting", func(s *Sweep) { s.Methods[0].Settings = json.RawMessage(`{"nois":1}`) }, `unknown setting "nois" (did you mean "noise"?)`},
		{"bad setting", func(s *Sweep) { s.Methods[0].Settings = json.RawMessage(`{"noise":-1}`) }, "setting noise = -1: must be ≥ 0"},
		{"wrong type", func(s *Sweep) { s.Methods[0].Settings = json.RawMessage(`{"noise":"high"}`) }, "setting noise: got a JSON string, want a number"},
		{"unknown preset", func(s *Sweep) { s.Methods[0].Preset = "paper" }, `no preset "paper"`},
		{"unknown dataset", func(s *Sweep) { s.Datasets = []string{"svhn"} }, `unknown dataset "svhn"`},
		{"tasks do not divide", func(s *Sweep) { s.Tasks = 3 }, "10 classes do not divide into 3 tasks"},
		{"tasks with joint", func(s *Sweep) { s.Streams, s.Tasks = []string{"joint"}, 5 }, "joint stream is the whole dataset as one task"},
		{"bad stream", func(s *Sweep) { s.Streams = []string{"rotated"} }, `stream "rotated"`},
		{"bad scenario", func(s *Sweep) { s.Scenarios = []string{"instance"} }, `scenario "instance"`},
		{"no seeds", func(s *Sweep) { s.Seeds = 0 }, "seeds = 0"},
		{"seeds wrap", func(s *Sweep) { s.FirstSeed, s.Seeds = math.MaxUint64, 2 }, "run past the largest seed"},
		{"bad class order", func(s *Sweep) { s.ClassOrder = "random" }, `class order "random"`},
		{"class order without split", func(s *Sweep) { s.Streams, s.ClassOrder = []string{"permuted"}, "seeded" }, "class order seeded orders the classes of split streams"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sw := good
			sw.Methods = slices.Clone(good.Methods)
			tc.edit(&sw)
			_, err := sw.Expand(harnesstest.Catalog, harnesstest.Classes)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
	if specs, err := good.Expand(harnesstest.Catalog, harnesstest.Classes); err != nil || len(specs) != 1 || specs[0].Tasks != 5 {
		t.Errorf("good sweep: %+v, %v (want one spec of the default 5 tasks)", specs, err)
	}
}

func TestParseSets(t *testing.T) {
	got, err := ParseSets([]string{"lr=0.01", "b.epochs=3", "name=plain", "a.hidden=[4,5]"}, []string{"a", "b"})
	if err != nil {
		t.Fatal(err)
	}
	if string(got["a"]) != `{"hidden":[4,5],"lr":0.01,"name":"plain"}` || string(got["b"]) != `{"epochs":3,"lr":0.01,"name":"plain"}` {
		t.Errorf("got a=%s b=%s", got["a"], got["b"])
	}
	for _, bad := range []struct{ set, want string }{
		{"lr", "want key=value"},
		{"=3", "want key=value"},
		{"c.lr=1", `"c" is not a method of this batch (a, b)`},
		{"a.=1", "empty setting name"},
	} {
		if _, err := ParseSets([]string{bad.set}, []string{"a", "b"}); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("--set %s: error %v, want %q", bad.set, err, bad.want)
		}
	}
}
