package forwardgrad

import (
	"encoding/json"
	"slices"

	"github.com/noprop/noprop/methods"
	"github.com/noprop/noprop/methods/lrsched"
	"github.com/noprop/noprop/methods/nn"
)

// Variant is one of the four forward-gradient rules: what is perturbed,
// and whether the network is cut into local blocks.
type Variant struct {
	Name     string
	Activity bool // perturb pre-activations (FG-A), not weights (FG-W)
	Local    bool // a block with its own head per hidden layer (LG-)
}

// The four variants.
var (
	FGW   = Variant{Name: "fg-w"}
	FGA   = Variant{Name: "fg-a", Activity: true}
	LGFGW = Variant{Name: "lg-fg-w", Local: true}
	LGFGA = Variant{Name: "lg-fg-a", Activity: true, Local: true}
)

// Settings configure a forward-gradient learner. The variant is fixed by the
// catalog entry, not a setting.
type Settings struct {
	// Hidden are the widths of the hidden ReLU layers (for the local
	// variants, one block each).
	Hidden []int `json:"hidden" range:"[1,16384]" help:"widths of the hidden ReLU layers (local variants: one block with its own head each)"`
	// Init is the weight initialisation (see nn.ParseInit).
	Init string `json:"init" enum:"pytorch|he-normal|xavier-uniform|orthogonal" help:"weight initialisation"`
	// Perturbations is K, the directions averaged per step: the variance
	// falls as 1/K, the cost grows as K forward-mode passes. Baydin et al.
	// and Ren et al.: 1.
	Perturbations int `json:"perturbations" range:"[1,1024]" help:"K, independent perturbations whose estimates are averaged per step (papers: 1)"`
	// Groups splits each block's hidden units into groups with a
	// forward-mode pass each (Ren et al.'s channel groups); lg-fg-a only.
	Groups int `json:"groups" range:"[1,65536]" help:"lg-fg-a: groups of each block's hidden units, each with its own forward-mode pass (Ren et al.'s channel groups); 1 for the other variants"`
	// Schedule is the learning-rate schedule over each Learn call's budget
	// (see lrsched). The estimates' noise calls for large early steps and
	// small late ones; the papers' MNIST schedules are not given in the
	// text we have. Our choice: cosine.
	Schedule string `json:"lr_schedule" enum:"constant|cooldown|cosine" help:"learning-rate schedule over each task's budget: constant; cooldown, constant for the first half then linearly towards 0; cosine"`
	methods.Training
	methods.Optim

	variant Variant
}

// Defaults returns the variant's defaults, our choice (see the package
// doc): a 2×1000 ReLU MLP (two blocks for the local variants), one
// perturbation per step, Adam lr 1e-3 with a cosine schedule, batch 128,
// 30 epochs; LG-FG-A with 16 groups (as Ren et al.'s MNIST M/1/16).
func (v Variant) Defaults() Settings {
	s := Settings{
		Hidden:        []int{1000, 1000},
		Init:          string(nn.InitPyTorch),
		Perturbations: 1,
		Groups:        1,
		Schedule:      lrsched.Cosine,
		Training:      methods.DefaultTraining(128, 30, 0),
		Optim:         methods.Optim{Optimizer: "adam", LR: 1e-3},
		variant:       v,
	}
	if v == LGFGA {
		s.Groups = 16
	}
	return s
}

// Validate checks the groups against the variant and the widths.
func (s Settings) Validate() error {
	if len(s.Hidden) == 0 {
		return &methods.SettingError{Name: "hidden", Value: "[]", Msg: "need at least one hidden layer"}
	}
	if s.Groups > 1 && s.variant != LGFGA {
		return methods.Invalid("groups", s.Groups, "applies to lg-fg-a only: set groups=1 for %s", s.variant.Name)
	}
	if w := slices.Min(s.Hidden); s.Groups > w {
		return methods.Invalid("groups", s.Groups, "exceeds the narrowest hidden layer (%d units)", w)
	}
	return nil
}

// Narrowed documents what Validate adds to the tags.
func (s Settings) Narrowed() map[string]string {
	if s.variant == LGFGA {
		return map[string]string{"groups": "1 to the narrowest hidden width"}
	}
	return map[string]string{"groups": "1 (lg-fg-a only)"}
}

// rule is the variant's defaults and constructor (methods.Rule).
func (v Variant) rule() methods.Rule[Settings, *Learner] {
	return methods.Rule[Settings, *Learner]{Defaults: v.Defaults, Build: NewLearner}
}

// method describes the variant for the catalog.
func (v Variant) method(summary string, toy string) methods.Method {
	return methods.Method{
		Name:     v.Name,
		Summary:  summary,
		Settings: v.rule().Settings,
		Presets: map[string]json.RawMessage{
			// Our stand-in for Ren et al.'s MNIST network M/1/16 (one
			// block, 16 groups for lg-fg-a): one hidden layer of 1000,
			// 30 epochs. With one block the local variants equal the
			// global ones but for lg-fg-a's groups.
			"paper": json.RawMessage(`{"hidden":[1000],"perturbations":1,"epochs":30,"iterations":0}`),
			// A fast run: one epoch.
			"quick": json.RawMessage(`{"hidden":[256,256],"epochs":1,"iterations":0}`),
		},
		New: v.New,
		Toy: json.RawMessage(toy),
	}
}

// The catalog entries.
var (
	FGWMethod = FGW.method("forward gradient, weight-perturbed (Baydin et al. 2022): the exact directional derivative "+
		"along a random weight direction v, by forward mode, times v", `{"hidden":[16],"iterations":300,"batch_size":32,"lr":0.003,"perturbations":4}`)
	FGAMethod = FGA.method("forward gradient, activity-perturbed (Ren et al. 2023): per-example random directions "+
		"on the pre-activations, weight gradients as outer products", `{"hidden":[32],"iterations":200,"batch_size":32,"lr":0.003}`)
	LGFGWMethod = LGFGW.method("local greedy forward gradient, weight-perturbed (Ren et al. 2023): one block per hidden "+
		"layer with its own softmax head, FG-W inside each", `{"hidden":[16],"iterations":300,"batch_size":32,"lr":0.003,"perturbations":4}`)
	LGFGAMethod = LGFGA.method("local greedy forward gradient, activity-perturbed (Ren et al. 2023): one block per hidden "+
		"layer with its own softmax head, FG-A inside each, hidden units in groups", `{"hidden":[32],"iterations":200,"batch_size":32,"lr":0.003,"groups":4}`)
)
