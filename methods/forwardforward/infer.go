package forwardforward

import (
	"fmt"
	"math"

	"github.com/noprop/noprop/methods/nn"
)

// Scores returns, for every row of x and active output c, the goodness
// summed over layers score_from..L with label c embedded (goodness
// inference), or the readout's logits (softmax inference). Inactive outputs
// score −MaxFloat32.
func (l *Learner) Scores(x nn.Matrix, active []int) nn.Matrix {
	if x.Cols != l.input.Size() {
		panic(fmt.Sprintf("ff: Scores: rows of %d values, learner built for %v", x.Cols, l.input))
	}
	out := nn.NewMatrix(x.Rows, l.outputs)
	for i := range out.Data {
		out.Data[i] = -math.MaxFloat32
	}
	labels := make([]int, min(evalChunk, x.Rows))
	for lo := 0; lo < x.Rows; lo += evalChunk {
		hi := min(lo+evalChunk, x.Rows)
		xc, oc := x.Slice(lo, hi), out.Slice(lo, hi)
		if l.readout != nil {
			logits := l.readout.Forward(l.features(xc, false), false)
			for i := range oc.Rows {
				for _, c := range active {
					oc.Row(i)[c] = logits.Row(i)[c]
				}
			}
			continue
		}
		for _, c := range active {
			lab := labels[:xc.Rows]
			for i := range lab {
				lab[i] = c
			}
			g := l.goodness(xc, lab)
			for i, v := range g {
				oc.Row(i)[c] = float32(v)
			}
		}
	}
	return out
}

// goodness returns the goodness of every row of x with the given labels,
// summed over layers score_from..L (positive twins, inference mode).
func (l *Learner) goodness(x nn.Matrix, labels []int) []float64 {
	sum := make([]float64, x.Rows)
	l.layerGoodness(x, labels, func(k int, good []float64) {
		if k+1 >= l.s.ScoreFrom {
			for i, g := range good {
				sum[i] += g
			}
		}
	})
	return sum
}

// layerGoodness runs x with the given labels through the layers (positive
// twins, inference mode) and calls visit with every layer's index (from 0)
// and the goodness of each row.
func (l *Learner) layerGoodness(x nn.Matrix, labels []int, visit func(k int, good []float64)) {
	h := l.embed(l.in[0], x, labels)
	l.in[0] = h
	for k, ly := range l.layers {
		p := ly.pass[0]
		y := p.forward(h, false)
		visit(k, p.good)
		if k+1 < len(l.layers) {
			p.out = normalize(p.out, y)
			h = p.out
		}
	}
}
