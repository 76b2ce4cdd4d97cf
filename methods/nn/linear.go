package nn

import (
	"fmt"
	"sync"

	"gonum.org/v1/gonum/blas"
)

// Linear is a fully connected layer y = x·W + b. W is stored in×out
// row-major, so the forward product needs no transpose and a row of W holds
// one input's fan-out.
//
// Forward keeps a reference to its input (it does not copy it) for the weight
// gradient: the caller must not overwrite x between Forward and Backward.
// Output and input-gradient buffers are reused across calls and grow to the
// largest batch seen, so steady-state steps allocate nothing of their own.
type Linear struct {
	In, Out int    // input and output widths
	W       *Param // in×out
	B       *Param // out
	// NoInputGrad skips dx = dy·Wᵀ in Backward, which then returns an empty
	// Matrix. Set it on a network's first layer: nothing consumes the
	// gradient with respect to the data, and that GEMM is a third of the
	// layer's backward work.
	NoInputGrad bool

	params   []*Param
	x        Matrix // last Forward input (aliased)
	y, dx, t Matrix // owned buffers (t: the tangent)
}

// NewLinear returns an in→out layer with weights and bias initialised by
// init with fan_in = in and fan_out = out. The weights are drawn before the
// bias, from rng.
func NewLinear(in, out int, init Init, rng *RNG) *Linear {
	if in <= 0 || out <= 0 {
		panic(fmt.Sprintf("nn: NewLinear(%d, %d): sizes must be positive", in, out))
	}
	l := &Linear{
		In:  in,
		Out: out,
		W:   NewParam("weight", false, in, out),
		B:   NewParam("bias", true, out),
	}
	l.params = []*Param{l.W, l.B}
	init.FillWeights(l.W.Value, in, out, rng)
	init.FillBias(l.B.Value, in, rng)
	return l
}

// Weights views W as an in×out Matrix aliasing the parameter.
func (l *Linear) Weights() Matrix { return Matrix{Rows: l.In, Cols: l.Out, Data: l.W.Value} }

// Params returns W then B.
func (l *Linear) Params() []*Param { return l.params }

// Forward computes x·W + b into the layer's output buffer.
func (l *Linear) Forward(x Matrix, train bool) Matrix {
	if x.Cols != l.In {
		panic(fmt.Sprintf("nn: Linear %d→%d: input has %d columns", l.In, l.Out, x.Cols))
	}
	l.x = x
	l.y = Resize(l.y, x.Rows, l.Out)
	affine(l.W.Products, l.y, x, l.Weights(), l.B.Value)
	return l.y
}

// Share returns a twin that uses the same W and B with buffers of its own
// (see Sharer).
func (l *Linear) Share() Layer {
	return &Linear{In: l.In, Out: l.Out, W: l.W, B: l.B, NoInputGrad: l.NoInputGrad, params: l.params}
}

// ForwardTangent returns Forward(x) and ẏ = ẋ·W + x·Ẇ + ḃ (see
// TangentLayer), one GEMM per non-zero term of the input and weight
// tangents.
func (l *Linear) ForwardTangent(x, dx Matrix, train bool) (Matrix, Matrix) {
	y := l.Forward(x, train)
	hasX, wt, bt := affineTangents("Linear", x, dx, l.W, l.B)
	if !hasX && wt == nil && bt == nil {
		return y, Matrix{}
	}
	l.t = Resize(l.t, x.Rows, l.Out)
	if x.Rows == 0 {
		return y, l.t
	}
	wDot := Matrix{Rows: l.In, Cols: l.Out, Data: wt}
	switch {
	case hasX:
		affine(l.W.Products, l.t, dx, l.Weights(), bt)
		if wt != nil {
			matmul(l.W.Products, blas.NoTrans, blas.NoTrans, 1, x.General(), wDot.General(), 1, l.t.General())
		}
	case wt != nil:
		affine(l.W.Products, l.t, x, wDot, bt)
	default:
		clear(l.t.Data)
		addRowVector(l.t, bt)
	}
	return y, l.t
}

