package nn

import (
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countRanger counts the visits of every item and records the chunks.
type countRanger struct {
	hits   []atomic.Int32
	mu     sync.Mutex
	chunks [][2]int
}

func (r *countRanger) Range(lo, hi int) {
	for i := lo; i < hi; i++ {
		r.hits[i].Add(1)
	}
	r.mu.Lock()
	r.chunks = append(r.chunks, [2]int{lo, hi})
	r.mu.Unlock()
}

// Every item is visited exactly once, and the chunks are the same on every
// call (a pure function of n, minChunk and GOMAXPROCS).
func TestParallelRangeCovers(t *testing.T) {
	for _, procs := range []int{1, 2, 3} {
		func() {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
			for _, n := range []int{0, 1, 7, 100, 1000, 4097} {
				for _, minChunk := range []int{0, 1, 10, 1000} {
					var first [][2]int
					for rep := range 3 {
						r := &countRanger{hits: make([]atomic.Int32, n)}
						ParallelRange(n, minChunk, r)
						for i := range r.hits {
							if h := r.hits[i].Load(); h != 1 {
								t.Fatalf("procs %d n %d minChunk %d: item %d visited %d times", procs, n, minChunk, i, h)
							}
						}
						slices.SortFunc(r.chunks, func(a, b [2]int) int { return a[0] - b[0] })
						if rep == 0 {
							first = r.chunks
						} else if !slices.Equal(first, r.chunks) {
							t.Fatalf("procs %d n %d minChunk %d: chunks %v, then %v", procs, n, minChunk, first, r.chunks)
						}
					}
				}
			}
		}()
	}
}

// nestedRanger runs a parallel pass inside each of its chunks.
type nestedRanger struct {
	inner *countRanger
	width int
}

func (r *nestedRanger) Range(lo, hi int) {
	for i := lo; i < hi; i++ {
		ParallelFor(r.width, 1, func(a, b int) { r.inner.Range(i*r.width+a, i*r.width+b) })
	}
}

// Nested calls and calls from several goroutines at once (NoProp's
// block-parallel order) complete, and still visit every item once.
func TestParallelRangeNestedConcurrent(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	done := make(chan struct{})
	go func() {
		defer close(done)
		var wg sync.WaitGroup
		for g := range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 50 {
					outer, width := 8+g, 64
					r := &nestedRanger{inner: &countRanger{hits: make([]atomic.Int32, outer*width)}, width: width}
					ParallelRange(outer, 1, r)
					for i := range r.inner.hits {
						if h := r.inner.hits[i].Load(); h != 1 {
							t.Errorf("goroutine %d: item %d visited %d times", g, i, h)
							return
						}
					}
				}
			}()
		}
		wg.Wait()
	}()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("nested parallel passes did not finish: deadlock?")
	}
}

type sumRanger struct{ x []float32 }

func (r *sumRanger) Range(lo, hi int) {
	for i := lo; i < hi; i++ {
		r.x[i] += 1
	}
}

// A split pass allocates nothing, through a Ranger or a bound method value.
func TestParallelRangeNoAllocs(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	r := &sumRanger{x: make([]float32, 1<<16)}
	fn := r.Range
	ParallelRange(len(r.x), 1024, r)
	if n := testing.AllocsPerRun(100, func() {
		ParallelRange(len(r.x), 1024, r)
		ParallelFor(len(r.x), 1024, fn)
	}); n != 0 {
		t.Errorf("ParallelRange allocates %v times per call", n)
	}
}
