package tasks

import (
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
)

// countingSet is a set whose every value is different and none is 0, so
// that a value shows where it came from and padding shows as 0.
func countingSet(n int, shape Shape, classes int) Set {
	s := Set{X: make([]float32, n*shape.Size()), Y: make([]int, n), Shape: shape}
	for i := range s.X {
		s.X[i] = float32(i + 1)
	}
	for i := range s.Y {
		s.Y[i] = i % classes
	}
	return s
}

func countingDataset(train, test int, shape Shape) Dataset {
	return Dataset{Name: "counting", NumClasses: 3, Train: countingSet(train, shape, 3), Test: countingSet(test, shape, 3)}
}

// directPermutation is task k's example made the obvious way from the
// recorded seed: for plain, out[i] = in[perm[i]] over the C·H·W values; for
// padded, each channel centred on a 32×32 canvas of zeros, then out[i] =
// canvas[perm[i]] with one permutation for every channel.
func directPermutation(in []float32, shape Shape, construction string, seed int64) []float32 {
	r := rand.New(rand.NewPCG(uint64(seed), 0))
	if construction == PermutedPlain {
		perm := r.Perm(shape.Size())
		out := make([]float32, len(perm))
		for i, p := range perm {
			out[i] = in[p]
		}
		return out
	}
	side := 32
	perm := r.Perm(side * side)
	var out []float32
	for c := range shape.C {
		canvas := make([]float32, side*side)
		top, left := (side-shape.H)/2, (side-shape.W)/2
		for y := range shape.H {
			for x := range shape.W {
				canvas[(y+top)*side+x+left] = in[c*shape.H*shape.W+y*shape.W+x]
			}
		}
		for _, p := range perm {
			out = append(out, canvas[p])
		}
	}
	return out
}

func TestPermutedTasksAreTheDatasetPermuted(t *testing.T) {
	ds := countingDataset(7, 4, Shape{C: 2, H: 3, W: 5})
	tests := []struct {
		name, construction, want string
		shape                    Shape
	}{
		{"empty is plain", "", PermutedPlain, Shape{2, 3, 5}},
		{"plain", PermutedPlain, PermutedPlain, Shape{2, 3, 5}},
		{"padded", PermutedPadded, PermutedPadded, Shape{2, 32, 32}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := NewStream(ds, StreamConfig{Kind: KindPermuted, Tasks: 3, Seed: 5, Permuted: tc.construction})
			if err != nil {
				t.Fatal(err)
			}
			if s.Choices.Permuted != tc.want || s.Shape != tc.shape || len(s.Choices.Permutation) != 3 {
				t.Fatalf("choices %+v, shape %v; want %s, %v, 3 seeds", s.Choices, s.Shape, tc.want, tc.shape)
			}
			for k, task := range s.Tasks {
				if task.Train.Shape() != tc.shape || task.Test.Shape() != tc.shape || task.Train.Len() != 7 || task.Test.Len() != 4 {
					t.Fatalf("task %d: shapes %v %v, %d and %d examples", k+1, task.Train.Shape(), task.Test.Shape(), task.Train.Len(), task.Test.Len())
				}
				for _, c := range []struct {
					got  Examples
					base Set
				}{{task.Train, ds.Train}, {task.Test, ds.Test}} {
					set, part := c.got.Set(), c.got.Rows(1, 3)
					for r := range c.base.Len() {
						want := directPermutation(c.base.Row(r), ds.Train.Shape, tc.want, s.Choices.Permutation[k])
						if !slices.Equal(set.Row(r), want) {
							t.Fatalf("task %d row %d:\n%v\nwant\n%v", k+1, r, set.Row(r), want)
						}
						if set.Y[r] != c.base.Y[r]+3*k {
							t.Fatalf("task %d row %d: label %d, want %d", k+1, r, set.Y[r], c.base.Y[r]+3*k)
						}
						if r >= 1 && r < 3 && (!slices.Equal(part.Row(r-1), want) || part.Y[r-1] != set.Y[r]) {
							t.Fatalf("task %d: Rows(1, 3) row %d differs from Set's", k+1, r)
						}
					}
				}
			}
			if slices.Equal(s.Tasks[0].Train.Set().Row(0), s.Tasks[1].Train.Set().Row(0)) {
				t.Error("two tasks share a permutation")
			}
		})
	}
	if ds.Train.X[0] != 1 || ds.Train.Y[1] != 1 {
		t.Error("the stream changed the dataset")
	}
}

