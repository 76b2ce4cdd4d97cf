package nn

import (
	"runtime"

	"github.com/noprop/noprop/methods/nn/internal/workpool"
)

// Ranger is the kernel of a parallel pass: Range(lo, hi) processes the items
// [lo, hi). A hot pass keeps one Ranger value (a pointer to a struct of the
// layer, say) for its lifetime, so that ParallelRange allocates nothing.
type Ranger interface {
	Range(lo, hi int)
}

// RangeFunc adapts a function to Ranger. Converting a func to an interface
// does not allocate, but a closure that captures variables does when it is
// created: bind method values once, or implement Ranger on a struct.
type RangeFunc func(lo, hi int)

// Range calls f(lo, hi).
func (f RangeFunc) Range(lo, hi int) { f(lo, hi) }

// ParallelFor calls fn over [0, n) split into contiguous chunks, and waits;
// see ParallelRange.
func ParallelFor(n, minChunk int, fn func(lo, hi int)) { ParallelRange(n, minChunk, RangeFunc(fn)) }

// ParallelRange calls k.Range over [0, n) split into contiguous chunks, one
// per available core (GOMAXPROCS), and waits. Work below minChunk items per
// core runs on the calling goroutine: waking a worker costs more than small
// element-wise passes. The chunks depend on n, minChunk and GOMAXPROCS
// alone, so every item is computed the same way on every run; the calling
// goroutine computes chunks too, so concurrent and nested calls cannot
// deadlock, and a steady-state call allocates nothing (workpool.Range).
func ParallelRange(n, minChunk int, k Ranger) { workpool.Range(n, minChunk, runtime.GOMAXPROCS(0), k) }

// splits reports whether ParallelRange(n, minChunk, ·) would use more than
// one goroutine.
func splits(n, minChunk int) bool {
	return n >= 2*max(minChunk, 1) && runtime.GOMAXPROCS(0) > 1
}
