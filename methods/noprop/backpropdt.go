package noprop

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/noprop/noprop/methods"
	"github.com/noprop/noprop/methods/nn"
	"github.com/noprop/noprop/tasks"
)

// This file is the paper's own discrete-time back-propagation baseline,
// "Backprop" in Tables 1–4 (noprop.md §1.5): the T blocks û_θt and the head
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
//   - The block output softmax is masked to the active outputs while
//     learning and to the outputs ever active at inference, as NoProp-DT
//     does by default.
//   - The random streams for the embedding, the head and the blocks have the
//     same names as NoProp-DT's, so both methods start from the same weights
//     for the same seed.

// BackpropDTSettings configures the backprop-dt baseline. Fields shared with
// NoProp-DT have the same JSON names, meanings and defaults (see Settings);
// the defaults are the paper's Backprop row of Table 4 (MNIST).
type BackpropDTSettings struct {
	// Encoder is the image path of every block: "conv" (Figure 5) or "mlp"
	// (FC+BN, for fast runs on CPU). Default "conv".
	Encoder string `json:"encoder"`
	// Embedding is W_Embed: "one-hot" (default), "learned" or
	// "prototype". A learned W_Embed gets its gradient through every
	// block's output softmax(logits)·W_Embed.
	Embedding string `json:"embedding"`
	// EmbedDim is d for the "learned" embedding. Paper: 20.
	EmbedDim int `json:"embed_dim"`
	// PrototypeSubset is the largest number of images per class searched
	// for the prototype embedding. Default 256, as NoProp-DT.
	PrototypeSubset int `json:"prototype_subset"`
	// Timesteps is T, the number of blocks. Paper (Table 4): 10.
	Timesteps int `json:"timesteps"`

	// BatchSize is the minibatch size, at least 2 for BatchNorm. Paper: 128.
	BatchSize int `json:"batch_size"`
	// Epochs is the number of passes over the data per Learn call when
	// Iterations is 0. Paper: 100 (MNIST), 150 (CIFAR). Unlike NoProp-DT's
	// epoch (T passes, one per block), one epoch here is one pass in which
	// every minibatch updates all blocks.
	Epochs int `json:"epochs"`
	// Iterations, when positive, replaces Epochs: the number of minibatch
	// steps per Learn call, in passes over the reshuffled data (the last
	// cut short). Default 0.
	Iterations int `json:"iterations"`

	// Optimizer is "adamw" (paper), "adam" or "sgd": one optimizer over all
	// parameters (blocks, head, the w_t and a learned W_Embed).
	Optimizer string `json:"optimizer"`
	// LR is the learning rate. Paper: 1e-3.
	LR float64 `json:"lr"`
	// WeightDecay is the (decoupled, for AdamW) weight decay. Paper: 1e-3.
	WeightDecay float64 `json:"weight_decay"`
	// Init is the weight initialisation (see nn.ParseInit); default
	// "pytorch".
	Init string `json:"init"`
	// Dropout is the drop probability after each conv stage: 0.2. Unused by
	// the mlp encoder.
	Dropout float64 `json:"dropout"`
	// BNMomentum is the BatchNorm running-statistics momentum (PyTorch's
	// convention); default 0.1.
	BNMomentum float64 `json:"bn_momentum"`
	// Hidden is the block width (Figure 5: 256).
	Hidden int `json:"hidden"`
	// EvalBatch is the number of rows Scores pushes through the chain at
	// once; 0 means BatchSize. Every block keeps buffers for the largest
	// batch it has seen.
	EvalBatch int `json:"eval_batch"`

	// AlphaInit is the initial α_t = tanh(w_t) of every block, in (0, 1):
	// the share of z_t that block t's prediction replaces. The paper does
	// not give it; our choice: 0.5, an even mix, so that every block both
	// receives gradient (dû_t = α_t·dz_t) and passes it on to the blocks
	// before it ((1 − α_t)·dz_t plus the path through û_t).
	AlphaInit float64 `json:"alpha_init"`
}

