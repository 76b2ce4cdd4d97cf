package results

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Owner identifies the process that runs a run on its host (Run.Host), so
// that other processes can tell a live run from one whose process died.
type Owner struct {
	// PID is the process id on the run's host; 0 when not recorded.
	PID int
	// Start tells the process from a later one that reuses its PID:
	// "<boot id>/<pid namespace>/<start time in clock ticks since boot>",
	// read from /proc; empty where /proc is not available. Another process
	// can check the PID only when host, boot id and pid namespace are its
	// own.
	Start string
	// Token is a random 128-bit hex string drawn once per process. A
	// running run with a token is a claim (see Store.Claim).
	Token string
}

// currentOwner is this process's Owner, computed once.
var currentOwner = sync.OnceValues(func() (Owner, error) {
	token, err := NewID()
	if err != nil {
		return Owner{}, fmt.Errorf("owner token: %w", err)
	}
	pid := os.Getpid()
	o := Owner{PID: pid, Token: token}
	if m := localMachine(); m != "" {
		if ticks, _, err := procStart(pid); err == nil {
			o.Start = m + "/" + ticks
		}
	}
	return o, nil
})

// CurrentOwner returns the Owner of this process. Its token is drawn on the
// first call; every later call returns the same Owner.
func CurrentOwner() (Owner, error) { return currentOwner() }

// localMachine is "<boot id>/<pid namespace>" of this process, or empty when
// /proc does not tell.
var localMachine = sync.OnceValue(func() string {
	boot, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	ns, err := os.Readlink("/proc/self/ns/pid") // "pid:[4026531836]"
	if err != nil {
		return ""
	}
	ns = strings.TrimSuffix(strings.TrimPrefix(ns, "pid:["), "]")
	return strings.TrimSpace(string(boot)) + "/" + ns
})

// localHost is this machine's host name, or empty when unknown.
var localHost = sync.OnceValue(func() string {
	h, _ := os.Hostname()
	return h
})

// procStart reads a process's start time (clock ticks since boot) and state
// letter from /proc/PID/stat.
func procStart(pid int) (ticks string, state byte, err error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return "", 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces and
	// parentheses itself; the fields after the last ")" are plain.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return "", 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 { // f[0] is field 3 (state), f[19] field 22 (starttime)
		return "", 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f)+2)
	}
	return f[19], f[0][0], nil
}

// OwnerState is what can be told of the process that owns a running run.
type OwnerState int

// The states of an owner.
const (
	// OwnerUnknown: no owner recorded (a run of an older program), or an
	// owner on another machine without a heartbeat.
	OwnerUnknown OwnerState = iota
	// OwnerAlive: the process is running, or its heartbeat is fresh.
	OwnerAlive
	// OwnerGone: the heartbeat is stale, or the process is gone from this
	// machine.
	OwnerGone
)

func (o OwnerState) String() string {
	switch o {
	case OwnerAlive:
		return "alive"
	case OwnerGone:
		return "gone"
	}
	return "unknown"
}

// Liveness tells whether the owner of the running run r is still there,
// with a short reason. The owner is gone when its heartbeat is older than
// staleAfter, or when r runs on this machine (same host name, boot and pid
// namespace) and its PID is not running or now names a process that
// started later. For a run that has ended it reports OwnerUnknown.
func Liveness(r Run, staleAfter time.Duration, now time.Time) (OwnerState, string) {
	if r.Status != StatusRunning {
		return OwnerUnknown, "run " + string(r.Status)
	}
	beat := ""
	if !r.Heartbeat.IsZero() {
		age := now.Sub(r.Heartbeat)
		if age > staleAfter {
			return OwnerGone, fmt.Sprintf("no heartbeat for %s (stale after %s)", RoundAge(age), staleAfter)
		}
		beat = fmt.Sprintf("heartbeat %s ago", RoundAge(age))
	}
	if r.Owner.PID > 0 && r.Host == localHost() && onThisMachine(r.Owner.Start) {
		ticks, state, err := procStart(r.Owner.PID)
		switch {
		case err != nil || state == 'Z' || state == 'X':
			return OwnerGone, fmt.Sprintf("pid %d is not running", r.Owner.PID)
		case !strings.HasSuffix(r.Owner.Start, "/"+ticks):
			return OwnerGone, fmt.Sprintf("pid %d is another process now", r.Owner.PID)
		}
		return OwnerAlive, join(fmt.Sprintf("pid %d is running", r.Owner.PID), beat)
	}
	if beat != "" {
		return OwnerAlive, beat
	}
	if r.Owner.PID == 0 {
		return OwnerUnknown, "no owner recorded"
	}
	return OwnerUnknown, "on another machine, no heartbeat"
}

// onThisMachine reports whether an Owner.Start was read on this machine's
// current boot, in this pid namespace.
func onThisMachine(start string) bool {
	m := localMachine()
	return m != "" && strings.HasPrefix(start, m+"/")
}

func join(a, b string) string {
	if b == "" {
		return a
	}
	return a + ", " + b
}

// RoundAge rounds an age for people: to the minute from an hour on, else to
// the second.
func RoundAge(d time.Duration) time.Duration {
	if d >= time.Hour {
		return d.Round(time.Minute)
	}
	return d.Round(time.Second)
}
