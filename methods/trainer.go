package methods

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/noprop/noprop/methods/nn"
)

// Trainer is the training scaffold every rule shares: the budget loop
// (epochs, or iterations in rounds of at most one pass), shuffling from the
// rule's own random stream, one rule for the last minibatch, cancellation,
// the divergence and collapse guards, the per-pass report, and checkpoints:
// its whole position within a Learn call is state (VisitState), so a Learn
// call restored from a checkpoint goes on from the step it stopped at, with
// the same minibatch order, as if it had never stopped. A learner keeps one
// Trainer for its life.
type Trainer struct {
	Training Training
	// Order is the random stream minibatch orders are drawn from.
	Order *nn.RNG

	// Ahead is how many consecutive parts of a round may train at once
	// when every part is divided into Own and Rest (see Part); 0 or 1
	// trains them in turn. Results do not depend on it. Checkpoints are
	// offered between such groups of parts, not inside them, and the
	// observer hears a group's pass reports when the whole group is done,
	// so that it never sees the learner while workers train it.
	Ahead int

	buf   batchBuf
	first map[string]float64 // each part's first loss, for the divergence guard
	pos   position

	pool    []*aheadWorker // workers for groups of parts (Ahead)
	grouped bool           // a group of parts is under way
	pending []EpochStats   // its passes' reports, for when it is done
	waitFor *aheadWorker   // the worker whose Own shares the current pass consumes
}

// batchBuf holds one minibatch gathered from the data.
type batchBuf struct {
	xb nn.Matrix
	yb []int
	mb []bool    // the minibatch's rows' masks, when they have their own
	wb []float32 // the minibatch's weights, when the rows have them
}

// position is where a Learn call stands: the next step to take and what the
// current pass has summed so far.
type position struct {
	active bool // a Learn call is under way
	n      int  // examples of its task, to check that a resume fits
	parts  int  // parts it trains
	round  int  // 1-based round of the current pass
	part   int  // the current pass's part
	step   int  // steps of the current pass done
	perm   []int
	// the current pass's sums
	lossSum       float64
	termSums      []float64
	seen, correct int
	measured      bool
	best          []float64 // best training accuracy of each part in this call
	done          int       // steps of this call done, every part
	passStarted   bool      // the current pass has drawn its order
	resumePending bool      // restored from a checkpoint, not yet resumed
}

// NewTrainer returns a Trainer for the settings, drawing minibatch orders
// from order.
func NewTrainer(t Training, order *nn.RNG) *Trainer {
	return &Trainer{Training: t, Order: order, first: map[string]float64{}}
}

// VisitState visits the Trainer's state: the order stream, the divergence
// references and the position within a Learn call.
func (tr *Trainer) VisitState(v nn.StateVisitor, name string) {
	tr.Order.VisitState(v, name+"/order")
	v.Blob(name+"/first", func() []byte {
		b, _ := json.Marshal(tr.first)
		return b
	}, func(b []byte) error { tr.first = map[string]float64{}; return json.Unmarshal(b, &tr.first) })
	p := &tr.pos
	v.Bool(name+"/active", &p.active)
	v.Int(name+"/n", &p.n)
	v.Int(name+"/parts", &p.parts)
	v.Int(name+"/round", &p.round)
	v.Int(name+"/part", &p.part)
	v.Int(name+"/step", &p.step)
	v.Blob(name+"/perm", func() []byte {
		b, _ := json.Marshal(p.perm)
		return b
	}, func(b []byte) error { return json.Unmarshal(b, &p.perm) })
	v.Float64(name+"/loss_sum", &p.lossSum)
	v.Blob(name+"/term_sums", func() []byte { return float64sBytes(p.termSums) },
		func(b []byte) (err error) { p.termSums, err = bytesFloat64s(b); return err })
	v.Int(name+"/seen", &p.seen)
	v.Int(name+"/correct", &p.correct)
	v.Bool(name+"/measured", &p.measured)
	v.Blob(name+"/best", func() []byte {
		b, _ := json.Marshal(p.best)
		return b
	}, func(b []byte) error { return json.Unmarshal(b, &p.best) })
	v.Int(name+"/done", &p.done)
	v.Bool(name+"/pass_started", &p.passStarted)
	// A restored position is resumed by the next Train call.
	p.resumePending = p.active
}

