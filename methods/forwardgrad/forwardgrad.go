// Package forwardgrad implements forward-gradient learning as learners of the
// harness: weight perturbation (FG-W, Baydin et al. 2022, "Gradients without
// Backpropagation"), activity perturbation (FG-A) and their local greedy
// versions with a linear softmax head per layer (LG-FG-W, LG-FG-A; Ren,
// Kornblith, Liao & Hinton 2023, "Scaling Forward Gradient with Local
// Losses"), on ReLU MLPs.
//
// No gradient is back-propagated. Every estimate comes from the exact
// directional derivative of a loss, computed by one forward-mode pass
// (nn.ForwardTangent through the layers and the loss), never by finite
// differences:
//
//   - FG-W: a direction v ~ N(0, I) over all weights and biases (their
//     Param.Tangent); the pass gives L̇ = ∇L·v and the estimate is L̇·v.
//   - FG-A: a direction u ~ N(0, I) per example over the pre-activations z
//     of every linear layer (nn.Perturb after each); the pass gives every
//     example's own L̇_i = Σ_l ∇_{z_l}L_i·u_{l,i} (nn.SoftmaxCrossEntropy's
//     RowTangents), the estimate of ∇_{z_l}L_i is L̇_i·u_{l,i}, and a layer's
//     weight gradient is the outer product with its input (Linear.Backward of
//     the estimate, which back-propagates nothing further). Units a ReLU
//     switches off have gradient 0: their estimates are set to 0 (Ren et
//     al.'s trick; the mean is unchanged, the variance falls).
//
// Both estimates are unbiased, and perturbations per step (K) are averaged.
//
// The global variants train the network on the output's cross-entropy, the
// tangent carried through every layer. The local variants cut it into
// blocks, one hidden layer each, with a stop-gradient between blocks: block
// b is Linear+ReLU and its own head Linear → softmax cross-entropy, its
// perturbations and tangent stay inside it, and its estimate is of its own
// loss's gradient. The last block's head is the prediction. LG-FG-A may also
// split a block's hidden units into groups (Ren et al.'s channel groups):
// each group's perturbation then gets a forward-mode pass of its own (the
// head's logits one more), so one group's noise does not enter another's
// estimate.
//
// Choices where the papers leave room (settings unless said): plain ReLU
// MLPs (Ren et al. use the MLP-Mixer-like LocalMixer; "for a plain MLP one
// hidden layer plus its own linear softmax head makes one block"), no
// LayerNorm; Gaussian directions (fixed); heads are perturbed like every
// other layer, so nothing is trained by an exact gradient; one optimizer for
// every parameter (its state is per parameter).
//
// Package forwardgrad builds on methods and methods/nn and reads data
// through tasks; it imports nothing of harness or results.
package forwardgrad

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/noprop/noprop/methods"
	"github.com/noprop/noprop/methods/lrsched"
	"github.com/noprop/noprop/methods/nn"
	"github.com/noprop/noprop/tasks"
)

// Learner is a forward-gradient learner of one variant. It implements
// methods.Learner. It is not safe for concurrent use.
type Learner struct {
	s       Settings
	input   tasks.Shape
	outputs int

	blocks []*block
	params []*nn.Param
	opt    nn.Optimizer
	train  *methods.Trainer
	noise  *nn.RNG // the perturbations
}

// block is a span of layers with its own loss: Linear, Perturb, ReLU for
// each hidden layer, then the head Linear and its Perturb.
type block struct {
	lins   []*nn.Linear // the hidden layers', then the head
	perts  []*nn.Perturb
	relus  []*nn.ReLU
	xent   nn.SoftmaxCrossEntropy
	params []*nn.Param

	u, acc []nn.Matrix // activity perturbation and its running estimate, per linear
	ug     nn.Matrix   // one group's share of u[0]
	acts   []nn.Matrix // the ReLUs' outputs of the last pass
	z0     nn.Matrix   // the first linear's output of the last pass
	rows   []float64
}

// New builds a learner of the variant from JSON settings over its
// defaults (methods.Rule).
func (v Variant) New(p methods.Problem, raw json.RawMessage) (methods.Learner, error) {
	return v.rule().New(p, raw)
}

// NewLearner builds a learner for problem p with settings s (of the variant
// that made them). All randomness derives from p.Seed: "init" (weights),
// "perturbations" and "order" (minibatch order).
func NewLearner(p methods.Problem, s Settings) (*Learner, error) {
	if err := methods.CheckSettings(&s); err != nil {
		return nil, fmt.Errorf("%s: %w", s.variant.Name, err)
	}
	// Local heads add a layer's width × outputs each.
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
		train: methods.NewTrainer(s.Training, root.Split("order")), noise: root.Split("perturbations")}
	if l.opt, err = s.Optim.New(); err != nil {
		return nil, fmt.Errorf("%s: %w", s.variant.Name, err)
	}
	in := p.Input.Size()
	if s.variant.Local {
		for _, h := range s.Hidden {
			l.blocks = append(l.blocks, newBlock([]int{in, h, p.Outputs}, init, rng))
			in = h
		}
	} else {
		widths := append(append([]int{in}, s.Hidden...), p.Outputs)
		l.blocks = []*block{newBlock(widths, init, rng)}
	}
	for _, b := range l.blocks {
		l.params = append(l.params, b.params...)
	}
	if !s.variant.Activity {
		for _, q := range l.params {
			q.Tangent = make([]float32, len(q.Value))
		}
	}
	return l, nil
}

