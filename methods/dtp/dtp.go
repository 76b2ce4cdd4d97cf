// Package dtp implements difference target propagation as a learner of the
// harness: DTP (Lee, Zhang, Fischer & Bengio 2015) and the simplified DTP of
// Bartunov et al. (2018), on fully connected tanh networks with a softmax
// output.
//
// The forward path is h_l = f_l(h_{l−1}) = tanh(W_l h_{l−1} + b_l) for the
// hidden layers l = 1..H and logits W_o h_H + b_o. Every hidden layer l ≥ 2
// has an inverse g_l(h_l) = tanh(V_l h_l + c_l) ≈ f_l⁻¹, mapping back to
// layer l−1; SDTP has one more, g_o, from the output probabilities to h_H.
//
// Targets run top-down:
//
//	DTP:  ĥ_H = h_H − α·∂ℓ/∂h_H          (ℓ: the example's cross-entropy)
//	SDTP: ĥ_H = h_H − g_o(p) + g_o(onehot(y))
//	      ĥ_{l−1} = h_{l−1} + g_l(ĥ_l) − g_l(h_l)     (the difference correction)
//
// and every layer is fit to its own: hidden layer l minimises ‖f_l(h_{l−1}) −
// ĥ_l‖² over W_l and b_l with h_{l−1} and ĥ_l held constant, and the output
// layer the cross-entropy itself (local to it). The only gradient DTP uses
// beyond a single layer is ∂ℓ/∂h_H, one layer deep; SDTP uses none.
//
// The inverses learn on corrupted activities h̃ = h_{l−1} + σε: g_l
// minimises ‖g_l(f_l(h̃)) − h̃‖² (Lee et al.'s noise-preserving loss) or
// ‖g_l(f_l(h̃)) − h_{l−1}‖² (denoising), with f_l(h̃) held constant; g_o
// reconstructs from the softmax of the corrupted h_H. Forward and inverse
// weights have optimizers of their own, with their own learning rates.
//
// Schedules: "alternating" makes, per epoch (or per round of an iteration
// budget), one pass over the data training the inverses only (part
// "inverse") and then one training the forward weights only (part
// "forward"); "simultaneous" trains both on every minibatch, both
// optimizers stepping after the targets were formed with the weights as
// they were.
//
// Choices where the papers leave room: squared errors are summed over units
// and averaged over examples (nn.MSE); the cross-entropy and the softmax
// that g_o reads are over the active outputs; the output layer has no
// inverse in DTP; Adam in place of Lee et al.'s RMSprop.
//
// Package dtp builds on methods and methods/nn and reads data through
// tasks; it imports nothing of harness or results.
package dtp

import (
	"context"
	"fmt"

	"github.com/noprop/noprop/methods"
	"github.com/noprop/noprop/methods/nn"
	"github.com/noprop/noprop/tasks"
)

// Learner is a DTP network. It implements methods.Learner. It is not safe
// for concurrent use.
type Learner struct {
	s       Settings
	input   tasks.Shape
	outputs int

	fwd []*layer                  // the hidden layers f_1..f_H
	top *nn.Linear                // the output layer
	inv []*inverse                // inv[k] inverts fwd[k] (nil for k = 0)
	out *inverse                  // g_o (SDTP), nil for DTP
	cor nn.Layer                  // a twin of the output layer for corrupted inputs
	ce  [2]nn.SoftmaxCrossEntropy // the forward pass's; the corrupted pass's

	fwdParams, invParams []*nn.Param
	fwdOpt, invOpt       nn.Optimizer
	train                *methods.Trainer
	noise                *nn.RNG // the inverses' corruption

	h      []nn.Matrix // h_0..h_H of the last forward pass (layer-owned)
	target []nn.Matrix // ĥ_1..ĥ_H
	ga, gb nn.Matrix   // g(ĥ) and g(h)
	tilde  nn.Matrix
	onehot nn.Matrix
	mse    nn.MSE
}

// layer is a hidden layer f = tanh(W·+b) with a twin for the inverses'
// corrupted inputs.
type layer struct {
	lin  *nn.Linear
	act  *nn.Tanh
	twin *nn.Sequential
}

// inverse is g = tanh(V·+c), with a twin that forms targets.
type inverse struct {
	net, eval *nn.Sequential
}

func newInverse(in, out int, init nn.Init, rng *nn.RNG) *inverse {
	lin := nn.NewLinear(in, out, init, rng)
	lin.NoInputGrad = true
	net := &nn.Sequential{Layers: []nn.Layer{lin, &nn.Tanh{}}}
	return &inverse{net: net, eval: nn.Share(net).(*nn.Sequential)}
}

