package results

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/noprop/noprop/results/metrics"
)

// unitRun is a 2-task run of the unit ("cfg", seed).
func unitRun(seed uint64) Run { return testRun("m", "cfg", seed, 2) }

// peerOwner is an owner as another process of this machine would be: this
// process's pid and start (so it is alive) with a token of its own.
func peerOwner(t *testing.T) Owner {
	t.Helper()
	me, err := CurrentOwner()
	if err != nil {
		t.Fatal(err)
	}
	token, err := NewID()
	if err != nil {
		t.Fatal(err)
	}
	me.Token = token
	return me
}

// train records every row of a 2-task run (cells offset by off) and
// finishes it.
func train(s *Store, id string, off float64) error {
	ctx := context.Background()
	for i, row := range fakeMatrix(2, off) {
		if err := s.RecordEval(ctx, id, i, EvalRow{Acc: row, Epochs: []Epoch{{Epoch: 1, Loss: 0.5}}}); err != nil {
			return err
		}
	}
	return s.FinishRun(ctx, id, []metrics.Metric{{Name: metrics.ACC, Value: off}}, Memory{})
}

func mustClaim(t *testing.T, s *Store, r Run, opts ClaimOptions) Claim {
	t.Helper()
	c, err := s.Claim(t.Context(), r, opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestClaimRaceGoroutines lets 8 goroutines, each with its own connection
// pool and owner token, claim one unit at once: exactly one trains it.
func TestClaimRaceGoroutines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.db")
	const n = 8
	stores := make([]*Store, n)
	owners := make([]Owner, n)
	for i := range n {
		stores[i], owners[i] = openT(t, path), peerOwner(t)
	}
	states := make([]ClaimState, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			c, err := stores[i].Claim(context.Background(), unitRun(1), ClaimOptions{Owner: owners[i]})
			states[i], errs[i] = c.State, err
			if err == nil && c.State == Claimed {
				errs[i] = train(stores[i], c.RunID, 0)
			}
		})
	}
	close(start)
	wg.Wait()
	count := map[ClaimState]int{}
	for i := range n {
		if errs[i] != nil {
			t.Errorf("goroutine %d: %v", i, errs[i])
		}
		count[states[i]]++
	}
	if count[Claimed] != 1 || count[Held]+count[AlreadyDone] != n-1 {
		t.Errorf("claims %v, want exactly one claimed", count)
	}
	if got := rawInt(t, path, "SELECT count(*) FROM runs WHERE config_hash = 'cfg'"); got != 1 {
		t.Errorf("%d runs of the unit, want 1", got)
	}
	// Once it is done, every claim finds it done.
	for i := range n {
		if c := mustClaim(t, stores[i], unitRun(1), ClaimOptions{Owner: owners[i]}); c.State != AlreadyDone {
			t.Errorf("claim after the run: %v, want already done", c.State)
		}
	}
}

const (
	claimerEnv = "RESULTS_TEST_CLAIMER" // database path of a claiming child
	startEnv   = "RESULTS_TEST_START"   // when the children claim, Unix nanoseconds
	holderEnv  = "RESULTS_TEST_HOLDER"  // database path of a child that claims and hangs
)

