package harness

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/noprop/noprop/tasks"
)

// A Strategy decides what the learner trains on at each task of a stream:
// the continual-learning protocol, a setting of the study, not of any rule.
// The rules keep their one seam (methods.Learner.Learn on one set and the
// call's active outputs, each example's own weight and outputs riding in
// the set: tasks.Set.Weight and Active); a strategy only chooses the calls
// and their data. Every rule can therefore be run under every strategy,
// with no change to it.
//
// Fine-tuning (the default) learns task k's training set alone; the
// bounds are cumulative (the union of tasks 1..k) and joint (every task at
// once, trained once). Experience replay (replay.go) adds examples drawn
// from a memory of earlier tasks to task k's; see docs/architecture.md for
// how a strategy is added.
type Strategy interface {
	// Name is the strategy as specs, flags and sweep files spell it.
	Name() string
	// Lessons are the Learn calls that make up learning task k (0-based),
	// in order; none when the learner learns nothing more at task k.
	Lessons(c Curriculum, k int) []Lesson
	// Scored is the index (0-based) of the last task whose outputs the
	// model may use when row k+1 of the accuracy matrix is scored, the
	// scenario's evaluation masks being those after that task: k for a
	// strategy that learns the stream in order.
	Scored(c Curriculum, k int) int
}

// Curriculum is what a strategy chooses from: the stream (validation held
// out of its training sets) and the scenario.
type Curriculum struct {
	Stream   tasks.Stream
	Scenario tasks.Scenario
}

// Train is task k's training set in the scenario's labels (a permuted
// task's made on demand: call it only when the set is needed).
func (c Curriculum) Train(k int) tasks.Set {
	t := c.Stream.Tasks[k]
	return c.Scenario.Relabel(t, t.Train.Set())
}

// Lesson is one Learn call: its examples, made when the call is due and
// dropped after it, and its active outputs.
type Lesson struct {
	// Data returns the call's examples, in the scenario's labels.
	Data func() tasks.Set
	// Active are the outputs in the call's loss.
	Active []int
	// Tasks are the tasks (0-based) whose examples Data holds, for tests
	// and logs.
	Tasks []int
}

// The strategies' names.
const (
	StrategyFinetune   = "finetune"
	StrategyCumulative = "cumulative"
	StrategyJoint      = "joint"
)

// Strategies lists the strategies a spec may name, default first.
func Strategies() []string {
	return []string{StrategyFinetune, StrategyCumulative, StrategyJoint, StrategyReplay}
}

// LookupStrategy returns the strategy of a name; "" is fine-tuning, the
// default. Replay comes with DefaultReplay and seed 0: a run's own is
// its spec's (Spec.strategy).
func LookupStrategy(name string) (Strategy, error) {
	switch name {
	case "", StrategyFinetune:
		return finetune{}, nil
	case StrategyCumulative:
		return cumulative{ownHeads: true}, nil
	case StrategyJoint:
		return joint{ownHeads: true}, nil
	case StrategyReplay:
		return replay{Replay: DefaultReplay()}, nil
	}
	return nil, fmt.Errorf("strategy %q: want one of %s", name, strings.Join(Strategies(), ", "))
}

// finetune learns each task's training set alone, in turn, with the
// scenario's active outputs: the stream as it comes, the lower bound.
type finetune struct{}

func (finetune) Name() string                   { return StrategyFinetune }
func (finetune) Scored(_ Curriculum, k int) int { return k }
func (finetune) Lessons(c Curriculum, k int) []Lesson {
	return []Lesson{{Data: func() tasks.Set { return c.Train(k) }, Active: c.Scenario.TrainActive(c.Stream, k), Tasks: []int{k}}}
}

// cumulative learns, at task k, the union of tasks 0..k's training sets
// in one Learn call with the method's per-task budget: an upper bound of
// what a learner of the stream in order can keep. Class-IL has every class
// seen so far active, domain-IL the within-task labels on the shared head.
// In task-IL each example is learned under its own task's outputs
// (tasks.Set.Active), the call's being every class seen so far.
//
// ownHeads false is the task-IL construction of runs stored before
// examples carried their own outputs (Spec.TaskHeads empty): one call per
// task 0..k, in order, each with its task's outputs and the per-task
// budget, so that the earlier tasks were rehearsed, not mixed into task
// k's minibatches. It is kept so that those runs re-run as they ran.
type cumulative struct{ ownHeads bool }

func (cumulative) Name() string                   { return StrategyCumulative }
func (cumulative) Scored(_ Curriculum, k int) int { return k }
func (s cumulative) Lessons(c Curriculum, k int) []Lesson {
	if c.Scenario != tasks.TaskIL {
		return []Lesson{union(c, seq(k+1), c.Scenario.TrainActive(c.Stream, k), false)}
	}
	if s.ownHeads {
		return []Lesson{union(c, seq(k+1), tasks.ClassIL.TrainActive(c.Stream, k), true)}
	}
	var out []Lesson
	for j := 0; j <= k; j++ {
		out = append(out, Lesson{Data: func() tasks.Set { return c.Train(j) }, Active: c.Scenario.TrainActive(c.Stream, j), Tasks: []int{j}})
	}
	return out
}

