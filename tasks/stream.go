package tasks

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
)

// Task is one task of a stream: its training and test data and the outputs
// (class ids in the stream's label space) its labels use. Train.Set() and
// Test.Set() give the data (see Examples: a permuted task makes it on
// demand).
type Task struct {
	ID      int   // 1-based position in the stream
	Classes []int // the stream-level class ids of this task, ascending
	Train   Examples
	Test    Examples
	// Val is the part of the task's training data held out for validation
	// (StreamConfig.Validation): never trained on; empty when none is.
	Val Examples
}

// Stream is a sequence of tasks over one label space.
type Stream struct {
	Name       string // e.g. "split-mnist"
	Dataset    string
	Kind       string // "split", "permuted" or "joint"
	Tasks      []Task
	NumClasses int   // size of the stream's label space
	Shape      Shape // of one example as the tasks give it
	Choices    Choices
}

// Choices records every random (or chosen) decision that shaped a stream, so
// a run can be reproduced and audited.
type Choices struct {
	Seed        uint64  `json:"seed"`
	ClassOrder  []int   `json:"class_order,omitempty"`
	Permutation []int64 `json:"permutation_seeds,omitempty"`
	// Permuted is the construction of a permuted stream: PermutedPadded or
	// PermutedPlain (runs stored before the choice existed leave it out,
	// and were plain).
	Permuted string `json:"permuted,omitempty"`
	// PixelMean and PixelStd are the per-channel statistics the stream's
	// inputs were standardised by (StreamConfig.Pixels "standard").
	PixelMean []float64 `json:"pixel_mean,omitempty"`
	PixelStd  []float64 `json:"pixel_std,omitempty"`
	// Validation is the fraction of each task's training data held out
	// (StreamConfig.Validation; see holdOut for how it is drawn).
	Validation float64 `json:"validation,omitempty"`
}

// Stream kinds.
const (
	KindSplit    = "split"
	KindPermuted = "permuted"
	KindJoint    = "joint"
)

// StreamKinds lists the kinds NewStream accepts.
func StreamKinds() []string { return []string{KindSplit, KindPermuted, KindJoint} }

// StreamConfig says how to cut a dataset into tasks.
type StreamConfig struct {
	Kind  string // KindSplit, KindPermuted or KindJoint
	Tasks int    // number of tasks; for split, NumClasses must divide evenly
	// ClassOrder for split streams: "fixed" (0, 1, 2, ...: the standard
	// protocol) or "seeded" (a permutation drawn from Seed).
	ClassOrder string
	Seed       uint64
	// Pixels is the input treatment, the same for every learner: PixelsRaw
	// ("" means raw) or PixelsStandard (see standardizeStream).
	Pixels string
	// Permuted is the construction of a permuted stream: PermutedPadded
	// (van de Ven & Tolias's: padded to 32×32, then permuted) or
	// PermutedPlain ("" means plain, the construction of specs stored
	// before the choice existed; the default of the command line and sweep
	// files, harness.DefaultSweep, is padded).
	Permuted string
	// Validation is the fraction of each task's training examples held
	// out, per class, as the task's validation set (Task.Val), drawn from
	// Seed; 0 (the default) holds out none.
	Validation float64
}

// MaxPermutedTasks is the most tasks a permuted stream may have: the
// common benchmarks use 10 to 100, and a stream of T tasks is scored T²
// times.
const MaxPermutedTasks = 1000

// DefaultTasks is the usual number of tasks of a stream kind: 5 for split
// (split MNIST: 0,1 | 2,3 | ... | 8,9), 10 for permuted (van de Ven &
// Tolias's permuted MNIST), 1 for joint.
func DefaultTasks(kind string) int {
	switch kind {
	case KindSplit:
		return 5
	case KindPermuted:
		return 10
	}
	return 1
}

