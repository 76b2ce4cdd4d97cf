package nn

import (
	"fmt"
	"math"
)

// MaxPool2x2 is 2×2 max pooling with stride 2 over HWC examples (the conv
// stack's layout, see conv.go). Sizes are floored like PyTorch's default: an
// odd last row or column is dropped and gets a zero gradient. Forward records
// which of its window's four inputs won for every output (the first one on
// ties, scanning the window row by row) so that Backward routes each
// gradient to exactly one input.
type MaxPool2x2 struct {
	c, h, w, oh, ow int

	// ReLU applies max(0, ·) to the input first, in the same pass: the
	// layer is then ReLU followed by pooling (pool(relu(x)) =
	// relu(pool(x))), with the same outputs and gradients, without a pass
	// of its own over the large pre-pooling map. Backward sends no gradient
	// through a window whose maximum is not positive.
	ReLU bool

	x, out, dx, dy Matrix
	t, tx          Matrix // the tangent and the input tangent
	// arg holds, per output value, the window position of its input:
	// poolPos00, poolPos01 (right), poolPos10 (below), poolPos11, or
	// poolNone (ReLU, maximum ≤ 0: no gradient).
	arg []uint8

	fwd, bwd, tan poolPass
}

// Window positions recorded in MaxPool2x2.arg.
const (
	poolPos00 = iota
	poolPos01
	poolPos10
	poolPos11
	poolNone
)

// NewMaxPool2x2 returns the pooling layer for c×h×w HWC examples.
func NewMaxPool2x2(c, h, w int) *MaxPool2x2 {
	if c < 1 || h < 2 || w < 2 {
		panic(fmt.Sprintf("nn.NewMaxPool2x2: bad shape c=%d h=%d w=%d", c, h, w))
	}
	p := &MaxPool2x2{c: c, h: h, w: w, oh: h / 2, ow: w / 2}
	p.bind()
	return p
}

// bind sets the passes (a layer made by a struct literal starts without
// them).
func (p *MaxPool2x2) bind() {
	p.fwd, p.bwd, p.tan = poolPass{p, poolForward}, poolPass{p, poolBackward}, poolPass{p, poolTangent}
}

// Share returns a new pooling layer with the same settings (see Sharer).
func (p *MaxPool2x2) Share() Layer {
	q := NewMaxPool2x2(p.c, p.h, p.w)
	q.ReLU = p.ReLU
	return q
}

// OutShape is the (channels, height, width) of one output example.
func (p *MaxPool2x2) OutShape() (c, h, w int) { return p.c, p.oh, p.ow }

// Params returns nothing: pooling has no parameters.
func (p *MaxPool2x2) Params() []*Param { return nil }

// poolPass is one of the layer's per-example passes, as a Ranger.
type poolPass struct {
	p    *MaxPool2x2
	kind int
}

// The kinds of poolPass.
const (
	poolForward = iota
	poolBackward
	poolTangent
)

func (q *poolPass) Range(lo, hi int) {
	switch q.kind {
	case poolForward:
		q.p.fwdRange(lo, hi)
	case poolBackward:
		q.p.bwdRange(lo, hi)
	default:
		q.p.tanRange(lo, hi)
	}
}

// Forward pools every example of x.
func (p *MaxPool2x2) Forward(x Matrix, train bool) Matrix {
	if x.Cols != p.c*p.h*p.w {
		panic(fmt.Sprintf("nn.MaxPool2x2: input has %d columns, want %d (c=%d h=%d w=%d)", x.Cols, p.c*p.h*p.w, p.c, p.h, p.w))
	}
	if p.fwd.p == nil {
		p.bind()
	}
	p.x = x
	n := p.c * p.oh * p.ow
	p.out = Resize(p.out, x.Rows, n)
	if cap(p.arg) < x.Rows*n {
		p.arg = make([]uint8, x.Rows*n)
	}
	p.arg = p.arg[:x.Rows*n]
	ParallelRange(x.Rows, imgExamplesPerChunk(x.Cols), &p.fwd)
	return p.out
}

