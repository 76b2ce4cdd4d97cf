package tasks

import (
	"slices"
	"strings"
	"testing"
)

func testDataset(t *testing.T) Dataset {
	t.Helper()
	ds, err := Synthetic(SyntheticConfig{Classes: 6, TrainPer: 5, TestPer: 3, Shape: Shape{1, 2, 3}, Noise: 0.1, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

func TestNewStreamSplit(t *testing.T) {
	ds := testDataset(t)
	tests := []struct {
		name  string
		cfg   StreamConfig
		want  [][]int
		order []int
	}{
		{"fixed", StreamConfig{Kind: KindSplit, Tasks: 3}, [][]int{{0, 1}, {2, 3}, {4, 5}}, []int{0, 1, 2, 3, 4, 5}},
		{"one task per class", StreamConfig{Kind: KindSplit, Tasks: 6}, [][]int{{0}, {1}, {2}, {3}, {4}, {5}}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := NewStream(ds, tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if s.Name != "split-synthetic" || s.NumClasses != 6 || len(s.Tasks) != len(tc.want) {
				t.Fatalf("stream %q with %d classes, %d tasks", s.Name, s.NumClasses, len(s.Tasks))
			}
			for k, task := range s.Tasks {
				if !slices.Equal(task.Classes, tc.want[k]) {
					t.Errorf("task %d classes %v, want %v", k+1, task.Classes, tc.want[k])
				}
				if task.Train.Len() != 5*len(tc.want[k]) || task.Test.Len() != 3*len(tc.want[k]) {
					t.Errorf("task %d: %d train, %d test examples", k+1, task.Train.Len(), task.Test.Len())
				}
				for _, y := range append(slices.Clone(task.Train.Set().Y), task.Test.Set().Y...) {
					if !slices.Contains(task.Classes, y) {
						t.Errorf("task %d holds label %d", k+1, y)
					}
				}
			}
			if tc.order != nil && !slices.Equal(s.Choices.ClassOrder, tc.order) {
				t.Errorf("class order %v, want %v", s.Choices.ClassOrder, tc.order)
			}
		})
	}
}

func TestNewStreamSeededOrderIsRecordedAndReproducible(t *testing.T) {
	ds := testDataset(t)
	a, err := NewStream(ds, StreamConfig{Kind: KindSplit, Tasks: 3, ClassOrder: "seeded", Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewStream(ds, StreamConfig{Kind: KindSplit, Tasks: 3, ClassOrder: "seeded", Seed: 7})
	c, _ := NewStream(ds, StreamConfig{Kind: KindSplit, Tasks: 3, ClassOrder: "seeded", Seed: 8})
	if !slices.Equal(a.Choices.ClassOrder, b.Choices.ClassOrder) {
		t.Fatalf("same seed, different orders: %v %v", a.Choices.ClassOrder, b.Choices.ClassOrder)
	}
	if slices.Equal(a.Choices.ClassOrder, c.Choices.ClassOrder) && slices.Equal(a.Choices.ClassOrder, []int{0, 1, 2, 3, 4, 5}) {
		t.Errorf("seeded orders look unshuffled: %v", a.Choices.ClassOrder)
	}
	for k, task := range a.Tasks {
		want := slices.Clone(a.Choices.ClassOrder[2*k : 2*k+2])
		slices.Sort(want)
		if !slices.Equal(task.Classes, want) {
			t.Errorf("task %d classes %v, want %v from the recorded order", k+1, task.Classes, want)
		}
	}
}

func TestNewStreamPermuted(t *testing.T) {
	ds := testDataset(t)
	s, err := NewStream(ds, StreamConfig{Kind: KindPermuted, Tasks: 2, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	if s.NumClasses != 12 || len(s.Choices.Permutation) != 2 {
		t.Fatalf("NumClasses %d, %d permutations recorded", s.NumClasses, len(s.Choices.Permutation))
	}
	if !slices.Equal(s.Tasks[1].Classes, []int{6, 7, 8, 9, 10, 11}) {
		t.Errorf("task 2 classes %v", s.Tasks[1].Classes)
	}
	for k, task := range s.Tasks {
		train := task.Train.Set()
		for r := range train.Len() {
			a, b := slices.Clone(train.Row(r)), slices.Clone(ds.Train.Row(r))
			slices.Sort(a)
			slices.Sort(b)
			if !slices.Equal(a, b) {
				t.Fatalf("task %d row %d is not a permutation of the original", k+1, r)
			}
			if train.Y[r] != ds.Train.Y[r]+6*k {
				t.Fatalf("task %d row %d label %d", k+1, r, train.Y[r])
			}
		}
	}
	if slices.Equal(s.Tasks[0].Train.Set().Row(0), s.Tasks[1].Train.Set().Row(0)) {
		t.Error("two tasks share a permutation")
	}
}

func TestNewStreamErrors(t *testing.T) {
	ds := testDataset(t)
	for _, cfg := range []StreamConfig{
		{Kind: KindSplit, Tasks: 4},
		{Kind: KindSplit, Tasks: 0},
		{Kind: KindSplit, Tasks: 3, ClassOrder: "sorted"},
		{Kind: KindPermuted},
		{Kind: KindPermuted, Tasks: MaxPermutedTasks + 1},
		{Kind: "rotated", Tasks: 2},
		{Kind: KindJoint, Tasks: 1, Pixels: "scaled"},
	} {
		if _, err := NewStream(ds, cfg); err == nil {
			t.Errorf("%+v: no error", cfg)
		}
	}
}

// TestSplitWithAnEmptyClassIsRefused: a class without examples (an empty
// image folder) is refused when the stream is built, not when its task
// comes to train.
func TestSplitWithAnEmptyClassIsRefused(t *testing.T) {
	ds := testDataset(t)
	var keep []int
	for i, y := range ds.Train.Y {
		if y < ds.NumClasses-2 { // the last task's classes lose their training examples
			keep = append(keep, i)
		}
	}
	ds.Train = ds.Train.Subset(keep)
	_, err := NewStream(ds, StreamConfig{Kind: KindSplit, Tasks: ds.NumClasses / 2})
	if err == nil || !strings.Contains(err.Error(), "has 0 training") {
		t.Fatalf("error %v, want the empty task named", err)
	}
}

func TestScenarioMasks(t *testing.T) {
	ds := testDataset(t)
	s, err := NewStream(ds, StreamConfig{Kind: KindSplit, Tasks: 3})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		sc          Scenario
		outputs     int
		trainActive []int // for task index 1
		evalActive  []int // after task index 1, evaluating task index 0
		evalFuture  []int // after task index 0, evaluating task index 2
	}{
		{TaskIL, 6, []int{2, 3}, []int{0, 1}, []int{4, 5}},
		{DomainIL, 2, []int{0, 1}, []int{0, 1}, []int{0, 1}},
		{ClassIL, 6, []int{0, 1, 2, 3}, []int{0, 1, 2, 3}, []int{0, 1, 2, 3, 4, 5}},
	}
	for _, tc := range tests {
		t.Run(string(tc.sc), func(t *testing.T) {
			if got := tc.sc.Outputs(s); got != tc.outputs {
				t.Errorf("outputs %d, want %d", got, tc.outputs)
			}
			if got := tc.sc.TrainActive(s, 1); !slices.Equal(got, tc.trainActive) {
				t.Errorf("train active %v, want %v", got, tc.trainActive)
			}
			if got := tc.sc.EvalActive(s, 1, 0); !slices.Equal(got, tc.evalActive) {
				t.Errorf("eval active %v, want %v", got, tc.evalActive)
			}
			if got := tc.sc.EvalActive(s, 0, 2); !slices.Equal(got, tc.evalFuture) {
				t.Errorf("future eval active %v, want %v", got, tc.evalFuture)
			}
		})
	}
	rel := DomainIL.Relabel(s.Tasks[2], s.Tasks[2].Train.Set())
	for i, y := range rel.Y {
		if want := s.Tasks[2].Train.Set().Y[i] - 4; y != want {
			t.Fatalf("domain label %d, want %d", y, want)
		}
	}
	if s.Tasks[2].Train.Set().Y[0] < 4 {
		t.Fatal("Relabel changed the task's own labels")
	}
}

func TestParseScenario(t *testing.T) {
	for in, want := range map[string]Scenario{"task": TaskIL, "class-il": ClassIL, "domain": DomainIL} {
		if got, err := ParseScenario(in); err != nil || got != want {
			t.Errorf("ParseScenario(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := ParseScenario("instance"); err == nil {
		t.Error("ParseScenario accepted instance")
	}
}
