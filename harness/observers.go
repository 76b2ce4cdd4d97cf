package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/noprop/noprop/methods"
	"github.com/noprop/noprop/results"
)

// StoreObserver writes runs to a results store: the run when it starts, one
// transaction per evaluated task (its accuracy row, inference runs and
// training log), and the metrics and memory when it finishes.
//
// A run is claimed before it trains (results.Store.Claim): a unit that is
// done, or that a live owner is training, is skipped (Started returns a
// *SkipError); a unit whose owner is gone is taken over, its partial rows
// replaced. While the run trains, a heartbeat keeps the claim alive; if the
// claim is lost (another process took it over), the run is cancelled and
// records nothing more.
type StoreObserver struct {
	Store *results.Store
	// Version identifies the program (a commit) for every stored run.
	Version string
	// StaleAfter is the heartbeat age after which another owner's claim
	// counts as gone; 0 means results.DefaultStaleAfter.
	StaleAfter time.Duration
	// HeartbeatEvery is the heartbeat period; 0 means
	// results.DefaultHeartbeatEvery.
	HeartbeatEvery time.Duration
	// Log, when not nil, hears about units taken over from a gone owner.
	Log io.Writer

	mu    sync.Mutex
	beats map[string]*results.Heartbeater
}

// Started claims the run's unit and starts its heartbeat.
func (o *StoreObserver) Started(r RunInfo) error {
	choices, err := json.Marshal(r.Choices)
	if err != nil {
		return fmt.Errorf("record choices: %w", err)
	}
	c, err := o.Store.Claim(context.Background(), results.Run{
		ID:             r.ID,
		SpecJSON:       r.Spec.JSON(),
		ConfigHash:     r.Spec.ConfigHash(),
		Method:         r.Spec.Method,
		Stream:         r.Stream,
		Scenario:       r.Spec.Scenario,
		Seed:           r.Spec.Seed,
		ProgramVersion: o.Version,
		ChoicesJSON:    string(choices),
		NumTasks:       r.NumTasks,
		Started:        r.Started,
	}, results.ClaimOptions{StaleAfter: o.StaleAfter})
	if err != nil {
		return err
	}
	switch c.State {
	case results.AlreadyDone:
		return &SkipError{Reason: fmt.Sprintf("already done (run %s)", short(c.RunID))}
	case results.Held:
		return &SkipError{Held: true, Reason: fmt.Sprintf("held by %s:%d (run %s, %s)",
			c.Holder.Host, c.Holder.Owner.PID, short(c.RunID), c.Reason)}
	}
	if c.Replaced.ID != "" && o.Log != nil {
		fmt.Fprintf(o.Log, "   took over run %s of %s:%d (%s); its partial rows were replaced\n",
			short(c.Replaced.ID), c.Replaced.Host, c.Replaced.Owner.PID, c.Reason)
	}
	hb := o.Store.StartHeartbeat(c, o.HeartbeatEvery, func(err error) {
		if r.Cancel != nil {
			r.Cancel(err)
		}
	})
	o.mu.Lock()
	if o.beats == nil {
		o.beats = map[string]*results.Heartbeater{}
	}
	o.beats[r.ID] = hb
	o.mu.Unlock()
	return nil
}

// stopBeat stops the run's heartbeat and reports whether the claim was lost.
func (o *StoreObserver) stopBeat(r RunInfo) error {
	o.mu.Lock()
	hb := o.beats[r.ID]
	delete(o.beats, r.ID)
	o.mu.Unlock()
	if hb == nil {
		return nil
	}
	return hb.Stop()
}

func short(id string) string { return id[:min(8, len(id))] }

// Epoch does nothing: epochs are written with their task's evaluation.
func (o *StoreObserver) Epoch(RunInfo, int, methods.EpochStats) {}

// Evaluated writes one row of the accuracy matrix, every inference run's
// accuracies and its task's log, in one transaction.
func (o *StoreObserver) Evaluated(r RunInfo, e Eval) error {
	epochs := make([]results.Epoch, len(e.Log))
	for i, l := range e.Log {
		epochs[i] = results.Epoch{Task: e.AfterTask, Epoch: l.Epoch, Part: l.Part, Loss: l.Loss, TrainAcc: l.TrainAcc, Seconds: l.Seconds, Examples: int64(l.Examples), TestAcc: l.TestAcc}
		for _, t := range l.Terms {
			epochs[i].Terms = append(epochs[i].Terms, results.Term{Name: t.Name, Value: t.Value})
		}
	}
	return o.Store.RecordEval(context.Background(), r.ID, e.AfterTask, results.EvalRow{Acc: e.Acc, Inference: e.Inference, Epochs: epochs})
}