// DefaultBackpropDTSettings returns the paper's Backprop settings for MNIST
// (Table 4) with the conv encoder and one-hot embeddings.
func DefaultBackpropDTSettings() BackpropDTSettings {
	d := DefaultSettings() // the shared fields take NoProp-DT's defaults
	return BackpropDTSettings{
		Encoder:         d.Encoder,
		Embedding:       d.Embedding,
		EmbedDim:        d.EmbedDim,
		PrototypeSubset: d.PrototypeSubset,
		Timesteps:       d.Timesteps,
		BatchSize:       d.BatchSize,
		Epochs:          d.Epochs,
		Iterations:      d.Iterations,
		Optimizer:       d.Optimizer,
		LR:              d.LR,
		WeightDecay:     d.WeightDecay,
		Init:            d.Init,
		Dropout:         d.Dropout,
		BNMomentum:      d.BNMomentum,
		Hidden:          d.Hidden,
		EvalBatch:       d.EvalBatch,
		AlphaInit:       0.5,
	}
}

// ParseBackpropDTSettings reads a JSON object of settings over the defaults
// (unknown fields and trailing data are errors; empty input gives the
// defaults) and validates the result.
func ParseBackpropDTSettings(raw json.RawMessage) (BackpropDTSettings, error) {
	s := DefaultBackpropDTSettings()
	if err := methods.DecodeSettings(raw, &s); err != nil {
		return BackpropDTSettings{}, fmt.Errorf("backprop-dt %w", err)
	}
	if err := s.Validate(); err != nil {
		return BackpropDTSettings{}, err
	}
	return s, nil
}

// Validate checks every field and returns an error naming the first bad one
// by its JSON name.
func (s BackpropDTSettings) Validate() error {
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("backprop-dt settings: %s: %s", field, fmt.Sprintf(format, args...))
	}
	oneOf := func(field, v string, allowed ...string) error {
		if slices.Contains(allowed, v) {
			return nil
		}
		return bad(field, "%q is not one of %s", v, strings.Join(allowed, ", "))
	}
	if err := oneOf("encoder", s.Encoder, EncoderConv, EncoderMLP); err != nil {
		return err
	}
	if err := oneOf("embedding", s.Embedding, EmbedOneHot, EmbedLearned, EmbedPrototype); err != nil {
		return err
	}
	switch {
	case s.EmbedDim < 1:
		return bad("embed_dim", "%d must be at least 1", s.EmbedDim)
	case s.PrototypeSubset < 2:
		return bad("prototype_subset", "%d must be at least 2", s.PrototypeSubset)
	case s.Timesteps < 1:
		return bad("timesteps", "%d must be at least 1", s.Timesteps)
	case s.BatchSize < 2:
		return bad("batch_size", "%d must be at least 2 (BatchNorm needs batch statistics)", s.BatchSize)
	case s.Epochs < 0:
		return bad("epochs", "%d must not be negative", s.Epochs)
	case s.Iterations < 0:
		return bad("iterations", "%d must not be negative", s.Iterations)
	case s.Epochs == 0 && s.Iterations == 0:
		return bad("epochs", "epochs and iterations are both 0: set one of them")
	}
	if err := oneOf("optimizer", s.Optimizer, optimizers...); err != nil {
		return err
	}
	switch {
	case !finite(s.LR) || s.LR <= 0:
		return bad("lr", "%g must be positive", s.LR)
	case !finite(s.WeightDecay) || s.WeightDecay < 0:
		return bad("weight_decay", "%g must not be negative", s.WeightDecay)
	}
	if _, err := nn.ParseInit(s.Init); err != nil {
		return bad("init", "%v", err)
	}
	switch {
	case !(s.Dropout >= 0 && s.Dropout < 1):
		return bad("dropout", "%g must be in [0, 1)", s.Dropout)
	case !(s.BNMomentum > 0 && s.BNMomentum <= 1):
		return bad("bn_momentum", "%g must be in (0, 1]", s.BNMomentum)
	case s.Hidden < 2:
		return bad("hidden", "%d must be at least 2", s.Hidden)
	case s.EvalBatch < 0:
		return bad("eval_batch", "%d must not be negative (0 means batch_size)", s.EvalBatch)
	case !(s.AlphaInit > 0 && s.AlphaInit < 1):
		return bad("alpha_init", "%g must be in (0, 1) (α_t = tanh(w_t))", s.AlphaInit)
	}
	return nil
}