// joint learns every task's training set at once, in one Learn call with
// the method's per-task budget, when the stream's first task is learned,
// and nothing after: one learner trained once on all the data. Its active
// outputs are those of the whole stream (every class in class-IL, the
// shared head in domain-IL). In task-IL each example is learned under its
// own task's outputs (tasks.Set.Active), as the scenario scores it; with
// ownHeads false (Spec.TaskHeads empty, runs stored before examples
// carried their own outputs) it was one softmax over every class, scored
// with each task's mask. Every row after it is scored with the masks of
// the whole stream, so rows 1..T are the same, the joint model's scores
// (row 0 is the untrained model, as for every strategy): its ACC is the
// joint accuracy, its forgetting and BWT are 0 by construction, and its
// FWT is the joint model against the untrained one, not a transfer.
type joint struct{ ownHeads bool }

func (joint) Name() string { return StrategyJoint }
func (joint) Scored(c Curriculum, _ int) int {
	return len(c.Stream.Tasks) - 1
}
func (s joint) Lessons(c Curriculum, k int) []Lesson {
	if k > 0 {
		return nil
	}
	last := len(c.Stream.Tasks) - 1
	if c.Scenario == tasks.TaskIL {
		return []Lesson{union(c, seq(last+1), tasks.ClassIL.TrainActive(c.Stream, last), s.ownHeads)}
	}
	return []Lesson{union(c, seq(last+1), c.Scenario.TrainActive(c.Stream, last), false)}
}

// union is one Learn call on the training sets of the tasks ks, with the
// active outputs given and, when own is set, each example's own task's
// outputs (task-IL).
func union(c Curriculum, ks []int, active []int, own bool) Lesson {
	return Lesson{Data: func() tasks.Set {
		parts := make([]tasks.Set, len(ks))
		for i, k := range ks {
			parts[i] = c.Train(k)
			if own {
				parts[i].Active = slices.Repeat([][]int{c.Scenario.TrainActive(c.Stream, k)}, parts[i].Len())
			}
		}
		return concat(parts)
	}, Active: active, Tasks: ks}
}

// concat is the sets one after another, in a new Set.
func concat(parts []tasks.Set) tasks.Set {
	if len(parts) == 1 {
		return parts[0]
	}
	out := tasks.Set{Shape: parts[0].Shape}
	n := 0
	for _, p := range parts {
		n += p.Len()
	}
	out.X = make([]float32, 0, n*out.Shape.Size())
	out.Y = make([]int, 0, n)
	for _, p := range parts {
		out.X = append(out.X, p.X...)
		out.Y = append(out.Y, p.Y...)
		if p.Active != nil {
			out.Active = append(out.Active, p.Active...)
		}
	}
	return out
}

func seq(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// checkStrategy accepts the names of Strategies ("" too: the default).
func checkStrategy(name string) error {
	if name == "" || slices.Contains(Strategies(), name) {
		return nil
	}
	_, err := LookupStrategy(name)
	return err
}

// checkReplay checks a spec's replay settings against its strategy and
// scenario: present and in bounds for replay, absent
// otherwise, so that other strategies' specs and hashes never name them.
func (s Spec) checkReplay() error {
	switch {
	case s.Strategy != StrategyReplay && s.Replay != nil:
		return fmt.Errorf("replay settings with strategy %q: they apply to strategy replay alone", s.Strategy)
	case s.Strategy != StrategyReplay:
		return nil
	case s.Replay == nil:
		return errors.New("strategy replay without its settings (replay_policy, ...)")
	}
	return s.Replay.Check()
}

// strategy is the spec's strategy with its settings and seed.
func (s Spec) strategy() (Strategy, error) {
	st, err := LookupStrategy(s.Strategy)
	own := s.TaskHeads == TaskHeadsOwn
	switch st := st.(type) {
	case replay:
		if s.Replay != nil {
			st.Replay, st.seed = *s.Replay, s.Seed
			return st, nil
		}
	case cumulative:
		return cumulative{ownHeads: own}, nil
	case joint:
		return joint{ownHeads: own}, nil
	}
	return st, err
}

// TaskHeadsOwn is Spec.TaskHeads of the bounds in task-IL: each example
// learned under its own task's outputs.
const TaskHeadsOwn = "own"

// taskHeads is Spec.TaskHeads of a spec made now: TaskHeadsOwn for the
// bounds in task-IL, empty otherwise.
func taskHeads(scenario, strategy string) string {
	if scenario == string(tasks.TaskIL) && (strategy == StrategyCumulative || strategy == StrategyJoint) {
		return TaskHeadsOwn
	}
	return ""
}
