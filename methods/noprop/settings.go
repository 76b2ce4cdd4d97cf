package noprop

import (
	"github.com/noprop/noprop/methods"
	"github.com/noprop/noprop/methods/nn"
	"github.com/noprop/noprop/tasks"
)

// Network is the block of settings of the NoProp network that every rule of
// the family shares (NoProp-DT, NoProp-CT, NoProp-FM and the two
// back-propagation baselines): the image path, the class embedding and the
// layer details. The defaults are the paper's (Figure 5, Table 4, MNIST);
// where the paper is silent, they are our documented choice.
type Network struct {
	// Encoder is the image path: "conv" is the paper's
	// (conv32–pool–conv64–conv128–pool, dropout, FC256; then BN in the
	// discrete-time blocks, ReLU in the continuous-time network; Figure 5);
	// "mlp" replaces the conv stack with FC(in→hidden), for fast runs on
	// CPU.
	Encoder string `json:"encoder" enum:"conv|mlp" help:"image path: the paper's conv stack, or one FC layer for fast runs"`
	// Embedding is the class embedding W_Embed: "one-hot" (fixed identity,
	// d = m; the paper's default), "learned" (the paper's "dim=20") or
	// "prototype" (d = image size, each class's row initialised, when the
	// class first becomes active, to a medoid-like training image of it).
	Embedding string `json:"embedding" enum:"one-hot|learned|prototype" help:"class embedding W_Embed: fixed identity, learned (the paper's dim=20), or image-sized from a prototype image per class"`
	// EmbedDim is d for the "learned" embedding. Paper: 20. Ignored by the
	// other kinds, whose d is fixed.
	EmbedDim int `json:"embed_dim" range:"[1,65536]" help:"d of the learned embedding (paper: 20)"`
	// PrototypeSubset is the largest number of images per class searched for
	// the prototype (the median-distance search is quadratic in it). The
	// paper searches the whole class; our choice: 256, a random subset drawn
	// from the seed.
	PrototypeSubset int `json:"prototype_subset" range:"[2,65536]" help:"images per class searched for the prototype (a seeded subset)"`
	// Hidden is the width of the image features, the label path and the
	// first fusion layer; the second fusion layer has Hidden/2 units.
	// Paper (Figure 5): 256 (so 512 after the concat in a discrete-time
	// block, 768 in the continuous-time network, then 256, 128).
	Hidden int `json:"hidden" range:"[2,8192]" help:"width of the image features, the label path and the first fusion layer (paper: 256)"`
	// Dropout is the drop probability after each conv stage (Figure 5):
	// 0.2. Unused by the mlp encoder.
	Dropout float64 `json:"dropout" range:"[0,1)" help:"drop probability after each conv stage (paper: 0.2)"`
	// Init is the weight initialisation of every layer (see nn.ParseInit).
	// The paper does not say; default "pytorch", PyTorch's default, which a
	// PyTorch implementation of the paper would have used.
	Init string `json:"init" enum:"pytorch|he-normal|xavier-uniform|orthogonal" help:"weight initialisation of every layer"`
	// EvalBatch is the number of rows Scores pushes through the chain at
	// once, bounding the memory of evaluation; 0 means the minibatch size.
	// Every network keeps buffers for the largest batch it has seen, so a
	// chunk larger than the training batch grows them (with the conv
	// encoder about 0.6 MB per row per network; NoProp-DT has T networks).
	// A speed setting: every row draws its noise from its own stream, so
	// scores do not depend on it beyond float32 rounding (the GEMM adds in
	// another order for another number of rows), and it is not part of a
	// run's identity.
	EvalBatch int `json:"eval_batch" range:"[0,65536]" identity:"runtime" help:"rows pushed through the chain at once at inference; 0 means batch_size"`
}

// DefaultNetwork returns the paper's network for MNIST: the conv stack,
// one-hot embeddings, width 256, dropout 0.2.
func DefaultNetwork() Network {
	return Network{
		Encoder:         EncoderConv,
		Embedding:       EmbedOneHot,
		EmbedDim:        20,
		PrototypeSubset: 256,
		Hidden:          256,
		Dropout:         0.2,
		Init:            string(nn.InitPyTorch),
	}
}

// evalChunk is the number of rows Scores pushes through at once.
func (n Network) evalChunk(batch int) int {
	if n.EvalBatch > 0 {
		return n.EvalBatch
	}
	return batch
}

