package noprop

import (
	"fmt"
	"runtime"
	"slices"
	"sync"

	"github.com/noprop/noprop/methods"
)

// The two training orders' steps (see DTLearner.Learn): the sequential
// order's, divided into the block's share and the rest so that consecutive
// blocks' passes may train at once, and the parallel order's.

// aheadWorkers is how many consecutive blocks' passes the sequential order
// trains at once (methods.Trainer.Ahead): Workers, or for 0 GOMAXPROCS
// with the mlp encoder and 1 with the conv one, whose products already
// keep every core busy and whose every worker would hold a set of layer
// buffers. A learned W_Embed, which every block's step reads and the
// head's step moves, keeps the blocks in turn.
func (l *DTLearner) aheadWorkers() int {
	if l.embed.Learned() {
		return 1
	}
	if w := l.s.Workers; w > 0 {
		return w
	}
	if l.s.Encoder == EncoderMLP {
		return runtime.GOMAXPROCS(0)
	}
	return 1
}

// sequentialStep is one minibatch of the sequential order: block bs takes a
// step on its L2 term, θ_out and W_Embed on CE + KL + that L2 term. It
// returns the loss L_t and the head's correct count.
func (l *DTLearner) sequentialStep(bs *blockState, b methods.Batch) (methods.Step, error) {
	bs.sizeSteps(1)
	l.blockOwn(0, bs, 0, b)
	return l.blockRest(bs, 0, b)
}

// blockOwn is the block's share of step k of the sequential order, by
// worker w (methods.Part.Own): block bs takes a step on its L2 term, which
// it keeps for blockRest. It touches only the block's own state and reads
// W_Embed, which only the head's step moves. A non-finite L2 term leaves
// the block as it was, and blockRest reports it.
func (l *DTLearner) blockOwn(w int, bs *blockState, k int, b methods.Batch) {
	l.lend(w, bs.blk)
	l2 := l.blockStep(bs, b)
	bs.l2s[k], bs.mses[k] = l2, bs.mse
	if finite(l2) {
		bs.opt.Step(bs.blk.Params())
	}
	if l.train.Ahead > 1 {
		// Blocks that train at once must not hold each other's sets: no
		// set stays at a block between steps.
		l.park(w)
	}
}

// blockRest is the rest of step k (methods.Part.Rest): θ_out and W_Embed
// take a step on CE + KL + block bs's L2 term. It returns the loss L_t and
// the head's correct count.
func (l *DTLearner) blockRest(bs *blockState, k int, b methods.Batch) (methods.Step, error) {
	l2 := bs.l2s[k]
	ce, kl, c := l.sharedStep(b)
	loss := ce + kl + l2
	if !finite(loss) {
		return methods.Step{}, divergence(bs.t, l2, ce, kl)
	}
	if l.embed.Learned() {
		addInto(l.embed.W.Grad, bs.embGrad, 1)
	}
	l.shared.Step(l.sharedParams)
	l.termVals = [4]float64{l2, ce, kl, bs.mses[k]}
	return methods.Step{Loss: loss, Correct: c, Terms: l.termVals[:]}, nil
}

// sizeSteps makes room for the per-step terms of a pass of n steps.
func (bs *blockState) sizeSteps(n int) {
	bs.l2s = slices.Grow(bs.l2s[:0], n)[:n]
	bs.mses = slices.Grow(bs.mses[:0], n)[:n]
}

// parallelStep is one minibatch of the parallel order: every block takes a
// step on its own L2 term, concurrently; then θ_out and W_Embed take one
// step on CE + KL + (1/T)·Σ_t L2_t. It returns that loss and the head's
// correct count.
func (l *DTLearner) parallelStep(b methods.Batch) (methods.Step, error) {
	T := len(l.blocks)
	workers := l.s.Workers
	if workers == 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = min(workers, T)
	if l.s.ShareScratch {
		for w := range workers { // the sets exist before the goroutines start
			l.lend(w, l.blocks[w].blk)
		}
	}
	var wg sync.WaitGroup
	// Worker w trains blocks w, w+W, ...: with shared scratch, its set of
	// buffers travels along those blocks and comes back to block w at the
	// next step.
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < T; i += workers {
				bs := l.blocks[i]
				l.lend(w, bs.blk)
				bs.l2 = l.blockStep(bs, b)
				if finite(bs.l2) {
					bs.opt.Step(bs.blk.Params())
				}
			}
			l.park(w)
		}()
	}
	// The head reads W_Embed and writes its gradient, which the blocks only
	// read: it runs alongside them.
	ce, kl, c := l.sharedStep(b)
	wg.Wait()
	var l2, mse float64
	for _, bs := range l.blocks { // in block order: deterministic sums
		if !finite(bs.l2) {
			return methods.Step{}, divergence(bs.t, bs.l2, ce, kl)
		}
		l2 += bs.l2
		mse += bs.mse
		if l.embed.Learned() {
			addInto(l.embed.W.Grad, bs.embGrad, 1/float32(T))
		}
	}
	loss := ce + kl + l2/float64(T)
	if !finite(loss) {
		return methods.Step{}, divergence(0, l2/float64(T), ce, kl)
	}
	l.shared.Step(l.sharedParams)
	l.termVals = [4]float64{l2 / float64(T), ce, kl, mse / float64(T)}
	return methods.Step{Loss: loss, Correct: c, Terms: l.termVals[:]}, nil
}

// divergence is the error for a non-finite loss, before any update is
// applied. block 0 means the head.
func divergence(block int, l2, ce, kl float64) error {
	where := "the head's CE/KL terms"
	if block > 0 {
		where = fmt.Sprintf("block %d", block)
	}
	return fmt.Errorf("loss not finite in %s (L2 %g, CE %g, KL %g): %w; try a lower lr or a smaller eta",
		where, l2, ce, kl, methods.ErrDiverged)
}