// NewLearner builds a learner for problem p with settings s. All randomness
// derives from p.Seed: "init" (forward weights, then inverses), "noise"
// (the corruption) and "order" (minibatch order).
func NewLearner(p methods.Problem, s Settings) (*Learner, error) {
	if err := methods.CheckSettings(&s); err != nil {
		return nil, fmt.Errorf("dtp: %w", err)
	}
	// Forward layers and their inverses.
	if err := methods.CheckWeights(2 * methods.MLPWeights(p.Input.Size(), s.Hidden, p.Outputs)); err != nil {
		return nil, err
	}
	init, err := nn.ParseInit(s.Init)
	if err != nil {
		return nil, err
	}
	root := nn.NewRNG(p.Seed)
	rng := root.Split("init")
	l := &Learner{s: s, input: p.Input, outputs: p.Outputs,
		train: methods.NewTrainer(s.Training, root.Split("order")), noise: root.Split("noise")}
	in := p.Input.Size()
	for _, w := range s.Hidden {
		lin := nn.NewLinear(in, w, init, rng)
		lin.NoInputGrad = true // each layer learns from its own target
		act := &nn.Tanh{}
		l.fwd = append(l.fwd, &layer{lin: lin, act: act,
			twin: &nn.Sequential{Layers: []nn.Layer{nn.Share(lin), nn.Share(act)}}})
		l.fwdParams = append(l.fwdParams, lin.Params()...)
		in = w
	}
	l.top = nn.NewLinear(in, p.Outputs, init, rng) // its input gradient is DTP's ∂ℓ/∂h_H
	l.cor = nn.Share(l.top)
	l.fwdParams = append(l.fwdParams, l.top.Params()...)
	irng := rng.Split("inverse")
	l.inv = make([]*inverse, len(l.fwd))
	for k := 1; k < len(l.fwd); k++ {
		l.inv[k] = newInverse(s.Hidden[k], s.Hidden[k-1], init, irng)
		l.invParams = append(l.invParams, l.inv[k].net.Params()...)
	}
	if s.Variant == VariantSDTP {
		l.out = newInverse(p.Outputs, s.Hidden[len(s.Hidden)-1], init, irng)
		l.invParams = append(l.invParams, l.out.net.Params()...)
	}
	if l.fwdOpt, err = s.Optim.New(); err != nil {
		return nil, fmt.Errorf("dtp: %w", err)
	}
	io := s.Optim
	io.LR, io.WeightDecay = s.InverseLR, 0
	if l.invOpt, err = io.New(); err != nil {
		return nil, fmt.Errorf("dtp: inverse: %w", err)
	}
	l.h = make([]nn.Matrix, len(l.fwd)+1)
	l.target = make([]nn.Matrix, len(l.fwd)+1)
	return l, nil
}

// NumParams counts forward and inverse weights and biases.
func (l *Learner) NumParams() int { return nn.CountParams(l.fwdParams) + nn.CountParams(l.invParams) }

// Learn trains on one task with the configured schedule. The forward part
// reports the output cross-entropy and accuracy of its minibatches, the
// inverse part the sum of the inverses' reconstruction losses.
func (l *Learner) Learn(ctx context.Context, data tasks.Set, active []int, obs methods.Observer) error {
	task, err := methods.NewTaskData(data, active, l.input, l.outputs)
	if err != nil {
		return err
	}
	inverse := methods.Part{Name: "inverse", Step: func(b methods.Batch) (methods.Step, error) {
		l.forward(b.X)
		loss := l.inverseGradients(b)
		l.invOpt.Step(l.invParams)
		return methods.Step{Loss: loss, Correct: -1}, nil
	}}
	forward := methods.Part{Name: "forward", Step: func(b methods.Batch) (methods.Step, error) {
		st := l.forwardGradients(b)
		l.fwdOpt.Step(l.fwdParams)
		return st, nil
	}}
	if l.s.Schedule == Alternating {
		return l.train.Train(ctx, task, obs, inverse, forward)
	}
	return l.train.Train(ctx, task, obs, methods.Part{Step: func(b methods.Batch) (methods.Step, error) {
		st := l.forwardGradients(b)
		l.inverseGradients(b)
		l.fwdOpt.Step(l.fwdParams)
		l.invOpt.Step(l.invParams)
		return st, nil
	}})
}

// forward runs the forward path, leaving h_0..h_H in l.h, and returns the
// logits (owned by the output layer).
func (l *Learner) forward(x nn.Matrix) nn.Matrix {
	l.h[0] = x
	for k, f := range l.fwd {
		l.h[k+1] = f.act.Forward(f.lin.Forward(l.h[k], true), true)
	}
	return l.top.Forward(l.h[len(l.fwd)], true)
}

// forwardGradients runs the forward pass on b.X, forms the targets and adds
// every forward layer's local gradient into its Grad; it returns the
// cross-entropy and the number of correct predictions. With row weights,
// the output layer's loss and every layer's local loss weigh each row by
// its weight, while a row's target stays its own (see targets).
func (l *Learner) forwardGradients(b methods.Batch) methods.Step {
	ce := &l.ce[0]
	loss := ce.ForwardMask(l.forward(b.X), b.Y, b.Mask, b.Weight)
	dh := l.top.Backward(ce.Backward()) // the output layer's own gradient, and ∂L/∂h_H
	l.targets(dh, b)
	for k, f := range l.fwd {
		l.mse.Forward(l.h[k+1], l.target[k+1])
		g := l.mse.Backward()
		b.ScaleRows(g)
		f.lin.Backward(f.act.Backward(g))
	}
	return methods.Step{Loss: loss, Correct: ce.Correct()}
}

