package harness

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/noprop/noprop/methods"
	"github.com/noprop/noprop/tasks"
)

// MethodChoice is one method of a sweep: its name, a preset and settings
// overrides (a JSON object; later keys over the preset over the defaults).
type MethodChoice struct {
	Name     string
	Preset   string
	Settings json.RawMessage
}

// Sweep is a study written down once: every combination of its methods,
// datasets, streams, scenarios and seeds is one run. The command line
// (`noprop run`) and sweep files both expand through it, so they accept and
// refuse the same things.
type Sweep struct {
	Methods  []MethodChoice
	Datasets []string
	// Streams are stream kinds: split, permuted, joint.
	Streams []string
	// Tasks is the number of tasks of split and permuted streams; 0 takes
	// each kind's usual number (tasks.DefaultTasks). The joint stream has one
	// task: a Tasks other than 0 or 1 with it is an error, not ignored.
	Tasks int
	// ClassOrder is "fixed" or "seeded", for split streams.
	ClassOrder string
	Scenarios  []string
	// Seeds is the number of seeds, FirstSeed the first: FirstSeed,
	// FirstSeed+1, ... (without wrapping around the uint64 range).
	Seeds     int
	FirstSeed uint64
	// InferenceRuns is the number of inference runs per trained model for
	// rules with stochastic inference (Spec.InferenceRuns).
	InferenceRuns int
	// TestEvery is Spec.TestEvery of every run: the learning curve's
	// interval in epochs, 0 for none.
	TestEvery int
	// CurveOn is Spec.CurveOn of every run: the set the learning curve
	// scores, "test" (or empty) or "val".
	CurveOn string
	// Probe is Spec.Probe of every run.
	Probe bool
	// Pixels is Spec.Pixels of every run: "raw" (or empty) or "standard".
	Pixels string
	// Permuted is the construction of permuted streams: "padded" (van de
	// Ven & Tolias's, DefaultSweep's) or "plain" (empty means plain, the
	// construction of runs stored before the choice existed; see
	// Spec.Permuted).
	Permuted string
	// Strategies are the strategies every configuration is run with
	// (Spec.Strategy, crossed with the rest as scenarios are); empty means
	// fine-tuning alone.
	Strategies []string
	// Replay is the replay strategy's settings (Spec.Replay); nil is
	// DefaultReplay. Given with no replay among Strategies, it is an
	// error: settings that change nothing would mislead a reader.
	Replay *Replay
	// Validation is Spec.Validation of every run: the fraction of each
	// task's training data held out for validation, 0 for none.
	Validation float64
	// MaxRuns is the most runs the sweep may expand to; 0 means
	// DefaultMaxRuns. A larger sweep is refused before any run is listed.
	MaxRuns int
}

// DefaultSweep is the study a command line or a sweep file describes when
// it says nothing more: split MNIST in 5 tasks of fixed class order, the
// class- and task-incremental scenarios, one seed from 1, five inference
// runs for stochastic rules, raw pixels, no learning curve, fine-tuning
// (replay, when asked for, with DefaultReplay), no validation set, and
// permuted
// streams (when asked for) built as van de Ven & Tolias build them. It is
// the one place these defaults are written; its methods are empty.
func DefaultSweep() Sweep {
	return Sweep{Datasets: []string{"mnist"}, Streams: []string{tasks.KindSplit}, ClassOrder: "fixed",
		Scenarios: []string{"class", "task"}, Seeds: 1, FirstSeed: 1, InferenceRuns: 5, Pixels: tasks.PixelsRaw,
		Permuted: tasks.PermutedPadded, Strategies: []string{StrategyFinetune}}
}

// MaxInferenceRuns is the most inference runs a stochastic rule's model
// is scored with (the NoProp paper uses 5): each is a full pass over every
// test set.
const MaxInferenceRuns = 1000

// DefaultMaxRuns is the most runs a sweep may expand to unless
// Sweep.MaxRuns says otherwise: far more than one machine trains, few
// enough to list (about 1 KB each) in a fraction of a second.
const DefaultMaxRuns = 100_000

