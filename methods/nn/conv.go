package nn

import (
	"fmt"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"

	"github.com/noprop/noprop/methods/nn/gemm"
)

// Conv2D is a 2-D convolution with valid padding and stride 1 over HWC
// examples, computed as im2col + one GEMM so that the matrix kernel does the
// work. All buffers (im2col columns, output, input gradient) belong to the
// layer and are reused across steps; a new, larger batch grows them once.
//
// Layout. A row of a Matrix is one example, stored HWC: pixel (y, x),
// channel c sits at (y·W + x)·C + c. With channels fastest, the im2col matrix
// of a whole batch is (B·OH·OW)×(k·k·C), one GEMM with the (k·k·C)×OC weight
// gives (B·OH·OW)×OC, and that is already the batch's HWC output: no
// transposes anywhere in a conv stack. MaxPool2x2 uses the same layout and
// Dropout is element-wise. Datasets hand out CHW rows (PyTorch's order, one
// channel plane after another), so a network starts with CHWToHWC (free for
// C = 1, where the layouts coincide). Flattening the last HWC map therefore
// orders the features differently from PyTorch's flatten of CHW; that is
// harmless for training (the following Linear learns any order) and leaves
// the parameter count unchanged.
//
// Weight is (k·k·C)×OC: Weight[(ky·k + kx)·C + c][o] is PyTorch's
// weight[o][c][ky][kx]. Bias has OC entries.
//
// The bias rides in the GEMMs: every im2col row ends with a constant 1 and
// the layer multiplies by a private (k·k·C+1)×OC copy of [Weight; Bias], so
// the forward GEMM adds the bias and the weight-gradient GEMM produces the
// bias gradient as its last row. That saves two passes over the (large)
// output per step, for one extra column in the GEMMs' inner dimension.
type Conv2D struct {
	c, h, w, oc, k int
	oh, ow         int

	// Weight ((k·k·C)×OC) and Bias (OC) are the trainable tensors.
	Weight, Bias *Param

	// NoInputGrad skips the input gradient in Backward (which then returns
	// an empty Matrix). Set it on the first layer of a network: its input
	// is data, and the dOut·Wᵀ GEMM plus col2im would be wasted work.
	NoInputGrad bool

	x         Matrix    // last input (owned by the caller)
	cols      Matrix    // B·OH·OW × (k·k·C+1): im2col of x and a column of ones; Backward reuses it for dcols, ForwardTangent for im2col(ẋ)
	colsValid bool      // cols holds im2col(x) (false once overwritten by dcols)
	colsBF16  bool      // cols holds its rows in bf16 (pairedCols), PairStride(k·k·C+1) slots apart
	wb        []float32 // [Weight; Bias], (k·k·C+1)×OC, refreshed by every Forward
	gwb       []float32 // gradient of wb from the last Backward
	twb       []float32 // [Ẇ; ḃ] of the last ForwardTangent (allocated by the first)
	out       Matrix
	dx        Matrix
	t         Matrix // the tangent

	colSrc   Matrix  // the matrix im2colRange reads
	colExtra float32 // the value of its last column

	// Method values bound once, so that parallel passes do not allocate.
	im2colFn, col2imFn func(lo, hi int)

	// The direct path (see direct): the last output gradient, and per chunk
	// of directChunk examples the partial [dW; db] of its examples.
	dy                    Matrix
	part                  []float32
	directFwd, directGrad convPass
}

// convPass is one of the direct path's passes, as a Ranger.
type convPass struct {
	l    *Conv2D
	grad bool
}

func (q *convPass) Range(lo, hi int) {
	if q.grad {
		q.l.directGradRange(lo, hi)
	} else {
		q.l.directFwdRange(lo, hi)
	}
}

// directChunk is the number of examples whose weight gradients the direct
// path sums into one partial: the partials are then added in chunk order,
// so the result does not depend on how the chunks are spread over the
// cores (nor on GOMAXPROCS).
const directChunk = 4

// direct reports whether the layer computes its output and weight gradient
// directly (vector kernels in vec_amd64.s) instead of by im2col and GEMM:
// for a 3×3 convolution of one-channel images into a multiple of 32
// channels, the first layer of an image network. There the im2col columns
// are only 10 wide and the GEMM is bound by memory; the direct kernels read
// the image and write the output once. The input gradient, when wanted,
// still goes through the GEMM.
func (l *Conv2D) direct() bool {
	return vecLevel == vecAVX512 && l.c == 1 && l.k == 3 && l.oc%32 == 0
}

