package nn

import (
	"runtime"
	"sync"
)

// ParallelFor calls fn over [0, n) split into contiguous chunks, one per
// available core, and waits. Work below minChunk items per core runs on the
// calling goroutine: spawning costs more than small element-wise passes.
// The split is a pure function of n and GOMAXPROCS, so a chunk's values are
// computed the same way on every run.
func ParallelFor(n, minChunk int, fn func(lo, hi int)) {
	workers := runtime.GOMAXPROCS(0)
	if minChunk < 1 {
		minChunk = 1
	}
	if w := n / minChunk; w < workers {
		workers = w
	}
	if workers <= 1 {
		if n > 0 {
			fn(0, n)
		}
		return
	}
	var wg sync.WaitGroup
	chunk := (n + workers - 1) / workers
	for lo := chunk; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(lo, hi)
		}()
	}
	fn(0, min(chunk, n))
	wg.Wait()
}
