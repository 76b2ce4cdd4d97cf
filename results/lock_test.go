package results

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
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

// TestWriterWaitsForALockAndKeepsItsWrite: another connection holds the
// database exclusively for longer than the busy timeout; a write says it
// waits, retries, and is stored once the lock goes, rather than failing
// (and discarding a trained task). Opening under the lock says what holds
// it and what to do.
func TestWriterWaitsForALockAndKeepsItsWrite(t *testing.T) {
	defer func(d time.Duration, w io.Writer) { BusyTimeout, LockWait = d, w }(BusyTimeout, LockWait)
	BusyTimeout = 100 * time.Millisecond
	var log bytes.Buffer
	var mu sync.Mutex
	LockWait = writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return log.Write(p) })

	path := filepath.Join(t.TempDir(), "results.db")
	s, id := storeWithRunning(t, path, 1)
	ctx := context.Background()
	holder, err := openDB(path, modeWrite)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	conn, err := holder.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, "BEGIN EXCLUSIVE"); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(path); err == nil || !strings.Contains(err.Error(), "is locked by another process") {
		t.Errorf("open under a lock: %v, want the lock named with its remedy", err)
	}
	released := make(chan struct{})
	go func() {
		time.Sleep(350 * time.Millisecond)
		conn.ExecContext(ctx, "ROLLBACK")
		conn.Close()
		close(released)
	}()
	if err := s.RecordEval(ctx, id, 0, EvalRow{Acc: []float64{0.5}}); err != nil {
		t.Fatalf("write under a lock: %v, want it to wait and succeed", err)
	}
	<-released
	mu.Lock()
	msg := log.String()
	mu.Unlock()
	if !strings.Contains(msg, "is locked by another process") || !strings.Contains(msg, "waiting for it") {
		t.Errorf("no waiting message: %q", msg)
	}
	m, err := s.Matrix(ctx, id)
	if err != nil || len(m) == 0 || m[0][0] != 0.5 {
		t.Errorf("stored row %v, %v: want the write kept", m, err)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
