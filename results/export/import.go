package export

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/noprop/noprop/results"
	"github.com/noprop/noprop/results/metrics"
)

// Import reads tables Build wrote as CSV (each file one table, told apart
// by its columns; the runs table is required, the others are optional,
// memory is ignored since runs holds it) and stores every run they hold in
// s (results.Store.ImportRun), as it was: what tables, figures and
// exports show of the database is then what they showed of the one
// exported. names name the files in messages. It returns the number of
// runs imported.
func Import(ctx context.Context, s *results.Store, names []string, files []io.Reader) (int, error) {
	runs := map[string]*results.ImportedRun{}
	var order []string
	var facts []table
	for i, f := range files {
		t, err := readTable(names[i], f)
		if err != nil {
			return 0, err
		}
		if t.kind == Runs {
			if err := t.runs(runs, &order); err != nil {
				return 0, err
			}
			continue
		}
		facts = append(facts, t)
	}
	if len(order) == 0 {
		return 0, fmt.Errorf("import: no runs table among %s: export it too (noprop export --what runs)", strings.Join(names, ", "))
	}
	for _, t := range facts {
		if err := t.facts(runs); err != nil {
			return 0, err
		}
	}
	for _, id := range order {
		if err := s.ImportRun(ctx, *runs[id]); err != nil {
			return 0, err
		}
	}
	return len(order), nil
}

// table is one CSV file of an export: its kind, columns and records.
type table struct {
	name string
	kind What
	col  map[string]int
	cols []string
	recs [][]string
}

// readTable reads a CSV table and tells its kind by its columns.
func readTable(name string, r io.Reader) (table, error) {
	recs, err := csv.NewReader(r).ReadAll()
	if err != nil {
		return table{}, fmt.Errorf("import %s: %w", name, err)
	}
	if len(recs) == 0 {
		return table{}, fmt.Errorf("import %s: empty file, want an export's CSV table with its header", name)
	}
	t := table{name: name, col: map[string]int{}, cols: recs[0], recs: recs[1:]}
	for i, c := range recs[0] {
		t.col[c] = i
	}
	has := func(cs ...string) bool {
		for _, c := range cs {
			if _, ok := t.col[c]; !ok {
				return false
			}
		}
		return true
	}
	switch {
	case has("spec_json", "status", "started_at"):
		t.kind = Runs
	case has("inference_run", "after_task", "accuracy"):
		t.kind = Inference
	case has("stage", "after_task", "accuracy"):
		t.kind = Probe
	case has("after_task", "eval_task", "accuracy"):
		t.kind = Cells
	case has("name", "value"):
		t.kind = Metrics
	case has("line", "epoch", "loss"):
		t.kind = Epochs
	case has("peak_heap_bytes", "peak_rss_bytes"):
		t.kind = Memory
	default:
		return table{}, fmt.Errorf("import %s: columns %s are none of an export's tables (noprop export --what runs, cells, metrics, epochs, inference, probe)",
			name, strings.Join(recs[0], ","))
	}
	return t, nil
}

// field reads a record's value of a column ("" when the table lacks it).
func (t table) field(rec []string, name string) string {
	if i, ok := t.col[name]; ok && i < len(rec) {
		return rec[i]
	}
	return ""
}

// parser reads a record's columns, keeping the first error, which names
// the file, line and column.
type parser struct {
	t    table
	rec  []string
	line int
	err  error
}

func (p *parser) fail(name, v, want string) {
	if p.err == nil {
		p.err = fmt.Errorf("import %s, line %d: %s %q: want %s", p.t.name, p.line, name, v, want)
	}
}

func (p *parser) str(name string) string { return p.t.field(p.rec, name) }

func (p *parser) int(name string) int {
	v := p.str(name)
	n, err := strconv.Atoi(v)
	if err != nil {
		p.fail(name, v, "an integer")
	}
	return n
}

func (p *parser) int64(name string) int64 {
	v := p.str(name)
	if v == "" {
		return 0
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		p.fail(name, v, "an integer")
	}
	return n
}

