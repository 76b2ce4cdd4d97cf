package results

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"runtime/debug"
	"time"

	"github.com/noprop/noprop/results/metrics"
)

// ErrNotFound is returned (wrapped) when a run or a configuration is not in
// the database.
var ErrNotFound = errors.New("not found")

// Status is the state of a run.
type Status string

// The states of a run. A run starts as StatusRunning and ends in one of the
// other three; a run that has ended is never changed again.
const (
	StatusRunning     Status = "running"
	StatusDone        Status = "done"
	StatusFailed      Status = "failed"
	StatusInterrupted Status = "interrupted"
)

// Run is one row of the runs table: one training run of one method on one
// stream, scenario and seed.
type Run struct {
	// ID is a random 128-bit hex string; StartRun generates it when empty.
	ID string
	// SpecJSON is the full run spec as JSON (required).
	SpecJSON string
	// ConfigHash identifies the spec without its seed; runs that differ only
	// in the seed share it, and Summaries groups by it (required).
	ConfigHash string
	// Method, Stream and Scenario name what was run (required), e.g.
	// "noprop", "split-mnist", "class-il".
	Method, Stream, Scenario string
	// Seed is the run's seed. Column runs.seed holds its 64 bits as
	// SQLite's signed INTEGER (the seed itself below 2^63, the seed minus
	// 2^64 from there on) and runs.seed_text its exact decimal.
	Seed uint64
	// ProgramVersion identifies the code (commit); StartRun fills it from
	// the build info when empty (see DefaultProgramVersion).
	ProgramVersion string
	// Host is the machine; StartRun fills it from os.Hostname when empty.
	Host string
	// Kernels names the kernels the run computed with (nn.Kernels), which
	// decide its last bits; empty for runs stored before it was recorded.
	Kernels string
	// ChoicesJSON records the stream's random choices (class order,
	// permutation seeds) as JSON; it may be empty.
	ChoicesJSON string
	// NumTasks is T, the number of tasks of the stream (at least 1).
	NumTasks int
	// Status is the run's state; StartRun ignores it and writes
	// StatusRunning.
	Status Status
	// Error is the message of a failed or interrupted run.
	Error string
	// Started is when the run started; StartRun uses the current time when
	// it is zero. Ended is zero while the run is running.
	Started, Ended time.Time
	// PeakHeapBytes and PeakRSSBytes are the run's peak memory, recorded by
	// FinishRun; 0 when not measured.
	PeakHeapBytes, PeakRSSBytes int64
	// Generation is the unit's rerun generation the run was started for
	// (see Store.RequestRerun); 0 until a rerun is requested.
	Generation int
	// Owner is the process that runs it on Host. StartRun and Claim fill it
	// in for the current process; Owner.Token is set only for a claim.
	Owner Owner
	// Heartbeat is the claim's last heartbeat (see Store.Heartbeat); zero
	// for a run started without a claim.
	Heartbeat time.Time
}

// Memory is a run's peak memory use. A value of 0 (or less) means not
// measured and is stored as NULL.
type Memory struct {
	PeakHeapBytes int64
	PeakRSSBytes  int64
}

// timeLayout is RFC 3339 in UTC with fixed-width milliseconds, so that the
// stored text sorts in time order.
const timeLayout = "2006-01-02T15:04:05.000Z07:00"

func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

func parseTime(s string) (time.Time, error) { return time.Parse(time.RFC3339, s) }

// NewID returns a random 128-bit run ID as 32 hex digits.
func NewID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("new run id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// DefaultProgramVersion describes the running binary from its build info:
// the VCS revision (with "+dirty" when the tree had changes) if it was built
// with VCS stamping, else the main module's version, else "unknown".
func DefaultProgramVersion() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	var rev string
	dirty := false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	switch {
	case rev != "" && dirty:
		return rev + "+dirty"
	case rev != "":
		return rev
	case info.Main.Version != "" && info.Main.Version != "(devel)":
		return info.Main.Version
	}
	return "unknown"
}

