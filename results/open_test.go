package results

import (
	"bytes"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/noprop/noprop/results/metrics"
)

// rawDB opens path with the plain driver, bypassing Open's checks.
func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func rawExec(t *testing.T, path string, stmts ...string) {
	t.Helper()
	db := rawDB(t, path)
	defer db.Close()
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// rawValue reads the one value of a query with the plain driver.
func rawValue[T any](t *testing.T, path, query string) T {
	t.Helper()
	db := rawDB(t, path)
	defer db.Close()
	var v T
	if err := db.QueryRow(query).Scan(&v); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return v
}

func rawInt(t *testing.T, path, query string) int {
	t.Helper()
	return rawValue[int](t, path, query)
}

func openT(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestOpenCreatesAndReopens(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.db")
	for i := 0; i < 3; i++ { // create, then re-open twice: migrations are idempotent
		s, err := Open(path)
		if err != nil {
			t.Fatalf("open #%d: %v", i, err)
		}
		var mode string
		var fk int
		if err := s.db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
			t.Errorf("open #%d: journal_mode %q, %v; want wal", i, mode, err)
		}
		if err := s.db.QueryRow("PRAGMA foreign_keys").Scan(&fk); err != nil || fk != 1 {
			t.Errorf("open #%d: foreign_keys %d, %v; want 1", i, fk, err)
		}
		if i == 0 {
			if _, err := s.StartRun(t.Context(), testRun("m", "h", 1, 2)); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	checks := []struct {
		query string
		want  int
	}{
		{"PRAGMA user_version", SchemaVersion()},
		{"PRAGMA application_id", ApplicationID},
		{"SELECT count(*) FROM migrations", SchemaVersion()},
		{"SELECT count(*) FROM runs", 1},
		{"SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name IN ('runs', 'accuracy', 'epochs', 'metrics')", 4},
	}
	for _, c := range checks {
		if got := rawInt(t, path, c.query); got != c.want {
			t.Errorf("%s = %d, want %d", c.query, got, c.want)
		}
	}
}

// dbWithRuns creates a database at path holding n started runs, closed so
// that every page is in the file.
func dbWithRuns(t *testing.T, path string, n int) []byte {
	t.Helper()
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	for seed := range n {
		if _, err := s.StartRun(t.Context(), testRun("m", "h", uint64(seed), 5)); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 3*4096 {
		t.Fatalf("database only %d bytes", len(b))
	}
	return b
}

func TestOpenRefuses(t *testing.T) {
	const (
		checkPath = "check the path"
		backup    = "restore it from a backup, or salvage the readable runs with `sqlite3 "
	)
	tests := []struct {
		name string
		// make creates the file to open and returns the path to pass to Open.
		make func(t *testing.T, dir string) string
		// want is in the error; hint is the advice on what to do.
		want, hint string
	}{
		{
			name: "garbage",
			make: func(t *testing.T, dir string) string {
				p := filepath.Join(dir, "garbage.db")
				writeFile(t, p, bytes.Repeat([]byte("not a database\n"), 300))
				return p
			},
			want: "not an SQLite database", hint: checkPath,
		},
		{
			name: "short file",
			make: func(t *testing.T, dir string) string {
				p := filepath.Join(dir, "short.db")
				writeFile(t, p, []byte("SQLite"))
				return p
			},
			want: "not an SQLite database", hint: checkPath,
		},
		{
			name: "future version",
			make: func(t *testing.T, dir string) string {
				p := filepath.Join(dir, "future.db")
				s, err := Open(p)
				if err != nil {
					t.Fatal(err)
				}
				s.Close()
				rawExec(t, p, "PRAGMA user_version = 999")
				return p
			},
			want: "schema version 999 is newer than this program's", hint: "use a newer build",
		},
		{
			name: "foreign application",
			make: func(t *testing.T, dir string) string {
				p := filepath.Join(dir, "foreign-app.db")
				rawExec(t, p, "CREATE TABLE t (x)", "PRAGMA application_id = 12345")
				return p
			},
			want: "not a results database", hint: checkPath,
		},
		{
			name: "foreign tables",
			make: func(t *testing.T, dir string) string {
				p := filepath.Join(dir, "foreign-tables.db")
				rawExec(t, p, "CREATE TABLE runs (x)", "INSERT INTO runs VALUES (1)")
				return p
			},
			want: "with tables but no results schema", hint: checkPath,
		},
		{
			name: "corrupt pages",
			make: func(t *testing.T, dir string) string {
				p := filepath.Join(dir, "corrupt.db")
				b := dbWithRuns(t, p, 50)
				// Overwrite everything after the first page (the schema stays readable).
				for i := 4096; i < len(b); i++ {
					b[i] = 0xA5
				}
				writeFile(t, p, b)
				return p
			},
			hint: backup,
		},
		{
			// SQLite reports this over several lines, several problems.
			name: "cells out of order",
			make: func(t *testing.T, dir string) string {
				p := filepath.Join(dir, "order.db")
				b := dbWithRuns(t, p, 50)
				broken := 0
				for off := 4096; off+4096 <= len(b); off += 4096 {
					// A table leaf page with two cells or more, not one of
					// the schema's: point its second cell at its first.
					schema := bytes.Contains(b[off:off+4096], []byte("CREATE TABLE"))
					if b[off] == 13 && binary.BigEndian.Uint16(b[off+3:]) >= 2 && !schema {
						copy(b[off+10:off+12], b[off+8:off+10])
						broken++
					}
				}
				if broken < 2 {
					t.Fatalf("%d leaf pages to break, want 2 or more", broken)
				}
				writeFile(t, p, b)
				return p
			},
			want: "more problems)", hint: backup,
		},
		{
			name: "truncated",
			make: func(t *testing.T, dir string) string {
				p := filepath.Join(dir, "truncated.db")
				b := dbWithRuns(t, p, 50)
				writeFile(t, p, b[:len(b)/2])
				return p
			},
			want: "truncated", hint: backup,
		},
		{
			name: "header cut short",
			make: func(t *testing.T, dir string) string {
				p := filepath.Join(dir, "header.db")
				b := dbWithRuns(t, p, 1)
				writeFile(t, p, b[:60])
				return p
			},
			want: "shorter than the 100-byte SQLite header", hint: backup,
		},
		{
			name: "directory",
			make: func(t *testing.T, dir string) string { return dir },
			want: "is a directory", hint: "name a database file",
		},
	}
	openers := []struct {
		name string
		open func(string) (*Store, error)
	}{{"Open", Open}, {"OpenReadOnly", OpenReadOnly}}
	for _, tc := range tests {
		for _, o := range openers {
			t.Run(tc.name+"/"+o.name, func(t *testing.T) {
				dir := t.TempDir()
				path := tc.make(t, dir)
				before := hashFile(t, path)
				s, err := o.open(path)
				if err == nil {
					s.Close()
					t.Fatalf("%s(%s) succeeded, want error", o.name, path)
				}
				msg := err.Error()
				if !strings.Contains(msg, path) {
					t.Errorf("error %q does not name the file %s", msg, path)
				}
				if !strings.Contains(msg, tc.want) || !strings.Contains(msg, tc.hint) {
					t.Errorf("error %q does not contain %q and %q", msg, tc.want, tc.hint)
				}
				if strings.Contains(msg, "\n") {
					t.Errorf("error spans several lines: %q", msg)
				}
				if after := hashFile(t, path); after != before {
					t.Errorf("%s modified the refused file", o.name)
				}
				t.Logf("error: %v", err)
			})
		}
	}
}

// TestOpenReadOnlyNeverWrites opens files that hold no results yet and
// databases of older schema versions: OpenReadOnly reports the first with
// ErrNoResults and reads the others as they are, leaving every file as it
// was.
func TestOpenReadOnlyNeverWrites(t *testing.T) {
	orig := migrations
	t.Cleanup(func() { migrations = orig })
	// atVersion writes a database of schema version v with one done run,
	// in SQL that every version understands.
	atVersion := func(v int) func(t *testing.T, path string) {
		return func(t *testing.T, path string) {
			migrations = orig[:v]
			defer func() { migrations = orig }()
			openT(t, path).Close()
			rawExec(t, path, `INSERT INTO runs (id, spec_json, config_hash, method, stream, scenario, seed, status,
	started_at, ended_at, num_tasks) VALUES ('r1', '{}', 'h', 'm', 'split-mnist', 'class-il', 3, 'done',
	'2026-01-01T00:00:00.000Z', '2026-01-01T00:01:00.000Z', 1)`,
				"INSERT INTO accuracy (run_id, after_task, eval_task, accuracy, note) VALUES ('r1', 1, 1, 70, NULL)",
				"INSERT INTO metrics VALUES ('r1', 'acc', 70, NULL)",
				`INSERT INTO epochs (run_id, task, line, epoch, part, loss, train_acc, seconds, examples)
	VALUES ('r1', 1, 0, 1, '', 0.5, 90, 1, 100)`)
		}
	}
	tests := []struct {
		name    string
		make    func(t *testing.T, path string) // nil: no file
		noneYet bool                            // want ErrNoResults
	}{
		{"missing file", nil, true},
		{"empty file", func(t *testing.T, path string) { writeFile(t, path, nil) }, true},
		{"SQLite file without tables", func(t *testing.T, path string) { rawExec(t, path, "PRAGMA user_version = 0") }, true},
		{"version 1", atVersion(1), false},
		{"version 2", atVersion(2), false},
		{"version 5 (before epochs.test_acc)", atVersion(versionTestAcc - 1), false},
		{"version 6 (before epochs.terms)", atVersion(versionTerms - 1), false},
		{"version 7 (before accuracy.seconds)", atVersion(versionSeconds - 1), false},
		{"version 8 (before accuracy.val_accuracy)", atVersion(versionValAcc - 1), false},
		{"version 10 (before probe_accuracy)", atVersion(versionProbe - 1), false},
		{"version 11 (before runs.kernels)", atVersion(versionKernels - 1), false},
		{"current version", atVersion(len(orig)), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "r.db")
			if tc.make != nil {
				tc.make(t, path)
			}
			before := dirState(t, dir)
			s, err := OpenReadOnly(path)
			if tc.noneYet {
				if !errors.Is(err, ErrNoResults) || strings.Contains(err.Error(), "\n") {
					t.Fatalf("OpenReadOnly: %v, want one line wrapping ErrNoResults", err)
				}
			} else {
				if err != nil {
					t.Fatal(err)
				}
				sums, err := s.Summaries(t.Context(), Filter{})
				if err != nil {
					t.Fatal(err)
				}
				if len(sums) != 1 || sums[0].Metrics[metrics.ACC].Mean != 70 || fmt.Sprint(sums[0].Seeds) != "[3]" {
					t.Errorf("summaries %+v", sums)
				}
				eps, err := s.Epochs(t.Context(), "r1")
				if err != nil || len(eps) != 1 || eps[0].TrainAcc != 90 || !math.IsNaN(eps[0].TestAcc) || eps[0].Terms != nil {
					t.Errorf("epochs %+v, %v; want one line, train acc 90, no test acc, no terms", eps, err)
				}
				if rec, err := s.RecordedSeconds(t.Context()); err != nil || rec["r1"] != (Recorded{Training: 1}) {
					t.Errorf("recorded seconds %v, %v; want r1's epoch's 1", rec, err)
				}
				if r, err := s.Run(t.Context(), "r1"); err != nil || r.Kernels != "" || r.Seed != 3 {
					t.Errorf("run %+v, %v; want seed 3, no kernels", r, err)
				}
				if pr, err := s.Probe(t.Context(), "r1"); err != nil || len(pr) != 0 {
					t.Errorf("probe %+v, %v; want none", pr, err)
				}
				cells, err := s.Cells(t.Context(), "r1")
				if err != nil || len(cells) != 1 || cells[0].Accuracy != 70 || !math.IsNaN(cells[0].ValAccuracy) {
					t.Errorf("cells %+v, %v; want one, accuracy 70, no validation accuracy", cells, err)
				}
				if _, err := s.StartRun(t.Context(), testRun("m", "h", 4, 1)); !errors.Is(err, ErrReadOnly) {
					t.Errorf("StartRun on a read-only store: %v, want ErrReadOnly", err)
				}
				s.Close()
			}
			if after := dirState(t, dir); after != before {
				t.Errorf("OpenReadOnly changed the folder:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
}

// dirState describes a folder's files and their contents.
func dirState(t *testing.T, dir string) string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var parts []string
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		parts = append(parts, fmt.Sprintf("%s:%x", e.Name(), hashFile(t, p)))
	}
	return strings.Join(parts, " ")
}

func TestMigrationFailureRollsBack(t *testing.T) {
	tests := []struct {
		name     string
		existing bool // the database already has the current version
		wantVer  int
	}{
		{"fresh file", false, 0},
		{"existing database", true, len(migrations)},
	}
	orig := migrations
	t.Cleanup(func() { migrations = orig })
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			migrations = orig
			path := filepath.Join(t.TempDir(), "r.db")
			if tc.existing {
				s := openT(t, path)
				if _, err := s.StartRun(t.Context(), testRun("m", "h", 1, 2)); err != nil {
					t.Fatal(err)
				}
				s.Close()
			}
			migrations = append(append([]migration(nil), orig...), migration{
				description: "broken step",
				sql:         "CREATE TABLE extra (x); INSERT INTO no_such_table VALUES (1);",
			})
			_, err := Open(path)
			want := fmt.Sprintf("migrate to version %d (broken step)", len(orig)+1)
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("Open with a broken migration: error %v, want %s", err, want)
			}
			migrations = orig
			if got := rawInt(t, path, "PRAGMA user_version"); got != tc.wantVer {
				t.Errorf("user_version %d after failed migration, want %d", got, tc.wantVer)
			}
			if got := rawInt(t, path, "SELECT count(*) FROM sqlite_schema WHERE name = 'extra'"); got != 0 {
				t.Errorf("table of the failed step exists")
			}
			if tc.existing {
				if got := rawInt(t, path, "SELECT count(*) FROM runs"); got != 1 {
					t.Errorf("%d runs after failed migration, want 1", got)
				}
			}
			s := openT(t, path) // the old program still opens it
			s.Close()
		})
	}
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// hashFile hashes path's content, or the names in it for a directory.
func hashFile(t *testing.T, path string) [32]byte {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.IsDir() {
		ents, err := os.ReadDir(path)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		return sha256.Sum256([]byte(strings.Join(names, "\n")))
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}
