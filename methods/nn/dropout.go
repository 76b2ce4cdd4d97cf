package nn

import (
	"fmt"
	"math"
)

// Dropout is inverted dropout: in training every value is zeroed with
// probability P and the kept ones are scaled by 1/(1-P), so evaluation is the
// identity and needs no rescaling. It is element-wise, so it works on any
// layout (HWC conv maps, flat features).
//
// The mask comes from the layer's own RNG: each training Forward draws one
// 63-bit seed from it and derives the keep/drop decision of element i from a
// hash of (seed, i). Runs are therefore deterministic per seed, and the mask
// does not depend on how the work is split (nor on GOMAXPROCS). The mask is
// not stored: Backward derives it again from the seed, which costs less than
// writing and reading it.
type Dropout struct {
	// P is the drop probability, in [0, 1). P = 0 makes the layer the
	// identity (or a ReLU, see below).
	P float32

	// ReLU applies max(0, ·) to the input first, in the same pass: the
	// layer is then ReLU followed by dropout (a ReLU alone in evaluation),
	// with the same outputs and gradients as the two layers, for one pass
	// over the data instead of two in each direction.
	ReLU bool
	// InPlace makes Forward write its output over its input and Backward
	// its result over dy. Use it only when nothing reads them afterwards
	// (after a Conv2D or a Linear, which need neither their output nor the
	// gradient they receive once Backward has run).
	InPlace bool

	rng *RNG

	n        int  // elements of the last Forward
	identity bool // the last Forward passed its input through
	frozen   bool // reuse the seed instead of drawing a new one (gradient checks)

	seed       uint64
	thresh     uint32 // drop when the element's 32 random bits are < thresh
	scale      float32
	x, out     Matrix
	dx, t      Matrix // owned buffers (t: the tangent)
	jdst, jsrc Matrix // mul's output and input

	fwd, bwd dropoutPass
}

// NewDropout returns a dropout layer with drop probability p that draws its
// masks from rng (give it its own stream, e.g. rng.Split("dropout1")).
func NewDropout(p float32, rng *RNG) *Dropout {
	if !(p >= 0 && p < 1) {
		panic(fmt.Sprintf("nn.NewDropout: p = %v, want 0 <= p < 1", p))
	}
	d := &Dropout{P: p, rng: rng}
	d.fwd, d.bwd = dropoutPass{d, false}, dropoutPass{d, true}
	return d
}

// Params returns nothing: dropout has no parameters.
func (d *Dropout) Params() []*Param { return nil }

// dropoutPass is one direction of the layer's element-wise work, as a
// Ranger.
type dropoutPass struct {
	d        *Dropout
	backward bool
}

func (q *dropoutPass) Range(lo, hi int) {
	d := q.d
	if !q.backward {
		dropoutForward(d.out.Data[lo:hi], d.x.Data[lo:hi], lo, d.seed, d.thresh, d.scale, d.ReLU)
	} else if d.ReLU {
		// The output is positive exactly where the input was positive and
		// the element was kept.
		reluMaskScale(d.jdst.Data[lo:hi], d.jsrc.Data[lo:hi], d.out.Data[lo:hi], d.scale)
	} else {
		dropoutForward(d.jdst.Data[lo:hi], d.jsrc.Data[lo:hi], lo, d.seed, d.thresh, d.scale, false)
	}
}

// Forward applies a fresh mask in training and is the identity (returning x
// itself) in evaluation or when P = 0; with ReLU it is then a ReLU.
func (d *Dropout) Forward(x Matrix, train bool) Matrix {
	n := x.Rows * x.Cols
	if !train || d.P == 0 {
		if !d.ReLU {
			d.identity = true
			return x
		}
		// A ReLU: keep everything, unscaled.
		d.seed, d.thresh, d.scale = 0, 0, 1
	} else if !d.frozen || d.n != n || d.identity || d.thresh == 0 {
		d.seed = uint64(d.rng.IntN(math.MaxInt))
		d.thresh = dropThreshold(d.P)
		d.scale = 1 / (1 - d.P)
	}
	d.identity = false
	d.n = n
	if d.fwd.d == nil { // a layer made by a struct literal
		d.fwd, d.bwd = dropoutPass{d, false}, dropoutPass{d, true}
	}
	d.x = x
	if d.InPlace {
		d.out = x
	} else {
		d.out = Resize(d.out, x.Rows, x.Cols)
	}
	ParallelRange(n, elementwiseMin/4, &d.fwd)
	return d.out
}

