// Package forwardforward implements the Forward-Forward algorithm (Hinton
// 2022, arXiv 2212.13345) as a learner of the harness, for fully connected
// ReLU networks with the label in the input.
//
// Every layer y = ReLU(W·x̂ + b) is trained by a loss of its own: its
// goodness G = Σ_j y_j² should be above the threshold θ for positive data
// (an image with its label in the first input values) and below it for
// negative data (the same image with a wrong label drawn from the active
// outputs),
//
//	L_l = mean over the 2N rows of softplus(θ − G⁺) and softplus(G⁻ − θ),
//
// the logistic loss on G − θ (BCE-with-logits, as loeweX computes it). The
// input x̂ of every layer, the data included, is its predecessor's activity
// divided by its root mean square, so a layer passes on the orientation of
// its activity but not its length (the goodness). No gradient crosses a
// layer: each layer's parameters get the gradient of its own loss only. The
// positive and negative passes run through twins of each layer (nn.Share).
//
// Inference (Settings.Inference): "goodness" embeds every candidate label
// (the active outputs: the task's classes in task-IL, the classes seen so
// far in class-IL) and scores it by the goodness summed over layers
// score_from..L; "softmax" embeds a neutral label (LabelScale/Outputs in
// every slot), runs once and applies a linear softmax readout to the
// normalised activities of layers score_from..L, trained alongside the
// layers on detached features.
//
// Choices where the paper is silent (each a setting unless said):
//   - The label slots are the first Outputs input values, one per output
//     of the problem, so the encoding is fixed from the first task on.
//   - Negatives: one per positive, the same image with a label drawn
//     uniformly among the active outputs other than the true one (loeweX).
//     Learn needs at least two active outputs.
//   - Normalisation: x / (√mean(x²) + 1e-8) (loeweX), fixed.
//   - θ = threshold × width; peer normalisation as loeweX (computed on the
//     positive pass); all layers step on every minibatch (the simultaneous
//     schedule, loeweX), with one optimizer over every layer (its state is
//     per parameter, so this is one optimizer per layer).
//   - The readout is zero-initialised, with a bias; its cross-entropy is
//     over the active outputs.
//   - The learning-rate schedule (loeweX's cooldown by default) runs per
//     Learn call, by steps rather than epochs.
//
// Package forwardforward builds on methods and methods/nn and reads data
// through tasks; it imports nothing of harness or results.
package forwardforward

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/noprop/noprop/methods"
	"github.com/noprop/noprop/methods/lrsched"
	"github.com/noprop/noprop/methods/nn"
	"github.com/noprop/noprop/tasks"
)

// Learner is a Forward-Forward network. It implements methods.Learner. It is
// not safe for concurrent use.
type Learner struct {
	s       Settings
	input   tasks.Shape
	outputs int

	layers  []*layer
	params  []*nn.Param
	opt     nn.Optimizer
	readout *nn.Linear // nil in goodness mode
	rdOpt   nn.Optimizer
	xent    nn.SoftmaxCrossEntropy

	train *methods.Trainer
	neg   *nn.RNG // the wrong labels of the negative data

	in        [2]nn.Matrix // labelled, normalised inputs of the positive and negative pass
	feats     nn.Matrix    // readout features
	yNeg      []int
	rowActive []int // a row's own active outputs, when the batch gives them
	neutral   []int // −1s: the neutral label
}

// layer is one FF layer: twins for the positive and negative passes.
type layer struct {
	theta float64
	pass  [2]*pass
	// running is the running mean activity of every unit on positive
	// data (peer normalisation).
	running []float64
}

// pass is one of a layer's twins with its buffers.
type pass struct {
	lin  *nn.Linear
	relu *nn.ReLU
	out  nn.Matrix // the normalised activity passed up
	good []float64 // goodness per row of the last forward
	coef []float64 // dL/dG per row
}

func newPass(lin *nn.Linear) *pass {
	lin.NoInputGrad = true // no gradient crosses a layer
	return &pass{lin: lin, relu: &nn.ReLU{InPlace: true}}
}

// forward runs the pass on the normalised input x and records the goodness
// of every row; it returns the activity (owned by the layer).
func (p *pass) forward(x nn.Matrix, train bool) nn.Matrix {
	y := p.relu.Forward(p.lin.Forward(x, train), train)
	p.good = resize(p.good, y.Rows)
	for i := range y.Rows {
		p.good[i] = sumSquares(y.Row(i))
	}
	return y
}

