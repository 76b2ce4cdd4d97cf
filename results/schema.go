package results

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mattn/go-sqlite3" // also registers the "sqlite3" database/sql driver
	"golang.org/x/sys/unix"
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
	{
		// runs.seed holds a seed's 64 bits as SQLite's signed INTEGER:
		// the seed itself below 2^63, the seed minus 2^64 from 2^63 on.
		// seed_text spells every seed exactly, for readers and exports.
		description: "exact decimal of every seed",
		sql: `
ALTER TABLE runs ADD COLUMN seed_text TEXT GENERATED ALWAYS AS (printf('%llu', seed)) VIRTUAL;
`,
	},
	{
		description: "run owners, heartbeats and rerun generations",
		sql: `
ALTER TABLE runs ADD COLUMN generation INTEGER NOT NULL DEFAULT 0 CHECK (generation >= 0);
ALTER TABLE runs ADD COLUMN owner_pid INTEGER;
ALTER TABLE runs ADD COLUMN owner_start TEXT;
ALTER TABLE runs ADD COLUMN owner_token TEXT;
ALTER TABLE runs ADD COLUMN heartbeat_at TEXT;
CREATE UNIQUE INDEX runs_one_claim ON runs (config_hash, seed)
	WHERE status = 'running' AND owner_token IS NOT NULL;
CREATE TABLE reruns (
	config_hash  TEXT NOT NULL,
	seed         INTEGER NOT NULL,
	generation   INTEGER NOT NULL CHECK (generation >= 1),
	requested_at TEXT NOT NULL,
	PRIMARY KEY (config_hash, seed)
);
CREATE TABLE rerun_batches (
	batch_key    TEXT PRIMARY KEY,
	units        INTEGER NOT NULL,
	requested_at TEXT NOT NULL
);
`,
	},
	{
		description: "copies of runs that conflicted in a merge",
		sql: `
CREATE TABLE merge_conflicts (
	run_id      TEXT NOT NULL,
	source      TEXT NOT NULL,
	digest      TEXT NOT NULL,
	kept_digest TEXT NOT NULL,
	run_json    TEXT NOT NULL,
	merged_at   TEXT NOT NULL,
	PRIMARY KEY (run_id, digest)
);
`,
	},
	{
		description: "test accuracy in the training log",
		sql:         `ALTER TABLE epochs ADD COLUMN test_acc REAL;`,
	},
	{
		description: "named loss terms in the training log",
		sql:         `ALTER TABLE epochs ADD COLUMN terms TEXT;`,
	},
}

// SchemaVersion is the schema version this program writes: the number of
// migration steps it knows.
func SchemaVersion() int { return len(migrations) }

// The schema versions that added what a reader of an older database must do
// without (OpenReadOnly reads a database as it is, without migrating it).
const (
	versionInference = 2 // table inference_accuracy
	versionOwners    = 4 // runs.generation, owner_*, heartbeat_at; reruns, rerun_batches
	versionConflicts = 5 // table merge_conflicts
	versionTestAcc   = 6 // epochs.test_acc
	versionTerms     = 7 // epochs.terms
)

// ErrHotJournal is returned (wrapped) by OpenReadOnly for a database in the
// rollback journal whose writer was killed while it committed: reading it
// needs a rollback first, which Recover does.
var ErrHotJournal = errors.New("unfinished transaction in the rollback journal")

// OpenInput opens a database another process wrote, for reading. One
// whose writer was killed while it committed in the rollback journal is
// rolled back first, as its next writer would (Recover).
func OpenInput(path string) (*Store, error) {
	store, err := OpenReadOnly(path)
	if errors.Is(err, ErrHotJournal) {
		if err := Recover(path); err != nil {
			return nil, err
		}
		store, err = OpenReadOnly(path)
	}
	return store, err
}

// Recover rolls back the transaction that a writer, killed while it
// committed, left in the rollback journal of the database at path, as the
// next writer to open it would; it changes nothing else, neither the schema
// nor the journal. It does nothing to a database without such a
// transaction.
func Recover(path string) error {
	state, err := inspect(path)
	if err == nil && state != fileDatabase {
		err = fmt.Errorf("%w (no database)", ErrNoResults)
	}
	if err == nil {
		err = checkWritable(path, state)
	}
	if err == nil {
		var db *sql.DB
		if db, err = openDB(path, modeWrite); err == nil {
			// Any read by a writing connection rolls a hot journal back.
			var n int
			err = db.QueryRow("SELECT count(*) FROM sqlite_master").Scan(&n)
			if cerr := db.Close(); err == nil {
				err = cerr
			}
		}
	}
	if err != nil {
		return fmt.Errorf("recover results db %s: %w", path, explain(path, err))
	}
	return nil
}

// ErrNoResults is returned (wrapped) by OpenReadOnly for a path that holds
// no results database yet: no file, an empty file, or an SQLite file without
// tables.
var ErrNoResults = errors.New("no results database")

