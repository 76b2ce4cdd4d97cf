package results

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/noprop/noprop/results/metrics"
)

// column is a stored column of a table: the schema version that added it,
// and the value it reads as in an older database.
type column struct {
	name   string
	since  int
	absent string
}

// runTable lists the stored columns of runs in the order scanRun reads
// them, with the schema version that added each and the value it reads as
// in an older database.
var runTable = []column{
	{"id", 1, ""}, {"spec_json", 1, ""}, {"config_hash", 1, ""}, {"method", 1, ""}, {"stream", 1, ""},
	{"scenario", 1, ""}, {"seed", 1, ""}, {"program_version", 1, ""}, {"host", 1, ""},
	{"choices_json", 1, ""}, {"status", 1, ""}, {"error", 1, ""}, {"started_at", 1, ""},
	{"ended_at", 1, ""}, {"num_tasks", 1, ""}, {"peak_heap_bytes", 1, ""}, {"peak_rss_bytes", 1, ""},
	{"generation", versionOwners, "0"}, {"owner_pid", versionOwners, "NULL"},
	{"owner_start", versionOwners, "NULL"}, {"owner_token", versionOwners, "NULL"},
	{"heartbeat_at", versionOwners, "NULL"}, {"kernels", versionKernels, "''"},
}

// runColumns is the select list of runTable for a database at schema
// version v.
func runColumns(v int) string { return selectList(runTable, v) }

// epochTable lists the stored columns of epochs in the order Epochs reads
// them (after run_id, which merge reads too).
var epochTable = []column{
	{"run_id", 1, ""}, {"task", 1, ""}, {"line", 1, ""}, {"epoch", 1, ""}, {"part", 1, ""},
	{"loss", 1, ""}, {"train_acc", 1, ""}, {"seconds", 1, ""}, {"examples", 1, ""},
	{"test_acc", versionTestAcc, "NULL"}, {"terms", versionTerms, "NULL"}, {"val_acc", versionCurveVal, "NULL"},
}

// selectList is the select list of cols for a database at schema version
// v: a column added after v reads as its absent value.
func selectList(cols []column, v int) string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = c.name
		if v < c.since {
			out[i] = c.absent + " AS " + c.name
		}
	}
	return strings.Join(out, ", ")
}

// columnNames is the comma-separated list of the names of cols.
func columnNames(cols []column) string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = c.name
	}
	return strings.Join(out, ", ")
}

func scanRun(rows interface{ Scan(...any) error }) (Run, error) {
	var r Run
	var choices, errMsg, ended, ownerStart, token, heartbeat sql.NullString
	var started, status string
	var seed int64
	var heap, rss, pid sql.NullInt64
	if err := rows.Scan(&r.ID, &r.SpecJSON, &r.ConfigHash, &r.Method, &r.Stream, &r.Scenario, &seed,
		&r.ProgramVersion, &r.Host, &choices, &status, &errMsg, &started, &ended, &r.NumTasks,
		&heap, &rss, &r.Generation, &pid, &ownerStart, &token, &heartbeat, &r.Kernels); err != nil {
		return Run{}, err
	}
	r.Seed = uint64(seed)
	r.ChoicesJSON, r.Error, r.Status = choices.String, errMsg.String, Status(status)
	r.PeakHeapBytes, r.PeakRSSBytes = heap.Int64, rss.Int64
	r.Owner = Owner{PID: int(pid.Int64), Start: ownerStart.String, Token: token.String}
	var err error
	if r.Started, err = parseTime(started); err != nil {
		return Run{}, fmt.Errorf("run %s: started_at: %w", r.ID, err)
	}
	if ended.Valid {
		if r.Ended, err = parseTime(ended.String); err != nil {
			return Run{}, fmt.Errorf("run %s: ended_at: %w", r.ID, err)
		}
	}
	if heartbeat.Valid {
		if r.Heartbeat, err = parseTime(heartbeat.String); err != nil {
			return Run{}, fmt.Errorf("run %s: heartbeat_at: %w", r.ID, err)
		}
	}
	return r, nil
}

