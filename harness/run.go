package harness

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/noprop/noprop/methods"
	"github.com/noprop/noprop/methods/catalog"
	"github.com/noprop/noprop/methods/nn"
	"github.com/noprop/noprop/results"
	"github.com/noprop/noprop/tasks"
)

// RunInfo describes a run in progress to observers.
type RunInfo struct {
	ID       string // random hex, unique across machines
	Spec     Spec
	Stream   string // the stream's name, e.g. "split-mnist"
	NumTasks int
	Choices  tasks.Choices
	Started  time.Time
}

// Result is what a finished run produced.
type Result struct {
	// Matrix is (T+1)×T accuracy in percent: row 0 the untrained model, row i
	// after learning task i; column j is task j+1.
	Matrix  [][]float64
	Metrics []Metric
	Memory  results.Memory
	Seconds float64
}

// Observer hears a run's progress. The results store and the console are
// observers; the harness does not know who listens.
type Observer interface {
	Started(r RunInfo) error
	// Epoch relays a learner's report while task (1-based) is learned.
	Epoch(r RunInfo, task int, s methods.EpochStats)
	// Evaluated delivers one finished unit: row afterTask of the accuracy
	// matrix (0 = untrained) and the training log of that task.
	Evaluated(r RunInfo, afterTask int, acc []float64, log []methods.EpochStats) error
	Finished(r RunInfo, res Result) error
	// Failed reports a run that stopped early; interrupted is true when the
	// context was cancelled.
	Failed(r RunInfo, err error, interrupted bool)
}

// Runner runs specs. It caches loaded datasets across runs.
type Runner struct {
	// Load returns a dataset by name (tasks.Load in the command line, a
	// generator in tests).
	Load      func(name string) (tasks.Dataset, error)
	Observers []Observer
	cache     map[string]tasks.Dataset
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
	stream, sc, err := rn.stream(spec)
	if err != nil {
		return Result{}, &SetupError{Err: err}
	}
	// Memory is measured from here: the data is resident, the learner not yet.
	mem := startMemorySampler()
	learner, info, err := rn.learner(spec, stream, sc)
	if err != nil {
		mem.stop()
		return Result{}, &SetupError{Err: err}
	}
	for _, o := range rn.Observers {
		if err := o.Started(info); err != nil {
			return Result{}, err
		}
	}
	res, err := rn.learnStream(ctx, info, learner, stream, sc)
	res.Memory = mem.stop()
	if err != nil {
		interrupted := errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
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
	return res, nil
}

// SetupError is an error that stops a run before training: bad settings,
// missing data. It would recur for every run of a batch, so RunAll stops.
type SetupError struct{ Err error }

func (e *SetupError) Error() string { return e.Err.Error() }
func (e *SetupError) Unwrap() error { return e.Err }

// stream validates a spec and builds its stream.
func (rn *Runner) stream(spec Spec) (tasks.Stream, tasks.Scenario, error) {
	if err := spec.Validate(); err != nil {
		return tasks.Stream{}, "", err
	}
	sc, _ := tasks.ParseScenario(spec.Scenario)
	ds, err := rn.dataset(spec.Dataset)
	if err != nil {
		return tasks.Stream{}, "", err
	}
	stream, err := tasks.NewStream(ds, spec.StreamConfig())
	return stream, sc, err
}

// learner builds the learner of a spec for its stream.
func (rn *Runner) learner(spec Spec, stream tasks.Stream, sc tasks.Scenario) (methods.Learner, RunInfo, error) {
	var info RunInfo
	method, err := catalog.Lookup(spec.Method)
	if err != nil {
		return nil, info, err
	}
	id, err := results.NewID()
	if err != nil {
		return nil, info, err
	}
	info = RunInfo{ID: id, Spec: spec, Stream: stream.Name, NumTasks: len(stream.Tasks), Choices: stream.Choices, Started: time.Now()}
	learner, err := method.New(methods.Problem{
		Input:   stream.Shape,
		Outputs: sc.Outputs(stream),
		Seed:    nn.DeriveSeed(spec.Seed, "learner"),
		Train:   func() tasks.Set { return joinTrain(stream, sc) },
	}, spec.Settings)
	return learner, info, err
}

func (rn *Runner) learnStream(ctx context.Context, info RunInfo, l methods.Learner, s tasks.Stream, sc tasks.Scenario) (Result, error) {
	T := len(s.Tasks)
	res := Result{Matrix: make([][]float64, T+1)}
	evalRow := func(i int) error {
		row := make([]float64, T)
		for j, t := range s.Tasks {
			row[j] = Accuracy(l, sc.Relabel(t, t.Test), sc.EvalActive(s, i-1, j))
		}
		res.Matrix[i] = row
		return nil
	}
	if err := evalRow(0); err != nil {
		return res, err
	}
	for _, o := range rn.Observers {
		if err := o.Evaluated(info, 0, res.Matrix[0], nil); err != nil {
			return res, err
		}
	}
	for k, t := range s.Tasks {
		var log []methods.EpochStats
		obs := methods.ObserverFunc(func(e methods.EpochStats) {
			log = append(log, e)
			for _, o := range rn.Observers {
				o.Epoch(info, k+1, e)
			}
		})
		if err := l.Learn(ctx, sc.Relabel(t, t.Train), sc.TrainActive(s, k), obs); err != nil {
			return res, fmt.Errorf("task %d: %w", k+1, err)
		}
		if err := evalRow(k + 1); err != nil {
			return res, err
		}
		for _, o := range rn.Observers {
			if err := o.Evaluated(info, k+1, res.Matrix[k+1], log); err != nil {
				return res, err
			}
		}
	}
	res.Metrics = Metrics(res.Matrix)
	return res, nil
}

// Accuracy is the percentage of set's examples whose highest-scoring output
// among active is the label. Ties go to the lowest output.
func Accuracy(l methods.Learner, set tasks.Set, active []int) float64 {
	if set.Len() == 0 {
		return math.NaN()
	}
	scores := l.Scores(nn.Matrix{Rows: set.Len(), Cols: set.Shape.Size(), Data: set.X})
	correct := 0
	for i, y := range set.Y {
		row := scores.Row(i)
		best, arg := float32(math.Inf(-1)), -1
		for _, o := range active {
			if v := row[o]; v > best || arg < 0 {
				best, arg = v, o
			}
		}
		if arg == y {
			correct++
		}
	}
	return 100 * float64(correct) / float64(set.Len())
}

// joinTrain concatenates the stream's training sets with the scenario's labels.
func joinTrain(s tasks.Stream, sc tasks.Scenario) tasks.Set {
	if len(s.Tasks) == 1 {
		return sc.Relabel(s.Tasks[0], s.Tasks[0].Train)
	}
	out := tasks.Set{Shape: s.Shape}
	for _, t := range s.Tasks {
		set := sc.Relabel(t, t.Train)
		out.X = append(out.X, set.X...)
		out.Y = append(out.Y, set.Y...)
	}
	return out
}
