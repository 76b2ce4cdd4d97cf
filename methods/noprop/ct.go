package noprop

import (
	"context"
	"encoding/json"
	"fmt"
	"math"

	"github.com/noprop/noprop/methods"
	"github.com/noprop/noprop/methods/nn"
	"github.com/noprop/noprop/tasks"
)

// CTSettings configures NoProp-CT. The defaults are the paper's NoProp-CT
// row of Table 4 (MNIST) with the network of Figure 5 (right).
type CTSettings struct {
	Continuous
	// Eta is η, the weight of the SNR′-weighted L2 term of Eq. 9. Paper
	// (Table 4): 1.
	Eta float64 `json:"eta" range:"(0,)" help:"η, the weight of the SNR′-weighted denoising term (paper: 1)"`
	// Training: minibatch 128, 100 epochs on MNIST (paper; 500 on
	// CIFAR-10 and 1000 on CIFAR-100, presets "paper-cifar10" and
	// "paper-cifar100"). One epoch is one pass of the one network over the
	// data.
	methods.Training
	// Optim is the update rule of θ, θ_out and W_Embed: Adam, lr 1e-3,
	// weight decay 1e-3 added to the gradient (paper, Table 4: "Adam").
	methods.Optim
	ScheduleSettings
	// Inference is the update of the inference chain between grid points s
	// and u (docs/methods.md §9.3: the paper says only "T = 1000 steps to simulate
	// the diffusion process"). "ancestral" (default, our reading) is Eq. 3
	// with the posterior's coefficients, z_u = a·û + b·z_s + √c·ε;
	// "ddim" is the deterministic DDIM update, a discretisation of the
	// probability-flow ODE: z_u = √ᾱ(u)·û + √((1−ᾱ(u))/(1−ᾱ(s)))·(z_s −
	// √ᾱ(s)·û), with noise only in z_0.
	Inference string `json:"inference" enum:"ancestral|ddim" help:"update of the inference chain: Eq. 3's ancestral step (our reading) or the deterministic DDIM step"`
	// MaskOutput restricts the network's output softmax to the active
	// outputs, in learning and at inference, as NoProp-DT's
	// mask_block_output does. Our choice: true.
	MaskOutput bool `json:"mask_output" help:"restrict the network's output softmax to the active outputs, in training and inference"`
	HeadChoice
}

// DefaultCTSettings returns the paper's NoProp-CT settings for MNIST
// (Table 4) with the conv network and one-hot embeddings.
func DefaultCTSettings() CTSettings {
	return CTSettings{
		Continuous: DefaultContinuous(),
		Eta:        1,
		Training:   methods.DefaultTraining(128, 100, 0),
		Optim:      methods.Optim{Optimizer: "adam", LR: 1e-3, WeightDecay: 1e-3},
		Inference:  InferenceAncestral,
		ScheduleSettings: ScheduleSettings{
			ScheduleHidden:     1024,
			ScheduleActivation: ScheduleSigmoid,
			Gamma0:             -4,
			Gamma1:             4,
			ScheduleLR:         1e-3,
		},
		MaskOutput: true,
		HeadChoice: DefaultHeadChoice(),
	}
}

// Validate requires γ_1 > γ_0, so that the initial schedule rises.
func (s CTSettings) Validate() error {
	if !(s.Gamma1 > s.Gamma0) {
		return methods.Invalid("gamma1", s.Gamma1, "must exceed gamma0 = %g (ᾱ must rise from t = 0 to 1)", s.Gamma0)
	}
	return nil
}

// Narrowed documents what Validate and the blocks add to the tags.
func (s CTSettings) Narrowed() map[string]string {
	return map[string]string{"time_dim": continuousNarrowed["time_dim"], "gamma1": "> gamma0"}
}

// ctRule is the rule's defaults and constructor (methods.Rule).
var ctRule = methods.Rule[CTSettings, *CTLearner]{Defaults: DefaultCTSettings, Build: NewCTLearner}

