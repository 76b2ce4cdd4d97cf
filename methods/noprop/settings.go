package noprop

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"github.com/noprop/noprop/methods"
	"github.com/noprop/noprop/methods/nn"
)

// Settings configures NoProp-DT. The defaults are the paper's NoProp-DT row
// of Table 4 (MNIST) with the architecture of Figure 5; where the paper is
// silent, the default is our documented choice. JSON field names are
// lower_snake_case.
type Settings struct {
	// Encoder is the image path of every block: "conv" is the paper's
	// (conv32–pool–conv64–conv128–pool, dropout, FC256, BN; Figure 5);
	// "mlp" replaces the conv stack with FC(in→hidden)+BN, for fast runs on
	// CPU. Default "conv".
	Encoder string `json:"encoder"`
	// Embedding is the class embedding W_Embed: "one-hot" (fixed identity,
	// d = m; the paper's default), "learned" (the paper's "dim=20") or
	// "prototype" (d = image size, initialised to a medoid-like training
	// image per class). Default "one-hot".
	Embedding string `json:"embedding"`
	// EmbedDim is d for the "learned" embedding. Paper: 20. Ignored by the
	// other kinds, whose d is fixed.
	EmbedDim int `json:"embed_dim"`
	// PrototypeSubset is the largest number of images per class searched for
	// the prototype (the median-distance search is quadratic in it). The
	// paper searches the whole class; our choice: 256, a random subset drawn
	// from the seed.
	PrototypeSubset int `json:"prototype_subset"`

	// Timesteps is T, the number of blocks. Paper (Table 4): 10.
	Timesteps int `json:"timesteps"`
	// Eta is η, the weight of the SNR-weighted L2 term. Paper (Table 4): 0.1.
	Eta float64 `json:"eta"`

	// BatchSize is the minibatch size, at least 2 for BatchNorm. Paper
	// (Table 4): 128.
	BatchSize int `json:"batch_size"`
	// Epochs is the training budget per Learn call when Iterations is 0. One
	// NoProp-DT epoch is T passes over the data, one per block (paper §4).
	// Paper: 100 (MNIST), 150 (CIFAR; preset "paper-cifar").
	Epochs int `json:"epochs"`
	// Iterations, when positive, replaces Epochs: the number of minibatch
	// steps each block takes per Learn call (continual-learning protocols
	// count iterations, e.g. 2000 per task on split MNIST). The steps are
	// grouped into rounds of one pass over the data per block, so the
	// sequential order stays the paper's epoch-outer, block-inner loop; the
	// last round is cut short. Default 0 (use Epochs).
	Iterations int `json:"iterations"`

	// Optimizer is the update rule for every parameter: "adamw" (paper),
	// "adam" or "sgd". Every parameter has its own optimizer state, which is
	// what one PyTorch AdamW over the whole model gives when the blocks not
	// being trained have no gradient; it is the same as one optimizer per
	// block (the paper leaves this open, noprop.md §9.6).
	Optimizer string `json:"optimizer"`
	// LR is the learning rate. Paper (Table 4): 1e-3.
	LR float64 `json:"lr"`
	// WeightDecay is the (decoupled, for AdamW) weight decay. Paper
	// (Table 4): 1e-3.
	WeightDecay float64 `json:"weight_decay"`
	// Init is the weight initialisation of every layer (see nn.ParseInit).
	// The paper does not say; default "pytorch", PyTorch's default, which a
	// PyTorch implementation of the paper would have used.
	Init string `json:"init"`
	// Dropout is the drop probability after each conv stage (Figure 5):
	// 0.2. Unused by the mlp encoder.
	Dropout float64 `json:"dropout"`
	// BNMomentum is the BatchNorm running-statistics momentum, PyTorch's
	// convention: running = (1−m)·running + m·batch. The paper does not say;
	// default 0.1, PyTorch's default.
	BNMomentum float64 `json:"bn_momentum"`
	// Hidden is the width of the image features, the label path and the
	// first fusion layer; the second fusion layer has Hidden/2 units.
	// Paper (Figure 5): 256 (so 512 after the concat, then 256, 128).
	Hidden int `json:"hidden"`

	// TrainOrder is "sequential" (the paper's: for t = 1..T, a pass over
	// the data for block t) or "parallel" (all T blocks updated on the same
	// minibatch concurrently; see Learner.Learn for the shared parameters).
	TrainOrder string `json:"train_order"`
	// Workers is the number of goroutines that train blocks concurrently
	// in the parallel order; 0 means GOMAXPROCS. Results do not depend on it.
	Workers int `json:"workers"`
	// MaskBlockOutput restricts each block's output softmax to the active
	// outputs while learning, so û is a convex combination of the active
	// classes' embeddings (as the head's CE is restricted); at inference,
	// to the outputs active in any Learn call so far (outputs never trained
	// only add noise). It matters only when some outputs are inactive
	// (continual learning). Our choice: true.
	MaskBlockOutput bool `json:"mask_block_output"`

	// Head is p̂_θout: "softmax" (Eq. 14: softmax(Linear(z_T)), the paper's
	// default) or "posterior" (Eq. 15–16: ỹ = softmax(Linear(z_T))·W_Embed,
	// p(y|z_T) ∝ exp(−‖ỹ−u_y‖²/(2σ²))). The head is the same in the CE
	// term of training and at inference.
	Head string `json:"head"`
	// PosteriorSigma is σ of the posterior head; the paper does not give
	// it. Our choice: 1, the scale of the unit-variance prior p(z_0) and of
	// the unit-norm one-hot/orthogonal embeddings. The head's arg-max does
	// not depend on σ; σ sets how peaked the class probabilities are
	// (with one-hot, the logit gap is at most 1/σ²).
	PosteriorSigma float64 `json:"posterior_sigma"`
	// InferenceSamples is the number of independent chains z_0 → z_T
	// whose class probabilities Scores averages. The paper's 5 inference
	// runs are separate evaluations whose accuracies it averages, not an
	// average inside one prediction; default 1, one chain per prediction.
	InferenceSamples int `json:"inference_samples"`
	// EvalBatch is the number of rows Scores pushes through the chain at
	// once, bounding the memory of evaluation; 0 means BatchSize. Every
	// block keeps buffers for the largest batch it has seen, so a chunk
	// larger than the training batch grows all T blocks' buffers (with the
	// conv encoder about 0.6 MB per row per block). Default 0.
	EvalBatch int `json:"eval_batch"`
}