// newBlock builds Linear+Perturb+ReLU layers between widths[0..n-2] and a
// head Linear+Perturb to widths[n-1].
func newBlock(widths []int, init nn.Init, rng *nn.RNG) *block {
	b := &block{}
	for k := 1; k < len(widths); k++ {
		lin := nn.NewLinear(widths[k-1], widths[k], init, rng)
		lin.NoInputGrad = true // nothing is back-propagated
		b.lins = append(b.lins, lin)
		b.perts = append(b.perts, &nn.Perturb{})
		b.params = append(b.params, lin.Params()...)
		if k < len(widths)-1 {
			b.relus = append(b.relus, &nn.ReLU{})
		}
	}
	b.u = make([]nn.Matrix, len(b.lins))
	b.acc = make([]nn.Matrix, len(b.lins))
	b.acts = make([]nn.Matrix, len(b.relus))
	return b
}

// NumParams is the number of weights and biases, heads included.
func (l *Learner) NumParams() int { return nn.CountParams(l.params) }

// Learn trains on one task: per minibatch, every block's parameters get
// the forward-gradient estimate of its loss's gradient (averaged over the
// configured perturbations), and the optimizer steps. The reported loss and
// accuracy are the last block's (the prediction's) on the minibatch.
func (l *Learner) Learn(ctx context.Context, data tasks.Set, active []int, obs methods.Observer) error {
	task, err := methods.NewTaskData(data, active, l.input, l.outputs)
	if err != nil {
		return err
	}
	sched := lrsched.New(l.s.Schedule, lrsched.Steps(l.train, data.Len()))
	sched.Add(l.opt, l.s.LR)
	return l.train.Train(ctx, task, obs, methods.Part{Step: func(mb methods.Batch) (methods.Step, error) {
		sched.At(l.train.Done() + 1)
		loss := l.estimate(mb)
		l.opt.Step(l.params)
		last := l.blocks[len(l.blocks)-1]
		return methods.Step{Loss: loss, Correct: last.xent.Correct()}, nil
	}})
}

// estimate adds the forward-gradient estimate of every block's loss
// gradient on the minibatch into the parameters' Grad and returns the last
// block's loss. Each row's loss weighs the row's weight (Batch.Weight),
// and is over the row's active outputs.
func (l *Learner) estimate(mb methods.Batch) float64 {
	k := l.s.Perturbations
	var loss float64
	h := mb.X
	for _, b := range l.blocks {
		if l.s.variant.Activity {
			loss = b.activityEstimate(h, mb, k, l.s.Groups, l.noise)
		} else {
			loss = b.weightEstimate(h, mb, k, l.noise)
		}
		if len(b.acts) > 0 {
			h = b.acts[len(b.acts)-1] // the next block's input: a constant to it
		}
	}
	return loss
}

// weightEstimate adds (1/K) Σ_k L̇_k·v_k into the block's gradients, v_k ~
// N(0, I) over its parameters, and returns the loss.
func (b *block) weightEstimate(x nn.Matrix, mb methods.Batch, k int, rng *nn.RNG) float64 {
	var loss float64
	for range k {
		for _, p := range b.params {
			rng.FillNormal(p.Tangent, 1)
		}
		var d float64
		loss, d = b.pass(x, mb, false)
		c := float32(d / float64(k))
		for _, p := range b.params {
			for i, v := range p.Tangent {
				p.Grad[i] += c * v
			}
		}
	}
	return loss
}