// TestClaimRaceProcesses starts 6 processes (this test binary again) that
// claim one unit at the same instant; the one that gets it trains it for a
// while with a heartbeat. Exactly one trains it.
func TestClaimRaceProcesses(t *testing.T) {
	if path := os.Getenv(claimerEnv); path != "" {
		s := openT(t, path)
		at, _ := strconv.ParseInt(os.Getenv(startEnv), 10, 64)
		time.Sleep(time.Until(time.Unix(0, at)))
		c := mustClaim(t, s, unitRun(7), ClaimOptions{})
		if c.State == Claimed {
			hb := s.StartHeartbeat(c, 20*time.Millisecond, nil)
			time.Sleep(300 * time.Millisecond) // training
			if err := hb.Stop(); err != nil {
				t.Fatal(err)
			}
			if err := train(s, c.RunID, 0); err != nil {
				t.Fatal(err)
			}
		}
		fmt.Printf("claim result: %s\n", c.State)
		return
	}
	if testing.Short() {
		t.Skip("starts processes")
	}
	path := filepath.Join(t.TempDir(), "r.db")
	openT(t, path).Close() // created and migrated before the race
	const n = 6
	at := time.Now().Add(500 * time.Millisecond).UnixNano()
	outs := make([]strings.Builder, n)
	var cmds []*exec.Cmd
	for i := range n {
		cmd := exec.Command(os.Args[0], "-test.run=^TestClaimRaceProcesses$", "-test.v")
		cmd.Env = append(os.Environ(), claimerEnv+"="+path, startEnv+"="+strconv.FormatInt(at, 10))
		cmd.Stdout, cmd.Stderr = &outs[i], &outs[i]
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	count := map[string]int{}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Errorf("process %d: %v\n%s", i, err, outs[i].String())
		}
		for line := range strings.Lines(outs[i].String()) {
			if r, ok := strings.CutPrefix(line, "claim result: "); ok {
				count[strings.TrimSpace(r)]++
			}
		}
	}
	if count["claimed"] != 1 || count["held"]+count["already done"] != n-1 {
		t.Errorf("claim results %v, want exactly one claimed of %d", count, n)
	}
	checks := []struct {
		query string
		want  int
	}{
		{"SELECT count(*) FROM runs", 1},
		{"SELECT count(*) FROM runs WHERE status = 'done'", 1},
		{"SELECT count(*) FROM accuracy", 3 * 2},
	}
	for _, c := range checks {
		if got := rawInt(t, path, c.query); got != c.want {
			t.Errorf("%s = %d, want %d", c.query, got, c.want)
		}
	}
}

// TestClaimTakeoverDeadProcess claims a unit in another process, which
// records part of the run and is then killed: while it lives its claim is
// held; once it is gone the next claim takes over, and the dead run's rows
// are replaced, not mixed with the new run's.
func TestClaimTakeoverDeadProcess(t *testing.T) {
	if path := os.Getenv(holderEnv); path != "" {
		s := openT(t, path)
		c := mustClaim(t, s, unitRun(9), ClaimOptions{})
		for i, row := range fakeMatrix(2, 0)[:2] { // rows 0 and 1 of 3
			if err := s.RecordEval(t.Context(), c.RunID, i, EvalRow{Acc: row}); err != nil {
				t.Fatal(err)
			}
		}
		fmt.Printf("holding %s\n", c.RunID)
		time.Sleep(time.Minute) // killed long before
		return
	}
	if testing.Short() {
		t.Skip("starts a process")
	}
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "r.db")
	s := openT(t, path)
	cmd := exec.Command(os.Args[0], "-test.run=^TestClaimTakeoverDeadProcess$")
	cmd.Env = append(os.Environ(), holderEnv+"="+path)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	var deadID string
	for sc := bufio.NewScanner(stdout); sc.Scan(); {
		if id, ok := strings.CutPrefix(sc.Text(), "holding "); ok {
			deadID = id
			break
		}
	}
	if deadID == "" {
		t.Fatal("the holding process did not claim")
	}
	opts := ClaimOptions{Owner: peerOwner(t), StaleAfter: time.Hour} // only the pid tells
	c := mustClaim(t, s, unitRun(9), opts)
	wantWhy := fmt.Sprintf("pid %d is running", cmd.Process.Pid)
	if c.State != Held || c.RunID != deadID || !strings.Contains(c.Reason, wantWhy) {
		t.Fatalf("claim while the holder lives: %+v, want held by %s (%s)", c, deadID, wantWhy)
	}

	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	dead, err := s.Run(ctx, deadID)
	if err != nil {
		t.Fatal(err)
	}
	if state, why := Liveness(dead, time.Hour, time.Now()); state != OwnerGone || why != fmt.Sprintf("pid %d is not running", cmd.Process.Pid) {
		t.Errorf("liveness of the killed run: %v, %q; want gone: pid %d is not running", state, why, cmd.Process.Pid)
	}

	c = mustClaim(t, s, unitRun(9), opts)
	if c.State != Claimed || c.Replaced.ID != deadID || !strings.Contains(c.Reason, "is not running") {
		t.Fatalf("claim after the kill: %+v, want claimed, replacing %s", c, deadID)
	}
	if n := rawInt(t, path, "SELECT count(*) FROM accuracy WHERE run_id = '"+deadID+"'") +
		rawInt(t, path, "SELECT count(*) FROM runs WHERE id = '"+deadID+"'"); n != 0 {
		t.Errorf("%d rows of the dead run left", n)
	}
	if err := train(s, c.RunID, 50); err != nil {
		t.Fatal(err)
	}
	m, err := s.Matrix(ctx, c.RunID)
	if err != nil {
		t.Fatal(err)
	}
	if m[0][0] != 50 || m[1][1] != 61 {
		t.Errorf("matrix %v, want the new run's rows only", m)
	}
	if got := rawInt(t, path, "SELECT count(*) FROM accuracy"); got != 6 {
		t.Errorf("%d accuracy rows, want the 6 of the new run", got)
	}
}

