package nn

import (
	"fmt"
	"math"
	"strings"
)

// The activations below compute their derivative from their output alone
// (ReLU: y > 0, Tanh: 1-y², Sigmoid: y(1-y)), so they never need their input
// after Forward. That is what makes InPlace safe, and it lets the tangent
// (JVP) pass reuse the backward kernels: ẏ = f'(x)·ẋ is the same product as
// dx = f'(x)·dy.
//
// Passes are split over the cores for large matrices; every element is
// computed the same way whatever the split.

// ReLU is max(0, x). The zero value is ready to use.
type ReLU struct {
	// InPlace makes Forward overwrite its input and Backward overwrite dy
	// instead of writing to buffers of the layer. Use it only when nothing
	// else reads those matrices afterwards: after a Linear it is safe
	// (Linear needs neither its output nor the gradient it receives once
	// Backward has run).
	InPlace bool
	act     activation
}

// Forward returns max(0, x).
func (r *ReLU) Forward(x Matrix, train bool) Matrix {
	return r.act.forward(x, r.InPlace, reluForward, elementwiseMin)
}

// Backward returns dy where the output was positive and 0 elsewhere (the
// subgradient at 0 is 0, as in PyTorch).
func (r *ReLU) Backward(dy Matrix) Matrix {
	return r.act.backward(dy, r.InPlace, reluBackward, elementwiseMin)
}

// Params is empty.
func (r *ReLU) Params() []*Param { return nil }

// ForwardTangent returns Forward(x) and ẏ = f'(x)·ẋ (see TangentLayer).
func (r *ReLU) ForwardTangent(x, dx Matrix, train bool) (Matrix, Matrix) {
	y := r.Forward(x, train)
	return y, r.act.tangent(dx, r.InPlace, reluBackward, elementwiseMin)
}

// Share returns a new ReLU with the same settings (see Sharer).
func (r *ReLU) Share() Layer { return &ReLU{InPlace: r.InPlace} }

// Tanh is the hyperbolic tangent. The zero value is ready to use.
type Tanh struct {
	// InPlace: see ReLU.InPlace.
	InPlace bool
	act     activation
}

// transcendentalMin is the per-goroutine minimum for tanh/sigmoid passes,
// which cost tens of nanoseconds per element.
const transcendentalMin = 1 << 12

// Forward returns tanh(x).
func (t *Tanh) Forward(x Matrix, train bool) Matrix {
	return t.act.forward(x, t.InPlace, tanhForward, transcendentalMin)
}

// Backward returns dy·(1-y²).
func (t *Tanh) Backward(dy Matrix) Matrix {
	return t.act.backward(dy, t.InPlace, tanhBackward, elementwiseMin)
}

// Params is empty.
func (t *Tanh) Params() []*Param { return nil }

// ForwardTangent returns Forward(x) and ẏ = f'(x)·ẋ (see TangentLayer).
func (t *Tanh) ForwardTangent(x, dx Matrix, train bool) (Matrix, Matrix) {
	y := t.Forward(x, train)
	return y, t.act.tangent(dx, t.InPlace, tanhBackward, elementwiseMin)
}

// Share returns a new Tanh with the same settings (see Sharer).
func (t *Tanh) Share() Layer { return &Tanh{InPlace: t.InPlace} }

// Sigmoid is the logistic function 1/(1+e^-x). The zero value is ready to use.
type Sigmoid struct {
	// InPlace: see ReLU.InPlace.
	InPlace bool
	act     activation
}

// Forward returns σ(x).
func (s *Sigmoid) Forward(x Matrix, train bool) Matrix {
	return s.act.forward(x, s.InPlace, sigmoidForward, transcendentalMin)
}

// Backward returns dy·y(1-y).
func (s *Sigmoid) Backward(dy Matrix) Matrix {
	return s.act.backward(dy, s.InPlace, sigmoidBackward, elementwiseMin)
}

// Params is empty.
func (s *Sigmoid) Params() []*Param { return nil }

// ForwardTangent returns Forward(x) and ẏ = f'(x)·ẋ (see TangentLayer).
func (s *Sigmoid) ForwardTangent(x, dx Matrix, train bool) (Matrix, Matrix) {
	y := s.Forward(x, train)
	return y, s.act.tangent(dx, s.InPlace, sigmoidBackward, elementwiseMin)
}

// Share returns a new Sigmoid with the same settings (see Sharer).
func (s *Sigmoid) Share() Layer { return &Sigmoid{InPlace: s.InPlace} }

// NewActivation builds an activation layer from a settings string: "relu",
// "tanh" or "sigmoid" (case-insensitive).
func NewActivation(name string) (Layer, error) {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "relu":
		return &ReLU{}, nil
	case "tanh":
		return &Tanh{}, nil
	case "sigmoid":
		return &Sigmoid{}, nil
	}
	return nil, fmt.Errorf("nn: unknown activation %q (want relu, tanh or sigmoid)", name)
}

// activation holds the buffers shared by the element-wise layers.
type activation struct {
	y, dx, t Matrix // owned buffers (unused when in place; t: the tangent)
	out      Matrix // last output, read by backward
	k        elementwiseKernel
}

func (a *activation) forward(x Matrix, inPlace bool, f func(dst, src []float32), minChunk int) Matrix {
	y := x
	if !inPlace {
		a.y = Resize(a.y, x.Rows, x.Cols)
		y = a.y
	}
	a.k.run2(y.Data, x.Data, f, minChunk)
	a.out = y
	return y
}

