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
	"fmt"
	"math"
	"time"

	"github.com/noprop/noprop/methods"
	"github.com/noprop/noprop/methods/nn"
	"github.com/noprop/noprop/tasks"
)

// Settings are the knobs of the MLP learner.
type Settings struct {
	// Hidden lists the widths of the hidden ReLU layers.
	Hidden []int `json:"hidden"`
	// Optimizer is "adam", "adamw" or "sgd".
	Optimizer   string  `json:"optimizer"`
	LR          float64 `json:"lr"`
	WeightDecay float64 `json:"weight_decay"`
	Momentum    float64 `json:"momentum"` // SGD only
	Batch       int     `json:"batch_size"`
	// Iterations is the number of minibatch steps per task; when 0, Epochs
	// passes over each task's data are made instead.
	Iterations int `json:"iterations"`
	Epochs     int `json:"epochs"`
	// Init names the weight initialiser (see nn.Init).
	Init string `json:"init"`
}

// Defaults are the split-MNIST protocol of van de Ven & Tolias.
func Defaults() Settings {
	return Settings{
		Hidden:     []int{400, 400},
		Optimizer:  "adam",
		LR:         1e-3,
		Batch:      128,
		Iterations: 2000,
		Init:       "pytorch",
	}
}

// Method describes the learner for the catalog.
var Method = methods.Method{
	Name:     "backprop",
	Summary:  "MLP trained end to end by back-propagation (default 2x400 ReLU, Adam 1e-3, batch 128, 2000 iterations per task)",
	Defaults: func() any { return Defaults() },
	Presets: map[string]json.RawMessage{
		// Permuted MNIST protocol of van de Ven & Tolias.
		"permuted": json.RawMessage(`{"hidden":[1000,1000],"lr":0.0001,"iterations":5000}`),
		"quick":    json.RawMessage(`{"iterations":300}`),
	},
	New:   New,
	Check: func(raw json.RawMessage) error { _, err := parse(raw); return err },
}

// parse decodes and validates settings over the defaults.
func parse(raw json.RawMessage) (Settings, error) {
	cfg := Defaults()
	if err := methods.DecodeSettings(raw, &cfg); err != nil {
		return cfg, fmt.Errorf("backprop: %w", err)
	}
	if err := cfg.validate(); err != nil {
		return cfg, fmt.Errorf("backprop settings: %w", err)
	}
	if _, err := nn.ParseInit(cfg.Init); err != nil {
		return cfg, fmt.Errorf("backprop settings: init: %w", err)
	}
	return cfg, nil
}

func (s Settings) validate() error {
	if len(s.Hidden) == 0 {
		return fmt.Errorf("hidden: need at least one hidden layer")
	}
	for i, h := range s.Hidden {
		if h < 1 {
			return fmt.Errorf("hidden[%d] = %d: widths must be positive", i, h)
		}
	}
	switch {
	case !(s.LR > 0):
		return fmt.Errorf("lr = %v: must be positive", s.LR)
	case s.WeightDecay < 0:
		return fmt.Errorf("weight_decay = %v: must not be negative", s.WeightDecay)
	case s.Batch < 1:
		return fmt.Errorf("batch_size = %d: must be positive", s.Batch)
	case s.Iterations < 0 || s.Epochs < 0 || (s.Iterations == 0 && s.Epochs == 0):
		return fmt.Errorf("iterations = %d, epochs = %d: set one of them to a positive value", s.Iterations, s.Epochs)
	}
	return nil
}

// MLP is the learner.
type MLP struct {
	cfg     Settings
	net     *nn.Sequential
	loss    nn.SoftmaxCrossEntropy
	opt     nn.Optimizer
	rng     *nn.RNG
	outputs int
	batchX  nn.Matrix
	batchY  []int
}

// New builds an MLP for the problem from JSON settings over the defaults.
func New(p methods.Problem, raw json.RawMessage) (methods.Learner, error) {
	cfg, err := parse(raw)
	if err != nil {
		return nil, err
	}
	init, _ := nn.ParseInit(cfg.Init)
	oc := nn.DefaultOptimConfig(cfg.Optimizer)
	oc.LR, oc.WeightDecay, oc.Momentum = float32(cfg.LR), float32(cfg.WeightDecay), float32(cfg.Momentum)
	opt, err := nn.NewOptimizer(cfg.Optimizer, oc)
	if err != nil {
		return nil, fmt.Errorf("backprop settings: optimizer: %w", err)
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
		net:     &nn.Sequential{Layers: layers},
		opt:     opt,
		rng:     rng.Split("batches"),
		outputs: p.Outputs,
	}, nil
}

// Learn trains on one task: minibatches drawn by reshuffling the data every
// pass, for the configured number of iterations or epochs. One observer report
// is made per pass over the data.
func (m *MLP) Learn(ctx context.Context, data tasks.Set, active []int, obs methods.Observer) error {
	n := data.Len()
	if n == 0 {
		return fmt.Errorf("backprop: no training data")
	}
	steps := m.cfg.Iterations
	if steps == 0 {
		steps = m.cfg.Epochs * ((n + m.cfg.Batch - 1) / m.cfg.Batch)
	}
	d := data.Shape.Size()
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	pos := n // forces a shuffle on the first step
	epoch, seen, correct := 0, 0, 0
	lossSum := 0.0
	start := time.Now()
	report := func() {
		epoch++
		if obs != nil && seen > 0 {
			obs.Epoch(methods.EpochStats{Epoch: epoch, Loss: lossSum / float64(seen), TrainAcc: 100 * float64(correct) / float64(seen), Seconds: time.Since(start).Seconds(), Examples: seen})
		}
		seen, correct, lossSum, start = 0, 0, 0, time.Now()
	}
	for step := range steps {
		if err := ctx.Err(); err != nil {
			return err
		}
		if pos >= n {
			if step > 0 {
				report()
			}
			m.rng.Shuffle(order)
			pos = 0
		}
		b := min(m.cfg.Batch, n-pos)
		m.batchX = nn.Resize(m.batchX, b, d)
		m.batchY = m.batchY[:0]
		for i, idx := range order[pos : pos+b] {
			copy(m.batchX.Row(i), data.Row(idx))
			m.batchY = append(m.batchY, data.Y[idx])
		}
		pos += b
		logits := m.net.Forward(m.batchX, true)
		loss := m.loss.Forward(logits, m.batchY, active)
		if math.IsNaN(loss) || math.IsInf(loss, 0) {
			return fmt.Errorf("backprop: loss is %v at step %d of %d: training diverged; try a lower lr (now %g)", loss, step+1, steps, m.cfg.LR)
		}
		m.net.Backward(m.loss.Backward())
		m.opt.Step(m.net.Params())
		lossSum += loss * float64(b)
		correct += m.loss.Correct()
		seen += b
	}
	report()
	return nil
}

// evalChunk bounds the rows scored at once, so evaluation memory stays small.
const evalChunk = 1024

// Scores returns the logits of every row of x.
func (m *MLP) Scores(x nn.Matrix) nn.Matrix {
	out := nn.NewMatrix(x.Rows, m.outputs)
	for lo := 0; lo < x.Rows; lo += evalChunk {
		hi := min(lo+evalChunk, x.Rows)
		logits := m.net.Forward(x.Slice(lo, hi), false)
		copy(out.Data[lo*m.outputs:hi*m.outputs], logits.Data)
	}
	return out
}
