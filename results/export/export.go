// Package export writes the facts a results database holds as long-format
// tables, one row per fact, in CSV or JSON, for analysis elsewhere (pandas,
// R, a spreadsheet).
//
// Missing values are written the same way everywhere: a NULL in the
// database, a NaN accuracy, loss or metric (stored as NULL, with a note
// where the store keeps one) and a memory measurement that was not taken are
// an empty CSV field and a JSON null. pandas.read_csv reads the empty field
// as NaN.
package export

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/noprop/noprop/results"
)

// What names one of the exported tables.
type What string

// The tables Table writes.
const (
	Runs      What = "runs"      // one row per run, with its settings
	Cells     What = "cells"     // one row per accuracy-matrix cell
	Metrics   What = "metrics"   // one row per run and metric
	Epochs    What = "epochs"    // one row per training-log line
	Memory    What = "memory"    // one row per run: its peak memory
	Inference What = "inference" // one row per cell and inference run
	Probe     What = "probe"     // one row per cell and stage of the model (runs made with --probe)
)

// Whats lists the tables in their usual order.
var Whats = []What{Runs, Cells, Metrics, Epochs, Memory, Inference, Probe}

// ParseWhat checks a table's name.
func ParseWhat(s string) (What, error) {
	for _, w := range Whats {
		if string(w) == s {
			return w, nil
		}
	}
	names := make([]string, len(Whats))
	for i, w := range Whats {
		names[i] = string(w)
	}
	return "", fmt.Errorf("--what %q: want one of %s", s, strings.Join(names, ", "))
}

// Formats are the output formats: "csv", and "json", an array of objects
// whose keys are the CSV columns.
var Formats = []string{"csv", "json"}

// A Table is a long-format table: column names and rows of values. A value
// is nil (missing), a string, an int64, a float64 (finite), a bool, or
// json.RawMessage for a setting that is a list or an object.
type Table struct {
	Columns []string
	Rows    [][]any
}

// TermPrefix starts the columns of the epochs table that hold a rule's
// named terms (term_l2, term_ce, term_gamma0, ...).
const TermPrefix = "term_"

// keyColumns open every table but runs: they name the run a fact belongs
// to, so each table can be grouped without a join: its configuration (the
// preset, and the settings in which it differs from its method's other
// exported configurations, e.g. "lr=0.001"), its strategy (finetune,
// cumulative, joint, replay), and whether it is counted (the run noprop
// table aggregates for its configuration and seed).
var keyColumns = []string{"run_id", "config_hash", "method", "preset", "settings", "stream", "scenario", "strategy", "seed", "counted"}

// withKeys returns the key columns followed by cols.
func withKeys(cols ...string) []string {
	return append(append([]string(nil), keyColumns...), cols...)
}

// keys are what the key columns need beyond the run itself.
type keys struct {
	counted map[string]bool   // run ID -> counted
	differs map[string]string // config hash -> the settings that tell it apart
}

func (k keys) values(r results.Run) []any {
	var spec struct{ Preset, Strategy string }
	json.Unmarshal([]byte(r.SpecJSON), &spec)
	if spec.Strategy == "" {
		spec.Strategy = "finetune" // the default, left out of stored specs
	}
	return []any{r.ID, r.ConfigHash, r.Method, text(spec.Preset), text(k.differs[r.ConfigHash]), r.Stream, r.Scenario, spec.Strategy, r.Seed, k.counted[r.ID]}
}

// keysOf computes the key columns' extra values for runs matching f.
func keysOf(ctx context.Context, s *results.Store, f results.Filter, runs []results.Run) (keys, error) {
	counted, err := countedRuns(ctx, s, f)
	if err != nil {
		return keys{}, err
	}
	var sums []results.Summary
	seen := map[string]bool{}
	for _, r := range runs {
		if !seen[r.ConfigHash] {
			seen[r.ConfigHash] = true
			sums = append(sums, results.Summary{Method: r.Method, ConfigHash: r.ConfigHash, SpecJSON: r.SpecJSON})
		}
	}
	return keys{counted: counted, differs: results.SettingsThatDiffer(sums)}, nil
}

// countedRuns are the runs noprop table aggregates: the latest done run of
// each configuration and seed.
func countedRuns(ctx context.Context, s *results.Store, f results.Filter) (map[string]bool, error) {
	f.Status = results.StatusDone
	sums, err := s.Summaries(ctx, f)
	if err != nil {
		return nil, err
	}
	counted := map[string]bool{}
	for _, sum := range sums {
		for _, id := range sum.RunIDs {
			counted[id] = true
		}
	}
	return counted, nil
}

