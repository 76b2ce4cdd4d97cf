package harness

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
)

// unsupportedYAML finds the first YAML feature a sweep file has no use
// for: anchors and aliases (which can expand a short file into gigabytes,
// the "billion laughs") and tags (!name, which also trip the decoder). It
// returns its line and what it is, or 0.
func unsupportedYAML(file *ast.File) (int, string) {
	var f yamlFeatureFinder
	for _, doc := range file.Docs {
		if f.line == 0 {
			ast.Walk(&f, doc)
		}
	}
	return f.line, f.what
}

type yamlFeatureFinder struct {
	line int
	what string
}

func (f *yamlFeatureFinder) Visit(n ast.Node) ast.Visitor {
	if f.line != 0 {
		return nil
	}
	switch n.(type) {
	case *ast.AliasNode, *ast.AnchorNode:
		f.what = "YAML anchors and aliases (&name, *name) are not accepted in sweep files: write the values out"
	case *ast.TagNode:
		f.what = "YAML tags (!name) are not accepted in sweep files: write plain values"
	default:
		return f
	}
	f.line = 1
	if tk := n.GetToken(); tk != nil && tk.Position != nil {
		f.line = tk.Position.Line
	}
	return nil
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
	case strings.HasPrefix(msg, "strategy"), strings.HasPrefix(msg, "replay settings"):
		return "$.strategy"
	case strings.HasPrefix(msg, "replay_"):
		key, _, _ := strings.Cut(msg, " ")
		return "$." + key
	case strings.HasPrefix(msg, "validation"):
		return "$.validation"
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
	case strings.HasPrefix(msg, `permuted "`):
		return "$.permuted"
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

// goTypeError is the YAML decoder's message for a value of the wrong type.
var goTypeError = regexp.MustCompile(`cannot unmarshal (.+?) into Go (?:struct field \w+\.(\w+)|value) of type (\S+)`)

// decoderWords rewrites the YAML decoder's type errors, which speak of Go
// fields and types, in the sweep file's words.
func decoderWords(msg string) string {
	if _, found := strings.CutSuffix(msg, " was used where sequence is expected"); found {
		return "want a list here, [a, b] (one value is [a])"
	}
	if _, found := strings.CutSuffix(msg, " was used where mapping is expected"); found {
		return "want name: value pairs here"
	}
	m := goTypeError.FindStringSubmatch(msg)
	if m == nil {
		return msg
	}
	got, field, typ := m[1], m[2], strings.TrimPrefix(m[3], "*")
	want := map[string]string{
		"int": "a whole number", "float64": "a number", "uint64": "a whole number, 0 or more", "string": "a name",
		"[]string": "a list of names, [a, b]", "[]harness.methodFile": "a list of methods",
	}[typ]
	if want == "" {
		want = "another kind of value (see noprop plan --help)"
	}
	if field == "" {
		return fmt.Sprintf("%s: want %s", got, want)
	}
	name := field
	for _, t := range []reflect.Type{reflect.TypeFor[sweepFile](), reflect.TypeFor[methodFile]()} {
		if f, ok := t.FieldByName(field); ok {
			name = f.Tag.Get("yaml")
		}
	}
	if got == "string" || strings.HasPrefix(got, "[]") || strings.HasPrefix(got, "map") {
		got = map[string]string{"string": "text"}[got]
		if got == "" {
			got = "a list or mapping"
		}
	}
	return fmt.Sprintf("%s: want %s, got %s", name, want, got)
}

// yamlError turns a YAML decoding error into one line with its position.
func yamlError(name string, err error) error {
	var ye yaml.Error
	if errors.As(err, &ye) {
		line := 0
		if tk := ye.GetToken(); tk != nil && tk.Position != nil {
			line = tk.Position.Line
		}
		msg := decoderWords(ye.GetMessage())
		var ufe *yaml.UnknownFieldError
		if errors.As(err, &ufe) {
			msg += " (known: methods, datasets, streams, tasks, class_order, scenarios, seeds, first_seed, inference_runs, test_every, pixels, permuted, strategy, replay_policy, replay_per_class, replay_size, replay_ratio, replay_weighting, validation, max_runs; " +
				"a method has name, preset, settings, grid)"
		}
		return &SweepFileError{File: name, Line: line, Msg: strings.ReplaceAll(msg, "\n", " ")}
	}
	return &SweepFileError{File: name, Msg: strings.ReplaceAll(err.Error(), "\n", " ")}
}
