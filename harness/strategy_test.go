package harness

import (
	"context"
	"encoding/json"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/noprop/noprop/harness/harnesstest"
	"github.com/noprop/noprop/methods"
	"github.com/noprop/noprop/tasks"
)

// call is what one Learn call was given.
type call struct {
	data   tasks.Set
	active []int
}

// recorder is a learner that keeps every Learn call's data and active
// outputs, and learns as the fake centroid rule does.
type recorder struct {
	methods.Learner
	calls *[]call
}

func (r recorder) Learn(ctx context.Context, data tasks.Set, active []int, obs methods.Observer) error {
	*r.calls = append(*r.calls, call{tasks.Set{X: slices.Clone(data.X), Y: slices.Clone(data.Y), Shape: data.Shape, Weight: slices.Clone(data.Weight), Active: slices.Clone(data.Active)}, slices.Clone(active)})
	return r.Learner.Learn(ctx, data, active, obs)
}

// recordingRunner is a runner whose one method, "centroid", records its
// Learn calls into calls.
func recordingRunner(calls *[]call) *Runner {
	cat := methods.Catalog{{Name: "centroid", Summary: "recording centroid", Settings: func() any { return &harnesstest.CentroidSettings{} },
		New: func(p methods.Problem, raw json.RawMessage) (methods.Learner, error) {
			l, err := harnesstest.NewCentroid(p, raw)
			return recorder{l, calls}, err
		}}}
	return &Runner{Methods: cat, Load: harnesstest.Load}
}

