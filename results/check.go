package results

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/mattn/go-sqlite3" // also registers the "sqlite3" database/sql driver
	"golang.org/x/sys/unix"
)

// fileState is what inspect found at a database path.
type fileState int

const (
	fileMissing  fileState = iota // no file
	fileEmpty                     // a file of 0 bytes
	fileDatabase                  // an SQLite 3 database, by its header
)

// inspect says what is at path, and refuses anything that is not a whole
// SQLite 3 file before SQLite gets to touch it.
func inspect(path string) (fileState, error) {
	info, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return fileMissing, nil
	}
	if err != nil {
		return 0, err
	}
	if info.IsDir() {
		return 0, errors.New("is a directory; name a database file")
	}
	if info.Size() == 0 {
		return fileEmpty, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var head [100]byte
	n, err := io.ReadFull(f, head[:])
	if n < len(sqliteHeader) || !bytes.Equal(head[:len(sqliteHeader)], sqliteHeader) {
		return 0, errors.New("not an SQLite database (bad file header); the file was left unchanged: check the path")
	}
	if err != nil {
		return 0, damaged(path, fmt.Sprintf("truncated: %d bytes, shorter than the 100-byte SQLite header", n))
	}
	return fileDatabase, checkSize(path, head[:], info.Size())
}

// checkSize refuses a database file shorter than its header says, which is
// what a copy cut short or a full disk leaves. It trusts the header's page
// count only when SQLite marks it valid, and only when no write-ahead log
// holds newer pages: in the middle of a checkpoint the file may lag the log,
// and SQLite repairs that itself.
func checkSize(path string, head []byte, size int64) error {
	pageSize := int64(binary.BigEndian.Uint16(head[16:18]))
	if pageSize == 1 {
		pageSize = 65536
	}
	if pageSize < 512 || pageSize&(pageSize-1) != 0 {
		return damaged(path, fmt.Sprintf("damaged SQLite header (page size %d)", pageSize))
	}
	pages := int64(binary.BigEndian.Uint32(head[28:32]))
	if pages == 0 || !bytes.Equal(head[24:28], head[92:96]) {
		return nil
	}
	// A process killed while it committed in the rollback journal may
	// leave the file short of its header, and the -journal that SQLite
	// rolls it back with.
	if walHoldsData(path) || journalHoldsData(path) {
		return nil
	}
	if want := pages * pageSize; size < want {
		return damaged(path, fmt.Sprintf("truncated: %d bytes of the %d its header counts (%d pages of %d bytes)",
			size, want, pages, pageSize))
	}
	return nil
}

// damageError reports a database file SQLite cannot read whole.
type damageError struct{ msg string }

func (e *damageError) Error() string { return e.msg }

// damaged is the error for a database file SQLite cannot read whole: what
// is wrong, and what to do.
func damaged(path, what string) error {
	return &damageError{fmt.Sprintf("%s; the file was left unchanged: restore it from a backup, or salvage the readable runs with `sqlite3 %s .recover | sqlite3 recovered.db`",
		what, path)}
}

// explain turns SQLite's report of a damaged file into damaged's advice.
func explain(path string, err error) error {
	var e sqlite3.Error
	if errors.As(err, &e) && (e.Code == sqlite3.ErrCorrupt || e.Code == sqlite3.ErrNotADB) {
		return damaged(path, "damaged ("+oneLine(err.Error())+")")
	}
	return err
}

// oneLine joins the lines of a message SQLite spreads over several.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", "; ")), " ")
}

// CheckWritable refuses, without creating or changing anything, a
// database path Open could not write: a folder that is missing or not
// writable, a file that is read-only for this user. A command that will
// write calls it before any slower work.
func CheckWritable(path string) error {
	state, err := inspect(path)
	if err == nil {
		err = checkWritable(path, state)
	}
	if err != nil {
		return fmt.Errorf("results db %s: %w", path, err)
	}
	return nil
}

