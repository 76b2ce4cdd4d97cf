package harness

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/noprop/noprop/methods"
	"github.com/noprop/noprop/tasks"
)

// Spec is everything that defines one run. Its JSON form is stored with the
// run's results, so it must name every choice: Settings holds the method's
// complete resolved settings, not just the overrides.
type Spec struct {
	Method string `json:"method"`
	// Preset is the settings preset Settings was resolved from (informational).
	Preset   string          `json:"preset,omitempty"`
	Settings json.RawMessage `json:"settings"`
	// Identity is the part of Settings that can change the run's results
	// (methods.Method.Identity); Sweep.Expand fills it. It is not stored:
	// the stored spec names every setting.
	Identity json.RawMessage `json:"-"`
	Dataset  string          `json:"dataset"`
	// Stream is the stream kind: split, permuted or joint.
	Stream     string `json:"stream"`
	Tasks      int    `json:"tasks"`
	ClassOrder string `json:"class_order,omitempty"`
	Scenario   string `json:"scenario"`
	Seed       uint64 `json:"seed"`
	// InferenceRuns is the number of inference runs per trained model of a
	// rule with stochastic inference: every evaluation is repeated with that
	// many inference seeds, and the stored accuracy is their mean (the
	// paper's protocol: 5). It is 1 for deterministic rules.
	InferenceRuns int `json:"inference_runs"`
	// TestEvery asks for a learning curve: after every TestEvery-th pass a
	// learner reports (its epoch number a multiple of it; after the last
	// part of the epoch for learners trained part by part), the task being
	// learned is scored
	// on its test set, with the classes and inference seeds of the first
	// inference run of its evaluation, and the accuracy goes into the
	// training log. Scoring draws nothing from the training streams, so the
	// run's results do not change; only its time does. 0 (the default, left
	// out of the JSON and so of the configuration hash) asks for none.
	TestEvery int `json:"test_every,omitempty"`
	// CurveOn is the set the learning curve scores: empty (CurveOnTest),
	// the task's test set; CurveOnVal, its validation set (Validation
	// above 0), so that a curve used to choose a budget or a learning rate
	// never looks at the test set. It changes only the training log, so,
	// like TestEvery, it is not part of the configuration hash.
	CurveOn string `json:"curve_on,omitempty"`
	// Probe asks, after every task, for the accuracy of each stage of the
	// model on every task's test set (Eval.Probe), for rules whose
	// learners name their stages (methods.Prober: NoProp-DT's blocks as
	// denoisers and along the chain, its head; backprop-dt's blocks along
	// the chain): where in the model forgetting happens. Probing draws
	// from streams of its own and changes no result, so, like TestEvery,
	// it is not part of the configuration hash.
	Probe bool `json:"probe,omitempty"`
	// Pixels is the input treatment of every task (tasks.StreamConfig.Pixels):
	// "standard" standardises each channel by the first task's training
	// statistics; empty (left out of the JSON and so of the hash) is the
	// values as the dataset gives them.
	Pixels string `json:"pixels,omitempty"`
	// Permuted is the construction of a permuted stream
	// (tasks.StreamConfig.Permuted): "padded" (van de Ven & Tolias's, the
	// default of the command line and sweep files) is always written out;
	// empty (left out of the JSON and so of the hash) is "plain", the
	// construction of every permuted run stored before the choice existed,
	// so their configurations keep their hashes. Empty for other streams.
	Permuted string `json:"permuted,omitempty"`
	// Strategy is what the learner trains on at each task (Strategy;
	// LookupStrategy): "cumulative" or "joint", the continual-learning
	// bounds, or "replay", experience replay; empty (left out of the JSON and so of the hash) is
	// fine-tuning, the default and the protocol of every run stored
	// before the choice existed.
	Strategy string `json:"strategy,omitempty"`
	// Replay is the replay strategy's settings, only its policy's size
	// kept; nil (left out of the JSON and so of the hash) for every other
	// strategy, whose hashes therefore never depend on them.
	Replay *Replay `json:"replay,omitempty"`
	// TaskHeads is how the bounds (cumulative, joint) learn a union of
	// task-IL tasks: "own" (TaskHeadsOwn, written out for every such spec
	// made now) is one Learn call in which each example has its own task's
	// outputs; empty (left out of the JSON and so of the hash) is the
	// construction of runs stored before examples carried their own
	// outputs (cumulative: one call per task, in order; joint: one softmax
	// over every class), so that those runs keep their hashes and re-run
	// as they ran. Empty for every other strategy and scenario.
	TaskHeads string `json:"task_heads,omitempty"`
	// Validation is the fraction of each task's training data held out,
	// per class, as its validation set (tasks.StreamConfig.Validation): no
	// learner trains on it, and the run's accuracy on it (Result.ValMatrix,
	// the metric val_acc) chooses among a grid's configurations. 0 (left
	// out of the JSON and so of the hash) holds out none.
	Validation float64 `json:"validation,omitempty"`

	// checked is set by Sweep.Expand, which has checked the whole spec
	// against the catalog and the datasets' classes: the runner does not
	// check it again.
	checked bool
}

