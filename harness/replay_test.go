package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/noprop/noprop/harness/harnesstest"
	"github.com/noprop/noprop/tasks"
)

// replaySpec is a one-run replay spec of a catalog's method on the
// synthetic data (4 classes of 60 training examples).
func replaySpec(t *testing.T, cat []MethodChoice, stream string, nTasks int, scenario string, r *Replay, seed uint64) Spec {
	t.Helper()
	catalog := harnesstest.Catalog
	if cat[0].Name != "centroid" {
		catalog = rules
	}
	specs, err := Sweep{Methods: cat, Datasets: []string{"synthetic"}, Streams: []string{stream}, Tasks: nTasks, ClassOrder: "fixed",
		Scenarios: []string{scenario}, Strategies: []string{StrategyReplay}, Replay: r, Seeds: 1, FirstSeed: seed,
		InferenceRuns: 2}.Expand(catalog, harnesstest.Classes)
	if err != nil {
		t.Fatal(err)
	}
	return specs[0]
}

var centroid = []MethodChoice{{Name: "centroid"}}

func TestClassBalancedKeepsNPerClass(t *testing.T) {
	for _, tc := range []struct {
		name   string
		counts []int // examples of classes 0, 1, ...
		n      int
	}{
		{"more than n", []int{50, 30, 20}, 10},
		{"fewer than n", []int{3, 7}, 5},
		{"exactly n", []int{4, 4}, 4},
		{"one per class", []int{9, 1, 6}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var labels []int
			for c, k := range tc.counts {
				for range k {
					labels = append(labels, c)
				}
			}
			rand.New(rand.NewPCG(1, 2)).Shuffle(len(labels), func(i, j int) { labels[i], labels[j] = labels[j], labels[i] })
			mem := classBalanced(3, labels, tc.n, rand.New(rand.NewPCG(7, 0)))
			got := make([]int, len(tc.counts))
			rows := map[int]bool{}
			for _, s := range mem {
				if s.task != 3 || rows[s.row] {
					t.Fatalf("slot %+v: want task 3 and rows kept once", s)
				}
				rows[s.row] = true
				got[labels[s.row]]++
			}
			for c, k := range tc.counts {
				if got[c] != min(k, tc.n) {
					t.Errorf("class %d: %d kept of %d, want %d", c, got[c], k, min(k, tc.n))
				}
			}
		})
	}
}

// TestReservoirKeepsEachWithTheRightProbability: over many seeds, each of
// the examples seen (two tasks) is in the memory size/seen of the time; the
// bound is 5 standard deviations of a binomial count.
func TestReservoirKeepsEachWithTheRightProbability(t *testing.T) {
	for _, tc := range []struct{ n0, n1, size int }{{30, 20, 10}, {5, 5, 25}, {40, 0, 1}} {
		t.Run(fmt.Sprint(tc), func(t *testing.T) {
			const seeds = 3000
			kept := map[slot]int{}
			seen := tc.n0 + tc.n1
			for seed := range uint64(seeds) {
				r := replay{Replay: Replay{Policy: ReplayReservoir, Size: tc.size}, seed: seed}
				mem, n := reservoir(nil, 0, 0, tc.n0, tc.size, r.rand("memory", 0))
				mem, n = reservoir(mem, n, 1, tc.n1, tc.size, r.rand("memory", 1))
				if n != seen || len(mem) != min(tc.size, seen) {
					t.Fatalf("seed %d: %d seen, %d kept; want %d and %d", seed, n, len(mem), seen, min(tc.size, seen))
				}
				for _, s := range mem {
					kept[s]++
				}
			}
			p := min(1, float64(tc.size)/float64(seen))
			bound := 5 * math.Sqrt(seeds*p*(1-p))
			for task, n := range []int{tc.n0, tc.n1} {
				for row := range n {
					if got := float64(kept[slot{task, row}]); math.Abs(got-seeds*p) > bound {
						t.Errorf("task %d row %d kept %v times in %d, want %v ± %.1f", task, row, got, seeds, seeds*p, bound)
					}
				}
			}
		})
	}
}