// runRecorded runs spec with the recording fake rule and returns its
// result, the Learn calls it made and the stream it ran on.
func runRecorded(t *testing.T, spec Spec) (Result, []call, tasks.Stream) {
	t.Helper()
	var calls []call
	rn := recordingRunner(&calls)
	res, err := rn.Run(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	s, _, err := rn.stream(spec)
	if err != nil {
		t.Fatal(err)
	}
	return res, calls, s
}

// strategySpec is a 2-task synthetic spec of the fake rule.
func strategySpec(t *testing.T, method, scenario, strategy string, validation float64, seed uint64) Spec {
	t.Helper()
	return settingsSpec(t, method, "", scenario, strategy, validation, seed)
}

// settingsSpec is strategySpec with the method's settings (JSON) given.
func settingsSpec(t *testing.T, method, settings, scenario, strategy string, validation float64, seed uint64) Spec {
	t.Helper()
	specs, err := Sweep{Methods: []MethodChoice{{Name: method, Settings: json.RawMessage(settings)}}, Datasets: []string{"synthetic"}, Streams: []string{tasks.KindSplit},
		Tasks: 2, ClassOrder: "fixed", Scenarios: []string{scenario}, Strategies: []string{strategy}, Validation: validation,
		Seeds: 1, FirstSeed: seed, InferenceRuns: 3}.Expand(harnesstest.Catalog, harnesstest.Classes)
	if err != nil {
		t.Fatal(err)
	}
	return specs[0]
}

// wantCalls is what the strategy's Learn calls must be, written out from
// the stream: for each call, the tasks whose training sets it holds, one
// after another, and its active outputs. stored asks for the task-IL
// bounds of runs stored before examples carried their own outputs
// (Spec.TaskHeads empty).
func wantCalls(s tasks.Stream, sc tasks.Scenario, strategy string, stored bool) []call {
	union := func(ks ...int) tasks.Set {
		var parts []tasks.Set
		for _, k := range ks {
			parts = append(parts, sc.Relabel(s.Tasks[k], s.Tasks[k].Train.Set()))
		}
		return concat(parts)
	}
	// own is the union with each example's own task's outputs.
	own := func(ks ...int) tasks.Set {
		u := union(ks...)
		for _, k := range ks {
			for range s.Tasks[k].Train.Len() {
				u.Active = append(u.Active, sc.TrainActive(s, k))
			}
		}
		return u
	}
	one := func(k int) call { return call{union(k), sc.TrainActive(s, k)} }
	switch {
	case strategy == "finetune":
		return []call{one(0), one(1)}
	case strategy == "cumulative" && sc == tasks.TaskIL && stored:
		return []call{one(0), one(0), one(1)}
	case strategy == "cumulative" && sc == tasks.TaskIL:
		return []call{{own(0), tasks.ClassIL.TrainActive(s, 0)}, {own(0, 1), tasks.ClassIL.TrainActive(s, 1)}}
	case strategy == "cumulative":
		return []call{one(0), {union(0, 1), sc.TrainActive(s, 1)}}
	case sc == tasks.TaskIL && stored: // joint: one softmax over every class
		return []call{{union(0, 1), tasks.ClassIL.TrainActive(s, 1)}}
	case sc == tasks.TaskIL: // joint: every class active, each example its task's
		return []call{{own(0, 1), tasks.ClassIL.TrainActive(s, 1)}}
	default: // joint
		return []call{{union(0, 1), sc.TrainActive(s, 1)}}
	}
}

func TestStrategiesTrainOnTheirData(t *testing.T) {
	for _, strategy := range Strategies() {
		if strategy == StrategyReplay {
			continue // its draws are checked in replay_test.go
		}
		for _, sc := range tasks.Scenarios() {
			for _, stored := range []bool{false, true} {
				if stored && (sc != tasks.TaskIL || strategy == StrategyFinetune) {
					continue
				}
				name := strategy + "/" + string(sc)
				if stored {
					name += "/stored"
				}
				t.Run(name, func(t *testing.T) {
					spec := strategySpec(t, "centroid", string(sc), strategy, 0, 1)
					if stored {
						spec.TaskHeads = ""
					}
					res, calls, s := runRecorded(t, spec)
					want := wantCalls(s, sc, strategy, stored)
					if len(calls) != len(want) {
						t.Fatalf("%d Learn calls, want %d", len(calls), len(want))
					}
					for i := range want {
						if !reflect.DeepEqual(calls[i].data, want[i].data) || !slices.Equal(calls[i].active, want[i].active) {
							t.Errorf("call %d: %d examples, active %v; want %d examples, active %v",
								i, calls[i].data.Len(), calls[i].active, want[i].data.Len(), want[i].active)
						}
					}
					if len(res.Matrix) != 3 || len(res.Matrix[0]) != 2 {
						t.Fatalf("matrix %v: want 3×2", res.Matrix)
					}
				})
			}
		}
	}
}

// TestTaskHeads checks that the task-IL bounds made now name their
// construction, so that they never share a hash with the runs stored
// before it, and that no other spec may name it.
func TestTaskHeads(t *testing.T) {
	for _, strategy := range Strategies() {
		for _, sc := range tasks.Scenarios() {
			spec := strategySpec(t, "centroid", string(sc), strategy, 0, 1)
			bound := sc == tasks.TaskIL && (strategy == StrategyCumulative || strategy == StrategyJoint)
			if got := spec.TaskHeads != ""; got != bound {
				t.Errorf("%s %s: task heads %q", strategy, sc, spec.TaskHeads)
			}
			stored := spec
			stored.TaskHeads = ""
			if bound && stored.ConfigHash() == spec.ConfigHash() {
				t.Errorf("%s %s: the stored construction shares the hash %s", strategy, sc, spec.ConfigHash())
			}
			wrong := spec
			wrong.TaskHeads = TaskHeadsOwn
			if err := wrong.Validate(); (err != nil) == bound {
				t.Errorf("%s %s with task heads %q: Validate() = %v", strategy, sc, TaskHeadsOwn, err)
			}
		}
	}
}

// TestJointRows checks joint's matrix: row 0 the untrained model, as
// fine-tuning's; rows 1..T the same, the joint model scored with the whole
// stream's masks; forgetting 0.
func TestJointRows(t *testing.T) {
	for _, sc := range tasks.Scenarios() {
		t.Run(string(sc), func(t *testing.T) {
			res, err := newRunner().Run(context.Background(), strategySpec(t, "noisy-centroid", string(sc), "joint", 0, 1))
			if err != nil {
				t.Fatal(err)
			}
			ft, err := newRunner().Run(context.Background(), strategySpec(t, "noisy-centroid", string(sc), "finetune", 0, 1))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(res.Matrix[0], ft.Matrix[0]) {
				t.Errorf("row 0 %v, fine-tuning's %v: both are the untrained model", res.Matrix[0], ft.Matrix[0])
			}
			if !slices.Equal(res.Matrix[1], res.Matrix[2]) {
				t.Errorf("rows 1 and 2 differ: %v", res.Matrix)
			}
			for k := range res.Inference {
				if !slices.Equal(res.Inference[k][1], res.Inference[k][2]) {
					t.Errorf("inference run %d: rows 1 and 2 differ", k)
				}
			}
			for _, m := range res.Metrics {
				if m.Name == "forgetting" && m.Value != 0 {
					t.Errorf("forgetting %v, want 0", m.Value)
				}
			}
			checkJointScores(t, sc)
		})
	}
}

// checkJointScores trains the fake rule (noisy, so that the masks matter)
// on both tasks of a stream at once, scores each task with the masks after
// the last task and the first inference run's seeds (what joint's rows
// must hold), and compares a joint run's rows.
func checkJointScores(t *testing.T, sc tasks.Scenario) {
	t.Helper()
	const settings = `{"noise": 30}`
	spec := settingsSpec(t, "noisy-centroid", settings, string(sc), "joint", 0, 1)
	res, err := newRunner().Run(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	s, _, err := newRunner().stream(spec)
	if err != nil {
		t.Fatal(err)
	}
	l, err := harnesstest.NewCentroid(methods.Problem{Input: s.Shape, Outputs: sc.Outputs(s)}, json.RawMessage(settings))
	if err != nil {
		t.Fatal(err)
	}
	c := Curriculum{Stream: s, Scenario: sc}
	parts := []tasks.Set{c.Train(0), c.Train(1)}
	if sc == tasks.TaskIL {
		for k := range parts {
			parts[k].Active = slices.Repeat([][]int{sc.TrainActive(s, k)}, parts[k].Len())
		}
	}
	if err := l.Learn(context.Background(), concat(parts), tasks.ClassIL.TrainActive(s, 1)[:sc.Outputs(s)], nil); err != nil {
		t.Fatal(err)
	}
	var want []float64
	for j, task := range s.Tasks {
		seed := func(chunk int) uint64 { return inferenceSeed(0, j, chunk) }
		acc, err := Accuracy(context.Background(), l, sc.Relabel(task, task.Test.Set()), sc.EvalActive(s, 1, j), seed)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, acc)
	}
	for i := 1; i < len(res.Matrix); i++ {
		if !slices.Equal(res.Inference[0][i], want) {
			t.Errorf("joint row %d %v, want the joint model scored with the whole stream's masks %v", i, res.Inference[0][i], want)
		}
	}
}

func TestSweepFileStrategyAndValidation(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{"strategy: [finetune, cumulative, joint]\nvalidation: 0.1\n", ""},
		{"strategy: [rehearsal]\n", "x.yaml:3: strategy"},
		{"validation: 0.7\n", "x.yaml:3: validation"},
	} {
		path := t.TempDir() + "/x.yaml"
		src := "methods: [centroid]\ndatasets: [synthetic]\n" + tc.body + "tasks: 2\nscenarios: [class]\n"
		if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		specs, err := ReadSweepFile(context.Background(), path, harnesstest.Catalog, harnesstest.Classes)
		if tc.want != "" {
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%q: error %v, want %q", tc.body, err, tc.want)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, s := range specs {
			got = append(got, s.Strategy)
			if s.Validation != 0.1 {
				t.Errorf("validation %v", s.Validation)
			}
		}
		if !slices.Equal(got, []string{"", "cumulative", "joint"}) {
			t.Errorf("strategies %q", got)
		}
	}
}
