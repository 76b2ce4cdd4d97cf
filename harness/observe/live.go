package observe

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/noprop/noprop/harness"
	"github.com/noprop/noprop/methods"
)

// Live is the progress display for a terminal: two bars, one for the
// batch (run i of n, filled by the work done, with the run's time left)
// and one for the task being learned (task k of K, the part, e.g. block t
// of T, the epoch, examples per second and the task's time left), with the
// plain lines of Lines (accuracy rows, results) printed above them. A task's
// bar leaves the screen when the task ends: one task bar at a time. The
// run's time left comes from earlier runs of the same configuration in the
// batch when there are some, else from the share of the run done; never
// from another configuration's runs. Use Lines when the output is not a
// terminal (CI, batch logs).
type Live struct {
	p     *mpb.Progress
	lines Lines

	mu        sync.Mutex
	batch     *mpb.Bar
	task      *mpb.Bar
	info      harness.RunInfo
	taskNo    int
	label     string
	runStart  time.Time
	taskStart time.Time
	frac      float64 // of the current run, learned so far
	rate      float64 // examples per second, smoothed
	lastStep  time.Time
	// took is the duration of the batch's finished runs by configuration.
	took map[string][]time.Duration
}

// batchScale is the batch bar's steps per run: it fills with the share of
// the current run done.
const batchScale = 1000

// NewLive draws on w (a terminal). epochs also prints every
// learner report as a line, as Progress does. Call Wait when the batch is
// over.
func NewLive(w io.Writer, epochs bool) *Live {
	l := &Live{p: mpb.New(mpb.WithOutput(w), mpb.WithWidth(160), mpb.WithRefreshRate(200*time.Millisecond), mpb.WithAutoRefresh())}
	l.lines = Lines{W: l.p, Epochs: epochs}
	return l
}

// The bars' decorators run in the display's goroutines and take l.mu to
// read the text; so l.mu is never held while calling a bar's method, which
// may wait for those goroutines.

// Wait removes the bars and waits for the display to finish.
func (l *Live) Wait() {
	l.mu.Lock()
	bars := []*mpb.Bar{l.task, l.batch}
	l.task, l.batch = nil, nil
	l.mu.Unlock()
	for _, b := range bars {
		if b != nil {
			b.Abort(true)
		}
	}
	l.p.Wait()
}

// Started prints the run's line and resets the bars.
func (l *Live) Started(r harness.RunInfo) {
	l.mu.Lock()
	l.info, l.runStart, l.frac, l.taskNo = r, time.Now(), 0, 0
	batch := l.batch
	l.mu.Unlock()
	if batch == nil {
		batch = l.p.AddBar(int64(max(r.Total, 1))*batchScale, mpb.BarPriority(0),
			mpb.PrependDecorators(decor.Any(func(decor.Statistics) string { return l.batchText() }, decor.WCSyncSpaceR)),
			mpb.AppendDecorators(decor.Any(func(decor.Statistics) string { return l.etaText() })),
		)
		l.mu.Lock()
		l.batch = batch
		l.mu.Unlock()
	}
	batch.SetCurrent(int64(max(r.Index, 1)-1) * batchScale)
	l.lines.Started(r)
}

func (l *Live) batchText() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.info.Total > 0 {
		return fmt.Sprintf("run %d/%d %s", l.info.Index, l.info.Total, label(l.info))
	}
	return "run " + label(l.info)
}

// etaText estimates the time left of the run: from the batch's earlier
// runs of the same configuration when there are some, else from the share
// of the run done so far.
func (l *Live) etaText() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	elapsed := time.Since(l.runStart)
	if prev := l.took[l.info.Spec.ConfigHash()]; len(prev) > 0 {
		var sum time.Duration
		for _, d := range prev {
			sum += d
		}
		left := max(sum/time.Duration(len(prev))-elapsed, 0)
		return fmt.Sprintf("run left ≈ %s (from %d run(s) of this configuration)", roundDur(left), len(prev))
	}
	if l.frac > 0.01 {
		return "run left ≈ " + roundDur(time.Duration(float64(elapsed)*(1-l.frac)/l.frac))
	}
	return "run left ?"
}

