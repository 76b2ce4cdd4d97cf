package results

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"sort"

	"github.com/noprop/noprop/results/metrics"
)

// ImportedRun is a run as its export holds it (package export reads it
// back): the runs row and the rows of every table that refers to it.
type ImportedRun struct {
	Run   Run
	Cells []Cell
	// Inference is each inference run's accuracy per cell.
	Inference []InferenceCell
	// Epochs are the training log, each line's Task set, in order.
	Epochs  []Epoch
	Metrics []metrics.Metric
	Probe   []ProbeCell
}

// InferenceCell is one inference run's accuracy in one cell.
type InferenceCell struct {
	AfterTask, EvalTask, Run int
	Accuracy                 float64
}

// ImportRun stores a run read back from an export as it was, its ID,
// times, status and memory and every row, in one transaction, so that
// tables and figures drawn from the database are those of the database it
// was exported from. A run of that ID already here is refused.
func (s *Store) ImportRun(ctx context.Context, ir ImportedRun) error {
	r := ir.Run
	if err := validateRun(r); err != nil {
		return fmt.Errorf("import run %s: %w", r.ID, err)
	}
	if r.ID == "" || r.Started.IsZero() {
		return fmt.Errorf("import run of %s: no run ID or start time", r.label())
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM runs WHERE id = ?", r.ID).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("the database already holds run %s: import into a new database", r.ID)
		}
		var ended any
		if !r.Ended.IsZero() {
			ended = formatTime(r.Ended)
		}
		if _, err := tx.ExecContext(ctx, `
INSERT INTO runs (id, spec_json, config_hash, method, stream, scenario, seed, program_version, host,
	choices_json, status, error, started_at, ended_at, num_tasks, peak_heap_bytes, peak_rss_bytes, kernels)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			r.ID, r.SpecJSON, r.ConfigHash, r.Method, r.Stream, r.Scenario, seedValue(r.Seed), r.ProgramVersion, r.Host,
			nullString(r.ChoicesJSON), string(r.Status), nullString(r.Error), formatTime(r.Started), ended, r.NumTasks,
			positiveOrNull(r.PeakHeapBytes), positiveOrNull(r.PeakRSSBytes), r.Kernels); err != nil {
			return err
		}
		for _, c := range ir.Cells {
			if _, err := tx.ExecContext(ctx,
				"INSERT INTO accuracy (run_id, after_task, eval_task, accuracy, note, seconds, val_accuracy) VALUES (?, ?, ?, ?, ?, ?, ?)",
				r.ID, c.AfterTask, c.EvalTask, orNull(c.Accuracy), nullString(c.Note), orNull(c.Seconds), orNull(c.ValAccuracy)); err != nil {
				return fmt.Errorf("cell (%d, %d): %w", c.AfterTask, c.EvalTask, err)
			}
		}
		for _, c := range ir.Inference {
			if _, err := tx.ExecContext(ctx,
				"INSERT INTO inference_accuracy (run_id, after_task, eval_task, inference_run, accuracy) VALUES (?, ?, ?, ?, ?)",
				r.ID, c.AfterTask, c.EvalTask, c.Run, orNull(c.Accuracy)); err != nil {
				return fmt.Errorf("inference run %d, cell (%d, %d): %w", c.Run, c.AfterTask, c.EvalTask, err)
			}
		}
		for _, c := range ir.Probe {
			if _, err := tx.ExecContext(ctx,
				"INSERT INTO probe_accuracy (run_id, after_task, eval_task, stage, accuracy) VALUES (?, ?, ?, ?, ?)",
				r.ID, c.AfterTask, c.EvalTask, c.Stage, orNull(c.Accuracy)); err != nil {
				return fmt.Errorf("probe stage %q, cell (%d, %d): %w", c.Stage, c.AfterTask, c.EvalTask, err)
			}
		}
		for _, task := range epochTasks(ir.Epochs) {
			if err := insertEpochs(ctx, tx, r.ID, task.task, task.lines); err != nil {
				return err
			}
		}
		for _, m := range ir.Metrics {
			if _, err := tx.ExecContext(ctx, "INSERT INTO metrics (run_id, name, value, note) VALUES (?, ?, ?, ?)",
				r.ID, m.Name, orNull(m.Value), nullString(m.Note)); err != nil {
				return fmt.Errorf("metric %q: %w", m.Name, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("import run %s: %w", r.ID, err)
	}
	return nil
}

// taskLines are the training-log lines of one task, in order.
type taskLines struct {
	task  int
	lines []Epoch
}

// epochTasks groups a run's log by task, in task order, keeping each
// task's lines in their order.
func epochTasks(es []Epoch) []taskLines {
	by := map[int][]Epoch{}
	for _, e := range es {
		by[e.Task] = append(by[e.Task], e)
	}
	out := make([]taskLines, 0, len(by))
	for task, lines := range by {
		out = append(out, taskLines{task, lines})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].task < out[j].task })
	return out
}

// orNull is x, or NULL when it is not finite (what an export leaves
// empty).
func orNull(x float64) any {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return nil
	}
	return x
}