// CTMethod is NoProp-CT for the catalog.
var CTMethod = methods.Method{
	Name: "noprop-ct",
	Summary: "NoProp-CT (Li, Teh, Pascanu 2025): one network over t ∈ [0, 1] trained to denoise a noisy class " +
		"embedding, weighted by the derivative of a learned SNR schedule; inference runs the diffusion chain on an N-step grid",
	Settings: ctRule.Settings,
	Presets: map[string]json.RawMessage{
		// Table 4's NoProp-CT rows with Figure 5's network: 100 epochs on
		// MNIST, 500 on CIFAR-10, 1000 on CIFAR-100.
		"paper":          paperPreset("adam", 100, ctPaperExtra),
		"paper-cifar10":  paperPreset("adam", 500, ctPaperExtra),
		"paper-cifar100": paperPreset("adam", 1000, ctPaperExtra),
		// A fast run: the mlp encoder, one epoch, 100 inference steps.
		"quick": json.RawMessage(`{"encoder":"mlp","epochs":1,"iterations":0,"timesteps":100}`),
	},
	New:        ctRule.New,
	Stochastic: true,
	// The toy's images are white-noise patterns whose class lies in single
	// pixels; without the BatchNorm of the discrete-time block, the conv
	// stack's features start almost constant across them and the network
	// needs thousands of steps to use them (CT and FM learn MNIST with it
	// from the first epoch), so the toy runs the mlp encoder.
	Toy: json.RawMessage(`{"encoder":"mlp","hidden":32,"timesteps":20,"schedule_hidden":16,"iterations":150,"batch_size":32,` +
		`"lr":0.005,"schedule_lr":0.005}`),
}

// ctPaperExtra is what Table 4's NoProp-CT rows add: η 1 and the paper's
// default head.
const ctPaperExtra = `,"eta":1,"head":"softmax"`

// CTLearner is NoProp-CT: one network û_θ(z_t, x, t), the learned schedule
// ψ, the head θ_out and the class embedding W_Embed. It implements
// methods.Learner.
//
// A CTLearner is not safe for concurrent use.
type CTLearner struct {
	*continuous
	s        CTSettings
	sched    *LearnedSchedule
	schedOpt nn.Optimizer // nil when the schedule is frozen

	// work buffers
	pts      []SchedulePoint
	tsAll    []float64 // the minibatch's t_i, then 0 and 1
	dAb, dSp []float64
	z1, eps1 nn.Matrix
}