// TestReplayLearnCalls: the call at task 0 is task 0's set alone; the call
// at task 1 is task 1's set, then round(ratio·n) examples of task 0 in the
// scenario's labels, drawn from a memory no larger than the policy allows,
// with the outputs of the scenario's task 1 active.
func TestReplayLearnCalls(t *testing.T) {
	for _, tc := range []struct {
		scenario string
		r        Replay
		distinct int // the most distinct replayed examples per class
	}{
		{"class", Replay{Policy: ReplayClassBalanced, PerClass: 5, Ratio: 0.5, Weighting: ReplayWeightEqual}, 5},
		{"domain", Replay{Policy: ReplayClassBalanced, PerClass: 3, Ratio: 2, Weighting: ReplayWeightEqual}, 3},
		{"class", Replay{Policy: ReplayReservoir, Size: 7, Ratio: 1, Weighting: ReplayWeightEqual}, 7},
		{"domain", Replay{Policy: ReplayReservoir, Size: 500, Ratio: 1, Weighting: ReplayWeightEqual}, 60},
	} {
		t.Run(fmt.Sprintf("%s/%+v", tc.scenario, tc.r), func(t *testing.T) {
			_, calls, s := runRecorded(t, replaySpec(t, centroid, tasks.KindSplit, 2, tc.scenario, &tc.r, 1))
			c := Curriculum{Stream: s, Scenario: tasks.Scenario(tc.scenario)}
			if len(calls) != 2 || !reflect.DeepEqual(calls[0].data, c.Train(0)) || !slices.Equal(calls[0].active, c.Scenario.TrainActive(s, 0)) {
				t.Fatalf("%d calls; the first must be task 0's set alone", len(calls))
			}
			checkMixed(t, calls[1], c, tc.r.Ratio, tc.distinct)
		})
	}
}

// checkMixed checks task 1's call: task 1's set first, then the replayed
// examples, each one of task 0's with its label, few distinct per class.
func checkMixed(t *testing.T, got call, c Curriculum, ratio float64, distinct int) {
	t.Helper()
	cur, old := c.Train(1), c.Train(0)
	m := int(math.Round(ratio * float64(cur.Len())))
	if got.data.Len() != cur.Len()+m {
		t.Fatalf("%d examples, want %d of task 1 and %d replayed", got.data.Len(), cur.Len(), m)
	}
	if !slices.Equal(got.active, c.Scenario.TrainActive(c.Stream, 1)) {
		t.Errorf("active %v, want %v", got.active, c.Scenario.TrainActive(c.Stream, 1))
	}
	d := cur.Shape.Size()
	if !slices.Equal(got.data.X[:len(cur.X)], cur.X) || !slices.Equal(got.data.Y[:cur.Len()], cur.Y) {
		t.Error("the call does not start with task 1's set")
	}
	label := map[string]int{}
	for i := range old.Len() {
		label[fmt.Sprint(old.Row(i))] = old.Y[i]
	}
	rows := map[int]map[string]bool{}
	for i := cur.Len(); i < got.data.Len(); i++ {
		key := fmt.Sprint(got.data.X[i*d : (i+1)*d])
		y, ok := label[key]
		if !ok || y != got.data.Y[i] {
			t.Fatalf("replayed example %d (label %d) is not one of task 0's with its label (%v, %d)", i, got.data.Y[i], ok, y)
		}
		if rows[y] == nil {
			rows[y] = map[string]bool{}
		}
		rows[y][key] = true
	}
	for y, r := range rows {
		if len(r) > distinct {
			t.Errorf("class %d: %d distinct replayed examples, the memory holds at most %d", y, len(r), distinct)
		}
	}
}

// TestReplayIsDeterministic: the same seed trains on the same examples;
// another seed replays others.
func TestReplayIsDeterministic(t *testing.T) {
	r := &Replay{Policy: ReplayClassBalanced, PerClass: 4, Ratio: 1, Weighting: ReplayWeightEqual}
	calls := func(seed uint64) []call {
		var out []call
		if _, err := recordingRunner(&out).Run(context.Background(), replaySpec(t, centroid, tasks.KindSplit, 2, "class", r, seed)); err != nil {
			t.Fatal(err)
		}
		return out
	}
	a, b, other := calls(1), calls(1), calls(2)
	if !reflect.DeepEqual(a, b) {
		t.Error("the same seed replayed other examples")
	}
	if reflect.DeepEqual(a[1].data.Y, other[1].data.Y) && reflect.DeepEqual(a[1].data.X[len(a[1].data.X)/2:], other[1].data.X[len(other[1].data.X)/2:]) {
		t.Error("another seed replayed the same examples")
	}
}

