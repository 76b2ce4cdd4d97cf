package paper

import (
	"bytes"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/noprop/noprop/results"
	"github.com/noprop/noprop/results/metrics"
	"github.com/noprop/noprop/results/table"
)

// store writes done runs: per config (method, dataset, embedding, stream)
// a run per seed whose final accuracies per inference run are given.
type stored struct {
	method, dataset, embedding, stream string
	final                              [][]float64 // per seed, per inference run
}

func writeStore(t *testing.T, runs []stored) *results.Store {
	t.Helper()
	s, err := results.Open(filepath.Join(t.TempDir(), "r.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx := t.Context()
	for k, r := range runs {
		for seed, final := range r.final {
			spec := fmt.Sprintf(`{"method":%q,"settings":{"embedding":%q,"epochs":7,"iterations":0},"dataset":%q,"stream":%q,"tasks":1,"scenario":"class","seed":%d,"inference_runs":%d}`,
				r.method, r.embedding, r.dataset, r.stream, seed+1, len(final))
			id, err := s.StartRun(ctx, results.Run{SpecJSON: spec, ConfigHash: fmt.Sprint("cfg", k), Method: r.method,
				Stream: r.stream + "-" + r.dataset, Scenario: "class", Seed: uint64(seed + 1), NumTasks: 1})
			if err != nil {
				t.Fatal(err)
			}
			mean := 0.0
			var inf [][]float64
			for _, a := range final {
				mean += a / float64(len(final))
				inf = append(inf, []float64{a})
			}
			if err := s.RecordEval(ctx, id, 1, results.EvalRow{Acc: []float64{mean}, Inference: inf}); err != nil {
				t.Fatal(err)
			}
			if err := s.FinishRun(ctx, id, []metrics.Metric{{Name: metrics.ACC, Value: mean}}, results.Memory{PeakHeapBytes: 100 << 20, PeakRSSBytes: 200 << 20}); err != nil {
				t.Fatal(err)
			}
		}
	}
	return s
}

// TestCompare: ours pools every seed's every inference run (the paper's
// seeds × inference runs), the difference is in standard errors of the
// difference, the JPEG copy is named as such, and configurations that are
// not a Table 1 row (another stream, a rule the paper did not run) are
// left out.
func TestCompare(t *testing.T) {
	s := writeStore(t, []stored{
		{"noprop-dt", "mnist", "one-hot", "joint", [][]float64{{99, 99.5}, {99.2, 99.3}}},
		{"noprop-dt", "cifar10-jpeg", "learned", "joint", [][]float64{{70}, {72}}},
		{"noprop-dt", "mnist", "one-hot", "split", [][]float64{{50}}},
		{"backprop", "mnist", "", "joint", [][]float64{{98}}},
	})
	cs, err := Compare(t.Context(), s, results.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 2 {
		t.Fatalf("%d comparisons, want 2: %+v", len(cs), cs)
	}
	c := cs[0]
	vals := []float64{99, 99.5, 99.2, 99.3}
	mean := (99 + 99.5 + 99.2 + 99.3) / 4
	ss := 0.0
	for _, v := range vals {
		ss += (v - mean) * (v - mean)
	}
	se := math.Sqrt(ss/3) / 2
	if c.Dataset != "MNIST" || c.Ours.N != 4 || math.Abs(c.Ours.Mean-mean) > 1e-12 || math.Abs(c.Ours.SE-se) > 1e-12 {
		t.Errorf("MNIST: %+v, want the 4 values pooled: mean %v, SE %v", c, mean, se)
	}
	if c.Published.Mean != 99.47 || c.Published.SE != 0.05 || c.Seeds != 2 || c.Runs != 2 || c.Budget != "7 epochs" || c.PaperGB != 0.49 {
		t.Errorf("MNIST row: %+v", c)
	}
	if want := (mean - 99.47) / math.Hypot(se, 0.05); math.Abs(c.DiffSE()-want) > 1e-12 {
		t.Errorf("Δ/SE = %v, want %v", c.DiffSE(), want)
	}
	if cs[1].Dataset != "CIFAR-10 (JPEG copy)" || cs[1].Published.Mean != 79.12 || !math.IsNaN(cs[1].PaperGB) {
		t.Errorf("JPEG copy: %+v", cs[1])
	}
	var b bytes.Buffer
	if err := Write(&b, cs, table.Markdown); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"CIFAR-10 (JPEG copy)", "99.47 ± 0.05", "learned (dim 20)", "2 × 2", "100 / 200", "0.49"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
	if err := Write(&b, nil, table.Text); err == nil {
		t.Error("an empty comparison printed a table")
	}
}

// TestTable1 checks the published rows against a few values of the
// paper's Table 1 and that every row is unique.
func TestTable1(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range Table1 {
		k := r.Method + "/" + r.Embedding + "/" + r.Dataset
		if seen[k] {
			t.Errorf("row %s twice", k)
		}
		seen[k] = true
	}
	for _, c := range []struct {
		m, e, d  string
		mean, se float64
	}{
		{"noprop-dt", "prototype", "cifar10", 80.54, 0.2},
		{"noprop-ct", "one-hot", "cifar100", 33.66, 0.5},
		{"noprop-fm", "learned", "cifar100", 31.14, 0.52},
		{"backprop-dt", "one-hot", "cifar100", 45.85, 2.07},
	} {
		r, ok := Lookup(c.m, c.e, c.d)
		if !ok || r.Mean != c.mean || r.SE != c.se {
			t.Errorf("%s %s %s: %+v, want %v ± %v", c.m, c.e, c.d, r, c.mean, c.se)
		}
	}
}
