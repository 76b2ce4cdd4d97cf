package noprop

import (
	"fmt"
	"math"
	"slices"

	"github.com/noprop/noprop/methods/nn"
)

// Stages names what Probe scores (methods.Prober): for t = 1..T,
// "denoise t", block t given z_{t−1} ~ q(z_{t−1} | y), the task it is
// trained on alone; "chain t", block t on the z_{t−1} the inference chain
// reaches from noise; and "head", the head on z_T ~ q(z_T | y). A block's
// score is its output softmax (the class its û points to).
func (l *DTLearner) Stages() []string {
	T := len(l.blocks)
	out := make([]string, 0, 2*T+1)
	for t := 1; t <= T; t++ {
		out = append(out, fmt.Sprintf("denoise %d", t))
	}
	for t := 1; t <= T; t++ {
		out = append(out, fmt.Sprintf("chain %d", t))
	}
	return append(out, "head")
}

// Probe scores the stages of Stages on the rows of x with labels y
// (methods.Prober), in evaluation mode, with noise from streams derived
// from the inference stream and seed alone.
func (l *DTLearner) Probe(x nn.Matrix, y []int, active []int, seed uint64) []nn.Matrix {
	if x.Cols != l.input.Size() || len(y) != x.Rows {
		panic(fmt.Sprintf("noprop-dt: Probe: %d rows of %d values and %d labels, learner built for %v", x.Rows, x.Cols, len(y), l.input))
	}
	var mask []bool
	if l.s.MaskBlockOutput {
		mask = outputMask(l.m, active)
	}
	if l.parksSets() {
		defer l.park(0)
	}
	T, n, e := len(l.blocks), x.Rows, l.embed
	out := make([]nn.Matrix, 0, 2*T+1)
	z := nn.NewMatrix(n, e.D)
	for _, bs := range l.blocks {
		l.lend(0, bs.blk)
		sampleLatent(z, e, y, l.sched.AlphaBar[bs.t-1], l.infer.Split(fmt.Sprintf("probe %d/denoise %d", seed, bs.t)))
		bs.blk.Forward(x, z, mask, false)
		out = append(out, cloneMatrix(bs.blk.Probs()))
	}
	rng := make(rowNoise, n) // a stream per row, as scoring draws them
	for r := range rng {
		rng[r] = l.infer.Split(fmt.Sprintf("probe %d/chain/row %d", seed, r))
	}
	zn := nn.NewMatrix(n, e.D)
	rng.fill(z, 1)
	for _, bs := range l.blocks {
		l.lend(0, bs.blk)
		u := bs.blk.Forward(x, z, mask, false)
		out = append(out, cloneMatrix(bs.blk.Probs()))
		a, b := float32(l.sched.A[bs.t]), float32(l.sched.B[bs.t])
		rng.fill(zn, float32(math.Sqrt(l.sched.C[bs.t])))
		for k, v := range u.Data {
			zn.Data[k] += a*v + b*z.Data[k]
		}
		z, zn = zn, z
	}
	sampleLatent(z, e, y, l.sched.AlphaBar[l.sched.T], l.infer.Split(fmt.Sprintf("probe %d/head", seed)))
	return append(out, cloneMatrix(l.head.Forward(z, mask, false)))
}

// Stages names what Probe scores (methods.Prober): "chain t", block t on
// the z_{t−1} of the chain from z_0 ~ N(0, I), for t = 1..T, and "head",
// the model's own prediction. The blocks are not trained to denoise
// q(z | y), so, unlike NoProp-DT's, they are probed along the chain only.
func (l *BackpropDTLearner) Stages() []string {
	out := make([]string, 0, len(l.blocks)+1)
	for t := 1; t <= len(l.blocks); t++ {
		out = append(out, fmt.Sprintf("chain %d", t))
	}
	return append(out, "head")
}

// Probe scores the stages of Stages on the rows of x (methods.Prober),
// in evaluation mode, with z_0 from a stream derived from the inference
// stream and seed alone.
func (l *BackpropDTLearner) Probe(x nn.Matrix, _ []int, active []int, seed uint64) []nn.Matrix {
	if x.Cols != l.input.Size() {
		panic(fmt.Sprintf("backprop-dt: Probe: rows of %d values, learner built for %v", x.Cols, l.input))
	}
	mask := outputMask(l.m, active)
	l.z[0] = nn.Resize(l.z[0], x.Rows, l.embed.D)
	l.infer.Split(fmt.Sprintf("probe %d/chain", seed)).FillNormal(l.z[0].Data, 1)
	head := l.forward(x, mask, false)
	out := make([]nn.Matrix, 0, len(l.blocks)+1)
	for _, b := range l.blocks {
		out = append(out, cloneMatrix(b.Probs()))
	}
	return append(out, cloneMatrix(head))
}

// EmbeddingRows returns W_Embed when it is learned (methods.EmbeddingHolder).
func (l *DTLearner) EmbeddingRows() (nn.Matrix, bool) { return l.embed.Matrix(), l.embed.Learned() }

// EmbeddingRows returns W_Embed when it is learned (methods.EmbeddingHolder).
func (l *BackpropDTLearner) EmbeddingRows() (nn.Matrix, bool) {
	return l.embed.Matrix(), l.embed.Learned()
}

// cloneMatrix is a copy of m that the caller owns.
func cloneMatrix(m nn.Matrix) nn.Matrix {
	return nn.Matrix{Rows: m.Rows, Cols: m.Cols, Data: slices.Clone(m.Data[:m.Rows*m.Cols])}
}