// TestClaimTakeover claims a unit held by owners in every state: a live
// one keeps it; a gone one (stale heartbeat, dead or reused pid) loses it,
// and its partial rows go with it.
func TestClaimTakeover(t *testing.T) {
	me, err := CurrentOwner()
	if err != nil {
		t.Fatal(err)
	}
	if me.Start == "" {
		t.Skip("no /proc: process identity unknown")
	}
	machine := me.Start[:strings.LastIndexByte(me.Start, '/')]
	// An exited (and reaped) process's pid.
	exited := exec.Command(os.Args[0], "-test.run=^$")
	if err := exited.Run(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		host      string // of the holder; empty: this host
		owner     Owner  // the holder; its token is set
		beatAge   time.Duration
		wantState ClaimState
		wantWhy   string
	}{
		{"live process", "", me, 0, Held, "is running"},
		{"pid reused by a later process", "", Owner{PID: me.PID, Start: machine + "/1"}, 0, Claimed, "is another process now"},
		{"dead process", "", Owner{PID: exited.Process.Pid, Start: machine + "/1"}, 0, Claimed, "is not running"},
		{"live process, stale heartbeat", "", me, 10 * time.Minute, Claimed, "no heartbeat for 10m0s"},
		{"other machine, fresh heartbeat", "elsewhere", Owner{PID: 1, Start: "boot/ns/1"}, time.Second, Held, "heartbeat 1s ago"},
		{"other machine, stale heartbeat", "elsewhere", Owner{PID: 1, Start: "boot/ns/1"}, 10 * time.Minute, Claimed, "no heartbeat for 10m0s"},
		{"same host name, other boot", "", Owner{PID: me.PID, Start: "otherboot/ns/1"}, time.Second, Held, "heartbeat 1s ago"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "r.db")
			s := openT(t, path)
			holder := tc.owner
			holder.Token = peerOwner(t).Token
			r := unitRun(3)
			r.Host = tc.host
			c := mustClaim(t, s, r, ClaimOptions{Owner: holder})
			if c.State != Claimed {
				t.Fatalf("first claim: %v", c.State)
			}
			if err := s.RecordEval(t.Context(), c.RunID, 0, EvalRow{Acc: []float64{1, 2}}); err != nil {
				t.Fatal(err)
			}
			rawExec(t, path, fmt.Sprintf("UPDATE runs SET heartbeat_at = '%s'", formatTime(time.Now().Add(-tc.beatAge))))

			got := mustClaim(t, s, unitRun(3), ClaimOptions{Owner: peerOwner(t), StaleAfter: 5 * time.Minute})
			if got.State != tc.wantState || !strings.Contains(got.Reason, tc.wantWhy) {
				t.Fatalf("claim: %v (%s), want %v (%s)", got.State, got.Reason, tc.wantState, tc.wantWhy)
			}
			rows := rawInt(t, path, "SELECT count(*) FROM accuracy WHERE run_id = '"+c.RunID+"'")
			switch tc.wantState {
			case Held:
				if got.Holder.ID != c.RunID || rows != 2 {
					t.Errorf("held by %s with %d rows, want %s with its 2", got.Holder.ID, rows, c.RunID)
				}
			case Claimed:
				if got.Replaced.ID != c.RunID || rows != 0 {
					t.Errorf("replaced %q, %d of its rows left; want %s replaced with its rows", got.Replaced.ID, rows, c.RunID)
				}
				if n := rawInt(t, path, "SELECT count(*) FROM runs"); n != 1 {
					t.Errorf("%d runs, want the new claim only", n)
				}
			}
		})
	}
}

