package cli

import (
	"bytes"
	"syscall"
	"testing"
	"time"
)

// TestSecondInterruptExitsAtOnce: the first SIGINT cancels the context the
// commands watch; the second exits with status 130 without waiting.
func TestSecondInterruptExitsAtOnce(t *testing.T) {
	var stderr bytes.Buffer
	exited := make(chan int, 1)
	ctx, stop := interruptContext(&stderr, func(code int) { exited <- code })
	defer stop()
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the first interrupt did not cancel the context")
	}
	select {
	case code := <-exited:
		t.Fatalf("exited with %d after one interrupt", code)
	case <-time.After(50 * time.Millisecond):
	}
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-exited:
		if code != 130 {
			t.Errorf("exit status %d, want 130", code)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the second interrupt did not exit")
	}
	if !bytes.Contains(stderr.Bytes(), []byte("interrupted twice")) {
		t.Errorf("message %q", stderr.String())
	}
}
