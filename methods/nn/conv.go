package nn

import (
	"fmt"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
)

// Image layout inside conv stacks.
//
// A row of a Matrix is one example. Conv2D, MaxPool2x2 and Dropout in a conv
// stack store an example as HWC: pixel (y, x) channel c sits at (y·W + x)·C + c,
// so channels are the fastest-varying index. With that layout the im2col
// matrix of a whole batch is (B·OH·OW)×(k·k·C), one GEMM with the
// (k·k·C)×OC weight gives (B·OH·OW)×OC, and that is already the batch's HWC
// output: no transposes anywhere in the stack.
//
// Datasets hand out CHW rows (one channel plane after another, PyTorch's
// order); put a CHWToHWC at the network entry (free for C = 1, where both
// layouts coincide). Flattening the last HWC feature map therefore orders the
// features differently from PyTorch's flatten of CHW. That is harmless for
// training: the following fully connected layer learns whatever order it
// gets, and the parameter count is unchanged.

// Conv2D is a 2-D convolution with valid padding and stride 1 over HWC
// examples, computed as im2col + one GEMM so that the matrix kernel does the
// work. All buffers (im2col columns, output, input gradient) belong to the
// layer and are reused across steps; a new, larger batch grows them once.
//
// Weight is (k·k·C)×OC: row (ky·k + kx)·C + c, column o, i.e. the
// PyTorch weight[o][c][ky][kx]. Bias has OC entries.
type Conv2D struct {
	c, h, w, oc, k int
	oh, ow         int

	// Weight ((k·k·C)×OC) and Bias (OC) are the trainable tensors.
	Weight, Bias *Param

	// NoInputGrad skips the input gradient in Backward (which then returns
	// an empty Matrix). Set it on the first layer of a network: its input
	// is data, and the dOut·Wᵀ GEMM plus col2im would be wasted work.
	NoInputGrad bool

	x         Matrix // last input (owned by the caller)
	cols      Matrix // im2col of x; Backward reuses it for dcols
	colsValid bool   // cols holds im2col(x) (false once overwritten by dcols)
	out       Matrix
	dx        Matrix
	dy        Matrix // current output gradient, for the bias-gradient workers
	withBias  bool   // im2col workers also fill out with the bias

	// Method values bound once, so calls to ParallelFor do not allocate.
	im2colFn, col2imFn, biasGradFn func(lo, hi int)
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
	l := &Conv2D{
		c: c, h: h, w: w, oc: oc, k: k,
		oh: h - k + 1, ow: w - k + 1,
		Weight: NewParam("conv.weight", false, kkc, oc),
		Bias:   NewParam("conv.bias", true, oc),
	}
	init.FillWeights(l.Weight.Value, kkc, oc*k*k, rng)
	init.FillBias(l.Bias.Value, kkc, rng)
	l.im2colFn = l.im2colRange
	l.col2imFn = l.col2imRange
	l.biasGradFn = l.biasGradRange
	return l
}

// InShape is the (channels, height, width) of one input example.
func (l *Conv2D) InShape() (c, h, w int) { return l.c, l.h, l.w }

// OutShape is the (channels, height, width) of one output example, so that
// stacks can be sized by chaining shapes.
func (l *Conv2D) OutShape() (c, h, w int) { return l.oc, l.oh, l.ow }

// Params returns the weight and the bias.
func (l *Conv2D) Params() []*Param { return []*Param{l.Weight, l.Bias} }

// FLOPs is the multiply-add count ×2 of one forward pass over batch
// examples (each backward GEMM costs the same again).
func (l *Conv2D) FLOPs(batch int) float64 {
	return 2 * float64(batch) * float64(l.oh*l.ow) * float64(l.oc) * float64(l.k*l.k*l.c)
}

// imgExamplesPerChunk is the smallest number of examples worth a goroutine for
// per-example work of the given size (in floats touched).
func imgExamplesPerChunk(perExample int) int {
	const minWork = 1 << 14
	return max(1, minWork/max(1, perExample))
}

