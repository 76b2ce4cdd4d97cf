package noprop

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"

	"github.com/noprop/noprop/methods"
	"github.com/noprop/noprop/methods/nn"
	"github.com/noprop/noprop/tasks"
)

// DTLearner is NoProp-DT: T blocks û_θt, each trained on its own local target,
// a class-probability head θ_out and the class embedding W_Embed. It
// implements methods.Learner.
//
// A DTLearner is not safe for concurrent use.
type DTLearner struct {
	s      DTSettings
	input  tasks.Shape
	m      int
	sched  Schedule
	embed  *Embedding
	head   *Head
	blocks []*blockState

	shared       nn.Optimizer // θ_out and a learned W_Embed
	sharedParams []*nn.Param
	xent         nn.SoftmaxCrossEntropy

	train     *methods.Trainer // minibatch order, budget, guards
	headNoise *nn.RNG          // z_T ~ q(z_T|y) of the CE term
	infer     *nn.RNG          // root of the inference noise streams
	inferSeed uint64

	// termVals are what the last step reports in methods.Step.Terms
	// (DTTerms).
	termVals [4]float64

	// work buffers
	zT         nn.Matrix
	zA, zB, lp nn.Matrix
	// images are the blocks' image-path outputs on the rows being scored,
	// kept by ScoresRuns for its chains; empty otherwise.
	images []nn.Matrix
	// With ShareScratch, the sets of layer buffers the blocks share: set 0
	// serves the sequential order and the inference chain, set w the
	// parallel order's worker w.
	sets []scratchSet
}

// scratchSet is one set of layer buffers shared by the blocks: it is at
// the block that last worked with it, or waits in its carrier.
type scratchSet struct {
	carrier, at *Block
}

// lend moves set w of layer buffers to b, which is about to work, when the
// blocks share their scratch (ShareScratch).
func (l *DTLearner) lend(w int, b *Block) {
	if !l.s.ShareScratch {
		return
	}
	l.ensureSets(w + 1)
	set := &l.sets[w]
	from := set.at
	if from == nil {
		from = set.carrier
	}
	if from != b {
		from.MoveScratch(b)
	}
	set.at = b
}

// ensureSets makes n sets of layer buffers exist, before goroutines that
// lend them start.
func (l *DTLearner) ensureSets(n int) {
	for len(l.sets) < n {
		l.sets = append(l.sets, scratchSet{carrier: l.blocks[0].blk.carrier()})
	}
}

// parksSets reports whether set 0 goes back to its carrier after every
// use, as it must where blocks train at once: the parallel order, and the
// sequential one with workers.
func (l *DTLearner) parksSets() bool {
	return l.s.TrainOrder == OrderParallel || l.train.Ahead > 1
}

// park moves set w back to its carrier, so that no block holds it while
// blocks that may hold other sets work.
func (l *DTLearner) park(w int) {
	if w >= len(l.sets) {
		return
	}
	set := &l.sets[w]
	if set.at != nil {
		set.at.MoveScratch(set.carrier)
		set.at = nil
	}
}

// blockState is one block with its optimizer, noise stream and buffers. In
// the parallel order each blockState is touched by one goroutine at a time.
type blockState struct {
	t     int // 1-based block index
	blk   *Block
	opt   nn.Optimizer
	noise *nn.RNG // z_{t−1} ~ q(z_{t−1}|y)

	z, du   nn.Matrix
	embGrad []float32 // this block's gradient with respect to W_Embed (learned only)
	l2      float64   // L2 term of the last step
	mse     float64   // its unweighted mean ‖û − u_y‖²
	// l2s and mses are the L2 term and mean ‖û − u_y‖² of each step of the
	// sequential order's current pass, from blockOwn for blockRest.
	l2s, mses []float64
}

// dtRule is the rule's defaults and constructor (methods.Rule).
var dtRule = methods.Rule[DTSettings, *DTLearner]{Defaults: DefaultDTSettings, Build: NewDTLearner}

