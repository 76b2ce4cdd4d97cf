package harness

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/noprop/noprop/internal/memstat"
	"github.com/noprop/noprop/methods"
	"github.com/noprop/noprop/methods/nn"
	"github.com/noprop/noprop/results/metrics"
	"github.com/noprop/noprop/tasks"
)

// RunInfo describes a run in progress to its gate and observers.
type RunInfo struct {
	ID       string // random hex, unique across machines
	Spec     Spec
	Stream   string // the stream's name, e.g. "split-mnist"
	NumTasks int
	Choices  tasks.Choices
	Started  time.Time
	// Index and Total place the run in its batch (1-based; 0 when run
	// alone).
	Index, Total int
}

// SkipError is returned by a Gate's Acquire when the run must not train:
// its unit is done, or another live process is training it (Held). Run
// returns it without telling the observers anything.
type SkipError struct {
	Held   bool
	Reason string
}

func (e *SkipError) Error() string { return e.Reason }

// A Gate admits runs: before a run builds its learner or reads a
// checkpoint, the runner leases the run's unit (its configuration and
// seed) from the gate, and gives the lease back when the run ends. The
// results store is a gate (its claims); a runner without one trains
// every run it is given.
type Gate interface {
	// Acquire leases r's unit, or returns a *SkipError when the unit must
	// not train now; any other error fails the run.
	Acquire(ctx context.Context, r RunInfo) (Lease, error)
}

// A Lease is a unit held by a run.
type Lease interface {
	// Lost is closed when the lease is lost (another process took the
	// unit over): the runner then stops the run.
	Lost() <-chan struct{}
	// Release gives the unit back when the run ends, and reports why the
	// lease was lost if it was.
	Release() error
}

// Result is what a finished run produced.
type Result struct {
	// Matrix is (T+1)×T accuracy in percent: row 0 the untrained model, row i
	// after learning task i; column j is task j+1. For a rule with stochastic
	// inference each cell is the mean over the inference runs.
	Matrix [][]float64
	// Inference holds one such matrix per inference run of a rule with
	// stochastic inference; nil otherwise.
	Inference [][][]float64
	// ValMatrix is the accuracy matrix on the tasks' validation sets
	// (Spec.Validation), with the first inference run's seeds; nil when
	// none is held out. Its ACC is the metric metrics.ValACC.
	ValMatrix [][]float64
	Metrics   []metrics.Metric
	Memory    Memory
	Seconds   float64
}

// Memory is a run's peak memory above the data it trains on: the Go
// heap and the resident set, in bytes; 0 when not measured.
type Memory struct {
	PeakHeapBytes, PeakRSSBytes int64
}

// Eval is one evaluated unit of a run: row AfterTask of the accuracy matrix
// (0 = untrained) and the training log of that task.
type Eval struct {
	AfterTask int
	// Acc[j] is the accuracy on task j+1, percent: the mean over the
	// inference runs for a rule with stochastic inference.
	Acc []float64
	// Inference holds each inference run's accuracies (nil for a
	// deterministic rule).
	Inference [][]float64
	// ValAcc[j] is the accuracy on task j+1's validation set (nil when
	// none is held out; see Result.ValMatrix).
	ValAcc []float64
	Log    []methods.EpochStats
	// Seconds[j] is the wall time of scoring task j+1, every inference run.
	Seconds []float64
	// Probe is, for a run with Spec.Probe of a methods.Prober, the
	// accuracy of each stage of the model on each task's test set; nil
	// otherwise.
	Probe []StageAccuracy
	// Embedding is, in a probed run of a methods.EmbeddingHolder whose rows
	// are learned, those rows after this row's task, row-major: the
	// reference the probe's "embedding" stage measures later rows against.
	// Checkpoints keep it; the results store does not.
	Embedding []float32
}

// RunObserver hears a run's progress: the results store's recorder and the
// console display are observers, and the harness does not know who
// listens. Observers only observe: whether a run may train is the Gate's.
// An error from Evaluated or Finished (a store that cannot write) fails
// the run.
type RunObserver interface {
	Started(r RunInfo)
	// Epoch relays a learner's report while task (1-based) is learned.
	Epoch(r RunInfo, task int, s methods.EpochStats)
	// Evaluated delivers one finished unit.
	Evaluated(r RunInfo, e Eval) error
	Finished(r RunInfo, res Result) error
	// Failed reports a run that stopped early; interrupted is true when the
	// context was cancelled.
	Failed(r RunInfo, err error, interrupted bool)
}

