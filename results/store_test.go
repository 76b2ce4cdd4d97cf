package results

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/noprop/noprop/results/metrics"
)

func testRun(method, hash string, seed uint64, numTasks int) Run {
	return Run{
		SpecJSON:    fmt.Sprintf(`{"method":%q,"dataset":"mnist","stream":"split","seed":%d}`, method, seed),
		ConfigHash:  hash,
		Method:      method,
		Stream:      "split-mnist",
		Scenario:    "class-il",
		Seed:        seed,
		ChoicesJSON: `{"class_order":[0,1,2,3,4,5,6,7,8,9]}`,
		NumTasks:    numTasks,
	}
}

// fakeMatrix is a (T+1) x T matrix with distinct cells.
func fakeMatrix(numTasks int, offset float64) [][]float64 {
	m := make([][]float64, numTasks+1)
	for i := range m {
		m[i] = make([]float64, numTasks)
		for j := range m[i] {
			m[i][j] = 10*float64(i) + float64(j) + offset
		}
	}
	return m
}

// completeRun records every row of m and finishes the run with metrics.
func completeRun(t *testing.T, s *Store, r Run, m [][]float64, metrics []metrics.Metric, mem Memory) string {
	t.Helper()
	ctx := context.Background()
	id, err := s.StartRun(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	for i, row := range m {
		if err := s.RecordEval(ctx, id, i, EvalRow{Acc: row}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.FinishRun(ctx, id, metrics, mem); err != nil {
		t.Fatal(err)
	}
	return id
}

// valRow is a validation row made from a test row: each accuracy less a
// tenth of itself, so that the two can be told apart.
func valRow(row []float64) []float64 {
	out := make([]float64, len(row))
	for j, a := range row {
		out[j] = a * 0.9
	}
	return out
}

func sameFloat(a, b float64) bool {
	return (math.IsNaN(a) && math.IsNaN(b)) || math.Abs(a-b) < 1e-9
}

func TestRoundTrip(t *testing.T) {
	ctx := t.Context()
	s := openT(t, filepath.Join(t.TempDir(), "r.db"))
	const T = 3
	r := testRun("noprop", "cfg1", 7, T)
	r.ProgramVersion, r.Host, r.Kernels = "abc123", "box", "fp32 avx2, bf16 none, vector avx2"
	id, err := s.StartRun(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	if len(id) != 32 {
		t.Errorf("generated id %q, want 32 hex digits", id)
	}
	got, err := s.Run(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != StatusRunning || !got.Ended.IsZero() || got.Started.IsZero() {
		t.Errorf("started run: status %s, started %v, ended %v", got.Status, got.Started, got.Ended)
	}

	want := fakeMatrix(T, 0.5)
	want[2][2] = math.NaN() // a NaN accuracy is stored as NULL
	var allEpochs []Epoch
	for i, row := range want {
		var epochs []Epoch
		if i > 0 {
			epochs = []Epoch{
				{Epoch: 1, Part: "block 1", Loss: 1.5, TrainAcc: 80, Seconds: 2, Examples: 100, TestAcc: 77.25,
					Terms: []Term{{"l2", 0.75}, {"ce", 0.5}, {"kl", math.NaN()}, {"gamma0", -4}}},
				{Epoch: 1, Part: "block 2", Loss: math.Inf(1), TrainAcc: math.NaN(), Seconds: 3, Examples: 100, TestAcc: math.NaN()},
			}
			for _, e := range epochs {
				e.Task = i
				allEpochs = append(allEpochs, e)
			}
		}
		if err := s.RecordEval(ctx, id, i, EvalRow{Acc: row, Epochs: epochs, Val: valRow(row)}); err != nil {
			t.Fatal(err)
		}
	}
	stored := []metrics.Metric{
		{Name: metrics.ACC, Value: 55.5},
		{Name: metrics.FWT, Value: math.NaN(), Note: "undefined in class-il"},
		{Name: metrics.BWT, Value: math.Inf(-1)},
	}
	if err := s.FinishRun(ctx, id, stored, Memory{PeakHeapBytes: 3 << 20}); err != nil {
		t.Fatal(err)
	}

	m, err := s.Matrix(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(m) != T+1 {
		t.Fatalf("matrix has %d rows, want %d", len(m), T+1)
	}
	for i := range want {
		for j := range want[i] {
			if !sameFloat(m[i][j], want[i][j]) {
				t.Errorf("R[%d][%d] = %v, want %v", i, j+1, m[i][j], want[i][j])
			}
		}
	}
	cells, err := s.Cells(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cells {
		if w := valRow(want[c.AfterTask])[c.EvalTask-1]; !sameFloat(c.ValAccuracy, w) {
			t.Errorf("validation R[%d][%d] = %v, want %v", c.AfterTask, c.EvalTask, c.ValAccuracy, w)
		}
	}
	if n := rawInt(t, s.path, "SELECT count(*) FROM accuracy WHERE accuracy IS NULL AND note LIKE 'not finite%'"); n != 1 {
		t.Errorf("%d NULL accuracies with a note, want 1", n)
	}

	eps, err := s.Epochs(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(eps) != len(allEpochs) {
		t.Fatalf("%d epoch lines, want %d", len(eps), len(allEpochs))
	}
	for i, e := range eps {
		w := allEpochs[i]
		if !isFinite(w.Loss) {
			w.Loss = math.NaN() // non-finite losses read back as NaN
		}
		if e.Task != w.Task || e.Epoch != w.Epoch || e.Part != w.Part || !sameFloat(e.Loss, w.Loss) ||
			!sameFloat(e.TrainAcc, w.TrainAcc) || !sameFloat(e.Seconds, w.Seconds) || e.Examples != w.Examples ||
			!sameFloat(e.TestAcc, w.TestAcc) || len(e.Terms) != len(w.Terms) {
			t.Errorf("epoch line %d = %+v, want %+v", i, e, w)
		}
		for k, tm := range w.Terms {
			if k < len(e.Terms) && (e.Terms[k].Name != tm.Name || !sameFloat(e.Terms[k].Value, tm.Value)) {
				t.Errorf("epoch line %d term %d = %+v, want %+v (in order, NaN as NaN)", i, k, e.Terms[k], tm)
			}
		}
	}

	ms, err := s.Metrics(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	wantMetrics := map[string]metrics.Metric{
		metrics.ACC: {Name: metrics.ACC, Value: 55.5},
		metrics.BWT: {Name: metrics.BWT, Value: math.NaN(), Note: "not finite (-Inf)"},
		metrics.FWT: {Name: metrics.FWT, Value: math.NaN(), Note: "undefined in class-il"},
	}
	if len(ms) != len(wantMetrics) {
		t.Errorf("%d metrics, want %d", len(ms), len(wantMetrics))
	}
	for _, m := range ms {
		w := wantMetrics[m.Name]
		if !sameFloat(m.Value, w.Value) || m.Note != w.Note {
			t.Errorf("metric %+v, want %+v", m, w)
		}
	}

	got, err = s.Run(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != StatusDone || got.Ended.IsZero() || got.PeakHeapBytes != 3<<20 || got.PeakRSSBytes != 0 ||
		got.ProgramVersion != "abc123" || got.Host != "box" || got.Kernels != r.Kernels || got.ChoicesJSON != r.ChoicesJSON ||
		got.SpecJSON != r.SpecJSON || got.ConfigHash != "cfg1" || got.Seed != 7 || got.NumTasks != T {
		t.Errorf("finished run = %+v", got)
	}
	if got.Ended.Before(got.Started) {
		t.Errorf("ended %v before started %v", got.Ended, got.Started)
	}
}

func TestWritesRefused(t *testing.T) {
	ctx := t.Context()
	s := openT(t, filepath.Join(t.TempDir(), "r.db"))
	const T = 2
	running, err := s.StartRun(ctx, testRun("m", "h", 1, T))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RecordEval(ctx, running, 1, EvalRow{Acc: []float64{90, 10}}); err != nil {
		t.Fatal(err)
	}
	done := completeRun(t, s, testRun("m", "h", 2, T), fakeMatrix(T, 0), nil, Memory{})
	failed, err := s.StartRun(ctx, testRun("m", "h", 3, T))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.FailRun(ctx, failed, StatusInterrupted, "signal: interrupt"); err != nil {
		t.Fatal(err)
	}
	dup := testRun("m", "h", 4, T)
	dup.ID = done

	tests := []struct {
		name string
		do   func() error
		want string
	}{
		{"start: empty method", func() error { r := testRun("", "h", 1, T); _, err := s.StartRun(ctx, r); return err }, "empty method"},
		{"start: empty hash", func() error { _, err := s.StartRun(ctx, testRun("m", "", 1, T)); return err }, "empty config hash"},
		{"start: no tasks", func() error { _, err := s.StartRun(ctx, testRun("m", "h", 1, 0)); return err }, "want at least 1"},
		{"start: bad spec", func() error {
			r := testRun("m", "h", 1, T)
			r.SpecJSON = "{"
			_, err := s.StartRun(ctx, r)
			return err
		}, "spec is not valid JSON"},
		{"start: bad choices", func() error {
			r := testRun("m", "h", 1, T)
			r.ChoicesJSON = "[1,"
			_, err := s.StartRun(ctx, r)
			return err
		}, "random choices are not valid JSON"},
		{"start: duplicate id", func() error { _, err := s.StartRun(ctx, dup); return err }, "UNIQUE constraint"},
		{"eval: unknown run", func() error { return s.RecordEval(ctx, "nope", 0, EvalRow{Acc: []float64{1, 2}}) }, "not found"},
		{"eval: wrong length", func() error { return s.RecordEval(ctx, running, 0, EvalRow{Acc: []float64{1}}) }, "1 accuracies for 2 tasks"},
		{"eval: after task too large", func() error { return s.RecordEval(ctx, running, 3, EvalRow{Acc: []float64{1, 2}}) }, "out of range 0..2"},
		{"eval: negative after task", func() error { return s.RecordEval(ctx, running, -1, EvalRow{Acc: []float64{1, 2}}) }, "out of range 0..2"},
		{"eval: fraction not percent", func() error { return s.RecordEval(ctx, running, 0, EvalRow{Acc: []float64{150, 2}}) }, "want percent"},
		{"eval: validation wrong length", func() error {
			return s.RecordEval(ctx, running, 0, EvalRow{Acc: []float64{1, 2}, Val: []float64{1}})
		}, "1 validation accuracies for 2 tasks"},
		{"eval: validation fraction", func() error {
			return s.RecordEval(ctx, running, 0, EvalRow{Acc: []float64{1, 2}, Val: []float64{1, 200}})
		}, "accuracy on task 2 (validation) is 200"},
		{"eval: row again", func() error { return s.RecordEval(ctx, running, 1, EvalRow{Acc: []float64{1, 2}}) }, "already recorded"},
		{"eval: done run", func() error { return s.RecordEval(ctx, done, 0, EvalRow{Acc: []float64{1, 2}}) }, "status done"},
		{"finish: missing rows", func() error { return s.FinishRun(ctx, running, nil, Memory{}) }, "accuracy after task 2 not recorded"},
		{"finish: done run", func() error { return s.FinishRun(ctx, done, nil, Memory{}) }, "status done"},
		{"finish: interrupted run", func() error { return s.FinishRun(ctx, failed, nil, Memory{}) }, "status interrupted"},
		{"finish: duplicate metric", func() error {
			return s.FinishRun(ctx, running, []metrics.Metric{{Name: "acc"}, {Name: "acc"}}, Memory{})
		}, `metric "acc" given twice`},
		{"fail: bad status", func() error { return s.FailRun(ctx, running, StatusDone, "x") }, "want"},
		{"fail: done run", func() error { return s.FailRun(ctx, done, StatusFailed, "x") }, "status done"},
		{"fail: unknown run", func() error { return s.FailRun(ctx, "nope", StatusFailed, "x") }, "not found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.do()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
	// Nothing of the refused writes was stored, and the stored rows survived.
	m, err := s.Matrix(ctx, running)
	if err != nil {
		t.Fatal(err)
	}
	if !math.IsNaN(m[0][0]) || m[1][0] != 90 || m[1][1] != 10 {
		t.Errorf("running run's matrix changed: %v", m)
	}
	if n := rawInt(t, s.path, "SELECT count(*) FROM metrics"); n != 0 {
		t.Errorf("%d metrics stored by refused writes", n)
	}
	r, err := s.Run(ctx, failed)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != StatusInterrupted || r.Error != "signal: interrupt" || r.Ended.IsZero() {
		t.Errorf("interrupted run = %+v", r)
	}
	if _, err := s.Matrix(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Matrix of unknown run: %v, want ErrNotFound", err)
	}
}

func TestFindDone(t *testing.T) {
	ctx := t.Context()
	s := openT(t, filepath.Join(t.TempDir(), "r.db"))
	done := completeRun(t, s, testRun("m", "h", 1, 1), fakeMatrix(1, 0), nil, Memory{})
	if _, err := s.StartRun(ctx, testRun("m", "h", 2, 1)); err != nil { // running
		t.Fatal(err)
	}
	failed, err := s.StartRun(ctx, testRun("m", "h", 3, 1))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.FailRun(ctx, failed, StatusFailed, "boom"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		hash   string
		seed   uint64
		wantID string
	}{
		{"h", 1, done},
		{"h", 2, ""},     // running
		{"h", 3, ""},     // failed
		{"h", 4, ""},     // never run
		{"other", 1, ""}, // other config
	}
	for _, tc := range tests {
		id, ok, err := s.FindDone(ctx, tc.hash, tc.seed)
		if err != nil {
			t.Fatal(err)
		}
		if ok != (tc.wantID != "") || id != tc.wantID {
			t.Errorf("FindDone(%s, %d) = %q, %v; want %q", tc.hash, tc.seed, id, ok, tc.wantID)
		}
	}
}

func TestSummaries(t *testing.T) {
	ctx := t.Context()
	s := openT(t, filepath.Join(t.TempDir(), "r.db"))
	// Config "bp": 3 seeds. acc 90, 92, 94 -> mean 92, SE = 2/sqrt(3) = 1.1547.
	// forgetting 10, 12, undefined -> mean 11, SE = sqrt(2)/sqrt(2) = 1.
	// fwt undefined for all.
	accs := []float64{90, 92, 94}
	forg := []float64{10, 12, math.NaN()}
	heap := []int64{100 << 20, 200 << 20, 300 << 20}
	for i := range accs {
		completeRun(t, s, testRun("backprop", "bp", uint64(i), 2), fakeMatrix(2, 0), []metrics.Metric{
			{Name: metrics.ACC, Value: accs[i]},
			{Name: metrics.Forgetting, Value: forg[i], Note: "needs at least 2 tasks"},
			{Name: metrics.FWT, Value: math.NaN(), Note: "undefined in class-il"},
		}, Memory{PeakHeapBytes: heap[i]})
	}
	// Excluded from "bp": a failed run and a running run.
	failed, err := s.StartRun(ctx, testRun("backprop", "bp", 9, 2))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.FailRun(ctx, failed, StatusFailed, "nan loss"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.StartRun(ctx, testRun("backprop", "bp", 10, 2)); err != nil {
		t.Fatal(err)
	}
	// Config "np": seed 5 run twice; only the latest counts, so n = 1.
	completeRun(t, s, testRun("noprop", "np", 5, 2), fakeMatrix(2, 0), []metrics.Metric{{Name: metrics.ACC, Value: 10}}, Memory{})
	time.Sleep(5 * time.Millisecond) // ended_at has millisecond resolution
	completeRun(t, s, testRun("noprop", "np", 5, 2), fakeMatrix(2, 0), []metrics.Metric{{Name: metrics.ACC, Value: 20}}, Memory{})
	// Another stream sorts first.
	other := testRun("noprop", "np-perm", 1, 2)
	other.Stream = "permuted-mnist"
	other.SpecJSON = `{"method":"noprop","dataset":"mnist","stream":"permuted","seed":1}`
	completeRun(t, s, other, fakeMatrix(2, 0), []metrics.Metric{{Name: metrics.ACC, Value: 50}}, Memory{})

	sums, err := s.Summaries(ctx, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, x := range sums {
		keys = append(keys, x.Stream+"/"+x.Method)
	}
	if got, want := strings.Join(keys, " "), "permuted-mnist/noprop split-mnist/backprop split-mnist/noprop"; got != want {
		t.Fatalf("summaries %q, want %q", got, want)
	}
	bp, np := sums[1], sums[2]
	tests := []struct {
		name string
		got  Stat
		want Stat
	}{
		{"bp acc", bp.Metrics[metrics.ACC], Stat{Mean: 92, SE: 2 / math.Sqrt(3), N: 3}},
		{"bp forgetting", bp.Metrics[metrics.Forgetting], Stat{Mean: 11, SE: 1, N: 2, Note: "needs at least 2 tasks"}},
		{"bp fwt", bp.Metrics[metrics.FWT], Stat{Mean: math.NaN(), SE: math.NaN(), N: 0, Note: "undefined in class-il"}},
		{"bp heap", bp.PeakHeapBytes, Stat{Mean: 200 << 20, SE: (100 << 20) / math.Sqrt(3), N: 3}},
		{"np acc", np.Metrics[metrics.ACC], Stat{Mean: 20, SE: math.NaN(), N: 1}},
		{"np rss", np.PeakRSSBytes, Stat{Mean: math.NaN(), SE: math.NaN(), N: 0}},
	}
	for _, tc := range tests {
		if !sameFloat(tc.got.Mean, tc.want.Mean) || !sameFloat(tc.got.SE, tc.want.SE) ||
			tc.got.N != tc.want.N || tc.got.Note != tc.want.Note {
			t.Errorf("%s = %+v, want %+v", tc.name, tc.got, tc.want)
		}
	}
	if math.Abs(bp.Metrics[metrics.ACC].SE-1.1547) > 1e-4 {
		t.Errorf("bp acc SE %v, want 1.1547", bp.Metrics[metrics.ACC].SE)
	}
	if bp.N != 3 || fmt.Sprint(bp.Seeds) != "[0 1 2]" || len(bp.RunIDs) != 3 {
		t.Errorf("bp: n %d, seeds %v, runs %v", bp.N, bp.Seeds, bp.RunIDs)
	}
	if np.N != 1 {
		t.Errorf("np: n %d, want 1 (the seed's latest run)", np.N)
	}

	filtered, err := s.Summaries(ctx, Filter{Method: "noprop", StreamKind: "split"})
	if err != nil {
		t.Fatal(err)
	}
	if len(filtered) != 1 || filtered[0].ConfigHash != "np" {
		t.Errorf("filtered summaries %+v, want the np one", filtered)
	}
	runs, err := s.Runs(ctx, Filter{ConfigHash: "bp", Status: StatusFailed})
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 1 || runs[0].ID != failed || runs[0].Error != "nan loss" {
		t.Errorf("failed bp runs %+v", runs)
	}
	all, err := s.Runs(ctx, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 8 {
		t.Errorf("%d runs, want 8", len(all))
	}
}

func TestMeanMatrix(t *testing.T) {
	ctx := t.Context()
	s := openT(t, filepath.Join(t.TempDir(), "r.db"))
	// Three seeds; cell values offset by 0, 2, 4: mean offset 2, SE 2/sqrt(3).
	// Cell R[0][1] is missing in one seed: mean of 2 values.
	for i, off := range []float64{0, 2, 4} {
		m := fakeMatrix(2, off)
		if i == 2 {
			m[0][1] = math.NaN()
		}
		completeRun(t, s, testRun("m", "h", uint64(i), 2), m, nil, Memory{})
	}
	completeRun(t, s, testRun("m", "other", 0, 2), fakeMatrix(2, 50), nil, Memory{})
	mean, se, n, err := s.MeanMatrix(ctx, "h")
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Errorf("n = %d, want 3", n)
	}
	base := fakeMatrix(2, 0)
	for i := range base {
		for j := range base[i] {
			wantMean, wantSE := base[i][j]+2, 2/math.Sqrt(3)
			if i == 0 && j == 1 { // offsets 0 and 2 only
				wantMean, wantSE = base[i][j]+1, 1
			}
			if !sameFloat(mean[i][j], wantMean) || !sameFloat(se[i][j], wantSE) {
				t.Errorf("cell (%d, %d) = %v ± %v, want %v ± %v", i, j+1, mean[i][j], se[i][j], wantMean, wantSE)
			}
		}
	}
	if _, _, _, err := s.MeanMatrix(ctx, "missing"); !errors.Is(err, ErrNotFound) {
		t.Errorf("MeanMatrix of an unknown config: %v, want ErrNotFound", err)
	}
}

func TestNewStat(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		xs    []float64
		notes []string
		want  Stat
	}{
		{nil, nil, Stat{Mean: nan, SE: nan}},
		{[]float64{5}, nil, Stat{Mean: 5, SE: nan, N: 1}},
		{[]float64{90, 92, 94}, nil, Stat{Mean: 92, SE: 2 / math.Sqrt(3), N: 3}},
		{[]float64{1, nan, 3, math.Inf(1)}, []string{"", "why", "", "inf"}, Stat{Mean: 2, SE: 1, N: 2, Note: "why"}},
		{[]float64{-1, -3}, nil, Stat{Mean: -2, SE: 1, N: 2}},
	}
	for _, tc := range tests {
		got := NewStat(tc.xs, tc.notes)
		if !sameFloat(got.Mean, tc.want.Mean) || !sameFloat(got.SE, tc.want.SE) || got.N != tc.want.N || got.Note != tc.want.Note {
			t.Errorf("NewStat(%v) = %+v, want %+v", tc.xs, got, tc.want)
		}
	}
}

// writeRuns writes n complete 5-task runs (6 evaluations each) through s.
func writeRuns(s *Store, worker, n int) error {
	ctx := context.Background()
	const T = 5
	for k := range n {
		r := testRun(fmt.Sprintf("w%d", worker), "conc", uint64(worker*1000+k), T)
		id, err := s.StartRun(ctx, r)
		if err != nil {
			return err
		}
		for i, row := range fakeMatrix(T, 0) {
			ep := []Epoch{{Epoch: 1, Loss: 0.5, Seconds: 1, Examples: 10}}
			if err := s.RecordEval(ctx, id, i, EvalRow{Acc: row, Epochs: ep}); err != nil {
				return err
			}
		}
		if err := s.FinishRun(ctx, id, []metrics.Metric{{Name: metrics.ACC, Value: float64(k)}}, Memory{}); err != nil {
			return err
		}
	}
	return nil
}

func TestConcurrentWriters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.db")
	const workers, perWorker = 2, 15
	stores := []*Store{openT(t, path), openT(t, path)} // two handles on one file
	var wg sync.WaitGroup
	errs := make([]error, workers)
	for w := range workers {
		wg.Go(func() { errs[w] = writeRuns(stores[w], w, perWorker) })
	}
	wg.Wait()
	for w, err := range errs {
		if err != nil {
			t.Errorf("writer %d: %v", w, err)
		}
	}
	checkConcurrentCounts(t, path, workers*perWorker)
}

func checkConcurrentCounts(t *testing.T, path string, runs int) {
	t.Helper()
	checks := []struct {
		query string
		want  int
	}{
		{"SELECT count(*) FROM runs WHERE status = 'done'", runs},
		{"SELECT count(*) FROM accuracy", runs * 6 * 5},
		{"SELECT count(*) FROM epochs", runs * 6},
		{"SELECT count(*) FROM metrics", runs},
	}
	for _, c := range checks {
		if got := rawInt(t, path, c.query); got != c.want {
			t.Errorf("%s = %d, want %d", c.query, got, c.want)
		}
	}
}

// TestConcurrentProcesses runs two writer processes (this test binary,
// re-executed) on one file.
func TestConcurrentProcesses(t *testing.T) {
	if w := os.Getenv("RESULTS_TEST_WRITER"); w != "" {
		worker, _ := strconv.Atoi(w)
		s, err := Open(os.Getenv("RESULTS_TEST_DB"))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if err := writeRuns(s, worker, 10); err != nil {
			t.Fatal(err)
		}
		return
	}
	if testing.Short() {
		t.Skip("starts processes")
	}
	path := filepath.Join(t.TempDir(), "r.db")
	var cmds []*exec.Cmd
	for w := range 2 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestConcurrentProcesses$")
		cmd.Env = append(os.Environ(), "RESULTS_TEST_WRITER="+strconv.Itoa(w+10), "RESULTS_TEST_DB="+path)
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("writer %d output:\n%s", w, out.String())
			}
		})
	}
	for w, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Errorf("writer %d: %v", w, err)
		}
	}
	checkConcurrentCounts(t, path, 20)
}

func TestInferenceRunsRoundTrip(t *testing.T) {
	ctx := t.Context()
	s := openT(t, filepath.Join(t.TempDir(), "r.db"))
	id, err := s.StartRun(ctx, testRun("m", "h", 1, 2))
	if err != nil {
		t.Fatal(err)
	}
	runs := [][]float64{{80, 40}, {90, 60}, {70, math.NaN()}}
	if err := s.RecordEval(ctx, id, 1, EvalRow{Acc: []float64{80, 50}, Inference: runs}); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordEval(ctx, id, 2, EvalRow{Acc: []float64{1, 2}, Inference: [][]float64{{1}}}); err == nil ||
		!strings.Contains(err.Error(), "inference run 1: 1 accuracies for 2 tasks") {
		t.Errorf("short inference row: %v", err)
	}
	if err := s.RecordEval(ctx, id, 2, EvalRow{Acc: []float64{1, 2}, Inference: [][]float64{{1, 101}}}); err == nil ||
		!strings.Contains(err.Error(), "inference run 1") {
		t.Errorf("inference accuracy out of range: %v", err)
	}
	got, err := s.InferenceMatrices(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("%d inference matrices, want 3", len(got))
	}
	for k, r := range runs {
		for j, a := range r {
			if g := got[k][1][j]; g != a && !(math.IsNaN(g) && math.IsNaN(a)) {
				t.Errorf("inference run %d, task %d: %v, want %v", k+1, j+1, g, a)
			}
		}
		if !math.IsNaN(got[k][0][0]) || !math.IsNaN(got[k][2][1]) {
			t.Errorf("inference run %d: unrecorded rows are not NaN: %v", k+1, got[k])
		}
	}
	// A deterministic rule records no inference runs.
	other, _ := s.StartRun(ctx, testRun("m", "h", 2, 2))
	if err := s.RecordEval(ctx, other, 0, EvalRow{Acc: []float64{1, 2}}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.InferenceMatrices(ctx, other); err != nil || len(got) != 0 {
		t.Errorf("deterministic run: %d inference matrices, %v", len(got), err)
	}
}

// TestSeedsExact stores seeds over the whole uint64 range: each reads back
// as itself, is found by itself alone, sorts as a number, and is spelled
// exactly in column seed_text.
func TestSeedsExact(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "r.db")
	s := openT(t, path)
	seeds := []uint64{math.MaxUint64, 1 << 63, 0, math.MaxInt64, 1}
	ids := map[uint64]string{}
	for _, seed := range seeds {
		ids[seed] = completeRun(t, s, testRun("m", "h", seed, 1), fakeMatrix(1, 0), nil, Memory{})
	}
	for _, seed := range seeds {
		r, err := s.Run(ctx, ids[seed])
		if err != nil {
			t.Fatal(err)
		}
		if r.Seed != seed {
			t.Errorf("seed %d read back as %d", seed, r.Seed)
		}
		id, ok, err := s.FindDone(ctx, "h", seed)
		if err != nil || !ok || id != ids[seed] {
			t.Errorf("FindDone(seed %d) = %s, %v, %v; want %s", seed, id, ok, err, ids[seed])
		}
		text := fmt.Sprint(seed)
		if n := rawInt(t, path, "SELECT count(*) FROM runs WHERE seed_text = '"+text+"' AND id = '"+ids[seed]+"'"); n != 1 {
			t.Errorf("seed_text of seed %d is not %s", seed, text)
		}
	}
	sums, err := s.Summaries(ctx, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprint(sums[0].Seeds), "[0 1 9223372036854775807 9223372036854775808 18446744073709551615]"; got != want {
		t.Errorf("summary seeds %s, want %s", got, want)
	}
}

// TestOldSeedsRead reads a seed of 2^64-1 that a schema-2 program stored,
// as the same 64 bits, after migration.
func TestOldSeedsRead(t *testing.T) {
	orig := migrations
	t.Cleanup(func() { migrations = orig })
	path := filepath.Join(t.TempDir(), "r.db")
	migrations = orig[:2]
	openT(t, path).Close()
	migrations = orig
	rawExec(t, path, `INSERT INTO runs (id, spec_json, config_hash, method, stream, scenario, seed, status,
	started_at, num_tasks) VALUES ('old', '{}', 'h', 'm', 'split-mnist', 'class-il', -1, 'running',
	'2026-01-01T00:00:00.000Z', 1)`)
	s := openT(t, path)
	r, err := s.Run(t.Context(), "old")
	if err != nil {
		t.Fatal(err)
	}
	if r.Seed != math.MaxUint64 {
		t.Errorf("seed %d, want 2^64-1", r.Seed)
	}
	if n := rawInt(t, path, "SELECT count(*) FROM runs WHERE seed_text = '18446744073709551615'"); n != 1 {
		t.Errorf("seed_text of the old run is not 18446744073709551615")
	}
}

// storeWithRunning opens (creating) the database at path and starts one run
// of numTasks tasks; the store is closed when the test ends.
func storeWithRunning(t *testing.T, path string, numTasks int) (*Store, string) {
	t.Helper()
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	id, err := s.StartRun(context.Background(), testRun("m", "h", 1, numTasks))
	if err != nil {
		t.Fatal(err)
	}
	return s, id
}
