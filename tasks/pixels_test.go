package tasks

import (
	"math"
	"slices"
	"testing"
)

func TestChannelStats(t *testing.T) {
	// Two examples of 2 channels × 2 positions; channel 1 is constant.
	s := Set{X: []float32{0, 2, 5, 5, 4, 6, 5, 5}, Y: []int{0, 1}, Shape: Shape{2, 1, 2}}
	mean, std := ChannelStats(s)
	if want := []float64{3, 5}; !slices.Equal(mean, want) {
		t.Errorf("mean %v, want %v", mean, want)
	}
	// Channel 0 holds 0, 2, 4, 6: population variance 5.
	if want := []float64{math.Sqrt(5), 1}; math.Abs(std[0]-want[0]) > 1e-12 || std[1] != want[1] {
		t.Errorf("std %v, want %v (a constant channel keeps 1)", std, want)
	}
	got := Standardize(s, mean, std)
	if want := float32(-3 / math.Sqrt(5)); math.Abs(float64(got.X[0]-want)) > 1e-6 || got.X[2] != 0 {
		t.Errorf("standardised %v: want x[0] = %v and the constant channel at 0", got.X, want)
	}
	if s.X[0] != 0 {
		t.Error("Standardize changed its input")
	}
}

func TestStandardStreamUsesTheFirstTask(t *testing.T) {
	ds := testDataset(t)
	orig := slices.Clone(ds.Train.X)
	for _, kind := range []string{KindSplit, KindJoint, KindPermuted} {
		tasks := 3
		if kind == KindJoint {
			tasks = 1
		}
		raw, err := NewStream(ds, StreamConfig{Kind: kind, Tasks: tasks})
		if err != nil {
			t.Fatal(err)
		}
		s, err := NewStream(ds, StreamConfig{Kind: kind, Tasks: tasks, Pixels: PixelsStandard})
		if err != nil {
			t.Fatal(err)
		}
		mean, std := ChannelStats(raw.Tasks[0].Train.Set())
		if !slices.Equal(s.Choices.PixelMean, mean) || !slices.Equal(s.Choices.PixelStd, std) {
			t.Errorf("%s: recorded %v %v, want the first task's %v %v", kind, s.Choices.PixelMean, s.Choices.PixelStd, mean, std)
		}
		if m, sd := ChannelStats(s.Tasks[0].Train.Set()); math.Abs(m[0]) > 1e-5 || math.Abs(sd[0]-1) > 1e-5 {
			t.Errorf("%s: first task standardised to mean %v, std %v", kind, m[0], sd[0])
		}
		// Every other set is mapped by the first task's statistics, not its own.
		for k, task := range s.Tasks {
			for _, pair := range [][2]Set{{task.Train.Set(), raw.Tasks[k].Train.Set()}, {task.Test.Set(), raw.Tasks[k].Test.Set()}} {
				got, in := pair[0], pair[1]
				for i, v := range in.X {
					if want := float32((float64(v) - mean[0]) / std[0]); math.Abs(float64(got.X[i]-want)) > 1e-5 {
						t.Fatalf("%s task %d: x[%d] = %v, want %v", kind, k+1, i, got.X[i], want)
					}
				}
			}
		}
	}
	if !slices.Equal(ds.Train.X, orig) {
		t.Error("a standardised stream changed the dataset")
	}
}
