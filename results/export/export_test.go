package export

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/noprop/noprop/results"
	"github.com/noprop/noprop/results/metrics"
)

// stored is what the test database holds, written with the store's API.
type stored struct {
	ids     []string
	matrix  [][][]float64 // per run; NaN cells are stored as NULL
	rowZero []bool        // whether row 0 was recorded
	infer   [][][][]float64
	epochs  [][]results.Epoch
	metrics [][]metrics.Metric
	memory  []results.Memory
}

const spec = `{"method":"noprop-dt","preset":"quick","settings":{"hidden":[400,400],"lr":0.001,"epochs":2,"encoder":"mlp","mask":true,"opt":{"beta1":0.9,"kind":"adamw"}},"dataset":"mnist","stream":"split","tasks":2,"class_order":"fixed","scenario":"class","seed":%d}`

func writeStore(t *testing.T) (*results.Store, stored) {
	t.Helper()
	ctx := t.Context()
	s, err := results.Open(filepath.Join(t.TempDir(), "r.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	nan := math.NaN()
	st := stored{
		matrix: [][][]float64{
			{{50, 50}, {99.5, 12.25}, {nan, 97}},
			{nil, {98, 1e-05}, {70.125, 96}},
		},
		rowZero: []bool{true, false},
		infer: [][][][]float64{
			{{{50, 50}, {99, 12}, {nan, 97}}, {{50, 50}, {100, 12.5}, {nan, 97}}},
			nil,
		},
		epochs: [][]results.Epoch{
			{{Task: 1, Epoch: 1, Part: "block 1", Loss: 0.5, TrainAcc: 90, Seconds: 1.5, Examples: 100,
				Terms: []results.Term{{Name: "l2", Value: 0.25}, {Name: "ce", Value: 0.125}}},
				{Task: 1, Epoch: 1, Part: "block 2", Loss: nan, TrainAcc: nan, Seconds: 1.25, Examples: 100,
					Terms: []results.Term{{Name: "ce", Value: nan}, {Name: "gamma0", Value: -4}}},
				{Task: 2, Epoch: 1, Part: "block 1", Loss: 0.25, TrainAcc: 95, Seconds: 2, Examples: 200}},
			{{Task: 1, Epoch: 1, Loss: 0.75, TrainAcc: 80, Seconds: 1, Examples: 50},
				{Task: 2, Epoch: 1, Loss: 0.125, TrainAcc: 85, Seconds: 1, Examples: 50}},
		},
		metrics: [][]metrics.Metric{
			{{Name: "acc", Value: 97}, {Name: "fwt", Value: nan, Note: "needs row 0"}},
			{{Name: "acc", Value: 83.0625}, {Name: "forgetting", Value: 28}},
		},
		memory: []results.Memory{{PeakHeapBytes: 64 << 20, PeakRSSBytes: 200 << 20}, {}},
	}
	for k := range st.matrix {
		id, err := s.StartRun(ctx, results.Run{SpecJSON: fmt.Sprintf(spec, k+1), ConfigHash: "cfg", Method: "noprop-dt",
			Stream: "split-mnist", Scenario: "class", Seed: uint64(k + 1), NumTasks: 2, ProgramVersion: "v1", Host: "box",
			Kernels: "fp32 avx512, bf16 none, vector avx512"})
		if err != nil {
			t.Fatal(err)
		}
		for i, row := range st.matrix[k] {
			if i == 0 && !st.rowZero[k] {
				continue
			}
			er := results.EvalRow{Acc: row}
			if k == 0 {
				er.Seconds = []float64{1.5, 2.25}
			}
			for _, m := range st.infer[k] {
				er.Inference = append(er.Inference, m[i])
			}
			for _, e := range st.epochs[k] {
				if e.Task == i {
					er.Epochs = append(er.Epochs, e)
				}
			}
			if err := s.RecordEval(ctx, id, i, er); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.FinishRun(ctx, id, st.metrics[k], st.memory[k]); err != nil {
			t.Fatal(err)
		}
		st.ids = append(st.ids, id)
	}
	return s, st
}

// row is one exported row read back: column -> value as text, "" for a
// missing value.
type row map[string]string

func readCSV(t *testing.T, b []byte) (cols []string, rows []row) {
	t.Helper()
	recs, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		t.Fatalf("read csv back: %v", err)
	}
	cols = recs[0]
	for _, rec := range recs[1:] {
		r := row{}
		for i, c := range cols {
			r[c] = rec[i]
		}
		rows = append(rows, r)
	}
	return cols, rows
}

func readJSON(t *testing.T, b []byte) []row {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var objs []map[string]any
	if err := d.Decode(&objs); err != nil {
		t.Fatalf("read json back: %v", err)
	}
	var rows []row
	for _, o := range objs {
		r := row{}
		for k, v := range o {
			switch v := v.(type) {
			case nil:
				r[k] = ""
			case string:
				r[k] = v
			case json.Number:
				r[k] = v.String()
			case bool:
				r[k] = strconv.FormatBool(v)
			default: // a list setting
				b, _ := json.Marshal(v)
				r[k] = string(b)
			}
		}
		rows = append(rows, r)
	}
	return rows
}

// same compares a value read back with the expected one: numbers as
// numbers (exactly), NaN as the empty field, anything else as text.
func same(got string, want any) bool {
	switch w := want.(type) {
	case float64:
		if math.IsNaN(w) {
			return got == ""
		}
		g, err := strconv.ParseFloat(got, 64)
		return err == nil && g == w
	case int:
		return got == strconv.Itoa(w)
	case int64:
		return got == strconv.FormatInt(w, 10)
	case nil:
		return got == ""
	}
	return got == fmt.Sprint(want)
}

func TestExportRoundTrips(t *testing.T) {
	s, st := writeStore(t)
	runs, err := s.Runs(t.Context(), results.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	run := func(k int) results.Run { return runs[k] }

	// want lists, per table, the rows the database holds, in order.
	want := map[What][]map[string]any{}
	for k, id := range st.ids {
		key := map[string]any{"run_id": id, "config_hash": "cfg", "method": "noprop-dt", "stream": "split-mnist",
			"scenario": "class", "seed": int64(k + 1)}
		with := func(kv ...any) map[string]any {
			m := map[string]any{}
			for c, v := range key {
				m[c] = v
			}
			for i := 0; i < len(kv); i += 2 {
				m[kv[i].(string)] = kv[i+1]
			}
			return m
		}
		for i, r := range st.matrix[k] {
			if i == 0 && !st.rowZero[k] {
				continue
			}
			for j, a := range r {
				note := any(nil)
				if math.IsNaN(a) {
					note = "not finite (NaN)"
				}
				secs := any(nil)
				if k == 0 {
					secs = []float64{1.5, 2.25}[j]
				}
				want[Cells] = append(want[Cells], with("after_task", i, "eval_task", j+1, "accuracy", a, "note", note, "seconds", secs))
				for n, m := range st.infer[k] {
					want[Inference] = append(want[Inference], with("after_task", i, "eval_task", j+1, "inference_run", n+1, "accuracy", m[i][j]))
				}
			}
		}
		metrics := append([]metrics.Metric(nil), st.metrics[k]...)
		for _, m := range metrics { // stored sorted by name; these are
			note := any(nil)
			if m.Note != "" {
				note = m.Note
			}
			want[Metrics] = append(want[Metrics], with("name", m.Name, "value", m.Value, "note", note))
		}
		line := map[int]int{}
		for _, e := range st.epochs[k] {
			w := with("task", e.Task, "line", line[e.Task], "epoch", e.Epoch, "part", e.Part,
				"loss", e.Loss, "train_acc", e.TrainAcc, "seconds", e.Seconds, "examples", e.Examples,
				"term_l2", nil, "term_ce", nil, "term_gamma0", nil) // a column per name, empty where a line lacks it
			for _, tm := range e.Terms {
				w[TermPrefix+tm.Name] = tm.Value
			}
			want[Epochs] = append(want[Epochs], w)
			line[e.Task]++
		}
		mem := func(b int64) any {
			if b == 0 {
				return nil
			}
			return b
		}
		want[Memory] = append(want[Memory], with("peak_heap_bytes", mem(st.memory[k].PeakHeapBytes), "peak_rss_bytes", mem(st.memory[k].PeakRSSBytes)))
		r := run(k)
		want[Runs] = append(want[Runs], with("preset", "quick", "dataset", "mnist", "stream_kind", "split", "num_tasks", 2,
			"class_order", "fixed", "status", "done", "counted", "true", "error", nil,
			"started_at", r.Started.UTC().Format("2006-01-02T15:04:05.000Z"), "ended_at", r.Ended.UTC().Format("2006-01-02T15:04:05.000Z"),
			"program_version", "v1", "host", "box", "peak_heap_bytes", mem(st.memory[k].PeakHeapBytes), "peak_rss_bytes", mem(st.memory[k].PeakRSSBytes),
			"spec_json", fmt.Sprintf(spec, k+1), "choices_json", nil,
			"setting.hidden", "[400,400]", "setting.lr", 0.001, "setting.epochs", 2, "setting.encoder", "mlp", "setting.mask", "true",
			"setting.opt.beta1", 0.9, "setting.opt.kind", "adamw"))
	}

	for _, what := range Whats {
		tab, err := Build(t.Context(), s, what, results.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		for _, format := range Formats {
			t.Run(string(what)+"/"+format, func(t *testing.T) {
				var b bytes.Buffer
				if err := tab.Write(&b, format); err != nil {
					t.Fatal(err)
				}
				var rows []row
				if format == "csv" {
					var cols []string
					cols, rows = readCSV(t, b.Bytes())
					if strings.Join(cols, ",") != strings.Join(tab.Columns, ",") {
						t.Errorf("csv header %v, want %v", cols, tab.Columns)
					}
				} else {
					rows = readJSON(t, b.Bytes())
				}
				if len(rows) != len(want[what]) {
					t.Fatalf("%d rows, want %d:\n%s", len(rows), len(want[what]), b.String())
				}
				for i, w := range want[what] {
					if len(rows[i]) != len(tab.Columns) {
						t.Errorf("row %d has %d columns, want %d", i, len(rows[i]), len(tab.Columns))
					}
					for col, v := range w {
						got, ok := rows[i][col]
						if !ok {
							t.Errorf("row %d: no column %s", i, col)
						} else if !same(got, v) {
							t.Errorf("row %d: %s = %q, want %v", i, col, got, v)
						}
					}
				}
			})
		}
	}
}

func TestExportFiltersAndStatus(t *testing.T) {
	s, st := writeStore(t)
	ctx := t.Context()
	id, err := s.StartRun(ctx, results.Run{SpecJSON: `{"method":"backprop","settings":{"lr":0.01},"dataset":"mnist","stream":"split"}`,
		ConfigHash: "bp", Method: "backprop", Stream: "split-mnist", Scenario: "task", Seed: 1, NumTasks: 2})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.FailRun(ctx, id, results.StatusFailed, "diverged"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		f    results.Filter
		want []string
	}{
		{results.Filter{}, []string{st.ids[0], st.ids[1], id}},
		{results.Filter{Status: results.StatusDone}, st.ids},
		{results.Filter{Method: "backprop"}, []string{id}},
		{results.Filter{Scenario: "class"}, st.ids},
	}
	for _, tc := range tests {
		tab, err := Build(ctx, s, Runs, tc.f)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range tab.Rows {
			got = append(got, r[0].(string))
		}
		if strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("filter %+v: runs %v, want %v", tc.f, got, tc.want)
		}
		for _, r := range tab.Rows {
			if r[0] == id && (r[11] != "failed" || r[12] != false || r[13] != "diverged") {
				t.Errorf("failed run exported as status %v, counted %v, error %v", r[11], r[12], r[13])
			}
		}
	}
}
