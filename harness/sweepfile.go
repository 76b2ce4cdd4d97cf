package harness

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/parser"

	"github.com/noprop/noprop/methods"
)

// SweepFormat documents the sweep file, the one place it is written
// (noprop plan --help prints it): a study written down once, in YAML.
const SweepFormat = `  methods:
    - backprop                      # a method alone: its name, or name:preset
    - name: noprop-dt
      preset: quick
      settings: {iterations: 2000}
      grid:                         # every combination is one configuration
        lr: [0.001, 0.0003]
  datasets: [mnist]                 # default [mnist]
  streams: [split]                  # default [split]
  tasks: 5                          # default: 5 for split, 10 for permuted
  class_order: fixed                # default fixed
  scenarios: [task, domain, class]  # default [class, task]
  seeds: 5                          # default 1
  first_seed: 1                     # default 1
  inference_runs: 5                 # default 5
  test_every: 5                     # learning curve: test accuracy every 5 epochs; default 0, none
  curve_on: val                     # the learning curve's set: test or val (needs validation); default test
  probe: true                       # after every task, each stage's accuracy (NoProp-DT's blocks, backprop-dt's); default false
  pixels: standard                  # each channel by the first task's training statistics; default raw
  permuted: padded                  # permuted streams: padded to 32x32 then permuted (van de Ven & Tolias) or plain; default padded
  strategy: [finetune, cumulative, joint, replay]  # what each task trains on: finetune, the bounds, or replay; default [finetune]
  replay_policy: class-balanced     # replay's memory: class-balanced (per class of each task) or reservoir (a total); default class-balanced
  replay_per_class: 100             # class-balanced: examples kept per class of each task, 1 to 100000; default 100
  replay_size: 1000                 # reservoir: examples kept in all, 1 to 10^7; default 1000 (give it with replay_policy: reservoir)
  replay_ratio: 1                   # replayed examples per current example in each Learn call, (0, 100]; default 1
  replay_weighting: task            # the loss's weighting: task (current 1/t, replayed 1 − 1/t at the t-th task) or equal; default task
  validation: 0.1                   # hold out 10% of each task's training data, per class; default 0, none
  max_runs: 100000                  # refuse a larger sweep before listing it; default 100000

A method's settings overlay its preset; a grid is the Cartesian product of
its lists, each combination overlaying the settings. Numbers may be written
1e-3; a configuration listed twice is run once. The file is plain YAML of at
most 256 KiB, without anchors, aliases or tags.`

// sweepFile is a sweep file decoded (SweepFormat).
type sweepFile struct {
	Methods       []methodFile `yaml:"methods"`
	Datasets      []string     `yaml:"datasets"`
	Streams       []string     `yaml:"streams"`
	Tasks         int          `yaml:"tasks"`
	ClassOrder    string       `yaml:"class_order"`
	Scenarios     []string     `yaml:"scenarios"`
	Seeds         *int         `yaml:"seeds"`
	FirstSeed     *uint64      `yaml:"first_seed"`
	InferenceRuns *int         `yaml:"inference_runs"`
	TestEvery     int          `yaml:"test_every"`
	CurveOn       string       `yaml:"curve_on"`
	Probe         bool         `yaml:"probe"`
	Pixels        string       `yaml:"pixels"`
	Permuted      string       `yaml:"permuted"`
	Strategy      []string     `yaml:"strategy"`
	ReplayPolicy  *string      `yaml:"replay_policy"`
	ReplayPer     *int         `yaml:"replay_per_class"`
	ReplaySize    *int         `yaml:"replay_size"`
	ReplayRatio   *float64     `yaml:"replay_ratio"`
	ReplayWeight  *string      `yaml:"replay_weighting"`
	Validation    float64      `yaml:"validation"`
	MaxRuns       int          `yaml:"max_runs"`
}

// methodFile is one method of a sweep file: a mapping, or a plain
// "name" or "name:preset".
type methodFile struct {
	Name     string           `yaml:"name"`
	Preset   string           `yaml:"preset"`
	Settings map[string]any   `yaml:"settings"`
	Grid     map[string][]any `yaml:"grid"`
}

// UnmarshalYAML accepts a method written as a plain string.
func (mf *methodFile) UnmarshalYAML(decode func(any) error) error {
	var name string
	if err := decode(&name); err == nil {
		mf.Name, mf.Preset, _ = strings.Cut(name, ":")
		return nil
	}
	type plain methodFile // without this method
	return decode((*plain)(mf))
}

// SweepFileError is a problem in a sweep file, at a line (0 when the problem
// is the file as a whole).
type SweepFileError struct {
	File string
	Line int
	Msg  string
}

func (e *SweepFileError) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	}
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
}

