// Package killedwriter makes, for tests, the state in which a writer
// killed while it committed leaves an SQLite database in the rollback
// journal: pages of an unfinished transaction in the file, their originals
// in a hot -journal beside it.
package killedwriter

import (
	"database/sql"
	"io"
	"os"
	"strings"
	"testing"

	_ "github.com/mattn/go-sqlite3" // the "sqlite3" database/sql driver
)

// Copy starts, in the rollback-journal database live, a transaction large
// enough to spill into the file (it adds a table of filler rows and
// deletes every run), copies the database and its -journal to dst and
// dst-journal while the transaction is open, then rolls it back: live is
// as it was, and dst is what a writer killed in the middle of that commit
// leaves.
func Copy(t testing.TB, live, dst string) {
	t.Helper()
	db, err := sql.Open("sqlite3", live)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	// A small page cache spills the transaction's pages into the file
	// before it commits.
	for _, q := range []string{"PRAGMA cache_size = 10", "CREATE TABLE IF NOT EXISTS filler (x TEXT)"} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	for range 2000 {
		if _, err := tx.Exec("INSERT INTO filler VALUES (?)", strings.Repeat("x", 500)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tx.Exec("DELETE FROM runs"); err != nil {
		t.Fatal(err)
	}
	for _, side := range []string{"", "-journal"} {
		copyFile(t, live+side, dst+side)
	}
	if info, err := os.Stat(dst + "-journal"); err != nil || info.Size() == 0 {
		t.Fatalf("the writer left no -journal (%v): is %s in the rollback journal?", err, live)
	}
}

func copyFile(t testing.TB, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}
