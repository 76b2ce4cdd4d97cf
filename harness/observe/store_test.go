package observe

// The runner with the results store as its gate and recorder: claims,
// take-overs, resumes and checkpoints as they show in the store.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/noprop/noprop/harness"
	"github.com/noprop/noprop/harness/harnesstest"
	"github.com/noprop/noprop/methods"
	"github.com/noprop/noprop/methods/backprop"
	"github.com/noprop/noprop/methods/noprop"
	"github.com/noprop/noprop/results"
	"github.com/noprop/noprop/results/metrics"
	"github.com/noprop/noprop/tasks"
)

// rules are real learning rules, named directly.
var rules = methods.Catalog{backprop.Method, noprop.DTMethod}

// oneSpec expands a one-run sweep of the fake catalog.
func oneSpec(t *testing.T, scenario string, seed uint64) harness.Spec {
	t.Helper()
	specs, err := harness.Sweep{Methods: []harness.MethodChoice{{Name: "centroid"}},
		Datasets: []string{"synthetic"}, Streams: []string{tasks.KindSplit}, Tasks: 2, ClassOrder: "fixed",
		Scenarios: []string{scenario}, Seeds: 1, FirstSeed: seed, InferenceRuns: 3}.Expand(harnesstest.Catalog, harnesstest.Classes)
	if err != nil {
		t.Fatal(err)
	}
	return specs[0]
}

func testSpec(t *testing.T, scenario string, seed uint64) harness.Spec {
	return oneSpec(t, scenario, seed)
}

// newRunner runs the fake catalog with store as gate and recorder.
func newRunner(store *results.Store, obs ...harness.RunObserver) *harness.Runner {
	return &harness.Runner{Methods: harnesstest.Catalog, Load: harnesstest.Load, Gate: &StoreGate{Store: store, Version: "test"},
		Observers: append([]harness.RunObserver{&Recorder{Store: store}}, obs...)}
}

// cancelAfter cancels the run's context once the learner reports on a task.
type cancelAfter struct {
	task   int
	cancel context.CancelFunc
}

func (c cancelAfter) Started(harness.RunInfo) {}
func (c cancelAfter) Epoch(_ harness.RunInfo, task int, _ methods.EpochStats) {
	if task == c.task {
		c.cancel()
	}
}
func (c cancelAfter) Evaluated(harness.RunInfo, harness.Eval) error  { return nil }
func (c cancelAfter) Finished(harness.RunInfo, harness.Result) error { return nil }
func (c cancelAfter) Failed(harness.RunInfo, error, bool)            {}

// stopAfter cancels a run once a task's step count is reached, as a kill
// would stop it in the middle of that task.
type stopAfter struct {
	task, steps int
	seen        int
	cancel      context.CancelFunc
}

func (s *stopAfter) Started(harness.RunInfo)                        {}
func (s *stopAfter) Epoch(harness.RunInfo, int, methods.EpochStats) {}
func (s *stopAfter) Evaluated(harness.RunInfo, harness.Eval) error  { return nil }
func (s *stopAfter) Finished(harness.RunInfo, harness.Result) error { return nil }
func (s *stopAfter) Failed(harness.RunInfo, error, bool)            {}
func (s *stopAfter) Step(_ harness.RunInfo, task int, _ methods.Progress) {
	if task == s.task {
		if s.seen++; s.seen == s.steps {
			s.cancel()
		}
	}
}

func checkpointSpecs(t *testing.T) []harness.Spec {
	t.Helper()
	specs, err := harness.Sweep{Methods: []harness.MethodChoice{
		{Name: "backprop", Settings: json.RawMessage(`{"hidden":[16],"iterations":60,"batch_size":16}`)},
		{Name: "noprop-dt", Settings: json.RawMessage(`{"encoder":"mlp","hidden":16,"timesteps":3,"iterations":40,"batch_size":16,"embedding":"prototype"}`)},
	}, Datasets: []string{"synthetic"}, Streams: []string{tasks.KindSplit}, Tasks: 2, Scenarios: []string{"class"},
		Seeds: 1, FirstSeed: 3, InferenceRuns: 2}.Expand(rules, harnesstest.Classes)
	if err != nil {
		t.Fatal(err)
	}
	return specs
}