// NewConv2D returns a k×k convolution from c×h×w inputs (HWC rows) to oc
// output channels, valid padding, stride 1. Weight and bias are filled by
// init with fan_in = c·k·k and fan_out = oc·k·k (PyTorch's fans for Conv2d);
// InitPyTorch (or "") gives U(-1/√(c·k·k), 1/√(c·k·k)) for both, PyTorch's
// default.
func NewConv2D(c, h, w, oc, k int, init Init, rng *RNG) *Conv2D {
	if c < 1 || oc < 1 || k < 1 || h < k || w < k {
		panic(fmt.Sprintf("nn.NewConv2D: bad shape c=%d h=%d w=%d oc=%d k=%d", c, h, w, oc, k))
	}
	kkc := k * k * c
	l := newConv2D(c, h, w, oc, k, NewParam("weight", false, kkc, oc), NewParam("bias", true, oc))
	init.FillWeights(l.Weight.Value, kkc, oc*k*k, rng)
	init.FillBias(l.Bias.Value, kkc, rng)
	return l
}

// newConv2D returns the layer for a checked shape with the given parameters
// and buffers of its own.
func newConv2D(c, h, w, oc, k int, weight, bias *Param) *Conv2D {
	kkc := k * k * c
	l := &Conv2D{
		c: c, h: h, w: w, oc: oc, k: k,
		oh: h - k + 1, ow: w - k + 1,
		Weight: weight,
		Bias:   bias,
		wb:     make([]float32, (kkc+1)*oc),
		gwb:    make([]float32, (kkc+1)*oc),
	}
	l.im2colFn = l.im2colRange
	l.col2imFn = l.col2imRange
	l.directFwd, l.directGrad = convPass{l, false}, convPass{l, true}
	return l
}

// Share returns a twin that uses the same Weight and Bias with buffers of
// its own (see Sharer).
func (l *Conv2D) Share() Layer {
	t := newConv2D(l.c, l.h, l.w, l.oc, l.k, l.Weight, l.Bias)
	t.NoInputGrad = l.NoInputGrad
	return t
}

// InShape is the (channels, height, width) of one input example.
func (l *Conv2D) InShape() (c, h, w int) { return l.c, l.h, l.w }

// OutShape is the (channels, height, width) of one output example, so that
// stacks can be sized by chaining shapes.
func (l *Conv2D) OutShape() (c, h, w int) { return l.oc, l.oh, l.ow }

// Params returns the weight and the bias.
func (l *Conv2D) Params() []*Param { return []*Param{l.Weight, l.Bias} }

// FLOPs is 2 × the multiply-adds of the convolution proper over batch
// examples, for the forward pass; the weight-gradient and input-gradient
// GEMMs of Backward cost the same each.
func (l *Conv2D) FLOPs(batch int) float64 {
	return 2 * float64(batch) * float64(l.oh*l.ow) * float64(l.oc) * float64(l.k*l.k*l.c)
}

// imgExamplesPerChunk is the smallest number of examples worth a goroutine
// for per-example work of the given size (in floats touched).
func imgExamplesPerChunk(perExample int) int {
	const minWork = 1 << 14
	return max(1, minWork/max(1, perExample))
}

// Forward convolves x (rows: examples of c·h·w HWC values) and returns the
// B×(oh·ow·oc) HWC output.
func (l *Conv2D) Forward(x Matrix, train bool) Matrix {
	if x.Cols != l.c*l.h*l.w {
		panic(fmt.Sprintf("nn.Conv2D: input has %d columns, want %d (c=%d h=%d w=%d)", x.Cols, l.c*l.h*l.w, l.c, l.h, l.w))
	}
	b := x.Rows
	kkc := l.k * l.k * l.c
	l.x = x
	l.out = Resize(l.out, b, l.oh*l.ow*l.oc)
	if l.direct() {
		l.colsValid = false
		ParallelRange(b, imgExamplesPerChunk(l.oh*l.ow*l.oc), &l.directFwd)
		return l.out
	}
	l.im2col(x, 1)
	l.colsValid = true
	copy(l.wb, l.Weight.Value)
	copy(l.wb[kkc*l.oc:], l.Bias.Value)
	l.gemmCols(l.out, l.wb, 0)
	return l.out
}

