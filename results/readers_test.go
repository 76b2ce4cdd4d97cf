package results

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadersDoNotTrustStoredSizes: a run row edited to claim 2·10⁹ tasks
// makes Matrix and InferenceMatrices refuse in one line instead of
// allocating a matrix of that size.
func TestReadersDoNotTrustStoredSizes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "results.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	id := completeRun(t, s, testRun("m", "h", 1, 2), fakeMatrix(2, 0), nil, Memory{})
	ctx := context.Background()
	for _, n := range []int{2_000_000_000, 1001} {
		if _, err := s.db.ExecContext(ctx, "UPDATE runs SET num_tasks = ? WHERE id = ?", n, id); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Matrix(ctx, id); err == nil || !strings.Contains(err.Error(), "damaged or edited") {
			t.Errorf("num_tasks %d: Matrix error %v, want the row called damaged", n, err)
		}
		if _, err := s.InferenceMatrices(ctx, id); err == nil || !strings.Contains(err.Error(), "damaged or edited") {
			t.Errorf("num_tasks %d: InferenceMatrices error %v, want the row called damaged", n, err)
		}
	}
	if _, err := s.db.ExecContext(ctx, "UPDATE runs SET num_tasks = 2 WHERE id = ?", id); err != nil {
		t.Fatal(err)
	}
	if m, err := s.Matrix(ctx, id); err != nil || len(m) != 3 {
		t.Errorf("the true size: %v, %v", m, err)
	}
}

// TestReadersDoNotTrustStoredInferenceRuns: an inference run numbered 2·10⁹
// is refused rather than allocated up to.
func TestReadersDoNotTrustStoredInferenceRuns(t *testing.T) {
	s, id := storeWithRunning(t, filepath.Join(t.TempDir(), "results.db"), 1)
	ctx := context.Background()
	for i := range 2 {
		if err := s.RecordEval(ctx, id, i, EvalRow{Acc: []float64{50}, Inference: [][]float64{{40}, {60}}}); err != nil {
			t.Fatal(err)
		}
	}
	if ms, err := s.InferenceMatrices(ctx, id); err != nil || len(ms) != 2 {
		t.Fatalf("%d matrices, %v: want 2", len(ms), err)
	}
	if _, err := s.db.ExecContext(ctx, "UPDATE inference_accuracy SET inference_run = 2000000000 WHERE inference_run = 2"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.InferenceMatrices(ctx, id); err == nil || !strings.Contains(err.Error(), "outside") {
		t.Errorf("error %v, want the stored number refused", err)
	}
}
