package results

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
)

// Epoch is one line of a task's training log.
type Epoch struct {
	// Task is the task being trained (1-based); RecordEval fills it with its
	// afterTask when 0.
	Task int
	// Epoch is the epoch number within the task.
	Epoch int
	// Part names the part of the model that was trained, e.g. "block 3" for
	// NoProp's per-block training; empty when the whole model is trained.
	Part string
	// Loss is the mean training loss; a non-finite loss (diverged training)
	// is stored as NULL and read back as NaN.
	Loss float64
	// TrainAcc is the training accuracy in percent; NaN when not measured.
	TrainAcc float64
	// TestAcc is the accuracy in percent on the test set of the task being
	// trained, measured after this line when the run asked for a learning
	// curve; NaN otherwise.
	TestAcc float64
	// ValAcc is TestAcc on the task's validation set, for a learning curve
	// that scores it; NaN otherwise.
	ValAcc float64
	// Seconds is the wall time of the epoch.
	Seconds float64
	// Examples is the number of training examples seen in the epoch.
	Examples int64
	// Terms are the rule's named terms averaged over the epoch (what its
	// loss is made of, a learned schedule's state), in the rule's order;
	// a non-finite value is stored as null and read back as NaN.
	Terms []Term
}

// Term is one named value of a training log line.
type Term struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
}

// encodeTerms is the stored form of terms: a JSON array of {name, value},
// null for a non-finite value; "" (stored as NULL) for none.
func encodeTerms(terms []Term) (any, error) {
	if len(terms) == 0 {
		return nil, nil
	}
	type stored struct {
		Name  string   `json:"name"`
		Value *float64 `json:"value"`
	}
	out := make([]stored, len(terms))
	for i, t := range terms {
		out[i].Name = t.Name
		if v := t.Value; !math.IsNaN(v) && !math.IsInf(v, 0) {
			out[i].Value = &v
		}
	}
	b, err := json.Marshal(out)
	return string(b), err
}

// decodeTerms reads what encodeTerms wrote.
func decodeTerms(s string) ([]Term, error) {
	var in []struct {
		Name  string   `json:"name"`
		Value *float64 `json:"value"`
	}
	if err := json.Unmarshal([]byte(s), &in); err != nil {
		return nil, err
	}
	out := make([]Term, len(in))
	for i, t := range in {
		out[i] = Term{Name: t.Name, Value: math.NaN()}
		if t.Value != nil {
			out[i].Value = *t.Value
		}
	}
	return out, nil
}

// insertEpochs stores the training log of the task evaluated after task
// afterTask, in its transaction.
func insertEpochs(ctx context.Context, tx *sql.Tx, runID string, afterTask int, epochs []Epoch) error {
	for i, e := range epochs {
		task := e.Task
		if task == 0 {
			task = afterTask
		}
		loss, _ := finiteOrNull(e.Loss, "")
		trainAcc, _ := finiteOrNull(e.TrainAcc, "")
		secs, _ := finiteOrNull(e.Seconds, "")
		testAcc, _ := finiteOrNull(e.TestAcc, "")
		valAcc, _ := finiteOrNull(e.ValAcc, "")
		terms, err := encodeTerms(e.Terms)
		if err != nil {
			return fmt.Errorf("epoch log line %d (task %d, epoch %d): terms: %w", i, task, e.Epoch, err)
		}
		if _, err := tx.ExecContext(ctx, `
INSERT INTO epochs (run_id, task, line, epoch, part, loss, train_acc, seconds, examples, test_acc, terms, val_acc)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			runID, task, i, e.Epoch, e.Part, loss, trainAcc, secs, e.Examples, testAcc, terms, valAcc); err != nil {
			return fmt.Errorf("epoch log line %d (task %d, epoch %d): %w", i, task, e.Epoch, err)
		}
	}
	return nil
}

// Epochs returns the run's training log in the order it was recorded (by
// task, then line). NULL values read back as NaN.
func (s *Store) Epochs(ctx context.Context, runID string) ([]Epoch, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT "+selectList(epochTable[1:], s.version)+
		" FROM epochs WHERE run_id = ? ORDER BY task, line", runID)
	if err != nil {
		return nil, fmt.Errorf("epochs of run %s: %w", runID, err)
	}
	defer rows.Close()
	var out []Epoch
	for rows.Next() {
		var e Epoch
		var loss, trainAcc, secs, testAcc, valAcc sql.NullFloat64
		var examples sql.NullInt64
		var terms sql.NullString
		var line int
		if err := rows.Scan(&e.Task, &line, &e.Epoch, &e.Part, &loss, &trainAcc, &secs, &examples, &testAcc, &terms, &valAcc); err != nil {
			return nil, fmt.Errorf("epochs of run %s: %w", runID, err)
		}
		if terms.Valid {
			var err error
			if e.Terms, err = decodeTerms(terms.String); err != nil {
				return nil, fmt.Errorf("epochs of run %s, task %d line %d: terms: %w", runID, e.Task, line, err)
			}
		}
		e.Loss, e.TrainAcc, e.Seconds, e.TestAcc, e.ValAcc = orNaN(loss), orNaN(trainAcc), orNaN(secs), orNaN(testAcc), orNaN(valAcc)
		e.Examples = examples.Int64
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("epochs of run %s: %w", runID, err)
	}
	return out, nil
}

// Recorded is what a run's stored rows account for, in seconds: its
// training log's (Training) and the scoring of its accuracy cells
// (Scoring).
type Recorded struct{ Training, Scoring float64 }

// Total is the run's recorded seconds.
func (r Recorded) Total() float64 { return r.Training + r.Scoring }

// RecordedSeconds returns what the stored rows of each run with any
// account for. A run resumed from a checkpoint keeps the rows of the tasks
// it learned before, so this counts its earlier sittings, which its
// started_at (when the last one began) does not.
func (s *Store) RecordedSeconds(ctx context.Context) (map[string]Recorded, error) {
	q := "SELECT run_id, SUM(seconds), 0 FROM epochs GROUP BY run_id"
	if s.version >= versionSeconds {
		q = `SELECT run_id, SUM(t), SUM(c) FROM (
	SELECT run_id, seconds AS t, 0 AS c FROM epochs UNION ALL SELECT run_id, 0, seconds FROM accuracy
) GROUP BY run_id`
	}
	rows, err := s.db.QueryContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("read recorded seconds: %w", err)
	}
	defer rows.Close()
	out := map[string]Recorded{}
	for rows.Next() {
		var id string
		var train, score sql.NullFloat64
		if err := rows.Scan(&id, &train, &score); err != nil {
			return nil, fmt.Errorf("read recorded seconds: %w", err)
		}
		out[id] = Recorded{Training: train.Float64, Scoring: score.Float64}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read recorded seconds: %w", err)
	}
	return out, nil
}
