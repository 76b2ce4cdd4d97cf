package results

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// sqliteShared is the byte range of SQLite's shared lock on a database file
// (PENDING_BYTE + 2, 510 bytes): a connection in WAL mode holds it for as
// long as it is open, and a process closing the database deletes the
// write-ahead log only when it can lock that range exclusively.
const sqliteSharedStart, sqliteSharedLen = 0x40000000 + 2, 510

// TestWriterKeepsItsSharedLock: after Open, and after the work of a store,
// another process sees the store's shared lock on the file. A process that
// loses it (by closing another descriptor of the file: POSIX locks belong to
// the process) lets any other process that closes the database checkpoint
// and delete the write-ahead log under it, and every later write is lost.
func TestWriterKeepsItsSharedLock(t *testing.T) {
	if path := os.Getenv("NOPROP_LOCK_PROBE"); path != "" {
		f, err := os.Open(path)
		if err != nil {
			fmt.Println("error", err)
			return
		}
		lk := syscall.Flock_t{Type: syscall.F_WRLCK, Start: sqliteSharedStart, Len: sqliteSharedLen}
		if err := syscall.FcntlFlock(f.Fd(), syscall.F_GETLK, &lk); err != nil {
			fmt.Println("error", err)
			return
		}
		if lk.Type == syscall.F_UNLCK {
			fmt.Println("PROBE unlocked")
		} else {
			fmt.Println("PROBE locked")
		}
		return
	}
	path := filepath.Join(t.TempDir(), "results.db")
	for _, existed := range []bool{false, true} {
		s, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Runs(t.Context(), Filter{}); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(os.Args[0], "-test.run=^TestWriterKeepsItsSharedLock$")
		cmd.Env = append(os.Environ(), "NOPROP_LOCK_PROBE="+path)
		out, err := cmd.CombinedOutput()
		s.Close()
		if err != nil {
			t.Fatalf("probe: %v: %s", err, out)
		}
		if !strings.Contains(string(out), "PROBE locked") {
			t.Errorf("a store open on an existing file (%v) holds no shared lock another process can see: %s", existed, out)
		}
	}
}
