// Package workpool is the one pool of worker goroutines that the parallel
// passes of methods/nn and the GEMM of methods/nn/gemm share. A caller
// offers its task to idle workers and does the task's work itself too; a
// worker that is free joins it, one that is not lets the offer go (the
// caller never waits for a worker that has not started). Idle workers poll
// for offers a short while before they block, since passes come in runs and
// a blocked worker takes longer to wake than a small pass takes.
//
// One pool rather than one per package: each polling worker takes a core
// while it polls, and on a machine of two cores two pools' pollers took as
// much time from the work as they gave it.
package workpool

import (
	"runtime"
	"sync"
	"time"
)

// Task is work several goroutines can share.
type Task interface {
	// Join adds the calling worker to the task; false when the task no
	// longer takes workers (the caller has finished it).
	Join() bool
	// Help does the task's work until none is left, then records that
	// this worker is done with it; it is called after a successful Join.
	Help()
}

// spin is how long an idle worker polls for an offer before it blocks,
// yielding every yield: without yields a polling worker was seen to be
// preempted into a run queue that no awake thread served.
const (
	spin  = 50 * time.Microsecond
	yield = 2 * time.Microsecond
)

var (
	mu      sync.Mutex
	workers int
	offers  = make(chan Task, 64)
)

// Offer offers t to up to n idle workers, starting workers until there are
// n; offers that find the queue full are dropped.
func Offer(t Task, n int) {
	mu.Lock()
	for workers < n {
		workers++
		go worker()
	}
	mu.Unlock()
	for range n {
		select {
		case offers <- t:
		default: // the queue is full of stale offers: do without
		}
	}
}

func worker() {
	for {
		var t Task
		select {
		case t = <-offers:
		default:
			start := time.Now()
			last := start
		poll:
			for {
				select {
				case t = <-offers:
					break poll
				default:
				}
				now := time.Now()
				if now.Sub(start) > spin {
					t = <-offers
					break
				}
				if now.Sub(last) > yield {
					runtime.Gosched()
					last = now
				}
			}
		}
		if t.Join() {
			t.Help()
		}
	}
}
