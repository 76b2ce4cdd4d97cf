package results

import (
	"bytes"
	"crypto/sha256"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
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

func rawInt(t *testing.T, path, query string) int {
	t.Helper()
	db := rawDB(t, path)
	defer db.Close()
	var n int
	if err := db.QueryRow(query).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
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

func TestOpenRefuses(t *testing.T) {
	tests := []struct {
		name string
		// make creates the file to open and returns the path to pass to Open.
		make func(t *testing.T, dir string) string
		want string
	}{
		{
			name: "garbage",
			make: func(t *testing.T, dir string) string {
				p := filepath.Join(dir, "garbage.db")
				writeFile(t, p, bytes.Repeat([]byte("not a database\n"), 300))
				return p
			},
			want: "not an SQLite database",
		},
		{
			name: "short file",
			make: func(t *testing.T, dir string) string {
				p := filepath.Join(dir, "short.db")
				writeFile(t, p, []byte("SQLite"))
				return p
			},
			want: "not an SQLite database",
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
			want: "schema version 999 is newer than this program's",
		},
		{
			name: "foreign application",
			make: func(t *testing.T, dir string) string {
				p := filepath.Join(dir, "foreign-app.db")
				rawExec(t, p, "CREATE TABLE t (x)", "PRAGMA application_id = 12345")
				return p
			},
			want: "not a results database",
		},
		{
			name: "foreign tables",
			make: func(t *testing.T, dir string) string {
				p := filepath.Join(dir, "foreign-tables.db")
				rawExec(t, p, "CREATE TABLE runs (x)", "INSERT INTO runs VALUES (1)")
				return p
			},
			want: "with tables but no results schema",
		},
		{
			name: "corrupt pages",
			make: func(t *testing.T, dir string) string {
				p := filepath.Join(dir, "corrupt.db")
				s, err := Open(p)
				if err != nil {
					t.Fatal(err)
				}
				for seed := range 50 {
					if _, err := s.StartRun(t.Context(), testRun("m", "h", int64(seed), 5)); err != nil {
						t.Fatal(err)
					}
				}
				s.Close()
				b, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				if len(b) < 3*4096 {
					t.Fatalf("database only %d bytes", len(b))
				}
				// Overwrite everything after the first page (the schema stays readable).
				for i := 4096; i < len(b); i++ {
					b[i] = 0xA5
				}
				writeFile(t, p, b)
				return p
			},
			want: "",
		},
		{
			name: "directory",
			make: func(t *testing.T, dir string) string { return dir },
			want: "is a directory",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := tc.make(t, dir)
			before := hashFile(t, path)
			s, err := Open(path)
			if err == nil {
				s.Close()
				t.Fatalf("Open(%s) succeeded, want error", path)
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name the file %s", err, path)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
			if after := hashFile(t, path); after != before {
				t.Errorf("Open modified the refused file")
			}
			t.Logf("error: %v", err)
		})
	}
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