// Backward multiplies the gradient by the last mask (returns dy itself when
// the last Forward was the identity).
func (d *Dropout) Backward(dy Matrix) Matrix {
	if d.identity {
		return dy
	}
	n := dy.Rows * dy.Cols
	if n != d.n {
		panic(fmt.Sprintf("nn.Dropout: output gradient has %d values, the last Forward %d", n, d.n))
	}
	dx := dy
	if !d.InPlace {
		d.dx = Resize(d.dx, dy.Rows, dy.Cols)
		dx = d.dx
	}
	d.mul(dx, dy)
	return dx
}

// mul sets dst (which may be v) to the product of the last Forward's
// Jacobian with v: the mask (and the ReLU's), a diagonal, so that it is
// both Backward's product and the tangent's.
func (d *Dropout) mul(dst, v Matrix) {
	n := v.Rows * v.Cols
	d.jdst, d.jsrc = dst, v
	if d.ReLU {
		ParallelRange(n, elementwiseMin, &d.bwd)
	} else {
		ParallelRange(n, elementwiseMin/4, &d.bwd)
	}
	d.jdst, d.jsrc = Matrix{}, Matrix{}
}

// ForwardTangent returns Forward(x) and ẏ = mask ⊙ ẋ (and the fused ReLU's
// derivative), written over dx with InPlace; ẋ itself when Forward is the
// identity. See TangentLayer.
func (d *Dropout) ForwardTangent(x, dx Matrix, train bool) (Matrix, Matrix) {
	y := d.Forward(x, train)
	if !hasTangent("Dropout", y, dx) {
		return y, Matrix{}
	}
	if d.identity {
		return y, dx
	}
	t := dx
	if !d.InPlace {
		d.t = Resize(d.t, dx.Rows, dx.Cols)
		t = d.t
	}
	d.mul(t, dx)
	return y, t
}

// Share returns a dropout layer with the same settings that draws its
// masks from the same random source (see Sharer): passes through the two
// draw masks one after the other, as two passes through one layer would.
func (d *Dropout) Share() Layer {
	t := NewDropout(d.P, d.rng)
	t.ReLU, t.InPlace, t.frozen = d.ReLU, d.InPlace, d.frozen
	return t
}

// freezeMask makes training Forwards reuse the current mask (as long as the
// size matches) instead of drawing a new one, so finite differences see the
// same function on every call.
func (d *Dropout) freezeMask(on bool) { d.frozen = on }

// dropThreshold is P scaled to 32 bits: an element is dropped when its
// uniform 32-bit draw is below it.
func dropThreshold(p float32) uint32 {
	t := math.Round(float64(p) * (1 << 32))
	return uint32(min(t, math.MaxUint32))
}

// dropoutMask sets mask[j] for the elements first, first+1, ... of a mask to
// 0 (dropped) or scale (kept). Element i takes 32 bits of hash(seed, i/2):
// the low half when i is even, the high half when it is odd, so one hash
// serves two elements and any chunking gives the same mask.
func dropoutMask(mask []float32, first int, seed uint64, thresh uint32, scale float32) {
	j := 0
	if first&1 == 1 && len(mask) > 0 {
		mask[0] = dropoutKeep(uint32(dropoutHash(seed, uint64(first>>1))>>32), thresh, scale)
		j = 1
	}
	for ; j+1 < len(mask); j += 2 {
		h := dropoutHash(seed, uint64((first+j)>>1))
		mask[j] = dropoutKeep(uint32(h), thresh, scale)
		mask[j+1] = dropoutKeep(uint32(h>>32), thresh, scale)
	}
	if j < len(mask) {
		mask[j] = dropoutKeep(uint32(dropoutHash(seed, uint64((first+j)>>1))), thresh, scale)
	}
}

