package results

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// MergeOptions tunes Merge.
type MergeOptions struct {
	// Ended also merges failed and interrupted runs, with the rows they
	// recorded before they stopped. By default only done runs are merged.
	// Running runs are never merged: their rows are still being written
	// in the source, and their claim belongs to it.
	Ended bool
}

// MergeReport counts what Merge did with the source's runs.
type MergeReport struct {
	// Added runs were not here and were copied in.
	Added int
	// Identical runs were here with the same contents.
	Identical int
	// Updated runs were here unfinished (a copy taken while they ran) and
	// were replaced by the source's ended copy.
	Updated int
	// Conflicts were here with other contents: this database's copy is
	// kept and the source's is stored in table merge_conflicts.
	Conflicts int
	// LeftOut runs were not merged: running, or failed or interrupted
	// without MergeOptions.Ended.
	LeftOut int
}

// Add adds the counts of o to r.
func (r *MergeReport) Add(o MergeReport) {
	r.Added += o.Added
	r.Identical += o.Identical
	r.Updated += o.Updated
	r.Conflicts += o.Conflicts
	r.LeftOut += o.LeftOut
}

// runRows lists the tables that hold a run's rows besides runs: the columns
// merged, the order that makes a run's rows comparable, and the schema
// version that added the table.
var runRows = []struct {
	table string
	cols  []column
	order string
	since int
	// copyOrder, when set, is the order the rows are copied in, where it
	// differs from order (which the digest uses): the probe's stages keep
	// the learner's order (rowid) rather than their names'.
	copyOrder string
}{
	{"accuracy", append(columns(1, "run_id", "after_task", "eval_task", "accuracy", "note"), column{"seconds", versionSeconds, "NULL"}, column{"val_accuracy", versionValAcc, "NULL"}),
		"after_task, eval_task", 1, ""},
	{"inference_accuracy", columns(versionInference, "run_id", "after_task", "eval_task", "inference_run", "accuracy"),
		"after_task, eval_task, inference_run", versionInference, ""},
	{"probe_accuracy", columns(versionProbe, "run_id", "after_task", "eval_task", "stage", "accuracy"),
		"after_task, eval_task, stage", versionProbe, "after_task, eval_task, rowid"},
	{"epochs", epochTable, "task, line", 1, ""},
	{"metrics", columns(1, "run_id", "name", "value", "note"), "name", 1, ""},
}

// columns lists columns all added at schema version since.
func columns(since int, names ...string) []column {
	cols := make([]column, len(names))
	for i, n := range names {
		cols[i] = column{n, since, ""}
	}
	return cols
}

// Merge copies the runs of src into s by run identity (the run ID), in one
// transaction, and reports what it did; merging the same source again
// changes nothing. src may be at an older schema version (its rows are read
// as the current schema's defaults fill them) and is only read; open it
// with OpenReadOnly.
//
// A run already here with the same contents (its row and every row it
// recorded) counts as identical. One here with other contents is a
// conflict: this database's copy stays in runs, since tables may already
// have reported it, and the source's copy is stored whole, as JSON, in
// table merge_conflicts with the source's path, so neither side is lost.
// The conflicts src itself recorded are carried over as well. Rerun
// requests are not merged: they belong to the batches of the source.
func (s *Store) Merge(ctx context.Context, src *Store, opts MergeOptions) (MergeReport, error) {
	var rep MergeReport
	if a, errA := os.Stat(s.path); errA == nil {
		if b, errB := os.Stat(src.path); errB == nil && os.SameFile(a, b) {
			return rep, fmt.Errorf("merge %s into %s: it is the same database", src.path, s.path)
		}
	}
	source, err := filepath.Abs(src.path)
	if err != nil {
		return rep, fmt.Errorf("merge %s: %w", src.path, err)
	}
	ids, err := src.runStatuses(ctx)
	if err != nil {
		return rep, fmt.Errorf("merge %s: %w", src.path, err)
	}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		rep = MergeReport{}
		for _, r := range ids {
			if r.status == StatusRunning || (r.status != StatusDone && !opts.Ended) {
				rep.LeftOut++
				continue
			}
			theirs, _, err := readRecord(ctx, src.db, src.version, r.id)
			if err != nil {
				return err
			}
			ours, here, err := readRecord(ctx, tx, s.version, r.id)
			switch {
			case err != nil:
				return err
			case !here:
				err = insertRecord(ctx, tx, theirs)
				rep.Added++
			case ours.digest == theirs.digest:
				rep.Identical++
			case ours.status() == StatusRunning:
				if _, err = tx.ExecContext(ctx, "DELETE FROM runs WHERE id = ?", r.id); err == nil {
					err = insertRecord(ctx, tx, theirs)
				}
				rep.Updated++
			default:
				err = recordConflict(ctx, tx, theirs, ours.digest, source)
				rep.Conflicts++
			}
			if err != nil {
				return fmt.Errorf("run %s: %w", r.id, err)
			}
		}
		return copyConflicts(ctx, tx, src)
	})
	if err != nil {
		return MergeReport{}, fmt.Errorf("merge %s into %s: %w", src.path, s.path, err)
	}
	return rep, nil
}

