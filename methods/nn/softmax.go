package nn

import "fmt"

// Softmax is a row-wise softmax layer, for networks whose output is a
// probability vector used by something other than cross-entropy (NoProp's
// blocks output softmax(logits)·W_Embed). With cross-entropy, use
// SoftmaxCrossEntropy on the logits instead: it is cheaper and more stable.
// The zero value is ready to use.
type Softmax struct {
	out, dx Matrix
	dy      Matrix

	bwdFn func(lo, hi int)
}

// Params returns nothing: softmax has no parameters.
func (s *Softmax) Params() []*Param { return nil }

// Forward returns softmax(x) row by row (see SoftmaxRows).
func (s *Softmax) Forward(x Matrix, train bool) Matrix {
	s.out = Resize(s.out, x.Rows, x.Cols)
	SoftmaxRows(s.out, x)
	return s.out
}

// Backward returns the vector-Jacobian product y ⊙ (dy − rowsum(dy ⊙ y)).
// The softmax Jacobian diag(y) − y·yᵀ is symmetric, so the same function
// (softmaxJVP) is also the tangent rule of a forward-mode pass.
func (s *Softmax) Backward(dy Matrix) Matrix {
	if dy.Rows != s.out.Rows || dy.Cols != s.out.Cols {
		panic(fmt.Sprintf("nn.Softmax: output gradient is %d×%d, want %d×%d", dy.Rows, dy.Cols, s.out.Rows, s.out.Cols))
	}
	if s.bwdFn == nil {
		s.bwdFn = s.bwdRange
	}
	s.dy = dy
	s.dx = Resize(s.dx, dy.Rows, dy.Cols)
	ParallelFor(dy.Rows, max(1, elementwiseMin/max(1, dy.Cols)), s.bwdFn)
	return s.dx
}

func (s *Softmax) bwdRange(lo, hi int) {
	for i := lo; i < hi; i++ {
		softmaxJVP(s.dx.Row(i), s.out.Row(i), s.dy.Row(i))
	}
}

// softmaxJVP sets dst = y ⊙ (v − ⟨v, y⟩) for one row: the product of the
// softmax Jacobian at output y with v (either side: it is symmetric).
func softmaxJVP(dst, y, v []float32) {
	y, v = y[:len(dst)], v[:len(dst)]
	var dot float64
	for i, yi := range y {
		dot += float64(yi) * float64(v[i])
	}
	d := float32(dot)
	for i, yi := range y {
		dst[i] = yi * (v[i] - d)
	}
}