// TestPaddedIsVanDeVenMNIST: 28×28 images become 1024 inputs, which, put
// back in place by the task's permutation, are the image with 2 zero pixels
// on every side.
func TestPaddedIsVanDeVenMNIST(t *testing.T) {
	ds := countingDataset(3, 2, Shape{C: 1, H: 28, W: 28})
	s, err := NewStream(ds, StreamConfig{Kind: KindPermuted, Tasks: 2, Seed: 1, Permuted: PermutedPadded})
	if err != nil {
		t.Fatal(err)
	}
	if s.Shape != (Shape{1, 32, 32}) || s.Shape.Size() != 1024 {
		t.Fatalf("shape %v, want 1x32x32", s.Shape)
	}
	for k, task := range s.Tasks {
		set := task.Train.Set()
		perm := rand.New(rand.NewPCG(uint64(s.Choices.Permutation[k]), 0)).Perm(1024)
		for r := range set.Len() {
			canvas := make([]float32, 1024)
			for i, p := range perm {
				canvas[p] = set.Row(r)[i]
			}
			for y := range 32 {
				for x := range 32 {
					v := canvas[y*32+x]
					border := y < 2 || y >= 30 || x < 2 || x >= 30
					if border && v != 0 {
						t.Fatalf("task %d row %d: border pixel (%d, %d) = %v", k+1, r, y, x, v)
					}
					if !border && v != ds.Train.Row(r)[(y-2)*28+x-2] {
						t.Fatalf("task %d row %d: pixel (%d, %d) = %v, want the image's", k+1, r, y, x, v)
					}
				}
			}
		}
	}
}

// TestPermutationSeedsAsBefore: the seeds, drawn from the stream's seed as
// they always were, are recorded; these are the seeds runs stored before
// the padded construction recorded for seed 1.
func TestPermutationSeedsAsBefore(t *testing.T) {
	ds := countingDataset(3, 2, Shape{1, 2, 2})
	want := []int64{3799856315268873929, 7169860068258984967, 8834259785758004694}
	for _, c := range []string{PermutedPlain, PermutedPadded} {
		s, err := NewStream(ds, StreamConfig{Kind: KindPermuted, Tasks: 3, Seed: 1, Permuted: c})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(s.Choices.Permutation, want) || s.Choices.Seed != 1 {
			t.Errorf("%s: recorded %+v, want seeds %v", c, s.Choices, want)
		}
	}
}

// oldPermute is how permuted tasks were made before they were made on
// demand: a whole copy per task.
func oldPermute(s Set, perm []int, offset int) Set {
	d := s.Shape.Size()
	out := Set{X: make([]float32, len(s.X)), Y: make([]int, len(s.Y)), Shape: s.Shape}
	for r := range s.Len() {
		for i, p := range perm {
			out.X[r*d+i] = s.X[r*d+p]
		}
		out.Y[r] = s.Y[r] + offset
	}
	return out
}