// NewCTLearner builds a NoProp-CT learner for problem p with settings s.
// All randomness derives from p.Seed, split by component: "embed", "net"
// (initialisation and dropout), "head", "schedule", "noise" (the t_i, z_t
// and z_1 of training), "order" (minibatch order) and "inference".
func NewCTLearner(p methods.Problem, s CTSettings) (*CTLearner, error) {
	if err := methods.CheckSettings(&s); err != nil {
		return nil, err
	}
	// The sampled z_t carries gradient to a learned W_Embed and to the
	// schedule (reparameterised); z_1 of the CE term to both as well.
	learned := s.Embedding != EmbedOneHot
	zGrad := learned || s.ScheduleLR > 0
	c, root, err := newContinuous("noprop-ct", p, s.Continuous, s.Training, s.Optim,
		func(cfg *netConfig) { cfg.zGrad = zGrad }, s.HeadChoice, true)
	if err != nil {
		return nil, err
	}
	l := &CTLearner{
		continuous: c,
		s:          s,
		sched:      NewLearnedSchedule(s.ScheduleHidden, s.ScheduleActivation, s.Gamma0, s.Gamma1, root.Split("schedule")),
	}
	c.head.Lin.NoInputGrad = !zGrad
	if s.ScheduleLR > 0 {
		o := s.Optim
		o.LR, o.WeightDecay = s.ScheduleLR, s.ScheduleWeightDecay
		if l.schedOpt, err = o.New(); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// Settings returns the learner's settings.
func (l *CTLearner) Settings() CTSettings { return l.s }

// Schedule returns the learned noise schedule (shared, not a copy).
func (l *CTLearner) Schedule() *LearnedSchedule { return l.sched }

// NumParams is the number of trainable values: the network, the head, the
// schedule and a learned W_Embed.
func (l *CTLearner) NumParams() int {
	return nn.CountParams(l.params) + nn.CountParams(l.sched.Params())
}

// Learn trains on one task's data for the configured budget; only the
// active outputs take part. Per minibatch (Algorithm 2, Eq. 62), every
// example draws its own t_i ~ U(0, 1) and z_{t_i} ~ q(z_t|y) =
// N(√ᾱ(t_i) u_y, (1−ᾱ(t_i)) I), and
//
//	L = CE(p̂_θout(y | z_1)) + KL(q(z_0|y) ‖ p(z_0))
//	  + (η/2)·mean_i SNR′(t_i)·‖û_θ(z_{t_i}, x_i, t_i) − u_{y_i}‖²
//
// with z_1 ~ q(z_1|y). The gradient is that of L in full: θ gets the L2
// term's, θ_out the CE term's, a learned W_Embed all three (target, output
// stage, the pathwise terms through z_t and z_1, the KL), and the schedule
// ψ the L2 term's through SNR′(t_i) and through ᾱ(t_i) in the sampled z_t,
// the CE term's through ᾱ(1) and the KL term's through ᾱ(0). θ, θ_out and
// W_Embed take one Adam step, ψ one of its own optimizer (see
// ScheduleSettings). A prototype embedding meets the task's classes first
// (Embedding.Meet).
//
// The reported TrainAcc is the network's own: the fraction of examples
// whose output softmax at the sampled (z_t, t) puts most weight on the
// label, among the active classes. It falls to chance when the network
// stops using the image (the collapse public reimplementations saw on
// CIFAR-100), which the shared collapse guard then reports.
//
// A step fails as diverged when the loss is not finite or the learned end
// points cross (γ_1 ≤ γ_0, which would make SNR′ negative).
func (l *CTLearner) Learn(ctx context.Context, data tasks.Set, active []int, obs methods.Observer) error {
	task, err := l.task(data, active)
	if err != nil {
		return err
	}
	return l.train.Train(ctx, task, obs, methods.Part{Step: func(b methods.Batch) (methods.Step, error) {
		return l.step(b, task.Active)
	}, Terms: CTTerms})
}

// CTTerms are the terms NoProp-CT reports per pass (EpochStats.Terms): the
// three terms of Eq. 9 as they enter the loss ("l2" is the η/2·SNR′-weighted
// denoising term, "ce" the head's cross-entropy on z_1, "kl" the prior's),
// "mse" the unweighted mean ‖û − u_y‖² over the sampled t, and the learned
// schedule's state: its end points γ_0 = γ(1) and γ_1 = γ(0), and SNR(0)
// and SNR(1); "embed_spread" is the RMS distance of the active classes'
// embeddings from their mean (constant for one-hot).
var CTTerms = []string{"l2", "ce", "kl", "mse", "gamma0", "gamma1", "snr0", "snr1", "embed_spread"}

// sampleZ fills z (rows × d) with z_i = √ᾱ_i·u_{y_i} + √(1−ᾱ_i)·ε_i, keeping
// the ε_i in eps: the noisy label of q(z_t|y) at each row's own point
// pts[i], or at pts[0] for every row when pts has one point.
func sampleZ(z, eps nn.Matrix, e *Embedding, y []int, pts []SchedulePoint, rng *nn.RNG) {
	rng.FillNormal(eps.Data, 1)
	for i, c := range y {
		p := pts[0]
		if len(pts) > 1 {
			p = pts[i]
		}
		sa, sb := float32(math.Sqrt(p.AlphaBar)), float32(math.Sqrt(p.OneMinus))
		zr, er, u := z.Row(i), eps.Row(i), e.Row(c)
		for j := range zr {
			zr[j] = sa*u[j] + sb*er[j]
		}
	}
}

// dAlphaBar returns Σ_j dz_j·∂z_j/∂ᾱ for z = √ᾱ·u + √(1−ᾱ)·ε: the gradient a
// sampled latent passes to its ᾱ.
func dAlphaBar(dz, u, eps []float32, p SchedulePoint) float64 {
	cu, ce := 0.5/math.Sqrt(p.AlphaBar), -0.5/math.Sqrt(p.OneMinus)
	s := 0.0
	for j, g := range dz {
		s += float64(g) * (cu*float64(u[j]) + ce*float64(eps[j]))
	}
	return s
}

// step is one minibatch of Algorithm 2: the loss and its gradients, then
// one step of each optimizer. It returns L and the network's correct count.
// active is the Learn call's active outputs, which the guards watch.
func (l *CTLearner) step(b methods.Batch, active []int) (methods.Step, error) {
	if g0, g1 := l.sched.Ends(); !(g1 > g0) {
		return methods.Step{}, fmt.Errorf("the learned schedule's end points crossed (γ_0 = %g, γ_1 = %g): SNR′ < 0: %w; try a lower schedule_lr",
			g0, g1, methods.ErrDiverged)
	}
	loss, correct := l.lossGrad(b)
	if err := stepOrDiverge(l.opt, l.params, loss, l.termsText); err != nil {
		clearParams(l.sched.Params())
		return methods.Step{}, err
	}
	if l.scheduleLearns() {
		l.schedOpt.Step(l.sched.Params())
	}
	if err := l.checkEmbedding(active); err != nil {
		return methods.Step{}, err
	}
	if err := l.checkSchedule(len(active)); err != nil {
		return methods.Step{}, err
	}
	l.termVals[8] = l.embedSpread(active)
	return methods.Step{Loss: loss, Correct: correct, Terms: l.termVals[:len(CTTerms)]}, nil
}

// lossGrad computes L on a minibatch, drawing the t_i, z_t and z_1 from
// the training stream, and adds its gradient into every parameter's Grad
// (the schedule's only when it is trained and L is finite) without
// updating anything. It returns L and the network's correct count, and
// keeps L's terms for termsText and the step's report. Each row's share of
// every term weighs the row's weight (Batch.Weight).
func (l *CTLearner) lossGrad(b methods.Batch) (float64, int) {
	n := b.X.Rows
	l.sampleTimes(n)
	l.tsAll = append(append(l.tsAll[:0], l.ts...), 0, 1)
	if cap(l.pts) < n+2 {
		l.pts = make([]SchedulePoint, n+2)
		l.dAb, l.dSp = make([]float64, n+2), make([]float64, n+2)
	}
	pts := l.pts[:n+2]
	l.sched.Eval(l.tsAll, pts)
	clear(l.dAb[:n+2])
	clear(l.dSp[:n+2])
	var eg []float32 // a learned W_Embed's gradient
	if l.embed.Learned() {
		eg = l.embed.W.Grad
	}
	l2, mse, correct := l.l2Term(b, pts, eg)
	ce := l.ceTerm(b, pts[n+1:], eg)
	kl := l.klTerm(b, pts[n], eg)
	loss := l2 + ce + kl
	if l.scheduleLearns() && finite(loss) {
		l.sched.Backward(l.tsAll, pts, l.dAb[:n+2], l.dSp[:n+2])
	}
	l.terms = [3]float64{l2, ce, kl}
	g0, g1 := l.sched.Ends()
	l.termVals = [9]float64{l2, ce, kl, mse, g0, g1, pts[n].SNR, pts[n+1].SNR}
	return loss, correct
}

// l2Term is the SNR′-weighted denoising term on z_t ~ q(z_t|y) at each
// row's own t: it fills the network's gradients, eg (nil unless W_Embed is
// learned) and the schedule's dᾱ and dSNR′ of each row, and returns the
// term, the unweighted mean ‖û − u_y‖² and the network's correct count.
func (l *CTLearner) l2Term(b methods.Batch, pts []SchedulePoint, eg []float32) (l2, mse float64, correct int) {
	x, y := b.X, b.Y
	n, e := x.Rows, l.embed
	d := e.D
	var outMask []bool
	if l.s.MaskOutput {
		outMask = b.Mask
	}
	l.z, l.eps = nn.Resize(l.z, n, d), nn.Resize(l.eps, n, d)
	sampleZ(l.z, l.eps, e, y, pts, l.noise)
	u := l.net.Forward(x, l.z, l.tcol, outMask, true)
	probs := l.net.Probs()
	l.du = nn.Resize(l.du, n, d)
	for i, c := range y {
		bw := float64(b.W(i))
		w := 0.5 * l.s.Eta * pts[i].SNRPrime * bw
		ur, tr, dr := u.Row(i), e.Row(c), l.du.Row(i)
		sq := 0.0
		for j, v := range ur {
			diff := v - tr[j]
			sq += float64(diff) * float64(diff)
			dr[j] = float32(2 * w / float64(n) * float64(diff))
		}
		l2 += w * sq
		mse += sq
		l.dSp[i] = 0.5 * l.s.Eta * bw * sq / float64(n)
		if argmaxActive(probs.Row(i), nn.RowMask(b.Mask, i, e.M)) == c {
			correct++
		}
		if eg != nil { // the target u_y
			addInto(eg[c*d:(c+1)*d], dr, -1)
		}
	}
	dz := l.net.Backward(l.du, eg)
	if dz.Rows == n { // the pathwise gradient through z_t
		for i, c := range y {
			l.dAb[i] = dAlphaBar(dz.Row(i), e.Row(c), l.eps.Row(i), pts[i])
			if eg != nil {
				addInto(eg[c*d:(c+1)*d], dz.Row(i), float32(math.Sqrt(pts[i].AlphaBar)))
			}
		}
	}
	return l2 / float64(n), mse / float64(n), correct
}

// ceTerm is the head's cross-entropy on z_1 ~ q(z_1|y) (at1 holds the
// schedule at t = 1): it fills the head's gradients, eg, and the
// schedule's dᾱ(1).
func (l *CTLearner) ceTerm(b methods.Batch, at1 []SchedulePoint, eg []float32) float64 {
	y := b.Y
	n, e, p1 := len(y), l.embed, at1[0]
	d := e.D
	l.z1, l.eps1 = nn.Resize(l.z1, n, d), nn.Resize(l.eps1, n, d)
	sampleZ(l.z1, l.eps1, e, y, at1, l.noise)
	ce := l.xent.ForwardMask(l.head.Forward(l.z1, b.Mask, true), y, b.Mask, b.Weight)
	dz1 := l.head.Backward(l.xent.Backward(), eg)
	if dz1.Rows == n {
		for i, c := range y {
			l.dAb[n+1] += dAlphaBar(dz1.Row(i), e.Row(c), l.eps1.Row(i), p1)
			if eg != nil {
				addInto(eg[c*d:(c+1)*d], dz1.Row(i), float32(math.Sqrt(p1.AlphaBar)))
			}
		}
	}
	return ce
}

// klTerm is KL(q(z_0|y) ‖ N(0, I)) at ᾱ(0) (p0): it fills eg and the
// schedule's dᾱ(0).
func (l *CTLearner) klTerm(b methods.Batch, p0 SchedulePoint, eg []float32) float64 {
	y := b.Y
	n, e := len(y), l.embed
	d := e.D
	kl := 0.0
	for i, c := range y {
		w := float64(b.W(i))
		nsq := sumSq(e.Row(c))
		kl += w * klPrior(p0.AlphaBar, nsq, d)
		l.dAb[n] += w * klPriorDA0(p0.AlphaBar, nsq, d) / float64(n)
		if eg != nil {
			addInto(eg[c*d:(c+1)*d], e.Row(c), float32(w*p0.AlphaBar/float64(n)))
		}
	}
	return kl / float64(n)
}

// scheduleLearns reports whether the schedule takes a step now: it is
// trained (schedule_lr > 0) and past its warm-up.
func (l *CTLearner) scheduleLearns() bool {
	return l.schedOpt != nil && (l.s.ScheduleWarmup == 0 || l.train.Round() > l.s.ScheduleWarmup)
}

// ScheduleCollapseSpan is the schedule guard's threshold: with
// collapse_check, NoProp-CT stops as collapsed when the span of its learned
// schedule, SNR(1) − SNR(0), has fallen below this fraction of its initial
// span while the head's cross-entropy is still near chance (at least 0.9 ln m
// over the m active classes). That is the degenerate solution of Eq. 9:
// while the network cannot predict u_y, the weighted L2 term is about
// (η/2)·(SNR(1) − SNR(0)) whatever the network does, so the loss falls
// fastest by narrowing the span; the L2 term goes to 0, the loss to ln m,
// and z_1 keeps no more of the label than z_0. Seen on CIFAR-100 with the
// paper's η = 1 (one-hot and learned embeddings alike).
const ScheduleCollapseSpan = 0.1

// checkSchedule returns an error wrapping methods.ErrCollapsed when the
// guard is on and the learned schedule has collapsed (ScheduleCollapseSpan).
func (l *CTLearner) checkSchedule(active int) error {
	if l.schedOpt == nil || !l.train.Training.CollapseCheck || active < 2 {
		return nil
	}
	span0 := math.Exp(-l.s.Gamma0) - math.Exp(-l.s.Gamma1)
	g0, g1 := l.sched.Ends()
	span := math.Exp(-g0) - math.Exp(-g1)
	if ce := l.terms[1]; span < ScheduleCollapseSpan*span0 && ce >= 0.9*math.Log(float64(active)) {
		return fmt.Errorf("the learned noise schedule collapsed: SNR(1) − SNR(0) is %.3g, %.1f%% of its initial %.3g, while the cross-entropy "+
			"is %.3g, near chance (ln %d = %.3g): the denoising term fell by narrowing the schedule, not by learning "+
			"(γ_0 %.3g, γ_1 %.3g); try schedule_warmup (freeze the schedule while the network learns), schedule_lr=0, or a smaller eta: %w",
			span, 100*span/span0, span0, ce, active, math.Log(float64(active)), g0, g1, methods.ErrCollapsed)
	}
	return nil
}

// termsText names the terms of the last loss.
func (l *CTLearner) termsText() string {
	return fmt.Sprintf("L2 %g, CE %g, KL %g", l.terms[0], l.terms[1], l.terms[2])
}

// clearParams zeroes the gradients of ps.
func clearParams(ps []*nn.Param) {
	for _, p := range ps {
		clear(p.Grad)
	}
}

// VisitState visits the shared continuous-time state and the learned
// schedule with its optimizer.
func (l *CTLearner) VisitState(v nn.StateVisitor) {
	l.continuous.VisitState(v)
	nn.VisitParams(v, "schedule", l.sched.Params())
	if l.schedOpt != nil {
		nn.VisitOptimizer(v, "schedule/opt", l.schedOpt, l.sched.Params())
	}
}
