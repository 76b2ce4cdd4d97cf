// Package specialfile makes the files that are not regular files (FIFOs,
// character devices) in a test's temporary folder, and reads a FIFO the
// way the other end of a shell pipe would: the output tests of package
// outfile and of the command line share it.
package specialfile

import (
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// Mkfifo makes a FIFO at path; it skips the test where FIFOs cannot be made.
func Mkfifo(t testing.TB, path string) {
	t.Helper()
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
}

// MknodNull makes a character device with /dev/null's numbers (1, 3) at
// path, as root only; it skips the test otherwise, or where devices cannot
// be opened (a nodev mount).
func MknodNull(t testing.TB, path string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("making a device needs root")
	}
	if err := syscall.Mknod(path, syscall.S_IFCHR|0o666, 1<<8|3); err != nil {
		t.Skipf("mknod: %v", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Skipf("devices cannot be opened here (a nodev mount?): %v", err)
	}
	f.Close()
}

// ReadFIFO starts reading the FIFO at path, as the other end of a shell
// pipe would, and returns a function that waits for what it read. When
// nothing opens the FIFO for writing, wait ends the reader and returns what
// it got (nothing) instead of hanging.
func ReadFIFO(t testing.TB, path string) (wait func() []byte) {
	t.Helper()
	// A second name for the FIFO, in another folder, reaches it even when
	// the write replaces the name path with a file.
	alias := filepath.Join(t.TempDir(), "fifo")
	if err := os.Link(path, alias); err != nil {
		t.Fatal(err)
	}
	got := make(chan []byte, 1)
	go func() {
		f, err := os.Open(path)
		if err != nil {
			got <- nil
			return
		}
		defer f.Close()
		b, _ := io.ReadAll(f)
		got <- b
	}()
	return func() []byte {
		t.Helper()
		select {
		case b := <-got:
			return b
		case <-time.After(2 * time.Second):
		}
		// No writer came: open the write end so that the reader ends.
		if w, err := os.OpenFile(alias, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			w.Close()
		}
		select {
		case b := <-got:
			return b
		case <-time.After(5 * time.Second):
			t.Fatalf("the reader of the FIFO %s never finished", path)
			return nil
		}
	}
}
