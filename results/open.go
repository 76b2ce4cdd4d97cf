package results

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mattn/go-sqlite3" // also registers the "sqlite3" database/sql driver
)

// ApplicationID marks an SQLite file as a results database (PRAGMA
// application_id). Its bytes spell "NoPr".
const ApplicationID = 0x4E6F5072

// BusyTimeout is how long a write waits for another connection or process
// that holds the database's write lock before it fails.
var BusyTimeout = 30 * time.Second

// sqliteHeader is the first 16 bytes of every SQLite 3 database file.
var sqliteHeader = []byte("SQLite format 3\x00")

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
				"a program that writes to the database rolls it back: `noprop merge OUT.db %s` does so before it copies, as does any `noprop run --db %s`",
				ErrHotJournal, path, path, path)
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
	mode, err := s.switchJournal(ctx, want)
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

// switchJournal sets the journal mode and returns the mode SQLite reports.
// Switching needs the file's exclusive lock, and SQLite answers "database
// is locked" at once, without its busy timeout, when another connection
// holds a lock this one would deadlock waiting for (two processes opening
// a new file together, one of them migrating it): such answers are tried
// again, briefly, until BusyTimeout has passed.
func (s *Store) switchJournal(ctx context.Context, want string) (string, error) {
	deadline := time.Now().Add(BusyTimeout)
	for pause := time.Millisecond; ; pause = min(2*pause, 100*time.Millisecond) {
		var mode string
		err := s.db.QueryRowContext(ctx, "PRAGMA journal_mode = "+want).Scan(&mode)
		if !isBusy(err) || time.Now().After(deadline) {
			return mode, err
		}
		time.Sleep(pause)
	}
}