// checkWritable refuses, before SQLite opens anything, a database a writer
// could open but not write: every write would fail later, one by one.
func checkWritable(path string, state fileState) error {
	dir := filepath.Dir(path)
	info, err := os.Stat(dir)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("folder %s does not exist; create it first", dir)
	}
	if err != nil {
		return err
	}
	if !info.IsDir() {
		return fmt.Errorf("%s is not a folder", dir)
	}
	if state != fileMissing {
		if err := unix.Access(path, unix.W_OK); err != nil {
			return fmt.Errorf("the file is read-only for this user (%v); make it writable to add runs (reading it needs no write access)", err)
		}
	}
	if err := unix.Access(dir, unix.W_OK|unix.X_OK); err != nil {
		return fmt.Errorf("folder %s is read-only for this user (%v), and SQLite writes its -wal and -shm files beside the database; make the folder writable or move the database (reading it needs no write access)", dir, err)
	}
	for _, side := range []string{path + "-wal", path + "-shm", path + "-journal"} {
		if _, err := os.Stat(side); err != nil {
			continue
		}
		if err := unix.Access(side, unix.W_OK); err != nil {
			return fmt.Errorf("%s is read-only for this user (%v); its owner can remove it while no program has the database open", side, err)
		}
	}
	return nil
}

// quickCheck runs SQLite's quick integrity check and reports its findings
// on one line: the first problem and how many more there are (of the first
// 100 it reports).
func (s *Store) quickCheck(ctx context.Context) error {
	const most = 100
	rows, err := s.db.QueryContext(ctx, fmt.Sprintf("PRAGMA quick_check(%d)", most))
	if err != nil {
		return fmt.Errorf("integrity check: %w", err)
	}
	defer rows.Close()
	// One row may hold several problems, a line each, under a heading.
	var problems []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			return fmt.Errorf("integrity check: %w", err)
		}
		for line := range strings.Lines(p) {
			if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "*** in database") {
				problems = append(problems, line)
			}
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("integrity check: %w", err)
	}
	if len(problems) == 0 || (len(problems) == 1 && problems[0] == "ok") {
		return nil
	}
	first := problems[0]
	if len(first) > 200 {
		first = first[:200] + " ..."
	}
	more := ""
	if n := len(problems) - 1; n > 0 {
		more = fmt.Sprintf(" (and %d more problems)", n)
	}
	return damaged(s.path, "integrity check failed: "+first+more)
}

// querier is what single-row reads need of *sql.DB and *sql.Tx.
type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// identity is what a database says it is.
type identity struct {
	appID, version, tables int
}

// readIdentity reads a database's application id, schema version and
// number of tables. It only reads.
func readIdentity(ctx context.Context, q querier) (identity, error) {
	var id identity
	if err := q.QueryRowContext(ctx, "PRAGMA application_id").Scan(&id.appID); err != nil {
		return id, fmt.Errorf("read application id: %w", err)
	}
	if err := q.QueryRowContext(ctx, "PRAGMA user_version").Scan(&id.version); err != nil {
		return id, fmt.Errorf("read schema version: %w", err)
	}
	if err := q.QueryRowContext(ctx,
		"SELECT count(*) FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%'").Scan(&id.tables); err != nil {
		return id, fmt.Errorf("list tables: %w", err)
	}
	return id, nil
}

// blank reports an SQLite database that holds nothing yet.
func (id identity) blank() bool { return id.appID == 0 && id.version == 0 && id.tables == 0 }

// check refuses databases of other applications and of newer versions of
// this program.
func (id identity) check() error {
	if id.appID != 0 && id.appID != ApplicationID {
		return fmt.Errorf("not a results database (SQLite application id %#x); the file was left unchanged: check the path", id.appID)
	}
	if id.version > len(migrations) {
		return fmt.Errorf("schema version %d is newer than this program's %d; the file was left unchanged: use a newer build of this program",
			id.version, len(migrations))
	}
	if id.appID == 0 && id.version == 0 && id.tables > 0 {
		return errors.New("an SQLite database with tables but no results schema; the file was left unchanged: check the path")
	}
	return nil
}
