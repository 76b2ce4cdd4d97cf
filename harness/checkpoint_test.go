package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/noprop/noprop/harness/harnesstest"
	"github.com/noprop/noprop/methods"
	"github.com/noprop/noprop/tasks"
)

// stopAfter cancels a run once a task's step count is reached, as a kill
// would stop it in the middle of that task (task 0: never), and counts
// each task's steps in counts when it is not nil.
type stopAfter struct {
	task, steps int
	seen        int
	cancel      context.CancelFunc
	counts      map[int]int
}

func (s *stopAfter) Started(RunInfo)                        {}
func (s *stopAfter) Epoch(RunInfo, int, methods.EpochStats) {}
func (s *stopAfter) Evaluated(RunInfo, Eval) error          { return nil }
func (s *stopAfter) Finished(RunInfo, Result) error         { return nil }
func (s *stopAfter) Failed(RunInfo, error, bool)            {}
func (s *stopAfter) Step(_ RunInfo, task int, _ methods.Progress) {
	if s.counts != nil {
		s.counts[task]++
	}
	if task == s.task {
		if s.seen++; s.seen == s.steps {
			s.cancel()
		}
	}
}

func checkpointSpecs(t *testing.T) []Spec {
	t.Helper()
	specs, err := Sweep{Methods: []MethodChoice{
		{Name: "backprop", Settings: json.RawMessage(`{"hidden":[16],"iterations":60,"batch_size":16}`)},
		{Name: "noprop-dt", Settings: json.RawMessage(`{"encoder":"mlp","hidden":16,"timesteps":3,"iterations":40,"batch_size":16,"embedding":"prototype"}`)},
	}, Datasets: []string{"synthetic"}, Streams: []string{tasks.KindSplit}, Tasks: 2, Scenarios: []string{"class"},
		Seeds: 1, FirstSeed: 3, InferenceRuns: 2}.Expand(rules, harnesstest.Classes)
	if err != nil {
		t.Fatal(err)
	}
	return specs
}

// TestDamagedCheckpointIsRefused damages the newest checkpoint: it is
// refused with one line, the one before it is used, and the results are
// still those of a run never stopped; with both damaged, the run starts
// over.
func TestDamagedCheckpointIsRefused(t *testing.T) {
	spec := checkpointSpecs(t)[0]
	whole, err := (&Runner{Methods: rules, Load: harnesstest.Load}).Run(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	for _, both := range []bool{false, true} {
		dir := t.TempDir()
		var log bytes.Buffer
		runner := func(obs ...RunObserver) *Runner {
			return &Runner{Methods: rules, Load: harnesstest.Load, Log: &log, Checkpoints: dir, CheckpointEvery: 1, Observers: obs}
		}
		ctx, cancel := context.WithCancel(context.Background())
		runner(&stopAfter{task: 2, steps: 9, cancel: cancel}).Run(ctx, spec)
		path := checkpoints{dir: dir}.path(spec)
		damage := []string{path}
		if both {
			damage = append(damage, path+".prev")
		}
		for _, p := range damage {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			b[len(b)/2] ^= 0xff
			os.WriteFile(p, b, 0o644)
		}
		res, err := runner().Run(context.Background(), spec)
		if err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(log.String(), "damaged (checksum mismatch)"); n != len(damage) {
			t.Errorf("both=%v: %d refusals in the log, want %d:\n%s", both, n, len(damage), log.String())
		}
		if resumed := strings.Contains(log.String(), "resuming"); resumed == both {
			t.Errorf("both=%v: resumed %v; log:\n%s", both, resumed, log.String())
		}
		if !reflect.DeepEqual(res.Matrix, whole.Matrix) {
			t.Errorf("both=%v: matrix %v, want %v", both, res.Matrix, whole.Matrix)
		}
	}
}

// TestRestoredLogCurve: a log restored from a checkpoint keeps the learning
// curve's points, on the set the curve scores, and marks every other pass
// (and the other set) unmeasured, also when the checkpoint (written before
// those accuracies were kept) decoded them as 0.
func TestRestoredLogCurve(t *testing.T) {
	nan := math.NaN()
	for _, tc := range []struct {
		every     int
		on        string
		test, val []float64 // NaN: unmeasured
	}{
		{0, "", []float64{nan, nan, nan, nan}, []float64{nan, nan, nan, nan}},
		{2, "", []float64{nan, 50, nan, 0}, []float64{nan, nan, nan, nan}},
		{1, "", []float64{0, 50, 0, 0}, []float64{nan, nan, nan, nan}},
		{2, CurveOnVal, []float64{nan, nan, nan, nan}, []float64{nan, 40, nan, 0}},
	} {
		log := []methods.EpochStats{{Epoch: 1}, {Epoch: 2, TestAcc: 50, ValAcc: 40}, {Epoch: 3}, {Epoch: 4}}
		unmeasured(log, tc.every, tc.on)
		same := func(a, b float64) bool { return a == b || math.IsNaN(a) && math.IsNaN(b) }
		for i, e := range log {
			if !same(e.TestAcc, tc.test[i]) || !same(e.ValAcc, tc.val[i]) {
				t.Errorf("every %d on %q: epoch %d test, val accuracy %v, %v; want %v, %v", tc.every, tc.on, e.Epoch, e.TestAcc, e.ValAcc, tc.test[i], tc.val[i])
			}
		}
	}
}

// TestProbeResumes: a probed run killed within task 2 and resumed from
// its checkpoint delivers the probe of every row, the rows saved before
// the kill included, as a run never stopped does, bit for bit.
func TestProbeResumes(t *testing.T) {
	spec := checkpointSpecs(t)[1] // noprop-dt
	spec.Probe = true
	whole := &evals{}
	if _, err := (&Runner{Methods: rules, Load: harnesstest.Load, Observers: []RunObserver{whole}}).Run(context.Background(), spec); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	(&Runner{Methods: rules, Load: harnesstest.Load, Checkpoints: dir, CheckpointEvery: 1,
		Observers: []RunObserver{&stopAfter{task: 2, steps: 9, cancel: cancel}}}).Run(ctx, spec)
	resumed := &evals{}
	var log bytes.Buffer
	if _, err := (&Runner{Methods: rules, Load: harnesstest.Load, Log: &log, Checkpoints: dir, CheckpointEvery: 1,
		Observers: []RunObserver{resumed}}).Run(context.Background(), spec); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "resuming") {
		t.Fatalf("the run did not resume:\n%s", log.String())
	}
	if len(whole.probes) != 3 || !reflect.DeepEqual(resumed.probes, whole.probes) {
		t.Errorf("resumed probes %v, want those of a run never stopped %v", resumed.probes, whole.probes)
	}
}

