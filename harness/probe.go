package harness

import (
	"math"

	"github.com/noprop/noprop/methods"
	"github.com/noprop/noprop/methods/nn"
)

// StageAccuracy is a stage's accuracy on every task (Eval.Probe).
type StageAccuracy struct {
	// Stage is the stage as the learner names it (methods.Prober).
	Stage string
	// Acc[j] is the stage's accuracy on task j+1's test set, percent.
	Acc []float64
}

// probe is every stage's accuracy on every task's test set after task
// learned (0-based; -1 untrained), with the scenario's masks and a seed
// per task and chunk of rows.
func (ls *session) probe(p methods.Prober, learned int) ([]StageAccuracy, error) {
	stages := p.Stages()
	out := make([]StageAccuracy, len(stages))
	for k, s := range stages {
		out[k] = StageAccuracy{Stage: s, Acc: make([]float64, len(ls.s.Tasks))}
	}
	for j, t := range ls.s.Tasks {
		active := ls.sc.EvalActive(ls.s, learned, j)
		n := t.Test.Len()
		hit := make([]int, len(stages))
		for c, lo := 0, 0; lo < n; c, lo = c+1, lo+EvalChunk {
			if err := ls.ctx.Err(); err != nil {
				return nil, err
			}
			chunk := ls.sc.Relabel(t, t.Test.Rows(lo, min(lo+EvalChunk, n)))
			x := nn.Matrix{Rows: chunk.Len(), Cols: chunk.Shape.Size(), Data: chunk.X}
			for k, scores := range p.Probe(x, chunk.Y, active, inferenceSeed(0, j, c)) {
				hit[k] += hits(scores, chunk.Y, active)
			}
		}
		for k := range stages {
			out[k].Acc[j] = math.NaN()
			if n > 0 {
				out[k].Acc[j] = 100 * float64(hit[k]) / float64(n)
			}
		}
	}
	return out, nil
}
