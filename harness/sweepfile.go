package harness

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"

	"github.com/noprop/noprop/methods"
)

// A sweep file writes a study down once, in YAML:
//
//	# split MNIST, three scenarios, five seeds, two learning rates of NoProp-DT
//	methods:
//	  - name: backprop
//	  - name: noprop-dt
//	    preset: quick
//	    settings: {iterations: 2000}
//	    grid:                      # every combination is one configuration
//	      lr: [0.001, 0.0003]
//	datasets: [mnist]              # default [mnist]
//	streams: [split]               # default [split]
//	tasks: 5                       # default: 5 for split, 10 for permuted
//	class_order: fixed             # default fixed
//	scenarios: [task, domain, class]   # default [class, task]
//	seeds: 5                       # default 1
//	first_seed: 1                  # default 1
//	inference_runs: 5              # default 5
//	test_every: 0                  # learning curve: test accuracy every N epochs; default 0, none
//	pixels: raw                    # raw, or standard (each channel by the first task's training statistics); default raw
//
// A method's settings overlay its preset; a grid is the Cartesian product of
// its lists, each combination overlaying the settings.
type sweepFile struct {
	Methods []struct {
		Name     string           `yaml:"name"`
		Preset   string           `yaml:"preset"`
		Settings map[string]any   `yaml:"settings"`
		Grid     map[string][]any `yaml:"grid"`
	} `yaml:"methods"`
	Datasets      []string `yaml:"datasets"`
	Streams       []string `yaml:"streams"`
	Tasks         int      `yaml:"tasks"`
	ClassOrder    string   `yaml:"class_order"`
	Scenarios     []string `yaml:"scenarios"`
	Seeds         *int     `yaml:"seeds"`
	FirstSeed     *uint64  `yaml:"first_seed"`
	InferenceRuns *int     `yaml:"inference_runs"`
	TestEvery     int      `yaml:"test_every"`
	Pixels        string   `yaml:"pixels"`
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

// ReadSweepFile reads a sweep file (see sweepFile) and expands it against the
// catalog into its runs, checking everything Sweep.Expand checks. Any
// problem is one SweepFileError naming the file, the line and what is wrong.
func ReadSweepFile(path string, cat methods.Catalog, classes func(string) (int, error)) ([]Spec, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, &SweepFileError{File: path, Msg: fmt.Sprintf("cannot read it: %v", errors.Unwrap(err))}
	}
	return ParseSweep(path, src, cat, classes)
}

