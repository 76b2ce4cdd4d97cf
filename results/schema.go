package results

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "github.com/mattn/go-sqlite3" // registers the "sqlite3" database/sql driver
)

// ApplicationID marks an SQLite file as a results database (PRAGMA
// application_id). Its bytes spell "NoPr".
const ApplicationID = 0x4E6F5072

// BusyTimeout is how long a write waits for another connection or process
// that holds the database's write lock before it fails.
const BusyTimeout = 30 * time.Second

// sqliteHeader is the first 16 bytes of every SQLite 3 database file.
var sqliteHeader = []byte("SQLite format 3\x00")

// A migration is one step of the schema. Step i (0-based) brings the
// database from version i to version i+1. Steps are only ever appended:
// a released step is never edited, since databases in the field already
// contain its result.
type migration struct {
	description string
	sql         string
}

// migrations is the ordered list of schema steps. It is a variable only so
// that tests can add a failing step.
var migrations = []migration{
	{
		description: "runs, accuracy, epochs, metrics",
		sql: `
CREATE TABLE migrations (
	version     INTEGER PRIMARY KEY,
	description TEXT NOT NULL,
	applied_at  TEXT NOT NULL
);
CREATE TABLE runs (
	id              TEXT PRIMARY KEY,
	spec_json       TEXT NOT NULL,
	config_hash     TEXT NOT NULL,
	method          TEXT NOT NULL,
	stream          TEXT NOT NULL,
	scenario        TEXT NOT NULL,
	seed            INTEGER NOT NULL,
	program_version TEXT NOT NULL DEFAULT '',
	host            TEXT NOT NULL DEFAULT '',
	choices_json    TEXT,
	status          TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed', 'interrupted')),
	error           TEXT,
	started_at      TEXT NOT NULL,
	ended_at        TEXT,
	num_tasks       INTEGER NOT NULL CHECK (num_tasks >= 1),
	peak_heap_bytes INTEGER,
	peak_rss_bytes  INTEGER
);
CREATE INDEX runs_by_config ON runs (config_hash, seed, status);
CREATE INDEX runs_by_group ON runs (stream, scenario, method);
CREATE TABLE accuracy (
	run_id     TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
	after_task INTEGER NOT NULL CHECK (after_task >= 0),
	eval_task  INTEGER NOT NULL CHECK (eval_task >= 1),
	accuracy   REAL,
	note       TEXT,
	PRIMARY KEY (run_id, after_task, eval_task)
);
CREATE TABLE epochs (
	run_id    TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
	task      INTEGER NOT NULL,
	line      INTEGER NOT NULL,
	epoch     INTEGER NOT NULL,
	part      TEXT NOT NULL DEFAULT '',
	loss      REAL,
	train_acc REAL,
	seconds   REAL,
	examples  INTEGER,
	PRIMARY KEY (run_id, task, line)
);
CREATE TABLE metrics (
	run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
	name   TEXT NOT NULL,
	value  REAL,
	note   TEXT,
	PRIMARY KEY (run_id, name)
);
`,
	},
	{
		description: "accuracy of every inference run",
		sql: `
CREATE TABLE inference_accuracy (
	run_id        TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
	after_task    INTEGER NOT NULL CHECK (after_task >= 0),
	eval_task     INTEGER NOT NULL CHECK (eval_task >= 1),
	inference_run INTEGER NOT NULL CHECK (inference_run >= 1),
	accuracy      REAL,
	PRIMARY KEY (run_id, after_task, eval_task, inference_run)
);
`,
	},
}

// SchemaVersion is the schema version this program writes: the number of
// migration steps it knows.
func SchemaVersion() int { return len(migrations) }

// A Store is an open results database. It is safe for concurrent use by
// several goroutines; several Stores (in one or several processes) may use
// the same file at once.
type Store struct {
	db   *sql.DB
	path string
}

// Open opens the results database at path, creating it if it does not exist,
// and migrates it to the current schema version in one transaction.
//
// Open refuses, without modifying the file, a file that is not an SQLite
// database, an SQLite database of another application, a database that fails
// SQLite's quick integrity check, and a database written by a newer version
// of this program.
func Open(path string) (*Store, error) {
	if path == "" {
		return nil, errors.New("open results db: empty path")
	}
	existed, err := checkFile(path)
	if err != nil {
		return nil, fmt.Errorf("open results db %s: %w", path, err)
	}
	dsn, err := dataSourceName(path)
	if err != nil {
		return nil, fmt.Errorf("open results db %s: %w", path, err)
	}
	db, err := sql.Open("sqlite3", dsn)
	if err != nil {
		return nil, fmt.Errorf("open results db %s: %w", path, err)
	}
	s := &Store{db: db, path: path}
	if err := s.init(existed); err != nil {
		db.Close()
		return nil, fmt.Errorf("open results db %s: %w", path, err)
	}
	return s, nil
}

// Path returns the file name the Store was opened with.
func (s *Store) Path() string { return s.path }