// Backward sends each output gradient to its recorded input position.
func (p *MaxPool2x2) Backward(dy Matrix) Matrix {
	if dy.Rows != p.x.Rows || dy.Cols != p.c*p.oh*p.ow {
		panic(fmt.Sprintf("nn.MaxPool2x2: output gradient is %d×%d, want %d×%d", dy.Rows, dy.Cols, p.x.Rows, p.c*p.oh*p.ow))
	}
	p.dy = dy
	p.dx = Resize(p.dx, dy.Rows, p.c*p.h*p.w)
	ParallelRange(dy.Rows, imgExamplesPerChunk(p.dx.Cols), &p.bwd)
	return p.dx
}

// ForwardTangent returns Forward(x) and ẏ: each output's tangent is the
// tangent of the input that won its window (0 where the fused ReLU cut the
// window off). See TangentLayer.
func (p *MaxPool2x2) ForwardTangent(x, dx Matrix, train bool) (Matrix, Matrix) {
	y := p.Forward(x, train)
	if !hasTangent("MaxPool2x2", x, dx) {
		return y, Matrix{}
	}
	p.tx = dx
	p.t = Resize(p.t, x.Rows, p.c*p.oh*p.ow)
	ParallelRange(x.Rows, imgExamplesPerChunk(x.Cols), &p.tan)
	p.tx = Matrix{}
	return y, p.t
}

func (p *MaxPool2x2) fwdRange(lo, hi int) {
	in, n := p.c*p.h*p.w, p.c*p.oh*p.ow
	for e := lo; e < hi; e++ {
		maxPool2x2HWC(p.out.Data[e*n:(e+1)*n], p.arg[e*n:(e+1)*n], p.x.Data[e*in:(e+1)*in], p.c, p.w, p.oh, p.ow, p.ReLU)
	}
}

func (p *MaxPool2x2) bwdRange(lo, hi int) {
	in, n := p.c*p.h*p.w, p.c*p.oh*p.ow
	for e := lo; e < hi; e++ {
		dx := p.dx.Data[e*in : (e+1)*in]
		maxUnpool2x2HWC(dx, p.arg[e*n:(e+1)*n], p.dy.Data[e*n:(e+1)*n], p.c, p.w, p.oh, p.ow)
		// An odd last row or column belongs to no window.
		stride := p.w * p.c
		if p.h > 2*p.oh {
			clear(dx[2*p.oh*stride:])
		}
		if p.w > 2*p.ow {
			for y := 0; y < 2*p.oh; y++ {
				clear(dx[y*stride+2*p.ow*p.c : (y+1)*stride])
			}
		}
	}
}

func (p *MaxPool2x2) tanRange(lo, hi int) {
	in, n := p.c*p.h*p.w, p.c*p.oh*p.ow
	for e := lo; e < hi; e++ {
		maxPoolGather2x2HWC(p.t.Data[e*n:(e+1)*n], p.arg[e*n:(e+1)*n], p.tx.Data[e*in:(e+1)*in], p.c, p.w, p.oh, p.ow)
	}
}

// maxPool2x2HWC pools one HWC example src (width w, c channels) into dst
// (oh×ow×c) and records in arg the window position of each maximum (the
// first of equal values, scanning the window row by row). With relu, the
// output is max(0, maximum) and a maximum ≤ 0 is recorded as poolNone.
//
// The comparisons run on poolKey integers so the compiler emits conditional
// moves: with ReLU inputs (many zeros, random order) a compare-and-branch
// mispredicts often and costs about twice as much.
func maxPool2x2HWC(dst []float32, arg []uint8, src []float32, c, w, oh, ow int, relu bool) {
	stride := w * c
	if vecLevel == vecAVX512 && c%16 == 0 && oh*ow > 0 {
		_ = src[(2*oh-1)*stride+2*ow*c-1]
		_ = dst[oh*ow*c-1]
		_ = arg[oh*ow*c-1]
		poolFwdAVX512(&dst[0], &arg[0], &src[0], c, stride, oh, ow, relu)
		return
	}
	q := 0
	for oy := 0; oy < oh; oy++ {
		for ox := 0; ox < ow; ox++ {
			i00 := 2*oy*stride + 2*ox*c
			r00 := src[i00 : i00+c]
			r01 := src[i00+c : i00+2*c][:len(r00)]
			r10 := src[i00+stride : i00+stride+c][:len(r00)]
			r11 := src[i00+stride+c : i00+stride+2*c][:len(r00)]
			d := dst[q : q+c][:len(r00)]
			a := arg[q : q+c][:len(r00)]
			for ch := range r00 {
				k, pos := poolKey(r00[ch]), int32(poolPos00)
				if k2 := poolKey(r01[ch]); k2 > k {
					k, pos = k2, poolPos01
				}
				if k2 := poolKey(r10[ch]); k2 > k {
					k, pos = k2, poolPos10
				}
				if k2 := poolKey(r11[ch]); k2 > k {
					k, pos = k2, poolPos11
				}
				if relu {
					// All ones exactly when k ≤ 0 (see reluBackward): no
					// gradient. Non-negative keys are the float bits.
					none := ^((-k & ^k) >> 31)
					pos = pos&^none | poolNone&none
					k = max(k, 0)
				}
				d[ch] = poolUnkey(k)
				a[ch] = uint8(pos)
			}
			q += c
		}
	}
}