func TestRunRecordsEveryUnitAndResumes(t *testing.T) {
	db := filepath.Join(t.TempDir(), "r.db")
	store, err := results.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	rn := newRunner(store)
	specs := []harness.Spec{testSpec(t, "class", 1), testSpec(t, "class", 2)}
	done := func(s harness.Spec) (bool, error) {
		_, ok, err := store.FindDone(context.Background(), s.ConfigHash(), s.Seed)
		return ok, err
	}

	// An interrupted batch: the context is cancelled while the first run
	// learns its second task.
	ctx, cancel := context.WithCancel(context.Background())
	rn.Observers = append(rn.Observers, cancelAfter{task: 2, cancel: cancel})
	rep, err := rn.RunAll(ctx, specs, done)
	if !errors.Is(err, context.Canceled) || rep.Ran != 0 || rep.Interrupted != 1 || rep.Failed != 0 {
		t.Fatalf("interrupted batch: report %+v, err %v; want one interrupted run, none failed", rep, err)
	}
	runs, err := store.Runs(context.Background(), results.Filter{Status: results.StatusInterrupted})
	if err != nil || len(runs) != 1 {
		t.Fatalf("interrupted runs: %d, %v", len(runs), err)
	}
	if want := "interrupted during task 2; run the same command again to resume it"; runs[0].Error != want {
		t.Errorf("stored message %q, want %q", runs[0].Error, want)
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

// during runs f on the first epoch a run reports.
type during struct {
	f    func()
	done bool
}

func (d *during) Started(harness.RunInfo) {}
func (d *during) Epoch(harness.RunInfo, int, methods.EpochStats) {
	if !d.done {
		d.done = true
		d.f()
	}
}
func (d *during) Evaluated(harness.RunInfo, harness.Eval) error  { return nil }
func (d *during) Finished(harness.RunInfo, harness.Result) error { return nil }
func (d *during) Failed(harness.RunInfo, error, bool)            {}

func TestClaimedUnitsRunOnce(t *testing.T) {
	store, err := results.Open(filepath.Join(t.TempDir(), "r.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	spec := testSpec(t, "class", 1)
	// While A trains the unit, B (another batch on the same store) must
	// skip it as held; after A, C skips it as done.
	var bRep harness.BatchReport
	a := newRunner(store, &during{f: func() {
		b := newRunner(store)
		var err error
		bRep, err = b.RunAll(context.Background(), []harness.Spec{spec}, nil)
		if err != nil {
			t.Errorf("B: %v", err)
		}
	}})
	aRep, err := a.RunAll(context.Background(), []harness.Spec{spec}, nil)
	if err != nil || aRep.Ran != 1 {
		t.Fatalf("A: %+v, %v", aRep, err)
	}
	if bRep.Held != 1 || bRep.Ran != 0 {
		t.Errorf("B while A trains: %+v, want the unit held", bRep)
	}
	cRep, err := newRunner(store).RunAll(context.Background(), []harness.Spec{spec}, nil)
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
	slow := methods.Catalog{{Name: "centroid", Settings: func() any { return &harnesstest.CentroidSettings{} },
		New: func(p methods.Problem, raw json.RawMessage) (methods.Learner, error) {
			l, err := harnesstest.NewCentroid(p, raw)
			return slowLearner{l}, err
		}}}
	spec := testSpec(t, "class", 1)
	// While A trains, B takes the unit over (it counts any heartbeat as
	// stale) and trains it to the end; A must then stop, recording nothing.
	var bRep harness.BatchReport
	a := &harness.Runner{Methods: slow, Load: harnesstest.Load,
		Gate: &StoreGate{Store: store, Version: "test", HeartbeatEvery: 5 * time.Millisecond},
		Observers: []harness.RunObserver{&Recorder{Store: store}, &during{f: func() {
			b := &harness.Runner{Methods: harnesstest.Catalog, Load: harnesstest.Load,
				Gate: &StoreGate{Store: store, Version: "test", StaleAfter: time.Nanosecond}, Observers: []harness.RunObserver{&Recorder{Store: store}}}
			bRep, _ = b.RunAll(context.Background(), []harness.Spec{spec}, nil)
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
	rn := newRunner(store)
	raw, std := testSpec(t, "class", 1), testSpec(t, "class", 1)
	std.Pixels = tasks.PixelsStandard
	for _, s := range []harness.Spec{raw, std} {
		if _, err := rn.Run(context.Background(), s); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range []harness.Spec{raw, std} {
		runs, err := store.Runs(context.Background(), results.Filter{ConfigHash: s.ConfigHash()})
		if err != nil || len(runs) != 1 {
			t.Fatalf("runs of %s: %d, %v", s.ConfigHash(), len(runs), err)
		}
		if got, want := strings.Contains(runs[0].ChoicesJSON, `"pixel_mean"`), s.Pixels != ""; got != want {
			t.Errorf("pixels %q: stored choices %s", s.Pixels, runs[0].ChoicesJSON)
		}
	}
}

// TestResumedRunIsBitIdentical stops runs in the middle of their second
// task, then starts them again: they go on from their checkpoint and end
// with the matrix (and every inference run) of a run never stopped.
func TestResumedRunIsBitIdentical(t *testing.T) {
	for _, spec := range checkpointSpecs(t) {
		t.Run(spec.Method, func(t *testing.T) {
			dir := t.TempDir()
			store, err := results.Open(filepath.Join(dir, "r.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer store.Close()
			var log bytes.Buffer
			runner := func(obs ...harness.RunObserver) *harness.Runner {
				return &harness.Runner{Methods: rules, Load: harnesstest.Load, Log: &log,
					Checkpoints: filepath.Join(dir, "ckpt"), CheckpointEvery: 1, // every step
					Gate: &StoreGate{Store: store, Version: "test"}, Observers: append([]harness.RunObserver{&Recorder{Store: store}}, obs...)}
			}
			ctx, cancel := context.WithCancel(context.Background())
			_, err = runner(&stopAfter{task: 2, steps: 17, cancel: cancel}).Run(ctx, spec)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("stopped run: %v", err)
			}
			if ents, _ := os.ReadDir(filepath.Join(dir, "ckpt")); len(ents) == 0 {
				t.Fatal("the stopped run left no checkpoint")
			}
			resumed, err := runner().Run(context.Background(), spec)
			if err != nil {
				t.Fatalf("resumed run: %v", err)
			}
			if !strings.Contains(log.String(), "resuming from the checkpoint after task 1 of 2") {
				t.Errorf("the second run did not resume from the checkpoint; log:\n%s", log.String())
			}
			whole, err := (&harness.Runner{Methods: rules, Load: harnesstest.Load}).Run(context.Background(), spec)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(resumed.Matrix, whole.Matrix) || !reflect.DeepEqual(resumed.Inference, whole.Inference) {
				t.Errorf("resumed matrix %v\nwhole matrix   %v", resumed.Matrix, whole.Matrix)
			}
			// The store holds the resumed run, done, with every row.
			id, ok, err := store.FindDone(context.Background(), spec.ConfigHash(), spec.Seed)
			if err != nil || !ok {
				t.Fatalf("no done run stored: %v", err)
			}
			m, _ := store.Matrix(context.Background(), id)
			if !reflect.DeepEqual(m, whole.Matrix) {
				t.Errorf("stored matrix %v, want %v", m, whole.Matrix)
			}
			if ents, _ := os.ReadDir(filepath.Join(dir, "ckpt")); len(ents) != 0 {
				t.Errorf("checkpoints left after the run finished: %d files", len(ents))
			}
		})
	}
}

// panicky is a learner that panics in Learn.
type panicky struct{ methods.Learner }

func (panicky) Learn(context.Context, tasks.Set, []int, methods.Observer) error {
	var s []int
	return fmt.Errorf("%d", s[3]) // index out of range
}

// TestPanicFailsTheRun: a learner that panics fails its run, stored as
// failed with the message, not left running for the next process.
func TestPanicFailsTheRun(t *testing.T) {
	store, err := results.Open(filepath.Join(t.TempDir(), "r.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	cat := methods.Catalog{{Name: "centroid", Settings: func() any { return &harnesstest.CentroidSettings{} },
		New: func(p methods.Problem, raw json.RawMessage) (methods.Learner, error) {
			l, err := harnesstest.NewCentroid(p, raw)
			return panicky{l}, err
		}}}
	rn := &harness.Runner{Methods: cat, Load: harnesstest.Load, Gate: &StoreGate{Store: store, Version: "test"},
		Observers: []harness.RunObserver{&Recorder{Store: store}}}
	rep, err := rn.RunAll(context.Background(), []harness.Spec{testSpec(t, "class", 1)}, nil)
	if err == nil || rep.Failed != 1 || !strings.Contains(err.Error(), "internal error") {
		t.Fatalf("report %+v, err %v; want one failed run with an internal error", rep, err)
	}
	runs, _ := store.Runs(context.Background(), results.Filter{})
	if len(runs) != 1 || runs[0].Status != results.StatusFailed || !strings.Contains(runs[0].Error, "index out of range") {
		t.Errorf("stored runs %+v, want one failed run naming the panic", runs)
	}
}
