package workpool

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// Ranger is the kernel of a parallel pass: Range(lo, hi) processes the
// items [lo, hi).
type Ranger interface {
	Range(lo, hi int)
}

// Range calls k.Range over [0, n) split into contiguous chunks, one per
// goroutine of up to parts, and waits. Work below minChunk items per
// goroutine runs on the calling goroutine: waking a worker costs more than
// small passes.
//
// The chunks are a pure function of n, minChunk and parts, so every item
// is computed the same way on every run; only which goroutine computes a
// chunk varies. The calling goroutine computes chunks too and never waits
// for a worker that has not started: workers of the pool are offered the
// pass and join it if they are idle, and every chunk that no worker has
// claimed by then is run by the caller. So concurrent and nested calls (a
// Range that itself calls Range, blocks trained from several goroutines at
// once) cannot deadlock, and a steady-state call allocates nothing.
func Range(n, minChunk, parts int, k Ranger) {
	if minChunk < 1 {
		minChunk = 1
	}
	if w := n / minChunk; w < parts {
		parts = w
	}
	if parts <= 1 {
		if n > 0 {
			k.Range(0, n)
		}
		return
	}
	chunk := (n + parts - 1) / parts
	t := getTask()
	t.k, t.n, t.chunk = k, n, chunk
	t.nchunks = (n + chunk - 1) / chunk
	t.next.Store(0)
	t.done.Store(0)
	t.joined.Store(0) // open: publishes the fields above to joiners
	Offer(t, t.nchunks-1)
	t.work()
	joined := t.joined.Swap(-1) // closed: late workers will not join
	for i := 0; t.done.Load() < joined; i++ {
		if i > 64 {
			runtime.Gosched()
		}
	}
	t.k = nil
	putTask(t)
}

// rangeTask is one Range call, shared by the goroutines that run it.
type rangeTask struct {
	k        Ranger
	n, chunk int
	nchunks  int
	next     atomic.Int64 // next chunk to claim
	joined   atomic.Int64 // workers that joined; −1: closed
	done     atomic.Int64 // joined workers that have finished
}

// work claims and runs chunks until none is left.
func (t *rangeTask) work() {
	for {
		c := int(t.next.Add(1) - 1)
		if c >= t.nchunks {
			return
		}
		lo := c * t.chunk
		t.k.Range(lo, min(lo+t.chunk, t.n))
	}
}

// Join adds the calling worker to t unless t is closed. An offer can reach
// a worker after its call has returned, or even after the task was reused
// for a later call, which the worker then helps with.
func (t *rangeTask) Join() bool {
	for {
		n := t.joined.Load()
		if n < 0 {
			return false
		}
		if t.joined.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// Help runs chunks until none is left.
func (t *rangeTask) Help() {
	t.work()
	t.done.Add(1) // the last access to t
}

var (
	taskMu    sync.Mutex
	freeTasks []*rangeTask
)

func getTask() *rangeTask {
	taskMu.Lock()
	if n := len(freeTasks); n > 0 {
		t := freeTasks[n-1]
		freeTasks = freeTasks[:n-1]
		taskMu.Unlock()
		return t
	}
	taskMu.Unlock()
	t := new(rangeTask)
	t.joined.Store(-1)
	return t
}

func putTask(t *rangeTask) {
	taskMu.Lock()
	freeTasks = append(freeTasks, t)
	taskMu.Unlock()
}
