package noprop

import (
	"context"
	"encoding/json"
	"fmt"
	"math"

	"github.com/noprop/noprop/methods"
	"github.com/noprop/noprop/methods/nn"
	"github.com/noprop/noprop/tasks"
)

// This file is the paper's own discrete-time back-propagation baseline,
// "Backprop" in Tables 1–4 (docs/methods.md §8): the T blocks û_θt and the head
// of NoProp-DT, chained as a residual-like recurrence
//
//	z_0 ~ N(0, I),  z_t = (1 − α_t) z_{t−1} + α_t û_θt(z_{t−1}, x),  α_t = tanh(w_t)
//
// (Eq. 17–19, one learnable scalar w_t per block) and trained end to end by
// back-propagating the head's cross-entropy on z_T through the whole chain.
// It is what NoProp-DT is measured against: same architecture and
// parameter count, but every block's activations stay alive until the
// backward pass (the paper's memory comparison, Table 3: 0.87 GB against
// NoProp-DT's 0.49 GB on MNIST), and the blocks are trained jointly.
//
// Choices where the paper is silent:
//   - Loss: the mean cross-entropy of p̂_θout(y | z_T) over the active
//     outputs (the paper names no loss; this is the natural reading).
//   - α_t starts at AlphaInit = 0.5 for every block (w_t = atanh 0.5); the
//     w_t get no weight decay, like the other scalars of the harness
//     (biases, BatchNorm scales).
//   - The head is NoProp-DT's default "softmax" head (Eq. 14).
//   - Block 1's input z_0 is noise, so block 1 does not compute the gradient
//     with respect to z; blocks 2..T do.
//   - The block output softmax is masked to the active outputs, in learning
//     and at inference (the outputs compared), as NoProp-DT does by
//     default.
//   - The random streams for the embedding, the head and the blocks have the
//     same names as NoProp-DT's, so both methods start from the same weights
//     for the same seed.

// BackpropDTSettings configures the backprop-dt baseline. The network
// settings (Arch) and the shared blocks have the same names, meanings and
// defaults as NoProp-DT's; the defaults are the paper's Backprop row of
// Table 4 (MNIST).
type BackpropDTSettings struct {
	Arch
	// Timesteps is T, the number of blocks. Paper (Table 4): 10.
	Timesteps int `json:"timesteps" range:"[1,100]" help:"T, the number of blocks (paper: 10)"`
	// Training: unlike NoProp-DT's epoch (T passes, one per block), one
	// epoch here is one pass in which every minibatch updates all blocks,
	// and one iteration is one step of the whole chain.
	methods.Training
	// Optim is one optimizer over all parameters (blocks, head, the w_t and
	// a learned W_Embed): AdamW, lr 1e-3, weight decay 1e-3 (paper).
	methods.Optim
	// AlphaInit is the initial α_t = tanh(w_t) of every block, in (0, 1):
	// the share of z_t that block t's prediction replaces. The paper does
	// not give it; our choice: 0.5, an even mix, so that every block both
	// receives gradient (dû_t = α_t·dz_t) and passes it on to the blocks
	// before it ((1 − α_t)·dz_t plus the path through û_t).
	AlphaInit float64 `json:"alpha_init" range:"(0,1)" help:"initial α_t = tanh(w_t) of every block (not given by the paper)"`
}

// DefaultBackpropDTSettings returns the paper's Backprop settings for MNIST
// (Table 4) with the conv encoder and one-hot embeddings.
func DefaultBackpropDTSettings() BackpropDTSettings {
	d := DefaultDTSettings() // the shared blocks take NoProp-DT's defaults
	return BackpropDTSettings{Arch: d.Arch, Timesteps: d.Timesteps, Training: d.Training, Optim: d.Optim, AlphaInit: 0.5}
}

// Validate requires minibatches of at least two (BatchNorm).
func (s BackpropDTSettings) Validate() error { return checkBatch(s.BatchSize) }

// Narrowed documents what Validate adds to the tags.
func (s BackpropDTSettings) Narrowed() map[string]string { return batchNarrowed }

// backpropdtRule is the rule's defaults and constructor (methods.Rule).
var backpropdtRule = methods.Rule[BackpropDTSettings, *BackpropDTLearner]{Defaults: DefaultBackpropDTSettings, Build: NewBackpropDTLearner}

