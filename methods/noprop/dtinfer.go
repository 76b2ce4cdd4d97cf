package noprop

import (
	"fmt"
	"math"

	"github.com/noprop/noprop/methods"
	"github.com/noprop/noprop/methods/nn"
)

// Scores runs the inference chain of Eq. 3 on every row of x: z_0 ~ N(0, I),
// then z_t = a_t û_θt(z_{t−1}, x) + b_t z_{t−1} + √c_t ε_t for t = 1..T with
// the blocks in evaluation mode (BatchNorm running statistics, no dropout),
// and returns log p̂_θout(y | z_T) for every output. With MaskBlockOutput,
// the blocks' output softmaxes (and the posterior head's inner one) are
// restricted to the active outputs, as they were in training: in task-IL
// the chain moves among the task's classes only. With EnsembleChains S > 1
// it returns the log of the class probabilities averaged over S independent
// chains.
//
// The noise comes from the learner's inference stream, re-derived for every
// call from the seed, the inference seed and each row's index, so Scores is
// deterministic and a row's scores do not depend on EvalBatch, the number of
// rows processed at a time.
func (l *DTLearner) Scores(x nn.Matrix, active []int) nn.Matrix {
	if x.Cols != l.input.Size() {
		panic(fmt.Sprintf("noprop-dt: Scores: rows of %d values, learner built for %v", x.Cols, l.input))
	}
	var mask []bool
	if l.s.MaskBlockOutput {
		mask = outputMask(l.m, active)
	}
	return scoreChunks(x, l.m, l.s.evalChunk(l.s.BatchSize), l.infer, l.inferSeed, func(dst, x nn.Matrix, rng noise) {
		l.scoreChunk(dst, x, mask, rng)
	})
}

// ScoresRuns is Scores for several inference seeds (methods.MultiScorer):
// each block's image path runs once per chunk of rows, not once per seed
// and chain, and the chains of every seed reuse it.
func (l *DTLearner) ScoresRuns(x nn.Matrix, active []int, seeds []uint64) []nn.Matrix {
	if x.Cols != l.input.Size() {
		panic(fmt.Sprintf("noprop-dt: ScoresRuns: rows of %d values, learner built for %v", x.Cols, l.input))
	}
	var mask []bool
	if l.s.MaskBlockOutput {
		mask = outputMask(l.m, active)
	}
	defer func() { l.images = l.images[:0] }()
	return scoreRuns(x, l.m, l.s.evalChunk(l.s.BatchSize), l.infer, seeds, l.prepareImages, func(dst, x nn.Matrix, rng noise) {
		l.scoreChunk(dst, x, mask, rng)
	})
}

// prepareImages keeps every block's image-path output on the rows of x
// for the chains that follow (chain uses them while l.images is set).
func (l *DTLearner) prepareImages(x nn.Matrix) {
	if l.parksSets() {
		defer l.park(0)
	}
	for len(l.images) < len(l.blocks) {
		l.images = append(l.images, nn.Matrix{})
	}
	l.images = l.images[:len(l.blocks)]
	for i, bs := range l.blocks {
		l.lend(0, bs.blk)
		img := bs.blk.Image(x)
		l.images[i] = nn.Resize(l.images[i], img.Rows, img.Cols)
		copy(l.images[i].Data, img.Data)
	}
}

// scoreChunks is the scoring loop every rule of the family shares: it runs
// score on the rows of x chunk rows at a time, every row with its own noise
// stream derived from infer, the inference seed and the row's index in x,
// so the scores of a row do not depend on what is scored with it (the
// chunk size is a speed setting, outside a run's identity), and returns the
// rows × m scores.
func scoreChunks(x nn.Matrix, m, chunk int, infer *nn.RNG, seed uint64, score func(dst, x nn.Matrix, rng noise)) nn.Matrix {
	return scoreRuns(x, m, chunk, infer, []uint64{seed}, nil, score)[0]
}

