package harness

import (
	"context"
	"encoding/json"
	"math"
	"testing"

	"github.com/noprop/noprop/harness/harnesstest"
	"github.com/noprop/noprop/tasks"
)

// TestProbeFollowsEmbeddingRows: a probed NoProp-DT run with learned
// embeddings adds the embedding stage, whose value on task j after row i
// is 100 × the mean cosine of task j's rows now to those rows just after
// task j (row j+1), and to the untrained rows (row 0) for a task not
// learned yet; a task just learned scores 100, and later tasks turn the
// rows of earlier ones.
func TestProbeFollowsEmbeddingRows(t *testing.T) {
	specs, err := Sweep{Methods: []MethodChoice{{Name: "noprop-dt",
		Settings: json.RawMessage(`{"encoder":"mlp","hidden":16,"timesteps":2,"epochs":3,"iterations":0,"batch_size":16,"embedding":"learned","embed_dim":8}`)}},
		Datasets: []string{"synthetic"}, Streams: []string{tasks.KindSplit}, Tasks: 2, Scenarios: []string{"class"},
		Seeds: 1, FirstSeed: 1, InferenceRuns: 1, Probe: true}.Expand(rules, harnesstest.Classes)
	if err != nil {
		t.Fatal(err)
	}
	ev := &evals{}
	if _, err := (&Runner{Methods: rules, Load: harnesstest.Load, Observers: []RunObserver{ev}}).Run(context.Background(), specs[0]); err != nil {
		t.Fatal(err)
	}
	if len(ev.probes) != 3 {
		t.Fatalf("%d rows evaluated, want 3", len(ev.probes))
	}
	const d, perTask = 8, 2 // embedding width; classes a task
	for i, row := range ev.probes {
		last := row[len(row)-1]
		if last.Stage != EmbeddingStage || len(ev.embeds[i]) != 2*perTask*d {
			t.Fatalf("row %d: last stage %q, %d embedding values; want %q and %d", i, last.Stage, len(ev.embeds[i]), EmbeddingStage, 2*perTask*d)
		}
		for j, got := range last.Acc {
			ref := 0
			if j < i {
				ref = j + 1
			}
			outputs := make([]bool, 2*perTask)
			for c := j * perTask; c < (j+1)*perTask; c++ {
				outputs[c] = true
			}
			want := 100 * meanCosine(ev.embeds[i], ev.embeds[ref], d, outputs)
			if math.Abs(got-want) > 1e-9 || math.IsNaN(got) {
				t.Errorf("row %d, task %d: %v, want %v (measured against row %d)", i, j+1, got, want, ref)
			}
			if ref == i && got != 100 {
				t.Errorf("row %d, task %d: %v against its own rows, want 100", i, j+1, got)
			}
		}
	}
	if turned := ev.probes[2][len(ev.probes[2])-1].Acc[0]; !(turned < 99.99) {
		t.Errorf("after task 2, task 1's rows at %v: the later task left them where they were", turned)
	}
}

func TestMeanCosine(t *testing.T) {
	a := []float32{1, 0, 0, 1, 3, 4, 0, 0}
	tests := []struct {
		name    string
		b       []float32
		outputs []bool
		want    float64
	}{
		{"same rows", a, []bool{true, true, true, true}, 1},
		{"turned a quarter", []float32{0, 1, 1, 0, 3, 4, 0, 0}, []bool{true, true, false, false}, 0},
		{"reversed", []float32{-1, 0, 0, -1, 3, 4, 0, 0}, []bool{true, true, true, false}, -1.0 / 3},
		{"scaled", []float32{2, 0, 0, 5, 6, 8, 0, 0}, []bool{true, true, true, false}, 1},
		{"a zero row beside itself", []float32{9, 9, 9, 9, 9, 9, 0, 0}, []bool{false, false, false, true}, 1},
		{"a row from zero", []float32{1, 0, 0, 1, 3, 4, 1, 1}, []bool{false, false, false, true}, 0},
		{"only the outputs set", []float32{-1, 0, 0, 1, 3, 4, 0, 0}, []bool{false, true, false, false}, 1},
	}
	for _, tc := range tests {
		if got := meanCosine(a, tc.b, 2, tc.outputs); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	if got := meanCosine(a, nil, 2, []bool{true}); !math.IsNaN(got) {
		t.Errorf("no reference rows: %v, want NaN", got)
	}
	if got := meanCosine(a, a, 2, make([]bool, 4)); !math.IsNaN(got) {
		t.Errorf("no outputs: %v, want NaN", got)
	}
}