// NewLearner builds a learner for problem p with settings s. All randomness
// derives from p.Seed: "init" (weights), "negatives" (wrong labels) and
// "order" (minibatch order).
func NewLearner(p methods.Problem, s Settings) (*Learner, error) {
	if err := methods.CheckSettings(&s); err != nil {
		return nil, fmt.Errorf("ff: %w", err)
	}
	if err := methods.CheckWeights(methods.MLPWeights(p.Input.Size(), s.Hidden, p.Outputs)); err != nil {
		return nil, err
	}
	if p.Outputs < 2 {
		return nil, fmt.Errorf("ff: %d outputs: Forward-Forward needs at least 2 labels to make negative data", p.Outputs)
	}
	if in := p.Input.Size(); in < p.Outputs {
		return nil, fmt.Errorf("ff: inputs of %d values cannot hold the one-hot label of %d outputs", in, p.Outputs)
	}
	init, err := nn.ParseInit(s.Init)
	if err != nil {
		return nil, err
	}
	root := nn.NewRNG(p.Seed)
	rng := root.Split("init")
	l := &Learner{s: s, input: p.Input, outputs: p.Outputs,
		train: methods.NewTrainer(s.Training, root.Split("order")), neg: root.Split("negatives")}
	if l.opt, err = s.Optim.New(); err != nil {
		return nil, fmt.Errorf("ff: %w", err)
	}
	in, feats := p.Input.Size(), 0
	for i, h := range s.Hidden {
		lin := nn.NewLinear(in, h, init, rng)
		l.params = append(l.params, lin.Params()...)
		ly := &layer{theta: s.Threshold * float64(h), running: make([]float64, h)}
		ly.pass[0] = newPass(lin)
		ly.pass[1] = newPass(nn.Share(lin).(*nn.Linear))
		l.layers = append(l.layers, ly)
		if i+1 >= s.ScoreFrom {
			feats += h
		}
		in = h
	}
	if s.Inference == InferSoftmax {
		l.readout = nn.NewLinear(feats, p.Outputs, init, rng)
		l.readout.NoInputGrad = true
		clear(l.readout.W.Value)
		clear(l.readout.B.Value)
		ro := s.Optim
		ro.LR, ro.WeightDecay = s.ReadoutLR, s.ReadoutWeightDecay
		if l.rdOpt, err = ro.New(); err != nil {
			return nil, fmt.Errorf("ff: readout: %w", err)
		}
	}
	return l, nil
}

// NumParams counts the layers' weights and biases and the readout's.
func (l *Learner) NumParams() int {
	n := nn.CountParams(l.params)
	if l.readout != nil {
		n += nn.CountParams(l.readout.Params())
	}
	return n
}

// Learn trains on one task: per minibatch, every layer takes a step on its
// own loss for the positive data and one negative per example (see the
// package doc), and the readout (softmax inference) on the cross-entropy of
// its features. The reported loss is the sum of the layers' losses (peer
// terms included) and the readout's; the training accuracy is the
// readout's, and not measured (NaN) with goodness inference, which would
// cost a pass per label.
func (l *Learner) Learn(ctx context.Context, data tasks.Set, active []int, obs methods.Observer) error {
	task, err := methods.NewTaskData(data, active, l.input, l.outputs)
	if err != nil {
		return err
	}
	if len(task.Active) < 2 {
		return errors.New("ff: one active output: Forward-Forward needs a wrong label for negative data")
	}
	for i, act := range data.Active {
		if len(act) < 2 {
			return fmt.Errorf("ff: example %d has one active output of its own: Forward-Forward needs a wrong label for negative data", i)
		}
	}
	sched := lrsched.New(l.s.Schedule, lrsched.Steps(l.train, data.Len()))
	sched.Add(l.opt, l.s.LR)
	if l.rdOpt != nil {
		sched.Add(l.rdOpt, l.s.ReadoutLR)
	}
	return l.train.Train(ctx, task, obs, methods.Part{Step: func(b methods.Batch) (methods.Step, error) {
		sched.At(l.train.Done() + 1)
		return l.step(b, task.Active), nil
	}})
}

// step is one minibatch of Learn; active is the call's active outputs,
// which every row shares unless the batch gives each its own.
func (l *Learner) step(b methods.Batch, active []int) methods.Step {
	x, y := b.X, b.Y
	st := methods.Step{Loss: l.layerGradients(b, active), Correct: -1}
	if l.readout != nil {
		feats := l.features(x, true)
		logits := l.readout.Forward(feats, true)
		st.Loss += l.xent.ForwardMask(logits, y, b.Mask, b.Weight)
		l.readout.Backward(l.xent.Backward())
		l.rdOpt.Step(l.readout.Params())
		st.Correct = l.xent.Correct()
	}
	l.opt.Step(l.params)
	return st
}