// Validate checks the parts of the spec that can be checked without data or
// methods (Sweep.Expand checks the rest before any work starts; building the
// stream checks it again against the data).
func (s Spec) Validate() error {
	if _, err := tasks.ParseScenario(s.Scenario); err != nil {
		return err
	}
	if !slices.Contains(tasks.StreamKinds(), s.Stream) {
		return fmt.Errorf("stream %q: want one of %s", s.Stream, strings.Join(tasks.StreamKinds(), ", "))
	}
	if s.InferenceRuns < 1 || s.InferenceRuns > MaxInferenceRuns {
		return fmt.Errorf("inference runs = %d: must be from 1 to %d", s.InferenceRuns, MaxInferenceRuns)
	}
	if s.TestEvery < 0 {
		return fmt.Errorf("test every = %d: must be 0 (no learning curve) or a number of epochs", s.TestEvery)
	}
	if err := checkCurveOn(s.CurveOn, s.TestEvery, s.Validation); err != nil {
		return err
	}
	if s.Validation < 0 || s.Validation >= tasks.MaxValidation || s.Validation != s.Validation {
		return fmt.Errorf("validation %v: want a fraction in [0, %v)", s.Validation, tasks.MaxValidation)
	}
	if err := checkStrategy(s.Strategy); err != nil {
		return err
	}
	if s.TaskHeads != "" && s.TaskHeads != taskHeads(s.Scenario, s.Strategy) {
		return fmt.Errorf("task heads %q with strategy %q in %s-IL: %q applies to the cumulative and joint bounds in task-IL alone", s.TaskHeads, s.Strategy, s.Scenario, TaskHeadsOwn)
	}
	return s.checkReplay()
}

// The sets a learning curve can score (Spec.CurveOn).
const (
	CurveOnTest = "test"
	CurveOnVal  = "val"
)

// checkCurveOn accepts the set a learning curve scores given the curve's
// interval and the validation fraction.
func checkCurveOn(on string, every int, validation float64) error {
	switch {
	case on != "" && on != CurveOnTest && on != CurveOnVal:
		return fmt.Errorf("curve on %q: want %s or %s", on, CurveOnTest, CurveOnVal)
	case on == CurveOnVal && validation <= 0:
		return errors.New("a learning curve on the validation set needs one: set validation (--validation 0.1)")
	case on == CurveOnVal && every <= 0:
		return errors.New("curve on val without a learning curve: set test every (--test-every N) too")
	}
	return nil
}

// JSON is the canonical JSON form of the spec.
func (s Spec) JSON() string {
	b, err := json.Marshal(s)
	if err != nil {
		panic(fmt.Sprintf("marshal spec: %v", err)) // Spec holds only marshalable fields
	}
	return string(b)
}