// ParseSweep is ReadSweepFile on the file's contents; name is used in
// messages.
func ParseSweep(name string, src []byte, cat methods.Catalog, classes func(string) (int, error)) ([]Spec, error) {
	fail := func(line int, format string, args ...any) error {
		return &SweepFileError{File: name, Line: line, Msg: fmt.Sprintf(format, args...)}
	}
	file, err := parser.ParseBytes(src, 0)
	if err != nil {
		return nil, yamlError(name, err)
	}
	var sf sweepFile
	if err := yaml.UnmarshalWithOptions(src, &sf, yaml.Strict()); err != nil {
		return nil, yamlError(name, err)
	}
	line := func(path string) int { return nodeLine(file, path) }
	sw := Sweep{Datasets: sf.Datasets, Streams: sf.Streams, Tasks: sf.Tasks, ClassOrder: sf.ClassOrder,
		Scenarios: sf.Scenarios, Seeds: 1, FirstSeed: 1, InferenceRuns: 5, TestEvery: sf.TestEvery, Pixels: sf.Pixels}
	if sw.Datasets == nil {
		sw.Datasets = []string{"mnist"}
	}
	if sw.Streams == nil {
		sw.Streams = []string{"split"}
	}
	if sw.Scenarios == nil {
		sw.Scenarios = []string{"class", "task"}
	}
	if sw.ClassOrder == "" {
		sw.ClassOrder = "fixed"
	}
	if sf.Seeds != nil {
		sw.Seeds = *sf.Seeds
	}
	if sf.FirstSeed != nil {
		sw.FirstSeed = *sf.FirstSeed
	}
	if sf.InferenceRuns != nil {
		sw.InferenceRuns = *sf.InferenceRuns
	}
	if len(sf.Methods) == 0 {
		return nil, fail(line("$.methods"), "no methods: list at least one under methods:")
	}
	for i, mf := range sf.Methods {
		at := fmt.Sprintf("$.methods[%d]", i)
		if mf.Name == "" {
			return nil, fail(line(at), "methods[%d] has no name", i)
		}
		m, err := cat.Lookup(mf.Name)
		if err != nil {
			return nil, fail(line(at+".name"), "%v", err)
		}
		base, err := json.Marshal(orEmpty(mf.Settings))
		if err != nil {
			return nil, fail(line(at+".settings"), "settings of %s: %v", mf.Name, err)
		}
		keys := make([]string, 0, len(mf.Grid))
		for k, vals := range mf.Grid {
			if len(vals) == 0 {
				return nil, fail(line(at+".grid."+k), "grid %s of %s is an empty list", k, mf.Name)
			}
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, combo := range product(mf.Grid, keys) {
			over, err := json.Marshal(combo)
			if err != nil {
				return nil, fail(line(at+".grid"), "grid of %s: %v", mf.Name, err)
			}
			settings, err := methods.MergeSettings(base, over)
			if err != nil {
				return nil, fail(line(at), "%v", err)
			}
			if _, err := m.Resolve(mf.Preset, settings); err != nil {
				where := at
				var se *methods.SettingError
				switch {
				case errors.As(err, &se) && combo[se.Name] != nil:
					where = at + ".grid." + se.Name
				case errors.As(err, &se) && mf.Settings[se.Name] != nil:
					where = at + ".settings." + se.Name
				case strings.Contains(err.Error(), "preset"):
					where = at + ".preset"
				case strings.Contains(err.Error(), "unknown setting"):
					where = at + ".settings"
				}
				return nil, fail(line(where), "%v", err)
			}
			sw.Methods = append(sw.Methods, MethodChoice{Name: mf.Name, Preset: mf.Preset, Settings: settings})
		}
	}
	specs, err := sw.Expand(cat, classes)
	if err != nil {
		return nil, fail(line(sweepErrorPath(err, sw)), "%v", err)
	}
	return specs, nil
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

// sweepErrorPath guesses which part of the file an Expand error is about,
// for its line number.
func sweepErrorPath(err error, sw Sweep) string {
	msg := err.Error()
	for i, d := range sw.Datasets {
		if strings.Contains(msg, fmt.Sprintf("%q", d)) {
			return fmt.Sprintf("$.datasets[%d]", i)
		}
	}
	for i, s := range sw.Streams {
		if strings.Contains(msg, fmt.Sprintf("stream %q", s)) {
			return fmt.Sprintf("$.streams[%d]", i)
		}
	}
	for i, s := range sw.Scenarios {
		if strings.Contains(msg, fmt.Sprintf("scenario %q", s)) {
			return fmt.Sprintf("$.scenarios[%d]", i)
		}
	}
	switch {
	case strings.Contains(msg, "tasks"), strings.Contains(msg, "joint stream"):
		return "$.tasks"
	case strings.Contains(msg, "class order"):
		return "$.class_order"
	case strings.Contains(msg, "seed"):
		return "$.seeds"
	case strings.Contains(msg, "inference runs"):
		return "$.inference_runs"
	case strings.Contains(msg, "test every"):
		return "$.test_every"
	case strings.HasPrefix(msg, "pixels"):
		return "$.pixels"
	case strings.Contains(msg, "no datasets"):
		return "$.datasets"
	case strings.Contains(msg, "no streams"):
		return "$.streams"
	case strings.Contains(msg, "no scenarios"):
		return "$.scenarios"
	}
	return "$"
}

// nodeLine is the line of the node at a YAML path, or of the nearest
// enclosing node that exists; 0 when none does.
func nodeLine(file *ast.File, path string) int {
	for p := path; p != ""; {
		yp, err := yaml.PathString(p)
		if err == nil {
			if n, err := yp.FilterFile(file); err == nil && n != nil {
				if tk := n.GetToken(); tk != nil && tk.Position != nil {
					return tk.Position.Line
				}
			}
		}
		i := strings.LastIndexAny(p, ".[")
		if i <= 0 {
			break
		}
		p = p[:i]
	}
	return 0
}

// yamlError turns a YAML decoding error into one line with its position.
func yamlError(name string, err error) error {
	var ye yaml.Error
	if errors.As(err, &ye) {
		line := 0
		if tk := ye.GetToken(); tk != nil && tk.Position != nil {
			line = tk.Position.Line
		}
		msg := ye.GetMessage()
		var ufe *yaml.UnknownFieldError
		if errors.As(err, &ufe) {
			msg += " (known: methods, datasets, streams, tasks, class_order, scenarios, seeds, first_seed, inference_runs, test_every, pixels; " +
				"a method has name, preset, settings, grid)"
		}
		return &SweepFileError{File: name, Line: line, Msg: strings.ReplaceAll(msg, "\n", " ")}
	}
	return &SweepFileError{File: name, Msg: strings.ReplaceAll(err.Error(), "\n", " ")}
}
