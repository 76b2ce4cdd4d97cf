package noprop

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"

	"github.com/noprop/noprop/methods"
	"github.com/noprop/noprop/methods/nn"
	"github.com/noprop/noprop/tasks"
)

// This file holds what the three continuous-time rules share (NoProp-CT,
// ct.go; NoProp-FM, fm.go; the Adjoint baseline, adjoint.go): their
// settings block, the learner's common state (network, embedding, head,
// optimizer, training scaffold, inference stream) and helpers for times and
// latents.

// Continuous is the block of settings of the continuous-time network
// (Figure 5, right) that NoProp-CT, NoProp-FM and the Adjoint share: the
// family's Network and what time adds to it.
type Continuous struct {
	Network
	// TimeDim is the width of the sinusoidal time embedding ("pos emb
	// (64)", Figure 5). The paper does not give the formula; we use the
	// transformer's sinusoids in DDPM's form, of 1000·t (nn.TimeEmbedding).
	TimeDim int `json:"time_dim" range:"[2,4096]" help:"width of the sinusoidal time embedding, even (paper: 64)"`
	// Timesteps is N, the number of steps from t = 0 to t = 1 of the chain
	// at inference: the Eq. 3 update on the grid t_k = k/N for CT, Euler
	// steps for FM and the Adjoint, whose solver takes the same N steps in
	// training. Paper (Table 4, §4): 1000.
	Timesteps int `json:"timesteps" range:"[1,100000]" help:"N, steps of the chain from t = 0 to 1 at inference (and of the Adjoint's solver in training) (paper: 1000)"`
	// EmbedInitScale multiplies a learned embedding's initial rows (see
	// NewLearnedEmbedding: E‖u_y‖² = 1 at scale 1). The paper says only
	// "random" for m > d; the scale is our choice, a setting because it
	// sets how far apart the classes start, which is what the denoising and
	// flow terms pull together (EmbedCollapseSpread). Default 1.
	EmbedInitScale float64 `json:"embed_init_scale" range:"(0,)" identity:"default" help:"factor on a learned embedding's initial rows (1: E‖u_y‖² = 1; not given by the paper)"`
}

// DefaultContinuous returns the paper's continuous-time network for MNIST
// with N = 1000.
func DefaultContinuous() Continuous {
	return Continuous{Network: DefaultNetwork(), TimeDim: 64, Timesteps: 1000, EmbedInitScale: 1}
}

// CheckBlock requires an even time embedding.
func (c Continuous) CheckBlock() error {
	if c.TimeDim%2 != 0 {
		return methods.Invalid("time_dim", c.TimeDim, "must be even (sines and cosines in pairs)")
	}
	return nil
}