// im2col sets cols to the im2col rows of src (examples like the input)
// followed by a column of extra, in bf16 when pairedCols says so.
func (l *Conv2D) im2col(src Matrix, extra float32) {
	kkc := l.k * l.k * l.c
	l.colsBF16 = l.pairedCols()
	rows, ld := src.Rows*l.oh*l.ow, kkc+1
	if l.colsBF16 {
		// Backward writes the input gradient's floats over the same
		// buffer: size it for them now, once.
		l.cols = Resize(l.cols, rows, ld)
		ld = gemm.PairStride(kkc + 1)
	}
	l.cols = Resize(l.cols, rows, ld)
	l.colSrc, l.colExtra = src, extra
	ParallelFor(src.Rows, imgExamplesPerChunk(l.oh*l.ow*(kkc+1)), l.im2colFn)
	l.colSrc = Matrix{}
}

// ForwardTangent returns Forward(x) and ẏ = conv(ẋ, W) + conv(x, Ẇ) + ḃ
// (see TangentLayer): [im2col(x) 1]·[Ẇ; ḃ] + [im2col(ẋ) 0]·[W; b], one
// GEMM per non-zero term, the second over the columns of the first (the
// direct path's Forward builds none; it gets them here when Ẇ is set).
func (l *Conv2D) ForwardTangent(x, dx Matrix, train bool) (Matrix, Matrix) {
	y := l.Forward(x, train)
	hasX, wt, bt := affineTangents("Conv2D", x, dx, l.Weight, l.Bias)
	if !hasX && wt == nil && bt == nil {
		return y, Matrix{}
	}
	kkc := l.k * l.k * l.c
	l.t = Resize(l.t, x.Rows, l.oh*l.ow*l.oc)
	beta := float32(0)
	switch {
	case wt != nil:
		if !l.colsValid {
			l.im2col(x, 1)
			l.colsValid = true
		}
		if l.twb == nil {
			l.twb = make([]float32, (kkc+1)*l.oc)
		}
		copy(l.twb, wt)
		if bt != nil {
			copy(l.twb[kkc*l.oc:], bt)
		} else {
			clear(l.twb[kkc*l.oc:])
		}
		l.gemmCols(l.t, l.twb, 0)
		beta = 1
	case bt != nil:
		clear(l.t.Data)
		addRowVector(Matrix{Rows: x.Rows * l.oh * l.ow, Cols: l.oc, Data: l.t.Data}, bt)
		beta = 1
	}
	if hasX {
		if l.direct() { // its Forward leaves wb alone
			copy(l.wb, l.Weight.Value)
			copy(l.wb[kkc*l.oc:], l.Bias.Value)
		}
		l.im2col(dx, 0)
		l.colsValid = false
		l.gemmCols(l.t, l.wb, beta)
	}
	return y, l.t
}

// Backward adds dW = colsᵀ·dOut and db = column sums of dOut into the
// parameter gradients and returns dX = col2im(dOut·Wᵀ), or an empty Matrix
// when NoInputGrad is set. The dOut·Wᵀ product is written over the im2col
// buffer to halve the layer's memory; a second Backward after one Forward
// rebuilds the columns from the (still valid) input.
func (l *Conv2D) Backward(dy Matrix) Matrix {
	b := l.x.Rows
	if dy.Rows != b || dy.Cols != l.oh*l.ow*l.oc {
		panic(fmt.Sprintf("nn.Conv2D: output gradient is %d×%d, want %d×%d", dy.Rows, dy.Cols, b, l.oh*l.ow*l.oc))
	}
	kkc := l.k * l.k * l.c
	n := b * l.oh * l.ow
	dyv := blas32.General{Rows: n, Cols: l.oc, Stride: l.oc, Data: dy.Data[:n*l.oc]}
	if l.direct() {
		l.directGradients(dy)
	} else {
		if !l.colsValid {
			l.im2col(l.x, 1)
			l.colsValid = true
		}
		// [dW; db] = [cols 1]ᵀ·dOut in one GEMM.
		gwb := blas32.General{Rows: kkc + 1, Cols: l.oc, Stride: l.oc, Data: l.gwb}
		if l.colsBF16 {
			gemm.SgemmBF16PairedTN(kkc+1, l.oc, n, 1, l.cols.Data, l.cols.Cols, dyv.Data, l.oc, 0, gwb.Data, l.oc)
		} else {
			matmul(l.Weight.Products, blas.Trans, blas.NoTrans, 1, l.cols.General(), dyv, 0, gwb)
		}
	}
	convAddInto(l.Weight.Grad, l.gwb[:kkc*l.oc])
	convAddInto(l.Bias.Grad, l.gwb[kkc*l.oc:])
	if l.NoInputGrad {
		return Matrix{}
	}
	l.cols = Resize(l.cols, n, kkc+1) // only its storage is used below
	// dcols = dOut·Wᵀ, written over the first k·k·C columns of cols.
	wv := blas32.General{Rows: kkc, Cols: l.oc, Stride: l.oc, Data: l.Weight.Value}
	dcols := blas32.General{Rows: n, Cols: kkc, Stride: kkc + 1, Data: l.cols.Data}
	matmul(l.Weight.Products, blas.NoTrans, blas.Trans, 1, dyv, wv, 0, dcols)
	l.colsValid = false
	l.dx = Resize(l.dx, b, l.c*l.h*l.w)
	ParallelFor(b, imgExamplesPerChunk(l.oh*l.ow*(kkc+1)), l.col2imFn)
	return l.dx
}