// Forward convolves x (rows: examples of c·h·w HWC values) and returns the
// (B)×(oh·ow·oc) HWC output.
func (l *Conv2D) Forward(x Matrix, train bool) Matrix {
	if x.Cols != l.c*l.h*l.w {
		panic(fmt.Sprintf("nn.Conv2D: input has %d columns, want %d (c=%d h=%d w=%d)", x.Cols, l.c*l.h*l.w, l.c, l.h, l.w))
	}
	b := x.Rows
	l.x = x
	l.cols = Resize(l.cols, b*l.oh*l.ow, l.k*l.k*l.c)
	l.out = Resize(l.out, b, l.oh*l.ow*l.oc)
	l.withBias = true
	ParallelFor(b, imgExamplesPerChunk(l.oh*l.ow*(l.k*l.k*l.c+l.oc)), l.im2colFn)
	l.colsValid = true
	convGemm(l.cols, l.Weight.Value, l.oc, l.out)
	return l.out
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
	if !l.colsValid {
		l.withBias = false
		ParallelFor(b, imgExamplesPerChunk(l.oh*l.ow*l.k*l.k*l.c), l.im2colFn)
		l.colsValid = true
	}
	n := b * l.oh * l.ow
	dyv := Matrix{Rows: n, Cols: l.oc, Data: dy.Data}
	l.dy = dyv

	// db: split over output channels, so every channel is summed in row
	// order whatever the number of workers.
	if n*l.oc < 1<<15 {
		l.biasGradRange(0, l.oc)
	} else {
		ParallelFor(l.oc, 1, l.biasGradFn)
	}
	kkc := l.k * l.k * l.c
	wg := blas32.General{Rows: kkc, Cols: l.oc, Stride: l.oc, Data: l.Weight.Grad}
	blas32.Gemm(blas.Trans, blas.NoTrans, 1, l.cols.General(), dyv.General(), 1, wg)
	if l.NoInputGrad {
		return Matrix{}
	}
	wv := blas32.General{Rows: kkc, Cols: l.oc, Stride: l.oc, Data: l.Weight.Value}
	blas32.Gemm(blas.NoTrans, blas.Trans, 1, dyv.General(), wv, 0, l.cols.General())
	l.colsValid = false
	l.dx = Resize(l.dx, b, l.c*l.h*l.w)
	ParallelFor(b, imgExamplesPerChunk(l.oh*l.ow*kkc), l.col2imFn)
	return l.dx
}

// im2colRange builds the im2col rows of examples [lo, hi) and, during
// Forward, fills their output rows with the bias (the GEMM then adds into
// them).
func (l *Conv2D) im2colRange(lo, hi int) {
	in := l.c * l.h * l.w
	rowsPer := l.oh * l.ow
	colsPer := rowsPer * l.k * l.k * l.c
	outPer := rowsPer * l.oc
	for e := lo; e < hi; e++ {
		im2colHWC(l.cols.Data[e*colsPer:(e+1)*colsPer], l.x.Data[e*in:(e+1)*in], l.c, l.w, l.k, l.oh, l.ow)
		if l.withBias {
			convFillBias(l.out.Data[e*outPer:(e+1)*outPer], l.Bias.Value)
		}
	}
}

// col2imRange accumulates the dcols rows of examples [lo, hi) into their
// input-gradient rows.
func (l *Conv2D) col2imRange(lo, hi int) {
	in := l.c * l.h * l.w
	colsPer := l.oh * l.ow * l.k * l.k * l.c
	for e := lo; e < hi; e++ {
		col2imHWC(l.dx.Data[e*in:(e+1)*in], l.cols.Data[e*colsPer:(e+1)*colsPer], l.c, l.w, l.k, l.oh, l.ow)
	}
}

// biasGradRange adds the sums of dOut's columns [lo, hi) into Bias.Grad.
func (l *Conv2D) biasGradRange(lo, hi int) {
	convColSumsAdd(l.Bias.Grad[lo:hi], l.dy, lo)
}

// convGemm computes out = cols·W + out for the (n)×(k·k·C) column matrix cols
// and the (k·k·C)×oc weight w; out is viewed as n×oc and must already hold
// the bias (or zeros). Separate from Conv2D so a forward-mode (tangent) pass
// can reuse it with tangent columns or a tangent weight.
func convGemm(cols Matrix, w []float32, oc int, out Matrix) {
	n := cols.Rows
	wv := blas32.General{Rows: cols.Cols, Cols: oc, Stride: oc, Data: w}
	ov := blas32.General{Rows: n, Cols: oc, Stride: oc, Data: out.Data[:n*oc]}
	blas32.Gemm(blas.NoTrans, blas.NoTrans, 1, cols.General(), wv, 1, ov)
}

// convFillBias copies v into every len(v)-long row of dst.
func convFillBias(dst, v []float32) {
	for i := 0; i+len(v) <= len(dst); i += len(v) {
		copy(dst[i:i+len(v)], v)
	}
}

// convColSumsAdd adds, for j in [0, len(dst)), the sum over rows of m[:, off+j]
// into dst[j], accumulating in float64.
func convColSumsAdd(dst []float32, m Matrix, off int) {
	var stack [64]float64
	for base := 0; base < len(dst); base += len(stack) {
		w := min(len(stack), len(dst)-base)
		acc := stack[:w]
		clear(acc)
		c0 := off + base
		for r := 0; r < m.Rows; r++ {
			row := m.Data[r*m.Cols+c0 : r*m.Cols+c0+w]
			for j, v := range row {
				acc[j] += float64(v)
			}
		}
		for j, a := range acc {
			dst[base+j] += float32(a)
		}
	}
}

