package harness

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/noprop/noprop/methods"
	"github.com/noprop/noprop/methods/nn"
	"github.com/noprop/noprop/metrics"
	"github.com/noprop/noprop/results"
	"github.com/noprop/noprop/tasks"
)

func syntheticLoader(name string) (tasks.Dataset, error) {
	return tasks.Synthetic(tasks.SyntheticConfig{Classes: 4, TrainPer: 60, TestPer: 20, Shape: tasks.Shape{C: 1, H: 4, W: 5}, Noise: 0.3, Seed: 11})
}

// oneSpec expands a one-run sweep of the fake catalog.
func oneSpec(t *testing.T, method, settings, scenario string, seed uint64) Spec {
	t.Helper()
	specs, err := Sweep{Methods: []MethodChoice{{Name: method, Settings: json.RawMessage(settings)}},
		Datasets: []string{"synthetic"}, Streams: []string{tasks.KindSplit}, Tasks: 2, ClassOrder: "fixed",
		Scenarios: []string{scenario}, Seeds: 1, FirstSeed: seed, InferenceRuns: 3}.Expand(fakeCatalog, fakeClasses)
	if err != nil {
		t.Fatal(err)
	}
	return specs[0]
}

func testSpec(t *testing.T, scenario string, seed uint64) Spec {
	return oneSpec(t, "centroid", "", scenario, seed)
}

