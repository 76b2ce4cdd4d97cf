package results

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/noprop/noprop/metrics"
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
	{"heartbeat_at", versionOwners, "NULL"},
}

// runColumns is the select list of runTable for a database at schema
// version v.
func runColumns(v int) string { return selectList(runTable, v) }

// epochTable lists the stored columns of epochs in the order Epochs reads
// them (after run_id, which merge reads too).
var epochTable = []column{
	{"run_id", 1, ""}, {"task", 1, ""}, {"line", 1, ""}, {"epoch", 1, ""}, {"part", 1, ""},
	{"loss", 1, ""}, {"train_acc", 1, ""}, {"seconds", 1, ""}, {"examples", 1, ""},
	{"test_acc", versionTestAcc, "NULL"}, {"terms", versionTerms, "NULL"},
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
		&heap, &rss, &r.Generation, &pid, &ownerStart, &token, &heartbeat); err != nil {
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
	var numTasks int
	err := s.db.QueryRowContext(ctx, "SELECT num_tasks FROM runs WHERE id = ?", runID).Scan(&numTasks)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("matrix of run %s: %w", runID, ErrNotFound)
	}
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
	var numTasks int
	err := s.db.QueryRowContext(ctx, "SELECT num_tasks FROM runs WHERE id = ?", runID).Scan(&numTasks)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("inference matrices of run %s: %w", runID, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("inference matrices of run %s: %w", runID, err)
	}
	if s.version < versionInference {
		return nil, nil
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
		if k < 1 || i < 0 || i > numTasks || j < 1 || j > numTasks {
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

// Stat is a mean over seeds with its standard error.
type Stat struct {
	// Mean is the mean of the defined values; NaN when N is 0.
	Mean float64
	// SE is the standard error of the mean, the sample standard deviation
	// divided by sqrt(N); NaN when N < 2.
	SE float64
	// N is the number of runs whose value is defined.
	N int
	// Note is a stored note of an undefined value (e.g. "needs at least 2
	// tasks"), set when some run's value is undefined.
	Note string
}

// NewStat returns the mean and standard error of the finite values in xs.
// The first non-empty note of a value that is not finite becomes the Stat's
// Note; notes may be nil.
func NewStat(xs []float64, notes []string) Stat {
	st := Stat{Mean: math.NaN(), SE: math.NaN()}
	var sum float64
	for i, x := range xs {
		if isFinite(x) {
			sum += x
			st.N++
		} else if st.Note == "" && i < len(notes) {
			st.Note = notes[i]
		}
	}
	if st.N == 0 {
		return st
	}
	st.Mean = sum / float64(st.N)
	if st.N < 2 {
		return st
	}
	var ss float64
	for _, x := range xs {
		if isFinite(x) {
			d := x - st.Mean
			ss += d * d
		}
	}
	st.SE = math.Sqrt(ss/float64(st.N-1)) / math.Sqrt(float64(st.N))
	return st
}

// Summary aggregates the done runs of one configuration over seeds.
type Summary struct {
	Method, Stream, Scenario, ConfigHash string
	// SpecJSON is the spec of one of the runs (they differ only in seed).
	SpecJSON string
	// N is the number of runs (seeds) aggregated. When a seed was run more
	// than once, only its latest done run counts.
	N int
	// Seeds are the seeds aggregated, ascending.
	Seeds []uint64
	// RunIDs are the aggregated runs, in the order of Seeds.
	RunIDs []string
	// Metrics holds, per metric name, the mean and standard error of the
	// metric over the runs (computed per run, not from the mean matrix).
	Metrics map[string]Stat
	// PeakHeapBytes and PeakRSSBytes aggregate the runs' peak memory, in
	// bytes, over the runs that recorded it.
	PeakHeapBytes, PeakRSSBytes Stat
}

// doneRuns returns the done runs matching f, one per (config hash, seed): the
// latest to end.
func (s *Store) doneRuns(ctx context.Context, f Filter) ([]Run, error) {
	f.Status = StatusDone
	runs, err := s.Runs(ctx, f)
	if err != nil {
		return nil, err
	}
	type key struct {
		hash string
		seed uint64
	}
	latest := map[key]int{}
	var out []Run
	for _, r := range runs {
		k := key{r.ConfigHash, r.Seed}
		if i, ok := latest[k]; ok {
			if !r.Ended.Before(out[i].Ended) {
				out[i] = r
			}
			continue
		}
		latest[k] = len(out)
		out = append(out, r)
	}
	sort.Slice(out, func(a, b int) bool {
		if out[a].ConfigHash != out[b].ConfigHash {
			return out[a].ConfigHash < out[b].ConfigHash
		}
		return out[a].Seed < out[b].Seed
	})
	return out, nil
}

// Summaries aggregates the done runs matching f over seeds: one Summary per
// (method, stream, scenario, config hash), sorted by stream, scenario,
// method and config hash. Each metric's mean and standard error are computed
// from the per-run values; runs where the metric is undefined (NULL) are left
// out of that metric's Stat.
func (s *Store) Summaries(ctx context.Context, f Filter) ([]Summary, error) {
	runs, err := s.doneRuns(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("summaries: %w", err)
	}
	type group struct {
		sum     *Summary
		metrics map[string][]float64
		notes   map[string][]string
		heap    []float64
		rss     []float64
	}
	groups := map[[4]string]*group{}
	var order []*group
	for _, r := range runs {
		k := [4]string{r.Method, r.Stream, r.Scenario, r.ConfigHash}
		g := groups[k]
		if g == nil {
			g = &group{
				sum: &Summary{Method: r.Method, Stream: r.Stream, Scenario: r.Scenario,
					ConfigHash: r.ConfigHash, SpecJSON: r.SpecJSON, Metrics: map[string]Stat{}},
				metrics: map[string][]float64{},
				notes:   map[string][]string{},
			}
			groups[k] = g
			order = append(order, g)
		}
		g.sum.N++
		g.sum.Seeds = append(g.sum.Seeds, r.Seed)
		g.sum.RunIDs = append(g.sum.RunIDs, r.ID)
		g.heap = append(g.heap, bytesOrNaN(r.PeakHeapBytes))
		g.rss = append(g.rss, bytesOrNaN(r.PeakRSSBytes))
	}
	for _, g := range order {
		for _, id := range g.sum.RunIDs {
			ms, err := s.Metrics(ctx, id)
			if err != nil {
				return nil, fmt.Errorf("summaries: %w", err)
			}
			for _, m := range ms {
				g.metrics[m.Name] = append(g.metrics[m.Name], m.Value)
				g.notes[m.Name] = append(g.notes[m.Name], m.Note)
			}
		}
	}
	out := make([]Summary, 0, len(order))
	for _, g := range order {
		for name, xs := range g.metrics {
			g.sum.Metrics[name] = NewStat(xs, g.notes[name])
		}
		g.sum.PeakHeapBytes = NewStat(g.heap, nil)
		g.sum.PeakRSSBytes = NewStat(g.rss, nil)
		out = append(out, *g.sum)
	}
	SortSummaries(out)
	return out, nil
}

func bytesOrNaN(b int64) float64 {
	if b <= 0 {
		return math.NaN()
	}
	return float64(b)
}

// SortSummaries orders summaries as tables show them: by stream, scenario,
// method, then configuration.
func SortSummaries(sums []Summary) {
	sort.SliceStable(sums, func(a, b int) bool {
		x, y := sums[a], sums[b]
		if x.Stream != y.Stream {
			return x.Stream < y.Stream
		}
		if x.Scenario != y.Scenario {
			return x.Scenario < y.Scenario
		}
		if x.Method != y.Method {
			return x.Method < y.Method
		}
		return x.ConfigHash < y.ConfigHash
	})
}

// MeanMatrix averages the accuracy matrices of the done runs with this
// config hash, or a prefix of it that selects one configuration (one run per
// seed, as in Summaries): mean and se are (T+1) x T, cell by cell over the
// runs where the cell is defined (see CellStats), and n is the number of runs.
func (s *Store) MeanMatrix(ctx context.Context, configHash string) (mean, se [][]float64, n int, err error) {
	runs, err := s.doneRuns(ctx, Filter{ConfigHash: configHash})
	if err != nil {
		return nil, nil, 0, fmt.Errorf("mean matrix of config %s: %w", configHash, err)
	}
	if len(runs) == 0 {
		return nil, nil, 0, fmt.Errorf("mean matrix of config %s: done runs %w", configHash, ErrNotFound)
	}
	if last := runs[len(runs)-1]; last.ConfigHash != runs[0].ConfigHash {
		return nil, nil, 0, fmt.Errorf("mean matrix of config %s: the prefix matches configs %s and %s; give more digits",
			configHash, runs[0].ConfigHash, last.ConfigHash)
	}
	ids := make([]string, len(runs))
	for i, r := range runs {
		ids[i] = r.ID
	}
	mean, se, _, err = s.meanOfRuns(ctx, ids)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("mean matrix of config %s: %w", configHash, err)
	}
	return mean, se, len(runs), nil
}
