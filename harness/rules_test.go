package harness

import (
	"bytes"
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
	"github.com/noprop/noprop/methods/backprop"
	"github.com/noprop/noprop/methods/noprop"
	"github.com/noprop/noprop/tasks"
)

// rules are real learning rules, named directly (the harness does not know
// the catalog).
var rules = methods.Catalog{backprop.Method, noprop.DTMethod}

func TestRunMeasuresTrainingMemory(t *testing.T) {
	rn := &Runner{Methods: rules, Load: harnesstest.Load}
	specs, err := Sweep{Methods: []MethodChoice{{Name: "backprop", Settings: json.RawMessage(`{"hidden":[4096,512],"iterations":2,"batch_size":16}`)}},
		Datasets: []string{"synthetic"}, Streams: []string{tasks.KindSplit}, Tasks: 2, Scenarios: []string{"class"},
		Seeds: 1, FirstSeed: 1, InferenceRuns: 1}.Expand(rules, harnesstest.Classes)
	if err != nil {
		t.Fatal(err)
	}
	res, err := rn.Run(context.Background(), specs[0])
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

// TestNoLookAtTheFuture hands the harness a stream whose later tasks'
// training images are NaN. NoProp-DT with prototype embeddings picks each
// class's prototype from training images: if it looked at classes before
// their task, the NaNs would be in W_Embed and every score after task 1
// would be NaN. The run must learn task 1 as if the poison were not there
// (and fail, as diverged, only when it meets it).
func TestNoLookAtTheFuture(t *testing.T) {
	load := func(string) (tasks.Dataset, error) {
		ds, err := harnesstest.Load("")
		if err != nil {
			return ds, err
		}
		x := append([]float32(nil), ds.Train.X...)
		d := ds.Train.Shape.Size()
		for i, y := range ds.Train.Y {
			if y >= 2 { // the classes of task 2
				for j := range d {
					x[i*d+j] = float32(math.NaN())
				}
			}
		}
		ds.Train.X = x
		return ds, nil
	}
	rn := &Runner{Methods: rules, Load: load}
	specs, err := Sweep{Methods: []MethodChoice{{Name: "noprop-dt", Settings: json.RawMessage(
		`{"encoder":"mlp","embedding":"prototype","hidden":32,"timesteps":3,"iterations":200,"batch_size":16}`)}},
		Datasets: []string{"synthetic"}, Streams: []string{tasks.KindSplit}, Tasks: 2, Scenarios: []string{"class"},
		Seeds: 1, FirstSeed: 1, InferenceRuns: 1}.Expand(rules, harnesstest.Classes)
	if err != nil {
		t.Fatal(err)
	}
	res, err := rn.Run(context.Background(), specs[0])
	if !errors.Is(err, methods.ErrDiverged) {
		t.Errorf("meeting the NaN images of task 2: error %v, want a divergence", err)
	}
	if a := res.Matrix[1][0]; !(a >= 90) {
		t.Errorf("task 1 accuracy after learning it is %v, want ≥ 90: something read task 2's data early", a)
	}
}

// logs keeps the training log of every evaluated row.
type logs struct{ rows [][]methods.EpochStats }

func (l *logs) Started(RunInfo)                        {}
func (l *logs) Epoch(RunInfo, int, methods.EpochStats) {}
func (l *logs) Evaluated(_ RunInfo, e Eval) error      { l.rows = append(l.rows, e.Log); return nil }
func (l *logs) Finished(RunInfo, Result) error         { return nil }
func (l *logs) Failed(RunInfo, error, bool)            {}

// TestLearningCurve: with Spec.TestEvery, every TestEvery-th pass carries
// the accuracy on the test set of the task being learned. After a task's
// last pass the learner is the one its evaluation scores, with the same
// classes and the first inference run's seeds, so the last point is that
// row's diagonal entry exactly. Scoring during training changes no result,
// and without TestEvery no point is measured. With CurveOn "val" the
// points are on the validation set instead (the last one the validation
// matrix's diagonal entry) and none is on the test set.
func TestLearningCurve(t *testing.T) {
	for _, tc := range []struct{ method, settings, on string }{
		{"backprop", `{"hidden":[16],"epochs":4,"iterations":0,"batch_size":16}`, ""},
		{"noprop-dt", `{"encoder":"mlp","hidden":16,"timesteps":2,"epochs":4,"iterations":0,"batch_size":16}`, ""},
		{"backprop", `{"hidden":[16],"epochs":4,"iterations":0,"batch_size":16}`, CurveOnVal},
		{"noprop-dt", `{"encoder":"mlp","hidden":16,"timesteps":2,"epochs":4,"iterations":0,"batch_size":16}`, CurveOnVal},
	} {
		t.Run(tc.method+"/"+tc.on, func(t *testing.T) {
			validation := 0.0
			if tc.on == CurveOnVal {
				validation = 0.25
			}
			run := func(every int) (Result, [][]methods.EpochStats) {
				t.Helper()
				on := tc.on
				if every == 0 {
					on = ""
				}
				specs, err := Sweep{Methods: []MethodChoice{{Name: tc.method, Settings: json.RawMessage(tc.settings)}},
					Datasets: []string{"synthetic"}, Streams: []string{tasks.KindSplit}, Tasks: 2, Scenarios: []string{"task"},
					Seeds: 1, FirstSeed: 1, InferenceRuns: 2, TestEvery: every, CurveOn: on, Validation: validation}.Expand(rules, harnesstest.Classes)
				if err != nil {
					t.Fatal(err)
				}
				l := &logs{}
				res, err := (&Runner{Methods: rules, Load: harnesstest.Load, Observers: []RunObserver{l}}).Run(context.Background(), specs[0])
				if err != nil {
					t.Fatal(err)
				}
				return res, l.rows
			}
			plain, plainLogs := run(0)
			curved, curve := run(2)
			if !reflect.DeepEqual(plain.Matrix, curved.Matrix) {
				t.Errorf("scoring during training changed the accuracy matrix: %v, without %v", curved.Matrix, plain.Matrix)
			}
			for _, row := range plainLogs {
				for _, e := range row {
					if !math.IsNaN(e.TestAcc) || !math.IsNaN(e.ValAcc) {
						t.Fatalf("without test_every, a pass has test, validation accuracy %v, %v", e.TestAcc, e.ValAcc)
					}
				}
			}
			if len(curve) != 3 || len(curve[1]) == 0 || len(curve[2]) == 0 {
				t.Fatalf("logs of %d rows, want 3 with passes after tasks 1 and 2", len(curve))
			}
			point, other := func(e methods.EpochStats) float64 { return e.TestAcc }, func(e methods.EpochStats) float64 { return e.ValAcc }
			if tc.on == CurveOnVal {
				point, other = other, point
			}
			for task := 1; task <= 2; task++ {
				row := curve[task]
				for _, e := range row {
					// Block by block, the point follows the epoch's last block.
					last := e.Part == "" || e.Part == "block 2"
					if measured := !math.IsNaN(point(e)); measured != (e.Epoch%2 == 0 && last) {
						t.Errorf("task %d, epoch %d %s: curve point %v; want one after the last part of even epochs only", task, e.Epoch, e.Part, point(e))
					}
					if !math.IsNaN(other(e)) {
						t.Errorf("task %d, epoch %d %s: a point %v on the set the curve does not score", task, e.Epoch, e.Part, other(e))
					}
				}
				want := curved.Matrix[task][task-1]
				if curved.Inference != nil {
					want = curved.Inference[0][task][task-1]
				}
				if tc.on == CurveOnVal {
					want = curved.ValMatrix[task][task-1]
				}
				if got := point(row[len(row)-1]); got != want {
					t.Errorf("task %d: last curve point %v, want the evaluation's first inference run on the task, %v", task, got, want)
				}
			}
		})
	}
}

// TestProbe: with Spec.Probe a NoProp-DT run stores, in every row, each
// stage's accuracy on every task, the stages as the learner names them;
// the accuracy matrix is the run's without the probe, bit for bit; and a
// rule that names no stages (backprop) stores none.
func TestProbe(t *testing.T) {
	for _, tc := range []struct{ method, settings string }{
		{"noprop-dt", `{"encoder":"mlp","hidden":16,"timesteps":2,"epochs":2,"iterations":0,"batch_size":16}`},
		{"backprop", `{"hidden":[16],"epochs":2,"iterations":0,"batch_size":16}`},
	} {
		t.Run(tc.method, func(t *testing.T) {
			run := func(probe bool) (Result, [][]StageAccuracy) {
				t.Helper()
				specs, err := Sweep{Methods: []MethodChoice{{Name: tc.method, Settings: json.RawMessage(tc.settings)}},
					Datasets: []string{"synthetic"}, Streams: []string{tasks.KindSplit}, Tasks: 2, Scenarios: []string{"class"},
					Seeds: 1, FirstSeed: 1, InferenceRuns: 2, Probe: probe}.Expand(rules, harnesstest.Classes)
				if err != nil {
					t.Fatal(err)
				}
				ev := &evals{}
				var log bytes.Buffer
				res, err := (&Runner{Methods: rules, Load: harnesstest.Load, Log: &log, Observers: []RunObserver{ev}}).Run(context.Background(), specs[0])
				if err != nil {
					t.Fatal(err)
				}
				if said := strings.Contains(log.String(), "names no stages"); said != (probe && tc.method == "backprop") {
					t.Errorf("probe %v: the log says %q", probe, log.String())
				}
				return res, ev.probes
			}
			plain, _ := run(false)
			probed, probes := run(true)
			if !reflect.DeepEqual(plain.Matrix, probed.Matrix) {
				t.Errorf("probing changed the accuracy matrix: %v, without %v", probed.Matrix, plain.Matrix)
			}
			if len(probes) != 3 {
				t.Fatalf("%d rows evaluated, want 3", len(probes))
			}
			want := []string(nil)
			if tc.method == "noprop-dt" {
				want = []string{"denoise 1", "denoise 2", "chain 1", "chain 2", "head"}
			}
			for i, row := range probes {
				var stages []string
				for _, s := range row {
					stages = append(stages, s.Stage)
					if len(s.Acc) != 2 || !(s.Acc[0] >= 0 && s.Acc[0] <= 100) {
						t.Errorf("row %d, stage %s: accuracies %v, want 2 percentages", i, s.Stage, s.Acc)
					}
				}
				if !slices.Equal(stages, want) {
					t.Errorf("row %d: stages %q, want %q", i, stages, want)
				}
			}
			if want != nil {
				// After task 1 the head, on z_T from q(z_T | y), has learned
				// task 1 (chance: 50 %, two classes active).
				head := probes[1][len(probes[1])-1]
				if head.Acc[0] < 60 {
					t.Errorf("after task 1 the head scores %v%% on task 1 from q(z_T | y), want ≥ 60", head.Acc[0])
				}
			}
		})
	}
}

// evals keeps the probe and embedding rows of every evaluated row.
type evals struct {
	probes [][]StageAccuracy
	embeds [][]float32
}

func (e *evals) Started(RunInfo)                        {}
func (e *evals) Epoch(RunInfo, int, methods.EpochStats) {}
func (e *evals) Evaluated(_ RunInfo, ev Eval) error {
	e.probes = append(e.probes, ev.Probe)
	e.embeds = append(e.embeds, ev.Embedding)
	return nil
}
func (e *evals) Finished(RunInfo, Result) error { return nil }
func (e *evals) Failed(RunInfo, error, bool)    {}