// Done is the number of minibatch steps, over every part, that the current
// Learn call has taken; it survives a checkpoint, so what a rule derives from
// it (a learning-rate schedule) resumes where it stopped.
func (tr *Trainer) Done() int { return tr.pos.done }

// Round is the 1-based epoch (round of the budget) the current Learn call
// is in; it survives a checkpoint like Done.
func (tr *Trainer) Round() int { return tr.pos.round }

// Resuming reports whether the Trainer was restored in the middle of a
// Learn call, which the next Train call will continue.
func (tr *Trainer) Resuming() bool { return tr.pos.resumePending }

// Batches is the number of minibatches of one pass over n examples: every
// full minibatch, and a final partial one unless it would hold a single
// example (BatchNorm needs two; the rule is the same for every method, so
// that all see the same examples).
func (tr *Trainer) Batches(n int) int {
	b := tr.Training.BatchSize
	k := n / b
	if n%b >= 2 {
		k++
	}
	return k
}

// Rounds returns the number of minibatch steps of each round of the budget
// for a pass of full steps: Epochs rounds of full steps, or, with an
// iteration budget, rounds of full steps until Iterations, the last cut
// short.
func (tr *Trainer) Rounds(full int) []int {
	var out []int
	for steps := range tr.rounds(full) {
		out = append(out, steps)
	}
	return out
}

// rounds yields the steps of each round (see Rounds) without building the
// list: an iteration budget may be huge.
func (tr *Trainer) rounds(full int) func(yield func(int) bool) {
	return func(yield func(int) bool) {
		if full < 1 {
			return
		}
		if it := tr.Training.Iterations; it > 0 {
			for ; it > 0; it -= full {
				if !yield(min(full, it)) {
					return
				}
			}
			return
		}
		for range tr.Training.Epochs {
			if !yield(full) {
				return
			}
		}
	}
}

// Train runs the budget on task: for every round, every part in order makes
// one pass over a fresh shuffle of the data, of the round's number of
// minibatch steps, and is reported to obs (nil for none). It stops with
// ctx.Err() when ctx is cancelled (checked before every step), and with an
// error wrapping ErrDiverged or ErrCollapsed when a guard trips. When the
// Trainer was restored in the middle of a Learn call on the same task, Train
// goes on from where it stood. After every step it offers a
// CheckpointObserver the chance to save the learner.
func (tr *Trainer) Train(ctx context.Context, task TaskData, obs Observer, parts ...Part) error {
	if tr.first == nil {
		tr.first = map[string]float64{}
	}
	p := &tr.pos
	if p.resumePending && (p.n != task.Data.Len() || p.parts != len(parts) || len(p.best) != len(parts)) {
		return fmt.Errorf("the restored training position (%d examples, %d parts) does not fit this task (%d examples, %d parts)",
			p.n, p.parts, task.Data.Len(), len(parts))
	}
	if !p.resumePending {
		*p = position{active: true, n: task.Data.Len(), parts: len(parts), round: 1, best: make([]float64, len(parts))}
	}
	p.resumePending = false
	chance := 100 / float64(len(task.Active))
	full := tr.Batches(task.Data.Len())
	prog := progress{total: tr.stepsPerPart(full) * len(parts)}
	prog.obs, _ = obs.(StepObserver)
	cp, _ := obs.(CheckpointObserver)
	run := partRun{task: task, chance: chance, parts: len(parts), prog: &prog, cp: cp, obs: obs}
	r := 0
	for steps := range tr.rounds(full) {
		r++
		if r < p.round {
			continue
		}
		run.round, run.steps = r, steps
		for i := 0; i < len(parts); {
			if r == p.round && i < p.part {
				i++
				continue
			}
			n := tr.groupSize(parts[i:])
			var err error
			if n > 1 {
				err = tr.group(ctx, &run, i, parts[i:i+n])
			} else {
				err = tr.part(ctx, &run, i, parts[i])
			}
			if err != nil {
				return err
			}
			i += n
		}
		p.round, p.part = r+1, 0
	}
	p.active = false
	return nil
}

// partRun is what Train's passes of one round share.
type partRun struct {
	task         TaskData
	chance       float64
	round, steps int
	parts        int
	prog         *progress
	cp           CheckpointObserver
	obs          Observer
}