// Arch is the block of settings of the discrete-time blocks (NoProp-DT and
// its back-propagation twin backprop-dt): the shared Network and the
// BatchNorm that only the discrete-time block has.
type Arch struct {
	Network
	// BNMomentum is the BatchNorm running-statistics momentum, PyTorch's
	// convention: running = (1−m)·running + m·batch. The paper does not say;
	// default 0.1, PyTorch's default.
	BNMomentum float64 `json:"bn_momentum" range:"(0,1]" help:"BatchNorm running-statistics momentum (PyTorch's convention)"`
}

// DefaultArch returns the paper's discrete-time block for MNIST: the conv
// block, one-hot embeddings, width 256, dropout 0.2, BN momentum 0.1.
func DefaultArch() Arch {
	return Arch{Network: DefaultNetwork(), BNMomentum: 0.1}
}

// blockConfig is what a block of this architecture is built from, for
// inputs of the given shape and embedding e.
func (a Arch) blockConfig(input tasks.Shape, e *Embedding) blockConfig {
	init, _ := nn.ParseInit(a.Init)
	return blockConfig{
		input:      input,
		embed:      e,
		encoder:    a.Encoder,
		hidden:     a.Hidden,
		dropout:    float32(a.Dropout),
		bnMomentum: float32(a.BNMomentum),
		init:       init,
	}
}

// DTSettings configures NoProp-DT. The defaults are the paper's NoProp-DT row
// of Table 4 (MNIST) with the architecture of Figure 5.
type DTSettings struct {
	Arch
	// Timesteps is T, the number of blocks. Paper (Table 4): 10.
	Timesteps int `json:"timesteps" range:"[1,100]" help:"T, the number of blocks (paper: 10)"`
	// Eta is η, the weight of the SNR-weighted L2 term. Paper (Table 4): 0.1.
	Eta float64 `json:"eta" range:"(0,)" help:"η, the weight of the SNR-weighted denoising term (paper: 0.1)"`
	// Training: minibatch 128 (at least 2, for BatchNorm); Epochs is the
	// budget per Learn call when Iterations is 0. One NoProp-DT epoch is T
	// passes over the data, one per block (paper §4). Paper: 100 (MNIST),
	// 150 (CIFAR; preset "paper-cifar"). Iterations, when positive, is the
	// number of minibatch steps each block takes per Learn call
	// (continual-learning protocols count iterations, e.g. 2000 per task on
	// split MNIST), in rounds of one pass over the data per block, so the
	// sequential order stays the paper's epoch-outer, block-inner loop.
	methods.Training
	// Optim is the update rule for every parameter: AdamW, lr 1e-3, weight
	// decay 1e-3 (paper). Every parameter has its own optimizer state,
	// which is what one PyTorch AdamW over the whole model gives when the
	// blocks not being trained have no gradient; it is the same as one
	// optimizer per block (the paper leaves this open, docs/methods.md §9.6).
	methods.Optim

	// TrainOrder is "sequential" (the paper's: for t = 1..T, a pass over
	// the data for block t) or "parallel" (all T blocks updated on the same
	// minibatch concurrently; see DTLearner.Learn for the shared parameters).
	TrainOrder string `json:"train_order" enum:"sequential|parallel" help:"sequential: block after block, the paper's order; parallel: all blocks step on each minibatch concurrently"`
	// Workers is the number of goroutines that train blocks concurrently:
	// in the parallel order the blocks of one minibatch (0 means
	// GOMAXPROCS); in the sequential order, with one-hot embeddings, the
	// passes of that many consecutive blocks, whose shared head still
	// steps in the paper's order (0 means GOMAXPROCS for the mlp encoder,
	// 1 for the conv one; see DTLearner.Learn). Results do not depend on it.
	Workers int `json:"workers" range:"[0,1024]" identity:"runtime" help:"goroutines training blocks concurrently: the parallel order's blocks of a minibatch, or the sequential order's consecutive blocks' passes (one-hot embeddings); 0 means GOMAXPROCS (1 for the sequential order's conv encoder)"`
	// ShareScratch makes the blocks share one set of layer buffers
	// (activations, gradients, im2col columns), which travels to the block
	// at work: the sequential order trains one block at a time and the
	// inference chain runs one block at a time, so the others need none.
	// This is the memory saving of the paper's Table 3; the parallel order
	// needs one set per worker. Results do not depend on it. Default true.
	ShareScratch bool `json:"share_scratch" identity:"runtime" help:"blocks not at work keep no layer buffers: one set travels to the block that trains or infers (one per worker in the parallel order)"`
	// MaskBlockOutput restricts each block's output softmax to the active
	// outputs, so û is a convex combination of the active classes'
	// embeddings: while learning to the outputs of the task's loss (as the
	// head's CE is restricted), at inference to the outputs compared (the
	// task's classes in task-IL, the classes seen so far in class-IL). It
	// matters only when some outputs are inactive (continual learning). Our
	// choice: true.
	MaskBlockOutput bool `json:"mask_block_output" help:"restrict the blocks' output softmax to the active outputs, in training and inference"`

	HeadChoice
	// EnsembleChains is the number of independent chains z_0 → z_T whose
	// class probabilities one prediction averages: an ensemble, not the
	// paper's protocol. The paper's 5 inference runs are separate
	// evaluations whose accuracies are averaged; the harness makes those
	// (its inference_runs). Default 1: one chain per prediction.
	EnsembleChains int `json:"ensemble_chains" range:"[1,1000]" help:"chains averaged inside one prediction (an ensemble; the paper's inference runs are the harness's inference_runs)"`
}