// layerGradients draws the negative labels, adds the gradient of every
// layer's own loss into its parameters' Grad and returns the sum of the
// layers' losses (each row's positive and negative terms weighing the
// row's weight).
func (l *Learner) layerGradients(b methods.Batch, active []int) float64 {
	x, y := b.X, b.Y
	l.negatives(b, active)
	l.in[0] = l.embed(l.in[0], x, y)
	l.in[1] = l.embed(l.in[1], x, l.yNeg)
	h := l.in
	loss := 0.0
	for _, ly := range l.layers {
		loss += ly.step(h, b.Weight, l.s.PeerNorm, l.s.PeerMomentum)
		h = [2]nn.Matrix{ly.pass[0].out, ly.pass[1].out}
	}
	return loss
}

// negatives draws a wrong label for every row, uniform among the row's
// other active outputs (the call's, active, unless the batch gives each
// row its own).
func (l *Learner) negatives(b methods.Batch, active []int) {
	y := b.Y
	if cap(l.yNeg) < len(y) {
		l.yNeg = make([]int, len(y))
	}
	l.yNeg = l.yNeg[:len(y)]
	own := len(b.Mask) > l.outputs
	for i, c := range y {
		if own {
			l.rowActive = b.RowActive(l.rowActive, i)
			active = l.rowActive
		}
		k := l.neg.IntN(len(active) - 1)
		if active[k] >= c {
			k++ // skip the true label (active is sorted)
		}
		l.yNeg[i] = active[k]
	}
}

// step trains the layer on the normalised positive and negative inputs h and
// returns its loss; the normalised activities are left in the passes' out.
func (ly *layer) step(h [2]nn.Matrix, weight []float32, peer, momentum float64) float64 {
	n := h[0].Rows
	ys := [2]nn.Matrix{ly.pass[0].forward(h[0], true), ly.pass[1].forward(h[1], true)}
	loss := 0.0
	scale := 1 / float64(2*n)
	for k, p := range ly.pass {
		p.coef = resize(p.coef, n)
		for i, g := range p.good {
			// Positive rows want G > θ, negative rows G < θ.
			z := ly.theta - g
			if k == 1 {
				z = -z
			}
			s := scale
			if weight != nil {
				s *= float64(weight[i])
			}
			loss += softplus(z) * s
			// d softplus(z)/dG = σ(z)·dz/dG, dz/dG = −1 (positive), +1 (negative).
			d := sigmoid(z) * s
			if k == 0 {
				d = -d
			}
			p.coef[i] = d
		}
	}
	if peer > 0 {
		loss += peer * ly.peerGrad(ys[0], momentum)
	}
	for k, p := range ly.pass {
		y := ys[k]
		dy := p.out // reuse the output buffer for dL/dy, normalised afterwards
		dy = nn.Resize(dy, y.Rows, y.Cols)
		for i := range y.Rows {
			c := float32(2 * p.coef[i]) // dG/dy = 2y
			row, d := y.Row(i), dy.Row(i)
			for j, v := range row {
				d[j] = c * v
			}
		}
		if k == 0 && peer > 0 {
			ly.addPeer(dy, peer, momentum)
		}
		p.lin.Backward(p.relu.Backward(dy))
		p.out = normalize(dy, y) // the ReLU's in-place backward left y intact
	}
	return loss
}

// peerGrad updates the running mean activities with the positive activity
// y and returns the peer-normalisation loss (1/D) Σ_j (r̄ − r_j)².
func (ly *layer) peerGrad(y nn.Matrix, momentum float64) float64 {
	d := len(ly.running)
	mean := columnMeans(y)
	rbar := 0.0
	for j, m := range mean {
		ly.running[j] = momentum*ly.running[j] + (1-momentum)*m
		rbar += ly.running[j]
	}
	rbar /= float64(d)
	loss := 0.0
	for _, r := range ly.running {
		loss += (rbar - r) * (rbar - r)
	}
	return loss / float64(d)
}