// Build reads the table what of the runs matching f (f.Status included:
// leave it empty for runs in every state).
func Build(ctx context.Context, s *results.Store, what What, f results.Filter) (*Table, error) {
	runs, err := s.Runs(ctx, f)
	if err != nil {
		return nil, err
	}
	k, err := keysOf(ctx, s, f, runs)
	if err != nil {
		return nil, err
	}
	b := &builder{ctx: ctx, s: s, t: &Table{}, keys: k}
	switch what {
	case Runs:
		return runsTable(ctx, s, f, runs)
	case Cells:
		err = b.cells(runs)
	case Inference:
		err = b.inference(runs)
	case Probe:
		err = b.probe(runs)
	case Metrics:
		err = b.metrics(runs)
	case Epochs:
		err = b.epochs(runs)
	case Memory:
		b.t.Columns = withKeys("peak_heap_bytes", "peak_rss_bytes")
		for _, r := range runs {
			b.add(r, bytesValue(r.PeakHeapBytes), bytesValue(r.PeakRSSBytes))
		}
	default:
		_, err = ParseWhat(string(what))
	}
	if err != nil {
		return nil, err
	}
	return b.t, nil
}

// builder fills one long-format table, a row per fact, each opened by its
// run's key columns.
type builder struct {
	ctx  context.Context
	s    *results.Store
	t    *Table
	keys keys
}

func (b *builder) add(r results.Run, vals ...any) {
	b.t.Rows = append(b.t.Rows, append(b.keys.values(r), vals...))
}

func (b *builder) cells(runs []results.Run) error {
	b.t.Columns = withKeys("after_task", "eval_task", "accuracy", "note", "seconds", "val_accuracy")
	for _, r := range runs {
		cells, err := b.s.Cells(b.ctx, r.ID)
		if err != nil {
			return err
		}
		for _, c := range cells {
			b.add(r, int64(c.AfterTask), int64(c.EvalTask), number(c.Accuracy), text(c.Note), number(c.Seconds), number(c.ValAccuracy))
		}
	}
	return nil
}

func (b *builder) inference(runs []results.Run) error {
	b.t.Columns = withKeys("after_task", "eval_task", "inference_run", "accuracy")
	for _, r := range runs {
		ms, err := b.s.InferenceMatrices(b.ctx, r.ID)
		if err != nil || len(ms) == 0 {
			if err != nil {
				return err
			}
			continue
		}
		// Cells of the mean matrix say which were recorded: a run stores
		// every inference run's accuracy for each of them.
		cells, err := b.s.Cells(b.ctx, r.ID)
		if err != nil {
			return err
		}
		for _, c := range cells {
			for k, m := range ms {
				b.add(r, int64(c.AfterTask), int64(c.EvalTask), int64(k+1), number(m[c.AfterTask][c.EvalTask-1]))
			}
		}
	}
	return nil
}

func (b *builder) probe(runs []results.Run) error {
	b.t.Columns = withKeys("after_task", "eval_task", "stage", "accuracy")
	for _, r := range runs {
		cells, err := b.s.Probe(b.ctx, r.ID)
		if err != nil {
			return err
		}
		for _, c := range cells {
			b.add(r, int64(c.AfterTask), int64(c.EvalTask), c.Stage, number(c.Accuracy))
		}
	}
	return nil
}

func (b *builder) metrics(runs []results.Run) error {
	b.t.Columns = withKeys("name", "value", "note")
	for _, r := range runs {
		ms, err := b.s.Metrics(b.ctx, r.ID)
		if err != nil {
			return err
		}
		for _, m := range ms {
			b.add(r, m.Name, number(m.Value), text(m.Note))
		}
	}
	return nil
}

// epochs is the training logs. A rule's named terms (what its loss is made
// of) become columns term_<name>, in the order they first appear; a line
// without a term leaves its cell empty.
func (b *builder) epochs(runs []results.Run) error {
	logs := make([][]results.Epoch, len(runs))
	var termNames []string
	termCol := map[string]int{}
	for i, r := range runs {
		var err error
		if logs[i], err = b.s.Epochs(b.ctx, r.ID); err != nil {
			return err
		}
		for _, e := range logs[i] {
			for _, tm := range e.Terms {
				if _, ok := termCol[tm.Name]; !ok {
					termCol[tm.Name] = len(termNames)
					termNames = append(termNames, tm.Name)
				}
			}
		}
	}
	cols := []string{"task", "line", "epoch", "part", "loss", "train_acc", "seconds", "examples", "test_acc", "val_acc"}
	for _, n := range termNames {
		cols = append(cols, TermPrefix+n)
	}
	b.t.Columns = withKeys(cols...)
	for i, r := range runs {
		line, task := 0, -1
		for _, e := range logs[i] {
			if e.Task != task {
				line, task = 0, e.Task
			}
			vals := []any{int64(e.Task), int64(line), int64(e.Epoch), e.Part, number(e.Loss), number(e.TrainAcc),
				number(e.Seconds), e.Examples, number(e.TestAcc), number(e.ValAcc)}
			terms := make([]any, len(termNames))
			for _, tm := range e.Terms {
				terms[termCol[tm.Name]] = number(tm.Value)
			}
			b.add(r, append(vals, terms...)...)
			line++
		}
	}
	return nil
}

