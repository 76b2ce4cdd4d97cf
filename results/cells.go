package results

import (
	"context"
	"database/sql"
	"errors"
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
	// Seconds is the wall time of scoring the cell (every inference run);
	// NaN when not measured.
	Seconds float64
	// ValAccuracy is the accuracy in percent on the task's validation set;
	// NaN when the run held none out.
	ValAccuracy float64
}

// Cells returns the cells recorded for the run, by row and column. Unlike
// Matrix it leaves out cells that were never recorded (for instance row 0
// when the untrained model was not evaluated) and keeps the notes.
func (s *Store) Cells(ctx context.Context, runID string) ([]Cell, error) {
	secs, val := "seconds", "val_accuracy"
	if s.version < versionSeconds {
		secs = "NULL"
	}
	if s.version < versionValAcc {
		val = "NULL"
	}
	rows, err := s.db.QueryContext(ctx, `
SELECT after_task, eval_task, accuracy, note, `+secs+`, `+val+` FROM accuracy WHERE run_id = ?
ORDER BY after_task, eval_task`, runID)
	if err != nil {
		return nil, fmt.Errorf("cells of run %s: %w", runID, err)
	}
	defer rows.Close()
	var out []Cell
	for rows.Next() {
		var c Cell
		var a, sec, val sql.NullFloat64
		var note sql.NullString
		if err := rows.Scan(&c.AfterTask, &c.EvalTask, &a, &note, &sec, &val); err != nil {
			return nil, fmt.Errorf("cells of run %s: %w", runID, err)
		}
		c.Accuracy, c.Note, c.Seconds, c.ValAccuracy = orNaN(a), note.String, orNaN(sec), orNaN(val)
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cells of run %s: %w", runID, err)
	}
	return out, nil
}

// CellStats returns the cell-by-cell mean and standard error of accuracy
// matrices of one shape (NewStat over the matrices where the cell is
// defined: the mean is NaN where no matrix defines the cell, the standard
// error NaN where fewer than 2 do).
func CellStats(ms [][][]float64) (mean, se [][]float64, err error) {
	if len(ms) == 0 {
		return nil, nil, errors.New("cell statistics of no matrices")
	}
	mean, se = make([][]float64, len(ms[0])), make([][]float64, len(ms[0]))
	for i, row := range ms[0] {
		mean[i], se[i] = make([]float64, len(row)), make([]float64, len(row))
		for j := range row {
			xs := make([]float64, len(ms))
			for k, m := range ms {
				if len(m) != len(ms[0]) || len(m[i]) != len(row) {
					return nil, nil, fmt.Errorf("cell statistics: matrix %d is %dx%d, matrix 0 is %dx%d",
						k, len(m), len(m[i]), len(ms[0]), len(row))
				}
				xs[k] = m[i][j]
			}
			st := NewStat(xs, nil)
			mean[i][j], se[i][j] = st.Mean, st.SE
		}
	}
	return mean, se, nil
}

// meanOfRuns reads the accuracy matrices of the runs and returns their
// cell statistics and the matrices, in the order of ids.
func (s *Store) meanOfRuns(ctx context.Context, ids []string) (mean, se [][]float64, ms [][][]float64, err error) {
	for _, id := range ids {
		m, err := s.Matrix(ctx, id)
		if err != nil {
			return nil, nil, nil, err
		}
		if len(ms) > 0 && len(m) != len(ms[0]) {
			return nil, nil, nil, fmt.Errorf("run %s has %d tasks, run %s has %d", id, len(m)-1, ids[0], len(ms[0])-1)
		}
		ms = append(ms, m)
	}
	mean, se, err = CellStats(ms)
	return mean, se, ms, err
}

// SummaryMatrix returns the mean and standard error of the accuracy
// matrices of exactly the runs sum aggregates (sum.RunIDs), and those
// matrices in the same order, so that a filtered table and its matrices
// always describe the same seeds.
func (s *Store) SummaryMatrix(ctx context.Context, sum Summary) (mean, se [][]float64, matrices [][][]float64, err error) {
	mean, se, matrices, err = s.meanOfRuns(ctx, sum.RunIDs)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("mean matrix of %s on %s, %s (config %s): %w",
			sum.Method, sum.Stream, sum.Scenario, sum.ConfigHash, err)
	}
	return mean, se, matrices, nil
}