// Run returns the run with the given ID.
func (s *Store) Run(ctx context.Context, runID string) (Run, error) {
	row := s.db.QueryRowContext(ctx, "SELECT "+runColumns(s.version)+" FROM runs WHERE id = ?", runID)
	r, err := scanRun(row)
	if errors.Is(err, sql.ErrNoRows) {
		return Run{}, fmt.Errorf("run %s: %w", runID, ErrNotFound)
	}
	if err != nil {
		return Run{}, fmt.Errorf("read run %s: %w", runID, err)
	}
	return r, nil
}

// Runs returns the runs that match f, oldest first.
func (s *Store) Runs(ctx context.Context, f Filter) ([]Run, error) {
	where, args := f.where()
	rows, err := s.db.QueryContext(ctx,
		"SELECT "+runColumns(s.version)+" FROM runs WHERE "+where+" ORDER BY started_at, id", args...)
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	defer rows.Close()
	var runs []Run
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, fmt.Errorf("list runs: %w", err)
		}
		runs = append(runs, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	return runs, nil
}

// FindDone reports whether the unit with this config hash and seed is done,
// and returns the ID of its latest done run. A unit is done when it has a
// done run of its current rerun generation or a later one (see
// RequestRerun). A batch uses it to skip finished units when it is resumed.
func (s *Store) FindDone(ctx context.Context, configHash string, seed uint64) (id string, ok bool, err error) {
	id, ok, err = findDone(ctx, s.db, s.version, configHash, seed)
	if err != nil {
		return "", false, fmt.Errorf("find done run (config %s, seed %d): %w", configHash, seed, err)
	}
	return id, ok, nil
}

// findDone is FindDone in a database at schema version v, inside or
// outside a transaction.
func findDone(ctx context.Context, q querier, v int, configHash string, seed uint64) (string, bool, error) {
	query := `
SELECT id FROM runs WHERE config_hash = ? AND seed = ? AND status = 'done'
ORDER BY ended_at DESC, id DESC LIMIT 1`
	if v >= versionOwners {
		query = `
SELECT id FROM runs WHERE config_hash = ?1 AND seed = ?2 AND status = 'done'
	AND generation >= coalesce((SELECT generation FROM reruns WHERE config_hash = ?1 AND seed = ?2), 0)
ORDER BY ended_at DESC, id DESC LIMIT 1`
	}
	var id string
	err := q.QueryRowContext(ctx, query, configHash, seedValue(seed)).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	return id, true, nil
}