// Expand returns the sweep's runs in order (method, dataset, stream,
// scenario, seed), having checked everything that can be checked without
// data: every list not empty, every method, preset and setting against the
// catalog, every dataset by name, every stream against its dataset's number
// of classes, every scenario, the seed range, and the number of runs
// against MaxRuns, computed before any run is listed. classes gives a
// dataset's number of classes (nil: tasks.NumClasses, which knows every
// dataset tasks.Load reads). The first problem found is the error, in one
// line.
//
// A configuration named twice (a method listed twice with the same
// settings, a dataset or scenario repeated) is one configuration.
func (sw Sweep) Expand(cat methods.Catalog, classes func(dataset string) (int, error)) ([]Spec, error) {
	sw.Datasets, sw.Streams, sw.Scenarios = unique(sw.Datasets), unique(sw.Streams), unique(sw.Scenarios)
	if err := sw.check(); err != nil {
		return nil, err
	}
	ms, err := sw.resolveMethods(cat)
	if err != nil {
		return nil, err
	}
	scenarios, err := sw.scenarios()
	if err != nil {
		return nil, err
	}
	streams, err := sw.streams(classes)
	if err != nil {
		return nil, err
	}
	strategies, err := sw.strategies()
	if err != nil {
		return nil, err
	}
	if err := sw.checkCount(len(ms) * len(streams) * len(scenarios) * len(strategies)); err != nil {
		return nil, err
	}
	replay, err := sw.replay(strategies)
	if err != nil {
		return nil, err
	}
	curveOn := sw.CurveOn
	if curveOn == CurveOnTest {
		curveOn = "" // the default, left out of the stored spec
	}
	pixels := sw.Pixels
	if pixels == tasks.PixelsRaw {
		pixels = "" // the default, kept out of the configuration hash
	}
	specs := make([]Spec, 0, len(ms)*len(streams)*len(scenarios)*len(strategies)*sw.Seeds)
	for _, m := range ms {
		runs := 1
		if m.m.Stochastic {
			runs = sw.InferenceRuns
		}
		for _, st := range streams {
			for _, sc := range scenarios {
				for _, strategy := range strategies {
					for i := range sw.Seeds {
						specs = append(specs, Spec{Method: m.m.Name, Preset: m.preset, Settings: m.settings, Identity: m.identity,
							Dataset: st.dataset, Stream: st.kind, Tasks: st.tasks, ClassOrder: st.order, Permuted: st.permuted,
							Scenario: sc, Seed: sw.FirstSeed + uint64(i), InferenceRuns: runs, TestEvery: sw.TestEvery, CurveOn: curveOn, Probe: sw.Probe, Pixels: pixels,
							Strategy: strategy, Replay: replay(strategy), TaskHeads: taskHeads(sc, strategy), Validation: sw.Validation, checked: true})
					}
				}
			}
		}
	}
	return specs, nil
}