// maxUnpool2x2HWC is the adjoint of the pooling (maxPool2x2HWC with its
// recorded arg): it writes every input position covered by a window of one
// HWC example dx, the output gradient dy where the position won and 0
// elsewhere. An odd last row or column is left alone.
func maxUnpool2x2HWC(dx []float32, arg []uint8, dy []float32, c, w, oh, ow int) {
	stride := w * c
	if vecLevel == vecAVX512 && c%16 == 0 && oh*ow > 0 {
		_ = dx[(2*oh-1)*stride+2*ow*c-1]
		_ = dy[oh*ow*c-1]
		_ = arg[oh*ow*c-1]
		poolBwdAVX512(&dx[0], &arg[0], &dy[0], c, stride, oh, ow)
		return
	}
	q := 0
	for oy := 0; oy < oh; oy++ {
		for ox := 0; ox < ow; ox++ {
			i00 := 2*oy*stride + 2*ox*c
			d00 := dx[i00 : i00+c]
			d01 := dx[i00+c : i00+2*c][:len(d00)]
			d10 := dx[i00+stride : i00+stride+c][:len(d00)]
			d11 := dx[i00+stride+c : i00+stride+2*c][:len(d00)]
			g := dy[q : q+c][:len(d00)]
			a := arg[q : q+c][:len(d00)]
			for ch, v := range g {
				b, pos := math.Float32bits(v), a[ch]
				d00[ch] = math.Float32frombits(b & posMask(pos, poolPos00))
				d01[ch] = math.Float32frombits(b & posMask(pos, poolPos01))
				d10[ch] = math.Float32frombits(b & posMask(pos, poolPos10))
				d11[ch] = math.Float32frombits(b & posMask(pos, poolPos11))
			}
			q += c
		}
	}
}

// maxPoolGather2x2HWC sets dst (oh×ow×c) to the values of the HWC example
// src (width w, c channels) at the window positions recorded in arg, and 0
// where arg holds poolNone: the pooling's tangent, the transpose of
// maxUnpool2x2HWC.
func maxPoolGather2x2HWC(dst []float32, arg []uint8, src []float32, c, w, oh, ow int) {
	stride := w * c
	off := [4]int{poolPos00: 0, poolPos01: c, poolPos10: stride, poolPos11: stride + c}
	q := 0
	for oy := 0; oy < oh; oy++ {
		for ox := 0; ox < ow; ox++ {
			i00 := 2*oy*stride + 2*ox*c
			d := dst[q : q+c]
			a := arg[q : q+c][:len(d)]
			for ch := range d {
				pos := a[ch]
				// poolNone&3 is a valid offset; the mask zeroes its value.
				b := math.Float32bits(src[i00+off[pos&3]+ch])
				d[ch] = math.Float32frombits(b &^ posMask(pos, poolNone))
			}
			q += c
		}
	}
}

// posMask is all ones when pos = want and 0 otherwise, without a branch.
func posMask(pos, want uint8) uint32 {
	d := uint32(pos ^ want) // 0 exactly when equal
	return uint32(int32(d-1) >> 31)
}

// poolKey maps a float32 to an int32 with the same order (for non-NaN
// values; -0 sorts just below +0): negative floats have their magnitude
// bits flipped. poolUnkey inverts it.
func poolKey(f float32) int32 {
	b := int32(math.Float32bits(f))
	return b ^ (b >> 31 & 0x7fffffff)
}

func poolUnkey(k int32) float32 {
	return math.Float32frombits(uint32(k ^ (k >> 31 & 0x7fffffff)))
}