// BackpropDTMethod is the paper's discrete-time back-propagation baseline
// for the catalog.
var BackpropDTMethod = methods.Method{
	Name: "backprop-dt",
	Summary: "NoProp's discrete-time backprop baseline (Li, Teh, Pascanu 2025, Eq. 17–19): NoProp-DT's T blocks " +
		"chained as z_t = (1−α_t) z_{t−1} + α_t û_t(z_{t−1}, x) from z_0 ~ N(0, I), α_t = tanh(w_t) learned, " +
		"trained end to end on the head's cross-entropy",
	Settings: backpropdtRule.Settings,
	Presets: map[string]json.RawMessage{
		// Table 4's Backprop row for MNIST with Figure 5's conv block.
		"paper": json.RawMessage(`{"encoder":"conv","embedding":"one-hot","timesteps":10,` +
			`"batch_size":128,"epochs":100,"iterations":0,"optimizer":"adamw","lr":0.001,"weight_decay":0.001,` +
			`"dropout":0.2,"hidden":256}`),
		// The same for CIFAR-10/100: 150 epochs.
		"paper-cifar": json.RawMessage(`{"encoder":"conv","embedding":"one-hot","timesteps":10,` +
			`"batch_size":128,"epochs":150,"iterations":0,"optimizer":"adamw","lr":0.001,"weight_decay":0.001,` +
			`"dropout":0.2,"hidden":256}`),
		// A fast run: the mlp encoder, one epoch.
		"quick": json.RawMessage(`{"encoder":"mlp","epochs":1,"iterations":0}`),
	},
	New:        backpropdtRule.New,
	Stochastic: true,
	Toy:        json.RawMessage(`{"hidden":32,"timesteps":4,"iterations":300,"batch_size":32,"dropout":0}`),
}

// BackpropDTLearner is the backprop-dt baseline: T NoProp-DT blocks chained
// by z_t = (1 − α_t) z_{t−1} + α_t û_θt(z_{t−1}, x), NoProp-DT's softmax head
// on z_T, trained end to end. It implements methods.Learner.
//
// A BackpropDTLearner is not safe for concurrent use.
type BackpropDTLearner struct {
	s      BackpropDTSettings
	input  tasks.Shape
	m      int
	embed  *Embedding
	head   *Head
	blocks []*Block
	// w holds w_1..w_T; α_t = tanh(w_t).
	w      *nn.Param
	opt    nn.Optimizer
	params []*nn.Param
	xent   nn.SoftmaxCrossEntropy

	train     *methods.Trainer // minibatch order, budget, guards
	noise     *nn.RNG          // z_0 of training
	infer     *nn.RNG          // root of the inference z_0 streams
	inferSeed uint64

	// Buffers. z[t] is z_t (z[0] is filled by the caller of forward); every
	// z_t stays intact until the backward pass, since block t+1 keeps a
	// reference to it. u[t−1] is block t's output (owned by the block) and
	// alpha[t−1] the α_t of the last forward.
	z, u   []nn.Matrix
	alpha  []float32
	dz, du nn.Matrix
}

// NewBackpropDTLearner builds a backprop-dt learner for problem p with
// settings s. All randomness derives from p.Seed, split by component:
// "embed", "head" and "block/t" (named as in NoProp-DT, so both methods start
// from the same weights), "z0" (the training z_0), "order" (minibatch order)
// and "inference".
func NewBackpropDTLearner(p methods.Problem, s BackpropDTSettings) (*BackpropDTLearner, error) {
	if err := methods.CheckSettings(&s); err != nil {
		return nil, err
	}
	if err := methods.CheckWeights(s.networkWeights(p, s.Timesteps)); err != nil {
		return nil, err
	}
	root := nn.NewRNG(p.Seed)
	e, err := problemEmbedding(p, s.Network, root)
	if err != nil {
		return nil, err
	}
	opt, err := s.Optim.New()
	if err != nil {
		return nil, err
	}
	init, _ := nn.ParseInit(s.Init)
	T := s.Timesteps
	l := &BackpropDTLearner{
		s:     s,
		input: p.Input,
		m:     p.Outputs,
		embed: e,
		head:  NewHead(HeadSoftmax, e, 1, init, root.Split("head")),
		w:     nn.NewParam("alpha_w", true, T),
		opt:   opt,
		train: methods.NewTrainer(s.Training, root.Split("order")),
		noise: root.Split("z0"),
		infer: root.Split("inference"),
		z:     make([]nn.Matrix, T+1),
		u:     make([]nn.Matrix, T),
		alpha: make([]float32, T),
	}
	// The chain needs dL/dz_T whatever the embedding.
	l.head.Lin.NoInputGrad = false
	w0 := float32(math.Atanh(s.AlphaInit))
	for t := range l.w.Value {
		l.w.Value[t] = w0
	}
	bcfg := s.Arch.blockConfig(p.Input, e)
	for t := 1; t <= T; t++ {
		bcfg.zGrad = t > 1 // z_0 is noise: nothing needs its gradient
		b := newBlock(bcfg, root.Split(fmt.Sprintf("block/%d", t)))
		l.blocks = append(l.blocks, b)
		l.params = append(l.params, b.Params()...)
	}
	l.params = append(l.params, l.head.Params()...)
	l.params = append(l.params, l.w)
	if e.Learned() {
		l.params = append(l.params, e.W)
	}
	return l, nil
}