// float reads a number; empty is NaN (what Build writes for a value that
// is missing or not finite).
func (p *parser) float(name string) float64 {
	v := p.str(name)
	if v == "" {
		return math.NaN()
	}
	x, err := strconv.ParseFloat(v, 64)
	if err != nil {
		p.fail(name, v, "a number")
	}
	return x
}

func (p *parser) time(name string) time.Time {
	v := p.str(name)
	if v == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		p.fail(name, v, "a time (RFC 3339)")
	}
	return t
}

// runs adds the runs of a runs table, in its order.
func (t table) runs(runs map[string]*results.ImportedRun, order *[]string) error {
	for i, rec := range t.recs {
		p := &parser{t: t, rec: rec, line: i + 2}
		seed, err := strconv.ParseUint(p.str("seed"), 10, 64)
		if err != nil {
			p.fail("seed", p.str("seed"), "a seed (an unsigned integer)")
		}
		r := results.Run{ID: p.str("run_id"), SpecJSON: p.str("spec_json"), ConfigHash: p.str("config_hash"),
			Method: p.str("method"), Stream: p.str("stream"), Scenario: p.str("scenario"), Seed: seed,
			ProgramVersion: p.str("program_version"), Host: p.str("host"), Kernels: p.str("kernels"), ChoicesJSON: p.str("choices_json"),
			NumTasks: p.int("num_tasks"), Status: results.Status(p.str("status")), Error: p.str("error"),
			Started: p.time("started_at"), Ended: p.time("ended_at"),
			PeakHeapBytes: p.int64("peak_heap_bytes"), PeakRSSBytes: p.int64("peak_rss_bytes")}
		if p.err != nil {
			return p.err
		}
		if _, dup := runs[r.ID]; dup || r.ID == "" {
			return fmt.Errorf("import %s, line %d: run %q twice or without an ID", t.name, i+2, r.ID)
		}
		runs[r.ID] = &results.ImportedRun{Run: r}
		*order = append(*order, r.ID)
	}
	return nil
}

// facts adds a table's rows to their runs.
func (t table) facts(runs map[string]*results.ImportedRun) error {
	for i, rec := range t.recs {
		p := &parser{t: t, rec: rec, line: i + 2}
		ir, ok := runs[p.str("run_id")]
		if !ok {
			return fmt.Errorf("import %s, line %d: run %q is not in the runs table: export the runs with the same filters", t.name, i+2, p.str("run_id"))
		}
		switch t.kind {
		case Cells:
			ir.Cells = append(ir.Cells, results.Cell{AfterTask: p.int("after_task"), EvalTask: p.int("eval_task"),
				Accuracy: p.float("accuracy"), Note: p.str("note"), Seconds: p.float("seconds"), ValAccuracy: p.float("val_accuracy")})
		case Inference:
			ir.Inference = append(ir.Inference, results.InferenceCell{AfterTask: p.int("after_task"), EvalTask: p.int("eval_task"),
				Run: p.int("inference_run"), Accuracy: p.float("accuracy")})
		case Probe:
			ir.Probe = append(ir.Probe, results.ProbeCell{AfterTask: p.int("after_task"), EvalTask: p.int("eval_task"),
				Stage: p.str("stage"), Accuracy: p.float("accuracy")})
		case Metrics:
			ir.Metrics = append(ir.Metrics, metrics.Metric{Name: p.str("name"), Value: p.float("value"), Note: p.str("note")})
		case Epochs:
			e := results.Epoch{Task: p.int("task"), Epoch: p.int("epoch"), Part: p.str("part"), Loss: p.float("loss"),
				TrainAcc: p.float("train_acc"), Seconds: p.float("seconds"), Examples: p.int64("examples"),
				TestAcc: p.float("test_acc"), ValAcc: p.float("val_acc")}
			for _, c := range t.cols {
				if name, ok := strings.CutPrefix(c, TermPrefix); ok && p.str(c) != "" {
					e.Terms = append(e.Terms, results.Term{Name: name, Value: p.float(c)})
				}
			}
			ir.Epochs = append(ir.Epochs, e)
		}
		if p.err != nil {
			return p.err
		}
	}
	return nil
}