// ErrReadOnly is returned (wrapped) by the write methods of a Store opened
// with OpenReadOnly.
var ErrReadOnly = errors.New("opened read-only")

// A Store is an open results database. It is safe for concurrent use by
// several goroutines; several Stores (in one or several processes) may use
// the same file at once.
type Store struct {
	db       *sql.DB
	path     string
	readOnly bool
	// version is the database's schema version: SchemaVersion() for a
	// Store opened by Open, the file's own for one opened by OpenReadOnly.
	version int
}

// Open opens the results database at path for reading and writing, creating
// it if it does not exist, and migrates it to the current schema version in
// one transaction.
//
// Open refuses, without modifying the file and with an error of one line
// that says what to do: a file or folder this user cannot write (SQLite
// writes its -wal and -shm files beside the database), a file that is not an
// SQLite database, an SQLite database of another application, a truncated or
// damaged database, and a database written by a newer version of this
// program.
//
// A new database gets a write-ahead log; an existing one keeps the journal
// it has (see Journal and OpenJournal).
func Open(path string) (*Store, error) {
	return OpenJournal(path, JournalAsIs)
}

// Journal is how a database file keeps its transactions atomic. It is a
// property of the file: Open keeps it, OpenJournal sets it.
type Journal int

// The journals.
const (
	// JournalAsIs keeps an existing database's journal and gives a new
	// one a write-ahead log.
	JournalAsIs Journal = iota
	// JournalWAL is SQLite's write-ahead log (-wal and -shm files beside
	// the database): readers never wait for the writer. Every process
	// that opens the file shares the -shm file as memory, so they must
	// all run on one machine; not for network file systems.
	JournalWAL
	// JournalRollback is SQLite's rollback journal (a -journal file
	// beside the database while a transaction commits): no shared
	// memory, only file locks, so a file on a network file system may be
	// written from any machine, by one process at a time, and read from
	// others; readers and the writer wait for each other.
	JournalRollback
)

// OpenJournal is Open, and sets the database's journal (JournalAsIs is
// Open). Switching an existing database from the write-ahead log to the
// rollback journal needs it closed by every other process.
func OpenJournal(path string, j Journal) (*Store, error) {
	if path == "" {
		return nil, errors.New("open results db: empty path")
	}
	s, err := open(path, j)
	if err != nil {
		return nil, fmt.Errorf("open results db %s: %w", path, err)
	}
	return s, nil
}

func open(path string, j Journal) (*Store, error) {
	state, err := inspect(path)
	if err != nil {
		return nil, err
	}
	if err := checkWritable(path, state); err != nil {
		return nil, err
	}
	db, err := openDB(path, modeWrite)
	if err != nil {
		return nil, err
	}
	s := &Store{db: db, path: path, version: len(migrations)}
	if err := s.init(state == fileDatabase, j); err != nil {
		db.Close()
		return nil, explain(path, err)
	}
	return s, nil
}

// OpenReadOnly opens the results database at path for reading only. It
// never writes: not to the file, not its schema into an empty file, and it
// reads an older schema version as it is, without migrating. It works on a
// read-only file and in a read-only folder.
//
// A missing or empty file, or an SQLite file without tables, is refused with
// an error wrapping ErrNoResults; other files are refused as by Open.
//
// In WAL mode readers share the writers' -shm file, and SQLite creates it
// (with an empty -wal) when it is missing, which a read-only folder forbids
// and which would leave files of this user behind in another user's folder.
// So when the -wal file is missing or empty, and the database file therefore
// holds every committed transaction, the file is read as immutable: without
// -shm and without locks. A writer that starts while it is read writes to its
// own new -wal, which the reader does not see; only a checkpoint in the
// middle of the read (when that writer closes) could show the reader a page
// half old and half new, which SQLite reports as damage. With a -wal that
// holds transactions (a writer is at work, or died), the file is read
// through the -shm, as SQLite readers do. A database in the rollback
// journal (see Journal) is always read with the file's shared lock, since
// its writer changes the file itself.
func OpenReadOnly(path string) (*Store, error) {
	if path == "" {
		return nil, errors.New("read results db: empty path")
	}
	s, err := openReadOnly(path)
	if err != nil {
		return nil, fmt.Errorf("read results db %s: %w", path, err)
	}
	return s, nil
}

func openReadOnly(path string) (*Store, error) {
	state, err := inspect(path)
	switch {
	case err != nil:
		return nil, err
	case state == fileMissing:
		return nil, fmt.Errorf("%w (no such file)", ErrNoResults)
	case state == fileEmpty:
		return nil, fmt.Errorf("%w (an empty file)", ErrNoResults)
	}
	if rollbackJournal(path) {
		// A rollback-journal database is written in place: a reader
		// takes the file's shared lock, as its writers expect.
		s, err := readStore(path, modeRead)
		var e sqlite3.Error
		if errors.As(err, &e) && e.Code == sqlite3.ErrReadonly && journalHoldsData(path) {
			return nil, fmt.Errorf("%w: %s-journal holds a transaction that a writer, killed while it committed, left unfinished; "+
				"a program that writes to the database rolls it back", ErrHotJournal, path)
		}
		return s, err
	}
	if walHoldsData(path) {
		return readStore(path, modeRead)
	}
	s, err := readStore(path, modeReadImmutable)
	var damage *damageError
	if errors.As(err, &damage) && walHoldsData(path) {
		// A writer started and checkpointed while the file was read.
		return readStore(path, modeRead)
	}
	return s, err
}