// DTMethod is NoProp-DT for the catalog: Li, Teh & Pascanu (2025), "NoProp:
// Training Neural Networks without Full Back-propagation or Full
// Forward-propagation", discrete-time variant.
var DTMethod = methods.Method{
	Name: "noprop-dt",
	Summary: "NoProp-DT (Li, Teh, Pascanu 2025): T blocks, each trained alone to denoise a noisy " +
		"class embedding given the image; inference runs the diffusion chain z_0 → z_T",
	Settings: dtRule.Settings,
	Presets: map[string]json.RawMessage{
		// Table 4's NoProp-DT row for MNIST with Figure 5's conv block.
		"paper": json.RawMessage(`{"encoder":"conv","embedding":"one-hot","timesteps":10,"eta":0.1,` +
			`"batch_size":128,"epochs":100,"iterations":0,"optimizer":"adamw","lr":0.001,"weight_decay":0.001,` +
			`"dropout":0.2,"hidden":256,"train_order":"sequential","head":"softmax"}`),
		// The same for CIFAR-10/100: 150 epochs.
		"paper-cifar": json.RawMessage(`{"encoder":"conv","embedding":"one-hot","timesteps":10,"eta":0.1,` +
			`"batch_size":128,"epochs":150,"iterations":0,"optimizer":"adamw","lr":0.001,"weight_decay":0.001,` +
			`"dropout":0.2,"hidden":256,"train_order":"sequential","head":"softmax"}`),
		// A fast run: the mlp encoder, one epoch (T passes over the data).
		"quick": json.RawMessage(`{"encoder":"mlp","epochs":1,"iterations":0}`),
	},
	New:        dtRule.New,
	Stochastic: true,
	Toy:        json.RawMessage(`{"hidden":32,"timesteps":4,"iterations":100,"batch_size":32,"lr":0.01}`),
}

// NewDTLearner builds a NoProp-DT learner for problem p with validated
// settings s. All randomness derives from p.Seed, split by component:
// "embed", "head", "block/t" (initialisation, dropout and the z_{t−1}
// noise of block t), "head/noise" (z_T of the CE term), "order" (minibatch
// order) and "inference".
func NewDTLearner(p methods.Problem, s DTSettings) (*DTLearner, error) {
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
	init, _ := nn.ParseInit(s.Init)
	l := &DTLearner{
		s:         s,
		input:     p.Input,
		m:         p.Outputs,
		sched:     CosineSchedule(s.Timesteps),
		embed:     e,
		head:      NewHead(s.Head, e, s.PosteriorSigma, init, root.Split("head")),
		train:     methods.NewTrainer(s.Training, root.Split("order")),
		headNoise: root.Split("head/noise"),
		infer:     root.Split("inference"),
	}
	if l.shared, err = s.Optim.New(); err != nil {
		return nil, err
	}
	l.sharedParams = slices.Clone(l.head.Params())
	if e.Learned() {
		l.sharedParams = append(l.sharedParams, e.W)
	}
	cfg := s.Arch.blockConfig(p.Input, e)
	cfg.zGrad = e.Learned()
	for t := 1; t <= s.Timesteps; t++ {
		brng := root.Split(fmt.Sprintf("block/%d", t))
		bs := &blockState{t: t, blk: newBlock(cfg, brng), noise: brng.Split("noise")}
		if bs.opt, err = s.Optim.New(); err != nil {
			return nil, err
		}
		if e.Learned() {
			bs.embGrad = make([]float32, e.M*e.D)
		}
		l.blocks = append(l.blocks, bs)
	}
	return l, nil
}

// Settings returns the learner's settings.
func (l *DTLearner) Settings() DTSettings { return l.s }

// Schedule returns the noise schedule.
func (l *DTLearner) Schedule() Schedule { return l.sched }

// Embedding returns W_Embed (shared with the learner, not a copy).
func (l *DTLearner) Embedding() *Embedding { return l.embed }

// NumParams is the number of trainable values: all blocks, the head and a
// learned W_Embed.
func (l *DTLearner) NumParams() int {
	n := nn.CountParams(l.sharedParams)
	for _, bs := range l.blocks {
		n += bs.blk.NumParams()
	}
	return n
}

// SetInferenceSeed changes the stream Scores draws its noise from (z_0 and
// the ε_t of every step). Scores is a deterministic function of the
// parameters, the input and this seed (default 0); the paper's 5 inference
// runs per trained model are 5 seeds.
func (l *DTLearner) SetInferenceSeed(seed uint64) { l.inferSeed = seed }