// im2colHWC writes the (oh·ow)×(k·k·c) im2col matrix of one HWC example src
// (width w) into dst. Row oy·ow + ox, column (ky·k + kx)·c + ch holds
// src at pixel (oy+ky, ox+kx), channel ch; for a fixed ky the k·c values are
// contiguous in src, so each row is k straight copies.
func im2colHWC(dst, src []float32, c, w, k, oh, ow int) {
	kc := k * c
	stride := w * c
	p := 0
	for oy := 0; oy < oh; oy++ {
		for ox := 0; ox < ow; ox++ {
			base := oy*stride + ox*c
			for ky := 0; ky < k; ky++ {
				s := src[base+ky*stride : base+ky*stride+kc]
				d := dst[p : p+kc]
				if kc >= 16 {
					copy(d, s)
				} else {
					for i := range d {
						d[i] = s[i]
					}
				}
				p += kc
			}
		}
	}
}

// col2imHWC is the adjoint of im2colHWC: it sets dst (one HWC example) to the
// sum of the im2col-layout gradient src over every place each input value
// was copied to.
func col2imHWC(dst, src []float32, c, w, k, oh, ow int) {
	clear(dst)
	kc := k * c
	stride := w * c
	p := 0
	for oy := 0; oy < oh; oy++ {
		for ox := 0; ox < ow; ox++ {
			base := oy*stride + ox*c
			for ky := 0; ky < k; ky++ {
				d := dst[base+ky*stride : base+ky*stride+kc]
				s := src[p : p+kc]
				for i := range d {
					d[i] += s[i]
				}
				p += kc
			}
		}
	}
}

// CHWToHWC converts examples from the datasets' CHW layout (one channel
// plane after another) to the HWC layout the conv stack uses; see the layout
// note at the top of conv.go. For C = 1 the two layouts coincide and the
// layer passes its input through without copying.
//
// The zero value is not usable; fill C, H and W.
type CHWToHWC struct {
	C, H, W int

	x, out, dx Matrix
	dy         Matrix
	fwdFn      func(lo, hi int)
	bwdFn      func(lo, hi int)
}

// NewCHWToHWC returns the layout converter for c×h×w examples.
func NewCHWToHWC(c, h, w int) *CHWToHWC { return &CHWToHWC{C: c, H: h, W: w} }

// OutShape is the (channels, height, width) of one example (unchanged).
func (l *CHWToHWC) OutShape() (c, h, w int) { return l.C, l.H, l.W }

// Params returns nothing: the conversion has no parameters.
func (l *CHWToHWC) Params() []*Param { return nil }

// Forward returns x with every row reordered from CHW to HWC (x itself when
// C = 1).
func (l *CHWToHWC) Forward(x Matrix, train bool) Matrix {
	if x.Cols != l.C*l.H*l.W {
		panic(fmt.Sprintf("nn.CHWToHWC: input has %d columns, want %d", x.Cols, l.C*l.H*l.W))
	}
	if l.C == 1 {
		return x
	}
	if l.fwdFn == nil {
		l.fwdFn = l.fwdRange
		l.bwdFn = l.bwdRange
	}
	l.x = x
	l.out = Resize(l.out, x.Rows, x.Cols)
	ParallelFor(x.Rows, imgExamplesPerChunk(x.Cols), l.fwdFn)
	return l.out
}

// Backward reorders the gradient rows from HWC back to CHW (dy itself when
// C = 1).
func (l *CHWToHWC) Backward(dy Matrix) Matrix {
	if l.C == 1 {
		return dy
	}
	l.dy = dy
	l.dx = Resize(l.dx, dy.Rows, dy.Cols)
	ParallelFor(dy.Rows, imgExamplesPerChunk(dy.Cols), l.bwdFn)
	return l.dx
}

func (l *CHWToHWC) fwdRange(lo, hi int) {
	n := l.C * l.H * l.W
	for e := lo; e < hi; e++ {
		chwToHWC(l.out.Data[e*n:(e+1)*n], l.x.Data[e*n:(e+1)*n], l.C, l.H*l.W)
	}
}

func (l *CHWToHWC) bwdRange(lo, hi int) {
	n := l.C * l.H * l.W
	for e := lo; e < hi; e++ {
		hwcToCHW(l.dx.Data[e*n:(e+1)*n], l.dy.Data[e*n:(e+1)*n], l.C, l.H*l.W)
	}
}

// chwToHWC transposes one example from c planes of hw pixels to hw pixels
// of c channels.
func chwToHWC(dst, src []float32, c, hw int) {
	for ch := 0; ch < c; ch++ {
		plane := src[ch*hw : (ch+1)*hw]
		for p, v := range plane {
			dst[p*c+ch] = v
		}
	}
}

// hwcToCHW is the inverse of chwToHWC.
func hwcToCHW(dst, src []float32, c, hw int) {
	for ch := 0; ch < c; ch++ {
		plane := dst[ch*hw : (ch+1)*hw]
		for p := range plane {
			plane[p] = src[p*c+ch]
		}
	}
}
