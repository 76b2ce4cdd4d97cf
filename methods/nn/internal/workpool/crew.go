package workpool

import (
	"runtime"
	"sync/atomic"
)

// Crew is the bookkeeping of a Task that workers join: who joined, who
// has finished. A task embeds it (its Join is the Task's Join) and is
// offered between Open and Close. The zero Crew is closed. A task is
// allocated once and reused: an offer can reach a worker after its call
// has returned, or even after the task was reused for a later call, which
// the worker then helps with.
type Crew struct {
	// open is 0 when the crew is closed (the task is not, or no longer,
	// open to workers), else 1 + the number of workers that joined; done
	// counts the joined workers that have finished.
	open atomic.Int64
	done atomic.Int64
}

// Open opens the crew to workers. It publishes every field of the task
// written before it to the workers that join.
func (c *Crew) Open() {
	c.done.Store(0)
	c.open.Store(1)
}

// Join adds the calling worker unless the crew is closed.
func (c *Crew) Join() bool {
	for {
		n := c.open.Load()
		if n == 0 {
			return false
		}
		if c.open.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// Leave records that a joined worker has finished; it must be the
// worker's last access to the task.
func (c *Crew) Leave() { c.done.Add(1) }

// Close closes the crew, so that late workers do not join, and waits for
// the workers that joined, which are running, to leave.
func (c *Crew) Close() {
	joined := c.open.Swap(0) - 1
	for i := 0; c.done.Load() < joined; i++ {
		if i > 64 {
			runtime.Gosched()
		}
	}
}