// Backward adds xᵀ·dy to W.Grad and the column sums of dy to B.Grad, and
// returns dy·Wᵀ (or an empty Matrix when NoInputGrad is set).
func (l *Linear) Backward(dy Matrix) Matrix {
	if dy.Rows != l.x.Rows || dy.Cols != l.Out {
		panic(fmt.Sprintf("nn: Linear %d→%d: Backward got %d×%d after a Forward of %d rows",
			l.In, l.Out, dy.Rows, dy.Cols, l.x.Rows))
	}
	if dy.Rows == 0 {
		l.dx = Resize(l.dx, 0, l.In)
		return l.dx
	}
	dW := Matrix{Rows: l.In, Cols: l.Out, Data: l.W.Grad}
	matmul(l.W.Products, blas.Trans, blas.NoTrans, 1, l.x.General(), dy.General(), 1, dW.General())
	addColumnSums(l.B.Grad, dy)
	if l.NoInputGrad {
		return Matrix{}
	}
	l.dx = Resize(l.dx, dy.Rows, l.In)
	matmul(l.W.Products, blas.NoTrans, blas.Trans, 1, dy.General(), l.Weights().General(), 0, l.dx.General())
	return l.dx
}

// affine computes y = x·w + b (b broadcast over rows; nil b means no bias),
// the product in precision p.
// It is the whole of Linear's forward math, which the tangent pass reuses:
// ẏ = affine(ẋ, W, ḃ) + x·Ẇ.
func affine(p Precision, y, x, w Matrix, b []float32) {
	if y.Rows == 0 {
		return
	}
	matmul(p, blas.NoTrans, blas.NoTrans, 1, x.General(), w.General(), 0, y.General())
	if b != nil {
		addRowVector(y, b)
	}
}

// addRowVector adds b to every row of y, split over rows for large matrices.
func addRowVector(y Matrix, b []float32) {
	minRows := max(1, elementwiseMin/max(y.Cols, 1))
	if !splits(y.Rows, minRows) {
		addRowVectorRange(y, b, 0, y.Rows)
		return
	}
	k := rowVectorKernels.Get().(*rowVectorKernel)
	k.y, k.b = y, b
	ParallelRange(y.Rows, minRows, k)
	k.y, k.b = Matrix{}, nil
	rowVectorKernels.Put(k)
}

// rowVectorKernel is addRowVector's parallel pass; kernels are pooled so
// that a split allocates nothing.
type rowVectorKernel struct {
	y Matrix
	b []float32
}

var rowVectorKernels = sync.Pool{New: func() any { return new(rowVectorKernel) }}

func (k *rowVectorKernel) Range(lo, hi int) { addRowVectorRange(k.y, k.b, lo, hi) }

func addRowVectorRange(y Matrix, b []float32, lo, hi int) {
	b = b[:y.Cols]
	for i := lo; i < hi; i++ {
		addTo(y.Data[i*y.Cols:(i+1)*y.Cols], b)
	}
}

// addColumnSums adds the column sums of m into dst. Large matrices are split
// by columns, so every sum is accumulated in row order whatever the number of
// goroutines: the result does not depend on GOMAXPROCS.
func addColumnSums(dst []float32, m Matrix) {
	minCols := max(1, elementwiseMin/max(m.Rows, 1))
	if !splits(m.Cols, minCols) {
		addColumnSumsRange(dst, m, 0, m.Cols)
		return
	}
	k := columnSumsKernels.Get().(*columnSumsKernel)
	k.dst, k.m = dst, m
	ParallelRange(m.Cols, minCols, k)
	k.dst, k.m = nil, Matrix{}
	columnSumsKernels.Put(k)
}

// columnSumsKernel is addColumnSums' parallel pass, pooled like
// rowVectorKernel.
type columnSumsKernel struct {
	dst []float32
	m   Matrix
}

var columnSumsKernels = sync.Pool{New: func() any { return new(columnSumsKernel) }}

func (k *columnSumsKernel) Range(lo, hi int) { addColumnSumsRange(k.dst, k.m, lo, hi) }

func addColumnSumsRange(dst []float32, m Matrix, lo, hi int) {
	d := dst[lo:hi]
	for i := 0; i < m.Rows; i++ {
		addTo(d, m.Data[i*m.Cols+lo:i*m.Cols+hi])
	}
}
