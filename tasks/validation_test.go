package tasks

import (
	"fmt"
	"reflect"
	"testing"
)

func validationData(t *testing.T) Dataset {
	t.Helper()
	ds, err := Synthetic(SyntheticConfig{Classes: 4, TrainPer: 50, TestPer: 10, Shape: Shape{C: 1, H: 2, W: 3}, Noise: 0.3, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

// rowKeys are a set's examples as strings (the synthetic examples are all
// different), counted.
func rowKeys(s Set) map[string]int {
	out := map[string]int{}
	for i := range s.Len() {
		out[fmt.Sprint(s.Y[i], s.Row(i))]++
	}
	return out
}

func TestValidationSplit(t *testing.T) {
	ds := validationData(t)
	for _, kind := range []string{KindSplit, KindPermuted, KindJoint} {
		for _, pixels := range []string{PixelsRaw, PixelsStandard} {
			t.Run(kind+"/"+pixels, func(t *testing.T) {
				cfg := StreamConfig{Kind: kind, Tasks: DefaultTasks(kind), Seed: 3, Pixels: pixels, Validation: 0.2}
				if kind == KindSplit {
					cfg.Tasks = 2
				}
				plain := cfg
				plain.Validation = 0
				s, err := NewStream(ds, cfg)
				if err != nil {
					t.Fatal(err)
				}
				whole, err := NewStream(ds, plain)
				if err != nil {
					t.Fatal(err)
				}
				if s.Choices.Validation != 0.2 {
					t.Errorf("choices record validation %v", s.Choices.Validation)
				}
				for k, task := range s.Tasks {
					checkTaskSplit(t, task, whole.Tasks[k], pixels == PixelsRaw)
				}
			})
		}
	}
}

// checkTaskSplit checks one task's validation split against the task
// without one: 10 of each class's 50 examples held out, the two parts
// disjoint and together the whole (compared example by example when the
// pixels are raw; standardised ones see other statistics).
func checkTaskSplit(t *testing.T, task, whole Task, compare bool) {
	t.Helper()
	train, val := task.Train.Set(), task.Val.Set()
	perClass := map[int]int{}
	for _, y := range val.Y {
		perClass[y]++
	}
	for _, c := range task.Classes {
		if perClass[c] != 10 {
			t.Errorf("task %d: %d validation examples of class %d, want 10 of its 50", task.ID, perClass[c], c)
		}
	}
	if train.Len()+val.Len() != whole.Train.Len() {
		t.Errorf("task %d: %d + %d examples, the task has %d", task.ID, train.Len(), val.Len(), whole.Train.Len())
	}
	if !compare {
		return
	}
	tk, vk, wk := rowKeys(train), rowKeys(val), rowKeys(whole.Train.Set())
	for k := range vk {
		if tk[k] > 0 {
			t.Fatalf("task %d: a validation example is also a training example", task.ID)
		}
		tk[k] += vk[k]
	}
	if !reflect.DeepEqual(tk, wk) {
		t.Errorf("task %d: training and validation examples are not the task's", task.ID)
	}
}

func TestValidationSplitSeeded(t *testing.T) {
	ds := validationData(t)
	held := func(seed uint64, v float64) []map[string]int {
		s, err := NewStream(ds, StreamConfig{Kind: KindSplit, Tasks: 2, Seed: seed, Validation: v})
		if err != nil {
			t.Fatal(err)
		}
		var out []map[string]int
		for _, task := range s.Tasks {
			out = append(out, rowKeys(task.Val.Set()))
		}
		return out
	}
	if !reflect.DeepEqual(held(1, 0.2), held(1, 0.2)) {
		t.Error("the same seed held out other examples")
	}
	if reflect.DeepEqual(held(1, 0.2), held(2, 0.2)) {
		t.Error("another seed held out the same examples")
	}
	// Without validation, the stream is the stream of before: nothing held out.
	s, err := NewStream(ds, StreamConfig{Kind: KindSplit, Tasks: 2, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range s.Tasks {
		if task.Val.Len() != 0 || task.Train.Len() != 100 || s.Choices.Validation != 0 {
			t.Errorf("task %d: %d validation, %d training examples without validation", task.ID, task.Val.Len(), task.Train.Len())
		}
	}
	for _, bad := range []float64{-0.1, 0.5, 1} {
		if _, err := NewStream(ds, StreamConfig{Kind: KindSplit, Tasks: 2, Validation: bad}); err == nil {
			t.Errorf("validation %v accepted", bad)
		}
	}
}