// Matrix returns the run's accuracy matrix: T+1 rows of T columns, row 0 the
// untrained model and row i the accuracies after training task i, in percent.
// Cells not recorded (or stored as NULL) are NaN.
func (s *Store) Matrix(ctx context.Context, runID string) ([][]float64, error) {
	numTasks, err := s.storedTasks(ctx, runID)
	if err != nil {
		return nil, fmt.Errorf("matrix of run %s: %w", runID, err)
	}
	m := nanMatrix(numTasks)
	rows, err := s.db.QueryContext(ctx,
		"SELECT after_task, eval_task, accuracy FROM accuracy WHERE run_id = ?", runID)
	if err != nil {
		return nil, fmt.Errorf("matrix of run %s: %w", runID, err)
	}
	defer rows.Close()
	for rows.Next() {
		var i, j int
		var a sql.NullFloat64
		if err := rows.Scan(&i, &j, &a); err != nil {
			return nil, fmt.Errorf("matrix of run %s: %w", runID, err)
		}
		if i < 0 || i > numTasks || j < 1 || j > numTasks {
			return nil, fmt.Errorf("matrix of run %s: cell (%d, %d) outside %d tasks", runID, i, j, numTasks)
		}
		if a.Valid {
			m[i][j-1] = a.Float64
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("matrix of run %s: %w", runID, err)
	}
	return m, nil
}

// InferenceMatrices returns one accuracy matrix per inference run of a run
// whose rule has stochastic inference (shaped as Matrix's; cells not
// recorded are NaN), in inference-run order; none for a deterministic rule.
// The run's Matrix is their mean.
func (s *Store) InferenceMatrices(ctx context.Context, runID string) ([][][]float64, error) {
	numTasks, err := s.storedTasks(ctx, runID)
	if err != nil {
		return nil, fmt.Errorf("inference matrices of run %s: %w", runID, err)
	}
	if s.version < versionInference {
		return nil, nil
	}
	// Inference runs are numbered 1..n without gaps; a larger number is
	// damage, not a reason to allocate matrices up to it.
	var runs int
	err = s.db.QueryRowContext(ctx, "SELECT count(DISTINCT inference_run) FROM inference_accuracy WHERE run_id = ?", runID).Scan(&runs)
	if err != nil {
		return nil, fmt.Errorf("inference matrices of run %s: %w", runID, err)
	}
	rows, err := s.db.QueryContext(ctx, `
SELECT inference_run, after_task, eval_task, accuracy FROM inference_accuracy WHERE run_id = ?
ORDER BY inference_run`, runID)
	if err != nil {
		return nil, fmt.Errorf("inference matrices of run %s: %w", runID, err)
	}
	defer rows.Close()
	var out [][][]float64
	for rows.Next() {
		var k, i, j int
		var a sql.NullFloat64
		if err := rows.Scan(&k, &i, &j, &a); err != nil {
			return nil, fmt.Errorf("inference matrices of run %s: %w", runID, err)
		}
		if k < 1 || k > runs || i < 0 || i > numTasks || j < 1 || j > numTasks {
			return nil, fmt.Errorf("inference matrices of run %s: cell (%d, %d) of inference run %d outside %d tasks", runID, i, j, k, numTasks)
		}
		for len(out) < k {
			out = append(out, nanMatrix(numTasks))
		}
		if a.Valid {
			out[k-1][i][j-1] = a.Float64
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("inference matrices of run %s: %w", runID, err)
	}
	return out, nil
}

// trustedTasks is the number of tasks up to which a stored num_tasks is
// believed without looking at the cells (a matrix of 8 MB).
const trustedTasks = 1000

// storedTasks is a run's number of tasks, checked before a reader
// allocates its T+1 × T matrix: a larger number than trustedTasks must be
// borne out by a stored cell of its last task (every run stores its
// untrained row for every task first), so a damaged or edited row cannot
// make a reader allocate gigabytes.
func (s *Store) storedTasks(ctx context.Context, runID string) (int, error) {
	var numTasks int
	err := s.db.QueryRowContext(ctx, "SELECT num_tasks FROM runs WHERE id = ?", runID).Scan(&numTasks)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, ErrNotFound
	}
	if err != nil {
		return 0, err
	}
	if numTasks < 1 {
		return 0, fmt.Errorf("the run says it has %d tasks: the database was damaged or edited", numTasks)
	}
	if numTasks > trustedTasks {
		var n int
		err := s.db.QueryRowContext(ctx, "SELECT count(*) FROM accuracy WHERE run_id = ? AND eval_task = ?", runID, numTasks).Scan(&n)
		if err != nil {
			return 0, err
		}
		if n == 0 {
			return 0, fmt.Errorf("the run says it has %d tasks but holds no cell of its last task: the database was damaged or edited", numTasks)
		}
	}
	return numTasks, nil
}

func nanMatrix(numTasks int) [][]float64 {
	m := make([][]float64, numTasks+1)
	for i := range m {
		m[i] = make([]float64, numTasks)
		for j := range m[i] {
			m[i][j] = math.NaN()
		}
	}
	return m
}

// Metrics returns the run's metrics sorted by name; undefined values are NaN.
func (s *Store) Metrics(ctx context.Context, runID string) ([]metrics.Metric, error) {
	rows, err := s.db.QueryContext(ctx,
		"SELECT name, value, note FROM metrics WHERE run_id = ? ORDER BY name", runID)
	if err != nil {
		return nil, fmt.Errorf("metrics of run %s: %w", runID, err)
	}
	defer rows.Close()
	var out []metrics.Metric
	for rows.Next() {
		var m metrics.Metric
		var v sql.NullFloat64
		var note sql.NullString
		if err := rows.Scan(&m.Name, &v, &note); err != nil {
			return nil, fmt.Errorf("metrics of run %s: %w", runID, err)
		}
		m.Value, m.Note = orNaN(v), note.String
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("metrics of run %s: %w", runID, err)
	}
	return out, nil
}

func orNaN(x sql.NullFloat64) float64 {
	if !x.Valid {
		return math.NaN()
	}
	return x.Float64
}