type runStatus struct {
	id     string
	status Status
}

// runStatuses lists every run's ID and status, oldest first.
func (s *Store) runStatuses(ctx context.Context) ([]runStatus, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT id, status FROM runs ORDER BY started_at, id")
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	defer rows.Close()
	var out []runStatus
	for rows.Next() {
		var r runStatus
		if err := rows.Scan(&r.id, &r.status); err != nil {
			return nil, fmt.Errorf("list runs: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// rowsQuerier is what reading a run's rows needs of *sql.DB and *sql.Tx.
type rowsQuerier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// runRecord is a run with every row it recorded, as stored.
type runRecord struct {
	// rows[0] holds the run's row of runs (columns of runTable), rows[k]
	// its rows of runRows[k-1], in that table's order.
	rows   [][][]any
	digest string
}

// statusColumn is the index of runs.status in runTable.
var statusColumn = slices.IndexFunc(runTable, func(c column) bool { return c.name == "status" })

func (rec runRecord) status() Status {
	s, _ := rec.rows[0][0][statusColumn].(string)
	return Status(s)
}

// readRecord reads run id and its rows from a database at schema version v.
// Columns and tables the version lacks read as the current schema's
// defaults and as no rows.
func readRecord(ctx context.Context, q rowsQuerier, v int, id string) (runRecord, bool, error) {
	var rec runRecord
	run, err := readRows(ctx, q, "SELECT "+runColumns(v)+" FROM runs WHERE id = ?", id)
	if err != nil || len(run) == 0 {
		return rec, false, err
	}
	rec.rows = append(rec.rows, run)
	for _, t := range runRows {
		var rows [][]any
		if v >= t.since {
			rows, err = readRows(ctx, q, "SELECT "+selectList(t.cols, v)+" FROM "+t.table+" WHERE run_id = ? ORDER BY "+t.order, id)
			if err != nil {
				return rec, false, fmt.Errorf("%s: %w", t.table, err)
			}
		}
		rec.rows = append(rec.rows, rows)
	}
	rec.digest = digestRows(rec.rows)
	for k, t := range runRows {
		if t.copyOrder == "" || v < t.since {
			continue
		}
		if rec.rows[k+1], err = readRows(ctx, q, "SELECT "+selectList(t.cols, v)+" FROM "+t.table+" WHERE run_id = ? ORDER BY "+t.copyOrder, id); err != nil {
			return rec, false, fmt.Errorf("%s: %w", t.table, err)
		}
	}
	return rec, true, nil
}

// readRows reads every row of a query as the driver's plain values (int64,
// float64, string, []byte or nil).
func readRows(ctx context.Context, q rowsQuerier, query string, args ...any) ([][]any, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var out [][]any
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		out = append(out, vals)
	}
	return out, rows.Err()
}

// digestRows hashes a run's rows: every value with its type, so that 1,
// 1.0 and "1" differ, and NULL is not an empty string.
func digestRows(tables [][][]any) string {
	h := sha256.New()
	for k, rows := range tables {
		fmt.Fprintf(h, "table %d: %d rows\n", k, len(rows))
		for _, row := range rows {
			for _, v := range row {
				writeValue(h, v)
			}
			h.Write([]byte{'\n'})
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

func writeValue(h hash.Hash, v any) {
	switch v := v.(type) {
	case nil:
		fmt.Fprint(h, "n;")
	case int64:
		fmt.Fprintf(h, "i%d;", v)
	case float64:
		fmt.Fprintf(h, "f%x;", math.Float64bits(v))
	case string:
		fmt.Fprintf(h, "s%d:%s;", len(v), v)
	case []byte:
		fmt.Fprintf(h, "b%d:%s;", len(v), v)
	default:
		fmt.Fprintf(h, "?%T:%v;", v, v)
	}
}

// insertRecord inserts a run and its rows as they are.
func insertRecord(ctx context.Context, tx *sql.Tx, rec runRecord) error {
	names := make([]string, len(runTable))
	for i, c := range runTable {
		names[i] = c.name
	}
	if err := insertRows(ctx, tx, "runs", strings.Join(names, ", "), rec.rows[0]); err != nil {
		return err
	}
	for k, t := range runRows {
		if err := insertRows(ctx, tx, t.table, columnNames(t.cols), rec.rows[k+1]); err != nil {
			return err
		}
	}
	return nil
}

func insertRows(ctx context.Context, tx *sql.Tx, table, cols string, rows [][]any) error {
	if len(rows) == 0 {
		return nil
	}
	marks := strings.TrimSuffix(strings.Repeat("?, ", strings.Count(cols, ",")+1), ", ")
	stmt, err := tx.PrepareContext(ctx, "INSERT INTO "+table+" ("+cols+") VALUES ("+marks+")")
	if err != nil {
		return fmt.Errorf("%s: %w", table, err)
	}
	defer stmt.Close()
	for _, row := range rows {
		if _, err := stmt.ExecContext(ctx, row...); err != nil {
			return fmt.Errorf("%s: %w", table, err)
		}
	}
	return nil
}

// recordConflict stores the source's copy of a conflicting run as JSON:
// {"runs": [{column: value}], "accuracy": [...], ...}.
func recordConflict(ctx context.Context, tx *sql.Tx, theirs runRecord, keptDigest, source string) error {
	names := make([]string, len(runTable))
	for i, c := range runTable {
		names[i] = c.name
	}
	doc := map[string][]map[string]any{"runs": namedRows(names, theirs.rows[0])}
	for k, t := range runRows {
		doc[t.table] = namedRows(strings.Split(columnNames(t.cols), ", "), theirs.rows[k+1])
	}
	js, err := json.Marshal(doc)
	if err != nil {
		return fmt.Errorf("conflict as JSON: %w", err)
	}
	_, err = tx.ExecContext(ctx, `
INSERT INTO merge_conflicts (run_id, source, digest, kept_digest, run_json, merged_at)
VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		theirs.rows[0][0][0], source, theirs.digest, keptDigest, string(js), formatTime(time.Now()))
	return err
}

func namedRows(names []string, rows [][]any) []map[string]any {
	out := make([]map[string]any, len(rows))
	for i, row := range rows {
		m := make(map[string]any, len(names))
		for j, v := range row {
			if b, ok := v.([]byte); ok {
				v = string(b)
			}
			m[names[j]] = v
		}
		out[i] = m
	}
	return out
}

// copyConflicts carries over the conflicts src recorded in its own merges.
func copyConflicts(ctx context.Context, tx *sql.Tx, src *Store) error {
	if src.version < versionConflicts {
		return nil
	}
	const cols = "run_id, source, digest, kept_digest, run_json, merged_at"
	rows, err := readRows(ctx, src.db, "SELECT "+cols+" FROM merge_conflicts ORDER BY run_id, digest")
	if err != nil {
		return fmt.Errorf("read conflicts: %w", err)
	}
	for _, row := range rows {
		if _, err := tx.ExecContext(ctx,
			"INSERT INTO merge_conflicts ("+cols+") VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING", row...); err != nil {
			return fmt.Errorf("copy conflict of run %v: %w", row[0], err)
		}
	}
	return nil
}

// ConflictCount returns the number of conflicting copies stored in table
// merge_conflicts.
func (s *Store) ConflictCount(ctx context.Context) (int, error) {
	if s.version < versionConflicts {
		return 0, nil
	}
	var n int
	if err := s.db.QueryRowContext(ctx, "SELECT count(*) FROM merge_conflicts").Scan(&n); err != nil {
		return 0, fmt.Errorf("count merge conflicts: %w", err)
	}
	return n, nil
}