// scoreRuns is scoreChunks for several inference seeds at once: prepare
// (when not nil) does a chunk's noise-free work once, then score runs for
// every seed on it, so that scores[k] is scoreChunks with seeds[k], bit for
// bit.
func scoreRuns(x nn.Matrix, m, chunk int, infer *nn.RNG, seeds []uint64, prepare func(x nn.Matrix), score func(dst, x nn.Matrix, rng noise)) []nn.Matrix {
	outs := make([]nn.Matrix, len(seeds))
	for k := range outs {
		outs[k] = nn.NewMatrix(x.Rows, m)
	}
	rows := make(rowNoise, 0, min(chunk, x.Rows))
	for lo := 0; lo < x.Rows; lo += chunk {
		hi := min(lo+chunk, x.Rows)
		if prepare != nil {
			prepare(x.Slice(lo, hi))
		}
		for k, seed := range seeds {
			rows = rows[:0]
			for r := lo; r < hi; r++ {
				rows = append(rows, infer.Split(fmt.Sprintf("%d/row %d", seed, r)))
			}
			score(outs[k].Slice(lo, hi), x.Slice(lo, hi), rows)
		}
	}
	return outs
}

// noise is where inference draws its Gaussian noise.
type noise interface {
	// fill fills m with independent N(0, sd²) values.
	fill(m nn.Matrix, sd float32)
}

// rowNoise draws row r of a matrix from stream r: scoring's noise, so
// that a row's draws do not depend on the other rows of its chunk.
type rowNoise []*nn.RNG

func (n rowNoise) fill(m nn.Matrix, sd float32) {
	if m.Rows != len(n) {
		panic(fmt.Sprintf("noprop: %d noise streams for %d rows", len(n), m.Rows))
	}
	for r, rng := range n {
		rng.FillNormal(m.Row(r), sd)
	}
}

// streamNoise draws a whole matrix from one stream (tests and references).
type streamNoise struct{ *nn.RNG }

func (n streamNoise) fill(m nn.Matrix, sd float32) { n.FillNormal(m.Data, sd) }

// outputMask marks the active outputs among m; nil (nothing masked) when
// active is empty or covers every output. Outputs outside [0, m) panic: the
// harness never passes them.
func outputMask(m int, active []int) []bool {
	mask, act, err := methods.ActiveMask(m, active)
	if err != nil {
		if len(active) == 0 {
			return nil
		}
		panic(fmt.Sprintf("noprop: Scores: %v", err))
	}
	if len(act) == m {
		return nil
	}
	return mask
}

// scoreChunk writes the scores of the rows of x into dst.
func (l *DTLearner) scoreChunk(dst, x nn.Matrix, mask []bool, rng noise) {
	n, S := x.Rows, l.s.EnsembleChains
	l.lp = nn.Resize(l.lp, n, l.m)
	for s := range S {
		z := l.chain(x, mask, rng)
		logits := l.head.Forward(z, mask, false)
		if s == 0 {
			nn.LogSoftmaxRows(dst, logits)
			continue
		}
		nn.LogSoftmaxRows(l.lp, logits)
		for k, v := range l.lp.Data { // dst = log(exp(dst) + exp(lp))
			a, b := float64(dst.Data[k]), float64(v)
			hi, lo := max(a, b), min(a, b)
			dst.Data[k] = float32(hi + math.Log1p(math.Exp(lo-hi)))
		}
	}
	if S > 1 {
		ls := float32(math.Log(float64(S)))
		for k := range dst.Data {
			dst.Data[k] -= ls
		}
	}
}

// chain runs Eq. 3 from z_0 ~ N(0, I) through all T blocks on the rows of x
// and returns z_T (owned by the learner), drawing z_0 and every ε_t from rng.
func (l *DTLearner) chain(x nn.Matrix, mask []bool, rng noise) nn.Matrix {
	n, d := x.Rows, l.embed.D
	l.zA = nn.Resize(l.zA, n, d)
	l.zB = nn.Resize(l.zB, n, d)
	z, zn := l.zA, l.zB
	rng.fill(z, 1)
	if l.parksSets() {
		defer l.park(0) // worker 0's set: back for the next step
	}
	for i, bs := range l.blocks {
		t := bs.t
		l.lend(0, bs.blk)
		var u nn.Matrix
		if len(l.images) == len(l.blocks) {
			u = bs.blk.ForwardImage(l.images[i], z, mask)
		} else {
			u = bs.blk.Forward(x, z, mask, false)
		}
		a, b := float32(l.sched.A[t]), float32(l.sched.B[t])
		rng.fill(zn, float32(math.Sqrt(l.sched.C[t])))
		for k, v := range u.Data {
			zn.Data[k] += a*v + b*z.Data[k]
		}
		z, zn = zn, z
	}
	return z
}
