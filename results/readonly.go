package results

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
)

// ErrNoDatabase is returned (wrapped) by OpenReadOnly when the file does not
// exist.
var ErrNoDatabase = errors.New("no results database")

// OpenReadOnly opens an existing results database for reading only: it never
// creates, migrates or otherwise writes the file. It refuses, with an error
// wrapping ErrNoDatabase, a path that does not exist, and, like Open, files
// that are not results databases or were written by a newer program; a
// database of an older schema must first be migrated by a command that
// writes (noprop run).
func OpenReadOnly(path string) (*Store, error) {
	if path == "" {
		return nil, errors.New("open results db: empty path")
	}
	info, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) || err == nil && info.Size() == 0 {
		return nil, fmt.Errorf("open results db %s: %w", path, ErrNoDatabase)
	}
	if _, err := checkFile(path); err != nil {
		return nil, fmt.Errorf("open results db %s: %w", path, err)
	}
	dsn, err := dataSourceName(path)
	if err != nil {
		return nil, fmt.Errorf("open results db %s: %w", path, err)
	}
	// A connection that may write but is told not to (query_only) lets the
	// last one to close remove the -wal and -shm files as usual; a read-only
	// one would leave them behind. A file we may not write is opened
	// read-only.
	mode := "&mode=rw&_query_only=true"
	if f, err := os.OpenFile(path, os.O_RDWR, 0); err != nil {
		mode = "&mode=ro"
	} else {
		f.Close()
	}
	db, err := sql.Open("sqlite3", dsn+mode)
	if err != nil {
		return nil, fmt.Errorf("open results db %s: %w", path, err)
	}
	s := &Store{db: db, path: path}
	if err := s.checkReadable(context.Background()); err != nil {
		db.Close()
		return nil, fmt.Errorf("open results db %s: %w", path, err)
	}
	return s, nil
}

// checkReadable accepts a results database of the current schema version.
func (s *Store) checkReadable(ctx context.Context) error {
	if err := s.checkIdentity(ctx, s.db); err != nil {
		return err
	}
	var version int
	if err := s.db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if version == 0 {
		return fmt.Errorf("holds no results schema: %w", ErrNoDatabase)
	}
	if version < len(migrations) {
		return fmt.Errorf("schema version %d is older than this program's %d; any command that writes (noprop run) migrates it",
			version, len(migrations))
	}
	return nil
}
