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
// does not depend on how ParallelFor splits the work (nor on GOMAXPROCS).
type Dropout struct {
	// P is the drop probability, in [0, 1). P = 0 makes the layer the
	// identity.
	P float32

	rng *RNG

	mask     []float32 // per element: 0 or 1/(1-P), from the last training Forward
	identity bool      // the last Forward passed its input through
	frozen   bool      // reuse mask instead of drawing a new one (gradient checks)

	seed   uint64
	thresh uint32 // drop when the element's 32 random bits are < thresh
	scale  float32
	x, out Matrix
	dy, dx Matrix

	fwdFn, frozenFn, bwdFn func(lo, hi int)
}

// NewDropout returns a dropout layer with drop probability p that draws its
// masks from rng (give it its own stream, e.g. rng.Split("dropout1")).
func NewDropout(p float32, rng *RNG) *Dropout {
	if !(p >= 0 && p < 1) {
		panic(fmt.Sprintf("nn.NewDropout: p = %v, want 0 <= p < 1", p))
	}
	d := &Dropout{P: p, rng: rng}
	d.fwdFn = d.fwdRange
	d.frozenFn = d.frozenRange
	d.bwdFn = d.bwdRange
	return d
}

// Params returns nothing: dropout has no parameters.
func (d *Dropout) Params() []*Param { return nil }

// Forward applies a fresh mask in training and is the identity (returning x
// itself) in evaluation or when P = 0.
func (d *Dropout) Forward(x Matrix, train bool) Matrix {
	if !train || d.P == 0 {
		d.identity = true
		return x
	}
	d.identity = false
	n := x.Rows * x.Cols
	reuse := d.frozen && len(d.mask) == n
	if !reuse {
		if cap(d.mask) < n {
			d.mask = make([]float32, n)
		}
		d.mask = d.mask[:n]
		d.seed = uint64(d.rng.IntN(math.MaxInt))
		d.thresh = dropThreshold(d.P)
		d.scale = 1 / (1 - d.P)
	}
	d.x = x
	d.out = Resize(d.out, x.Rows, x.Cols)
	if reuse {
		ParallelFor(n, elementwiseMin, d.frozenFn)
	} else {
		ParallelFor(n, elementwiseMin/4, d.fwdFn)
	}
	return d.out
}

// Backward multiplies the gradient by the last mask (returns dy itself when
// the last Forward was the identity).
func (d *Dropout) Backward(dy Matrix) Matrix {
	if d.identity {
		return dy
	}
	n := dy.Rows * dy.Cols
	if n != len(d.mask) {
		panic(fmt.Sprintf("nn.Dropout: output gradient has %d values, the mask %d", n, len(d.mask)))
	}
	d.dy = dy
	d.dx = Resize(d.dx, dy.Rows, dy.Cols)
	ParallelFor(n, elementwiseMin, d.bwdFn)
	return d.dx
}

// freezeMask makes training Forwards reuse the current mask (as long as the
// size matches) instead of drawing a new one, so finite differences see the
// same function on every call.
func (d *Dropout) freezeMask(on bool) { d.frozen = on }

func (d *Dropout) fwdRange(lo, hi int) {
	dropoutMask(d.mask[lo:hi], lo, d.seed, d.thresh, d.scale)
	dropoutApply(d.out.Data[lo:hi], d.x.Data[lo:hi], d.mask[lo:hi])
}

// frozenRange multiplies the input by the existing (frozen) mask.
func (d *Dropout) frozenRange(lo, hi int) {
	dropoutApply(d.out.Data[lo:hi], d.x.Data[lo:hi], d.mask[lo:hi])
}

func (d *Dropout) bwdRange(lo, hi int) {
	dropoutApply(d.dx.Data[lo:hi], d.dy.Data[lo:hi], d.mask[lo:hi])
}

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

// dropoutApply sets dst = a ⊙ b. It is the whole of dropout's forward, backward
// and (later) tangent rule.
func dropoutApply(dst, a, b []float32) {
	a = a[:len(dst)]
	b = b[:len(dst)]
	for i := range dst {
		dst[i] = a[i] * b[i]
	}
}
