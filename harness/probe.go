package harness

import (
	"math"
	"slices"

	"github.com/noprop/noprop/methods"
	"github.com/noprop/noprop/methods/nn"
)

// StageAccuracy is a stage's accuracy on every task (Eval.Probe).
type StageAccuracy struct {
	// Stage is the stage as the learner names it (methods.Prober), or
	// EmbeddingStage.
	Stage string
	// Acc[j] is the stage's accuracy on task j+1's test set, percent; for
	// EmbeddingStage, how far task j+1's embedding rows have stayed where
	// they were (see there).
	Acc []float64
}

// EmbeddingStage is the probe's stage of a learner with learned class
// embeddings (methods.EmbeddingHolder): its value on a task is 100 × the
// mean cosine similarity of the rows of the task's outputs to those same
// rows just after the task was learned (to the untrained rows for a task
// not learned yet). 100 is rows that have not turned; it is not an
// accuracy, but shares the probe's scale so that it can be drawn beside
// the stages that are.
const EmbeddingStage = "embedding"

// probe is every stage's accuracy on every task's test set after row i
// (0: untrained), with the scenario's masks and a seed per task and chunk
// of rows; for a learner with learned embedding rows, also the
// EmbeddingStage and the rows it measures later rows against.
func (ls *session) probe(p methods.Prober, i int) ([]StageAccuracy, []float32, error) {
	learned := ls.scored(i)
	stages := p.Stages()
	out := make([]StageAccuracy, len(stages))
	for k, s := range stages {
		out[k] = StageAccuracy{Stage: s, Acc: make([]float64, len(ls.s.Tasks))}
	}
	rows, follow := embeddingRows(ls.l)
	var outputs [][]bool // the outputs each task's examples are labelled with, when rows are followed
	if follow {
		outputs = make([][]bool, len(ls.s.Tasks))
	}
	for j, t := range ls.s.Tasks {
		if follow {
			outputs[j] = make([]bool, ls.sc.Outputs(ls.s))
		}
		active := ls.sc.EvalActive(ls.s, learned, j)
		n := t.Test.Len()
		hit := make([]int, len(stages))
		for c, lo := 0, 0; lo < n; c, lo = c+1, lo+EvalChunk {
			if err := ls.ctx.Err(); err != nil {
				return nil, nil, err
			}
			chunk := ls.sc.Relabel(t, t.Test.Rows(lo, min(lo+EvalChunk, n)))
			x := nn.Matrix{Rows: chunk.Len(), Cols: chunk.Shape.Size(), Data: chunk.X}
			for k, scores := range p.Probe(x, chunk.Y, active, inferenceSeed(0, j, c)) {
				hit[k] += hits(scores, chunk.Y, active)
			}
			if follow {
				for _, y := range chunk.Y {
					outputs[j][y] = true
				}
			}
		}
		for k := range stages {
			out[k].Acc[j] = math.NaN()
			if n > 0 {
				out[k].Acc[j] = 100 * float64(hit[k]) / float64(n)
			}
		}
	}
	if !follow {
		return out, nil, nil
	}
	now := slices.Clone(rows.Data[:rows.Rows*rows.Cols])
	st := StageAccuracy{Stage: EmbeddingStage, Acc: make([]float64, len(ls.s.Tasks))}
	for j := range ls.s.Tasks {
		r := 0 // the row the task's rows are measured against
		if j <= learned {
			r = j + 1
		}
		ref := ls.embeds[r]
		if r == i {
			ref = now
		}
		st.Acc[j] = 100 * meanCosine(now, ref, rows.Cols, outputs[j])
	}
	return append(out, st), now, nil
}

// embeddingRows returns l's class embedding rows when it has learned ones
// (methods.EmbeddingHolder), which the probe follows.
func embeddingRows(l methods.Learner) (nn.Matrix, bool) {
	if h, ok := l.(methods.EmbeddingHolder); ok {
		return h.EmbeddingRows()
	}
	return nn.Matrix{}, false
}

// meanCosine is the mean, over the rows of a and b (d values each) whose
// outputs are set, of the cosine similarity of a's row to b's; NaN when
// there are none or b is missing (a checkpoint written before embedding
// rows were kept). A row of zeros is similar only to itself.
func meanCosine(a, b []float32, d int, outputs []bool) float64 {
	if len(b) != len(a) {
		return math.NaN()
	}
	sum, n := 0.0, 0
	for y, on := range outputs {
		if !on {
			continue
		}
		ra, rb := a[y*d:(y+1)*d], b[y*d:(y+1)*d]
		var dot, na, nb float64
		for k := range ra {
			dot += float64(ra[k]) * float64(rb[k])
			na += float64(ra[k]) * float64(ra[k])
			nb += float64(rb[k]) * float64(rb[k])
		}
		switch {
		case na > 0 && nb > 0:
			sum += dot / math.Sqrt(na*nb)
		case na == nb:
			sum++
		}
		n++
	}
	if n == 0 {
		return math.NaN()
	}
	return sum / float64(n)
}