// ReadSweepFile reads a sweep file (see SweepFormat) and expands it against the
// catalog into its runs, checking everything Sweep.Expand checks. Any
// problem is one SweepFileError naming the file, the line and what is wrong.
// Reading stops when ctx is done, even if the file blocks (a FIFO with no
// writer), and a file over MaxSweepFileBytes is refused.
func ReadSweepFile(ctx context.Context, path string, cat methods.Catalog, classes func(string) (int, error)) ([]Spec, error) {
	type read struct {
		src []byte
		err error
	}
	got := make(chan read, 1)
	go func() {
		f, err := os.Open(path)
		if err != nil {
			got <- read{err: errors.Unwrap(err)}
			return
		}
		defer f.Close()
		src, err := io.ReadAll(io.LimitReader(f, MaxSweepFileBytes+1))
		got <- read{src, err}
	}()
	select {
	case <-ctx.Done():
		return nil, &SweepFileError{File: path, Msg: "interrupted while reading it"}
	case r := <-got:
		if r.err != nil {
			return nil, &SweepFileError{File: path, Msg: fmt.Sprintf("cannot read it: %v", r.err)}
		}
		if len(r.src) > MaxSweepFileBytes {
			return nil, &SweepFileError{File: path, Msg: fmt.Sprintf("larger than %d bytes: a sweep file is a short study description; split it", MaxSweepFileBytes)}
		}
		return ParseSweep(path, r.src, cat, classes)
	}
}

// MaxSweepFileBytes is the largest sweep file read: a study written by hand
// is a few hundred bytes.
const MaxSweepFileBytes = 256 << 10

// ParseSweep is ReadSweepFile on the file's contents; name is used in
// messages.
func ParseSweep(name string, src []byte, cat methods.Catalog, classes func(string) (int, error)) ([]Spec, error) {
	file, err := parser.ParseBytes(src, 0)
	if err != nil {
		return nil, yamlError(name, err)
	}
	if line, what := unsupportedYAML(file); line > 0 {
		return nil, &SweepFileError{File: name, Line: line, Msg: what}
	}
	sf, err := decodeSweepFile(src)
	if err != nil {
		return nil, yamlError(name, err)
	}
	fail := func(path string, format string, args ...any) error {
		return &SweepFileError{File: name, Line: nodeLine(file, path), Msg: fmt.Sprintf(format, args...)}
	}
	sw := sf.sweep()
	given := ReplayGiven{Policy: sf.ReplayPolicy, PerClass: sf.ReplayPer, Size: sf.ReplaySize, Ratio: sf.ReplayRatio, Weighting: sf.ReplayWeight}
	if sw.Replay, err = given.Settings(); err != nil {
		return nil, fail(sweepErrorPath(err, sw), "%v", err)
	}
	if len(sf.Methods) == 0 {
		return nil, fail("$.methods", "no methods: list at least one under methods:")
	}
	for i, mf := range sf.Methods {
		choices, path, err := mf.choices(cat, sw.maxRuns())
		if err != nil {
			return nil, fail(fmt.Sprintf("$.methods[%d]%s", i, path), "%v", err)
		}
		sw.Methods = append(sw.Methods, choices...)
		if err := sw.checkCount(len(sw.Methods) * len(sw.Datasets) * len(sw.Streams) * len(sw.Scenarios)); err != nil {
			return nil, fail(fmt.Sprintf("$.methods[%d].grid", i), "%v", err)
		}
	}
	specs, err := sw.Expand(cat, classes)
	if err != nil {
		return nil, fail(sweepErrorPath(err, sw), "%v", err)
	}
	return specs, nil
}

// decodeSweepFile decodes a parsed sweep file strictly. The YAML decoder
// has panicked on odd input the parser accepted; that is reported as an
// error like any other.
func decodeSweepFile(src []byte) (sf sweepFile, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("not a sweep file the YAML decoder can read (%v); see noprop plan --help for the format", p)
		}
	}()
	err = yaml.UnmarshalWithOptions(src, &sf, yaml.Strict())
	return sf, err
}

// sweep is the file's study over the defaults (DefaultSweep), without its
// methods.
func (sf sweepFile) sweep() Sweep {
	sw := DefaultSweep()
	if sf.Datasets != nil {
		sw.Datasets = unique(sf.Datasets)
	}
	if sf.Streams != nil {
		sw.Streams = unique(sf.Streams)
	}
	if sf.Scenarios != nil {
		sw.Scenarios = unique(sf.Scenarios)
	}
	if sf.ClassOrder != "" {
		sw.ClassOrder = sf.ClassOrder
	}
	if sf.Pixels != "" {
		sw.Pixels = sf.Pixels
	}
	if sf.Permuted != "" {
		sw.Permuted = sf.Permuted
	}
	if sf.Strategy != nil {
		sw.Strategies = unique(sf.Strategy)
	}
	sw.Tasks, sw.TestEvery, sw.CurveOn, sw.Probe, sw.MaxRuns, sw.Validation = sf.Tasks, sf.TestEvery, sf.CurveOn, sf.Probe, sf.MaxRuns, sf.Validation
	if sf.Seeds != nil {
		sw.Seeds = *sf.Seeds
	}
	if sf.FirstSeed != nil {
		sw.FirstSeed = *sf.FirstSeed
	}
	if sf.InferenceRuns != nil {
		sw.InferenceRuns = *sf.InferenceRuns
	}
	return sw
}

