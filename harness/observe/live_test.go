package observe

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/noprop/noprop/harness"
	"github.com/noprop/noprop/harness/harnesstest"
	"github.com/noprop/noprop/methods"
	"github.com/noprop/noprop/methods/backprop"
	"github.com/noprop/noprop/tasks"
	"golang.org/x/sys/unix"
)

func TestLiveShowsRunTaskAndRates(t *testing.T) {
	var out bytes.Buffer
	live := NewLive(&out, false)
	cat := methods.Catalog{backprop.Method}
	specs, err := harness.Sweep{Methods: []harness.MethodChoice{{Name: "backprop", Settings: []byte(`{"hidden":[16],"iterations":400,"batch_size":8}`)}},
		Datasets: []string{"synthetic"}, Streams: []string{tasks.KindSplit}, Tasks: 2, Scenarios: []string{"task"},
		Seeds: 2, FirstSeed: 1, InferenceRuns: 1}.Expand(cat, harnesstest.Classes)
	if err != nil {
		t.Fatal(err)
	}
	rn := &harness.Runner{Methods: cat, Load: harnesstest.Load, Observers: []harness.RunObserver{live, &during{f: func() { time.Sleep(300 * time.Millisecond) }}}}
	rep, err := rn.RunAll(context.Background(), specs, nil)
	live.Wait()
	if err != nil || rep.Ran != 2 {
		t.Fatalf("%+v, %v", rep, err)
	}
	s := out.String()
	for _, want := range []string{"run 1/2 backprop", "run 2/2 backprop", "task 1/2 epoch", "examples/s", "steps", "after task 2", "done in"} {
		if !strings.Contains(s, want) {
			t.Errorf("the display never showed %q:\n%s", want, s)
		}
	}
}

// TestLiveOneTaskBarAtATime: in the display's output stream, no frame
// holds the bars of two tasks: a task's bar leaves the screen when its task
// ends (a completed bar is not left behind).
func TestLiveOneTaskBarAtATime(t *testing.T) {
	term, screen := terminal(t)
	live := NewLive(term, false)
	cat := methods.Catalog{backprop.Method}
	ten := func(string) (int, error) { return 10, nil }
	load := func(string) (tasks.Dataset, error) {
		return tasks.Synthetic(tasks.SyntheticConfig{Classes: 10, TrainPer: 40, TestPer: 10, Shape: tasks.Shape{C: 1, H: 2, W: 3}, Noise: 0.3, Seed: 1})
	}
	specs, err := harness.Sweep{Methods: []harness.MethodChoice{{Name: "backprop", Settings: []byte(`{"hidden":[8],"iterations":150,"batch_size":4}`)}},
		Datasets: []string{"synthetic"}, Streams: []string{tasks.KindSplit}, Tasks: 5, Scenarios: []string{"task"},
		Seeds: 1, FirstSeed: 1, InferenceRuns: 1}.Expand(cat, ten)
	if err != nil {
		t.Fatal(err)
	}
	slow := &during{f: func() { time.Sleep(120 * time.Millisecond) }}
	rn := &harness.Runner{Methods: cat, Load: load, Observers: []harness.RunObserver{live, everyEpoch{slow}}}
	if _, err := rn.Run(context.Background(), specs[0]); err != nil {
		t.Fatal(err)
	}
	live.Wait()
	term.Close()
	out := screen()
	if !strings.Contains(out, "\x1b[") {
		t.Fatalf("the display drew no terminal frames:\n%q", out)
	}
	taskBar := regexp.MustCompile(`(?m)^task (\d)/5 epoch`)
	seen := map[string]bool{}
	// Every frame draws the batch bar first ("run ..."), then the task bars
	// (on a terminal, after moving the cursor back up over the last frame).
	for _, frame := range regexp.MustCompile(`\x1b\[\d+A`).Split(out, -1) {
		bars := taskBar.FindAllStringSubmatch(frame, -1)
		for _, m := range bars {
			seen[m[1]] = true
		}
		if len(bars) > 1 {
			t.Fatalf("one frame shows %d task bars:\n%s", len(bars), frame)
		}
	}
	if len(seen) < 3 {
		t.Errorf("the display showed the bars of tasks %v, want most of the five", seen)
	}

}

// everyEpoch runs its during's function after every epoch, not only the
// first, so the display draws frames while each task is learned.
type everyEpoch struct{ d *during }

func (e everyEpoch) Started(harness.RunInfo) {}
func (e everyEpoch) Epoch(harness.RunInfo, int, methods.EpochStats) {
	e.d.f()
}
func (e everyEpoch) Evaluated(harness.RunInfo, harness.Eval) error  { return nil }
func (e everyEpoch) Finished(harness.RunInfo, harness.Result) error { return nil }
func (e everyEpoch) Failed(harness.RunInfo, error, bool)            {}

// terminal opens a pseudo-terminal: the display writes to term as to a
// user's terminal, and screen returns everything it wrote (call it after
// closing term).
func terminal(t *testing.T) (term *os.File, screen func() string) {
	t.Helper()
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { ptmx.Close() })
	if err := unix.IoctlSetPointerInt(int(ptmx.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Skipf("unlock the pseudo-terminal: %v", err)
	}
	n, err := unix.IoctlGetInt(int(ptmx.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Skipf("pseudo-terminal number: %v", err)
	}
	term, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("open the pseudo-terminal: %v", err)
	}
	unix.IoctlSetWinsize(int(term.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 50, Col: 200})
	var buf bytes.Buffer
	done := make(chan struct{})
	go func() {
		io.Copy(&buf, ptmx)
		close(done)
	}()
	return term, func() string {
		select {
		case <-done:
		case <-time.After(2 * time.Second):
		}
		return buf.String()
	}
}
