package nn

import (
	"fmt"
	"math"
)

// MaxPool2x2 is 2×2 max pooling with stride 2 over HWC examples (the conv
// stack's layout, see conv.go). Sizes are floored like PyTorch's default: an
// odd last row or column is dropped and gets a zero gradient. Forward records
// the winning input index of every output (the first one on ties) so that
// Backward routes each gradient to exactly one input.
type MaxPool2x2 struct {
	c, h, w, oh, ow int

	x, out, dx, dy Matrix
	arg            []int32 // per output value: index of the max within its example's input row

	fwdFn, bwdFn func(lo, hi int)
}

// NewMaxPool2x2 returns the pooling layer for c×h×w HWC examples.
func NewMaxPool2x2(c, h, w int) *MaxPool2x2 {
	if c < 1 || h < 2 || w < 2 {
		panic(fmt.Sprintf("nn.NewMaxPool2x2: bad shape c=%d h=%d w=%d", c, h, w))
	}
	p := &MaxPool2x2{c: c, h: h, w: w, oh: h / 2, ow: w / 2}
	p.fwdFn = p.fwdRange
	p.bwdFn = p.bwdRange
	return p
}

// OutShape is the (channels, height, width) of one output example.
func (p *MaxPool2x2) OutShape() (c, h, w int) { return p.c, p.oh, p.ow }

// Params returns nothing: pooling has no parameters.
func (p *MaxPool2x2) Params() []*Param { return nil }

// Forward pools every example of x.
func (p *MaxPool2x2) Forward(x Matrix, train bool) Matrix {
	if x.Cols != p.c*p.h*p.w {
		panic(fmt.Sprintf("nn.MaxPool2x2: input has %d columns, want %d (c=%d h=%d w=%d)", x.Cols, p.c*p.h*p.w, p.c, p.h, p.w))
	}
	p.x = x
	n := p.c * p.oh * p.ow
	p.out = Resize(p.out, x.Rows, n)
	if cap(p.arg) < x.Rows*n {
		p.arg = make([]int32, x.Rows*n)
	}
	p.arg = p.arg[:x.Rows*n]
	ParallelFor(x.Rows, imgExamplesPerChunk(x.Cols), p.fwdFn)
	return p.out
}

// Backward sends each output gradient to its recorded input position.
func (p *MaxPool2x2) Backward(dy Matrix) Matrix {
	if dy.Rows != p.x.Rows || dy.Cols != p.c*p.oh*p.ow {
		panic(fmt.Sprintf("nn.MaxPool2x2: output gradient is %d×%d, want %d×%d", dy.Rows, dy.Cols, p.x.Rows, p.c*p.oh*p.ow))
	}
	p.dy = dy
	p.dx = Resize(p.dx, dy.Rows, p.c*p.h*p.w)
	ParallelFor(dy.Rows, imgExamplesPerChunk(p.dx.Cols), p.bwdFn)
	return p.dx
}

func (p *MaxPool2x2) fwdRange(lo, hi int) {
	in, n := p.c*p.h*p.w, p.c*p.oh*p.ow
	for e := lo; e < hi; e++ {
		maxPool2x2HWC(p.out.Data[e*n:(e+1)*n], p.arg[e*n:(e+1)*n], p.x.Data[e*in:(e+1)*in], p.c, p.w, p.oh, p.ow)
	}
}

func (p *MaxPool2x2) bwdRange(lo, hi int) {
	in, n := p.c*p.h*p.w, p.c*p.oh*p.ow
	for e := lo; e < hi; e++ {
		dx := p.dx.Data[e*in : (e+1)*in]
		clear(dx)
		poolScatterAdd(dx, p.arg[e*n:(e+1)*n], p.dy.Data[e*n:(e+1)*n])
	}
}

// maxPool2x2HWC pools one HWC example src (width w, c channels) into dst
// (oh×ow×c) and records in arg the index in src of each maximum (the first
// of equal values, scanning the window row by row).
//
// The comparisons run on poolKey integers so the compiler emits conditional
// moves: with ReLU inputs (many zeros, random order) a compare-and-branch
// mispredicts often and costs about twice as much.
func maxPool2x2HWC(dst []float32, arg []int32, src []float32, c, w, oh, ow int) {
	stride := w * c
	o01, o10, o11 := int32(c), int32(stride), int32(stride+c)
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
				k, off := poolKey(r00[ch]), int32(0)
				if k2 := poolKey(r01[ch]); k2 > k {
					k, off = k2, o01
				}
				if k2 := poolKey(r10[ch]); k2 > k {
					k, off = k2, o10
				}
				if k2 := poolKey(r11[ch]); k2 > k {
					k, off = k2, o11
				}
				d[ch] = poolUnkey(k)
				a[ch] = int32(i00+ch) + off
			}
			q += c
		}
	}
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

// poolScatterAdd adds v[i] into dst[idx[i]] (the adjoint of gathering through
// idx; a forward-mode pass would gather its tangent at idx instead).
func poolScatterAdd(dst []float32, idx []int32, v []float32) {
	for i, j := range idx {
		dst[j] += v[i]
	}
}