// TestClaimEnds checks how FinishRun and FailRun end a claim: a failed
// run stays, and the unit can be claimed again; a done one is done.
func TestClaimEnds(t *testing.T) {
	ctx := t.Context()
	s := openT(t, filepath.Join(t.TempDir(), "r.db"))
	c := mustClaim(t, s, unitRun(1), ClaimOptions{})
	if err := s.FailRun(ctx, c.RunID, StatusFailed, "nan loss"); err != nil {
		t.Fatal(err)
	}
	if err := s.Heartbeat(ctx, c); !errors.Is(err, ErrClaimLost) {
		t.Errorf("heartbeat of a failed run: %v, want ErrClaimLost", err)
	}
	again := mustClaim(t, s, unitRun(1), ClaimOptions{})
	if again.State != Claimed || again.Replaced.ID != "" {
		t.Fatalf("claim after a failure: %+v", again)
	}
	if r, err := s.Run(ctx, c.RunID); err != nil || r.Status != StatusFailed {
		t.Errorf("failed run: %+v, %v; want it kept", r, err)
	}
	if err := train(s, again.RunID, 0); err != nil {
		t.Fatal(err)
	}
	if done := mustClaim(t, s, unitRun(1), ClaimOptions{}); done.State != AlreadyDone || done.RunID != again.RunID {
		t.Errorf("claim after the run: %+v, want already done by %s", done, again.RunID)
	}
}

