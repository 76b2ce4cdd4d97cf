package results

import (
	"context"
	"database/sql"
	"fmt"
)

// StageAccuracy is one stage of a model probed after a task: its accuracy
// in percent on every task, Acc[j-1] on task j.
type StageAccuracy struct {
	Stage string
	Acc   []float64
}

// insertProbe stores each stage's accuracies of one row.
func insertProbe(ctx context.Context, tx *sql.Tx, runID string, afterTask, numTasks int, stages []StageAccuracy) error {
	for _, st := range stages {
		if len(st.Acc) != numTasks || st.Stage == "" {
			return fmt.Errorf("probe stage %q: %d accuracies for %d tasks", st.Stage, len(st.Acc), numTasks)
		}
		for j, a := range st.Acc {
			if isFinite(a) && (a < 0 || a > 100) {
				return fmt.Errorf("probe stage %q: accuracy on task %d is %g, want percent in [0, 100]", st.Stage, j+1, a)
			}
			v, _ := finiteOrNull(a, "")
			if _, err := tx.ExecContext(ctx, `
INSERT INTO probe_accuracy (run_id, after_task, eval_task, stage, accuracy) VALUES (?, ?, ?, ?, ?)`,
				runID, afterTask, j+1, st.Stage, v); err != nil {
				return fmt.Errorf("probe stage %q, accuracy on task %d: %w", st.Stage, j+1, err)
			}
		}
	}
	return nil
}

// ProbeCell is one stage's accuracy on one task after one task (a run
// made with the probe).
type ProbeCell struct {
	// AfterTask is the row: 0 for the untrained model, i after task i.
	AfterTask int
	// EvalTask is the task scored (1-based).
	EvalTask int
	// Stage is the stage as the learner names it.
	Stage string
	// Accuracy is in percent; NaN when it was not finite.
	Accuracy float64
}

// Probe returns the run's probe in the order it was recorded: by row,
// task, then stage in the learner's order. A run without the probe, or a
// database from before it, has none.
func (s *Store) Probe(ctx context.Context, runID string) ([]ProbeCell, error) {
	if s.version < versionProbe {
		return nil, nil
	}
	rows, err := s.db.QueryContext(ctx, `
SELECT after_task, eval_task, stage, accuracy FROM probe_accuracy WHERE run_id = ?
ORDER BY after_task, eval_task, rowid`, runID)
	if err != nil {
		return nil, fmt.Errorf("probe of run %s: %w", runID, err)
	}
	defer rows.Close()
	var out []ProbeCell
	for rows.Next() {
		var c ProbeCell
		var a sql.NullFloat64
		if err := rows.Scan(&c.AfterTask, &c.EvalTask, &c.Stage, &a); err != nil {
			return nil, fmt.Errorf("probe of run %s: %w", runID, err)
		}
		c.Accuracy = orNaN(a)
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("probe of run %s: %w", runID, err)
	}
	return out, nil
}
