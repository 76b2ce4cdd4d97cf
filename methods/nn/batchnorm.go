package nn

import (
	"fmt"
	"math"
)

// BatchNorm1D normalises every feature (column) over the batch, with
// PyTorch's BatchNorm1d semantics:
//
//   - training: y = γ·(x − μ_B)/√(σ²_B + ε) + β with the batch mean μ_B and the
//     biased batch variance σ²_B; the running statistics move by Momentum
//     towards μ_B and towards the unbiased variance σ²_B·n/(n−1);
//   - evaluation: the running statistics replace the batch ones.
//
// A training batch of one example has no variance; PyTorch raises, and so
// does this layer (it panics): normalising it would output β alone and put
// a 0/0 into the running variance. Drop the last partial batch or make sure
// it has at least two examples.
type BatchNorm1D struct {
	// Features is the number of columns normalised.
	Features int
	// Momentum is the running-statistics update rate (PyTorch's default 0.1):
	// running = (1−Momentum)·running + Momentum·batch.
	Momentum float32
	// Eps is added to the variance before the square root (default 1e-5).
	Eps float32

	// Gamma (init 1) and Beta (init 0) are the learnable scale and shift,
	// excluded from weight decay as in common practice.
	Gamma, Beta *Param
	// RunningMean (init 0) and RunningVar (init 1) are the statistics used
	// in evaluation; they are state, not parameters.
	RunningMean, RunningVar []float32

	mean, invStd []float32 // statistics applied by the last Forward
	sum, sumXhat []float64 // scratch for Backward
	colA, colB   []float32 // per-feature factors of Backward's dx pass
	colC         []float32
	xhat         Matrix
	out, dx, t   Matrix // t: the tangent
	lastTrain    bool
}

// NewBatchNorm1D returns a batch normalisation over the given number of
// features with PyTorch's defaults (momentum 0.1, eps 1e-5, γ = 1, β = 0).
func NewBatchNorm1D(features int) *BatchNorm1D {
	if features < 1 {
		panic(fmt.Sprintf("nn.NewBatchNorm1D: %d features", features))
	}
	bn := &BatchNorm1D{
		Features:    features,
		Momentum:    0.1,
		Eps:         1e-5,
		Gamma:       NewParam("weight", true, features),
		Beta:        NewParam("bias", true, features),
		RunningMean: make([]float32, features),
		RunningVar:  make([]float32, features),
	}
	bn.allocScratch()
	for i := range bn.Gamma.Value {
		bn.Gamma.Value[i] = 1
		bn.RunningVar[i] = 1
	}
	return bn
}

// allocScratch allocates the per-feature buffers of the passes.
func (bn *BatchNorm1D) allocScratch() {
	f := bn.Features
	bn.mean, bn.invStd = make([]float32, f), make([]float32, f)
	bn.sum, bn.sumXhat = make([]float64, f), make([]float64, f)
	bn.colA, bn.colB, bn.colC = make([]float32, f), make([]float32, f), make([]float32, f)
}

// Share returns a twin that uses the same γ, β and running statistics
// with buffers of its own (see Sharer): a training Forward of either moves
// the statistics.
func (bn *BatchNorm1D) Share() Layer {
	t := &BatchNorm1D{Features: bn.Features, Momentum: bn.Momentum, Eps: bn.Eps,
		Gamma: bn.Gamma, Beta: bn.Beta, RunningMean: bn.RunningMean, RunningVar: bn.RunningVar}
	t.allocScratch()
	return t
}

// Params returns γ then β.
func (bn *BatchNorm1D) Params() []*Param { return []*Param{bn.Gamma, bn.Beta} }

// Forward normalises x with batch statistics (train, also updating the
// running ones) or with the running statistics (eval).
func (bn *BatchNorm1D) Forward(x Matrix, train bool) Matrix {
	if x.Cols != bn.Features {
		panic(fmt.Sprintf("nn.BatchNorm1D: input has %d columns, want %d", x.Cols, bn.Features))
	}
	bn.lastTrain = train
	if train {
		if x.Rows < 2 {
			panic(fmt.Sprintf("nn.BatchNorm1D: training batch of %d example(s): batch statistics need at least 2 (PyTorch raises too); drop the last partial batch", x.Rows))
		}
		batchMeanVar(bn.mean, bn.invStd, bn.sum, x)
		n := float64(x.Rows)
		m := float64(bn.Momentum)
		for j, v := range bn.invStd { // invStd holds the biased variance here
			bn.RunningMean[j] = float32((1-m)*float64(bn.RunningMean[j]) + m*float64(bn.mean[j]))
			bn.RunningVar[j] = float32((1-m)*float64(bn.RunningVar[j]) + m*float64(v)*n/(n-1))
			bn.invStd[j] = float32(1 / math.Sqrt(float64(v)+float64(bn.Eps)))
		}
	} else {
		copy(bn.mean, bn.RunningMean)
		for j, v := range bn.RunningVar {
			bn.invStd[j] = float32(1 / math.Sqrt(float64(v)+float64(bn.Eps)))
		}
	}
	bn.xhat = Resize(bn.xhat, x.Rows, x.Cols)
	bn.out = Resize(bn.out, x.Rows, x.Cols)
	bnNormalize(bn.out, bn.xhat, x, bn.mean, bn.invStd, bn.Gamma.Value, bn.Beta.Value)
	return bn.out
}