// StartRun inserts r with status running and returns its ID, which is r.ID or
// a new random ID when r.ID is empty. It records the current process as the
// run's owner but claims nothing: another process may start the same
// configuration and seed at the same time. Batch runners use Claim.
func (s *Store) StartRun(ctx context.Context, r Run) (string, error) {
	r, err := newRun(r)
	if err != nil {
		return "", fmt.Errorf("start run: %w", err)
	}
	r.Owner.Token = ""
	if err := s.inTx(ctx, func(tx *sql.Tx) error { return insertRun(ctx, tx, r) }); err != nil {
		return "", fmt.Errorf("start run %s: %w", r.label(), err)
	}
	return r.ID, nil
}

// newRun validates r and fills in what StartRun and Claim default: ID,
// start time, host, program version and owner.
func newRun(r Run) (Run, error) {
	if err := validateRun(r); err != nil {
		return r, err
	}
	if r.ID == "" {
		id, err := NewID()
		if err != nil {
			return r, err
		}
		r.ID = id
	}
	if r.Started.IsZero() {
		r.Started = time.Now()
	}
	if r.Host == "" {
		if h, err := os.Hostname(); err == nil {
			r.Host = h
		}
	}
	if r.ProgramVersion == "" {
		r.ProgramVersion = DefaultProgramVersion()
	}
	if r.Owner.PID == 0 {
		me, err := CurrentOwner()
		if err != nil {
			return r, err
		}
		r.Owner.PID, r.Owner.Start = me.PID, me.Start
	}
	return r, nil
}

