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
type Set struct {
	X     []float32
	Y     []int
	Shape Shape
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
	for k, i := range idx {
		copy(out.X[k*d:(k+1)*d], s.Row(i))
		out.Y[k] = s.Y[i]
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