// TestTaskWeights: the weights make a set's mean weighted loss the current
// examples' mean weighing 1/t beside the replayed ones' weighing 1 − 1/t,
// and their mean is 1.
func TestTaskWeights(t *testing.T) {
	for _, tc := range []struct{ n, m, t int }{{10, 10, 2}, {6, 18, 5}, {7, 3, 3}, {4, 4, 1}} {
		w := taskWeights(tc.n, tc.m, tc.t)
		loss := func(i int) float64 { // any losses: current 1, 2, ...; replayed 10, 20, ...
			if i < tc.n {
				return float64(i + 1)
			}
			return 10 * float64(i-tc.n+1)
		}
		var sum, wsum, cur, rep float64
		for i, v := range w {
			sum += float64(v) * loss(i)
			wsum += float64(v)
			if i < tc.n {
				cur += loss(i) / float64(tc.n)
			} else {
				rep += loss(i) / float64(tc.m)
			}
		}
		N := float64(tc.n + tc.m)
		want := cur/float64(tc.t) + (1-1/float64(tc.t))*rep
		if math.Abs(sum/N-want) > 1e-5*want || math.Abs(wsum/N-1) > 1e-6 {
			t.Errorf("%+v: weighted mean loss %v, want %v; mean weight %v, want 1", tc, sum/N, want, wsum/N)
		}
	}
}

// TestReplayTaskIL: in task-IL, task 1's call holds every example under
// its own task's outputs (the call's being both tasks'), with the task
// weighting's weights: 1/2 of the loss each for current and replayed.
func TestReplayTaskIL(t *testing.T) {
	r := &Replay{Policy: ReplayClassBalanced, PerClass: 5, Ratio: 0.5, Weighting: ReplayWeightTask}
	_, calls, s := runRecorded(t, replaySpec(t, centroid, tasks.KindSplit, 2, "task", r, 1))
	c := Curriculum{Stream: s, Scenario: tasks.TaskIL}
	got := calls[1]
	n := c.Train(1).Len()
	if !slices.Equal(got.active, tasks.ClassIL.TrainActive(s, 1)) {
		t.Errorf("call's active outputs %v, want both tasks' %v", got.active, tasks.ClassIL.TrainActive(s, 1))
	}
	if len(got.data.Active) != got.data.Len() || len(got.data.Weight) != got.data.Len() {
		t.Fatalf("%d examples with %d active lists and %d weights", got.data.Len(), len(got.data.Active), len(got.data.Weight))
	}
	var wc, wr float64
	for i, y := range got.data.Y {
		task := 1
		if i >= n {
			task = 0
			wr += float64(got.data.Weight[i])
		} else {
			wc += float64(got.data.Weight[i])
		}
		own := c.Scenario.TrainActive(s, task)
		if !slices.Equal(got.data.Active[i], own) || !slices.Contains(own, y) {
			t.Fatalf("example %d (label %d, task %d): active %v, want %v", i, y, task, got.data.Active[i], own)
		}
	}
	if math.Abs(wc-wr) > 1e-3*wc {
		t.Errorf("current examples weigh %v in all, replayed %v: want equal shares at the second task", wc, wr)
	}
}

// TestReplayResumesBitIdentical kills a replay run of a real rule during
// its third task (at its first step: just after task 2's checkpoint; and
// within it) and resumes it: the memory, recomputed from the seed and the
// tasks learned, gives the matrix of a run never stopped.
func TestReplayResumesBitIdentical(t *testing.T) {
	for _, tc := range []struct {
		policy   Replay
		scenario string
	}{
		{Replay{Policy: ReplayClassBalanced, PerClass: 6, Ratio: 1, Weighting: ReplayWeightTask}, "task"},
		{Replay{Policy: ReplayReservoir, Size: 20, Ratio: 0.5, Weighting: ReplayWeightEqual}, "class"},
	} {
		policy := tc.policy
		m := []MethodChoice{{Name: "backprop", Settings: json.RawMessage(`{"hidden":[16],"iterations":40,"batch_size":16}`)}}
		spec := replaySpec(t, m, tasks.KindPermuted, 3, tc.scenario, &policy, 5)
		whole, err := (&Runner{Methods: rules, Load: harnesstest.Load}).Run(context.Background(), spec)
		if err != nil {
			t.Fatal(err)
		}
		for _, steps := range []int{1, 9} {
			dir := t.TempDir()
			var log bytes.Buffer
			runner := func(obs ...RunObserver) *Runner {
				return &Runner{Methods: rules, Load: harnesstest.Load, Log: &log, Checkpoints: dir, CheckpointEvery: 1, Observers: obs}
			}
			ctx, cancel := context.WithCancel(context.Background())
			if _, err := runner(&stopAfter{task: 3, steps: steps, cancel: cancel}).Run(ctx, spec); err == nil {
				t.Fatal("the stopped run finished")
			}
			res, err := runner().Run(context.Background(), spec)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(log.String(), "resuming") {
				t.Errorf("%s, stopped at step %d: did not resume; log:\n%s", policy.Policy, steps, log.String())
			}
			if !reflect.DeepEqual(res.Matrix, whole.Matrix) {
				t.Errorf("%s, stopped at step %d: matrix %v, want %v", policy.Policy, steps, res.Matrix, whole.Matrix)
			}
		}
	}
}