// Finished writes the metrics and memory and marks the run done, unless its
// claim was lost meanwhile.
func (o *StoreObserver) Finished(r RunInfo, res Result) error {
	if err := o.stopBeat(r); err != nil {
		return fmt.Errorf("run %s was taken over by another process before it finished: %w", short(r.ID), err)
	}
	return o.Store.FinishRun(context.Background(), r.ID, res.Metrics, res.Memory)
}

// Failed marks the run failed or interrupted; rows already written stay. A
// run whose claim was lost is another owner's now: nothing is written.
func (o *StoreObserver) Failed(r RunInfo, err error, interrupted bool) {
	if o.stopBeat(r) != nil {
		return
	}
	status := results.StatusFailed
	if interrupted {
		status = results.StatusInterrupted
	}
	// A store error here cannot be reported better than the run's own error,
	// which the caller returns.
	_ = o.Store.FailRun(context.Background(), r.ID, status, err.Error())
}

// Progress prints one line per learner report and per evaluation.
type Progress struct {
	W io.Writer
	// Epochs prints every learner report, not just the evaluations.
	Epochs bool
}

func label(r RunInfo) string {
	return fmt.Sprintf("%s %s %s-il seed %d", r.Spec.Method, r.Stream, r.Spec.Scenario, r.Spec.Seed)
}

// spread is the largest range of a cell over the inference runs of a row.
func spread(runs [][]float64) float64 {
	s := 0.0
	for j := range runs[0] {
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, r := range runs {
			lo, hi = min(lo, r[j]), max(hi, r[j])
		}
		s = max(s, hi-lo)
	}
	return s
}

// Started prints the run's name.
func (p *Progress) Started(r RunInfo) error {
	fmt.Fprintf(p.W, "== %s (run %s, config %s)\n", label(r), r.ID[:8], r.Spec.ConfigHash())
	return nil
}

// Epoch prints a learner report.
func (p *Progress) Epoch(r RunInfo, task int, e methods.EpochStats) {
	if !p.Epochs {
		return
	}
	part := ""
	if e.Part != "" {
		part = " " + e.Part
	}
	acc := ""
	if !math.IsNaN(e.TrainAcc) {
		acc = fmt.Sprintf(" train acc %.2f%%", e.TrainAcc)
	}
	if !math.IsNaN(e.TestAcc) {
		acc += fmt.Sprintf(" test acc %.2f%%", e.TestAcc)
	}
	terms := ""
	if len(e.Terms) > 0 {
		parts := make([]string, len(e.Terms))
		for i, t := range e.Terms {
			parts[i] = fmt.Sprintf("%s %.4g", t.Name, t.Value)
		}
		terms = " [" + strings.Join(parts, ", ") + "]"
	}
	fmt.Fprintf(p.W, "   task %d%s epoch %d: loss %.4f%s%s (%.1fs)\n", task, part, e.Epoch, e.Loss, terms, acc, e.Seconds)
}

// Evaluated prints the accuracy row (the mean over inference runs, and the
// widest spread between them, when there are several).
func (p *Progress) Evaluated(r RunInfo, e Eval) error {
	cells := make([]string, len(e.Acc))
	for i, a := range e.Acc {
		cells[i] = fmt.Sprintf("%.2f", a)
	}
	secs := 0.0
	for _, l := range e.Log {
		secs += l.Seconds
	}
	what := "untrained"
	if e.AfterTask > 0 {
		what = fmt.Sprintf("after task %d (%.1fs)", e.AfterTask, secs)
	}
	runs := ""
	if len(e.Inference) > 1 {
		runs = fmt.Sprintf("  (mean of %d inference runs, widest range %.2f)", len(e.Inference), spread(e.Inference))
	}
	fmt.Fprintf(p.W, "   %s: %s%s\n", what, strings.Join(cells, " "), runs)
	return nil
}

// Finished prints the headline metrics.
func (p *Progress) Finished(r RunInfo, res Result) error {
	var parts []string
	for _, m := range res.Metrics {
		if !math.IsNaN(m.Value) {
			parts = append(parts, fmt.Sprintf("%s %.2f", m.Name, m.Value))
		}
	}
	fmt.Fprintf(p.W, "   done in %.1fs: %s\n", res.Seconds, strings.Join(parts, ", "))
	return nil
}

// Failed prints the error.
func (p *Progress) Failed(r RunInfo, err error, interrupted bool) {
	what := "failed"
	if interrupted {
		what = "interrupted"
	}
	fmt.Fprintf(p.W, "   %s: %v\n", what, err)
}
