package nn

import (
	"fmt"
	"math"
)

// LayerNorm normalises every example (row) over its features, with a
// learnable per-feature scale and shift (PyTorch's LayerNorm over the last
// dimension):
//
//	y = γ ⊙ (x − μ)/√(σ² + ε) + β,
//
// with μ and σ² the mean and the biased variance of the row. It needs no
// batch statistics: training and evaluation compute the same function, and
// a batch of one example is fine. (Ren et al.'s local forward-gradient
// networks put one before and after every linear layer.)
//
// Rows are split over the cores for large matrices; every row is computed
// the same way whatever the split.
type LayerNorm struct {
	// Features is the number of columns of a row.
	Features int
	// Eps is added to the variance before the square root (default 1e-5).
	Eps float32
	// Gamma (init 1) and Beta (init 0) are the learnable scale and shift,
	// excluded from weight decay.
	Gamma, Beta *Param

	invStd       []float32 // per row of the last Forward
	xhat         Matrix
	out, dx, t   Matrix    // owned buffers (t: the tangent)
	sum, sumXhat []float64 // per-feature sums of Backward
	ones         []float32
	src, dst     Matrix // the row pass's input and output
	pass         layerNormPass
}

// NewLayerNorm returns a layer normalisation over the given number of
// features with PyTorch's defaults (eps 1e-5, γ = 1, β = 0).
func NewLayerNorm(features int) *LayerNorm {
	if features < 1 {
		panic(fmt.Sprintf("nn.NewLayerNorm: %d features", features))
	}
	l := newLayerNorm(features, NewParam("weight", true, features), NewParam("bias", true, features))
	l.Eps = 1e-5
	for i := range l.Gamma.Value {
		l.Gamma.Value[i] = 1
	}
	return l
}

// newLayerNorm returns the layer with the given parameters and buffers of
// its own.
func newLayerNorm(features int, gamma, beta *Param) *LayerNorm {
	l := &LayerNorm{Features: features, Gamma: gamma, Beta: beta,
		sum: make([]float64, features), sumXhat: make([]float64, features),
		ones: make([]float32, features)}
	for i := range l.ones {
		l.ones[i] = 1
	}
	l.pass.l = l
	return l
}

// Params returns γ then β.
func (l *LayerNorm) Params() []*Param { return []*Param{l.Gamma, l.Beta} }

// Share returns a twin that uses the same γ and β with buffers of its own
// (see Sharer).
func (l *LayerNorm) Share() Layer {
	t := newLayerNorm(l.Features, l.Gamma, l.Beta)
	t.Eps = l.Eps
	return t
}

// layerNormPass is one of the layer's row passes, as a Ranger.
type layerNormPass struct {
	l    *LayerNorm
	kind int
}

// The kinds of layerNormPass: Forward, then the input Jacobian applied to
// src for Backward (pre-scaled by γ) and for the tangent (post-scaled).
const (
	lnForward = iota
	lnBackward
	lnTangent
)

func (p *layerNormPass) Range(lo, hi int) {
	l := p.l
	for i := lo; i < hi; i++ {
		switch p.kind {
		case lnForward:
			l.invStd[i] = layerNormRow(l.out.Row(i), l.xhat.Row(i), l.src.Row(i), l.Gamma.Value, l.Beta.Value, l.Eps)
		case lnBackward:
			layerNormJVPRow(l.dst.Row(i), l.src.Row(i), l.xhat.Row(i), l.Gamma.Value, l.ones, l.invStd[i])
		default:
			layerNormJVPRow(l.dst.Row(i), l.src.Row(i), l.xhat.Row(i), l.ones, l.Gamma.Value, l.invStd[i])
		}
	}
}

// run runs a pass of the given kind over the rows of src into dst.
func (l *LayerNorm) run(kind int, dst, src Matrix) {
	l.pass.kind = kind
	l.src, l.dst = src, dst
	ParallelRange(src.Rows, max(1, elementwiseMin/max(1, src.Cols)), &l.pass)
	l.src, l.dst = Matrix{}, Matrix{}
}