// Backward adds dγ = Σ dy·x̂ and dβ = Σ dy into the gradients and returns dx.
// After a training Forward the gradient flows through the batch mean and
// variance:
//
//	dx = γ/(n·σ) · (n·dy − Σdy − x̂·Σ(dy·x̂))
//
// after an evaluation Forward the statistics are constants: dx = γ/σ·dy.
func (bn *BatchNorm1D) Backward(dy Matrix) Matrix {
	if dy.Rows != bn.xhat.Rows || dy.Cols != bn.Features {
		panic(fmt.Sprintf("nn.BatchNorm1D: output gradient is %d×%d, want %d×%d", dy.Rows, dy.Cols, bn.xhat.Rows, bn.Features))
	}
	bn.gradSums(dy)
	for j := range bn.Features {
		bn.Beta.Grad[j] += float32(bn.sum[j])
		bn.Gamma.Grad[j] += float32(bn.sumXhat[j])
	}
	bn.dx = Resize(bn.dx, dy.Rows, dy.Cols)
	bn.inputJVP(bn.dx, dy)
	return bn.dx
}

// gradSums sets sum to the column sums of g and sumXhat to those of g ⊙ x̂.
func (bn *BatchNorm1D) gradSums(g Matrix) {
	clear(bn.sum)
	clear(bn.sumXhat)
	for i := 0; i < g.Rows; i++ {
		bnGradSums(bn.sum, bn.sumXhat, g.Row(i), bn.xhat.Row(i))
	}
}

// inputJVP sets dst to the product of the Jacobian with respect to the
// input of the last Forward with g. After a training Forward the Jacobian
// goes through the batch statistics and is symmetric, so this is both
// Backward's product and the tangent's; it needs gradSums(g) first. After
// an evaluation Forward it is diagonal, γ/σ.
func (bn *BatchNorm1D) inputJVP(dst, g Matrix) {
	if !bn.lastTrain {
		for i := 0; i < g.Rows; i++ {
			v, d := g.Row(i), dst.Row(i)
			for j, x := range v {
				d[j] = float32(x*bn.Gamma.Value[j]) * bn.invStd[j]
			}
		}
		return
	}
	// dst = γσ⁻¹·(g − mean(g) − x̂·mean(g·x̂)); per feature:
	// a = γσ⁻¹, b = mean(g), c = mean(g·x̂), all rounded to float32.
	n := float64(g.Rows)
	for j := range bn.Features {
		bn.colA[j] = float32(bn.Gamma.Value[j] * bn.invStd[j])
		bn.colB[j] = float32(bn.sum[j] / n)
		bn.colC[j] = float32(bn.sumXhat[j] / n)
	}
	for i := 0; i < g.Rows; i++ {
		bnGradInput(dst.Row(i), g.Row(i), bn.xhat.Row(i), bn.colA, bn.colB, bn.colC)
	}
}

// ForwardTangent returns Forward(x, train) and
//
//	ẏ = γ/(n·σ)·(n·ẋ − Σẋ − x̂·Σ(ẋ·x̂)) + γ̇·x̂ + β̇
//
// after a training Forward (the tangent goes through the batch mean and
// variance), ẏ = γ/σ·ẋ + γ̇·x̂ + β̇ in evaluation. See TangentLayer.
func (bn *BatchNorm1D) ForwardTangent(x, dx Matrix, train bool) (Matrix, Matrix) {
	y := bn.Forward(x, train)
	return y, normTangent(&bn.t, "BatchNorm1D", x, dx, bn.xhat, bn.Gamma, bn.Beta, bn.tangentJVP)
}

// tangentJVP sets dst to the input tangent's term of the tangent for v.
func (bn *BatchNorm1D) tangentJVP(dst, v Matrix) {
	if bn.lastTrain {
		bn.gradSums(v)
	}
	bn.inputJVP(dst, v)
}

// normTangent returns in *buf (resized) the tangent of an affine
// normalisation y = γ ⊙ x̂(x) + β (BatchNorm1D, LayerNorm) after its
// Forward: jvp(dst, dx), the input's term, plus γ̇ ⊙ x̂ + β̇; empty when all
// three tangents are zero.
func normTangent(buf *Matrix, what string, x, dx, xhat Matrix, gamma, beta *Param, jvp func(dst, v Matrix)) Matrix {
	hasX, scale, shift := affineTangents(what, x, dx, gamma, beta)
	if !hasX && scale == nil && shift == nil {
		return Matrix{}
	}
	*buf = Resize(*buf, x.Rows, x.Cols)
	dst := *buf
	if hasX {
		jvp(dst, dx)
	} else {
		clear(dst.Data)
	}
	if scale == nil && shift == nil {
		return dst
	}
	for i := 0; i < dst.Rows; i++ {
		d, h := dst.Row(i), xhat.Row(i)
		h = h[:len(d)]
		switch {
		case shift == nil:
			scale := scale[:len(d)]
			for j, v := range h {
				d[j] += scale[j] * v
			}
		case scale == nil:
			addTo(d, shift)
		default:
			scale, shift := scale[:len(d)], shift[:len(d)]
			for j, v := range h {
				d[j] += float32(scale[j]*v) + shift[j]
			}
		}
	}
	return dst
}