// activityEstimate adds the FG-A estimate of the block's loss gradient into
// its parameters' Grad and returns the loss: for every linear l, per
// example i, ∇_{z_l}L ≈ (1/(N·K)) Σ_k L̇_{k,i}·u_{k,l,i} (0 where a ReLU is
// off), then the layer's weight gradient from it. With groups > 1 (one
// hidden layer per block) the hidden units' perturbation is split into
// groups, each carried by a pass of its own, and the head's logits get one
// more pass.
func (b *block) activityEstimate(x nn.Matrix, mb methods.Batch, k, groups int, rng *nn.RNG) float64 {
	n := x.Rows
	for j, lin := range b.lins {
		b.u[j] = nn.Resize(b.u[j], n, lin.Out)
		b.acc[j] = nn.Resize(b.acc[j], n, lin.Out)
		clear(b.acc[j].Data)
	}
	scale := 1 / float64(n*k)
	var loss float64
	for range k {
		for j := range b.lins {
			rng.FillNormal(b.u[j].Data, 1)
		}
		if groups == 1 {
			for j, p := range b.perts {
				p.U = b.u[j]
			}
			loss, _ = b.pass(x, mb, false)
			for j := range b.lins {
				b.accumulate(j, b.u[j], scale)
			}
			continue
		}
		hidden := b.lins[0].Out
		b.perts[1].U = nn.Matrix{}
		for g := range groups {
			lo, hi := g*hidden/groups, (g+1)*hidden/groups
			b.ug = nn.Resize(b.ug, n, hidden)
			clear(b.ug.Data)
			for i := range n {
				copy(b.ug.Row(i)[lo:hi], b.u[0].Row(i)[lo:hi])
			}
			b.perts[0].U = b.ug
			loss, _ = b.pass(x, mb, g > 0)
			b.accumulate(0, b.ug, scale)
		}
		b.perts[0].U, b.perts[1].U = nn.Matrix{}, b.u[1]
		b.pass(x, mb, true)
		b.accumulate(1, b.u[1], scale)
	}
	for j, lin := range b.lins {
		lin.Backward(b.acc[j])
		b.perts[j].U = nn.Matrix{}
	}
	return loss
}

// accumulate adds scale·L̇_i·u_i to row i of linear j's estimate, where L̇_i
// is the last pass's row tangent, masked by the ReLU after the layer.
func (b *block) accumulate(j int, u nn.Matrix, scale float64) {
	acc := b.acc[j]
	for i, r := range b.rows {
		c := float32(r * scale)
		a, ui := acc.Row(i), u.Row(i)
		if j < len(b.relus) {
			on := b.acts[j].Row(i)
			for q, v := range ui {
				if on[q] > 0 {
					a[q] += c * v
				}
			}
			continue
		}
		for q, v := range ui {
			a[q] += c * v
		}
	}
}

// pass runs the block's forward mode on x (whose tangent is zero: the block
// starts at a stop-gradient) with the current parameter tangents and
// perturbations, and returns the loss and its directional derivative; the
// rows' own derivatives are left in b.rows. reuse skips the first linear,
// taking its output from the previous pass (its parameters must have no
// tangent).
func (b *block) pass(x nn.Matrix, mb methods.Batch, reuse bool) (float64, float64) {
	h, dh := x, nn.Matrix{}
	for j, lin := range b.lins {
		var z, dz nn.Matrix
		if j == 0 && reuse {
			z = b.z0
		} else {
			z, dz = nn.ForwardTangent(lin, h, dh, true)
		}
		if j == 0 {
			b.z0 = z
		}
		z, dz = b.perts[j].ForwardTangent(z, dz, true)
		if j < len(b.relus) {
			h, dh = nn.ForwardTangent(b.relus[j], z, dz, true)
			b.acts[j] = h
			continue
		}
		h, dh = z, dz
	}
	loss, d := b.xent.ForwardTangentMask(h, dh, mb.Y, mb.Mask, mb.Weight)
	if len(dh.Data) > 0 {
		b.rows = b.xent.RowTangents(dh, b.rows)
		for i := range b.rows {
			b.rows[i] *= float64(mb.W(i))
		}
	} else {
		b.rows = b.rows[:0]
	}
	return loss, d
}

// forward runs the block's layers on x without tangents and returns the
// last hidden activity and the head's logits (owned by the layers).
func (b *block) forward(x nn.Matrix) (h, logits nn.Matrix) {
	h = x
	for j, lin := range b.lins {
		z := lin.Forward(h, false)
		if j < len(b.relus) {
			h = b.relus[j].Forward(z, false)
			continue
		}
		logits = z
	}
	return h, logits
}

// evalChunk bounds the rows scored at once.
const evalChunk = 1024

// Scores returns the logits of the last block's head (of the output layer
// for the global variants).
func (l *Learner) Scores(x nn.Matrix, active []int) nn.Matrix {
	if x.Cols != l.input.Size() {
		panic(fmt.Sprintf("%s: Scores: rows of %d values, learner built for %v", l.s.variant.Name, x.Cols, l.input))
	}
	out := nn.NewMatrix(x.Rows, l.outputs)
	for lo := 0; lo < x.Rows; lo += evalChunk {
		hi := min(lo+evalChunk, x.Rows)
		h := x.Slice(lo, hi)
		var logits nn.Matrix
		for _, b := range l.blocks {
			h, logits = b.forward(h)
		}
		copy(out.Data[lo*l.outputs:hi*l.outputs], logits.Data)
	}
	return out
}

// VisitState visits everything the learner's future depends on: the
// weights with their optimizer, the perturbation stream and the trainer
// (minibatch order and position; the learning-rate schedule follows it).
func (l *Learner) VisitState(v nn.StateVisitor) {
	nn.VisitParams(v, "params", l.params)
	nn.VisitOptimizer(v, "opt", l.opt, l.params)
	l.noise.VisitState(v, "noise")
	l.train.VisitState(v, "train")
}
