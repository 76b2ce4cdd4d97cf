package harness

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"slices"
	"time"

	"github.com/noprop/noprop/methods"
	"github.com/noprop/noprop/methods/nn"
	"github.com/noprop/noprop/results/metrics"
	"github.com/noprop/noprop/tasks"
)

// learnStream is a run's work once its learner is built: every task of
// the stream learned in turn as the spec's strategy says, every task
// evaluated after each (the accuracy matrix), the observers told,
// checkpoints taken.
func (rn *Runner) learnStream(ctx context.Context, info RunInfo, l methods.Learner, s tasks.Stream, sc tasks.Scenario, cp *checkpointer) (Result, error) {
	ls := newSession(rn, ctx, info, l, s, sc, cp)
	first, log, err := ls.resume()
	if err != nil {
		return ls.res, err
	}
	for k := first; k < len(s.Tasks); k++ {
		if log, err = ls.learnTask(k, log); err != nil {
			return ls.res, err
		}
		if err := ls.evaluate(k+1, log); err != nil {
			return ls.res, err
		}
		log = nil
	}
	ls.res.Metrics = metrics.All(ls.res.Matrix)
	if ls.res.ValMatrix != nil {
		ls.res.Metrics = append(ls.res.Metrics, valACC(ls.res.ValMatrix))
	}
	return ls.res, nil
}

// valACC is ACC of the validation matrix, named metrics.ValACC.
func valACC(val [][]float64) metrics.Metric {
	m := metrics.AverageAccuracy(val)
	m.Name = metrics.ValACC
	return m
}

// session is one run learning its stream.
type session struct {
	rn   *Runner
	ctx  context.Context
	info RunInfo
	l    methods.Learner
	s    tasks.Stream
	sc   tasks.Scenario
	cp   *checkpointer
	res  Result
	// runs is the number of inference runs per evaluation; st is the
	// learner's seed control when its inference is stochastic.
	runs int
	st   methods.Stochastic
	// strategy chooses each task's Learn calls; call is the first call of
	// the first task learned (a checkpoint taken during a later call of a
	// task resumes at that call).
	strategy Strategy
	call     int
	// lastProbe is the probe of the last row recorded, which a repeated
	// row (joint's) repeats.
	lastProbe []StageAccuracy
	// embeds[i] is row i's Eval.Embedding (nil until recorded, and for a
	// learner without learned embedding rows).
	embeds [][]float32
}

func newSession(rn *Runner, ctx context.Context, info RunInfo, l methods.Learner, s tasks.Stream, sc tasks.Scenario, cp *checkpointer) *session {
	strategy, err := info.Spec.strategy()
	if err != nil {
		// Spec.Validate refused it before the run began; the runner's
		// recover turns this into the run's failure.
		panic(err)
	}
	T := len(s.Tasks)
	ls := &session{rn: rn, ctx: ctx, info: info, l: l, s: s, sc: sc, cp: cp, runs: 1, strategy: strategy,
		res: Result{Matrix: make([][]float64, T+1)}, embeds: make([][]float32, T+1)}
	if s.Choices.Validation > 0 {
		ls.res.ValMatrix = make([][]float64, T+1)
	}
	if st, ok := l.(methods.Stochastic); ok {
		ls.st, ls.runs = st, info.Spec.InferenceRuns
	}
	if _, ok := l.(methods.Prober); info.Spec.Probe && !ok && rn.Log != nil {
		fmt.Fprintf(rn.Log, "   %s names no stages to probe (the probe is NoProp-DT's and backprop-dt's): none is stored\n", info.Spec.MethodName())
	}
	if ls.runs > 1 {
		ls.res.Inference = make([][][]float64, ls.runs)
		for k := range ls.res.Inference {
			ls.res.Inference[k] = make([][]float64, T+1)
		}
	}
	return ls
}

// curriculum is what the session's strategy chooses from.
func (ls *session) curriculum() Curriculum { return Curriculum{Stream: ls.s, Scenario: ls.sc} }

// scored is the last task (0-based) whose outputs row i of the matrix is
// scored with (-1: the untrained model's row 0, scored with the first
// task's).
func (ls *session) scored(i int) int {
	if i == 0 {
		return -1
	}
	return ls.strategy.Scored(ls.curriculum(), i-1)
}

// resume records the rows a checkpoint saved, or evaluates the untrained
// learner; it returns the first task to learn and the restored log of the
// task under way.
func (ls *session) resume() (first int, log []methods.EpochStats, err error) {
	cp := ls.cp
	if cp == nil || len(cp.ck.Rows) == 0 {
		return 0, nil, ls.evaluate(0, nil)
	}
	// The saved rows are this run's; the tasks after them are learned from
	// the restored learner.
	rows := cp.ck.Rows
	first, log, ls.call = cp.ck.Done, cp.ck.Log, cp.ck.Call
	cp.ck.Rows = nil
	every := ls.info.Spec.TestEvery
	on := ls.info.Spec.CurveOn
	unmeasured(log, every, on)
	for _, e := range rows {
		unmeasured(e.Log, every, on)
		if err := ls.record(e, true); err != nil {
			return 0, nil, err
		}
	}
	cp.ck.Log = log
	return first, log, nil
}

