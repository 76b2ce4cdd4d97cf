package methods

import (
	"context"
	"fmt"
	"sync"
)

// aheadWorker trains the Own shares of one part's pass on a goroutine of
// its own, ahead of the Trainer, which takes the Rest shares in order.
type aheadWorker struct {
	perm  []int
	buf   batchBuf
	ready chan struct{} // a token for every Own share done
}

// groupSize is how many of parts, from the first, train as one group: up
// to Ahead when each of them is divided into Own and Rest and the first
// starts a fresh pass (a pass restored in its middle finishes alone), 1
// otherwise.
func (tr *Trainer) groupSize(parts []Part) int {
	n := min(tr.Ahead, len(parts))
	if n < 2 || tr.pos.passStarted {
		return 1
	}
	for _, p := range parts[:n] {
		if p.Own == nil || p.Rest == nil {
			return 1
		}
	}
	return n
}

// group makes the passes of parts, parts i, i+1, ... of the round, as
// their turns would: their minibatch orders are drawn in turn, part i
// trains on this goroutine while the others' Own shares run on workers,
// then the others' Rest shares follow in order. Checkpoints are offered
// when the whole group is done, where the position is that of the next
// part in turn; an interrupted group keeps nothing of itself. The
// observer hears the passes' reports when the group is done.
func (tr *Trainer) group(ctx context.Context, run *partRun, i int, parts []Part) error {
	n := run.task.Data.Len()
	tr.pos.round, tr.pos.part = run.round, i
	tr.beginPass(parts[0], n, nil)
	for len(tr.pool) < len(parts)-1 {
		tr.pool = append(tr.pool, &aheadWorker{})
	}
	workers := tr.pool[:len(parts)-1]
	for _, a := range workers {
		a.perm = tr.shuffleInto(a.perm, n)
		if cap(a.ready) < run.steps {
			a.ready = make(chan struct{}, run.steps)
		}
	}
	gctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for j, a := range workers {
		wg.Add(1)
		go a.run(gctx, &wg, run.task, parts[j+1], j+1, run.steps, tr.Training.BatchSize)
	}
	tr.grouped = true
	stop := func() {
		cancel()
		wg.Wait()
		tr.grouped, tr.waitFor = false, nil
		for _, a := range workers {
			for len(a.ready) > 0 {
				<-a.ready
			}
		}
	}
	var err error
	for j, part := range parts {
		if j > 0 {
			tr.waitFor = workers[j-1]
			tr.beginPass(part, n, tr.waitFor.perm)
		}
		if err = tr.part(ctx, run, i+j, part); err != nil {
			break
		}
	}
	stop()
	if run.obs != nil {
		for _, st := range tr.pending {
			run.obs.Epoch(st)
		}
	}
	tr.pending = tr.pending[:0]
	if err != nil {
		return err
	}
	if run.cp != nil && run.cp.CheckpointDue() {
		if err := run.cp.Checkpoint(); err != nil {
			return fmt.Errorf("checkpoint: %w", err)
		}
	}
	return nil
}

// run trains the Own shares of part's pass of steps minibatches in the
// worker's order, as worker w, until the pass ends or ctx is cancelled.
func (a *aheadWorker) run(ctx context.Context, wg *sync.WaitGroup, task TaskData, part Part, w, steps, batch int) {
	defer wg.Done()
	for k := range steps {
		if ctx.Err() != nil {
			return
		}
		part.Own(w, k, a.buf.gather(task, a.perm, k, batch))
		a.ready <- struct{}{}
	}
}

// step takes step k of part on minibatch b: Step, or Own and Rest, where
// Own may have been taken ahead by the worker the pass waits for.
func (tr *Trainer) step(ctx context.Context, part Part, k int, b Batch) (Step, error) {
	if part.Own == nil || part.Rest == nil {
		return part.Step(b)
	}
	if a := tr.waitFor; a != nil {
		select {
		case <-a.ready:
		case <-ctx.Done():
			return Step{}, ctx.Err()
		}
	} else {
		part.Own(0, k, b)
	}
	return part.Rest(k, b)
}