// paperPreset is a continuous-time rule's row of Table 4 with Figure 5's
// network: the given optimizer and epochs, lr and weight decay 1e-3, batch
// 128, N = 1000, one-hot; extra (a JSON fragment, may be empty) adds the
// rule's own settings.
func paperPreset(optimizer string, epochs int, extra string) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"encoder":"conv","embedding":"one-hot","timesteps":1000,`+
		`"batch_size":128,"epochs":%d,"iterations":0,"optimizer":%q,"lr":0.001,"weight_decay":0.001,`+
		`"dropout":0.2,"hidden":256,"time_dim":64%s}`, epochs, optimizer, extra))
}

// continuousNarrowed documents what CheckBlock adds to the tags.
var continuousNarrowed = map[string]string{"time_dim": "an even number ≥ 2"}

// Narrowed documents what the block adds to the tags; a rule that adds
// more (NoProp-CT) says so itself.
func (c Continuous) Narrowed() map[string]string { return continuousNarrowed }

// netConfig is the network of this block for inputs of the given shape and
// embedding e, ending in softmax·W_Embed and without dL/dz.
func (c Continuous) netConfig(input tasks.Shape, e *Embedding) netConfig {
	init, _ := nn.ParseInit(c.Init)
	return netConfig{
		input:   input,
		embed:   e,
		encoder: c.Encoder,
		hidden:  c.Hidden,
		timeDim: c.TimeDim,
		dropout: float32(c.Dropout),
		init:    init,
	}
}

// continuous is the state the continuous-time learners share.
type continuous struct {
	name  string // for messages
	input tasks.Shape
	m     int
	embed *Embedding
	net   *Net
	head  *Head
	opt   nn.Optimizer
	// params are what opt trains: θ, θ_out and a learned W_Embed.
	params []*nn.Param
	xent   nn.SoftmaxCrossEntropy
	terms  [3]float64 // the terms of the last loss, for messages
	// termVals are what the last step reports in methods.Step.Terms
	// (CTTerms or FMTerms).
	termVals [9]float64

	train     *methods.Trainer // minibatch order, budget, guards
	noise     *nn.RNG          // training times and noise
	infer     *nn.RNG          // root of the inference noise streams
	inferSeed uint64
	chunk     int // rows per inference chunk
	// prepared says the network's image features are those of the rows
	// being scored (set by scoreRuns for its chains, false otherwise).
	prepared bool
	// embed0 is a learned W_Embed as initialised (nil for the other
	// kinds), the reference of the embedding-collapse guard.
	embed0  []float32
	rowMean []float64 // work buffer of the guard

	// work buffers
	tcol, z, eps, du nn.Matrix
	ts               []float64
	zA, zB           nn.Matrix
}

// newContinuous builds the shared state for problem p: the embedding
// (stream "embed"), the network ("net"), the head ("head"), the optimizer,
// the training scaffold ("order") and the streams "noise" and "inference".
// net adjusts the network's configuration (its output stage, whether it
// computes dL/dz); the head is built of kind head (σ for the posterior one)
// and trained by opt when headTrained. It also returns the root stream.
func newContinuous(name string, p methods.Problem, c Continuous, tr methods.Training, o methods.Optim,
	net func(*netConfig), head HeadChoice, headTrained bool) (*continuous, *nn.RNG, error) {
	root := nn.NewRNG(p.Seed)
	e, err := problemEmbedding(p, c.Network, root)
	if err != nil {
		return nil, nil, err
	}
	if e.Kind == EmbedLearned && c.EmbedInitScale != 1 {
		for i := range e.W.Value {
			e.W.Value[i] *= float32(c.EmbedInitScale)
		}
	}
	opt, err := o.New()
	if err != nil {
		return nil, nil, err
	}
	init, _ := nn.ParseInit(c.Init)
	cfg := c.netConfig(p.Input, e)
	net(&cfg)
	l := &continuous{
		name:  name,
		input: p.Input,
		m:     p.Outputs,
		embed: e,
		net:   newNet(cfg, root.Split("net")),
		head:  NewHead(head.Head, e, head.PosteriorSigma, init, root.Split("head")),
		opt:   opt,
		train: methods.NewTrainer(tr, root.Split("order")),
		noise: root.Split("noise"),
		infer: root.Split("inference"),
		chunk: c.evalChunk(tr.BatchSize),
	}
	if e.Kind == EmbedLearned {
		l.embed0 = slices.Clone(e.W.Value)
	}
	l.params = slices.Clone(l.net.Params())
	if headTrained {
		l.params = append(l.params, l.head.Params()...)
	}
	if e.Learned() {
		l.params = append(l.params, e.W)
	}
	return l, root, nil
}

// NumParams is the number of trainable values: the network, a trained head
// and a learned W_Embed.
func (l *continuous) NumParams() int { return nn.CountParams(l.params) }

// Embedding returns W_Embed (shared with the learner, not a copy).
func (l *continuous) Embedding() *Embedding { return l.embed }

// Network returns the network θ.
func (l *continuous) Network() *Net { return l.net }

// SetInferenceSeed changes the stream Scores draws its noise from. Scores
// is a deterministic function of the parameters, the input and this seed
// (default 0); the paper's 5 inference runs per trained model are 5 seeds.
func (l *continuous) SetInferenceSeed(seed uint64) { l.inferSeed = seed }

// task checks a Learn call's arguments and lets a prototype embedding meet
// the task's classes.
func (l *continuous) task(data tasks.Set, active []int) (methods.TaskData, error) {
	task, err := methods.NewTaskData(data, active, l.input, l.m)
	if err != nil {
		return task, err
	}
	return task, l.embed.Meet(task.Data, task.Active)
}

// checkRows panics when x does not hold rows of the learner's input.
func (l *continuous) checkRows(x nn.Matrix) {
	if x.Cols != l.input.Size() {
		panic(fmt.Sprintf("%s: Scores: rows of %d values, learner built for %v", l.name, x.Cols, l.input))
	}
}

// EmbedCollapseSpread is the embedding-collapse guard's threshold: with
// collapse_check, a learned W_Embed whose rows of the active classes have
// come within this fraction of their initial spread (RMS distance to their
// mean) stops training as collapsed. Every row at one point is the
// denoising and flow losses' easiest minimum (the target is then known
// without the image); only the classification term holds the rows apart,
// and at chance it does not: on CIFAR-100 (dim 20) FM's rows shrink at
// Adam's full rate at first, about lr per step, to 12 % of their spread by
// the ninth epoch, while accuracy never leaves chance, which the accuracy
// guard cannot see; a smaller η (eta) lets the classification term lead.
// The threshold is conservative: it stops a run whose embeddings are all
// but a point, not one that might still recover.
const EmbedCollapseSpread = 0.1

// checkEmbedding returns an error wrapping methods.ErrCollapsed when the
// collapse guard is on and a learned W_Embed's active rows have collapsed
// (see EmbedCollapseSpread).
func (l *continuous) checkEmbedding(active []int) error {
	if l.embed0 == nil || !l.train.Training.CollapseCheck || len(active) < 2 {
		return nil
	}
	if l.rowMean == nil {
		l.rowMean = make([]float64, l.embed.D)
	}
	now, start := rowSpread(l.embed.W.Value, l.embed.D, active, l.rowMean), rowSpread(l.embed0, l.embed.D, active, l.rowMean)
	if now < EmbedCollapseSpread*start {
		return fmt.Errorf("the learned class embeddings collapsed: the spread of the active classes' rows is %.3g, %.1f%% of its initial %.3g "+
			"(every row at one point makes the denoising target known without the image, and the classification term did not hold them apart); "+
			"try a smaller eta, which weights the denoising term less against the classification term, or the fixed one-hot embedding, which cannot collapse: %w", now, 100*now/start, start, methods.ErrCollapsed)
	}
	return nil
}

// embedSpread is the spread (RMS distance to their mean) of the active
// classes' embeddings now.
func (l *continuous) embedSpread(active []int) float64 {
	if l.rowMean == nil {
		l.rowMean = make([]float64, l.embed.D)
	}
	return rowSpread(l.embed.W.Value, l.embed.D, active, l.rowMean)
}

// rowSpread is the RMS distance to their mean of the rows of w (d columns)
// listed in rows; mean (d values) is overwritten.
func rowSpread(w []float32, d int, rows []int, mean []float64) float64 {
	clear(mean)
	for _, r := range rows {
		for j, v := range w[r*d : (r+1)*d] {
			mean[j] += float64(v) / float64(len(rows))
		}
	}
	s := 0.0
	for _, r := range rows {
		for j, v := range w[r*d : (r+1)*d] {
			x := float64(v) - mean[j]
			s += x * x
		}
	}
	return math.Sqrt(s / float64(len(rows)))
}

// sampleTimes draws t_i ~ U(0, 1) for n rows into l.ts and the column l.tcol.
func (l *continuous) sampleTimes(n int) {
	if cap(l.ts) < n {
		l.ts = make([]float64, n)
	}
	l.ts = l.ts[:n]
	l.tcol = nn.Resize(l.tcol, n, 1)
	for i := range n {
		t := float64(l.noise.Float32())
		l.ts[i] = t
		l.tcol.Data[i] = float32(t)
	}
}

// stepOrDiverge applies opt to params after a finite loss; on a non-finite
// one it clears every gradient and returns the divergence error, naming the
// loss's terms as what says them (called only then: a step allocates
// nothing).
func stepOrDiverge(opt nn.Optimizer, params []*nn.Param, loss float64, what func() string) error {
	if !finite(loss) {
		for _, p := range params {
			clear(p.Grad)
		}
		return fmt.Errorf("loss not finite (%s): %w; try a lower lr", what(), methods.ErrDiverged)
	}
	opt.Step(params)
	return nil
}

// argmaxActive returns the arg-max of row among the outputs mask marks
// (nil: all); ties go to the lower index.
func argmaxActive(row []float32, mask []bool) int {
	best := -1
	for j, v := range row {
		if (mask == nil || mask[j]) && (best < 0 || v > row[best]) {
			best = j
		}
	}
	return best
}

// nearestScores writes −‖z_i − u_y‖² for every output y into dst (rows × m):
// higher is nearer, so the arg-max among the active outputs is the nearest
// class embedding (NoProp-FM's label, paper §2.3.1).
func nearestScores(dst, z nn.Matrix, e *Embedding) {
	for i := range z.Rows {
		zi, out := z.Row(i), dst.Row(i)
		for y := range e.M {
			u := e.Row(y)
			s := 0.0
			for j, v := range zi {
				d := float64(v - u[j])
				s += d * d
			}
			out[y] = float32(-s)
		}
	}
}

// nearestClass is the active class whose embedding is nearest to z.
func nearestClass(z []float32, e *Embedding, mask []bool) int {
	best, bestD := -1, math.Inf(1)
	for y := range e.M {
		if mask != nil && !mask[y] {
			continue
		}
		u := e.Row(y)
		s := 0.0
		for j, v := range z {
			d := float64(v - u[j])
			s += d * d
		}
		if s < bestD {
			best, bestD = y, s
		}
	}
	return best
}

// VisitState visits everything a continuous-time learner's future depends
// on: W_Embed, the network, the head, the optimizer, the training noise and
// the trainer (minibatch order and position).
func (l *continuous) VisitState(v nn.StateVisitor) {
	l.embed.VisitState(v, "embed")
	l.net.VisitState(v, "net")
	nn.VisitParams(v, "head", l.head.Params())
	nn.VisitOptimizer(v, "opt", l.opt, l.params)
	l.noise.VisitState(v, "noise")
	l.train.VisitState(v, "train")
}

// scoreRuns scores the rows of x for every inference seed (see the
// package's scoreRuns), the network's image features prepared once per
// chunk of rows and reused by every seed's chain: the work of
// methods.MultiScorer's ScoresRuns for CT, FM and the Adjoint.
func (c *continuous) scoreRuns(x nn.Matrix, seeds []uint64, score func(dst, x nn.Matrix, rng noise)) []nn.Matrix {
	defer func() { c.prepared = false }()
	prepare := func(x nn.Matrix) {
		c.net.Prepare(x, false)
		c.prepared = true
	}
	return scoreRuns(x, c.m, c.chunk, c.infer, seeds, prepare, score)
}