// Learn trains on one task's data for the configured budget; only the
// active outputs take part.
//
// Per minibatch and block t (Algorithm 1, with its typo fixed):
// z_{t−1} ~ q(z_{t−1}|y) = N(√ᾱ_{t−1} u_y, (1−ᾱ_{t−1}) I) and
//
//	L_t = CE(p̂_θout(y | z_T)) + KL(q(z_0|y) ‖ p(z_0))
//	    + (T/2)·η·(SNR(t)−SNR(t−1))·mean_i ‖û_θt(z_{t−1},x) − u_y‖²
//
// with z_T ~ q(z_T|y). θ_t gets the gradient of the L2 term only; θ_out the
// CE term's; a learned W_Embed all three (the L2 target, the block output
// softmax·W_Embed and the pathwise gradients through the sampled z_{t−1} and
// z_T, and the KL). For a fixed one-hot embedding the KL term is a constant:
// it is reported in the loss, not differentiated. A prototype embedding's
// rows of the classes that become active here are set first, from this
// task's images (Embedding.Meet).
//
// Training order "sequential" (the paper's): per epoch, for t = 1..T, one
// pass over the (reshuffled) data in which every minibatch updates θ_t,
// θ_out and W_Embed. Each block pass is reported with Part "block t".
//
// The passes of consecutive blocks need not wait for each other: with
// one-hot embeddings a block's step reads nothing another block's or the
// head's step writes. So with Workers > 1 (by default for the mlp
// encoder on several cores) the Trainer trains that many consecutive
// blocks' passes at once, their minibatch orders drawn in turn, and the
// head's steps follow in the order above: the same result, bit for bit,
// as the blocks in turn (methods.Part's Own and Rest).
//
// Training order "parallel": per minibatch, all T blocks take their step
// concurrently, each on its own z_{t−1} sample (goroutines over blocks; every
// block only touches its own parameters, buffers and RNG). θ_out and W_Embed
// then take one step on the gradient of CE + KL + (1/T)·Σ_t L2_t, i.e. of
// Eq. 8 with the expectation over t computed exactly, where the sequential
// order samples one t per step; the block terms are summed in block order,
// so the result does not depend on goroutine scheduling. Each epoch is
// reported once, with the mean of that loss and an empty Part.
//
// The reported TrainAcc is the head's accuracy on z_T ~ q(z_T|y) over the
// active classes, a by-product of the CE term; it is not the accuracy of
// the full chain (that needs T block evaluations per example).
//
// The budget, minibatch order, cancellation and the divergence guard are
// the shared scaffold's (methods.Trainer). Optimizer state carries over
// between Learn calls.
func (l *DTLearner) Learn(ctx context.Context, data tasks.Set, active []int, obs methods.Observer) error {
	task, err := methods.NewTaskData(data, active, l.input, l.m)
	if err != nil {
		return err
	}
	if err := l.embed.Meet(task.Data, task.Active); err != nil {
		return err
	}
	if l.s.TrainOrder == OrderParallel {
		return l.train.Train(ctx, task, obs, methods.Part{Step: l.parallelStep, Terms: DTTerms})
	}
	l.train.Ahead = l.aheadWorkers()
	if l.s.ShareScratch && l.train.Ahead > 1 {
		l.ensureSets(min(l.train.Ahead, len(l.blocks)))
		l.park(0) // scoring leaves set 0 at the last block
	}
	steps := l.train.Batches(task.Data.Len())
	parts := make([]methods.Part, len(l.blocks))
	for i, bs := range l.blocks {
		bs.sizeSteps(steps)
		parts[i] = methods.Part{Name: fmt.Sprintf("block %d", bs.t),
			Own:   func(w, k int, b methods.Batch) { l.blockOwn(w, bs, k, b) },
			Rest:  func(k int, b methods.Batch) (methods.Step, error) { return l.blockRest(bs, k, b) },
			Terms: DTTerms}
	}
	return l.train.Train(ctx, task, obs, parts...)
}

// DTTerms are the terms NoProp-DT reports per pass (EpochStats.Terms): the
// three terms of Eq. 8 as they enter the loss ("l2" the block's
// (T/2)·η·(SNR(t)−SNR(t−1))-weighted denoising term, the mean over the
// blocks in the parallel order; "ce" the head's cross-entropy on z_T; "kl"
// the prior's) and "mse", the unweighted mean ‖û − u_y‖².
var DTTerms = []string{"l2", "ce", "kl", "mse"}