// directGradients sets gwb to [dW; db] for the output gradient dy by the
// direct kernel, summing fixed chunks of examples in order.
func (l *Conv2D) directGradients(dy Matrix) {
	chunks := (dy.Rows + directChunk - 1) / directChunk
	size := len(l.gwb)
	if chunks == 0 {
		clear(l.gwb)
		return
	}
	if cap(l.part) < chunks*size {
		l.part = make([]float32, chunks*size)
	}
	l.part = l.part[:chunks*size]
	l.dy = dy
	ParallelRange(chunks, 1, &l.directGrad)
	l.dy = Matrix{}
	copy(l.gwb, l.part[:size])
	for c := 1; c < chunks; c++ {
		addTo(l.gwb, l.part[c*size:(c+1)*size])
	}
}

// directFwdRange computes the output of examples [lo, hi) directly.
func (l *Conv2D) directFwdRange(lo, hi int) {
	in, out := l.h*l.w, l.oh*l.ow*l.oc
	_ = l.Weight.Value[9*l.oc-1]
	_ = l.Bias.Value[l.oc-1]
	for e := lo; e < hi; e++ {
		_ = l.x.Data[(e+1)*in-1]
		_ = l.out.Data[(e+1)*out-1]
		conv3x3c1FwdAVX512(&l.out.Data[e*out], &l.x.Data[e*in], &l.Weight.Value[0], &l.Bias.Value[0], l.w, l.oh, l.ow, l.oc)
	}
}

// directGradRange computes the partial [dW; db] of chunks [lo, hi).
func (l *Conv2D) directGradRange(lo, hi int) {
	in, out, size := l.h*l.w, l.oh*l.ow*l.oc, len(l.gwb)
	for c := lo; c < hi; c++ {
		acc := l.part[c*size : (c+1)*size]
		clear(acc)
		for e := c * directChunk; e < min((c+1)*directChunk, l.x.Rows); e++ {
			_ = l.x.Data[(e+1)*in-1]
			_ = l.dy.Data[(e+1)*out-1]
			for g := 0; g < l.oc; g += 32 {
				conv3x3c1WgradAVX512(&acc[g], &l.x.Data[e*in], &l.dy.Data[e*out+g], l.w, l.oh, l.ow, l.oc)
			}
		}
	}
}

// im2colRange builds the im2col rows (with their trailing colExtra) of
// examples [lo, hi) of colSrc.
func (l *Conv2D) im2colRange(lo, hi int) {
	in := l.c * l.h * l.w
	ld := l.cols.Cols
	colsPer := l.oh * l.ow * ld
	for e := lo; e < hi; e++ {
		if l.colsBF16 {
			im2colPairs(l.cols.Data[e*colsPer:(e+1)*colsPer], ld, l.colExtra, l.colSrc.Data[e*in:(e+1)*in], l.c, l.w, l.k, l.oh, l.ow)
			continue
		}
		im2colHWC(l.cols.Data[e*colsPer:(e+1)*colsPer], ld, l.colExtra, l.colSrc.Data[e*in:(e+1)*in], l.c, l.w, l.k, l.oh, l.ow)
	}
}

// col2imRange accumulates the dcols rows of examples [lo, hi) into their
// input-gradient rows.
func (l *Conv2D) col2imRange(lo, hi int) {
	in := l.c * l.h * l.w
	ld := l.k*l.k*l.c + 1
	colsPer := l.oh * l.ow * ld
	for e := lo; e < hi; e++ {
		col2imHWC(l.dx.Data[e*in:(e+1)*in], l.cols.Data[e*colsPer:(e+1)*colsPer], ld, l.c, l.w, l.k, l.oh, l.ow)
	}
}

