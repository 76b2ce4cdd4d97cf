package results

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/mattn/go-sqlite3"
)

// inTx runs f in one transaction (BEGIN IMMEDIATE, see openDB) and
// commits it, or rolls it back if f or the commit fails. When another
// process holds the database locked for longer than BusyTimeout, it says
// so on LockWait and tries the whole transaction again, until ctx ends:
// what a run has trained is stored late rather than lost.
func (s *Store) inTx(ctx context.Context, f func(*sql.Tx) error) error {
	if s.readOnly {
		return fmt.Errorf("results db %s: %w", s.path, ErrReadOnly)
	}
	waited := time.Duration(0)
	for {
		err := s.tryTx(ctx, f)
		if !isBusy(err) || ctx.Err() != nil {
			return err
		}
		waited += BusyTimeout
		if LockWait != nil {
			fmt.Fprintf(LockWait, "noprop: results db %s is locked by another process (%s so far); waiting for it, Ctrl-C to stop (what is stored stays)\n",
				s.path, waited.Round(time.Second))
		}
	}
}

// LockWait receives the line inTx writes each time it has waited
// BusyTimeout for a lock; nil says nothing.
var LockWait io.Writer = os.Stderr

// isBusy reports whether err is SQLite's "database is locked".
func isBusy(err error) bool {
	var e sqlite3.Error
	return errors.As(err, &e) && (e.Code == sqlite3.ErrBusy || e.Code == sqlite3.ErrLocked)
}

// tryTx is one attempt of inTx.
func (s *Store) tryTx(ctx context.Context, f func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	if err := f(tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}
