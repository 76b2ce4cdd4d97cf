// Package methods defines the seam between the harness and the learning
// rules: the Learner interface and the optional abilities a learner may
// have, the Observer that hears a learner's progress, the description of a
// method that a catalog lists, and what every rule shares: the settings
// blocks and their validator (settings.go) and the training scaffold
// (train.go).
//
// Each learning rule lives in a sub-package (backprop, noprop, ...), built
// from the layers of methods/nn; methods/catalog lists them and
// methods/methodtest is the conformance suite every catalog entry passes.
// Package methods imports nn and tasks (for the data types) and nothing of
// harness or results.
package methods

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/noprop/noprop/methods/nn"
	"github.com/noprop/noprop/tasks"
)

// A Learner is one learning rule with its network.
//
// Outputs are numbered 0..Outputs-1, as fixed at construction. The harness
// tells the learner which outputs take part: while learning, only the active
// outputs enter the loss, and the labels in data.Y are always among them; at
// evaluation, only the active outputs are compared.
type Learner interface {
	// Learn trains on one task's training data.
	Learn(ctx context.Context, data tasks.Set, active []int, obs Observer) error
	// Scores returns, for each row of x (one example per row), one score per
	// output: higher means more likely. Only the outputs in active are
	// compared (the task's classes in task-IL, every class seen so far in
	// class-IL); a rule whose inference runs through its outputs (NoProp's
	// chain, Forward-Forward's candidate labels) restricts itself to them.
	// Scores of the other outputs are unspecified. The result has x.Rows rows
	// and Outputs columns and is owned by the caller.
	Scores(x nn.Matrix, active []int) nn.Matrix
}

// Stochastic is implemented by learners whose Scores draw random numbers
// (NoProp's chain starts from noise). Scores is then a deterministic
// function of the parameters, the input, the active outputs and the
// inference seed, so the paper's protocol of several inference runs per
// trained model is a choice of seeds.
type Stochastic interface {
	SetInferenceSeed(seed uint64)
}

// MultiScorer is implemented by Stochastic learners that can score several
// inference runs at once, doing the work that does not depend on the noise
// (the image path) once: ScoresRuns(x, active, seeds)[k] is, bit for bit,
// what Scores(x, active) returns after SetInferenceSeed(seeds[k]). The
// harness uses it when a run has more than one inference run.
type MultiScorer interface {
	ScoresRuns(x nn.Matrix, active []int, seeds []uint64) []nn.Matrix
}

// A Prober names the stages of its model (the blocks of a chain, a head)
// and scores each on its own, so that an analysis of forgetting can tell
// which stage loses what an earlier task taught (the harness's probe,
// Spec.Probe). Probe returns one rows × Outputs matrix per stage, in the
// order of Stages; a stage's prediction is its highest score among active.
// Stages that are given the label's noisy embedding (NoProp-DT's
// denoisers on z drawn from q(z | y)) read the labels y; seed fixes every
// draw, which come from streams of their own, so probing changes nothing
// the learner does afterwards.
type Prober interface {
	Stages() []string
	Probe(x nn.Matrix, y []int, active []int, seed uint64) []nn.Matrix
}

// An EmbeddingHolder has a matrix of class embeddings, one row per output
// (NoProp's W_Embed). The harness's probe follows how each task's rows move
// after the task is learned; ok is false when the rows are fixed (one-hot)
// and there is nothing to follow. rows aliases the learner's matrix: the
// caller copies what it keeps.
type EmbeddingHolder interface {
	EmbeddingRows() (rows nn.Matrix, ok bool)
}

// ParamCounter is implemented by learners that can count their trainable
// values.
type ParamCounter interface {
	NumParams() int
}

// Observer hears a learner's progress. Implementations must be cheap; they are
// called from the training loop.
type Observer interface {
	// Epoch reports one finished pass of one part of the learner.
	Epoch(EpochStats)
}