// gemmCols sets out = cols·w + beta·out, where cols is the n×K im2col
// matrix (K = k·k·C+1, its last column the extra one), w is K×oc and out
// is viewed as n×oc. It is the whole of Conv2D's forward arithmetic after
// im2col (in the weights' precision), and the forward-mode (tangent) pass
// reuses it: ẏ = [im2col(ẋ) 0]·[W; b] + [im2col(x) 1]·[Ẇ; ḃ].
func (l *Conv2D) gemmCols(out Matrix, w []float32, beta float32) {
	n, kk := l.cols.Rows, l.k*l.k*l.c+1
	if l.colsBF16 {
		gemm.SgemmBF16PairedA(n, l.oc, kk, 1, l.cols.Data, l.cols.Cols, w[:kk*l.oc], l.oc, beta, out.Data[:n*l.oc], l.oc)
		return
	}
	wv := blas32.General{Rows: kk, Cols: l.oc, Stride: l.oc, Data: w[:kk*l.oc]}
	ov := blas32.General{Rows: n, Cols: l.oc, Stride: l.oc, Data: out.Data[:n*l.oc]}
	matmul(l.Weight.Products, blas.NoTrans, blas.NoTrans, 1, l.cols.General(), wv, beta, ov)
}

// convAddInto adds src into dst element-wise.
func convAddInto(dst, src []float32) { addTo(dst, src) }

// im2colHWC writes the im2col matrix of one HWC example src (width w, c
// channels) into dst, one row per output pixel, rows ld apart: row
// oy·ow + ox, column (ky·k + kx)·c + ch holds src at pixel (oy+ky, ox+kx),
// channel ch. When ld > k·k·c, column k·k·c is set to extra (1 for the bias
// column, 0 in a tangent pass). For a fixed ky the k·c values are contiguous
// in src, so each row is k straight copies.
func im2colHWC(dst []float32, ld int, extra float32, src []float32, c, w, k, oh, ow int) {
	if c == 3 && k == 3 && ld > 27 && oh*ow > 0 && vecLevel == vecAVX512 {
		// An RGB image's first layer: 9-value pieces, too short for copy.
		_ = dst[(oh*ow-1)*ld+27]
		_ = src[((oh+1)*w+ow+1)*3+2]
		im2col3x3c3AVX512(&dst[0], ld, extra, &src[0], w, oh, ow)
		return
	}
	kc := k * c
	if vecLevel == vecAVX512 && kc%16 == 0 && kc > 0 && oh*ow > 0 {
		// One call for the example, not a copy a piece.
		_ = dst[(oh*ow-1)*ld+k*kc-1]
		_ = src[((oh+k-2)*w+ow+k-2)*c+c-1]
		im2colAVX512(&dst[0], ld, extra, &src[0], c, w, k, oh, ow)
		return
	}
	kkc := k * kc
	stride := w * c
	p := 0
	for oy := 0; oy < oh; oy++ {
		for ox := 0; ox < ow; ox++ {
			base := oy*stride + ox*c
			row := dst[p : p+ld]
			for ky := 0; ky < k; ky++ {
				s := src[base+ky*stride : base+ky*stride+kc]
				d := row[ky*kc : ky*kc+kc]
				if kc >= 16 {
					copy(d, s)
				} else {
					for i := range d {
						d[i] = s[i]
					}
				}
			}
			if ld > kkc {
				row[kkc] = extra
			}
			p += ld
		}
	}
}

// col2imHWC is the adjoint of im2colHWC (ignoring any extra column): it sets
// dst (one HWC example) to the sum, over every place each input value was
// copied to, of the im2col-layout gradient src (rows ld apart).
func col2imHWC(dst, src []float32, ld, c, w, k, oh, ow int) {
	clear(dst)
	kc := k * c
	stride := w * c
	if vecLevel == vecAVX512 && kc%16 == 0 && kc > 0 && oh*ow > 0 {
		// One call for the example: the Go loop below calls addTo for
		// each piece of every row.
		_ = dst[(oh+k-2)*stride+(ow+k-2)*c+c-1]
		_ = src[(oh*ow-1)*ld+k*kc-1]
		col2imAddAVX512(&dst[0], &src[0], ld, c, w, k, oh, ow)
		return
	}
	p := 0
	for oy := 0; oy < oh; oy++ {
		for ox := 0; ox < ow; ox++ {
			base := oy*stride + ox*c
			for ky := 0; ky < k; ky++ {
				addTo(dst[base+ky*stride:base+ky*stride+kc], src[p+ky*kc:p+ky*kc+kc])
			}
			p += ld
		}
	}
}