// addPeer adds the peer loss's gradient to dy (positive pass):
// ∂/∂y_ij = weight·(2/D)(r_j − r̄)·(1−momentum)/N, through the batch mean
// in the running mean (the old running mean is a constant).
func (ly *layer) addPeer(dy nn.Matrix, weight, momentum float64) {
	d := len(ly.running)
	rbar := 0.0
	for _, r := range ly.running {
		rbar += r
	}
	rbar /= float64(d)
	s := weight * 2 / float64(d) * (1 - momentum) / float64(dy.Rows)
	for i := range dy.Rows {
		row := dy.Row(i)
		for j, r := range ly.running {
			row[j] += float32(s * (r - rbar))
		}
	}
}

// embed writes x with label c_i in the slots of row i into buf (resized),
// normalised: slot c gets LabelScale, the other slots 0; c < 0 is the neutral
// label, LabelScale/Outputs in every slot.
func (l *Learner) embed(buf, x nn.Matrix, labels []int) nn.Matrix {
	buf = nn.Resize(buf, x.Rows, x.Cols)
	copy(buf.Data, x.Data)
	scale := float32(l.s.LabelScale)
	for i, c := range labels {
		slots := buf.Row(i)[:l.outputs]
		if c < 0 {
			for j := range slots {
				slots[j] = scale / float32(l.outputs)
			}
			continue
		}
		clear(slots)
		slots[c] = scale
	}
	return normalize(buf, buf)
}

// features runs the neutral-label pass of x (positive twins; call it after
// their Backward) and returns the normalised activities of layers
// score_from..L side by side.
func (l *Learner) features(x nn.Matrix, train bool) nn.Matrix {
	if len(l.neutral) < x.Rows {
		l.neutral = make([]int, x.Rows)
		for i := range l.neutral {
			l.neutral[i] = -1
		}
	}
	h := l.embed(l.in[0], x, l.neutral[:x.Rows])
	l.in[0] = h
	width := l.readout.In
	l.feats = nn.Resize(l.feats, x.Rows, width)
	col := 0
	for k, ly := range l.layers {
		p := ly.pass[0]
		y := p.forward(h, train)
		p.out = normalize(p.out, y)
		h = p.out
		if k+1 < l.s.ScoreFrom {
			continue
		}
		for i := range x.Rows {
			copy(l.feats.Row(i)[col:col+y.Cols], h.Row(i))
		}
		col += y.Cols
	}
	return l.feats
}

// evalChunk bounds the rows scored at once.
const evalChunk = 1024

// normalize writes every row of src divided by its root mean square (plus
// 1e-8) into dst (resized; it may be src) and returns it.
func normalize(dst, src nn.Matrix) nn.Matrix {
	dst = nn.Resize(dst, src.Rows, src.Cols) // keeps src's storage when dst is src
	for i := range src.Rows {
		s, d := src.Row(i), dst.Row(i)
		inv := float32(1 / (math.Sqrt(sumSquares(s)/float64(len(s))) + 1e-8))
		for j, v := range s {
			d[j] = v * inv
		}
	}
	return dst
}

func sumSquares(v []float32) float64 {
	s := 0.0
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	return s
}

func columnMeans(m nn.Matrix) []float64 {
	out := make([]float64, m.Cols)
	for i := range m.Rows {
		for j, v := range m.Row(i) {
			out[j] += float64(v)
		}
	}
	for j := range out {
		out[j] /= float64(m.Rows)
	}
	return out
}

// softplus is log(1 + eˣ), stable for large |x|.
func softplus(x float64) float64 { return max(x, 0) + math.Log1p(math.Exp(-math.Abs(x))) }

func sigmoid(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

func resize(s []float64, n int) []float64 {
	if cap(s) < n {
		return make([]float64, n)
	}
	return s[:n]
}

// VisitState visits everything the learner's future depends on: the
// layers' weights with their optimizer, the running activities of peer
// normalisation, the readout with its optimizer, the negative-label stream
// and the trainer (minibatch order and position).
func (l *Learner) VisitState(v nn.StateVisitor) {
	nn.VisitParams(v, "layers", l.params)
	nn.VisitOptimizer(v, "layers/opt", l.opt, l.params)
	for i, ly := range l.layers {
		v.Float64s(fmt.Sprintf("layer/%d/running", i), ly.running)
	}
	if l.readout != nil {
		nn.VisitParams(v, "readout", l.readout.Params())
		nn.VisitOptimizer(v, "readout/opt", l.rdOpt, l.readout.Params())
	}
	l.neg.VisitState(v, "negatives")
	l.train.VisitState(v, "train")
}