// IdentityJSON is what makes a run what it is, apart from its seed: the
// method, the settings that can change its results (Identity, or all of
// Settings when Identity is nil), the dataset, stream and scenario, and the
// strategy (with replay's settings) and validation fraction when they are
// not the defaults. The
// preset's name, the number of inference runs and the learning curve are
// not part of it: scoring more inference runs, measuring a learning curve
// or changing a speed setting does not make another configuration.
func (s Spec) IdentityJSON() string {
	settings := s.Identity
	if settings == nil {
		settings = s.Settings
	}
	// Settings are compacted through a map so key order and spacing do not
	// change the identity.
	var m map[string]any
	if err := json.Unmarshal(settings, &m); err == nil {
		settings, _ = json.Marshal(m)
	}
	id := struct {
		Method     string          `json:"method"`
		Settings   json.RawMessage `json:"settings"`
		Dataset    string          `json:"dataset"`
		Stream     string          `json:"stream"`
		Tasks      int             `json:"tasks"`
		ClassOrder string          `json:"class_order,omitempty"`
		Scenario   string          `json:"scenario"`
		Pixels     string          `json:"pixels,omitempty"`
		Permuted   string          `json:"permuted,omitempty"`
		Strategy   string          `json:"strategy,omitempty"`
		Replay     *Replay         `json:"replay,omitempty"`
		TaskHeads  string          `json:"task_heads,omitempty"`
		Validation float64         `json:"validation,omitempty"`
	}{s.Method, settings, s.Dataset, s.Stream, s.Tasks, s.ClassOrder, s.Scenario, s.Pixels, s.Permuted, s.Strategy, s.Replay, s.TaskHeads, s.Validation}
	b, err := json.Marshal(id)
	if err != nil {
		panic(fmt.Sprintf("marshal spec identity: %v", err))
	}
	return string(b)
}

// ConfigHash identifies the spec without its seed (IdentityJSON): runs that
// differ only in the seed share it, so results can be aggregated over seeds.
func (s Spec) ConfigHash() string {
	sum := sha256.Sum256([]byte(s.IdentityJSON()))
	return hex.EncodeToString(sum[:8])
}

// StoredHash returns the configuration hash of a stored spec (its JSON) by
// the current catalog's identity rules; ok is false when the spec does not
// parse or names a method cat does not hold.
func StoredHash(specJSON string, cat methods.Catalog) (hash string, ok bool) {
	var s Spec
	if err := json.Unmarshal([]byte(specJSON), &s); err != nil {
		return "", false
	}
	m, err := cat.Lookup(s.Method)
	if err != nil {
		return "", false
	}
	if s.Identity, err = m.Identity(s.Settings); err != nil {
		return "", false
	}
	return s.ConfigHash(), true
}

// StreamConfig is the stream part of the spec.
func (s Spec) StreamConfig() tasks.StreamConfig {
	return tasks.StreamConfig{Kind: s.Stream, Tasks: s.Tasks, ClassOrder: s.ClassOrder, Seed: s.Seed, Pixels: s.Pixels, Permuted: s.Permuted,
		Validation: s.Validation}
}

// MethodName is the method as run and the filters spell it: name, or
// name:preset.
func (s Spec) MethodName() string {
	if s.Preset != "" {
		return s.Method + ":" + s.Preset
	}
	return s.Method
}

// Label names the run for people, in the words the commands and filters
// use: method, stream (split-mnist), scenario, the strategy when it is not
// fine-tuning, seed.
func (s Spec) Label() string {
	strategy := ""
	if s.Strategy != "" {
		strategy = " " + s.Strategy
	}
	return fmt.Sprintf("%s %s-%s %s%s seed %d", s.MethodName(), s.Stream, s.Dataset, s.Scenario, strategy, s.Seed)
}

// checkMethod finds the spec's method in a catalog and, for a spec that
// Sweep.Expand did not make, checks it and its settings (a spec is checked
// once on its way to a run).
func (s Spec) checkMethod(cat methods.Catalog) (methods.Method, error) {
	m, err := cat.Lookup(s.Method)
	if err != nil || s.checked {
		return m, err
	}
	if err := s.Validate(); err != nil {
		return m, err
	}
	if err := m.Check(s.Settings); err != nil {
		return m, fmt.Errorf("%s: %w", s.Method, err)
	}
	return m, nil
}

// LocateData checks that every dataset of specs can be read from dir (or
// the standard places; see tasks.Locate), before anything is written.
func LocateData(specs []Spec, dir string) error {
	located := map[string]bool{}
	for _, s := range specs {
		if !located[s.Dataset] {
			if _, err := tasks.Locate(s.Dataset, dir); err != nil {
				return err
			}
			located[s.Dataset] = true
		}
	}
	return nil
}
