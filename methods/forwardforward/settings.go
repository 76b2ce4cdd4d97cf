package forwardforward

import (
	"encoding/json"

	"github.com/noprop/noprop/methods"
	"github.com/noprop/noprop/methods/lrsched"
	"github.com/noprop/noprop/methods/nn"
)

// Settings configure Forward-Forward. The defaults are Hinton's supervised
// MNIST network (4×2000 ReLU, 60 epochs) trained with the optimizer and
// loss of loeweX/Forward-Forward, the PyTorch re-implementation of Hinton's
// Matlab code (SGD with momentum 0.9, lr 1e-3, weight decay 3e-4, batch 100,
// θ = the layer's width, peer normalisation 0.03); the paper does not give
// these.
type Settings struct {
	// Hidden are the widths of the FF layers. Hinton: 4×2000.
	Hidden []int `json:"hidden" range:"[1,16384]" help:"widths of the ReLU layers, each trained by its own loss (paper: 4×2000)"`
	// Init is the weight initialisation (see nn.ParseInit); neither Hinton
	// nor loeweX's choice (N(0, 1/out)) is in nn, so PyTorch's default.
	Init string `json:"init" enum:"pytorch|he-normal|xavier-uniform|orthogonal" help:"weight initialisation"`
	// Threshold is θ per unit: layer l's threshold is θ_l = Threshold ×
	// width_l, so that one value suits every width (loeweX: the goodness
	// Σ y² minus the width, i.e. 1; mpezeshki's mean of squares with θ = 2
	// is 2).
	Threshold float64 `json:"threshold" range:"(0,)" help:"θ per unit: layer l's threshold is this × its width (loeweX: 1)"`
	// LabelScale is the value written in the label's slot among the first
	// Outputs input values (the other slots get 0). loeweX: 1.
	LabelScale float64 `json:"label_scale" range:"(0,)" help:"value of the label's one-hot slot among the first (number of outputs) input values"`
	// PeerNorm is the weight of loeweX's peer normalisation: the squared
	// deviation of each unit's running mean activity (on positive data)
	// from the layer's mean, averaged over units. 0 turns it off.
	PeerNorm float64 `json:"peer_norm" range:"[0,)" help:"weight of the peer-normalisation loss against dead or always-on units (loeweX: 0.03; 0: off)"`
	// PeerMomentum is the momentum of the running mean activities.
	PeerMomentum float64 `json:"peer_momentum" range:"[0,1)" help:"momentum of peer normalisation's running mean activities (loeweX: 0.9)"`
	// Inference is "goodness" (one pass per candidate label; the sum of
	// goodness over layers score_from..L; Hinton's accurate method) or
	// "softmax" (one pass with a neutral label, a linear softmax readout
	// on the normalised activities of layers score_from..L, trained
	// alongside on the features with no gradient into the layers).
	Inference string `json:"inference" enum:"goodness|softmax" help:"goodness: a pass per candidate label, goodness summed; softmax: one pass with a neutral label and a linear readout"`
	// ScoreFrom is the first layer (1-based) used at inference. Hinton and
	// loeweX skip layer 1, which sees the label pixels directly: 2.
	ScoreFrom int `json:"score_from" range:"[1,1000]" help:"first layer (1-based) whose goodness or activities inference uses (paper: 2, skipping the layer that sees the label)"`
	// ReadoutLR and ReadoutWeightDecay are the readout's optimizer settings
	// (the optimizer kind and momentum are the layers'). loeweX: 1e-2, 3e-3.
	ReadoutLR          float64 `json:"readout_lr" range:"(0,)" help:"learning rate of the softmax readout (loeweX: 0.01)"`
	ReadoutWeightDecay float64 `json:"readout_weight_decay" range:"[0,)" help:"weight decay of the softmax readout (loeweX: 0.003)"`
	// Schedule is the learning-rate schedule over each Learn call's budget,
	// for the layers and the readout alike (see lrsched): loeweX cools the
	// rate linearly over the second half of training ("cooldown"; there per
	// epoch, here per step).
	Schedule string `json:"lr_schedule" enum:"constant|cooldown|cosine" help:"learning-rate schedule over each task's budget: constant; cooldown, constant for the first half then linearly towards 0 (loeweX); cosine"`
	methods.Training
	methods.Optim
}

// The inference modes Settings accepts.
const (
	InferGoodness = "goodness"
	InferSoftmax  = "softmax"
)

// DefaultSettings returns Hinton's network with loeweX's training settings.
func DefaultSettings() Settings {
	return Settings{
		Hidden:             []int{2000, 2000, 2000, 2000},
		Init:               string(nn.InitPyTorch),
		Threshold:          1,
		LabelScale:         1,
		PeerNorm:           0.03,
		PeerMomentum:       0.9,
		Inference:          InferGoodness,
		ScoreFrom:          2,
		ReadoutLR:          0.01,
		ReadoutWeightDecay: 0.003,
		Schedule:           lrsched.Cooldown,
		Training:           methods.DefaultTraining(100, 60, 0),
		Optim:              methods.Optim{Optimizer: "sgd", LR: 1e-3, WeightDecay: 3e-4, Momentum: 0.9},
	}
}

// Validate needs a layer, and score_from within the layers.
func (s Settings) Validate() error {
	if len(s.Hidden) == 0 {
		return &methods.SettingError{Name: "hidden", Value: "[]", Msg: "need at least one layer"}
	}
	if s.ScoreFrom > len(s.Hidden) {
		plural := "s"
		if len(s.Hidden) == 1 {
			plural = ""
		}
		return methods.Invalid("score_from", s.ScoreFrom, "the network has %d layer%s: set score_from=%d or add layers", len(s.Hidden), plural, len(s.Hidden))
	}
	return nil
}

// Narrowed documents what Validate adds to the tags.
func (s Settings) Narrowed() map[string]string {
	return map[string]string{"score_from": "at least 1, at most the number of layers"}
}

// Method is Forward-Forward for the catalog.
var Method = methods.Method{
	Name: "ff",
	Summary: "Forward-Forward (Hinton 2022): each ReLU layer trained alone to give high goodness (Σ y²) to " +
		"images with their label and low to images with a wrong one; inference tries every label",
	Settings: rule.Settings,
	Presets: map[string]json.RawMessage{
		// Hinton's supervised MNIST network and budget (60 epochs).
		"paper": json.RawMessage(`{"hidden":[2000,2000,2000,2000],"epochs":60,"iterations":0,"inference":"goodness"}`),
		// loeweX's network (3×1000) at Hinton's 60 epochs: a third of the
		// paper network's cost.
		"loewex": json.RawMessage(`{"hidden":[1000,1000,1000],"epochs":60,"iterations":0}`),
		// A fast run: two layers of 500, one epoch, Adam.
		"quick": json.RawMessage(`{"hidden":[500,500],"epochs":1,"iterations":0,"optimizer":"adam","lr":0.001,"weight_decay":0}`),
	},
	New: rule.New,
	Toy: json.RawMessage(`{"hidden":[64,64],"iterations":200,"epochs":0,"batch_size":32,"optimizer":"adam","lr":0.003,"weight_decay":0}`),
}

// rule is the rule's defaults and constructor (methods.Rule).
var rule = methods.Rule[Settings, *Learner]{Defaults: DefaultSettings, Build: NewLearner}
