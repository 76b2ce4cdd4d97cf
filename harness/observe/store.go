// Package observe holds what watches the harness's runs: the results
// store as a gate (claims and heartbeats) and as a recorder, and the
// progress display, plain lines or live bars on a terminal. The harness
// knows them only as a Gate and Observers; the command line wires them.
package observe

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/noprop/noprop/harness"
	"github.com/noprop/noprop/methods"
	"github.com/noprop/noprop/results"
)

// StoreGate leases units through a results store's claims
// (results.Store.Claim): a unit that is done, or that a live owner is
// training, is skipped (a *harness.SkipError); a unit whose owner is gone
// is taken over, its partial rows replaced. A claim inserts the run's row;
// while the run trains, a heartbeat keeps the claim alive, and a claim
// lost to another process ends the lease.
type StoreGate struct {
	Store *results.Store
	// Version identifies the program (a commit) for every stored run.
	Version string
	// Kernels names the kernels every stored run computes with
	// (nn.Kernels).
	Kernels string
	// StaleAfter is the heartbeat age after which another owner's claim
	// counts as gone; 0 means results.DefaultStaleAfter.
	StaleAfter time.Duration
	// HeartbeatEvery is the heartbeat period; 0 means
	// results.DefaultHeartbeatEvery.
	HeartbeatEvery time.Duration
	// Log, when not nil, hears about units taken over from a gone owner.
	Log io.Writer
}

// Acquire claims r's unit and starts its heartbeat.
func (g *StoreGate) Acquire(ctx context.Context, r harness.RunInfo) (harness.Lease, error) {
	choices, err := json.Marshal(r.Choices)
	if err != nil {
		return nil, fmt.Errorf("record choices: %w", err)
	}
	c, err := g.Store.Claim(ctx, results.Run{
		ID:             r.ID,
		SpecJSON:       r.Spec.JSON(),
		ConfigHash:     r.Spec.ConfigHash(),
		Method:         r.Spec.Method,
		Stream:         r.Stream,
		Scenario:       r.Spec.Scenario,
		Seed:           r.Spec.Seed,
		ProgramVersion: g.Version,
		Kernels:        g.Kernels,
		ChoicesJSON:    string(choices),
		NumTasks:       r.NumTasks,
		Started:        r.Started,
	}, results.ClaimOptions{StaleAfter: g.StaleAfter})
	if err != nil {
		return nil, err
	}
	switch c.State {
	case results.AlreadyDone:
		return nil, &harness.SkipError{Reason: fmt.Sprintf("already done (run %s)", short(c.RunID))}
	case results.Held:
		return nil, &harness.SkipError{Held: true, Reason: fmt.Sprintf("held by %s:%d (run %s, %s)",
			c.Holder.Host, c.Holder.Owner.PID, short(c.RunID), c.Reason)}
	}
	if c.Replaced.ID != "" && g.Log != nil {
		fmt.Fprintf(g.Log, "   took over run %s of %s:%d (%s); its partial rows were replaced\n",
			short(c.Replaced.ID), c.Replaced.Host, c.Replaced.Owner.PID, c.Reason)
	}
	l := &lease{lost: make(chan struct{})}
	l.hb = g.Store.StartHeartbeat(c, g.HeartbeatEvery, func(error) { l.once.Do(func() { close(l.lost) }) })
	return l, nil
}

// lease is a claim kept alive by its heartbeat.
type lease struct {
	hb   *results.Heartbeater
	lost chan struct{}
	once sync.Once
}

func (l *lease) Lost() <-chan struct{} { return l.lost }

// Release stops the heartbeat; its error says why the claim was lost, if
// it was.
func (l *lease) Release() error { return l.hb.Stop() }

func short(id string) string { return id[:min(8, len(id))] }

// Recorder writes runs to a results store, whose StoreGate claimed them:
// one transaction per evaluated task (its accuracy row, inference runs and
// training log), and the metrics and memory when the run finishes. A run
// whose claim was lost is another owner's: its writes fail (the run row is
// gone) and it is marked nothing.
type Recorder struct {
	Store *results.Store
}

// Started does nothing: the claim wrote the run's row.
func (o *Recorder) Started(harness.RunInfo) {}

// Epoch does nothing: epochs are written with their task's evaluation.
func (o *Recorder) Epoch(harness.RunInfo, int, methods.EpochStats) {}

// Evaluated writes one row of the accuracy matrix, every inference run's
// accuracies and its task's log, in one transaction.
func (o *Recorder) Evaluated(r harness.RunInfo, e harness.Eval) error {
	epochs := make([]results.Epoch, len(e.Log))
	for i, l := range e.Log {
		epochs[i] = results.Epoch{Task: e.AfterTask, Epoch: l.Epoch, Part: l.Part, Loss: l.Loss, TrainAcc: l.TrainAcc, Seconds: l.Seconds, Examples: int64(l.Examples), TestAcc: l.TestAcc, ValAcc: l.ValAcc}
		for _, t := range l.Terms {
			epochs[i].Terms = append(epochs[i].Terms, results.Term{Name: t.Name, Value: t.Value})
		}
	}
	return o.Store.RecordEval(context.Background(), r.ID, e.AfterTask, results.EvalRow{Acc: e.Acc, Inference: e.Inference, Epochs: epochs, Seconds: e.Seconds, Val: e.ValAcc, Probe: probeRows(e.Probe)})
}

// Finished writes the metrics and memory and marks the run done.
func (o *Recorder) Finished(r harness.RunInfo, res harness.Result) error {
	return o.Store.FinishRun(context.Background(), r.ID, res.Metrics, results.Memory(res.Memory))
}

// Failed marks the run failed or interrupted; rows already written stay.
func (o *Recorder) Failed(r harness.RunInfo, err error, interrupted bool) {
	status := results.StatusFailed
	if interrupted {
		status = results.StatusInterrupted
	}
	// A store error here (the run taken over and gone) cannot be reported
	// better than the run's own error, which the runner returns.
	_ = o.Store.FailRun(context.Background(), r.ID, status, err.Error())
}

// probeRows is a row's probe as the store keeps it.
func probeRows(p []harness.StageAccuracy) []results.StageAccuracy {
	if p == nil {
		return nil
	}
	out := make([]results.StageAccuracy, len(p))
	for i, s := range p {
		out[i] = results.StageAccuracy{Stage: s.Stage, Acc: s.Acc}
	}
	return out
}
