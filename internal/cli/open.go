package cli

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/noprop/noprop/harness"
	"github.com/noprop/noprop/methods/catalog"
	"github.com/noprop/noprop/results"
)

// readResults opens a results database for a command that only reads it.
func readResults(path string) (*results.Store, error) {
	store, err := results.OpenReadOnly(path)
	if errors.Is(err, results.ErrNoResults) {
		return nil, fmt.Errorf("%w; run `noprop run` first, or name a database with --db", err)
	}
	return store, err
}

// journalUsage documents the --journal flag of the commands that write.
const journalUsage = "SQLite journal of the database: wal (the default for a new file; every process on one machine) or rollback (a file on a network file system, written by one process at a time); an existing file keeps its own"

// parseJournal reads the --journal flag; empty keeps the file's journal.
func parseJournal(s string) (results.Journal, error) {
	switch s {
	case "":
		return results.JournalAsIs, nil
	case "wal":
		return results.JournalWAL, nil
	case "rollback":
		return results.JournalRollback, nil
	}
	return 0, fmt.Errorf("--journal %q: want wal (processes on one machine) or rollback (a file on a network file system)", s)
}

// namedTwice returns the first two of paths that name one existing file,
// however they are spelt. A command opens every database once: SQLite's
// locks are per process and file, and closing a second descriptor of a file
// the process has open drops the locks the first connection holds.
func namedTwice(paths []string) (a, b string, ok bool) {
	infos := make([]os.FileInfo, len(paths))
	for i, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			continue // a missing file is reported by the command that opens it
		}
		for j, prev := range infos[:i] {
			if prev != nil && os.SameFile(prev, info) {
				return paths[j], p, true
			}
		}
		infos[i] = info
	}
	return "", "", false
}

// rehash gives the runs of a database the hashes of the current identity
// rules (harness.StoredHash), so that a run stored by an earlier version,
// or with a setting that no longer splits a configuration, counts as done.
func rehash(ctx context.Context, store *results.Store) error {
	_, err := store.Rehash(ctx, func(spec string) (string, bool) { return harness.StoredHash(spec, catalog.All) })
	return err
}