// learnTask learns task k (0-based), its log so far given, and returns its
// whole log: the Learn calls the strategy chooses, in order (their logs one
// after another). Each call's training set is got for the call and dropped
// after it: a permuted task's is a new copy (tasks.Examples), so only one
// call's is held at a time.
func (ls *session) learnTask(k int, log []methods.EpochStats) ([]methods.EpochStats, error) {
	obs := &relay{rn: ls.rn, info: ls.info, task: k + 1, log: log, cp: ls.cp}
	if every := ls.info.Spec.TestEvery; every > 0 {
		obs.every = every
		if ls.info.Spec.CurveOn == CurveOnVal {
			obs.val = func() (float64, error) { return ls.validate(ls.scored(k+1), k) }
		} else {
			obs.test = func() (float64, error) { return ls.scoreFirst(ls.scored(k+1), k) }
		}
	}
	lessons := ls.strategy.Lessons(ls.curriculum(), k)
	first := ls.call
	ls.call = 0
	for c := first; c < len(lessons); c++ {
		obs.call = c
		// A permuted task's training set is as large as the dataset. The
		// heap is collected before the set is made, so that the garbage of
		// the evaluation before it (test examples made a chunk at a time)
		// is not still there beside it, and after it is dropped, so that
		// it does not set the heap's next growth target (twice the live
		// heap): the peak stays near the dataset and one task's set (about
		// 0.5 GB for padded MNIST), not twice that. A collection takes
		// about a millisecond: the heap is mostly pixels, which hold no
		// pointers.
		runtime.GC()
		err := ls.l.Learn(ls.ctx, lessons[c].Data(), lessons[c].Active, obs)
		runtime.GC()
		if err != nil {
			return nil, &taskError{task: k + 1, err: err}
		}
	}
	return obs.log, nil
}

// scoreRuns is every inference run's accuracy on task j's test set after
// task learned (0-based: the outputs of task learned and those before it
// are the ones compared in class-IL). The test set is taken EvalChunk
// examples at a time, each chunk made once for all runs: a permuted task's
// are made for the chunk and dropped after it (tasks.Examples), so scoring
// leaves little garbage.
func (ls *session) scoreRuns(learned, j int) ([]float64, error) {
	t := ls.s.Tasks[j]
	rows := func(lo, hi int) tasks.Set { return ls.sc.Relabel(t, t.Test.Rows(lo, hi)) }
	return accuracies(ls.ctx, ls.l, t.Test.Len(), rows, ls.sc.EvalActive(ls.s, learned, j), ls.runs, ls.seeds(j))
}

// scoreFirst is the first inference run's accuracy on task j's test set
// (a learning curve's point).
func (ls *session) scoreFirst(learned, j int) (float64, error) {
	t := ls.s.Tasks[j]
	rows := func(lo, hi int) tasks.Set { return ls.sc.Relabel(t, t.Test.Rows(lo, hi)) }
	accs, err := accuracies(ls.ctx, ls.l, t.Test.Len(), rows, ls.sc.EvalActive(ls.s, learned, j), 1, ls.seeds(j))
	if err != nil {
		return 0, err
	}
	return accs[0], nil
}

// seeds gives the inference seed of run k on chunk c of task j's examples;
// nil for a deterministic learner.
func (ls *session) seeds(j int) func(k, c int) uint64 {
	if ls.st == nil {
		return nil
	}
	return func(k, c int) uint64 { return inferenceSeed(k, j, c) }
}

// evaluate scores every task after task i (0: untrained) with every
// inference run and records the row. A task at which the strategy learned
// nothing, scored with the masks of the row before, leaves the model as
// it was: that row is recorded again, not scored again (joint's rows).
func (ls *session) evaluate(i int, log []methods.EpochStats) error {
	if i > 1 && len(ls.strategy.Lessons(ls.curriculum(), i-1)) == 0 && ls.scored(i) == ls.scored(i-1) {
		return ls.record(ls.repeat(i, log), false)
	}
	T := len(ls.s.Tasks)
	e := Eval{AfterTask: i, Acc: make([]float64, T), Log: log, Seconds: make([]float64, T)}
	rows := make([][]float64, ls.runs)
	for k := range rows {
		rows[k] = make([]float64, T)
	}
	for j := range T {
		start := time.Now()
		accs, err := ls.scoreRuns(ls.scored(i), j)
		e.Seconds[j] = time.Since(start).Seconds()
		if err != nil {
			return err
		}
		for k, acc := range accs {
			rows[k][j] = acc
			e.Acc[j] += acc / float64(ls.runs)
		}
	}
	if ls.res.Inference != nil {
		e.Inference = rows
	}
	if ls.res.ValMatrix != nil {
		e.ValAcc = make([]float64, T)
		for j := range T {
			acc, err := ls.validate(ls.scored(i), j)
			if err != nil {
				return err
			}
			e.ValAcc[j] = acc
		}
	}
	if p, ok := ls.l.(methods.Prober); ok && ls.info.Spec.Probe {
		var err error
		if e.Probe, e.Embedding, err = ls.probe(p, i); err != nil {
			return err
		}
	}
	return ls.record(e, false)
}