// dropoutKeep is 0 when u < thresh and scale otherwise, without a branch (a
// random 20 % drop rate would mispredict constantly): the 64-bit difference
// u − thresh is negative exactly when the element is dropped.
func dropoutKeep(u, thresh uint32, scale float32) float32 {
	drop := uint32((int64(u) - int64(thresh)) >> 63)
	return math.Float32frombits(math.Float32bits(scale) &^ drop)
}

// dropoutHash is SplitMix64's output function applied to the i-th point of the
// stream seeded by seed: a cheap, well-mixed counter-based hash.
func dropoutHash(seed, i uint64) uint64 {
	z := seed + (i+1)*0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// dropoutForward sets dst[j] = x·mask[first+j] for the elements first,
// first+1, ... of a mask (see dropoutMask), where x is src[j], or max(0,
// src[j]) with relu. Backward applies the same function to the gradient.
// dst may be src.
func dropoutForward(dst, src []float32, first int, seed uint64, thresh uint32, scale float32, relu bool) {
	src = src[:len(dst)]
	j := 0
	if first&1 == 1 && len(dst) > 0 {
		dst[0] = dropoutInput(src[0], relu) * dropoutKeep(uint32(dropoutHash(seed, uint64(first>>1))>>32), thresh, scale)
		j = 1
	}
	if vecLevel == vecAVX512 && len(dst)-j >= 16 {
		n := (len(dst) - j) &^ 15
		var a dropoutArgs
		a.init(seed, uint64(first+j)>>1, thresh, scale)
		_ = src[j+n-1]
		dropoutAVX512(&a, &dst[j], &src[j], n, relu)
		j += n
	}
	for ; j+1 < len(dst); j += 2 {
		h := dropoutHash(seed, uint64((first+j)>>1))
		dst[j] = dropoutInput(src[j], relu) * dropoutKeep(uint32(h), thresh, scale)
		dst[j+1] = dropoutInput(src[j+1], relu) * dropoutKeep(uint32(h>>32), thresh, scale)
	}
	if j < len(dst) {
		dst[j] = dropoutInput(src[j], relu) * dropoutKeep(uint32(dropoutHash(seed, uint64((first+j)>>1))), thresh, scale)
	}
}

// dropoutInput is x, or max(0, x) with relu (see reluForward).
func dropoutInput(x float32, relu bool) float32 {
	if !relu {
		return x
	}
	b := math.Float32bits(x)
	return math.Float32frombits(b &^ uint32(int32(b)>>31))
}

// dropoutArgs are the parameters of the vector dropout kernel, laid out for
// the assembly (vec_amd64.s): keep the order.
type dropoutArgs struct {
	z      [8]uint64 // (i+1)·golden for the 8 hash indices i of the first 16 elements
	seed   uint64
	inc    uint64 // 8·golden: z's step per 16 elements
	thresh uint32
	scale  float32
}

// dropoutGolden is the increment of SplitMix64 (see dropoutHash).
const dropoutGolden = 0x9e3779b97f4a7c15

// init sets the arguments for elements starting at 2·i.
func (a *dropoutArgs) init(seed, i uint64, thresh uint32, scale float32) {
	for l := range a.z {
		a.z[l] = (i + uint64(l) + 1) * dropoutGolden
	}
	g := uint64(dropoutGolden)
	a.seed, a.inc, a.thresh, a.scale = seed, 8*g, thresh, scale
}

// reluMaskScale sets dst = dy·scale where y > 0 and +0 elsewhere (dst may
// alias dy): the backward pass of a ReLU (scale 1) or of a ReLU followed by
// dropout, whose output y is positive exactly where the gradient flows.
func reluMaskScale(dst, dy, y []float32, scale float32) {
	dy, y = dy[:len(dst)], y[:len(dst)]
	j := 0
	if vecLevel == vecAVX512 && len(dst) >= 16 {
		j = len(dst) &^ 15
		reluMaskScaleAVX512(&dst[0], &dy[0], &y[0], j, scale)
	}
	for ; j < len(dst); j++ {
		yb := int32(math.Float32bits(y[j]))
		mask := uint32((-yb & ^yb) >> 31) // see reluBackward
		dst[j] = math.Float32frombits(math.Float32bits(dy[j]*scale) & mask)
	}
}