// journalHoldsData reports whether the database's -journal file is there and
// not empty.
func journalHoldsData(path string) bool {
	info, err := os.Stat(path + "-journal")
	return err == nil && info.Size() > 0
}

// walHoldsData reports whether the database's -wal file holds transactions.
func walHoldsData(path string) bool {
	info, err := os.Stat(path + "-wal")
	return err == nil && info.Size() > 0
}

// rollbackJournal reports whether the database at path uses the rollback
// journal: its header's write and read versions (bytes 18 and 19) are 1,
// where a write-ahead-log database has 2.
func rollbackJournal(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	var v [2]byte
	_, err = f.ReadAt(v[:], 18)
	return err == nil && v == [2]byte{1, 1}
}

// readStore opens a read-only Store and checks the database.
func readStore(path string, mode openMode) (*Store, error) {
	db, err := openDB(path, mode)
	if err != nil {
		return nil, err
	}
	s := &Store{db: db, path: path, readOnly: true}
	ctx := context.Background()
	id, err := readIdentity(ctx, db)
	if err == nil && id.blank() {
		err = fmt.Errorf("%w (an SQLite file without tables)", ErrNoResults)
	}
	if err == nil {
		err = id.check()
	}
	if err == nil {
		err = s.quickCheck(ctx)
	}
	if err != nil {
		db.Close()
		return nil, explain(path, err)
	}
	s.version = id.version
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

// openMode is how openDB opens a database.
type openMode int

const (
	modeWrite         openMode = iota // read and write, create if missing
	modeRead                          // read only, sharing the writers' -shm
	modeReadImmutable                 // read only, no locks, no -shm
)

// openDB opens path with the connection settings every connection of the
// pool needs. Writers get foreign keys, full fsync on commit, and BEGIN
// IMMEDIATE for transactions so that two writers never deadlock upgrading a
// read lock; everyone gets the busy timeout.
func openDB(path string, mode openMode) (*sql.DB, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	u := url.URL{Path: filepath.ToSlash(abs)}
	q := url.Values{}
	q.Set("_busy_timeout", fmt.Sprint(BusyTimeout.Milliseconds()))
	switch mode {
	case modeWrite:
		q.Set("_foreign_keys", "1")
		q.Set("_synchronous", "FULL")
		q.Set("_txlock", "immediate")
	case modeRead:
		q.Set("mode", "ro")
	case modeReadImmutable:
		q.Set("mode", "ro")
		q.Set("immutable", "1")
	}
	return sql.Open("sqlite3", "file:"+u.EscapedPath()+"?"+q.Encode())
}

// init checks an existing database, sets its journal and migrates.
func (s *Store) init(existed bool, j Journal) error {
	ctx := context.Background()
	if existed {
		id, err := readIdentity(ctx, s.db)
		if err != nil {
			return err
		}
		if err := id.check(); err != nil {
			return err
		}
		if err := s.quickCheck(ctx); err != nil {
			return err
		}
	}
	if j == JournalAsIs {
		j = JournalWAL
		if existed {
			// Asked of SQLite, not read from the file: closing any
			// other descriptor of the database file would drop this
			// process's POSIX locks on it, and with them the shared
			// lock that tells another process closing the database
			// that this one still uses its write-ahead log.
			var cur string
			if err := s.db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&cur); err != nil {
				return err
			}
			if !strings.EqualFold(cur, "wal") {
				j = JournalRollback
			}
		}
	}
	want := "wal"
	if j == JournalRollback {
		want = "delete"
	}
	var mode string
	err := s.db.QueryRowContext(ctx, "PRAGMA journal_mode = "+want).Scan(&mode)
	if err == nil && !strings.EqualFold(mode, want) {
		err = fmt.Errorf("journal mode is still %s", mode)
	}
	if err != nil {
		if j == JournalRollback {
			return fmt.Errorf("switch to the rollback journal: %w; close the database in every other program first", err)
		}
		return fmt.Errorf("set WAL mode: %w", err)
	}
	return s.migrate(ctx)
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
	id, err := readIdentity(ctx, tx)
	if err != nil {
		return err
	}
	if err := id.check(); err != nil {
		return err
	}
	if id.version == len(migrations) {
		return tx.Rollback()
	}
	now := formatTime(time.Now())
	for v := id.version; v < len(migrations); v++ {
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