// repeat is row i-1 again as row i, with task i's log.
func (ls *session) repeat(i int, log []methods.EpochStats) Eval {
	T := len(ls.s.Tasks)
	e := Eval{AfterTask: i, Acc: slices.Clone(ls.res.Matrix[i-1]), Log: log, Seconds: make([]float64, T)}
	for k := range ls.res.Inference {
		e.Inference = append(e.Inference, slices.Clone(ls.res.Inference[k][i-1]))
	}
	if ls.res.ValMatrix != nil {
		e.ValAcc = slices.Clone(ls.res.ValMatrix[i-1])
	}
	e.Probe, e.Embedding = ls.lastProbe, ls.embeds[i-1]
	return e
}

// validate is the accuracy on task j's validation set after task learned
// (0-based; -1 untrained), with the first inference run's seeds: the
// validation accuracy chooses among configurations, it is not reported
// as a result, so one inference run is enough.
func (ls *session) validate(learned, j int) (float64, error) {
	t := ls.s.Tasks[j]
	rows := func(lo, hi int) tasks.Set { return ls.sc.Relabel(t, t.Val.Rows(lo, hi)) }
	accs, err := accuracies(ls.ctx, ls.l, t.Val.Len(), rows, ls.sc.EvalActive(ls.s, learned, j), 1, ls.seeds(j))
	if err != nil {
		return 0, err
	}
	return accs[0], nil
}

// record keeps an evaluated row, hands it to the observers and takes a
// checkpoint after it (not for a row replayed from a checkpoint).
func (ls *session) record(e Eval, replayed bool) error {
	ls.res.Matrix[e.AfterTask] = e.Acc
	ls.lastProbe = e.Probe
	ls.embeds[e.AfterTask] = e.Embedding
	if ls.res.ValMatrix != nil {
		ls.res.ValMatrix[e.AfterTask] = e.ValAcc
	}
	for k, row := range e.Inference {
		if ls.res.Inference != nil && k < len(ls.res.Inference) {
			ls.res.Inference[k][e.AfterTask] = row
		}
	}
	for _, o := range ls.rn.Observers {
		if err := o.Evaluated(ls.info, e); err != nil {
			return err
		}
	}
	if ls.cp != nil {
		return ls.cp.afterTask(e, !replayed)
	}
	return nil
}

// unmeasured marks the passes of a restored log that no learning curve
// point was measured after, and the set the curve does not score: a
// checkpoint written before test (or validation) accuracies were kept
// decodes them as 0.
func unmeasured(log []methods.EpochStats, every int, curveOn string) {
	for i, e := range log {
		if every == 0 || e.Epoch%every != 0 || curveOn == CurveOnVal {
			log[i].TestAcc = math.NaN()
		}
		if every == 0 || e.Epoch%every != 0 || curveOn != CurveOnVal {
			log[i].ValAcc = math.NaN()
		}
	}
}

// StepListener is an RunObserver that also hears every training step of a
// run's learner (a live progress display).
type StepListener interface {
	Step(r RunInfo, task int, p methods.Progress)
}

// relay passes a learner's reports of one task to the runner's observers
// and keeps the task's log.
type relay struct {
	rn   *Runner
	info RunInfo
	task int
	log  []methods.EpochStats
	cp   *checkpointer
	// test scores the task being learned on its test set, after every
	// every-th pass (Spec.TestEvery); val on its validation set instead
	// (Spec.CurveOn); both nil for no learning curve.
	test, val func() (float64, error)
	every     int
	// call is the Learn call of the task under way (0-based), which a
	// checkpoint taken during it resumes at.
	call int
}

// CheckpointDue reports whether the run takes a checkpoint now.
func (r *relay) CheckpointDue() bool { return r.cp != nil && r.cp.due() }

// Checkpoint saves the learner in the middle of the task, with its log so
// far.
func (r *relay) Checkpoint() error {
	if r.cp == nil { // the run keeps no checkpoints
		return nil
	}
	r.cp.ck.Log = append([]methods.EpochStats(nil), r.log...)
	r.cp.ck.Call = r.call
	return r.cp.save()
}

