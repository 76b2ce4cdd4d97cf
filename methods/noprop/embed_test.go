package noprop

import (
	"math"
	"testing"

	"github.com/noprop/noprop/methods/nn"
	"github.com/noprop/noprop/tasks"
)

func TestOneHot(t *testing.T) {
	e := NewOneHot(3)
	if e.Learned() || e.D != 3 {
		t.Fatalf("one-hot: learned %v, d %d", e.Learned(), e.D)
	}
	for i := range 3 {
		for j := range 3 {
			want := float32(0)
			if i == j {
				want = 1
			}
			if e.Row(i)[j] != want {
				t.Errorf("W[%d][%d] = %g", i, j, e.Row(i)[j])
			}
		}
	}
}

func TestLearnedEmbeddingInit(t *testing.T) {
	// m ≤ d: orthonormal rows.
	for _, md := range [][2]int{{10, 20}, {20, 20}} {
		e := NewLearnedEmbedding(md[0], md[1], nn.NewRNG(1))
		for i := range e.M {
			for j := range e.M {
				dot := 0.0
				for k := range e.D {
					dot += float64(e.Row(i)[k]) * float64(e.Row(j)[k])
				}
				want := 0.0
				if i == j {
					want = 1
				}
				if math.Abs(dot-want) > 1e-5 {
					t.Errorf("m=%d d=%d: u_%d·u_%d = %g, want %g", e.M, e.D, i, j, dot, want)
				}
			}
		}
	}
	// m > d: N(0, 1/d), so the mean squared row norm is about 1.
	e := NewLearnedEmbedding(100, 20, nn.NewRNG(1))
	s := 0.0
	for i := range e.M {
		s += sumSq(e.Row(i))
	}
	if mean := s / float64(e.M); math.Abs(mean-1) > 0.15 {
		t.Errorf("m > d: mean ‖u‖² = %g, want ≈ 1", mean)
	}
	if !e.Learned() || e.W.NoDecay {
		t.Error("a learned embedding must be trained (and decayed like the other weights)")
	}
}

// TestPrototypeEmbedding builds a toy set where, per class, one image sits
// in the middle of the others: it must be the prototype. A far outlier must
// not be chosen, and the subset limit must still find a central image.
func TestPrototypeEmbedding(t *testing.T) {
	shape := tasks.Shape{C: 1, H: 1, W: 2}
	// Class 0: a centre (0, 0), four points at distance 1 around it and an
	// outlier at (100, 0): the centre's median distance is 1, each
	// neighbour's √2. Class 1: the same cross around (10, 10), no outlier.
	pts := [][2]float32{{1, 0}, {0, 1}, {100, 0}, {0, 0}, {-1, 0}, {0, -1},
		{11, 10}, {10, 11}, {9, 10}, {10, 10}, {10, 9}}
	ys := []int{0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1}
	set := tasks.Set{Shape: shape, Y: ys}
	for _, p := range pts {
		set.X = append(set.X, p[0], p[1])
	}
	proto := func(m, subset int, seed uint64, active []int) (*Embedding, error) {
		e := NewPrototypeEmbedding(m, 2, subset, nn.NewRNG(seed))
		return e, e.Meet(set, active)
	}
	e, err := proto(2, 256, 1, []int{0, 1})
	if err != nil {
		t.Fatal(err)
	}
	if e.D != 2 || !e.Learned() {
		t.Fatalf("d = %d, learned %v", e.D, e.Learned())
	}
	if r := e.Row(0); r[0] != 0 || r[1] != 0 {
		t.Errorf("class 0 prototype %v, want [0 0]", r)
	}
	if r := e.Row(1); r[0] != 10 || r[1] != 10 {
		t.Errorf("class 1 prototype %v, want [10 10]", r)
	}
	// Same seed, same subset, same prototypes.
	e1, _ := proto(2, 4, 5, []int{0, 1})
	e2, _ := proto(2, 4, 5, []int{0, 1})
	for i := range e1.W.Value {
		if e1.W.Value[i] != e2.W.Value[i] {
			t.Fatal("prototype subset is not deterministic")
		}
	}
	if r := e1.Row(0); r[0] == 100 {
		t.Errorf("outlier chosen as prototype: %v", r)
	}
	// A class that becomes active without examples is an error.
	if _, err := proto(3, 256, 1, []int{2}); err == nil {
		t.Error("class 2 without examples accepted")
	}
}

// TestPrototypeMeetsClassesTaskByTask: a class's row stays zero until the
// class becomes active, is then set from the images at hand, and is never
// reset by a later task (whose images of it are different).
func TestPrototypeMeetsClassesTaskByTask(t *testing.T) {
	shape := tasks.Shape{C: 1, H: 1, W: 2}
	task1 := tasks.Set{Shape: shape, X: []float32{1, 1, 1, 2, 2, 2}, Y: []int{0, 0, 1}}
	task2 := tasks.Set{Shape: shape, X: []float32{7, 7, 8, 8, 9, 9}, Y: []int{0, 1, 1}}
	e := NewPrototypeEmbedding(3, 2, 256, nn.NewRNG(1))
	if err := e.Meet(task1, []int{0}); err != nil {
		t.Fatal(err)
	}
	if r := e.Row(0); r[0] != 1 || r[1] != 1 {
		t.Errorf("class 0 after task 1: %v, want [1 1]", r)
	}
	if r := e.Row(1); r[0] != 0 || r[1] != 0 {
		t.Errorf("class 1 before it is active: %v, want zeros", r)
	}
	if err := e.Meet(task2, []int{0, 1}); err != nil {
		t.Fatal(err)
	}
	if r := e.Row(0); r[0] != 1 {
		t.Errorf("class 0 was reset by task 2: %v", r)
	}
	if r := e.Row(1); r[0] != 8 && r[0] != 9 {
		t.Errorf("class 1 from task 2: %v, want one of its images", r)
	}
	if r := e.Row(2); r[0] != 0 {
		t.Errorf("class 2, never active: %v", r)
	}
}