// maxRuns is MaxRuns or its default.
func (sw Sweep) maxRuns() int {
	if sw.MaxRuns > 0 {
		return sw.MaxRuns
	}
	return DefaultMaxRuns
}

// choices expands one method of the file, its grid included, into
// method choices with their settings resolved against the catalog. Every
// grid key and value is checked alone before the grid is multiplied out,
// and a grid of more than limit combinations is refused. A problem comes
// with the path below the method that it is about.
func (mf methodFile) choices(cat methods.Catalog, limit int) ([]MethodChoice, string, error) {
	if mf.Name == "" {
		return nil, "", errors.New("a method has no name")
	}
	m, err := cat.Lookup(mf.Name)
	if err != nil {
		return nil, ".name", err
	}
	mf.Settings = numbers(mf.Settings).(map[string]any)
	for k, vals := range mf.Grid {
		mf.Grid[k] = numbers(vals).([]any)
	}
	base, err := json.Marshal(orEmpty(mf.Settings))
	if err != nil {
		return nil, ".settings", fmt.Errorf("settings of %s: %v", mf.Name, err)
	}
	if _, err := m.Resolve(mf.Preset, base); err != nil {
		return nil, settingPath(err, nil, mf.Settings), err
	}
	keys := make([]string, 0, len(mf.Grid))
	combos := 1
	for k, vals := range mf.Grid {
		if len(vals) == 0 {
			return nil, ".grid." + k, fmt.Errorf("grid %s of %s is an empty list", k, mf.Name)
		}
		for _, v := range vals {
			if err := checkOne(m, mf.Preset, base, k, v); err != nil {
				return nil, ".grid." + k, err
			}
		}
		if combos > limit/len(vals) {
			return nil, ".grid", fmt.Errorf("the grid of %s has more than %d combinations, the limit of runs; "+
				"split the study, or raise the limit with max_runs", mf.Name, limit)
		}
		combos *= len(vals)
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var out []MethodChoice
	for _, combo := range product(mf.Grid, keys) {
		over, err := json.Marshal(combo)
		if err != nil {
			return nil, ".grid", fmt.Errorf("grid of %s: %v", mf.Name, err)
		}
		settings, err := methods.MergeSettings(base, over)
		if err == nil {
			_, err = m.Resolve(mf.Preset, settings)
		}
		if err != nil {
			return nil, settingPath(err, combo, mf.Settings), err
		}
		out = append(out, MethodChoice{Name: mf.Name, Preset: mf.Preset, Settings: settings})
	}
	return out, "", nil
}

// checkOne resolves one grid value over a method's settings alone.
func checkOne(m methods.Method, preset string, base json.RawMessage, key string, v any) error {
	over, err := json.Marshal(map[string]any{key: v})
	if err != nil {
		return fmt.Errorf("grid %s of %s: %v", key, m.Name, err)
	}
	settings, err := methods.MergeSettings(base, over)
	if err == nil {
		_, err = m.Resolve(preset, settings)
	}
	return err
}

// settingPath is the path below a method of the setting a Resolve error is
// about.
func settingPath(err error, combo, settings map[string]any) string {
	var se *methods.SettingError
	switch {
	case errors.As(err, &se) && combo[se.Name] != nil:
		return ".grid." + se.Name
	case errors.As(err, &se) && settings[se.Name] != nil:
		return ".settings." + se.Name
	case strings.Contains(err.Error(), "preset"):
		return ".preset"
	case strings.Contains(err.Error(), "unknown setting"):
		return ".settings"
	}
	return ""
}

// sciNumber is a number in exponent notation without a decimal point
// (1e-3), which YAML 1.1 reads as a string and users write as a number.
var sciNumber = regexp.MustCompile(`^[-+]?[0-9]+[eE][-+]?[0-9]+$`)

// numbers turns strings in exponent notation anywhere in v into numbers,
// so lr: 1e-3 means what it says.
func numbers(v any) any {
	switch v := v.(type) {
	case string:
		if sciNumber.MatchString(v) {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				return f
			}
		}
	case map[string]any:
		for k, x := range v {
			v[k] = numbers(x)
		}
	case []any:
		for i, x := range v {
			v[i] = numbers(x)
		}
	}
	return v
}

func orEmpty(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

// product is the Cartesian product of the grid's lists, keys in order; one
// empty combination for an empty grid.
func product(grid map[string][]any, keys []string) []map[string]any {
	out := []map[string]any{{}}
	for _, k := range keys {
		var next []map[string]any
		for _, c := range out {
			for _, v := range grid[k] {
				n := make(map[string]any, len(c)+1)
				for ck, cv := range c {
					n[ck] = cv
				}
				n[k] = v
				next = append(next, n)
			}
		}
		out = next
	}
	return out
}