// insertRun inserts r as running. A run with an owner token is a claim, and
// the index runs_one_claim refuses a second running claim of its unit.
func insertRun(ctx context.Context, tx *sql.Tx, r Run) error {
	var heartbeat any
	if !r.Heartbeat.IsZero() {
		heartbeat = formatTime(r.Heartbeat)
	}
	_, err := tx.ExecContext(ctx, `
INSERT INTO runs (id, spec_json, config_hash, method, stream, scenario, seed,
	program_version, host, choices_json, status, started_at, num_tasks,
	generation, owner_pid, owner_start, owner_token, heartbeat_at, kernels)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.ID, r.SpecJSON, r.ConfigHash, r.Method, r.Stream, r.Scenario, seedValue(r.Seed),
		r.ProgramVersion, r.Host, nullString(r.ChoicesJSON), string(StatusRunning),
		formatTime(r.Started), r.NumTasks,
		r.Generation, positiveOrNull(int64(r.Owner.PID)), nullString(r.Owner.Start),
		nullString(r.Owner.Token), heartbeat, r.Kernels)
	return err
}

// label names a run in messages.
func (r Run) label() string {
	return fmt.Sprintf("%s (%s, %s, %s, seed %d)", r.ID, r.Method, r.Stream, r.Scenario, r.Seed)
}

// seedValue is how a seed is stored: its 64 bits as SQLite's signed
// INTEGER. Every seed has its own value, so equality and the unique index
// of claims are exact; seed_text holds the decimal.
func seedValue(seed uint64) int64 { return int64(seed) }

func validateRun(r Run) error {
	switch {
	case r.Method == "":
		return errors.New("empty method")
	case r.Stream == "":
		return errors.New("empty stream")
	case r.Scenario == "":
		return errors.New("empty scenario")
	case r.ConfigHash == "":
		return errors.New("empty config hash")
	case r.NumTasks < 1:
		return fmt.Errorf("number of tasks %d, want at least 1", r.NumTasks)
	case !json.Valid([]byte(r.SpecJSON)):
		return errors.New("spec is not valid JSON")
	case r.ChoicesJSON != "" && !json.Valid([]byte(r.ChoicesJSON)):
		return errors.New("random choices are not valid JSON")
	}
	return nil
}

// EvalRow is one evaluated unit of a run: a row of its accuracy matrix and
// the training log of the task learned just before.
type EvalRow struct {
	// Acc[j-1] is the accuracy in percent on task j: for a rule with
	// stochastic inference, the mean over its inference runs.
	Acc []float64
	// Inference holds, for a rule with stochastic inference, each
	// inference run's accuracies (K rows of one entry per task), so the
	// spread between inference runs is kept; nil when inference is
	// deterministic (one run).
	Inference [][]float64
	// Epochs are the training log lines of the task.
	Epochs []Epoch
	// Seconds[j-1] is the wall time of scoring task j, every inference
	// run; nil when not measured.
	Seconds []float64
	// Val[j-1] is the accuracy in percent on task j's validation set
	// (held out of its training data); nil when the run holds none out.
	Val []float64
	// Probe is each stage's accuracy on every task (a run with the
	// probe); nil otherwise.
	Probe []StageAccuracy
}

// RecordEval stores, in one transaction, the accuracy matrix row afterTask
// (0 for the untrained model, 1..T after training task afterTask), with
// row.Acc[j-1] the accuracy in percent on task j, every inference run's
// accuracies and the training log lines of that task. A non-finite accuracy
// is stored as NULL with a note.
//
// The run must be running, Acc (and every inference run) must have one
// entry per task and the row must not be recorded yet: stored rows are never
// overwritten.
func (s *Store) RecordEval(ctx context.Context, runID string, afterTask int, row EvalRow) error {
	acc, epochs := row.Acc, row.Epochs
	for k, r := range append([][]float64{acc, row.Val}, row.Inference...) {
		for j, a := range r {
			if isFinite(a) && (a < 0 || a > 100) {
				what := ""
				switch {
				case k == 1:
					what = " (validation)"
				case k > 1:
					what = fmt.Sprintf(" (inference run %d)", k-1)
				}
				return fmt.Errorf("record eval of run %s after task %d: accuracy on task %d%s is %g, want percent in [0, 100]",
					runID, afterTask, j+1, what, a)
			}
		}
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		numTasks, err := runningRun(ctx, tx, runID)
		if err != nil {
			return err
		}
		if afterTask < 0 || afterTask > numTasks {
			return fmt.Errorf("after task %d out of range 0..%d", afterTask, numTasks)
		}
		if len(acc) != numTasks {
			return fmt.Errorf("%d accuracies for %d tasks", len(acc), numTasks)
		}
		var n int
		if err := tx.QueryRowContext(ctx,
			"SELECT count(*) FROM accuracy WHERE run_id = ? AND after_task = ?", runID, afterTask).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return errors.New("already recorded; stored results are not overwritten")
		}
		if row.Seconds != nil && len(row.Seconds) != numTasks {
			return fmt.Errorf("%d scoring times for %d tasks", len(row.Seconds), numTasks)
		}
		if row.Val != nil && len(row.Val) != numTasks {
			return fmt.Errorf("%d validation accuracies for %d tasks", len(row.Val), numTasks)
		}
		for j, a := range acc {
			v, note := finiteOrNull(a, "")
			var secs, val any
			if row.Seconds != nil {
				secs, _ = finiteOrNull(row.Seconds[j], "")
			}
			if row.Val != nil {
				val, _ = finiteOrNull(row.Val[j], "")
			}
			if _, err := tx.ExecContext(ctx,
				"INSERT INTO accuracy (run_id, after_task, eval_task, accuracy, note, seconds, val_accuracy) VALUES (?, ?, ?, ?, ?, ?, ?)",
				runID, afterTask, j+1, v, note, secs, val); err != nil {
				return fmt.Errorf("accuracy on task %d: %w", j+1, err)
			}
		}
		if err := insertInference(ctx, tx, runID, afterTask, numTasks, row.Inference); err != nil {
			return err
		}
		if err := insertProbe(ctx, tx, runID, afterTask, numTasks, row.Probe); err != nil {
			return err
		}
		return insertEpochs(ctx, tx, runID, afterTask, epochs)
	})
	if err != nil {
		return fmt.Errorf("record eval of run %s after task %d: %w", runID, afterTask, err)
	}
	return nil
}

// insertInference stores each inference run's accuracies of one row.
func insertInference(ctx context.Context, tx *sql.Tx, runID string, afterTask, numTasks int, runs [][]float64) error {
	for k, r := range runs {
		if len(r) != numTasks {
			return fmt.Errorf("inference run %d: %d accuracies for %d tasks", k+1, len(r), numTasks)
		}
		for j, a := range r {
			v, _ := finiteOrNull(a, "")
			if _, err := tx.ExecContext(ctx, `
INSERT INTO inference_accuracy (run_id, after_task, eval_task, inference_run, accuracy) VALUES (?, ?, ?, ?, ?)`,
				runID, afterTask, j+1, k+1, v); err != nil {
				return fmt.Errorf("inference run %d, accuracy on task %d: %w", k+1, j+1, err)
			}
		}
	}
	return nil
}

// FinishRun stores, in one transaction, the run's metrics and peak memory and
// marks it done with the current time as its end. The run must be running
// and its accuracy rows after tasks 1..T must all be recorded (row 0, the
// untrained model, is optional). A metric's NaN or infinite value is
// stored as NULL with its note (one naming the value when the note is
// empty). For a claimed run this ends the claim: its unit is done.
func (s *Store) FinishRun(ctx context.Context, runID string, ms []metrics.Metric, mem Memory) error {
	seen := make(map[string]bool, len(ms))
	for _, m := range ms {
		if m.Name == "" {
			return fmt.Errorf("finish run %s: metric with empty name", runID)
		}
		if seen[m.Name] {
			return fmt.Errorf("finish run %s: metric %q given twice", runID, m.Name)
		}
		seen[m.Name] = true
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		numTasks, err := runningRun(ctx, tx, runID)
		if err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `
SELECT after_task, count(*) FROM accuracy WHERE run_id = ? AND after_task >= 1 GROUP BY after_task`, runID)
		if err != nil {
			return err
		}
		have := map[int]int{}
		for rows.Next() {
			var after, n int
			if err := rows.Scan(&after, &n); err != nil {
				rows.Close()
				return err
			}
			have[after] = n
		}
		if err := rows.Close(); err != nil {
			return err
		}
		for i := 1; i <= numTasks; i++ {
			if have[i] != numTasks {
				return fmt.Errorf("accuracy after task %d not recorded", i)
			}
		}
		for _, m := range ms {
			v, note := finiteOrNull(m.Value, m.Note)
			if _, err := tx.ExecContext(ctx,
				"INSERT INTO metrics (run_id, name, value, note) VALUES (?, ?, ?, ?)",
				runID, m.Name, v, note); err != nil {
				return fmt.Errorf("metric %q: %w", m.Name, err)
			}
		}
		_, err = tx.ExecContext(ctx, `
UPDATE runs SET status = ?, ended_at = ?, peak_heap_bytes = ?, peak_rss_bytes = ? WHERE id = ?`,
			string(StatusDone), formatTime(time.Now()), positiveOrNull(mem.PeakHeapBytes),
			positiveOrNull(mem.PeakRSSBytes), runID)
		return err
	})
	if err != nil {
		return fmt.Errorf("finish run %s: %w", runID, err)
	}
	return nil
}

// FailRun marks a running run as failed or interrupted (status must be
// StatusFailed or StatusInterrupted) with the message msg and the current
// time as its end. What the run recorded so far is kept. For a claimed run
// this ends the claim: the run stays, and its unit may be claimed again. When recording an
// interruption, pass a context that is not cancelled (for instance
// context.WithoutCancel(ctx)): a cancelled context aborts the write.
func (s *Store) FailRun(ctx context.Context, runID string, status Status, msg string) error {
	if status != StatusFailed && status != StatusInterrupted {
		return fmt.Errorf("fail run %s: status %q, want %q or %q", runID, status, StatusFailed, StatusInterrupted)
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := runningRun(ctx, tx, runID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, "UPDATE runs SET status = ?, error = ?, ended_at = ? WHERE id = ?",
			string(status), msg, formatTime(time.Now()), runID)
		return err
	})
	if err != nil {
		return fmt.Errorf("fail run %s: %w", runID, err)
	}
	return nil
}

// runningRun returns the number of tasks of a run that is running, and an
// error if the run does not exist or has ended.
func runningRun(ctx context.Context, tx *sql.Tx, runID string) (numTasks int, err error) {
	var status string
	err = tx.QueryRowContext(ctx, "SELECT num_tasks, status FROM runs WHERE id = ?", runID).Scan(&numTasks, &status)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("run %w (a claimed run is deleted when another process takes over its stale claim)", ErrNotFound)
	}
	if err != nil {
		return 0, err
	}
	if Status(status) != StatusRunning {
		return 0, fmt.Errorf("run has status %s; an ended run is not changed", status)
	}
	return numTasks, nil
}

func isFinite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// finiteOrNull maps a non-finite x to NULL and, when note is empty, a note
// naming the value.
func finiteOrNull(x float64, note string) (value any, noteOut any) {
	if isFinite(x) {
		return x, nullString(note)
	}
	if note == "" {
		note = fmt.Sprintf("not finite (%v)", x)
	}
	return nil, note
}

func positiveOrNull(x int64) any {
	if x <= 0 {
		return nil
	}
	return x
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}
