package workpool

import (
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
	t.Open()
	Offer(t, t.nchunks-1)
	t.work()
	t.Close()
	t.k = nil
	putTask(t)
}

// rangeTask is one Range call, shared by the goroutines that run it.
type rangeTask struct {
	k        Ranger
	n, chunk int
	nchunks  int
	next     atomic.Int64 // next chunk to claim
	Crew
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

// Help runs chunks until none is left.
func (t *rangeTask) Help() {
	t.work()
	t.Leave()
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
	return new(rangeTask)
}

func putTask(t *rangeTask) {
	taskMu.Lock()
	freeTasks = append(freeTasks, t)
	taskMu.Unlock()
}