// part makes part i's pass of the round and reports it.
func (tr *Trainer) part(ctx context.Context, run *partRun, i int, part Part) error {
	p := &tr.pos
	p.round, p.part = run.round, i
	st, err := tr.pass(ctx, run.task, run.steps, part, run.prog, run.cp)
	if err != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil {
		where := fmt.Sprintf("epoch %d", run.round)
		if part.Name != "" {
			where = part.Name + ", " + where
		}
		return fmt.Errorf("%s: %w", where, err)
	}
	st.RoundEnd = i == run.parts-1
	if tr.grouped {
		tr.pending = append(tr.pending, st)
	} else if run.obs != nil {
		run.obs.Epoch(st)
	}
	if tr.Training.CollapseCheck && !math.IsNaN(st.TrainAcc) && len(run.task.Active) > 1 {
		if p.best[i] >= run.chance+(100-run.chance)/2 && st.TrainAcc <= run.chance+(100-run.chance)/10 {
			return fmt.Errorf("%s epoch %d: training accuracy %.1f%% over the whole pass, chance is %.1f%%, after %.1f%% earlier in this task: %w",
				partName(part), run.round, st.TrainAcc, run.chance, p.best[i], ErrCollapsed)
		}
		p.best[i] = max(p.best[i], st.TrainAcc)
	}
	// The next pass starts afresh.
	p.step, p.passStarted = 0, false
	p.part = i + 1
	return nil
}

func partName(p Part) string {
	if p.Name == "" {
		return "training"
	}
	return p.Name
}

// stepsPerPart is the number of steps each part takes in one Learn call.
func (tr *Trainer) stepsPerPart(full int) int {
	if full < 1 {
		return 0
	}
	if it := tr.Training.Iterations; it > 0 {
		return it
	}
	return tr.Training.Epochs * full
}

// progress counts a Learn call's steps for a StepObserver.
type progress struct {
	obs   StepObserver
	total int
}

// pass makes one pass of steps minibatches over a fresh shuffle of data, or
// finishes the pass a restored position stands in.
func (tr *Trainer) pass(ctx context.Context, task TaskData, steps int, part Part, prog *progress, cp CheckpointObserver) (EpochStats, error) {
	start := time.Now()
	p := &tr.pos
	if !p.passStarted {
		tr.beginPass(part, task.Data.Len(), nil)
	}
	first := p.step
	for k := p.step; k < steps; k++ {
		if err := ctx.Err(); err != nil {
			// An interrupted run keeps the steps it made since its last
			// checkpoint: this position is one a due checkpoint takes too.
			if cp != nil && k > first && !tr.grouped {
				if cerr := cp.Checkpoint(); cerr != nil {
					return EpochStats{}, fmt.Errorf("%w (its checkpoint failed: %v)", err, cerr)
				}
			}
			return EpochStats{}, err
		}
		b := tr.batch(task, k)
		y := b.Y
		s, err := tr.step(ctx, part, k, b)
		if err != nil {
			return EpochStats{}, fmt.Errorf("step %d: %w", k+1, err)
		}
		if err := tr.guard(part.Name, s.Loss); err != nil {
			return EpochStats{}, fmt.Errorf("step %d: %w", k+1, err)
		}
		p.lossSum += s.Loss * float64(len(y))
		if len(s.Terms) != len(part.Terms) || len(p.termSums) != len(part.Terms) {
			return EpochStats{}, fmt.Errorf("step %d: %d term values for the %d terms %v", k+1, len(s.Terms), len(part.Terms), part.Terms)
		}
		for i, v := range s.Terms {
			p.termSums[i] += v * float64(len(y))
		}
		p.seen += len(y)
		if s.Correct < 0 {
			p.measured = false
		}
		p.correct += s.Correct
		p.step, p.done = k+1, p.done+1
		if prog.obs != nil {
			prog.obs.Step(Progress{Part: part.Name, Epoch: p.round, Done: p.done, Total: prog.total, Examples: len(y)})
		}
		if cp != nil && k+1 < steps && !tr.grouped && cp.CheckpointDue() {
			if err := cp.Checkpoint(); err != nil {
				return EpochStats{}, fmt.Errorf("checkpoint: %w", err)
			}
		}
	}
	st := EpochStats{Epoch: p.round, Part: part.Name, Loss: p.lossSum / float64(max(p.seen, 1)), TrainAcc: math.NaN(),
		Seconds: time.Since(start).Seconds(), Examples: p.seen}
	if p.measured && p.seen > 0 {
		st.TrainAcc = 100 * float64(p.correct) / float64(p.seen)
	}
	if len(part.Terms) > 0 {
		st.Terms = make([]Term, len(part.Terms))
		for i, name := range part.Terms {
			st.Terms[i] = Term{Name: name, Value: p.termSums[i] / float64(max(p.seen, 1))}
		}
	}
	return st, nil
}