// batchMeanVar writes the column means of x into mean and the biased column
// variances into variance (two passes, float64 accumulation in acc).
func batchMeanVar(mean, variance []float32, acc []float64, x Matrix) {
	clear(acc)
	for i := 0; i < x.Rows; i++ {
		accumulate64(acc, x.Row(i))
	}
	n := float64(x.Rows)
	for j, s := range acc {
		mean[j] = float32(s / n)
	}
	clear(acc)
	for i := 0; i < x.Rows; i++ {
		accumulateSqDev64(acc, x.Row(i), mean)
	}
	for j, s := range acc {
		variance[j] = float32(s / n)
	}
}

// bnNormalize sets xhat = (x − mean)·invStd and y = γ·xhat + β, row by row.
// It is the forward map with the statistics held fixed, reusable by a
// tangent pass.
func bnNormalize(y, xhat, x Matrix, mean, invStd, gamma, beta []float32) {
	for i := 0; i < x.Rows; i++ {
		bnNormalizeRow(y.Row(i), xhat.Row(i), x.Row(i), mean, invStd, gamma, beta)
	}
}

// The row kernels below run the vector kernels (vec_amd64.s) on a prefix
// of the row and Go on the rest; both give the same bits. The Go loops
// round every product to its type before adding, so that the compiler
// cannot fuse them into FMAs (which round differently).

// accumulate64 sets acc[j] += x[j] in float64.
func accumulate64(acc []float64, x []float32) {
	acc = acc[:len(x)]
	j := 0
	if vecLevel == vecAVX512 && len(x) >= 16 {
		j = len(x) &^ 15
		acc64AVX512(&acc[0], &x[0], j)
	}
	for ; j < len(x); j++ {
		acc[j] += float64(x[j])
	}
}

// accumulateSqDev64 sets acc[j] += d·d with d = float64(x[j] − mean[j]).
func accumulateSqDev64(acc []float64, x, mean []float32) {
	acc, mean = acc[:len(x)], mean[:len(x)]
	j := 0
	if vecLevel == vecAVX512 && len(x) >= 16 {
		j = len(x) &^ 15
		accSqDev64AVX512(&acc[0], &x[0], &mean[0], j)
	}
	for ; j < len(x); j++ {
		d := float64(x[j] - mean[j])
		acc[j] += float64(d * d)
	}
}

// bnNormalizeRow is one row of bnNormalize.
func bnNormalizeRow(y, xhat, x, mean, invStd, gamma, beta []float32) {
	y, xhat = y[:len(x)], xhat[:len(x)]
	mean, invStd, gamma, beta = mean[:len(x)], invStd[:len(x)], gamma[:len(x)], beta[:len(x)]
	j := 0
	if vecLevel == vecAVX512 && len(x) >= 16 {
		j = len(x) &^ 15
		bnNormAVX512(&y[0], &xhat[0], &x[0], &mean[0], &invStd[0], &gamma[0], &beta[0], j)
	}
	for ; j < len(x); j++ {
		h := float32(x[j]-mean[j]) * invStd[j]
		xhat[j] = h
		y[j] = float32(gamma[j]*h) + beta[j]
	}
}

// bnGradSums sets s[j] += g[j] and sx[j] += g[j]·xh[j] (the product in
// float32), accumulating in float64.
func bnGradSums(s, sx []float64, g, xh []float32) {
	s, sx, xh = s[:len(g)], sx[:len(g)], xh[:len(g)]
	j := 0
	if vecLevel == vecAVX512 && len(g) >= 16 {
		j = len(g) &^ 15
		bnSums64AVX512(&s[0], &sx[0], &g[0], &xh[0], j)
	}
	for ; j < len(g); j++ {
		s[j] += float64(g[j])
		sx[j] += float64(g[j] * xh[j])
	}
}

// bnGradInput sets d[j] = a[j]·((g[j] − b[j]) − xh[j]·c[j]).
func bnGradInput(d, g, xh, a, b, c []float32) {
	d, xh = d[:len(g)], xh[:len(g)]
	a, b, c = a[:len(g)], b[:len(g)], c[:len(g)]
	j := 0
	if vecLevel == vecAVX512 && len(g) >= 16 {
		j = len(g) &^ 15
		bnDxAVX512(&d[0], &g[0], &xh[0], &a[0], &b[0], &c[0], j)
	}
	for ; j < len(g); j++ {
		d[j] = a[j] * (float32(g[j]-b[j]) - float32(xh[j]*c[j]))
	}
}
