package results

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/noprop/noprop/internal/killedwriter"
	"github.com/noprop/noprop/internal/testuser"
	"github.com/noprop/noprop/results/metrics"
)

func journalMode(t *testing.T, s *Store) string {
	t.Helper()
	var mode string
	if err := s.db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil {
		t.Fatal(err)
	}
	return mode
}

// TestJournalIsKeptWithTheFile puts a new database in the rollback journal,
// checks that it leaves no -wal or -shm behind, that Open and OpenReadOnly
// keep it so, and that OpenJournal switches it back.
func TestJournalIsKeptWithTheFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "r.db")
	s, err := OpenJournal(path, JournalRollback)
	if err != nil {
		t.Fatal(err)
	}
	completeRun(t, s, testRun("m", "h", 1, 2), fakeMatrix(2, 0), []metrics.Metric{{Name: metrics.ACC, Value: 55}}, Memory{})
	if got := journalMode(t, s); got != "delete" {
		t.Errorf("journal mode %q, want delete", got)
	}
	for _, side := range []string{"-wal", "-shm", "-journal"} {
		if _, err := os.Stat(path + side); err == nil {
			t.Errorf("%s exists with the rollback journal, after every commit", side)
		}
	}
	s.Close()
	if !rollbackJournal(path) {
		t.Fatal("the header does not mark the rollback journal")
	}

	s = openT(t, path)
	if got := journalMode(t, s); got != "delete" {
		t.Errorf("Open switched the rollback journal to %q", got)
	}
	s.Close()
	r, err := OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	if sums, err := r.Summaries(t.Context(), Filter{}); err != nil || len(sums) != 1 {
		t.Errorf("read-only summaries %+v, %v; want the one run", sums, err)
	}
	r.Close()

	w, err := OpenJournal(path, JournalWAL)
	if err != nil {
		t.Fatal(err)
	}
	if got := journalMode(t, w); got != "wal" {
		t.Errorf("OpenJournal(JournalWAL): journal mode %q", got)
	}
	w.Close()
	if rollbackJournal(path) {
		t.Error("the header still marks the rollback journal after switching to WAL")
	}
}

// TestRollbackJournalNeedsOtherProgramsClosed switches a database that
// another Store has open from WAL to the rollback journal: one line says to
// close it first, and the other Store goes on writing.
func TestRollbackJournalNeedsOtherProgramsClosed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.db")
	other := openT(t, path)
	if _, err := other.StartRun(t.Context(), testRun("m", "h", 1, 2)); err != nil {
		t.Fatal(err)
	}
	_, err := OpenJournal(path, JournalRollback)
	if err == nil || !strings.Contains(err.Error(), "close the database in every other program") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("OpenJournal while another Store has it open: %v; want one line saying to close it", err)
	}
	if _, err := other.StartRun(t.Context(), testRun("m", "h", 2, 2)); err != nil {
		t.Errorf("the other Store cannot write after the refused switch: %v", err)
	}
	if got := journalMode(t, other); got != "wal" {
		t.Errorf("journal mode %q after the refused switch, want wal", got)
	}
}

// crashedMidCommit writes, in dir, a rollback-journal database with one
// done run as a writer killed in the middle of a large transaction leaves
// it (see killedwriter.Copy).
func crashedMidCommit(t *testing.T, dir string) string {
	t.Helper()
	live := filepath.Join(t.TempDir(), "live.db")
	s, err := OpenJournal(live, JournalRollback)
	if err != nil {
		t.Fatal(err)
	}
	completeRun(t, s, testRun("m", "h", 1, 2), fakeMatrix(2, 0), []metrics.Metric{{Name: metrics.ACC, Value: 55}}, Memory{})
	s.Close()
	path := filepath.Join(dir, "r.db")
	killedwriter.Copy(t, live, path)
	return path
}

