// Package backprop is the back-propagation baseline: a multilayer perceptron
// trained end to end on softmax cross-entropy. Its defaults are the standard
// split-MNIST protocol of van de Ven & Tolias: 2×400 ReLU, Adam lr 1e-3,
// batch 128, 2000 iterations per task.
//
// It imports methods, methods/nn and tasks.
package backprop

import (
	"context"
	"encoding/json"

	"github.com/noprop/noprop/methods"
	"github.com/noprop/noprop/methods/nn"
	"github.com/noprop/noprop/tasks"
)

// Settings are the knobs of the MLP learner.
type Settings struct {
	Hidden []int  `json:"hidden" range:"[1,16384]" help:"widths of the hidden ReLU layers"`
	Init   string `json:"init" enum:"pytorch|he-normal|xavier-uniform|orthogonal" help:"weight initialisation"`
	methods.Training
	methods.Optim
}

// Defaults are the split-MNIST protocol of van de Ven & Tolias.
func Defaults() Settings {
	return Settings{
		Hidden:   []int{400, 400},
		Init:     string(nn.InitPyTorch),
		Training: methods.DefaultTraining(128, 0, 2000),
		Optim:    methods.Optim{Optimizer: "adam", LR: 1e-3},
	}
}

// Validate requires a hidden layer.
func (s Settings) Validate() error {
	if len(s.Hidden) == 0 {
		return &methods.SettingError{Name: "hidden", Value: "[]", Msg: "need at least one hidden layer"}
	}
	return nil
}

// Method describes the learner for the catalog.
var Method = methods.Method{
	Name:     "backprop",
	Summary:  "MLP trained end to end by back-propagation (default 2x400 ReLU, Adam 1e-3, batch 128, 2000 iterations per task)",
	Settings: rule.Settings,
	Presets: map[string]json.RawMessage{
		// Permuted MNIST protocol of van de Ven & Tolias.
		"permuted": json.RawMessage(`{"hidden":[1000,1000],"lr":0.0001,"iterations":5000}`),
		"quick":    json.RawMessage(`{"iterations":300}`),
	},
	New: rule.New,
	Toy: json.RawMessage(`{"hidden":[32],"iterations":150,"batch_size":32}`),
}

// MLP is the learner.
type MLP struct {
	cfg     Settings
	input   tasks.Shape
	net     *nn.Sequential
	loss    nn.SoftmaxCrossEntropy
	opt     nn.Optimizer
	train   *methods.Trainer
	outputs int
}

// rule is the rule's defaults and constructor (methods.Rule).
var rule = methods.Rule[Settings, *MLP]{Defaults: Defaults, Build: NewMLP}

// NewMLP builds an MLP for the problem with checked settings cfg. All
// randomness derives from p.Seed: "init" (weights) and "batches"
// (minibatch order).
func NewMLP(p methods.Problem, cfg Settings) (*MLP, error) {
	if err := methods.CheckSettings(&cfg); err != nil {
		return nil, err
	}
	if err := methods.CheckWeights(methods.MLPWeights(p.Input.Size(), cfg.Hidden, p.Outputs)); err != nil {
		return nil, err
	}
	opt, err := cfg.Optim.New()
	if err != nil {
		return nil, err
	}
	init, err := nn.ParseInit(cfg.Init)
	if err != nil {
		return nil, err
	}
	rng := nn.NewRNG(p.Seed)
	initRNG := rng.Split("init")
	var layers []nn.Layer
	in := p.Input.Size()
	for i, h := range cfg.Hidden {
		lin := nn.NewLinear(in, h, init, initRNG)
		lin.NoInputGrad = i == 0
		layers = append(layers, lin, &nn.ReLU{})
		in = h
	}
	layers = append(layers, nn.NewLinear(in, p.Outputs, init, initRNG))
	return &MLP{
		cfg:     cfg,
		input:   p.Input,
		net:     &nn.Sequential{Layers: layers},
		opt:     opt,
		train:   methods.NewTrainer(cfg.Training, rng.Split("batches")),
		outputs: p.Outputs,
	}, nil
}

// NumParams is the number of weights and biases.
func (m *MLP) NumParams() int { return nn.CountParams(m.net.Params()) }

// Learn trains on one task for the configured iterations or epochs: each
// minibatch's cross-entropy over the active outputs, back-propagated through
// the whole network, one optimizer step.
func (m *MLP) Learn(ctx context.Context, data tasks.Set, active []int, obs methods.Observer) error {
	task, err := methods.NewTaskData(data, active, m.input, m.outputs)
	if err != nil {
		return err
	}
	return m.train.Train(ctx, task, obs, methods.Part{Step: func(b methods.Batch) (methods.Step, error) {
		logits := m.net.Forward(b.X, true)
		loss := m.loss.ForwardMask(logits, b.Y, b.Mask, b.Weight)
		m.net.Backward(m.loss.Backward())
		m.opt.Step(m.net.Params())
		return methods.Step{Loss: loss, Correct: m.loss.Correct()}, nil
	}})
}

// evalChunk bounds the rows scored at once, so evaluation memory stays small.
const evalChunk = 1024

// Scores returns the logits of every row of x. The network is multi-headed
// by masking: the caller compares only the active outputs, and the logits
// themselves do not depend on which those are.
func (m *MLP) Scores(x nn.Matrix, active []int) nn.Matrix {
	out := nn.NewMatrix(x.Rows, m.outputs)
	for lo := 0; lo < x.Rows; lo += evalChunk {
		hi := min(lo+evalChunk, x.Rows)
		logits := m.net.Forward(x.Slice(lo, hi), false)
		copy(out.Data[lo*m.outputs:hi*m.outputs], logits.Data)
	}
	return out
}

// VisitState visits the network, the optimizer and the trainer.
func (m *MLP) VisitState(v nn.StateVisitor) {
	nn.VisitLayerState(v, "net", m.net)
	nn.VisitOptimizer(v, "opt", m.opt, m.net.Params())
	m.train.VisitState(v, "train")
}
