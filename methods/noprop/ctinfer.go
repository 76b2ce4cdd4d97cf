package noprop

import (
	"math"

	"github.com/noprop/noprop/methods/nn"
)

// ctStep is one step of the CT chain between grid points s and u: the Eq. 3
// coefficients and the time s at which û is evaluated.
type ctStep struct{ t, a, b, sd float32 }

// The inference updates CTSettings accepts.
const (
	InferenceAncestral = "ancestral"
	InferenceDDIM      = "ddim"
)

// ctSteps returns the N steps of the chain of the given kind on grid (N+1
// points). An ancestral step whose ᾱ does not rise (possible only if the
// learned schedule's end points crossed) gets no noise rather than a
// negative variance.
func ctSteps(grid []SchedulePoint, kind string) []ctStep {
	steps := make([]ctStep, len(grid)-1)
	for k := range steps {
		s, u := grid[k], grid[k+1]
		if kind == InferenceDDIM {
			b := math.Sqrt(u.OneMinus / s.OneMinus)
			a := math.Sqrt(u.AlphaBar) - b*math.Sqrt(s.AlphaBar)
			steps[k] = ctStep{t: float32(s.T), a: float32(a), b: float32(b)}
			continue
		}
		a, b, c := posteriorStep(s.AlphaBar, u.AlphaBar)
		steps[k] = ctStep{t: float32(s.T), a: float32(a), b: float32(b), sd: float32(math.Sqrt(max(c, 0)))}
	}
	return steps
}

// Scores runs the inference chain on every row of x: z_0 ~ N(0, I), then
// on the grid t_k = k/N (N = timesteps) the Eq. 3 update
//
//	z_{k+1} = a_k û_θ(z_k, x, t_k) + b_k z_k + √c_k ε_k
//
// with a_k, b_k, c_k of the posterior between ᾱ(t_k) and ᾱ(t_{k+1}) (the
// paper's "T = 1000 steps to simulate the diffusion process",
// docs/methods.md §5; or the DDIM update, see CTSettings.Inference), the network in
// evaluation mode; it returns log p̂_θout(y | z_1)
// for every output. The image features are computed once per row (see
// Net.Prepare); with mask_output the output softmax is restricted to the
// active outputs. The noise comes from the inference stream, re-derived for
// every call from the inference seed and the chunk index, so Scores is
// deterministic.
func (l *CTLearner) Scores(x nn.Matrix, active []int) nn.Matrix {
	l.checkRows(x)
	var mask []bool
	if l.s.MaskOutput {
		mask = outputMask(l.m, active)
	}
	steps := ctSteps(l.sched.Grid(l.s.Timesteps), l.s.Inference)
	return scoreChunks(x, l.m, l.chunk, l.infer, l.inferSeed, func(dst, x nn.Matrix, rng noise) {
		z := l.chain(x, mask, steps, rng, true)
		nn.LogSoftmaxRows(dst, l.head.Forward(z, mask, false))
	})
}

// ScoresRuns is Scores for several inference seeds (methods.MultiScorer),
// the image features computed once per chunk for all of them.
func (l *CTLearner) ScoresRuns(x nn.Matrix, active []int, seeds []uint64) []nn.Matrix {
	l.checkRows(x)
	var mask []bool
	if l.s.MaskOutput {
		mask = outputMask(l.m, active)
	}
	steps := ctSteps(l.sched.Grid(l.s.Timesteps), l.s.Inference)
	return l.scoreRuns(x, seeds, func(dst, x nn.Matrix, rng noise) {
		z := l.chain(x, mask, steps, rng, true)
		nn.LogSoftmaxRows(dst, l.head.Forward(z, mask, false))
	})
}

// chain runs the CT chain over the rows of x and returns z_1 (owned by the
// learner). cached runs the image path once (Net.Prepare and Step);
// otherwise the whole network runs at every step, as a reference.
func (l *CTLearner) chain(x nn.Matrix, mask []bool, steps []ctStep, rng noise, cached bool) nn.Matrix {
	n, d := x.Rows, l.embed.D
	l.zA, l.zB = nn.Resize(l.zA, n, d), nn.Resize(l.zB, n, d)
	z, zn := l.zA, l.zB
	rng.fill(z, 1)
	if cached && !l.prepared {
		l.net.Prepare(x, false)
	} else if !cached {
		l.tcol = nn.Resize(l.tcol, n, 1)
	}
	for _, st := range steps {
		var u nn.Matrix
		if cached {
			u = l.net.Step(z, float64(st.t), mask, false)
		} else {
			for i := range l.tcol.Data {
				l.tcol.Data[i] = st.t
			}
			u = l.net.Forward(x, z, l.tcol, mask, false)
		}
		rng.fill(zn, st.sd)
		for k, v := range u.Data {
			zn.Data[k] += st.a*v + st.b*z.Data[k]
		}
		z, zn = zn, z
	}
	return z
}