// TestPlainIsBitForBitTheOldStream: the plain construction, raw or
// standardised (the statistics too), gives the values of the old one.
func TestPlainIsBitForBitTheOldStream(t *testing.T) {
	ds, err := Synthetic(SyntheticConfig{Classes: 3, TrainPer: 40, TestPer: 10, Shape: Shape{3, 4, 5}, Noise: 0.3, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	for _, pixels := range []string{PixelsRaw, PixelsStandard} {
		s, err := NewStream(ds, StreamConfig{Kind: KindPermuted, Tasks: 3, Seed: 9, Pixels: pixels, Permuted: PermutedPlain})
		if err != nil {
			t.Fatal(err)
		}
		var old [][2]Set
		for k, ps := range s.Choices.Permutation {
			perm := rand.New(rand.NewPCG(uint64(ps), 0)).Perm(ds.Train.Shape.Size())
			old = append(old, [2]Set{oldPermute(ds.Train, perm, 3*k), oldPermute(ds.Test, perm, 3*k)})
		}
		if pixels == PixelsStandard {
			mean, std := ChannelStats(old[0][0])
			if !slices.Equal(mean, s.Choices.PixelMean) || !slices.Equal(std, s.Choices.PixelStd) {
				t.Fatalf("statistics %v %v, the old stream's %v %v", s.Choices.PixelMean, s.Choices.PixelStd, mean, std)
			}
			for k := range old {
				old[k] = [2]Set{Standardize(old[k][0], mean, std), Standardize(old[k][1], mean, std)}
			}
		}
		for k, task := range s.Tasks {
			for i, got := range []Set{task.Train.Set(), task.Test.Set()} {
				if !slices.Equal(got.X, old[k][i].X) || !slices.Equal(got.Y, old[k][i].Y) {
					t.Fatalf("%s task %d set %d differs from the old stream's", pixels, k+1, i)
				}
			}
		}
	}
}

// TestPermutedStreamHoldsNoCopyPerTask: building a 1000-task permuted
// stream allocates less than a tenth of a copy of the dataset per task
// (every task a copy, as before, would be 1000 copies), and what the stream
// keeps is each task's permutation, a few bytes per input.
func TestPermutedStreamHoldsNoCopyPerTask(t *testing.T) {
	ds, err := Synthetic(SyntheticConfig{Classes: 2, TrainPer: 100, TestPer: 20, Shape: Shape{1, 28, 28}, Noise: 0.1, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		construction, pixels string
		inputs               int
	}{
		{PermutedPlain, PixelsRaw, 784},
		{PermutedPadded, PixelsRaw, 1024},
		{PermutedPadded, PixelsStandard, 1024},
	}
	for _, tc := range tests {
		t.Run(tc.construction+"-"+tc.pixels, func(t *testing.T) {
			const tasks = 1000
			copyBytes := uint64((ds.Train.Len() + ds.Test.Len()) * tc.inputs * 4) // one task's examples
			var before, built, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			s, err := NewStream(ds, StreamConfig{Kind: KindPermuted, Tasks: tasks, Seed: 1, Permuted: tc.construction, Pixels: tc.pixels})
			if err != nil {
				t.Fatal(err)
			}
			runtime.ReadMemStats(&built)
			runtime.GC()
			runtime.ReadMemStats(&after)
			if got := built.TotalAlloc - before.TotalAlloc; got > tasks*copyBytes/10 {
				t.Errorf("building %d tasks allocated %d bytes, more than a tenth of a copy (%d bytes) per task", tasks, got, copyBytes)
			}
			if held := int64(after.HeapAlloc) - int64(before.HeapAlloc); held > int64(tasks*(8*tc.inputs+1024)) {
				t.Errorf("the stream holds %d bytes, more than %d tasks' permutations", held, tasks)
			}
			if len(s.Tasks) != tasks || s.Tasks[tasks-1].Train.Set().Y[0] != ds.Train.Y[0]+2*(tasks-1) {
				t.Fatal("the last task's labels are not offset")
			}
		})
	}
}

func TestPaddedStandardisedByItsFirstTask(t *testing.T) {
	ds := countingDataset(6, 3, Shape{1, 28, 28})
	raw, err := NewStream(ds, StreamConfig{Kind: KindPermuted, Tasks: 2, Seed: 4, Permuted: PermutedPadded})
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewStream(ds, StreamConfig{Kind: KindPermuted, Tasks: 2, Seed: 4, Permuted: PermutedPadded, Pixels: PixelsStandard})
	if err != nil {
		t.Fatal(err)
	}
	mean, std := ChannelStats(raw.Tasks[0].Train.Set()) // the zero border counts
	if !slices.Equal(s.Choices.PixelMean, mean) || !slices.Equal(s.Choices.PixelStd, std) {
		t.Fatalf("recorded %v %v, want the padded first task's %v %v", s.Choices.PixelMean, s.Choices.PixelStd, mean, std)
	}
	for k := range s.Tasks {
		for i, pair := range [][2]Examples{{s.Tasks[k].Train, raw.Tasks[k].Train}, {s.Tasks[k].Test, raw.Tasks[k].Test}} {
			if got, want := pair[0].Set(), Standardize(pair[1].Set(), mean, std); !slices.Equal(got.X, want.X) || !slices.Equal(got.Y, want.Y) {
				t.Fatalf("task %d set %d is not the raw set standardised", k+1, i)
			}
		}
	}
}

func TestPermutedConstructionIsChecked(t *testing.T) {
	ds := countingDataset(6, 3, Shape{1, 2, 2})
	for _, c := range []struct {
		cfg StreamConfig
		ok  bool
	}{
		{StreamConfig{Kind: KindPermuted, Tasks: 2, Permuted: "rotated"}, false},
		{StreamConfig{Kind: KindSplit, Tasks: 3, Permuted: "padd"}, false},
		{StreamConfig{Kind: KindSplit, Tasks: 3, Permuted: PermutedPadded}, true},
		{StreamConfig{Kind: KindJoint, Tasks: 1, Permuted: PermutedPlain}, true},
	} {
		if _, err := NewStream(ds, c.cfg); (err == nil) != c.ok {
			t.Errorf("%+v: error %v", c.cfg, err)
		}
	}
}

// TestSplitRowsCannotGrowIntoTheSharedSet: a split task's Rows is a slice
// of the set the stream holds; appending to it must not overwrite the rows
// after it.
func TestSplitRowsCannotGrowIntoTheSharedSet(t *testing.T) {
	ds := countingDataset(6, 3, Shape{1, 1, 2})
	s, err := NewStream(ds, StreamConfig{Kind: KindJoint, Tasks: 1})
	if err != nil {
		t.Fatal(err)
	}
	part := s.Tasks[0].Train.Rows(1, 2)
	_ = append(part.X, -1)
	_ = append(part.Y, -1)
	if all := s.Tasks[0].Train.Set(); all.X[4] != 5 || all.Y[2] != 2 || &all.X[0] != &ds.Train.X[0] {
		t.Errorf("set %v %v after appending to a part; the joint task must share the dataset's set", all.X, all.Y)
	}
}