// HeadChoice is the block of settings of the class-probability head
// p̂_θout on the last latent, shared by NoProp-DT and NoProp-CT.
type HeadChoice struct {
	// Head is p̂_θout: "softmax" (Eq. 14: softmax(Linear(z)), the paper's
	// default) or "posterior" (Eq. 15–16: ỹ = softmax(Linear(z))·W_Embed,
	// p(y|z) ∝ exp(−‖ỹ−u_y‖²/(2σ²))), on z = z_T (DT) or z_1 (CT). The
	// head is the same in the CE term of training and at inference.
	Head string `json:"head" enum:"softmax|posterior" help:"class-probability head on the last latent (z_T, z_1): linear+softmax (Eq. 14) or the posterior form (Eq. 16)"`
	// PosteriorSigma is σ of the posterior head; the paper does not give
	// it. Our choice: 1, the scale of the unit-variance prior p(z_0) and of
	// the unit-norm one-hot/orthogonal embeddings. The head's arg-max does
	// not depend on σ; σ sets how peaked the class probabilities are
	// (with one-hot, the logit gap is at most 1/σ²).
	PosteriorSigma float64 `json:"posterior_sigma" range:"(0,)" help:"σ of the posterior head (not given by the paper)"`
}

// DefaultHeadChoice is the paper's default head (Eq. 14) with σ = 1 for the
// posterior one.
func DefaultHeadChoice() HeadChoice { return HeadChoice{Head: HeadSoftmax, PosteriorSigma: 1} }

// DefaultDTSettings returns the paper's NoProp-DT settings for MNIST (Table 4)
// with the conv encoder and one-hot embeddings.
func DefaultDTSettings() DTSettings {
	return DTSettings{
		Arch:            DefaultArch(),
		Timesteps:       10,
		Eta:             0.1,
		Training:        methods.DefaultTraining(128, 100, 0),
		Optim:           methods.Optim{Optimizer: "adamw", LR: 1e-3, WeightDecay: 1e-3},
		TrainOrder:      OrderSequential,
		MaskBlockOutput: true,
		ShareScratch:    true,
		HeadChoice:      DefaultHeadChoice(),
		EnsembleChains:  1,
	}
}

// Validate requires minibatches of at least two (BatchNorm).
func (s DTSettings) Validate() error { return checkBatch(s.BatchSize) }

// Narrowed documents what Validate adds to the tags.
func (s DTSettings) Narrowed() map[string]string { return batchNarrowed }

var batchNarrowed = map[string]string{"batch_size": "at least 2 (BatchNorm)"}

func checkBatch(b int) error {
	if b < 2 {
		return methods.Invalid("batch_size", b, "must be at least 2 (BatchNorm needs batch statistics)")
	}
	return nil
}

// The encoder kinds, training orders and heads Settings accepts.
const (
	EncoderConv = "conv"
	EncoderMLP  = "mlp"

	OrderSequential = "sequential"
	OrderParallel   = "parallel"

	HeadSoftmax   = "softmax"
	HeadPosterior = "posterior"
)