// Runner runs specs. It caches loaded datasets across runs.
type Runner struct {
	// Methods is the table of learning rules specs name (methods/catalog in
	// the command line, fakes in tests).
	Methods methods.Catalog
	// Load returns a dataset by name (tasks.Load in the command line, a
	// generator in tests).
	Load func(name string) (tasks.Dataset, error)
	// Gate leases each run's unit before it trains; nil trains every run.
	Gate      Gate
	Observers []RunObserver
	// Log, when not nil, hears about runs a batch skips and checkpoints
	// refused.
	Log io.Writer
	// Checkpoints is the folder that keeps each unit's checkpoint ("" for
	// none); see checkpoint. A run takes one after every task and, during
	// a task, every CheckpointEvery (0: only between tasks); a run that
	// starts on a unit with a checkpoint goes on from it.
	Checkpoints     string
	CheckpointEvery time.Duration
	cache           map[string]tasks.Dataset
}

func (rn *Runner) dataset(name string) (tasks.Dataset, error) {
	if ds, ok := rn.cache[name]; ok {
		return ds, nil
	}
	ds, err := rn.Load(name)
	if err != nil {
		return tasks.Dataset{}, err
	}
	if rn.cache == nil {
		rn.cache = map[string]tasks.Dataset{}
	}
	rn.cache[name] = ds
	return ds, nil
}

// Run executes one spec: it builds the stream and the learner, evaluates the
// untrained learner on every task, then learns the tasks in order and
// evaluates every task after each.
func (rn *Runner) Run(ctx context.Context, spec Spec) (Result, error) {
	return rn.run(ctx, spec, 0, 0)
}

func (rn *Runner) run(ctx context.Context, spec Spec, index, total int) (Result, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	method, err := spec.checkMethod(rn.Methods)
	if err != nil {
		return Result{}, &SetupError{Err: err}
	}
	stream, sc, err := rn.stream(spec)
	if err != nil {
		return Result{}, &SetupError{Err: err}
	}
	info := newRunInfo(spec, stream, index, total)
	var lease Lease
	if rn.Gate != nil {
		if lease, err = rn.Gate.Acquire(ctx, info); err != nil {
			return Result{}, err
		}
		go func() {
			select {
			case <-lease.Lost():
				cancel(errLeaseLost)
			case <-ctx.Done():
			}
		}()
	}
	for _, o := range rn.Observers {
		o.Started(info)
	}
	res, cp, err := rn.train(ctx, method, info, stream, sc)
	if lease != nil {
		if lerr := lease.Release(); lerr != nil {
			err = fmt.Errorf("the run was taken over by another process: %w", lerr)
		}
	}
	if err != nil && context.Cause(ctx) != nil && !errors.Is(context.Cause(ctx), context.Canceled) && !errors.Is(context.Cause(ctx), errLeaseLost) {
		err = fmt.Errorf("%w: %w", err, context.Cause(ctx))
	}
	if err != nil {
		interrupted := errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
		if interrupted {
			err = &InterruptedError{Err: err}
		}
		for _, o := range rn.Observers {
			o.Failed(info, err, interrupted)
		}
		return res, err
	}
	res.Seconds = time.Since(info.Started).Seconds()
	for _, o := range rn.Observers {
		if err := o.Finished(info, res); err != nil {
			return res, err
		}
	}
	if cp != nil {
		cp.store.remove(spec)
	}
	return res, nil
}

// InterruptedError is a run stopped by its context (a signal, Ctrl-C, a
// deadline): not a failure; the same command resumes it from its last
// checkpoint.
type InterruptedError struct{ Err error }

func (e *InterruptedError) Error() string {
	where := ""
	var te *taskError
	if errors.As(e.Err, &te) {
		where = fmt.Sprintf(" during task %d", te.task)
	}
	return "interrupted" + where + "; run the same command again to resume it"
}

func (e *InterruptedError) Unwrap() error { return e.Err }

// taskError is an error of learning one task (1-based).
type taskError struct {
	task int
	err  error
}

func (e *taskError) Error() string { return fmt.Sprintf("task %d: %v", e.task, e.err) }
func (e *taskError) Unwrap() error { return e.err }

// errLeaseLost is the cause with which a run is stopped when its lease is
// lost; Release says why.
var errLeaseLost = errors.New("lease lost")

