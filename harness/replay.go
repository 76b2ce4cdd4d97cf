package harness

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/noprop/noprop/methods/nn"
	"github.com/noprop/noprop/tasks"
)

// The replay strategy's name and its memory policies.
const (
	StrategyReplay = "replay"
	// ReplayClassBalanced keeps PerClass examples of each class of each
	// task learned (all of a class's when it has fewer): van de Ven et
	// al.'s choice, 100 per class.
	ReplayClassBalanced = "class-balanced"
	// ReplayReservoir keeps Size examples in all, by reservoir sampling
	// over every training example seen, in stream order: each seen
	// example is in the memory with probability Size/seen.
	ReplayReservoir = "reservoir"
	// ReplayWeightTask weighs, at the stream's t-th task (1-based), the
	// current task's examples 1/t and the replayed 1 − 1/t in the loss:
	// van de Ven & Tolias's weighting, each task learned so far counting
	// alike.
	ReplayWeightTask = "task"
	// ReplayWeightEqual weighs every example of the mixed set alike: the
	// replayed share of the loss is Ratio/(1+Ratio).
	ReplayWeightEqual = "equal"
)

// The bounds of the replay settings: well beyond any memory a study of
// these datasets needs, small enough that a typo is caught before work.
const (
	MaxReplayPerClass = 100_000
	MaxReplaySize     = 10_000_000
	MaxReplayRatio    = 100
)

// Replay is the experience-replay strategy's settings (Spec.Replay).
// Only the policy's own size is kept (the other is 0 and left out of the
// JSON), so that a setting the policy ignores never makes another
// configuration.
type Replay struct {
	// Policy is how the memory is filled: ReplayClassBalanced or
	// ReplayReservoir.
	Policy string `json:"policy"`
	// PerClass is the class-balanced memory's examples per class of each
	// task.
	PerClass int `json:"per_class,omitempty"`
	// Size is the reservoir's number of examples.
	Size int `json:"size,omitempty"`
	// Ratio is the replayed examples per current example in a Learn call:
	// round(Ratio·n) are drawn from the memory, with replacement, beside
	// task k's n examples.
	Ratio float64 `json:"ratio"`
	// Weighting is how the loss weighs current and replayed examples:
	// ReplayWeightTask or ReplayWeightEqual.
	Weighting string `json:"weighting"`
}

// DefaultReplay is the replay a study that names the strategy and no
// settings runs: 100 examples per class (van de Ven et al.) and as many
// replayed examples as current ones; a reservoir, when asked for, holds
// 1000, the class-balanced memory of split MNIST after its last task.
func DefaultReplay() Replay {
	return Replay{Policy: ReplayClassBalanced, PerClass: 100, Size: 1000, Ratio: 1, Weighting: ReplayWeightTask}
}

// Check refuses settings out of bounds, in one line naming the sweep key.
func (r Replay) Check() error {
	switch {
	case r.Policy != ReplayClassBalanced && r.Policy != ReplayReservoir:
		return fmt.Errorf("replay_policy %q: want %s or %s", r.Policy, ReplayClassBalanced, ReplayReservoir)
	case r.Policy == ReplayClassBalanced && (r.PerClass < 1 || r.PerClass > MaxReplayPerClass):
		return fmt.Errorf("replay_per_class %d: want a whole number from 1 to %d", r.PerClass, MaxReplayPerClass)
	case r.Policy == ReplayReservoir && (r.Size < 1 || r.Size > MaxReplaySize):
		return fmt.Errorf("replay_size %d: want a whole number from 1 to %d", r.Size, MaxReplaySize)
	case !(r.Ratio > 0 && r.Ratio <= MaxReplayRatio):
		return fmt.Errorf("replay_ratio %v: want a number in (0, %d], replayed examples per current one", r.Ratio, MaxReplayRatio)
	case r.Weighting != ReplayWeightTask && r.Weighting != ReplayWeightEqual:
		return fmt.Errorf("replay_weighting %q: want %s (current 1/t, replayed 1 − 1/t) or %s", r.Weighting, ReplayWeightTask, ReplayWeightEqual)
	}
	return nil
}

// own is the settings with only the policy's own size kept.
func (r Replay) own() Replay {
	if r.Policy == ReplayReservoir {
		r.PerClass = 0
	} else {
		r.Size = 0
	}
	return r
}