// strategies are the sweep's strategies checked, without repeats, with
// fine-tuning as "" (the default, kept out of the configuration hash).
func (sw Sweep) strategies() ([]string, error) {
	if len(sw.Strategies) == 0 {
		return []string{""}, nil
	}
	var out []string
	for _, name := range unique(sw.Strategies) {
		if _, err := LookupStrategy(name); err != nil {
			return nil, err
		}
		if name == StrategyFinetune {
			name = ""
		}
		if !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out, nil
}

// replay checks the sweep's replay settings against its strategies and
// scenarios, and returns each spec's: a copy of them for replay, nil for
// any other strategy.
func (sw Sweep) replay(strategies []string) (func(strategy string) *Replay, error) {
	if !slices.Contains(strategies, StrategyReplay) {
		if sw.Replay != nil {
			return nil, fmt.Errorf("replay settings given, and no strategy replay: add replay to the strategies, or drop them")
		}
		return func(string) *Replay { return nil }, nil
	}
	r := DefaultReplay()
	if sw.Replay != nil {
		r = *sw.Replay
	}
	if err := r.Check(); err != nil {
		return nil, err
	}
	r = r.own()
	return func(strategy string) *Replay {
		if strategy != StrategyReplay {
			return nil
		}
		c := r
		return &c
	}, nil
}

// check checks the sweep's numbers and that no list is empty.
func (sw Sweep) check() error {
	for _, l := range []struct {
		what string
		n    int
	}{{"methods", len(sw.Methods)}, {"datasets", len(sw.Datasets)}, {"streams", len(sw.Streams)}, {"scenarios", len(sw.Scenarios)}} {
		if l.n == 0 {
			return fmt.Errorf("no %s given: name at least one", l.what)
		}
	}
	switch {
	case sw.Seeds < 1:
		return fmt.Errorf("seeds = %d: need at least 1", sw.Seeds)
	case sw.FirstSeed+uint64(sw.Seeds-1) < sw.FirstSeed:
		return fmt.Errorf("seeds %d from %d run past the largest seed %d", sw.Seeds, sw.FirstSeed, uint64(math.MaxUint64))
	case sw.InferenceRuns < 1 || sw.InferenceRuns > MaxInferenceRuns:
		return fmt.Errorf("inference runs = %d: need 1 to %d", sw.InferenceRuns, MaxInferenceRuns)
	case sw.TestEvery < 0:
		return fmt.Errorf("test every = %d: need 0 (no learning curve) or a number of epochs", sw.TestEvery)
	case checkCurveOn(sw.CurveOn, sw.TestEvery, sw.Validation) != nil:
		return checkCurveOn(sw.CurveOn, sw.TestEvery, sw.Validation)
	case sw.ClassOrder != "" && sw.ClassOrder != "fixed" && !slices.Contains(sw.Streams, tasks.KindSplit):
		return fmt.Errorf("class order %s orders the classes of split streams, and this batch has none (%s): "+
			"drop it, or add the split stream", sw.ClassOrder, strings.Join(sw.Streams, ", "))
	}
	return sw.checkCount(len(sw.Methods) * len(sw.Datasets) * len(sw.Streams) * len(sw.Scenarios))
}

// checkCount refuses a sweep of more than MaxRuns runs, given the number
// of configurations before seeds, without overflowing.
func (sw Sweep) checkCount(configs int) error {
	limit := sw.MaxRuns
	if limit <= 0 {
		limit = DefaultMaxRuns
	}
	if configs > limit || sw.Seeds > limit/max(configs, 1) {
		return fmt.Errorf("the sweep expands to %d configurations × %d seeds, more than the limit of %d runs; "+
			"split it into several sweeps, or raise the limit with --max-runs (sweep files: max_runs)", configs, sw.Seeds, limit)
	}
	return nil
}

// resolved is one method of a sweep with its complete settings.
type resolved struct {
	m                  methods.Method
	preset             string
	settings, identity json.RawMessage
}

func (sw Sweep) resolveMethods(cat methods.Catalog) ([]resolved, error) {
	var ms []resolved
	seen := map[string]bool{}
	for _, mc := range sw.Methods {
		m, err := cat.Lookup(mc.Name)
		if err != nil {
			return nil, err
		}
		settings, err := m.Resolve(mc.Preset, mc.Settings)
		if err != nil {
			return nil, err
		}
		identity, err := m.Identity(settings)
		if err != nil {
			return nil, err
		}
		key := m.Name + "\x00" + string(identity)
		if seen[key] {
			continue // the same configuration, listed again
		}
		seen[key] = true
		ms = append(ms, resolved{m, mc.Preset, settings, identity})
	}
	return ms, nil
}

// unique is list without repeats, in first-seen order.
func unique(list []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range list {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

func (sw Sweep) scenarios() ([]string, error) {
	var out []string
	for _, s := range sw.Scenarios {
		sc, err := tasks.ParseScenario(s)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(out, string(sc)) {
			out = append(out, string(sc))
		}
	}
	return out, nil
}

// streamChoice is one dataset and stream kind of a sweep: order and
// permuted are Spec.ClassOrder and Spec.Permuted, empty for streams they do
// not apply to.
type streamChoice struct {
	dataset, kind, order, permuted string
	tasks                          int
}

func (sw Sweep) streams(classes func(dataset string) (int, error)) ([]streamChoice, error) {
	if classes == nil {
		classes = tasks.NumClasses
	}
	var out []streamChoice
	for _, ds := range sw.Datasets {
		n, err := classes(ds)
		if err != nil {
			return nil, err
		}
		for _, kind := range sw.Streams {
			t := sw.Tasks
			if t == 0 {
				t = tasks.DefaultTasks(kind)
			}
			cfg := tasks.StreamConfig{Kind: kind, Tasks: t, ClassOrder: sw.ClassOrder, Pixels: sw.Pixels, Permuted: sw.Permuted,
				Validation: sw.Validation}
			if err := cfg.Check(ds, n); err != nil {
				return nil, err
			}
			order, permuted := sw.ClassOrder, sw.Permuted
			if kind != tasks.KindSplit {
				order = ""
			}
			if kind != tasks.KindPermuted || permuted == tasks.PermutedPlain {
				permuted = "" // plain: the hash of runs stored before the choice
			}
			out = append(out, streamChoice{ds, kind, order, permuted, t})
		}
	}
	return out, nil
}

// ParseSets reads command-line overrides, each key=value (for every method)
// or method.key=value (for that method only), into one JSON object of
// settings per method of the batch. A value that parses as JSON keeps its
// type; anything else is a string. A method prefix must name a method of
// the batch, so a misspelt prefix is an error rather than silently ignored.
func ParseSets(sets []string, batch []string) (map[string]json.RawMessage, error) {
	objs := map[string]map[string]json.RawMessage{}
	for _, m := range batch {
		objs[m] = map[string]json.RawMessage{}
	}
	for _, s := range sets {
		k, v, ok := strings.Cut(s, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--set %q: want key=value or method.key=value", s)
		}
		val := json.RawMessage(v)
		if !json.Valid(val) {
			val, _ = json.Marshal(v)
		}
		targets := batch
		if m, key, qualified := strings.Cut(k, "."); qualified {
			if !slices.Contains(batch, m) {
				return nil, fmt.Errorf("--set %q: %q is not a method of this batch (%s)", s, m, strings.Join(batch, ", "))
			}
			targets, k = []string{m}, key
		}
		if k == "" {
			return nil, fmt.Errorf("--set %q: empty setting name", s)
		}
		for _, m := range targets {
			objs[m][k] = val
		}
	}
	out := map[string]json.RawMessage{}
	for m, o := range objs {
		b, err := json.Marshal(o)
		if err != nil {
			return nil, errors.New("--set: " + err.Error())
		}
		out[m] = b
	}
	return out, nil
}
