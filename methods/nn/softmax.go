package nn

import "fmt"

// Softmax is a row-wise softmax layer, for networks whose output is a
// probability vector used by something other than cross-entropy (SoftmaxMix
// is a masked softmax followed by a mix of rows). With cross-entropy, use
// SoftmaxCrossEntropy on the logits instead: it is cheaper and more stable.
// The zero value is ready to use.
type Softmax struct {
	out, dx, t Matrix // t: the tangent
	jvp        softmaxJVPPass
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
// (softmaxJVP) is also the tangent rule of ForwardTangent.
func (s *Softmax) Backward(dy Matrix) Matrix {
	if dy.Rows != s.out.Rows || dy.Cols != s.out.Cols {
		panic(fmt.Sprintf("nn.Softmax: output gradient is %d×%d, want %d×%d", dy.Rows, dy.Cols, s.out.Rows, s.out.Cols))
	}
	s.dx = Resize(s.dx, dy.Rows, dy.Cols)
	s.jvp.run(s.dx, s.out, dy)
	return s.dx
}

// ForwardTangent returns Forward(x) and ẏ = y ⊙ (ẋ − rowsum(ẋ ⊙ y)) (see
// TangentLayer).
func (s *Softmax) ForwardTangent(x, dx Matrix, train bool) (Matrix, Matrix) {
	y := s.Forward(x, train)
	if !hasTangent("Softmax", x, dx) {
		return y, Matrix{}
	}
	s.t = Resize(s.t, dx.Rows, dx.Cols)
	s.jvp.run(s.t, y, dx)
	return y, s.t
}

// Share returns a new Softmax (see Sharer).
func (s *Softmax) Share() Layer { return &Softmax{} }

// softmaxJVPPass multiplies rows by the softmax Jacobian, split over the
// cores; a layer keeps one, so that a split allocates nothing.
type softmaxJVPPass struct{ dst, y, v Matrix }

// run sets every row of dst to the product of the softmax Jacobian at the
// row of y with the row of v (see softmaxJVP).
func (k *softmaxJVPPass) run(dst, y, v Matrix) {
	k.dst, k.y, k.v = dst, y, v
	ParallelRange(dst.Rows, max(1, elementwiseMin/max(1, dst.Cols)), k)
	k.dst, k.y, k.v = Matrix{}, Matrix{}, Matrix{}
}

func (k *softmaxJVPPass) Range(lo, hi int) {
	for i := lo; i < hi; i++ {
		softmaxJVP(k.dst.Row(i), k.y.Row(i), k.v.Row(i))
	}
}

// softmaxJVP sets dst = y ⊙ (v − ⟨v, y⟩) for one row: the product of the
// softmax Jacobian at output y with v (either side: it is symmetric).
// Entries with y = 0 (masked outputs) get 0.
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