// targets forms ĥ_H..ĥ_1 from the last forward pass; dh is ∂L/∂h_H of the
// minibatch's (weighted) mean loss.
func (l *Learner) targets(dh nn.Matrix, b methods.Batch) {
	top := len(l.fwd)
	h := l.h[top]
	t := nn.Resize(l.target[top], h.Rows, h.Cols)
	if l.out == nil {
		// The example's own gradient is N times its share of the mean's
		// (divided by its weight: its target is its own, and its weight
		// enters its local losses; a row of weight 0 keeps ĥ = h).
		step := float32(l.s.Alpha * float64(h.Rows))
		for i := range h.Rows {
			s := step
			if w := b.W(i); w != 1 {
				s = 0
				if w > 0 {
					s = step / w
				}
			}
			hr, tr, dr := h.Row(i), t.Row(i), dh.Row(i)
			for j, v := range hr {
				tr[j] = v - s*dr[j]
			}
		}
	} else {
		l.onehot = nn.Resize(l.onehot, h.Rows, l.outputs)
		clear(l.onehot.Data)
		for i, c := range b.Y {
			l.onehot.Row(i)[c] = 1
		}
		l.difference(t, h, l.out, l.ce[0].Probs(), l.onehot)
	}
	l.target[top] = t
	for k := top; k >= 2; k-- {
		below := l.h[k-1]
		l.target[k-1] = nn.Resize(l.target[k-1], below.Rows, below.Cols)
		l.difference(l.target[k-1], below, l.inv[k-1], l.h[k], l.target[k])
	}
}

// difference sets t = h + g(to) − g(from), the difference-corrected target.
func (l *Learner) difference(t, h nn.Matrix, g *inverse, from, to nn.Matrix) {
	ga := g.eval.Forward(to, false)
	l.ga = nn.Resize(l.ga, ga.Rows, ga.Cols)
	copy(l.ga.Data, ga.Data)
	gb := g.eval.Forward(from, false)
	for i, v := range h.Data {
		t.Data[i] = v + (l.ga.Data[i] - gb.Data[i]) // exactly v when the two agree
	}
}

// inverseGradients adds every inverse's reconstruction gradient on the last
// forward pass's activities into its Grad and returns the summed losses,
// each row weighing its weight.
func (l *Learner) inverseGradients(b methods.Batch) float64 {
	loss := 0.0
	for k := 1; k < len(l.fwd); k++ {
		q := l.fwd[k].twin.Forward(l.corrupt(l.h[k]), false)
		loss += l.reconstruct(l.inv[k], q, l.h[k], b)
	}
	if l.out != nil {
		h := l.h[len(l.fwd)]
		l.ce[1].ForwardMask(l.cor.Forward(l.corrupt(h), false), b.Y, b.Mask, nil)
		loss += l.reconstruct(l.out, l.ce[1].Probs(), h, b)
	}
	return loss
}

// corrupt returns h + σε in a buffer of the learner.
func (l *Learner) corrupt(h nn.Matrix) nn.Matrix {
	l.tilde = nn.Resize(l.tilde, h.Rows, h.Cols)
	l.noise.FillNormal(l.tilde.Data, float32(l.s.Noise))
	for i, v := range h.Data {
		l.tilde.Data[i] += v
	}
	return l.tilde
}

// reconstruct trains g to map q = f(h̃) back to h̃ (noisy) or h (clean) and
// returns the squared error.
func (l *Learner) reconstruct(g *inverse, q, h nn.Matrix, b methods.Batch) float64 {
	want := l.tilde
	if l.s.InverseTarget == TargetClean {
		want = h
	}
	loss := l.mse.Forward(g.net.Forward(q, true), want)
	grad := l.mse.Backward()
	b.ScaleRows(grad)
	g.net.Backward(grad)
	return loss
}

// evalChunk bounds the rows scored at once.
const evalChunk = 1024

// Scores returns the logits of every row of x.
func (l *Learner) Scores(x nn.Matrix, active []int) nn.Matrix {
	if x.Cols != l.input.Size() {
		panic(fmt.Sprintf("dtp: Scores: rows of %d values, learner built for %v", x.Cols, l.input))
	}
	out := nn.NewMatrix(x.Rows, l.outputs)
	for lo := 0; lo < x.Rows; lo += evalChunk {
		hi := min(lo+evalChunk, x.Rows)
		logits := l.forward(x.Slice(lo, hi))
		copy(out.Data[lo*l.outputs:hi*l.outputs], logits.Data)
	}
	return out
}

// VisitState visits everything the learner's future depends on: the
// forward and inverse weights with their optimizers, the corruption stream
// and the trainer (minibatch order and position).
func (l *Learner) VisitState(v nn.StateVisitor) {
	nn.VisitParams(v, "forward", l.fwdParams)
	nn.VisitOptimizer(v, "forward/opt", l.fwdOpt, l.fwdParams)
	nn.VisitParams(v, "inverse", l.invParams)
	nn.VisitOptimizer(v, "inverse/opt", l.invOpt, l.invParams)
	l.noise.VisitState(v, "noise")
	l.train.VisitState(v, "train")
}