// TestReadProgress: a run stopped in its second task tells, from its
// checkpoint's header alone, that one task is done and which epoch and
// part (a block) of the second it had logged; a unit without a checkpoint has none,
// and a file that is not a checkpoint is an error.
func TestReadProgress(t *testing.T) {
	spec := checkpointSpecs(t)[1] // noprop-dt: 3 blocks of 40 steps a task
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	r := &Runner{Methods: rules, Load: harnesstest.Load, Log: &bytes.Buffer{}, Checkpoints: dir, CheckpointEvery: 1,
		Observers: []RunObserver{&stopAfter{task: 2, steps: 50, cancel: cancel}}}
	r.Run(ctx, spec)
	p, ok, err := ReadProgress(dir, spec.ConfigHash(), spec.Seed)
	if err != nil || !ok {
		t.Fatalf("ReadProgress: %+v, %v, %v; want the checkpoint's progress", p, ok, err)
	}
	if p.Tasks != 1 || p.Epoch < 1 || !strings.HasPrefix(p.Part, "block ") {
		t.Errorf("progress %+v; want 1 task done and an epoch of a block logged", p)
	}
	if age := time.Since(p.Saved); age < 0 || age > time.Minute {
		t.Errorf("saved %v ago", age)
	}
	if _, ok, err := ReadProgress(dir, spec.ConfigHash(), spec.Seed+1); ok || err != nil {
		t.Errorf("another seed: ok %v, err %v; want no checkpoint and no error", ok, err)
	}
	os.WriteFile(checkpointFile(dir, "feed", 1), []byte("not a checkpoint"), 0o644)
	if _, _, err := ReadProgress(dir, "feed", 1); err == nil {
		t.Error("a file that is not a checkpoint: no error")
	}
}

// TestInterruptKeepsItsSteps: a run interrupted between two due
// checkpoints saves one as it stops, so the run resumed from it does only
// the steps left, and its results are those of a run never stopped.
func TestInterruptKeepsItsSteps(t *testing.T) {
	for _, spec := range checkpointSpecs(t) {
		whole := &stopAfter{counts: map[int]int{}}
		want, err := (&Runner{Methods: rules, Load: harnesstest.Load, Observers: []RunObserver{whole}}).Run(context.Background(), spec)
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		ctx, cancel := context.WithCancel(context.Background())
		// No checkpoint falls due during the run: only the interruption's.
		r := &Runner{Methods: rules, Load: harnesstest.Load, Log: &bytes.Buffer{}, Checkpoints: dir, CheckpointEvery: time.Hour,
			Observers: []RunObserver{&stopAfter{task: 2, steps: 9, cancel: cancel}}}
		if _, err := r.Run(ctx, spec); err == nil {
			t.Fatalf("%s: the interrupted run returned no error", spec.Method)
		}
		resumed := &stopAfter{counts: map[int]int{}}
		got, err := (&Runner{Methods: rules, Load: harnesstest.Load, Log: &bytes.Buffer{}, Checkpoints: dir, Observers: []RunObserver{resumed}}).Run(context.Background(), spec)
		if err != nil {
			t.Fatal(err)
		}
		if resumed.counts[1] != 0 || resumed.counts[2] != whole.counts[2]-9 {
			t.Errorf("%s: the resumed run made %d and %d steps in tasks 1 and 2, want 0 and %d", spec.Method, resumed.counts[1], resumed.counts[2], whole.counts[2]-9)
		}
		if !reflect.DeepEqual(got.Matrix, want.Matrix) {
			t.Errorf("%s: matrix %v, want %v", spec.Method, got.Matrix, want.Matrix)
		}
	}
}