// Settings returns the learner's settings.
func (l *BackpropDTLearner) Settings() BackpropDTSettings { return l.s }

// Embedding returns W_Embed (shared with the learner, not a copy).
func (l *BackpropDTLearner) Embedding() *Embedding { return l.embed }

// Alphas returns the current α_t = tanh(w_t), t = 1..T.
func (l *BackpropDTLearner) Alphas() []float64 {
	a := make([]float64, len(l.w.Value))
	for t, w := range l.w.Value {
		a[t] = math.Tanh(float64(w))
	}
	return a
}

// NumParams is the number of trainable values: the blocks, the head, the T
// scalars w_t and a learned W_Embed.
func (l *BackpropDTLearner) NumParams() int { return nn.CountParams(l.params) }

// SetInferenceSeed changes the stream Scores draws z_0 from (default 0).
// Scores is a deterministic function of the parameters, the input and this
// seed.
func (l *BackpropDTLearner) SetInferenceSeed(seed uint64) { l.inferSeed = seed }

// Learn trains on one task's data for the configured budget; only the
// active outputs take part. Every minibatch draws z_0 ~ N(0, I), runs the
// chain in training mode keeping every block's activations, takes the mean
// cross-entropy of the head on z_T over the active outputs, back-propagates
// it through the head and blocks T..1 and takes one optimizer step on all
// parameters. Each pass over the (reshuffled) data is reported once, with
// the training accuracy of the chain's head on those minibatches. A
// prototype embedding meets the task's classes first (Embedding.Meet).
//
// The budget, minibatch order, cancellation and the divergence guard are
// the shared scaffold's (methods.Trainer). Optimizer state carries over
// between Learn calls.
func (l *BackpropDTLearner) Learn(ctx context.Context, data tasks.Set, active []int, obs methods.Observer) error {
	task, err := methods.NewTaskData(data, active, l.input, l.m)
	if err != nil {
		return err
	}
	if err := l.embed.Meet(task.Data, task.Active); err != nil {
		return err
	}
	return l.train.Train(ctx, task, obs, methods.Part{Step: l.step})
}

// step is one training step on a minibatch: z_0 ~ N(0, I) from the training
// stream, the chain's loss and gradients, one optimizer step. It returns the
// mean CE and the number of examples the head classifies correctly.
func (l *BackpropDTLearner) step(b methods.Batch) (methods.Step, error) {
	l.z[0] = nn.Resize(l.z[0], b.X.Rows, l.embed.D)
	l.noise.FillNormal(l.z[0].Data, 1)
	loss, correct := l.lossGrad(b)
	if !finite(loss) {
		for _, p := range l.params { // leave no half-made gradient behind
			clear(p.Grad)
		}
		return methods.Step{}, fmt.Errorf("loss not finite (CE %g, α %v): %w; try a lower lr",
			loss, l.Alphas(), methods.ErrDiverged)
	}
	l.opt.Step(l.params)
	return methods.Step{Loss: loss, Correct: correct}, nil
}

// forward runs the chain from z_0 = l.z[0] (rows × d, filled by the caller)
// on images x, keeping every z_t, û_t and α_t, and returns the head's logits
// (owned by the head). mask, when non-nil, restricts the blocks' output
// softmax.
func (l *BackpropDTLearner) forward(x nn.Matrix, mask []bool, train bool) nn.Matrix {
	n, d := x.Rows, l.embed.D
	for t, b := range l.blocks {
		a := float32(math.Tanh(float64(l.w.Value[t])))
		l.alpha[t] = a
		zp := l.z[t]
		u := b.Forward(x, zp, mask, train)
		l.u[t] = u
		l.z[t+1] = nn.Resize(l.z[t+1], n, d)
		zn := l.z[t+1]
		c := 1 - a
		for k, v := range u.Data {
			zn.Data[k] = c*zp.Data[k] + a*v
		}
	}
	return l.head.Forward(l.z[len(l.blocks)], mask, train)
}