// BackpropDTMethod is the paper's discrete-time back-propagation baseline
// for the catalog.
var BackpropDTMethod = methods.Method{
	Name: "backprop-dt",
	Summary: "NoProp's discrete-time backprop baseline (Li, Teh, Pascanu 2025, Eq. 17–19): NoProp-DT's T blocks " +
		"chained as z_t = (1−α_t) z_{t−1} + α_t û_t(z_{t−1}, x) from z_0 ~ N(0, I), α_t = tanh(w_t) learned, " +
		"trained end to end on the head's cross-entropy",
	Defaults: func() any { return DefaultBackpropDTSettings() },
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
	New:   NewBackpropDT,
	Check: func(raw json.RawMessage) error { _, err := ParseBackpropDTSettings(raw); return err },
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

	noise     *nn.RNG // z_0 of training
	order     *nn.RNG // minibatch order
	infer     *nn.RNG // root of the inference z_0 streams
	inferSeed uint64
	// seen marks the outputs active in some Learn call so far: inference
	// masks the blocks' output softmax to them.
	seen []bool

	// Buffers. z[t] is z_t (z[0] is filled by the caller of forward); every
	// z_t stays intact until the backward pass, since block t+1 keeps a
	// reference to it. u[t−1] is block t's output (owned by the block) and
	// alpha[t−1] the α_t of the last forward.
	z, u   []nn.Matrix
	alpha  []float32
	dz, du nn.Matrix
	xb     nn.Matrix
	yb     []int
	perm   []int
}

// NewBackpropDT builds a backprop-dt learner from a JSON settings object
// over DefaultBackpropDTSettings (unknown fields are an error).
func NewBackpropDT(p methods.Problem, settings json.RawMessage) (methods.Learner, error) {
	s, err := ParseBackpropDTSettings(settings)
	if err != nil {
		return nil, err
	}
	l, err := NewBackpropDTLearner(p, s)
	if err != nil {
		return nil, err
	}
	return l, nil
}