// runColumns are the runs table's columns before the settings.
var runColumns = []string{"run_id", "config_hash", "method", "preset", "dataset", "stream", "stream_kind",
	"scenario", "num_tasks", "class_order", "seed", "status", "counted", "error", "started_at", "ended_at",
	"program_version", "host", "kernels", "peak_heap_bytes", "peak_rss_bytes", "spec_json", "choices_json"}

// SettingPrefix starts the name of each settings column of the runs table.
const SettingPrefix = "setting."

func runsTable(ctx context.Context, s *results.Store, f results.Filter, runs []results.Run) (*Table, error) {
	counted, err := countedRuns(ctx, s, f)
	if err != nil {
		return nil, err
	}
	type spec struct {
		Preset     string          `json:"preset"`
		Dataset    string          `json:"dataset"`
		Stream     string          `json:"stream"`
		ClassOrder string          `json:"class_order"`
		Settings   json.RawMessage `json:"settings"`
	}
	specs := make([]spec, len(runs))
	settings := make([]map[string]any, len(runs))
	names := map[string]bool{}
	for i, r := range runs {
		if err := json.Unmarshal([]byte(r.SpecJSON), &specs[i]); err != nil {
			return nil, fmt.Errorf("run %s: spec: %w", r.ID, err)
		}
		settings[i] = map[string]any{}
		if len(specs[i].Settings) > 0 {
			if err := flatten(specs[i].Settings, SettingPrefix, settings[i]); err != nil {
				return nil, fmt.Errorf("run %s: settings: %w", r.ID, err)
			}
		}
		for name := range settings[i] {
			names[name] = true
		}
	}
	var settingCols []string
	for name := range names {
		settingCols = append(settingCols, name)
	}
	sort.Strings(settingCols)
	t := &Table{Columns: append(append([]string(nil), runColumns...), settingCols...)}
	for i, r := range runs {
		sp := specs[i]
		row := []any{r.ID, r.ConfigHash, r.Method, text(sp.Preset), text(sp.Dataset), r.Stream, text(sp.Stream),
			r.Scenario, int64(r.NumTasks), text(sp.ClassOrder), r.Seed, string(r.Status), counted[r.ID], text(r.Error),
			timeValue(r.Started), timeValue(r.Ended), r.ProgramVersion, r.Host, text(r.Kernels),
			bytesValue(r.PeakHeapBytes), bytesValue(r.PeakRSSBytes), r.SpecJSON, text(r.ChoicesJSON)}
		for _, name := range settingCols {
			row = append(row, settings[i][name])
		}
		t.Rows = append(t.Rows, row)
	}
	return t, nil
}

// flatten adds the members of a JSON object to out under prefix+name,
// objects recursively (prefix+name+"."); lists stay JSON.
func flatten(raw json.RawMessage, prefix string, out map[string]any) error {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return err
	}
	for name, v := range obj {
		key := prefix + name
		switch trimmed := strings.TrimSpace(string(v)); {
		case strings.HasPrefix(trimmed, "{"):
			if err := flatten(v, key+".", out); err != nil {
				return err
			}
		case strings.HasPrefix(trimmed, "["):
			out[key] = json.RawMessage(trimmed)
		default:
			var x any
			d := json.NewDecoder(strings.NewReader(trimmed))
			d.UseNumber()
			if err := d.Decode(&x); err != nil {
				return err
			}
			switch x := x.(type) {
			case json.Number:
				out[key] = numberValue(x)
			default:
				out[key] = x // string, bool or nil
			}
		}
	}
	return nil
}

// numberValue keeps integers as int64 and other numbers as float64.
func numberValue(n json.Number) any {
	if i, err := n.Int64(); err == nil {
		return i
	}
	f, _ := n.Float64()
	return f
}

// number maps NaN and ±Inf to nil (missing).
func number(x float64) any {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return nil
	}
	return x
}

func text(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func bytesValue(b int64) any {
	if b <= 0 {
		return nil
	}
	return b
}

// timeValue is RFC 3339 in UTC with milliseconds, as stored; nil for the
// zero time (a run that has not ended).
func timeValue(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z07:00")
}
