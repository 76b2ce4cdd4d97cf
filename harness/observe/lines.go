package observe

import (
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/noprop/noprop/harness"
	"github.com/noprop/noprop/methods"
)

// Lines prints one line per learner report and per evaluation: the
// display for logs and CI (Live draws bars on a terminal).
type Lines struct {
	W io.Writer
	// Epochs prints every learner report, not just the evaluations.
	Epochs bool
}

func label(r harness.RunInfo) string {
	return fmt.Sprintf("%s %s %s seed %d", r.Spec.MethodName(), r.Stream, r.Spec.Scenario, r.Spec.Seed)
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
func (p *Lines) Started(r harness.RunInfo) {
	fmt.Fprintf(p.W, "== %s (run %s, config %s)\n", label(r), r.ID[:8], r.Spec.ConfigHash())
}

// Epoch prints a learner report.
func (p *Lines) Epoch(r harness.RunInfo, task int, e methods.EpochStats) {
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
	if !math.IsNaN(e.ValAcc) {
		acc += fmt.Sprintf(" val acc %.2f%%", e.ValAcc)
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
func (p *Lines) Evaluated(r harness.RunInfo, e harness.Eval) error {
	cells := make([]string, len(e.Acc))
	for i, a := range e.Acc {
		cells[i] = fmt.Sprintf("%.2f", a)
	}
	secs := 0.0
	for _, l := range e.Log {
		secs += l.Seconds
	}
	scoring := 0.0
	for _, s := range e.Seconds {
		scoring += s
	}
	what := fmt.Sprintf("untrained (scoring %.1fs)", scoring)
	if e.AfterTask > 0 {
		what = fmt.Sprintf("after task %d (training %.1fs, scoring %.1fs)", e.AfterTask, secs, scoring)
	}
	runs := ""
	if len(e.Inference) > 1 {
		runs = fmt.Sprintf("  (mean of %d inference runs, widest range %.2f)", len(e.Inference), spread(e.Inference))
	}
	fmt.Fprintf(p.W, "   %s: %s%s\n", what, strings.Join(cells, " "), runs)
	return nil
}

// Finished prints the headline metrics.
func (p *Lines) Finished(r harness.RunInfo, res harness.Result) error {
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
func (p *Lines) Failed(r harness.RunInfo, err error, interrupted bool) {
	what := "failed"
	if interrupted {
		what = "interrupted"
	}
	fmt.Fprintf(p.W, "   %s: %v\n", what, err)
}