// ReplayGiven is the replay settings a study gives, each nil when not
// given (sweep file keys, run flags).
type ReplayGiven struct {
	Policy    *string
	PerClass  *int
	Size      *int
	Ratio     *float64
	Weighting *string
}

// Settings is DefaultReplay overlaid with what is given, or nil when
// nothing is. A size the policy does not use is refused, not ignored: a
// reader of the study would think it mattered.
func (g ReplayGiven) Settings() (*Replay, error) {
	if g == (ReplayGiven{}) {
		return nil, nil
	}
	r := DefaultReplay()
	if g.Policy != nil {
		r.Policy = *g.Policy
	}
	if g.Ratio != nil {
		r.Ratio = *g.Ratio
	}
	if g.Weighting != nil {
		r.Weighting = *g.Weighting
	}
	switch {
	case g.PerClass != nil && r.Policy == ReplayReservoir:
		return nil, errors.New("replay_per_class sizes the class-balanced memory; the reservoir's is replay_size")
	case g.Size != nil && r.Policy != ReplayReservoir:
		return nil, errors.New("replay_size sizes the reservoir (replay_policy reservoir); the class-balanced memory's is replay_per_class")
	}
	if g.PerClass != nil {
		r.PerClass = *g.PerClass
	}
	if g.Size != nil {
		r.Size = *g.Size
	}
	return &r, r.Check()
}

// replay is experience replay: after each task a memory keeps some of its
// training examples (validation held out) by the policy, and at task k > 0
// the one Learn call trains on task k's set followed by round(Ratio·n_k)
// examples drawn from the memory with replacement, shuffled together by
// the learner's minibatch order, so each minibatch holds Ratio/(1+Ratio)
// replayed examples in expectation. The loss weighs them by Weighting:
// per-example weights (tasks.Set.Weight) of mean 1 that make the call's
// loss (1/t)·mean(current) + (1 − 1/t)·mean(replayed) at the t-th task
// (ReplayWeightTask), or none (ReplayWeightEqual).
//
// Class-IL: the memory keeps its stream labels and every class seen so far
// is active; domain-IL: the scenario's within-task labels on the shared
// head; task-IL: each example is learned under its own task's outputs
// (tasks.Set.Active), the call's active outputs being the classes of every
// task learned so far.
//
// The memory is rows of the stream's tasks (task, row), not pixel copies,
// and is a function of the seed and the tasks learned alone: each task's
// draws come from a stream seeded by the run's seed and the task. It is
// therefore recomputed when a call's data is made, not saved in
// checkpoints, and a resumed run trains on the same examples, bit for bit.
type replay struct {
	Replay
	seed uint64
}

func (replay) Name() string                   { return StrategyReplay }
func (replay) Scored(_ Curriculum, k int) int { return k }
func (r replay) Lessons(c Curriculum, k int) []Lesson {
	if k == 0 {
		return finetune{}.Lessons(c, k)
	}
	active := c.Scenario.TrainActive(c.Stream, k)
	if c.Scenario == tasks.TaskIL {
		active = tasks.ClassIL.TrainActive(c.Stream, k)
	}
	return []Lesson{{Data: func() tasks.Set { return r.mixed(c, k) }, Active: active, Tasks: seq(k + 1)}}
}

// slot is an example of the memory: row row of task task's training set.
type slot struct{ task, row int }

// rand is the random stream of one purpose and task, seeded by the run's
// seed: the same draws whatever ran before, on every resume.
func (r replay) rand(what string, task int) *rand.Rand {
	return rand.New(rand.NewPCG(nn.DeriveSeed(r.seed, fmt.Sprintf("replay %s task %d", what, task)), 0))
}

// memory is the memory after tasks 0..k-1 are learned.
func (r replay) memory(c Curriculum, k int) []slot {
	var mem []slot
	seen := 0
	for j := range k {
		if r.Policy == ReplayReservoir {
			mem, seen = reservoir(mem, seen, j, c.Stream.Tasks[j].Train.Len(), r.Size, r.rand("memory", j))
		} else {
			mem = append(mem, classBalanced(j, trainLabels(c.Stream.Tasks[j]), r.PerClass, r.rand("memory", j))...)
		}
	}
	return mem
}