// TestKilledWriterInRollbackJournal reads a database whose writer was killed
// while it committed: OpenReadOnly refuses it with ErrHotJournal in one
// line, Recover rolls the transaction back, and then the database holds
// what it held before the transaction. Open rolls it back too.
func TestKilledWriterInRollbackJournal(t *testing.T) {
	t.Run("OpenReadOnly and Recover", func(t *testing.T) {
		path := crashedMidCommit(t, t.TempDir())
		_, err := OpenReadOnly(path)
		if !errors.Is(err, ErrHotJournal) || strings.Contains(err.Error(), "\n") {
			t.Fatalf("OpenReadOnly: %v; want one line wrapping ErrHotJournal", err)
		}
		t.Logf("OpenReadOnly: %v", err)
		if err := Recover(path); err != nil {
			t.Fatal(err)
		}
		if journalHoldsData(path) {
			t.Error("the -journal still holds data after Recover")
		}
		r, err := OpenReadOnly(path)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		runs, err := r.Runs(t.Context(), Filter{})
		if err != nil || len(runs) != 1 {
			t.Errorf("runs %v, %v; want the one run from before the transaction", runs, err)
		}
		if !rollbackJournal(path) {
			t.Error("Recover changed the journal")
		}
	})
	t.Run("Open", func(t *testing.T) {
		path := crashedMidCommit(t, t.TempDir())
		// Killed after it wrote page 1, which counts the pages the
		// transaction grows the file to, and before it wrote them.
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		var head [100]byte
		if _, err := f.ReadAt(head[:], 0); err != nil {
			t.Fatal(err)
		}
		info, _ := f.Stat()
		pageSize := int64(binary.BigEndian.Uint16(head[16:18]))
		binary.BigEndian.PutUint32(head[28:32], uint32(info.Size()/pageSize+10))
		copy(head[92:96], head[24:28])
		if _, err := f.WriteAt(head[:], 0); err != nil {
			t.Fatal(err)
		}
		f.Close()
		s, err := Open(path)
		if err != nil {
			t.Fatalf("Open of a database left mid-commit: %v", err)
		}
		if runs, err := s.Runs(t.Context(), Filter{}); err != nil || len(runs) != 1 {
			t.Errorf("runs %v, %v; want the one run from before the transaction", runs, err)
		}
		s.Close()
	})
	t.Run("Recover of a clean database", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "r.db")
		s, err := OpenJournal(path, JournalRollback)
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		before, _ := os.ReadFile(path)
		if err := Recover(path); err != nil {
			t.Fatal(err)
		}
		if after, _ := os.ReadFile(path); string(after) != string(before) {
			t.Error("Recover changed a database without an unfinished transaction")
		}
		if err := Recover(filepath.Join(t.TempDir(), "none.db")); !errors.Is(err, ErrNoResults) {
			t.Errorf("Recover of a missing file: %v, want ErrNoResults", err)
		}
	})
}

// TestRollbackJournalInReadOnlyFolder reads a rollback-journal database, as
// a user who may not write there, in a read-only folder: it takes the
// file's lock and creates nothing.
func TestRollbackJournalInReadOnlyFolder(t *testing.T) {
	testuser.Run(t, func(t *testing.T) string {
		dir := testuser.TempDir(t)
		path := filepath.Join(dir, "r.db")
		s, err := OpenJournal(path, JournalRollback)
		if err != nil {
			t.Fatal(err)
		}
		completeRun(t, s, testRun("m", "h", 1, 2), fakeMatrix(2, 0), []metrics.Metric{{Name: metrics.ACC, Value: 55}}, Memory{})
		s.Close()
		if err := os.Chmod(dir, 0o555); err != nil {
			t.Fatal(err)
		}
		return dir
	}, func(t *testing.T, dir string) {
		before := dirState(t, dir)
		r, err := OpenReadOnly(filepath.Join(dir, "r.db"))
		if err != nil {
			t.Fatal(err)
		}
		if sums, err := r.Summaries(t.Context(), Filter{}); err != nil || len(sums) != 1 {
			t.Errorf("summaries %+v, %v", sums, err)
		}
		r.Close()
		if after := dirState(t, dir); after != before {
			t.Errorf("the folder changed:\nbefore %s\nafter  %s", before, after)
		}
	})
}