// TestHeartbeater beats a claim in the background until the claim is taken
// over; then the old owner's beats, rows and finish all fail.
func TestHeartbeater(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "r.db")
	s := openT(t, path)
	c := mustClaim(t, s, unitRun(1), ClaimOptions{})
	first, _ := s.Run(ctx, c.RunID)
	lost := make(chan error, 1)
	hb := s.StartHeartbeat(c, 10*time.Millisecond, func(err error) { lost <- err })
	time.Sleep(100 * time.Millisecond)
	later, _ := s.Run(ctx, c.RunID)
	if !later.Heartbeat.After(first.Heartbeat) {
		t.Errorf("heartbeat %v did not move from %v", later.Heartbeat, first.Heartbeat)
	}

	// Any heartbeat is older than a nanosecond: the claim is stale.
	taker := mustClaim(t, s, unitRun(1), ClaimOptions{Owner: peerOwner(t), StaleAfter: time.Nanosecond})
	if taker.State != Claimed || taker.Replaced.ID != c.RunID {
		t.Fatalf("takeover: %+v", taker)
	}
	select {
	case err := <-lost:
		if !errors.Is(err, ErrClaimLost) {
			t.Errorf("lost with %v, want ErrClaimLost", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the heartbeater did not notice the takeover")
	}
	if err := hb.Stop(); !errors.Is(err, ErrClaimLost) {
		t.Errorf("Stop: %v, want ErrClaimLost", err)
	}
	if err := s.Heartbeat(ctx, c); !errors.Is(err, ErrClaimLost) {
		t.Errorf("Heartbeat: %v, want ErrClaimLost", err)
	}
	if err := s.RecordEval(ctx, c.RunID, 0, EvalRow{Acc: []float64{1, 2}}); !errors.Is(err, ErrNotFound) {
		t.Errorf("RecordEval: %v, want ErrNotFound", err)
	}
	if err := s.FinishRun(ctx, c.RunID, nil, Memory{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("FinishRun: %v, want ErrNotFound", err)
	}
	// A heartbeater stopped while its claim holds returns nil.
	hb2 := s.StartHeartbeat(taker, time.Millisecond, nil)
	time.Sleep(10 * time.Millisecond)
	if err := hb2.Stop(); err != nil {
		t.Errorf("Stop of a held claim: %v", err)
	}
}

// TestRerunResumes runs a batch of 3 units, then a rerun of it that is
// interrupted after one unit, then the same rerun again: it trains the 2
// left, not all 3, so each unit ends with exactly 2 done runs. Only the
// rerun after that, once the previous one completed, starts over.
func TestRerunResumes(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "r.db")
	s := openT(t, path)
	units := []Unit{{"cfg", 1}, {"cfg", 2}, {"cfg", 3}}
	// batch runs the units as a batch runner would; it is interrupted
	// after stopAfter units (never when negative).
	batch := func(rerun bool, stopAfter int) (trained int, rr Rerun) {
		t.Helper()
		if rerun {
			var err error
			if rr, err = s.RequestRerun(ctx, units); err != nil {
				t.Fatal(err)
			}
		}
		for _, u := range units {
			c := mustClaim(t, s, unitRun(u.Seed), ClaimOptions{})
			if c.State != Claimed {
				continue
			}
			if trained == stopAfter {
				if err := s.FailRun(ctx, c.RunID, StatusInterrupted, "interrupt"); err != nil {
					t.Fatal(err)
				}
				return trained, rr
			}
			if err := train(s, c.RunID, float64(c.Generation)); err != nil {
				t.Fatal(err)
			}
			trained++
		}
		return trained, rr
	}
	doneRuns := func() string {
		var counts []string
		for _, u := range units {
			counts = append(counts, strconv.Itoa(rawInt(t, path, fmt.Sprintf(
				"SELECT count(*) FROM runs WHERE status = 'done' AND seed = %d", u.Seed))))
		}
		return strings.Join(counts, " ")
	}
	steps := []struct {
		name        string
		rerun       bool
		stopAfter   int
		wantTrained int
		wantRerun   Rerun
		wantDone    string // done runs per unit after the step
	}{
		{"first batch", false, -1, 3, Rerun{}, "1 1 1"},
		{"rerun, interrupted", true, 1, 1, Rerun{Units: 3, Pending: 3}, "2 1 1"},
		{"the same rerun again", true, -1, 2, Rerun{Resumed: true, Units: 3, Pending: 2}, "2 2 2"},
		{"batch without rerun", false, -1, 0, Rerun{}, "2 2 2"},
		{"a new rerun", true, -1, 3, Rerun{Units: 3, Pending: 3}, "3 3 3"},
	}
	for _, st := range steps {
		trained, rr := batch(st.rerun, st.stopAfter)
		if trained != st.wantTrained || rr != st.wantRerun || doneRuns() != st.wantDone {
			t.Errorf("%s: trained %d, rerun %+v, done runs %s; want %d, %+v, %s",
				st.name, trained, rr, doneRuns(), st.wantTrained, st.wantRerun, st.wantDone)
		}
	}
	// The latest done run of each unit is of generation 2, and counts.
	sums, err := s.Summaries(ctx, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if st := sums[0].Metrics[metrics.ACC]; sums[0].N != 3 || st.Mean != 2 {
		t.Errorf("summary n %d, acc %v; want 3 seeds at generation 2", sums[0].N, st.Mean)
	}
	// A unit never done is not requested again; it is pending anyway.
	rr, err := s.RequestRerun(ctx, []Unit{{"cfg", 1}, {"cfg", 99}, {"cfg", 99}})
	if err != nil {
		t.Fatal(err)
	}
	if rr != (Rerun{Units: 2, Pending: 2}) {
		t.Errorf("rerun with a new unit: %+v", rr)
	}
	if n := rawInt(t, path, "SELECT count(*) FROM reruns WHERE seed = 99"); n != 0 {
		t.Errorf("a unit without a done run got a rerun generation")
	}
}