func (a *activation) backward(dy Matrix, inPlace bool, g func(dst, dy, y []float32), minChunk int) Matrix {
	return a.derivative(&a.dx, dy, inPlace, g, minChunk, "Backward got")
}

// tangent returns f'(x)·v for the last Forward (empty for an empty v):
// the Jacobian is diagonal, so it is backward's product.
func (a *activation) tangent(v Matrix, inPlace bool, g func(dst, dy, y []float32), minChunk int) Matrix {
	if len(v.Data) == 0 {
		return Matrix{}
	}
	return a.derivative(&a.t, v, inPlace, g, minChunk, "input tangent is")
}

// derivative sets buf (or v, in place) to g(v, y) with y the last output.
func (a *activation) derivative(buf *Matrix, v Matrix, inPlace bool, g func(dst, dy, y []float32), minChunk int, what string) Matrix {
	if v.Rows != a.out.Rows || v.Cols != a.out.Cols {
		panic(fmt.Sprintf("nn: activation %s %d×%d after a Forward of %d×%d",
			what, v.Rows, v.Cols, a.out.Rows, a.out.Cols))
	}
	dst := v
	if !inPlace {
		*buf = Resize(*buf, v.Rows, v.Cols)
		dst = *buf
	}
	a.k.run3(dst.Data, v.Data, a.out.Data, g, minChunk)
	return dst
}

// elementwiseKernel runs an element-wise function over slices, split over
// the cores when they are long. A layer keeps one, so that a split
// allocates nothing.
type elementwiseKernel struct {
	f2      func(dst, src []float32)
	f3      func(dst, a, b []float32)
	dst, a  []float32
	b       []float32
	threeOp bool
}

// run2 runs f(dst[lo:hi], src[lo:hi]) over the slices.
func (k *elementwiseKernel) run2(dst, src []float32, f func(dst, src []float32), minChunk int) {
	n := len(src)
	if !splits(n, minChunk) {
		f(dst[:n], src)
		return
	}
	k.f2, k.dst, k.a, k.threeOp = f, dst[:n], src, false
	ParallelRange(n, minChunk, k)
	k.f2, k.dst, k.a = nil, nil, nil
}

// run3 runs g(dst[lo:hi], a[lo:hi], b[lo:hi]) over the slices.
func (k *elementwiseKernel) run3(dst, a, b []float32, g func(dst, a, b []float32), minChunk int) {
	n := len(a)
	if !splits(n, minChunk) {
		g(dst[:n], a, b[:n])
		return
	}
	k.f3, k.dst, k.a, k.b, k.threeOp = g, dst[:n], a, b[:n], true
	ParallelRange(n, minChunk, k)
	k.f3, k.dst, k.a, k.b = nil, nil, nil, nil
}

// Range runs the function over [lo, hi).
func (k *elementwiseKernel) Range(lo, hi int) {
	if k.threeOp {
		k.f3(k.dst[lo:hi], k.a[lo:hi], k.b[lo:hi])
		return
	}
	k.f2(k.dst[lo:hi], k.a[lo:hi])
}

// The kernels below may be called with dst aliasing their inputs.

// The ReLU kernels work on the bits: a data-dependent branch on the sign
// mispredicts about half the time on real activations.

func reluForward(dst, src []float32) {
	dst = dst[:len(src)]
	j := 0
	if vecLevel == vecAVX512 && len(src) >= 16 {
		j = len(src) &^ 15
		reluAVX512(&dst[0], &src[0], j)
	}
	for i := j; i < len(src); i++ {
		b := math.Float32bits(src[i])
		// Negative values (and -0) have the sign bit set: mask them to +0.
		dst[i] = math.Float32frombits(b &^ uint32(int32(b)>>31))
	}
}

// reluBackward passes dy where y > 0 (see reluMaskScale, whose mask is all
// ones exactly when y > 0: with yb the bits of y as an int32, -yb is
// negative only for yb > 0 or yb = MinInt32 (-0), and ^yb only for yb ≥ 0).
func reluBackward(dst, dy, y []float32) { reluMaskScale(dst, dy, y, 1) }

func tanhForward(dst, src []float32) {
	dst = dst[:len(src)]
	for i, v := range src {
		dst[i] = tanh32(v)
	}
}

// tanh32 is tanh rounded to float32. 1-2/(e^2x+1) in float64 is three times
// faster than math.Tanh and rounds to the same float32 except near 0, where
// the subtraction cancels; there the odd Taylor series to x⁵ is exact to
// float64 rounding.
func tanh32(v float32) float32 {
	x := float64(v)
	if math.Abs(x) < 1.0/64 {
		x2 := x * x
		return float32(x * (1 - x2*(1.0/3-x2*(2.0/15))))
	}
	// For x → ±∞ the exponential saturates to +Inf or 0: exactly ±1.
	return float32(1 - 2/(math.Exp(2*x)+1))
}

func tanhBackward(dst, dy, y []float32) {
	dst, y = dst[:len(dy)], y[:len(dy)]
	for i, g := range dy {
		dst[i] = g * (1 - y[i]*y[i])
	}
}

func sigmoidForward(dst, src []float32) {
	dst = dst[:len(src)]
	for i, v := range src {
		// For v → -∞, Exp overflows to +Inf and the result is exactly 0.
		dst[i] = float32(1 / (1 + math.Exp(-float64(v))))
	}
}

func sigmoidBackward(dst, dy, y []float32) {
	dst, y = dst[:len(dy)], y[:len(dy)]
	for i, g := range dy {
		dst[i] = g * y[i] * (1 - y[i])
	}
}