// Check validates the configuration for a dataset of the given number of
// classes, without its data, so a batch can be checked before anything is
// loaded.
func (cfg StreamConfig) Check(dataset string, classes int) error {
	if err := checkPixels(cfg.Pixels); err != nil {
		return err
	}
	if err := checkPermuted(cfg.Permuted); err != nil {
		return err
	}
	if err := checkValidation(cfg.Validation); err != nil {
		return err
	}
	switch cfg.Kind {
	case KindJoint:
		if cfg.Tasks != 1 {
			return fmt.Errorf("the joint stream is the whole dataset as one task: %d tasks asked", cfg.Tasks)
		}
	case KindSplit:
		if cfg.Tasks < 1 || classes%cfg.Tasks != 0 {
			return fmt.Errorf("split %s: %d classes do not divide into %d tasks", dataset, classes, cfg.Tasks)
		}
		switch cfg.ClassOrder {
		case "", "fixed", "seeded":
		default:
			return fmt.Errorf("class order %q: want fixed or seeded", cfg.ClassOrder)
		}
	case KindPermuted:
		if cfg.Tasks < 1 || cfg.Tasks > MaxPermutedTasks {
			return fmt.Errorf("permuted %s: %d tasks: want 1 to %d (every task is scored after every task, %d² scorings)",
				dataset, cfg.Tasks, MaxPermutedTasks, MaxPermutedTasks)
		}
	default:
		return fmt.Errorf("stream %q: want one of %s", cfg.Kind, strings.Join(StreamKinds(), ", "))
	}
	return nil
}

// NewStream builds a stream from a dataset.
//
// Split: the classes, in ClassOrder, are cut into Tasks groups of equal size;
// labels keep their dataset ids. Permuted: every task is the whole dataset
// with its pixels shuffled by one permutation per task (drawn from Seed;
// every task is permuted; padded first for PermutedPadded), and task k's
// labels are shifted by k·NumClasses so that each task has its own outputs;
// the tasks share ds's sets and make their examples only when asked (see
// Examples), so the stream holds no copy per task. Joint: one task, the
// plain dataset. With Validation, a stratified fraction of every task's
// training examples is then held out (see holdOut), before the statistics of
// Pixels "standard" are taken, so they see no validation example; with
// Pixels "standard", every task's inputs are then standardised (see
// standardizeStream); ds is never changed.
func NewStream(ds Dataset, cfg StreamConfig) (Stream, error) {
	s, err := newStream(ds, cfg)
	if err == nil && cfg.Validation > 0 {
		holdOut(&s, cfg.Validation, cfg.Seed)
	}
	if err == nil && cfg.Pixels == PixelsStandard {
		standardizeStream(&s)
	}
	return s, err
}

func newStream(ds Dataset, cfg StreamConfig) (Stream, error) {
	if cfg.Kind == KindJoint && cfg.Tasks == 0 {
		cfg.Tasks = 1
	}
	if err := cfg.Check(ds.Name, ds.NumClasses); err != nil {
		return Stream{}, err
	}
	s := Stream{Dataset: ds.Name, Kind: cfg.Kind, Shape: ds.Train.Shape, Choices: Choices{Seed: cfg.Seed}}
	switch cfg.Kind {
	case KindJoint:
		s.Name = ds.Name
		s.NumClasses = ds.NumClasses
		s.Tasks = []Task{{ID: 1, Classes: seq(0, ds.NumClasses), Train: Examples{set: ds.Train}, Test: Examples{set: ds.Test}}}
		return s, nil
	case KindSplit:
		order := seq(0, ds.NumClasses)
		if cfg.ClassOrder == "seeded" {
			r := rand.New(rand.NewPCG(cfg.Seed, 0x5eed_c1a55))
			r.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		}
		s.Name = "split-" + ds.Name
		s.NumClasses = ds.NumClasses
		s.Choices.ClassOrder = order
		per := ds.NumClasses / cfg.Tasks
		for k := range cfg.Tasks {
			classes := slices.Clone(order[k*per : (k+1)*per])
			slices.Sort(classes)
			train, test := filterClasses(ds.Train, classes), filterClasses(ds.Test, classes)
			if train.Len() == 0 || test.Len() == 0 {
				// Found here, before the first task trains, not when task k does.
				return Stream{}, fmt.Errorf("split %s: task %d (classes %v) has %d training and %d test examples; "+
					"every task needs both: check the dataset's class folders or labels", ds.Name, k+1, classes, train.Len(), test.Len())
			}
			s.Tasks = append(s.Tasks, Task{ID: k + 1, Classes: classes, Train: Examples{set: train}, Test: Examples{set: test}})
		}
		return s, nil
	case KindPermuted:
		return permutedStream(ds, cfg, s), nil
	}
	panic("unreachable: Check accepts only the kinds above")
}

func seq(from, to int) []int {
	out := make([]int, 0, to-from)
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

// filterClasses keeps the examples whose label is in classes, in dataset order.
func filterClasses(s Set, classes []int) Set {
	var idx []int
	for i, y := range s.Y {
		if slices.Contains(classes, y) {
			idx = append(idx, i)
		}
	}
	return s.Subset(idx)
}