// Forward normalises every row of x.
func (l *LayerNorm) Forward(x Matrix, train bool) Matrix {
	if x.Cols != l.Features {
		panic(fmt.Sprintf("nn.LayerNorm: input has %d columns, want %d", x.Cols, l.Features))
	}
	if cap(l.invStd) < x.Rows {
		l.invStd = make([]float32, x.Rows)
	}
	l.invStd = l.invStd[:x.Rows]
	l.xhat = Resize(l.xhat, x.Rows, x.Cols)
	l.out = Resize(l.out, x.Rows, x.Cols)
	l.run(lnForward, l.out, x)
	return l.out
}

// Backward adds dγ = Σ dy·x̂ and dβ = Σ dy (over rows) into the gradients
// and returns, row by row with g = γ ⊙ dy,
//
//	dx = (g − mean(g) − x̂·mean(g·x̂))/σ.
func (l *LayerNorm) Backward(dy Matrix) Matrix {
	if dy.Rows != l.xhat.Rows || dy.Cols != l.Features {
		panic(fmt.Sprintf("nn.LayerNorm: output gradient is %d×%d, want %d×%d", dy.Rows, dy.Cols, l.xhat.Rows, l.Features))
	}
	clear(l.sum)
	clear(l.sumXhat)
	for i := 0; i < dy.Rows; i++ {
		bnGradSums(l.sum, l.sumXhat, dy.Row(i), l.xhat.Row(i))
	}
	for j := range l.Features {
		l.Beta.Grad[j] += float32(l.sum[j])
		l.Gamma.Grad[j] += float32(l.sumXhat[j])
	}
	l.dx = Resize(l.dx, dy.Rows, dy.Cols)
	l.run(lnBackward, l.dx, dy)
	return l.dx
}

// ForwardTangent returns Forward(x) and, row by row,
//
//	ẏ = γ ⊙ (ẋ − mean(ẋ) − x̂·mean(ẋ·x̂))/σ + γ̇ ⊙ x̂ + β̇
//
// (see TangentLayer).
func (l *LayerNorm) ForwardTangent(x, dx Matrix, train bool) (Matrix, Matrix) {
	y := l.Forward(x, train)
	return y, normTangent(&l.t, "LayerNorm", x, dx, l.xhat, l.Gamma, l.Beta, l.tangentJVP)
}

// tangentJVP sets dst to the input tangent's term of the tangent for v.
func (l *LayerNorm) tangentJVP(dst, v Matrix) { l.run(lnTangent, dst, v) }

// layerNormRow normalises one row: xhat = (x − μ)·s and y = γ·xhat + β,
// with the mean and variance accumulated in float64; it returns s =
// 1/√(σ² + eps).
func layerNormRow(y, xhat, x, gamma, beta []float32, eps float32) float32 {
	y, xhat = y[:len(x)], xhat[:len(x)]
	gamma, beta = gamma[:len(x)], beta[:len(x)]
	n := float64(len(x))
	sum := 0.0
	for _, v := range x {
		sum += float64(v)
	}
	mean := sum / n
	ss := 0.0
	for _, v := range x {
		d := float64(v) - mean
		ss += d * d
	}
	s := float32(1 / math.Sqrt(ss/n+float64(eps)))
	m := float32(mean)
	for j, v := range x {
		h := float32(v-m) * s
		xhat[j] = h
		y[j] = float32(gamma[j]*h) + beta[j]
	}
	return s
}

// layerNormJVPRow sets d = post ⊙ (u − mean(u) − x̂·mean(u·x̂))·s with
// u = pre ⊙ g: the input Jacobian of one row's normalisation, s·(I − 11ᵀ/n
// − x̂x̂ᵀ/n), which is symmetric, applied to pre ⊙ g. Backward takes pre =
// γ (and post = 1), the tangent post = γ.
func layerNormJVPRow(d, g, xhat, pre, post []float32, s float32) {
	d, xhat = d[:len(g)], xhat[:len(g)]
	pre, post = pre[:len(g)], post[:len(g)]
	var a, b float64
	for j, v := range g {
		u := float64(pre[j] * v)
		a += u
		b += u * float64(xhat[j])
	}
	n := float64(len(g))
	ma, mb := float32(a/n), float32(b/n)
	for j, v := range g {
		u := pre[j] * v
		d[j] = post[j] * (s * (float32(u-ma) - float32(xhat[j]*mb)))
	}
}
