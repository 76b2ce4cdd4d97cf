package results

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/noprop/noprop/internal/testuser"
	"github.com/noprop/noprop/results/metrics"
)

// readOnlyDB makes, in a new folder, a database with one done run and sets
// the modes of folder and file.
func readOnlyDB(t *testing.T, dirMode, fileMode os.FileMode) string {
	t.Helper()
	dir := testuser.TempDir(t)
	path := filepath.Join(dir, "r.db")
	s := openT(t, path)
	completeRun(t, s, testRun("m", "h", 1, 2), fakeMatrix(2, 0), []metrics.Metric{{Name: metrics.ACC, Value: 55}}, Memory{})
	s.Close()
	if err := os.Chmod(path, fileMode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, dirMode); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestReadOnlyPlaces reads, as a user who may not write them, a database
// in a read-only folder and a read-only database in a writable folder;
// OpenReadOnly reads them and leaves the folder as it was, and Open refuses
// them with one line that says what to do.
func TestReadOnlyPlaces(t *testing.T) {
	tests := []struct {
		name              string
		dirMode, fileMode os.FileMode
		want              string // in Open's refusal
	}{
		{"read-only folder", 0o555, 0o644, "is read-only for this user"},
		{"read-only file", 0o777, 0o444, "the file is read-only for this user"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			testuser.Run(t, func(t *testing.T) string { return readOnlyDB(t, tc.dirMode, tc.fileMode) },
				func(t *testing.T, dir string) {
					path := filepath.Join(dir, "r.db")
					before := dirState(t, dir)
					s, err := OpenReadOnly(path)
					if err != nil {
						t.Fatalf("OpenReadOnly: %v", err)
					}
					sums, err := s.Summaries(t.Context(), Filter{})
					if err != nil || len(sums) != 1 || sums[0].Metrics[metrics.ACC].Mean != 55 {
						t.Errorf("summaries %+v, %v", sums, err)
					}
					s.Close()
					_, err = Open(path)
					if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "make ") ||
						strings.Contains(err.Error(), "\n") {
						t.Errorf("Open: %v, want one line containing %q and what to make writable", err, tc.want)
					}
					t.Logf("Open: %v", err)
					if after := dirState(t, dir); after != before {
						t.Errorf("the folder changed:\nbefore %s\nafter  %s", before, after)
					}
				})
		})
	}
}

// TestReadOnlyFolderWithWriter reads, from a read-only folder, a database
// whose writer is at work: its transactions are in the -wal file, which
// the reader must see through the writer's -shm.
func TestReadOnlyFolderWithWriter(t *testing.T) {
	var writer *Store
	testuser.Run(t, func(t *testing.T) string {
		dir := readOnlyDB(t, 0o755, 0o644)
		path := filepath.Join(dir, "r.db")
		writer = openT(t, path)
		// Keep the second run in the -wal: no checkpoint until close.
		if _, err := writer.db.Exec("PRAGMA wal_autocheckpoint = 0"); err != nil {
			t.Fatal(err)
		}
		completeRun(t, writer, testRun("m", "h", 2, 2), fakeMatrix(2, 0), []metrics.Metric{{Name: metrics.ACC, Value: 65}}, Memory{})
		if !walHoldsData(path) {
			t.Fatal("the -wal file holds nothing")
		}
		for _, p := range []string{path + "-wal", path + "-shm"} {
			if err := os.Chmod(p, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Chmod(dir, 0o555); err != nil {
			t.Fatal(err)
		}
		return dir
	}, func(t *testing.T, dir string) {
		s, err := OpenReadOnly(filepath.Join(dir, "r.db"))
		if err != nil {
			t.Fatalf("OpenReadOnly: %v", err)
		}
		defer s.Close()
		sums, err := s.Summaries(t.Context(), Filter{})
		if err != nil || len(sums) != 1 || sums[0].N != 2 || sums[0].Metrics[metrics.ACC].Mean != 60 {
			t.Errorf("summaries %+v, %v; want the 2 runs, one of them in the -wal", sums, err)
		}
		if _, err := s.StartRun(t.Context(), testRun("m", "h", 3, 2)); !errors.Is(err, ErrReadOnly) {
			t.Errorf("StartRun: %v, want ErrReadOnly", err)
		}
	})
	if writer != nil {
		writer.Close()
	}
}