// EpochStats is what a learner reports after each pass over a task's data
// (an epoch, or a round of an iteration budget) of one of its parts.
type EpochStats struct {
	Epoch int    // 1-based within the current task
	Part  string // which part of the learner trained, e.g. "block 3"; empty for the whole
	// RoundEnd reports that this pass completes its epoch: every part has
	// made its pass of it (always true for a learner trained as a whole).
	// A learning curve is measured after such passes only, so that a rule
	// trained block by block is scored once per epoch, not once per block.
	RoundEnd bool
	// Loss is the mean training loss per example over the pass (each
	// minibatch's mean loss weighted by its size).
	Loss     float64
	TrainAcc float64 // training accuracy over the pass, percent; NaN if not measured
	Seconds  float64 // wall time of the pass
	Examples int     // examples processed
	// TestAcc is the accuracy on the test set of the task being learned,
	// percent, measured after the pass by whoever runs the learner (the
	// harness's learning curve); NaN when not measured. Learners leave it
	// unset.
	TestAcc float64
	// ValAcc is TestAcc's measure on the task's validation set instead,
	// when the run's learning curve scores that (the harness's CurveOn);
	// NaN when not measured. Learners leave it unset.
	ValAcc float64
	// Terms are the part's named terms (Part.Terms) averaged over the pass:
	// what the loss is made of and the state of anything it learns beside
	// the network (a noise schedule). Empty for rules that name none.
	Terms []Term
}

// Term is one named value of a training log line.
type Term struct {
	Name  string
	Value float64
}

// Progress is where a Learn call stands, reported after each minibatch step.
type Progress struct {
	Part  string // as EpochStats.Part
	Epoch int    // 1-based within the current task
	// Done and Total count the minibatch steps of this Learn call, over
	// every part.
	Done, Total int
	Examples    int // examples in the step just done
}

// StepObserver is an Observer that also hears every training step (for a
// live progress display). Learners discover it by type assertion.
type StepObserver interface {
	Observer
	Step(Progress)
}

// Checkpointer is implemented by learners whose whole state can be saved
// and restored: parameters, optimizer state, running statistics, every
// random stream and their Trainer's position within a Learn call. A learner
// restored into a fresh learner of the same settings and problem behaves
// from then on exactly as the saved one would have: a run resumed from a
// checkpoint gives the same results, bit for bit. VisitState walks that
// state (see nn.StateVisitor); the same code saves and restores it.
type Checkpointer interface {
	VisitState(v nn.StateVisitor)
}

// CheckpointObserver is an Observer that saves the learner during Learn:
// after every training step the Trainer asks whether a checkpoint is due,
// and if so calls Checkpoint (which saves the learner, position included).
type CheckpointObserver interface {
	Observer
	CheckpointDue() bool
	Checkpoint() error
}

// ObserverFunc adapts a function to the Observer interface.
type ObserverFunc func(EpochStats)

// Epoch calls f.
func (f ObserverFunc) Epoch(s EpochStats) { f(s) }

// Problem is what a learner is built for: the input shape and the number of
// outputs, plus the seed from which all of its randomness derives. It holds
// no data: a learner meets the data task by task in Learn, so nothing it
// does at construction can depend on tasks it has not met.
type Problem struct {
	Input   tasks.Shape
	Outputs int
	Seed    uint64
}

// Method describes one learning rule for the catalog.
type Method struct {
	Name    string
	Summary string
	// Settings returns a pointer to a new settings struct holding the
	// defaults. Its fields' tags name, document and constrain the settings
	// (see DecodeSettings); its JSON form names every setting.
	Settings func() any
	// Presets are named settings overlays, e.g. "paper" and "quick".
	Presets map[string]json.RawMessage
	// New builds a learner. settings is a JSON object whose fields override
	// the defaults; New decodes it with DecodeSettings into Settings(), so
	// it accepts exactly what Check accepts.
	New func(p Problem, settings json.RawMessage) (Learner, error)
	// Stochastic says that the learners New builds implement Stochastic:
	// their inference draws random numbers, and the harness runs several
	// inference runs per trained model.
	Stochastic bool
	// Toy is a settings overlay that makes every preset quick on a small
	// problem (a few hundred examples of a few classes, 14×14 images): the
	// conformance suite (methods/methodtest) applies it on top of each
	// preset.
	Toy json.RawMessage
}

// Check validates settings (a JSON object over the defaults) without
// building a learner, so a batch fails on a typo before any work starts.
func (m Method) Check(settings json.RawMessage) error {
	return DecodeSettings(settings, m.Settings())
}