func (r *relay) Epoch(e methods.EpochStats) {
	e.TestAcc, e.ValAcc = math.NaN(), math.NaN()
	if e.RoundEnd && r.every > 0 && e.Epoch%r.every == 0 {
		// A cancelled run stops at its next step; its curve point is lost.
		if r.test != nil {
			if acc, err := r.test(); err == nil {
				e.TestAcc = acc
			}
		}
		if r.val != nil {
			if acc, err := r.val(); err == nil {
				e.ValAcc = acc
			}
		}
	}
	r.log = append(r.log, e)
	for _, o := range r.rn.Observers {
		o.Epoch(r.info, r.task, e)
	}
}

func (r *relay) Step(p methods.Progress) {
	for _, o := range r.rn.Observers {
		if l, ok := o.(StepListener); ok {
			l.Step(r.info, r.task, p)
		}
	}
}

// inferenceSeed is the inference seed of inference run k (0-based) on chunk
// c of task j's test set. It does not depend on how many tasks were learned,
// so every row of the matrix sees the same noise for the same examples
// (common random numbers: differences between rows, forgetting, carry less
// inference noise).
func inferenceSeed(k, j, c int) uint64 {
	return nn.DeriveSeed(uint64(k+1), fmt.Sprintf("task %d chunk %d", j, c))
}

// EvalChunk is the number of test examples scored at once: cancellation is
// checked between chunks, and a chunk of NoProp-DT with the paper's block
// takes well under a second on two cores.
const EvalChunk = 500

// Accuracy is the percentage of set's examples whose highest-scoring output
// among active is the label; ties go to the lowest output. Rows are scored
// EvalChunk at a time, with ctx checked before each chunk; seed, when not
// nil, gives a stochastic learner's inference seed for each chunk by its
// index.
func Accuracy(ctx context.Context, l methods.Learner, set tasks.Set, active []int, seed func(chunk int) uint64) (float64, error) {
	d := set.Shape.Size()
	rows := func(lo, hi int) tasks.Set { return tasks.Set{X: set.X[lo*d : hi*d], Y: set.Y[lo:hi], Shape: set.Shape} }
	var seeds func(k, c int) uint64
	if seed != nil {
		seeds = func(_, c int) uint64 { return seed(c) }
	}
	accs, err := accuracies(ctx, l, set.Len(), rows, active, 1, seeds)
	if err != nil {
		return 0, err
	}
	return accs[0], nil
}

// accuracies is Accuracy for runs inference runs of n examples that rows
// gives a chunk at a time (examples lo to hi, hi excluded); seed(k, c) is
// run k's seed for chunk c (nil: the learner is deterministic). Each chunk
// is made once and scored for every run, by one ScoresRuns call when the
// learner shares the runs' noise-free work (methods.MultiScorer); ctx is
// checked before every scoring.
func accuracies(ctx context.Context, l methods.Learner, n int, rows func(lo, hi int) tasks.Set, active []int, runs int, seed func(k, c int) uint64) ([]float64, error) {
	out := make([]float64, runs)
	if n == 0 {
		for k := range out {
			out[k] = math.NaN()
		}
		return out, nil
	}
	correct := make([]int, runs)
	st, _ := l.(methods.Stochastic)
	ms, multi := l.(methods.MultiScorer)
	for c, lo := 0, 0; lo < n; c, lo = c+1, lo+EvalChunk {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		hi := min(lo+EvalChunk, n)
		chunk := rows(lo, hi)
		x := nn.Matrix{Rows: hi - lo, Cols: chunk.Shape.Size(), Data: chunk.X}
		if seed != nil && multi && runs > 1 {
			seeds := make([]uint64, runs)
			for k := range seeds {
				seeds[k] = seed(k, c)
			}
			for k, scores := range ms.ScoresRuns(x, active, seeds) {
				correct[k] += hits(scores, chunk.Y, active)
			}
			continue
		}
		for k := range runs {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			if seed != nil && st != nil {
				st.SetInferenceSeed(seed(k, c))
			}
			correct[k] += hits(l.Scores(x, active), chunk.Y, active)
		}
	}
	for k := range out {
		out[k] = 100 * float64(correct[k]) / float64(n)
	}
	return out, nil
}

// hits counts the rows whose highest score among active (ties to the
// lowest output) is their label.
func hits(scores nn.Matrix, labels []int, active []int) int {
	n := 0
	for i, y := range labels {
		row := scores.Row(i)
		best, arg := float32(math.Inf(-1)), -1
		for _, o := range active {
			if v := row[o]; v > best || arg < 0 {
				best, arg = v, o
			}
		}
		if arg == y {
			n++
		}
	}
	return n
}