// NewBackpropDTLearner builds a backprop-dt learner for problem p with
// settings s. All randomness derives from p.Seed, split by component:
// "embed", "head" and "block/t" (named as in NoProp-DT, so both methods start
// from the same weights), "z0" (the training z_0), "order" (minibatch order)
// and "inference".
func NewBackpropDTLearner(p methods.Problem, s BackpropDTSettings) (*BackpropDTLearner, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	root := nn.NewRNG(p.Seed)
	e, err := problemEmbedding("backprop-dt", p, s.Encoder, s.Embedding, s.EmbedDim, s.PrototypeSubset, root)
	if err != nil {
		return nil, err
	}
	init, _ := nn.ParseInit(s.Init)
	cfg := nn.DefaultOptimConfig(s.Optimizer)
	cfg.LR = float32(s.LR)
	cfg.WeightDecay = float32(s.WeightDecay)
	opt, err := nn.NewOptimizer(s.Optimizer, cfg)
	if err != nil {
		return nil, fmt.Errorf("backprop-dt: optimizer: %w", err)
	}
	T := s.Timesteps
	l := &BackpropDTLearner{
		s:     s,
		input: p.Input,
		m:     p.Outputs,
		embed: e,
		head:  NewHead(HeadSoftmax, e, 1, init, root.Split("head")),
		w:     nn.NewParam("alpha_w", true, T),
		opt:   opt,
		noise: root.Split("z0"),
		order: root.Split("order"),
		infer: root.Split("inference"),
		seen:  make([]bool, p.Outputs),
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
	bcfg := blockConfig{
		input:      p.Input,
		embed:      e,
		encoder:    s.Encoder,
		hidden:     s.Hidden,
		dropout:    float32(s.Dropout),
		bnMomentum: float32(s.BNMomentum),
		init:       init,
	}
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
// the mean loss and the training accuracy of the chain's head on those
// minibatches.
//
// A final minibatch of a single example is skipped (batch statistics need
// two). Optimizer state carries over between Learn calls. Learn returns
// ctx.Err() when ctx is cancelled (checked between minibatches), and an
// error naming the epoch and step when the loss becomes NaN or infinite.
func (l *BackpropDTLearner) Learn(ctx context.Context, data tasks.Set, active []int, obs methods.Observer) error {
	n := data.Len()
	if data.Shape.Size() != l.input.Size() {
		return fmt.Errorf("backprop-dt: Learn: examples of shape %v, learner built for %v", data.Shape, l.input)
	}
	if len(data.X) != n*l.input.Size() {
		return fmt.Errorf("backprop-dt: Learn: %d values for %d examples of size %d", len(data.X), n, l.input.Size())
	}
	if n < 2 {
		return fmt.Errorf("backprop-dt: Learn: %d training examples, need at least 2 (batch statistics)", n)
	}
	mask, act, err := activeMask(l.m, active)
	if err != nil {
		return fmt.Errorf("backprop-dt: Learn: %w", err)
	}
	for i, y := range data.Y {
		if y < 0 || y >= l.m || !mask[y] {
			return fmt.Errorf("backprop-dt: Learn: example %d has label %d, which is not an active output %v", i, y, act)
		}
	}
	if obs == nil {
		obs = methods.ObserverFunc(func(methods.EpochStats) {})
	}
	for _, a := range act {
		l.seen[a] = true
	}
	b := l.s.BatchSize
	full := n / b // batches per pass; a final batch of one is dropped
	if n%b >= 2 {
		full++
	}
	pass := func(round, steps int) error {
		start := time.Now()
		l.shuffle(n)
		var sum float64
		var correct, seen int
		for k := range steps {
			if err := ctx.Err(); err != nil {
				return err
			}
			x, y := l.batch(data, k)
			loss, c, err := l.step(x, y, act, mask)
			if err != nil {
				return fmt.Errorf("backprop-dt: epoch %d, step %d: %w", round, k+1, err)
			}
			sum += loss * float64(len(y))
			correct += c
			seen += len(y)
		}
		obs.Epoch(methods.EpochStats{
			Epoch:    round,
			Loss:     sum / float64(max(seen, 1)),
			TrainAcc: 100 * float64(correct) / float64(max(seen, 1)),
			Seconds:  time.Since(start).Seconds(),
			Examples: seen,
		})
		return nil
	}
	if it := l.s.Iterations; it > 0 {
		for r := 1; it > 0; r++ {
			k := min(full, it)
			if err := pass(r, k); err != nil {
				return err
			}
			it -= k
		}
		return nil
	}
	for e := 1; e <= l.s.Epochs; e++ {
		if err := pass(e, full); err != nil {
			return err
		}
	}
	return nil
}

// activeMask turns a list of active outputs into a mask over m outputs and
// the sorted, de-duplicated list; it rejects outputs outside [0, m) and an
// empty set.
func activeMask(m int, active []int) ([]bool, []int, error) {
	mask := make([]bool, m)
	for _, a := range active {
		if a < 0 || a >= m {
			return nil, nil, fmt.Errorf("active output %d outside [0, %d)", a, m)
		}
		mask[a] = true
	}
	act := make([]int, 0, len(active))
	for j, on := range mask {
		if on {
			act = append(act, j)
		}
	}
	if len(act) == 0 {
		return nil, nil, fmt.Errorf("no active outputs")
	}
	return mask, act, nil
}

// shuffle draws a new minibatch order over n examples.
func (l *BackpropDTLearner) shuffle(n int) {
	if len(l.perm) != n {
		l.perm = make([]int, n)
	}
	for i := range l.perm {
		l.perm[i] = i
	}
	l.order.Shuffle(l.perm)
}

// batch gathers minibatch k of the current order into the learner's buffers.
func (l *BackpropDTLearner) batch(data tasks.Set, k int) (nn.Matrix, []int) {
	lo := k * l.s.BatchSize
	hi := min(lo+l.s.BatchSize, data.Len())
	l.xb = nn.Resize(l.xb, hi-lo, l.input.Size())
	if cap(l.yb) < hi-lo {
		l.yb = make([]int, l.s.BatchSize)
	}
	l.yb = l.yb[:hi-lo]
	for r, i := range l.perm[lo:hi] {
		copy(l.xb.Row(r), data.Row(i))
		l.yb[r] = data.Y[i]
	}
	return l.xb, l.yb
}

// step is one training step on a minibatch: z_0 ~ N(0, I) from the training
// stream, the chain's loss and gradients, one optimizer step. It returns the
// mean CE and the number of examples the head classifies correctly.
func (l *BackpropDTLearner) step(x nn.Matrix, y, active []int, mask []bool) (float64, int, error) {
	l.z[0] = nn.Resize(l.z[0], x.Rows, l.embed.D)
	l.noise.FillNormal(l.z[0].Data, 1)
	loss, correct := l.lossGrad(x, y, active, mask)
	if !finite(loss) {
		for _, p := range l.params { // leave no half-made gradient behind
			clear(p.Grad)
		}
		return 0, 0, fmt.Errorf("loss diverged (CE %g, α %v); training stopped: try a lower lr (now %g)",
			loss, l.Alphas(), l.s.LR)
	}
	l.opt.Step(l.params)
	return loss, correct, nil
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

// lossGrad runs the chain on minibatch (x, y) from z_0 = l.z[0] in training
// mode, and adds the gradient of the mean CE (over the active outputs) into
// every parameter's Grad without updating anything. It returns the loss and
// the head's correct count.
//
// The backward pass is the chain rule through z_t = (1 − α_t) z_{t−1} + α_t û_t:
//
//	dû_t = α_t·dz_t,  dα_t = Σ dz_t ⊙ (û_t − z_{t−1}),  dw_t = dα_t·(1 − α_t²),
//	dz_{t−1} = (1 − α_t)·dz_t + Block_t.Backward(dû_t).
func (l *BackpropDTLearner) lossGrad(x nn.Matrix, y, active []int, mask []bool) (float64, int) {
	n, d := x.Rows, l.embed.D
	logits := l.forward(x, mask, true)
	loss := l.xent.Forward(logits, y, active)
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
// log p̂_θout(y | z_T) for every output (the caller masks). The blocks'
// output softmax is restricted to the outputs active in some Learn call so
// far (nothing is masked before the first).
//
// z_0 comes from the learner's inference stream, re-derived for every call
// from the inference seed and the chunk index, so Scores is deterministic.
// Rows are processed EvalBatch (0: BatchSize) at a time.
func (l *BackpropDTLearner) Scores(x nn.Matrix) nn.Matrix {
	if x.Cols != l.input.Size() {
		panic(fmt.Sprintf("backprop-dt: Scores: rows of %d values, learner built for %v", x.Cols, l.input))
	}
	out := nn.NewMatrix(x.Rows, l.m)
	chunk := l.s.EvalBatch
	if chunk == 0 {
		chunk = l.s.BatchSize
	}
	var mask []bool
	if slices.Contains(l.seen, true) {
		mask = l.seen
	}
	for c, lo := 0, 0; lo < x.Rows; c, lo = c+1, lo+chunk {
		hi := min(lo+chunk, x.Rows)
		rng := l.infer.Split(fmt.Sprintf("%d/%d", l.inferSeed, c))
		l.z[0] = nn.Resize(l.z[0], hi-lo, l.embed.D)
		rng.FillNormal(l.z[0].Data, 1)
		LogProbs(out.Slice(lo, hi), l.forward(x.Slice(lo, hi), mask, false))
	}
	return out
}