// beginPass starts a pass of part over n examples: in the order perm, or
// in one drawn now when perm is nil.
func (tr *Trainer) beginPass(part Part, n int, perm []int) {
	p := &tr.pos
	if perm == nil {
		tr.shuffle(n)
	} else {
		p.perm = append(p.perm[:0], perm...)
	}
	p.step, p.lossSum, p.seen, p.correct, p.measured, p.passStarted = 0, 0, 0, 0, true, true
	p.termSums = p.termSums[:0]
	for range part.Terms {
		p.termSums = append(p.termSums, 0)
	}
}

// guard checks a step's loss for divergence.
func (tr *Trainer) guard(part string, loss float64) error {
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		return fmt.Errorf("loss is %v: %w; try a lower learning rate", loss, ErrDiverged)
	}
	ref, ok := tr.first[part]
	if !ok {
		tr.first[part] = loss
		return nil
	}
	if limit := tr.Training.DivergenceFactor * max(1, math.Abs(ref)); math.Abs(loss) > limit {
		return fmt.Errorf("loss %.4g exceeds %g × max(1, first loss %.4g): %w; try a lower learning rate",
			loss, tr.Training.DivergenceFactor, ref, ErrDiverged)
	}
	return nil
}

// shuffle draws a new minibatch order over n examples.
func (tr *Trainer) shuffle(n int) {
	tr.pos.perm = tr.shuffleInto(tr.pos.perm, n)
}

// shuffleInto draws a new minibatch order over n examples into perm,
// reusing its array when it can.
func (tr *Trainer) shuffleInto(perm []int, n int) []int {
	perm = grow(perm, n)
	for i := range perm {
		perm[i] = i
	}
	tr.Order.Shuffle(perm)
	return perm
}

// batch gathers minibatch k of the current order into the Trainer's buffers.
func (tr *Trainer) batch(task TaskData, k int) Batch {
	return tr.buf.gather(task, tr.pos.perm, k, tr.Training.BatchSize)
}

// gather fills the buffers with minibatch k of the order perm, of size b.
func (bb *batchBuf) gather(task TaskData, perm []int, k, b int) Batch {
	data := task.Data
	lo := k * b
	hi := min(lo+b, data.Len())
	d, m := data.Shape.Size(), len(task.Mask)
	bb.xb = nn.Resize(bb.xb, hi-lo, d)
	if cap(bb.yb) < hi-lo {
		bb.yb = make([]int, b)
	}
	bb.yb = bb.yb[:hi-lo]
	out := Batch{Mask: task.Mask, Outputs: m}
	if task.RowMask != nil {
		bb.mb = grow(bb.mb, (hi-lo)*m)
		out.Mask = bb.mb
	}
	if data.Weight != nil {
		bb.wb = grow(bb.wb, hi-lo)
		out.Weight = bb.wb
	}
	for r, i := range perm[lo:hi] {
		copy(bb.xb.Row(r), data.Row(i))
		bb.yb[r] = data.Y[i]
		if task.RowMask != nil {
			copy(bb.mb[r*m:(r+1)*m], task.RowMask[i*m:(i+1)*m])
		}
		if data.Weight != nil {
			bb.wb[r] = data.Weight[i]
		}
	}
	out.X, out.Y = bb.xb, bb.yb
	return out
}

// grow returns s resized to n values, reusing its array when it can.
func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// float64sBytes encodes xs exactly, 8 bytes each.
func float64sBytes(xs []float64) []byte {
	b := make([]byte, 0, 8*len(xs))
	for _, x := range xs {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(x))
	}
	return b
}

// bytesFloat64s decodes what float64sBytes wrote.
func bytesFloat64s(b []byte) ([]float64, error) {
	if len(b)%8 != 0 {
		return nil, fmt.Errorf("%d bytes are not whole float64 values", len(b))
	}
	xs := make([]float64, len(b)/8)
	for i := range xs {
		xs[i] = math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:]))
	}
	return xs, nil
}