// Resolve returns the complete settings of method m: its defaults, then the
// named preset (if any), then the overrides, checked. The result names every
// field, so it records exactly what a run used.
func (m Method) Resolve(preset string, overrides json.RawMessage) (json.RawMessage, error) {
	defaults, err := json.Marshal(m.Settings())
	if err != nil {
		return nil, fmt.Errorf("%s defaults: %w", m.Name, err)
	}
	var p json.RawMessage
	if preset != "" {
		var ok bool
		if p, ok = m.Presets[preset]; !ok {
			return nil, fmt.Errorf("method %s has no preset %q (presets: %s)", m.Name, preset, strings.Join(m.PresetNames(), ", "))
		}
	}
	merged, err := MergeSettings(defaults, p, overrides)
	if err != nil {
		return nil, err
	}
	// Decode into the settings type and marshal back, so the result has one
	// canonical form whatever the layers' spelling.
	s := m.Settings()
	if err := DecodeSettings(merged, s); err != nil {
		if preset != "" {
			return nil, fmt.Errorf("%s:%s: %w", m.Name, preset, err)
		}
		return nil, fmt.Errorf("%s: %w", m.Name, err)
	}
	return json.Marshal(s)
}

// PresetNames lists the method's presets in order.
func (m Method) PresetNames() []string { return slices.Sorted(maps.Keys(m.Presets)) }

// Fields documents the method's settings with their defaults.
func (m Method) Fields() []Field { return Fields(m.Settings()) }

// Catalog is a table of methods, the value the harness runs from.
type Catalog []Method

// Lookup finds a method by name.
func (c Catalog) Lookup(name string) (Method, error) {
	i := slices.IndexFunc(c, func(m Method) bool { return m.Name == name })
	if i < 0 {
		return Method{}, fmt.Errorf("unknown method %q (known: %s; see `noprop methods`)", name, strings.Join(c.Names(), ", "))
	}
	return c[i], nil
}

// Names lists the methods' names in catalog order.
func (c Catalog) Names() []string {
	names := make([]string, len(c))
	for i, m := range c {
		names[i] = m.Name
	}
	return names
}

// Rule is a learning rule as its package defines it: its default settings
// and its constructor over decoded settings. Its Settings and New are a
// Method's: New decodes the JSON settings once, over the defaults, checks
// them (DecodeSettings) and builds the learner, so every rule's entry in
// the catalog is its defaults and its constructor, nothing more.
type Rule[S any, L Learner] struct {
	Defaults func() S
	Build    func(p Problem, s S) (L, error)
}

// Settings returns a pointer to a new settings struct holding the defaults.
func (r Rule[S, L]) Settings() any { s := r.Defaults(); return &s }

// New decodes settings over the defaults and builds the learner. Settings
// with a precision (the Training block's) are applied to every tensor the
// learner's state walk reaches, so no rule handles them itself.
func (r Rule[S, L]) New(p Problem, settings json.RawMessage) (Learner, error) {
	s, err := Decode(r.Defaults(), settings)
	if err != nil {
		return nil, err
	}
	l, err := r.Build(p, s)
	if err != nil {
		return nil, err
	}
	if pr, ok := any(s).(interface{ Products() nn.Precision }); ok && pr.Products() != nn.FP32 {
		if c, ok := any(l).(Checkpointer); ok {
			nn.SetProductsOf(pr.Products(), c.VisitState)
		}
	}
	return l, nil
}

// Decode reads a JSON object of settings over defaults and checks the
// result (see DecodeSettings).
func Decode[S any](defaults S, settings json.RawMessage) (S, error) {
	if err := DecodeSettings(settings, &defaults); err != nil {
		var zero S
		return zero, err
	}
	return defaults, nil
}

// MaxWeights is the most trainable values a learner may have: with its
// gradient and Adam's two moments, 16 bytes each, 4 GiB, which a 24 GiB
// machine holds beside the data and the scoring buffers.
const MaxWeights = 1 << 28

// CheckWeights refuses, before anything is allocated, a network of more
// than MaxWeights values; n is the constructor's count of them.
func CheckWeights(n int64) error {
	if n > MaxWeights || n < 0 {
		return fmt.Errorf("the network would have %d million weights, more than the %d million this harness allows "+
			"(with gradients and optimizer state, 16 bytes each): make it smaller (hidden, timesteps, embed_dim)", n>>20, MaxWeights>>20)
	}
	return nil
}

// MLPWeights counts the weights and biases of fully connected layers from
// in through the widths to out.
func MLPWeights(in int, widths []int, out int) int64 {
	n, prev := int64(0), int64(in)
	for _, w := range append(append([]int(nil), widths...), out) {
		n += prev*int64(w) + int64(w)
		prev = int64(w)
	}
	return n
}