// Close closes the database. Pending writes have already been committed:
// every write method commits before it returns.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close results db %s: %w", s.path, err)
	}
	return nil
}

// checkFile reports whether path exists with content, and refuses anything
// that is not an SQLite 3 file before SQLite gets to touch it.
func checkFile(path string) (existed bool, err error) {
	info, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if info.IsDir() {
		return false, errors.New("is a directory")
	}
	if info.Size() == 0 {
		return false, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	head := make([]byte, len(sqliteHeader))
	if _, err := io.ReadFull(f, head); err != nil || !bytes.Equal(head, sqliteHeader) {
		return false, errors.New("not an SQLite database (bad file header); the file was left unchanged")
	}
	return true, nil
}

// dataSourceName builds a go-sqlite3 URI for path with the connection
// settings every connection of the pool needs: busy timeout, foreign keys,
// full fsync on commit, and BEGIN IMMEDIATE for transactions so that two
// writers never deadlock upgrading a read lock.
func dataSourceName(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	u := url.URL{Path: filepath.ToSlash(abs)}
	q := url.Values{}
	q.Set("_busy_timeout", fmt.Sprint(BusyTimeout.Milliseconds()))
	q.Set("_foreign_keys", "1")
	q.Set("_synchronous", "FULL")
	q.Set("_txlock", "immediate")
	return "file:" + u.EscapedPath() + "?" + q.Encode(), nil
}

// init checks an existing database, turns on WAL mode and migrates.
func (s *Store) init(existed bool) error {
	ctx := context.Background()
	if existed {
		if err := s.checkIdentity(ctx, s.db); err != nil {
			return err
		}
		var result string
		if err := s.db.QueryRowContext(ctx, "PRAGMA quick_check").Scan(&result); err != nil {
			return fmt.Errorf("integrity check: %w", err)
		}
		if result != "ok" {
			if len(result) > 300 {
				result = result[:300] + " ..."
			}
			return fmt.Errorf("integrity check failed: %s; the file was left unchanged", result)
		}
	}
	var mode string
	if err := s.db.QueryRowContext(ctx, "PRAGMA journal_mode = WAL").Scan(&mode); err != nil {
		return fmt.Errorf("set WAL mode: %w", err)
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("set WAL mode: journal mode is %q", mode)
	}
	return s.migrate(ctx)
}

// querier is what checkIdentity needs of *sql.DB and *sql.Tx.
type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// checkIdentity refuses databases of other applications and of newer
// versions of this program. It only reads.
func (s *Store) checkIdentity(ctx context.Context, q querier) error {
	var appID, version, tables int
	if err := q.QueryRowContext(ctx, "PRAGMA application_id").Scan(&appID); err != nil {
		return fmt.Errorf("read application id: %w", err)
	}
	if err := q.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if appID != 0 && appID != ApplicationID {
		return fmt.Errorf("not a results database (SQLite application id %#x); the file was left unchanged", appID)
	}
	if version > len(migrations) {
		return fmt.Errorf("schema version %d is newer than this program's %d; use a newer build; the file was left unchanged",
			version, len(migrations))
	}
	if appID == 0 && version == 0 {
		if err := q.QueryRowContext(ctx,
			"SELECT count(*) FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%'").Scan(&tables); err != nil {
			return fmt.Errorf("list tables: %w", err)
		}
		if tables > 0 {
			return errors.New("an SQLite database with tables but no results schema; the file was left unchanged")
		}
	}
	return nil
}

// migrate applies the missing migration steps in one transaction. BEGIN
// IMMEDIATE takes the write lock first, so two processes opening a fresh
// file at once migrate it once.
func (s *Store) migrate(ctx context.Context) (err error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate: begin: %w", err)
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	// Re-check inside the transaction: another process may have migrated
	// (or created a foreign database) since the first look.
	if err := s.checkIdentity(ctx, tx); err != nil {
		return err
	}
	var version int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return fmt.Errorf("migrate: read schema version: %w", err)
	}
	if version == len(migrations) {
		return tx.Rollback()
	}
	now := formatTime(time.Now())
	for v := version; v < len(migrations); v++ {
		m := migrations[v]
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			return fmt.Errorf("migrate to version %d (%s): %w; nothing was changed", v+1, m.description, err)
		}
		if _, err := tx.ExecContext(ctx,
			"INSERT INTO migrations (version, description, applied_at) VALUES (?, ?, ?)",
			v+1, m.description, now); err != nil {
			return fmt.Errorf("migrate to version %d: record step: %w; nothing was changed", v+1, err)
		}
	}
	// PRAGMA arguments cannot be bound; both values are integers of ours.
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", len(migrations))); err != nil {
		return fmt.Errorf("migrate: set schema version: %w", err)
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA application_id = %d", ApplicationID)); err != nil {
		return fmt.Errorf("migrate: set application id: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrate: commit: %w", err)
	}
	return nil
}