// lossGrad runs the chain on minibatch b from z_0 = l.z[0] in training
// mode, and adds the gradient of the mean CE (over each row's active
// outputs, each row weighted by its weight) into
// every parameter's Grad without updating anything. It returns the loss and
// the head's correct count.
//
// The backward pass is the chain rule through z_t = (1 − α_t) z_{t−1} + α_t û_t:
//
//	dû_t = α_t·dz_t,  dα_t = Σ dz_t ⊙ (û_t − z_{t−1}),  dw_t = dα_t·(1 − α_t²),
//	dz_{t−1} = (1 − α_t)·dz_t + Block_t.Backward(dû_t).
func (l *BackpropDTLearner) lossGrad(b methods.Batch) (float64, int) {
	n, d := b.X.Rows, l.embed.D
	logits := l.forward(b.X, b.Mask, true)
	loss := l.xent.ForwardMask(logits, b.Y, b.Mask, b.Weight)
	correct := l.xent.Correct()
	if !finite(loss) {
		return loss, correct
	}
	var eg []float32
	if l.embed.Learned() {
		eg = l.embed.W.Grad
	}
	dzT := l.head.Backward(l.xent.Backward(), eg)
	l.dz = nn.Resize(l.dz, n, d)
	copy(l.dz.Data, dzT.Data)
	l.du = nn.Resize(l.du, n, d)
	dz, du := l.dz.Data, l.du.Data
	for t := len(l.blocks) - 1; t >= 0; t-- {
		a := l.alpha[t]
		u, zp := l.u[t].Data, l.z[t].Data
		da := 0.0
		for k, g := range dz {
			da += float64(g) * float64(u[k]-zp[k])
			du[k] = a * g
		}
		l.w.Grad[t] += float32(da * (1 - float64(a)*float64(a)))
		dzb := l.blocks[t].Backward(l.du, eg)
		if t == 0 {
			break // z_0 is noise
		}
		c := 1 - a
		for k, g := range dzb.Data {
			dz[k] = c*dz[k] + g
		}
	}
	return loss, correct
}

// Scores runs the chain on every row of x in evaluation mode (BatchNorm
// running statistics, no dropout) from z_0 ~ N(0, I) and returns
// log p̂_θout(y | z_T) for every output. The blocks' output softmax is
// restricted to the active outputs, as in training.
//
// z_0 comes from the learner's inference stream, re-derived for every call
// from the inference seed and the chunk index, so Scores is deterministic.
// Rows are processed EvalBatch (0: BatchSize) at a time.
func (l *BackpropDTLearner) Scores(x nn.Matrix, active []int) nn.Matrix {
	if x.Cols != l.input.Size() {
		panic(fmt.Sprintf("backprop-dt: Scores: rows of %d values, learner built for %v", x.Cols, l.input))
	}
	mask := outputMask(l.m, active)
	return scoreChunks(x, l.m, l.s.evalChunk(l.s.BatchSize), l.infer, l.inferSeed, func(dst, x nn.Matrix, rng noise) {
		l.z[0] = nn.Resize(l.z[0], x.Rows, l.embed.D)
		rng.fill(l.z[0], 1)
		nn.LogSoftmaxRows(dst, l.forward(x, mask, false))
	})
}

// VisitState visits the blocks, the head, the w_t, W_Embed, the optimizer,
// the z_0 stream and the trainer.
func (l *BackpropDTLearner) VisitState(v nn.StateVisitor) {
	nn.VisitParams(v, "params", l.params)
	for t, b := range l.blocks {
		name := fmt.Sprintf("block/%d", t+1)
		nn.VisitExtraState(v, name+"/cat", &b.cat)
		nn.VisitExtraState(v, name+"/fuse", &b.fuse)
	}
	nn.VisitOptimizer(v, "opt", l.opt, l.params)
	if l.embed.met != nil {
		v.Bools("embed/met", l.embed.met)
	}
	l.noise.VisitState(v, "z0")
	l.train.VisitState(v, "train")
}