// DefaultSettings returns the paper's NoProp-DT settings for MNIST (Table 4)
// with the conv encoder and one-hot embeddings.
func DefaultSettings() Settings {
	return Settings{
		Encoder:          EncoderConv,
		Embedding:        EmbedOneHot,
		EmbedDim:         20,
		PrototypeSubset:  256,
		Timesteps:        10,
		Eta:              0.1,
		BatchSize:        128,
		Epochs:           100,
		Iterations:       0,
		Optimizer:        "adamw",
		LR:               1e-3,
		WeightDecay:      1e-3,
		Init:             string(nn.InitPyTorch),
		Dropout:          0.2,
		BNMomentum:       0.1,
		Hidden:           256,
		TrainOrder:       OrderSequential,
		Workers:          0,
		MaskBlockOutput:  true,
		Head:             HeadSoftmax,
		PosteriorSigma:   1,
		InferenceSamples: 1,
		EvalBatch:        0,
	}
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

// optimizers lists the Optimizer values accepted.
var optimizers = []string{"adamw", "adam", "sgd"}

// ParseSettings reads a JSON object of settings over the defaults. Unknown
// fields are an error; so is trailing data. Empty input gives the defaults.
// The result is validated.
func ParseSettings(raw json.RawMessage) (Settings, error) {
	s := DefaultSettings()
	if err := methods.DecodeSettings(raw, &s); err != nil {
		return Settings{}, fmt.Errorf("noprop-dt %w", err)
	}
	if err := s.Validate(); err != nil {
		return Settings{}, err
	}
	return s, nil
}

// Validate checks every field and returns an error naming the first bad one
// by its JSON name.
func (s Settings) Validate() error {
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("noprop-dt settings: %s: %s", field, fmt.Sprintf(format, args...))
	}
	oneOf := func(field, v string, allowed ...string) error {
		for _, a := range allowed {
			if v == a {
				return nil
			}
		}
		return bad(field, "%q is not one of %s", v, strings.Join(allowed, ", "))
	}
	finite := func(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
	if err := oneOf("encoder", s.Encoder, EncoderConv, EncoderMLP); err != nil {
		return err
	}
	if err := oneOf("embedding", s.Embedding, EmbedOneHot, EmbedLearned, EmbedPrototype); err != nil {
		return err
	}
	if s.EmbedDim < 1 {
		return bad("embed_dim", "%d must be at least 1", s.EmbedDim)
	}
	if s.PrototypeSubset < 2 {
		return bad("prototype_subset", "%d must be at least 2", s.PrototypeSubset)
	}
	if s.Timesteps < 1 {
		return bad("timesteps", "%d must be at least 1", s.Timesteps)
	}
	if !finite(s.Eta) || s.Eta <= 0 {
		return bad("eta", "%g must be positive", s.Eta)
	}
	if s.BatchSize < 2 {
		return bad("batch_size", "%d must be at least 2 (BatchNorm needs batch statistics)", s.BatchSize)
	}
	if s.Epochs < 0 {
		return bad("epochs", "%d must not be negative", s.Epochs)
	}
	if s.Iterations < 0 {
		return bad("iterations", "%d must not be negative", s.Iterations)
	}
	if s.Epochs == 0 && s.Iterations == 0 {
		return bad("epochs", "epochs and iterations are both 0: set one of them")
	}
	if err := oneOf("optimizer", s.Optimizer, optimizers...); err != nil {
		return err
	}
	if !finite(s.LR) || s.LR <= 0 {
		return bad("lr", "%g must be positive", s.LR)
	}
	if !finite(s.WeightDecay) || s.WeightDecay < 0 {
		return bad("weight_decay", "%g must not be negative", s.WeightDecay)
	}
	if _, err := nn.ParseInit(s.Init); err != nil {
		return bad("init", "%v", err)
	}
	if !(s.Dropout >= 0 && s.Dropout < 1) {
		return bad("dropout", "%g must be in [0, 1)", s.Dropout)
	}
	if !(s.BNMomentum > 0 && s.BNMomentum <= 1) {
		return bad("bn_momentum", "%g must be in (0, 1]", s.BNMomentum)
	}
	if s.Hidden < 2 {
		return bad("hidden", "%d must be at least 2", s.Hidden)
	}
	if err := oneOf("train_order", s.TrainOrder, OrderSequential, OrderParallel); err != nil {
		return err
	}
	if s.Workers < 0 {
		return bad("workers", "%d must not be negative (0 means GOMAXPROCS)", s.Workers)
	}
	if err := oneOf("head", s.Head, HeadSoftmax, HeadPosterior); err != nil {
		return err
	}
	if !finite(s.PosteriorSigma) || s.PosteriorSigma <= 0 {
		return bad("posterior_sigma", "%g must be positive", s.PosteriorSigma)
	}
	if s.InferenceSamples < 1 {
		return bad("inference_samples", "%d must be at least 1", s.InferenceSamples)
	}
	if s.EvalBatch < 0 {
		return bad("eval_batch", "%d must not be negative (0 means batch_size)", s.EvalBatch)
	}
	return nil
}