func roundDur(d time.Duration) string {
	if d > time.Minute {
		return d.Round(time.Second).String()
	}
	return d.Round(100 * time.Millisecond).String()
}

// Epoch relays the report's line (with epochs set).
func (l *Live) Epoch(r harness.RunInfo, task int, e methods.EpochStats) { l.lines.Epoch(r, task, e) }

// Step moves the task bar.
func (l *Live) Step(r harness.RunInfo, task int, p methods.Progress) {
	now := time.Now()
	l.mu.Lock()
	if task != l.taskNo || l.task == nil {
		old := l.task
		l.taskNo, l.taskStart, l.lastStep, l.rate = task, now, now, 0
		l.mu.Unlock()
		if old != nil {
			old.Abort(true) // an unfinished bar goes now, a finished one at its last frame
			old.Wait()
		}
		bar := l.p.AddBar(int64(p.Total), mpb.BarPriority(1), mpb.BarRemoveOnComplete(),
			mpb.PrependDecorators(decor.Any(func(decor.Statistics) string { return l.taskText() }, decor.WCSyncSpaceR)),
			mpb.AppendDecorators(decor.CountersNoUnit("%d/%d steps "), decor.Any(func(decor.Statistics) string { return l.rateText() }),
				decor.EwmaETA(decor.ET_STYLE_GO, 30, decor.WCSyncSpace)),
		)
		l.mu.Lock()
		l.task = bar
	}
	if dt := now.Sub(l.lastStep).Seconds(); dt > 0 {
		r := float64(p.Examples) / dt
		if l.rate == 0 {
			l.rate = r
		} else {
			l.rate += 0.05 * (r - l.rate)
		}
	}
	dur := now.Sub(l.lastStep)
	l.lastStep = now
	l.label = fmt.Sprintf("task %d/%d", task, max(r.NumTasks, 1))
	if p.Part != "" {
		l.label += " " + p.Part
	}
	l.label += fmt.Sprintf(" epoch %d", p.Epoch)
	if p.Total > 0 && r.NumTasks > 0 {
		l.frac = (float64(task-1) + float64(p.Done)/float64(p.Total)) / float64(r.NumTasks)
	}
	bar, batch, done := l.task, l.batch, int64((float64(max(r.Index, 1)-1)+l.frac)*batchScale)
	l.mu.Unlock()
	bar.EwmaIncrement(dur)
	if batch != nil {
		batch.SetCurrent(done)
	}
}

func (l *Live) taskText() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.label
}

func (l *Live) rateText() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return fmt.Sprintf("%.0f examples/s ", l.rate)
}

// Evaluated prints the accuracy row.
func (l *Live) Evaluated(r harness.RunInfo, e harness.Eval) error { return l.lines.Evaluated(r, e) }

// Finished prints the metrics and moves the batch bar.
func (l *Live) Finished(r harness.RunInfo, res harness.Result) error {
	l.endRun()
	return l.lines.Finished(r, res)
}

// Failed prints the error and moves the batch bar.
func (l *Live) Failed(r harness.RunInfo, err error, interrupted bool) {
	l.endRun()
	l.lines.Failed(r, err, interrupted)
}

func (l *Live) endRun() {
	l.mu.Lock()
	if l.took == nil {
		l.took = map[string][]time.Duration{}
	}
	h := l.info.Spec.ConfigHash()
	l.took[h] = append(l.took[h], time.Since(l.runStart))
	task, batch, index := l.task, l.batch, l.info.Index
	l.task = nil
	l.mu.Unlock()
	if task != nil {
		task.Abort(true)
	}
	if batch != nil {
		batch.SetCurrent(int64(max(index, 1)) * batchScale)
	}
}

// Writer is where other lines must go while the bars are drawn: they are
// printed above the bars.
func (l *Live) Writer() io.Writer { return l.p }
