package results

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/noprop/noprop/results/metrics"
)

// dumpTables lists every row of the tables a merge writes, in order.
func dumpTables(t *testing.T, path string) string {
	t.Helper()
	db := rawDB(t, path)
	defer db.Close()
	var b strings.Builder
	for _, q := range []string{
		"SELECT * FROM runs ORDER BY id",
		"SELECT * FROM accuracy ORDER BY run_id, after_task, eval_task",
		"SELECT * FROM inference_accuracy ORDER BY run_id, after_task, eval_task, inference_run",
		"SELECT * FROM epochs ORDER BY run_id, task, line",
		"SELECT * FROM metrics ORDER BY run_id, name",
		"SELECT run_id, source, digest, kept_digest, run_json FROM merge_conflicts ORDER BY run_id, digest",
	} {
		rows, err := db.Query(q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]sql.NullString, len(cols))
			ptrs := make([]any, len(vals))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintln(&b, vals)
		}
		rows.Close()
	}
	return b.String()
}

func openReadOnlyT(t *testing.T, path string) *Store {
	t.Helper()
	s, err := OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func mergeT(t *testing.T, out *Store, in string, opts MergeOptions) MergeReport {
	t.Helper()
	src, err := OpenReadOnly(in)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	rep, err := out.Merge(t.Context(), src, opts)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func copyDB(t *testing.T, dst, src string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, dst, b)
}

func TestMerge(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	a := filepath.Join(dir, "a.db")
	sa := openT(t, a)
	done := completeRun(t, sa, testRun("m", "h", 1, 2), fakeMatrix(2, 0), []metrics.Metric{{Name: metrics.ACC, Value: 50}}, Memory{})
	if err := sa.RecordEval(ctx, done, 0, EvalRow{Acc: []float64{1, 2}}); err == nil {
		t.Fatal("a done run took a row")
	}
	failed, _ := sa.StartRun(ctx, testRun("m", "h", 2, 2))
	sa.RecordEval(ctx, failed, 0, EvalRow{Acc: []float64{1, 2}, Inference: [][]float64{{1, 2}, {1, 2}}})
	sa.FailRun(ctx, failed, StatusFailed, "nan loss")
	sa.StartRun(ctx, testRun("m", "h", 3, 2)) // running
	sa.Close()

	outPath := filepath.Join(dir, "out.db")
	out := openT(t, outPath)
	tests := []struct {
		name string
		opts MergeOptions
		want MergeReport
	}{
		{"done runs", MergeOptions{}, MergeReport{Added: 1, LeftOut: 2}},
		{"again", MergeOptions{}, MergeReport{Identical: 1, LeftOut: 2}},
		{"with ended runs", MergeOptions{Ended: true}, MergeReport{Added: 1, Identical: 1, LeftOut: 1}},
		{"with ended runs again", MergeOptions{Ended: true}, MergeReport{Identical: 2, LeftOut: 1}},
	}
	var dump string
	for _, tc := range tests {
		if got := mergeT(t, out, a, tc.opts); got != tc.want {
			t.Errorf("merge %s: %+v, want %+v", tc.name, got, tc.want)
		}
		if strings.HasSuffix(tc.name, "again") {
			if d := dumpTables(t, outPath); d != dump {
				t.Errorf("merge %s changed the tables", tc.name)
			}
		}
		dump = dumpTables(t, outPath)
	}
	// The merged runs read back as in the source.
	src := openReadOnlyT(t, a)
	for _, id := range []string{done, failed} {
		theirs, _, _ := readRecord(ctx, src.db, src.version, id)
		ours, ok, err := readRecord(ctx, out.db, out.version, id)
		if err != nil || !ok || ours.digest != theirs.digest {
			t.Errorf("run %s: merged copy differs (%v, %v)", id, ok, err)
		}
	}

	// A copy of a with other contents for the done run conflicts: out's
	// copy is kept, the other stored once however often it is merged.
	c := filepath.Join(dir, "c.db")
	copyDB(t, c, a)
	rawExec(t, c, "UPDATE metrics SET value = 51 WHERE run_id = '"+done+"'")
	before := dumpTables(t, outPath)
	for range 2 {
		if got := mergeT(t, out, c, MergeOptions{}); got != (MergeReport{Conflicts: 1, LeftOut: 2}) {
			t.Errorf("merge of a conflicting copy: %+v", got)
		}
	}
	if ms, _ := out.Metrics(ctx, done); len(ms) != 1 || ms[0].Value != 50 {
		t.Errorf("out's copy changed: %+v", ms)
	}
	if n := rawInt(t, outPath, "SELECT count(*) FROM merge_conflicts"); n != 1 {
		t.Errorf("%d conflicts stored, want 1", n)
	}
	js := rawValue[string](t, outPath, "SELECT run_json FROM merge_conflicts")
	if !strings.Contains(js, `"value":51`) || !strings.Contains(js, `"accuracy":[`) || !strings.Contains(js, done) {
		t.Errorf("stored conflict lacks the other copy: %s", js)
	}
	if n, err := out.ConflictCount(ctx); err != nil || n != 1 {
		t.Errorf("ConflictCount = %d, %v", n, err)
	}
	if after := dumpTables(t, outPath); !strings.HasPrefix(after, before) || after == before {
		t.Errorf("a conflict changed the runs, or was not stored:\nbefore %s\nafter  %s", before, after)
	}

	// The conflicts a database recorded travel with it.
	out2 := openT(t, filepath.Join(dir, "out2.db"))
	if got := mergeT(t, out2, outPath, MergeOptions{Ended: true}); got != (MergeReport{Added: 2}) {
		t.Errorf("merge of out: %+v", got)
	}
	if n, _ := out2.ConflictCount(ctx); n != 1 {
		t.Errorf("%d conflicts carried over, want 1", n)
	}

	if _, err := out.Merge(ctx, openReadOnlyT(t, outPath), MergeOptions{}); err == nil ||
		!strings.Contains(err.Error(), "same database") {
		t.Errorf("merge into itself: %v", err)
	}
}

// TestMergeUpdatesUnfinishedCopy merges a finished run into a database that
// holds a copy of it taken while it ran.
func TestMergeUpdatesUnfinishedCopy(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	live := filepath.Join(dir, "live.db")
	s := openT(t, live)
	id, _ := s.StartRun(ctx, testRun("m", "h", 1, 2))
	if err := s.RecordEval(ctx, id, 0, EvalRow{Acc: []float64{1, 2}}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	snapshot := filepath.Join(dir, "snapshot.db")
	copyDB(t, snapshot, live)
	s = openT(t, live)
	for i, row := range fakeMatrix(2, 0)[1:] {
		if err := s.RecordEval(ctx, id, i+1, EvalRow{Acc: row}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.FinishRun(ctx, id, nil, Memory{}); err != nil {
		t.Fatal(err)
	}
	out := openT(t, snapshot)
	if got := mergeT(t, out, live, MergeOptions{}); got != (MergeReport{Updated: 1}) {
		t.Errorf("merge: %+v, want 1 updated", got)
	}
	r, err := out.Run(ctx, id)
	if err != nil || r.Status != StatusDone {
		t.Errorf("run after merge: %+v, %v", r, err)
	}
	m, _ := out.Matrix(ctx, id)
	if m[0][0] != 1 || m[2][1] != 21 {
		t.Errorf("matrix %v, want the finished copy's", m)
	}
}

// TestMergeOlderSource merges a database of schema version 2, which it
// reads without migrating.
func TestMergeOlderSource(t *testing.T) {
	orig := migrations
	t.Cleanup(func() { migrations = orig })
	dir := t.TempDir()
	old := filepath.Join(dir, "old.db")
	migrations = orig[:2]
	openT(t, old).Close()
	migrations = orig
	rawExec(t, old, `INSERT INTO runs (id, spec_json, config_hash, method, stream, scenario, seed, status,
	started_at, ended_at, num_tasks) VALUES ('r1', '{}', 'h', 'm', 'split-mnist', 'class-il', -1, 'done',
	'2026-01-01T00:00:00.000Z', '2026-01-01T00:01:00.000Z', 1)`,
		"INSERT INTO accuracy (run_id, after_task, eval_task, accuracy, note) VALUES ('r1', 1, 1, 70, NULL)",
		"INSERT INTO inference_accuracy VALUES ('r1', 1, 1, 1, 69)")
	before := hashFile(t, old)
	out := openT(t, filepath.Join(dir, "out.db"))
	for _, want := range []MergeReport{{Added: 1}, {Identical: 1}} {
		if got := mergeT(t, out, old, MergeOptions{}); got != want {
			t.Errorf("merge: %+v, want %+v", got, want)
		}
	}
	if hashFile(t, old) != before || rawInt(t, old, "PRAGMA user_version") != 2 {
		t.Error("the source was changed")
	}
	r, err := out.Run(t.Context(), "r1")
	if err != nil || r.Seed != 1<<64-1 || r.Generation != 0 || r.Owner != (Owner{}) {
		t.Errorf("merged run %+v, %v", r, err)
	}
	if inf, _ := out.InferenceMatrices(t.Context(), "r1"); len(inf) != 1 || inf[0][1][0] != 69 {
		t.Errorf("inference runs %v", inf)
	}
}

// TestMergeKeepsTheProbesOrder: a merged run's probe comes back in the
// order the learner named its stages, not sorted by name.
func TestMergeKeepsTheProbesOrder(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	a := filepath.Join(dir, "a.db")
	sa := openT(t, a)
	id, err := sa.StartRun(ctx, testRun("m", "h", 1, 1))
	if err != nil {
		t.Fatal(err)
	}
	stages := []string{"denoise 2", "denoise 10", "chain 2", "chain 10", "head"}
	var probe []StageAccuracy
	for _, st := range stages {
		probe = append(probe, StageAccuracy{Stage: st, Acc: []float64{50}})
	}
	for row := range 2 {
		if err := sa.RecordEval(ctx, id, row, EvalRow{Acc: []float64{50}, Probe: probe}); err != nil {
			t.Fatal(err)
		}
	}
	if err := sa.FinishRun(ctx, id, nil, Memory{}); err != nil {
		t.Fatal(err)
	}
	sa.Close()
	out := openT(t, filepath.Join(dir, "out.db"))
	mergeT(t, out, a, MergeOptions{})
	cells, err := out.Probe(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range cells {
		if c.AfterTask == 0 {
			got = append(got, c.Stage)
		}
	}
	if !slices.Equal(got, stages) {
		t.Errorf("merged probe in the order %q, want the learner's %q", got, stages)
	}
}
