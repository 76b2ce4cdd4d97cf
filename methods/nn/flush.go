package nn

import "math"

// FlushThreshold is the magnitude below which Flush replaces a value by zero.
// It sits far above the float32 denormal range (< 1.18e-38) so that values
// decaying geometrically (Adam's moments, momentum buffers) are zeroed before
// they turn denormal, and far below anything that carries information.
const FlushThreshold = 1e-30

// flushBits is math.Float32bits(FlushThreshold). For non-negative floats the
// bit patterns order like the values, so |x| < FlushThreshold is an integer
// compare on the bits with the sign cleared.
const flushBits = 0x0DA24260

// Flush returns x, or +0 when |x| < FlushThreshold. Go has no FTZ/DAZ
// switch and denormal arithmetic costs about 3.4x on the project's CPU
// (docs/performance.md), so long-lived state that can decay is passed through
// Flush on every update. It is branchless: a compare-and-branch on the sign
// mispredicts and costs 2-3x more.
func Flush(x float32) float32 {
	b := math.Float32bits(x)
	// (b&abs)-flushBits is negative (top bit set) exactly when |x| is below
	// the threshold; the arithmetic shift turns that into an all-ones mask.
	mask := uint32(int32((b&0x7fffffff)-flushBits) >> 31)
	return math.Float32frombits(b &^ mask)
}

// FlushSlice applies Flush to every element of xs in place.
func FlushSlice(xs []float32) {
	for i, x := range xs {
		xs[i] = Flush(x)
	}
}

// elementwiseMin is the smallest number of cheap element-wise operations per
// goroutine worth a split; below it, handing work to a worker costs more
// than it saves.
const elementwiseMin = 1 << 15
