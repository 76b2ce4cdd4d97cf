package results

import (
	"context"
	"database/sql"
	"fmt"
)

// Cell is one recorded entry of a run's accuracy matrix.
type Cell struct {
	// AfterTask is the row: 0 for the untrained model, i after training
	// task i.
	AfterTask int
	// EvalTask is the column: the task evaluated (1-based).
	EvalTask int
	// Accuracy is in percent; NaN when it was not finite (stored as NULL).
	Accuracy float64
	// Note says why the accuracy is undefined; empty otherwise.
	Note string
}

// Cells returns the cells recorded for the run, by row and column. Unlike
// Matrix it leaves out cells that were never recorded (for instance row 0
// when the untrained model was not evaluated) and keeps the notes.
func (s *Store) Cells(ctx context.Context, runID string) ([]Cell, error) {
	rows, err := s.db.QueryContext(ctx, `
SELECT after_task, eval_task, accuracy, note FROM accuracy WHERE run_id = ?
ORDER BY after_task, eval_task`, runID)
	if err != nil {
		return nil, fmt.Errorf("cells of run %s: %w", runID, err)
	}
	defer rows.Close()
	var out []Cell
	for rows.Next() {
		var c Cell
		var a sql.NullFloat64
		var note sql.NullString
		if err := rows.Scan(&c.AfterTask, &c.EvalTask, &a, &note); err != nil {
			return nil, fmt.Errorf("cells of run %s: %w", runID, err)
		}
		c.Accuracy, c.Note = orNaN(a), note.String
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cells of run %s: %w", runID, err)
	}
	return out, nil
}