// mixed is task k's training set followed by the examples drawn from the
// memory, each in the scenario's labels of its own task, with the
// weighting's weights and, in task-IL, each example's task's outputs.
func (r replay) mixed(c Curriculum, k int) tasks.Set {
	cur := c.Train(k)
	mem := r.memory(c, k)
	m := int(math.Round(r.Ratio * float64(cur.Len())))
	if len(mem) == 0 || m == 0 {
		return cur
	}
	n, d := cur.Len(), cur.Shape.Size()
	out := tasks.Set{Shape: cur.Shape, X: make([]float32, 0, (n+m)*d), Y: make([]int, 0, n+m)}
	out.X, out.Y = append(out.X, cur.X...), append(out.Y, cur.Y...)
	taskIL := c.Scenario == tasks.TaskIL
	var own [][]int // each task's outputs, in task-IL
	if taskIL {
		own = make([][]int, k+1)
		for j := range own {
			own[j] = c.Scenario.TrainActive(c.Stream, j)
		}
		out.Active = make([][]int, n, n+m)
		for i := range n {
			out.Active[i] = own[k]
		}
	}
	draw := r.rand("draws", k)
	for range m {
		s := mem[draw.IntN(len(mem))]
		t := c.Stream.Tasks[s.task]
		// One row at a time: a permuted task's is made for it, and the
		// memory never holds pixels.
		row := c.Scenario.Relabel(t, t.Train.Rows(s.row, s.row+1))
		out.X, out.Y = append(out.X, row.X...), append(out.Y, row.Y...)
		if taskIL {
			out.Active = append(out.Active, own[s.task])
		}
	}
	if r.Weighting == ReplayWeightTask {
		out.Weight = taskWeights(n, m, k+1)
	}
	return out
}

// taskWeights is the weights of n current examples followed by m replayed
// ones at the t-th task (1-based) that make a set's mean weighted loss
// (1/t)·mean(current) + (1 − 1/t)·mean(replayed): (n+m)/n · 1/t for each
// current example and (n+m)/m · (1 − 1/t) for each replayed one. Their
// mean is 1, so the step size is that of unweighted learning.
func taskWeights(n, m, t int) []float32 {
	w := make([]float32, n+m)
	all, share := float64(n+m), 1/float64(t)
	wc, wr := float32(all/float64(n)*share), float32(all/float64(m)*(1-share))
	for i := range w {
		if i < n {
			w[i] = wc
		} else {
			w[i] = wr
		}
	}
	return w
}

// trainLabels is the stream labels of a task's training set, read a chunk
// at a time so that a permuted task's pixels are never all made at once.
func trainLabels(t tasks.Task) []int {
	n := t.Train.Len()
	out := make([]int, 0, n)
	for lo := 0; lo < n; lo += EvalChunk {
		out = append(out, t.Train.Rows(lo, min(lo+EvalChunk, n)).Y...)
	}
	return out
}

// classBalanced is n rows of each label of a task (all of a label's when
// it has fewer), drawn without replacement, labels ascending and rows
// ascending within each.
func classBalanced(task int, labels []int, n int, rng *rand.Rand) []slot {
	byClass := map[int][]int{}
	for i, y := range labels {
		byClass[y] = append(byClass[y], i)
	}
	classes := make([]int, 0, len(byClass))
	for y := range byClass {
		classes = append(classes, y)
	}
	slices.Sort(classes) // a fixed order of draws, whatever map order is
	var out []slot
	for _, y := range classes {
		rows := byClass[y]
		if len(rows) > n {
			// A partial Fisher–Yates shuffle: the first n are a uniform
			// draw without replacement.
			for i := range n {
				j := i + rng.IntN(len(rows)-i)
				rows[i], rows[j] = rows[j], rows[i]
			}
			rows = rows[:n]
			slices.Sort(rows)
		}
		for _, i := range rows {
			out = append(out, slot{task, i})
		}
	}
	return out
}

// reservoir goes on with reservoir sampling (Vitter's algorithm R) over a
// task's n rows, seen examples having been seen before them: the first
// size examples fill the memory, and the i-th seen after that replaces a
// uniformly chosen one with probability size/i. It returns the memory and
// the count seen.
func reservoir(mem []slot, seen, task, n, size int, rng *rand.Rand) ([]slot, int) {
	for i := range n {
		seen++
		if len(mem) < size {
			mem = append(mem, slot{task, i})
		} else if j := rng.IntN(seen); j < size {
			mem[j] = slot{task, i}
		}
	}
	return mem, seen
}
