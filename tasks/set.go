package tasks

import "fmt"

// Shape is the shape of one input example: channels, height and width.
// A flat vector input has C = 1, H = 1 and W = its length.
type Shape struct {
	C, H, W int
}

// Size is the number of values in one example.
func (s Shape) Size() int { return s.C * s.H * s.W }

// String formats the shape as CxHxW.
func (s Shape) String() string { return fmt.Sprintf("%dx%dx%d", s.C, s.H, s.W) }

// Set is a labelled set of examples held in memory as float32.
//
// X holds Len() rows of Shape.Size() values each, row-major, channel-major
// within a row (C planes of H×W). Y holds one label per row.
//
// Weight and Active are what a strategy may tell a learner about each
// training example (experience replay does); a loaded dataset has neither.
type Set struct {
	X     []float32
	Y     []int
	Shape Shape
	// Weight, when not nil, is each example's weight in the training loss,
	// one per row: a minibatch's loss is (1/rows) Σ w_i·l_i, so weights of
	// mean 1 keep the step size. nil: every example weighs 1.
	Weight []float32
	// Active, when not nil, is each example's own active outputs, one list
	// per row (rows of one task share theirs): a replayed task-IL example
	// is learned under its own task's outputs. nil: every example has the
	// Learn call's.
	Active [][]int
}

// Len is the number of examples.
func (s Set) Len() int { return len(s.Y) }

// Row returns the values of example i; the slice aliases X.
func (s Set) Row(i int) []float32 {
	d := s.Shape.Size()
	return s.X[i*d : (i+1)*d]
}

// Subset returns a new Set holding copies of the rows at idx, in that order.
func (s Set) Subset(idx []int) Set {
	d := s.Shape.Size()
	out := Set{X: make([]float32, len(idx)*d), Y: make([]int, len(idx)), Shape: s.Shape}
	if s.Weight != nil {
		out.Weight = make([]float32, len(idx))
	}
	if s.Active != nil {
		out.Active = make([][]int, len(idx))
	}
	for k, i := range idx {
		copy(out.X[k*d:(k+1)*d], s.Row(i))
		out.Y[k] = s.Y[i]
		if s.Weight != nil {
			out.Weight[k] = s.Weight[i]
		}
		if s.Active != nil {
			out.Active[k] = s.Active[i]
		}
	}
	return out
}

// Dataset is a whole dataset: its train and test sets and its label space.
type Dataset struct {
	Name       string
	Train      Set
	Test       Set
	NumClasses int
	ClassNames []string
}