func newRunner(obs ...Observer) *Runner {
	return &Runner{Methods: fakeCatalog, Load: syntheticLoader, Observers: obs}
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

func TestRunRecordsEveryUnitAndResumes(t *testing.T) {
	db := filepath.Join(t.TempDir(), "r.db")
	store, err := results.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	rn := newRunner(&StoreObserver{Store: store, Version: "test"})
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
	for _, name := range []string{metrics.ACC, metrics.Forgetting, metrics.BWT, metrics.FWT} {
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
	cat := methods.Catalog{{Name: "centroid", Settings: func() any { return &centroidSettings{} },
		New: func(p methods.Problem, raw json.RawMessage) (methods.Learner, error) {
			l, err := newCentroid(p, raw)
			return cancelOnScores{l, cancel, &calls}, err
		}}}
	rn := &Runner{Methods: cat, Load: syntheticLoader}
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
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sw := good
			sw.Methods = slices.Clone(good.Methods)
			tc.edit(&sw)
			_, err := sw.Expand(fakeCatalog, fakeClasses)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
	if specs, err := good.Expand(fakeCatalog, fakeClasses); err != nil || len(specs) != 1 || specs[0].Tasks != 5 {
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

// during runs f on the first epoch a run reports.
type during struct {
	f    func()
	done bool
}

func (d *during) Started(RunInfo) error { return nil }
func (d *during) Epoch(RunInfo, int, methods.EpochStats) {
	if !d.done {
		d.done = true
		d.f()
	}
}
func (d *during) Evaluated(RunInfo, Eval) error  { return nil }
func (d *during) Finished(RunInfo, Result) error { return nil }
func (d *during) Failed(RunInfo, error, bool)    {}

func TestClaimedUnitsRunOnce(t *testing.T) {
	store, err := results.Open(filepath.Join(t.TempDir(), "r.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	spec := testSpec(t, "class", 1)
	// While A trains the unit, B (another batch on the same store) must
	// skip it as held; after A, C skips it as done.
	var bRep BatchReport
	a := newRunner(&StoreObserver{Store: store, Version: "test"}, &during{f: func() {
		b := newRunner(&StoreObserver{Store: store, Version: "test"})
		var err error
		bRep, err = b.RunAll(context.Background(), []Spec{spec}, nil)
		if err != nil {
			t.Errorf("B: %v", err)
		}
	}})
	aRep, err := a.RunAll(context.Background(), []Spec{spec}, nil)
	if err != nil || aRep.Ran != 1 {
		t.Fatalf("A: %+v, %v", aRep, err)
	}
	if bRep.Held != 1 || bRep.Ran != 0 {
		t.Errorf("B while A trains: %+v, want the unit held", bRep)
	}
	cRep, err := newRunner(&StoreObserver{Store: store, Version: "test"}).RunAll(context.Background(), []Spec{spec}, nil)
	if err != nil || cRep.Skipped != 1 || cRep.Ran != 0 {
		t.Errorf("C after A: %+v, %v, want the unit skipped as done", cRep, err)
	}
	runs, _ := store.Runs(context.Background(), results.Filter{})
	if len(runs) != 1 {
		t.Errorf("%d runs stored, want 1", len(runs))
	}
}

// slowLearner takes its time to learn, so heartbeats happen meanwhile.
type slowLearner struct{ methods.Learner }

func (l slowLearner) Learn(ctx context.Context, data tasks.Set, active []int, obs methods.Observer) error {
	if err := l.Learner.Learn(ctx, data, active, obs); err != nil {
		return err
	}
	select {
	case <-time.After(100 * time.Millisecond):
	case <-ctx.Done():
	}
	return ctx.Err()
}

func TestLostClaimCancelsTheRun(t *testing.T) {
	store, err := results.Open(filepath.Join(t.TempDir(), "r.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	slow := methods.Catalog{{Name: "centroid", Settings: func() any { return &centroidSettings{} },
		New: func(p methods.Problem, raw json.RawMessage) (methods.Learner, error) {
			l, err := newCentroid(p, raw)
			return slowLearner{l}, err
		}}}
	spec := testSpec(t, "class", 1)
	// While A trains, B takes the unit over (it counts any heartbeat as
	// stale) and trains it to the end; A must then stop, recording nothing.
	var bRep BatchReport
	a := &Runner{Methods: slow, Load: syntheticLoader, Observers: []Observer{
		&StoreObserver{Store: store, Version: "test", HeartbeatEvery: 5 * time.Millisecond},
		&during{f: func() {
			b := &Runner{Methods: fakeCatalog, Load: syntheticLoader, Observers: []Observer{
				&StoreObserver{Store: store, Version: "test", StaleAfter: time.Nanosecond}}}
			bRep, _ = b.RunAll(context.Background(), []Spec{spec}, nil)
		}}}}
	_, err = a.Run(context.Background(), spec)
	if bRep.Ran != 1 {
		t.Fatalf("B did not take the unit over: %+v", bRep)
	}
	if !errors.Is(err, results.ErrClaimLost) {
		t.Errorf("A after losing its claim: %v, want ErrClaimLost", err)
	}
	runs, _ := store.Runs(context.Background(), results.Filter{})
	if len(runs) != 1 || runs[0].Status != results.StatusDone {
		t.Errorf("stored runs %+v, want B's done run alone", runs)
	}
}

// TestStandardPixelsReachTheStream: a spec's Pixels builds its stream, whose
// statistics are stored with the run.
func TestStandardPixelsReachTheStream(t *testing.T) {
	store, err := results.Open(filepath.Join(t.TempDir(), "r.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	rn := newRunner(&StoreObserver{Store: store, Version: "test"})
	raw, std := testSpec(t, "class", 1), testSpec(t, "class", 1)
	std.Pixels = tasks.PixelsStandard
	for _, s := range []Spec{raw, std} {
		if _, err := rn.Run(context.Background(), s); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range []Spec{raw, std} {
		runs, err := store.Runs(context.Background(), results.Filter{ConfigHash: s.ConfigHash()})
		if err != nil || len(runs) != 1 {
			t.Fatalf("runs of %s: %d, %v", s.ConfigHash(), len(runs), err)
		}
		if got, want := strings.Contains(runs[0].ChoicesJSON, `"pixel_mean"`), s.Pixels != ""; got != want {
			t.Errorf("pixels %q: stored choices %s", s.Pixels, runs[0].ChoicesJSON)
		}
	}
}
