package dtp

import (
	"encoding/json"

	"github.com/noprop/noprop/methods"
	"github.com/noprop/noprop/methods/nn"
)

// Settings configure target propagation. The defaults are Bartunov et al.'s
// (2018) fully connected MNIST DTP: 5×256 tanh, Adam with separate
// optimizers for the forward and the inverse weights, the alternating
// schedule; the learning rates, α and σ are our choice within their search
// ranges (lr 1e-5–3e-4, α 0.01–0.2, σ 0.01–0.3), where the paper's best
// values are not given in the text we have; 30 epochs, where our MNIST
// test accuracy levels off (they report the best within 500).
type Settings struct {
	// Hidden are the widths of the tanh layers. Bartunov: 5×256; Lee et
	// al.: 7×240.
	Hidden []int `json:"hidden" range:"[1,16384]" help:"widths of the hidden tanh layers (Bartunov et al.: 5×256; Lee et al.: 7×240)"`
	// Init is the initialisation of forward and inverse weights; Lee et
	// al.'s code: orthogonal.
	Init string `json:"init" enum:"pytorch|he-normal|xavier-uniform|orthogonal" help:"weight initialisation, forward and inverse (Lee et al.: orthogonal)"`
	// Variant is "dtp" (Lee et al.: the penultimate target is a gradient
	// step on the output loss) or "sdtp" (Bartunov et al.'s simplified DTP:
	// it is h − g(p) + g(onehot(y)) through a trained inverse of the output
	// layer, so no gradient is used at all).
	Variant string `json:"variant" enum:"dtp|sdtp" help:"dtp: the top target is a gradient step (Lee et al.); sdtp: through a trained inverse of the output layer from the label (Bartunov et al.)"`
	// Schedule is "alternating" (a pass over the data training only the
	// inverses, then one training only the forward weights, per epoch;
	// Lee et al.'s code, and Bartunov et al.'s better one) or
	// "simultaneous" (both on every minibatch; Bartunov's "parallel").
	Schedule string `json:"schedule" enum:"alternating|simultaneous" help:"alternating: an inverse pass then a forward pass over the data per epoch; simultaneous: both on every minibatch"`
	// Alpha is α of DTP's top target ĥ = h − α·∂ℓ/∂h, with ℓ the example's
	// own cross-entropy. Lee et al.: 0.328.
	Alpha float64 `json:"alpha" range:"(0,)" help:"dtp: step size α of the top target h − α·∂loss/∂h, per example (Lee et al.: 0.328)"`
	// Noise is σ of the corruption h̃ = h + σε the inverses are trained on.
	// Lee et al.: 0.36.
	Noise float64 `json:"noise" range:"[0,)" help:"σ of the Gaussian corruption of the activities the inverses learn to reconstruct (Lee et al.: 0.36)"`
	// InverseTarget is what the inverse reconstructs from f(h̃): "noisy",
	// h̃ itself (Lee et al.'s noise-preserving loss ‖g(f(h̃)) − h̃‖²), or
	// "clean", h (a denoising loss ‖g(f(h̃)) − h‖², as Bartunov et al.
	// describe for SDTP).
	InverseTarget string `json:"inverse_target" enum:"noisy|clean" help:"noisy: the inverse reconstructs the corrupted activity (Lee et al.); clean: the uncorrupted one (denoising)"`
	// InverseLR is the inverses' learning rate; their optimizer is of the
	// forward's kind (and momentum), without weight decay.
	InverseLR float64 `json:"inverse_lr" range:"(0,)" help:"learning rate of the inverse weights' own optimizer (same kind as the forward's, no weight decay)"`
	methods.Training
	methods.Optim
}

// The variants, schedules and inverse targets Settings accepts.
const (
	VariantDTP  = "dtp"
	VariantSDTP = "sdtp"

	Alternating  = "alternating"
	Simultaneous = "simultaneous"

	TargetNoisy = "noisy"
	TargetClean = "clean"
)

// DefaultSettings returns Bartunov et al.'s fully connected MNIST DTP with
// our choice of rates (see Settings).
func DefaultSettings() Settings {
	return Settings{
		Hidden:        []int{256, 256, 256, 256, 256},
		Init:          string(nn.InitOrthogonal),
		Variant:       VariantDTP,
		Schedule:      Alternating,
		Alpha:         0.1,
		Noise:         0.1,
		InverseTarget: TargetNoisy,
		InverseLR:     3e-4,
		Training:      methods.DefaultTraining(128, 30, 0),
		Optim:         methods.Optim{Optimizer: "adam", LR: 1e-4},
	}
}

// Validate needs a hidden layer.
func (s Settings) Validate() error {
	if len(s.Hidden) == 0 {
		return &methods.SettingError{Name: "hidden", Value: "[]", Msg: "need at least one hidden layer"}
	}
	return nil
}

// Method is difference target propagation for the catalog.
var Method = methods.Method{
	Name: "dtp",
	Summary: "difference target propagation (Lee et al. 2015; Bartunov et al. 2018): layer-wise targets " +
		"sent down through trained inverses with the difference correction, each layer fit to its target",
	Settings: rule.Settings,
	Presets: map[string]json.RawMessage{
		// Bartunov et al.'s MNIST FC DTP, alternating. They report the best
		// test error within 500 epochs; on MNIST ours levels off by 30.
		"paper": json.RawMessage(`{"variant":"dtp","schedule":"alternating","hidden":[256,256,256,256,256],"epochs":30,"iterations":0}`),
		// Lee et al.'s MNIST network, α, σ, batch and budget. Their
		// optimizer is RMSprop (forward lr 0.0149, inverse 0.005), which
		// the settings do not offer: Adam at the defaults' rates.
		"lee": json.RawMessage(`{"variant":"dtp","schedule":"alternating","hidden":[240,240,240,240,240,240,240],` +
			`"alpha":0.328,"noise":0.36,"batch_size":100,"epochs":100,"iterations":0}`),
		// Bartunov et al.'s simplified DTP (no gradient at all).
		"sdtp": json.RawMessage(`{"variant":"sdtp","inverse_target":"clean"}`),
		// A fast run: one epoch.
		"quick": json.RawMessage(`{"epochs":1,"iterations":0}`),
	},
	New: rule.New,
	Toy: json.RawMessage(`{"hidden":[32,32],"iterations":150,"epochs":0,"batch_size":32,"lr":0.003,"inverse_lr":0.003}`),
}

// rule is the rule's defaults and constructor (methods.Rule).
var rule = methods.Rule[Settings, *Learner]{Defaults: DefaultSettings, Build: NewLearner}