// blockStep runs block bs forward and backward on one minibatch and returns
// its L2 term (T/2)·η·(SNR(t)−SNR(t−1))·mean_i ‖û − u_y‖². It fills the
// block's parameter gradients and, for a learned embedding, bs.embGrad (the
// block's whole gradient with respect to W_Embed). It touches nothing shared
// but reads W_Embed, so blocks may run it concurrently. Each row's share
// weighs its weight (Batch.Weight); the block's output softmax is masked
// by each row's active outputs when mask_block_output is set.
func (l *DTLearner) blockStep(bs *blockState, b methods.Batch) float64 {
	x, y := b.X, b.Y
	e, t, n := l.embed, bs.t, x.Rows
	ab := l.sched.AlphaBar[t-1]
	bs.z = nn.Resize(bs.z, n, e.D)
	sampleLatent(bs.z, e, y, ab, bs.noise)
	var mask []bool
	if l.s.MaskBlockOutput {
		mask = b.Mask
	}
	u := bs.blk.Forward(x, bs.z, mask, true)
	w := 0.5 * float64(l.sched.T) * l.s.Eta * l.sched.SNRDiff(t)
	bs.du = nn.Resize(bs.du, n, e.D)
	g := float32(2 * w / float64(n))
	sum := 0.0
	for i := range n {
		ur, tr, dr := u.Row(i), e.Row(y[i]), bs.du.Row(i)
		bw, gw := float64(b.W(i)), g*b.W(i)
		for j, v := range ur {
			diff := v - tr[j]
			sum += bw * float64(diff) * float64(diff)
			dr[j] = gw * diff
		}
	}
	var eg []float32
	if e.Learned() {
		eg = bs.embGrad
		clear(eg)
		for i := range n { // the target u_y
			addInto(eg[y[i]*e.D:(y[i]+1)*e.D], bs.du.Row(i), -1)
		}
	}
	dz := bs.blk.Backward(bs.du, eg)
	if e.Learned() && dz.Rows == n { // the pathwise gradient through z_{t−1}
		s := float32(math.Sqrt(ab))
		for i := range n {
			addInto(eg[y[i]*e.D:(y[i]+1)*e.D], dz.Row(i), s)
		}
	}
	bs.mse = sum / float64(n)
	return w * sum / float64(n)
}

// sharedStep computes the CE and KL terms on one minibatch, filling the
// gradients of θ_out and (learned embedding) W_Embed, and returns them with
// the number of examples the head classifies correctly. Each row's share
// weighs its weight (Batch.Weight).
func (l *DTLearner) sharedStep(b methods.Batch) (ce, kl float64, correct int) {
	y := b.Y
	e, n := l.embed, len(y)
	abT := l.sched.AlphaBar[l.sched.T]
	l.zT = nn.Resize(l.zT, n, e.D)
	sampleLatent(l.zT, e, y, abT, l.headNoise)
	logits := l.head.Forward(l.zT, b.Mask, true)
	ce = l.xent.ForwardMask(logits, y, b.Mask, b.Weight)
	correct = l.xent.Correct()
	var eg []float32
	if e.Learned() {
		eg = e.W.Grad
	}
	dz := l.head.Backward(l.xent.Backward(), eg)
	if e.Learned() && dz.Rows == n {
		s := float32(math.Sqrt(abT))
		for i := range n {
			addInto(eg[y[i]*e.D:(y[i]+1)*e.D], dz.Row(i), s)
		}
	}
	a0 := float32(l.sched.AlphaBar[0])
	for i := range n {
		u, w := e.Row(y[i]), b.W(i)
		kl += float64(w) * l.sched.KLPrior(sumSq(u), e.D)
		if e.Learned() {
			addInto(eg[y[i]*e.D:(y[i]+1)*e.D], u, a0*w/float32(n))
		}
	}
	return ce, kl / float64(n), correct
}

// sampleLatent fills z (rows × d) with z_i ~ N(√ab·u_{y_i}, (1−ab) I).
func sampleLatent(z nn.Matrix, e *Embedding, y []int, ab float64, rng *nn.RNG) {
	rng.FillNormal(z.Data, float32(math.Sqrt(1-ab)))
	s := float32(math.Sqrt(ab))
	for i, c := range y {
		addInto(z.Row(i), e.Row(c), s)
	}
}

// addInto sets dst += s·src.
func addInto(dst, src []float32, s float32) {
	src = src[:len(dst)]
	for j, v := range src {
		dst[j] += s * v
	}
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// VisitState visits everything the learner's future depends on: the
// blocks (parameters, BatchNorm statistics, dropout streams), their noise
// streams and optimizers, the head and W_Embed with the shared optimizer,
// and the trainer (minibatch order and position).
func (l *DTLearner) VisitState(v nn.StateVisitor) {
	l.embed.VisitState(v, "embed")
	nn.VisitParams(v, "head", l.head.Params())
	nn.VisitOptimizer(v, "shared", l.shared, l.sharedParams)
	l.headNoise.VisitState(v, "head/noise")
	for _, bs := range l.blocks {
		name := fmt.Sprintf("block/%d", bs.t)
		bs.blk.VisitState(v, name)
		nn.VisitOptimizer(v, name+"/opt", bs.opt, bs.blk.Params())
		bs.noise.VisitState(v, name+"/noise")
	}
	l.train.VisitState(v, "train")
}