// train builds the learner of a leased run, restores its checkpoint, and
// learns the stream.
func (rn *Runner) train(ctx context.Context, method methods.Method, info RunInfo, stream tasks.Stream, sc tasks.Scenario) (res Result, cp *checkpointer, err error) {
	// A panic in a learner fails its run, which is then stored as failed
	// with the message, instead of leaving it running for the next
	// process to take over and meet the same panic.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("internal error in %s: %v (please report it with the command that ran)", info.Spec.Method, r)
		}
	}()
	// Memory is measured from here: the data is resident, the learner not yet.
	mem := memstat.Start()
	learner, err := rn.learner(method, info.Spec, stream, sc)
	if err != nil {
		mem.Stop()
		return Result{}, nil, fmt.Errorf("%s: %w", info.Spec.Method, err)
	}
	cp, learner, err = rn.resume(method, info.Spec, stream, sc, learner)
	if err != nil {
		mem.Stop()
		return Result{}, nil, fmt.Errorf("%s: %w", info.Spec.Method, err)
	}
	res, err = rn.learnStream(ctx, info, learner, stream, sc, cp)
	res.Memory.PeakHeapBytes, res.Memory.PeakRSSBytes = mem.Stop()
	return res, cp, err
}

// resume prepares a run's checkpoints: when checkpoints are kept and the
// learner can be saved, it returns the run's checkpointer, with the learner
// restored from the unit's checkpoint when there is one that fits (a fresh
// learner replaces one whose restore failed half way).
func (rn *Runner) resume(method methods.Method, spec Spec, stream tasks.Stream, sc tasks.Scenario, l methods.Learner) (*checkpointer, methods.Learner, error) {
	c, ok := l.(methods.Checkpointer)
	if rn.Checkpoints == "" || !ok {
		return nil, l, nil
	}
	cp := &checkpointer{store: checkpoints{dir: rn.Checkpoints, log: rn.Log}, spec: spec, learner: c, tasks: len(stream.Tasks), every: rn.CheckpointEvery, last: time.Now()}
	ck := cp.store.load(spec)
	if ck == nil {
		return cp, l, nil
	}
	if err := restoreLearner(c, ck.State); err != nil {
		if rn.Log != nil {
			fmt.Fprintf(rn.Log, "   checkpoint %s refused: %v; the run starts over\n", cp.store.path(spec), err)
		}
		fresh, err := rn.learner(method, spec, stream, sc)
		if err != nil {
			return nil, nil, err
		}
		cp.learner = fresh.(methods.Checkpointer)
		return cp, fresh, nil
	}
	cp.ck = *ck
	if rn.Log != nil {
		fmt.Fprintf(rn.Log, "   resuming from the checkpoint after task %d of %d\n", ck.Done, len(stream.Tasks))
	}
	return cp, l, nil
}

// SetupError is an error that stops a run before training: bad settings,
// missing data. It would recur for every run of a batch, so RunAll stops.
type SetupError struct{ Err error }

func (e *SetupError) Error() string { return e.Err.Error() }
func (e *SetupError) Unwrap() error { return e.Err }

// stream validates a spec and builds its stream.
func (rn *Runner) stream(spec Spec) (tasks.Stream, tasks.Scenario, error) {
	sc, err := tasks.ParseScenario(spec.Scenario)
	if err != nil {
		return tasks.Stream{}, "", err
	}
	ds, err := rn.dataset(spec.Dataset)
	if err != nil {
		return tasks.Stream{}, "", err
	}
	stream, err := tasks.NewStream(ds, spec.StreamConfig())
	return stream, sc, err
}

// newRunInfo names a new run of spec on its stream, with a random 128-bit
// hex ID, so that runs of several machines can be merged by ID.
func newRunInfo(spec Spec, stream tasks.Stream, index, total int) RunInfo {
	var id [16]byte
	rand.Read(id[:]) // never fails
	return RunInfo{ID: hex.EncodeToString(id[:]), Spec: spec, Stream: stream.Name, NumTasks: len(stream.Tasks),
		Choices: stream.Choices, Started: time.Now(), Index: index, Total: total}
}

// learner builds the learner of a spec for its stream: it sees the input
// shape, the number of outputs and its seed, never the data.
func (rn *Runner) learner(method methods.Method, spec Spec, stream tasks.Stream, sc tasks.Scenario) (methods.Learner, error) {
	return method.New(methods.Problem{
		Input:   stream.Shape,
		Outputs: sc.Outputs(stream),
		Seed:    nn.DeriveSeed(spec.Seed, "learner"),
	}, spec.Settings)
}
