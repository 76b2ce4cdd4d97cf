package noprop

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/noprop/noprop/methods"
	"github.com/noprop/noprop/methods/nn"
	"github.com/noprop/noprop/tasks"
)

// FMSettings configures NoProp-FM. The defaults are the paper's NoProp-FM
// row of Table 4 (MNIST) with the network of Figure 5 (right).
type FMSettings struct {
	Continuous
	// Sigma is σ of the probability path z_t ~ N(t·u_y + (1−t)·z_0, σ² I)
	// (Eq. 10); the paper does not give it (docs/methods.md §9.4). Our choice:
	// 0.1, small beside the unit-variance z_0 and unit-norm embeddings (Tong
	// et al.'s conditional flow matching uses values of this order); 0 is
	// the deterministic straight path.
	Sigma float64 `json:"sigma" range:"[0,)" help:"σ of the probability path z_t ~ N(t·u_y + (1−t)·z_0, σ²) (not given by the paper)"`
	// Eta is η, the weight of the flow-matching term against the anchor
	// cross-entropy, as η weights the denoising term of NoProp-DT and -CT.
	// The paper's Eq. 13 adds the two unweighted: η 1, the default. With
	// 100 classes in 20 dimensions the flow term's optimum without the
	// image is every embedding at one point, and at η 1 it pulls them
	// together faster than the cross-entropy, still at chance, holds them
	// apart (README, CIFAR-100); a smaller η lets the cross-entropy lead.
	// With the fixed one-hot embedding there is no cross-entropy and η only
	// scales the loss.
	Eta float64 `json:"eta" range:"(0,)" help:"η, the weight of the flow-matching term against the anchor cross-entropy (paper: 1, unweighted)"`
	// Training: minibatch 128, 100 epochs on MNIST (paper; 500 on
	// CIFAR-10 and 1000 on CIFAR-100, presets "paper-cifar10" and
	// "paper-cifar100").
	methods.Training
	// Optim is the update rule of θ, and of θ_out and W_Embed when the
	// embedding is learned: Adam, lr 1e-3, weight decay 1e-3 (paper).
	methods.Optim
}

// DefaultFMSettings returns the paper's NoProp-FM settings for MNIST
// (Table 4) with the conv network and one-hot embeddings.
func DefaultFMSettings() FMSettings {
	return FMSettings{
		Continuous: DefaultContinuous(),
		Sigma:      0.1,
		Eta:        1,
		Training:   methods.DefaultTraining(128, 100, 0),
		Optim:      methods.Optim{Optimizer: "adam", LR: 1e-3, WeightDecay: 1e-3},
	}
}

// fmRule is the rule's defaults and constructor (methods.Rule).
var fmRule = methods.Rule[FMSettings, *FMLearner]{Defaults: DefaultFMSettings, Build: NewFMLearner}

// FMMethod is NoProp-FM for the catalog.
var FMMethod = methods.Method{
	Name: "noprop-fm",
	Summary: "NoProp-FM (Li, Teh, Pascanu 2025): one network learns the vector field of a flow from noise to the " +
		"class embedding given the image; inference integrates it with N Euler steps and takes the nearest class embedding",
	Settings: fmRule.Settings,
	Presets: map[string]json.RawMessage{
		// Table 4's NoProp-FM rows with Figure 5's network: 100 epochs on
		// MNIST, 500 on CIFAR-10, 1000 on CIFAR-100.
		"paper":          paperPreset("adam", 100, fmPaperExtra),
		"paper-cifar10":  paperPreset("adam", 500, fmPaperExtra),
		"paper-cifar100": paperPreset("adam", 1000, fmPaperExtra),
		// A fast run: the mlp encoder, one epoch, 100 inference steps.
		"quick": json.RawMessage(`{"encoder":"mlp","epochs":1,"iterations":0,"timesteps":100}`),
	},
	New:        fmRule.New,
	Stochastic: true,
	// The toy runs the mlp encoder, as NoProp-CT's does (see CTMethod).
	Toy: json.RawMessage(`{"encoder":"mlp","hidden":32,"timesteps":20,"iterations":150,"batch_size":32,"lr":0.005}`),
}

// fmPaperExtra is what Eq. 13 adds: the two terms unweighted.
const fmPaperExtra = `,"eta":1`

// FMLearner is NoProp-FM: one network v_θ(z_t, x, t) whose output is
// logits·W_Embed, the class embedding and, for a learned embedding, the
// anchor head θ_out. It implements methods.Learner.
//
// A FMLearner is not safe for concurrent use.
type FMLearner struct {
	*continuous
	s FMSettings

	z0, zt1, dv nn.Matrix // work buffers
}

// NewFMLearner builds a NoProp-FM learner for problem p with settings s.
// All randomness derives from p.Seed, split by component: "embed", "net",
// "head", "noise" (the t_i, z_0 and path noise of training), "order" and
// "inference".
func NewFMLearner(p methods.Problem, s FMSettings) (*FMLearner, error) {
	if err := methods.CheckSettings(&s); err != nil {
		return nil, err
	}
	learned := s.Embedding != EmbedOneHot
	c, _, err := newContinuous("noprop-fm", p, s.Continuous, s.Training, s.Optim,
		func(cfg *netConfig) { cfg.linear, cfg.zGrad = true, learned }, DefaultHeadChoice(), learned)
	if err != nil {
		return nil, err
	}
	return &FMLearner{continuous: c, s: s}, nil
}

// Settings returns the learner's settings.
func (l *FMLearner) Settings() FMSettings { return l.s }

// Learn trains on one task's data for the configured budget; only the
// active outputs take part. Per minibatch (Algorithm 3, Eq. 63–64), every
// example draws t_i ~ U(0, 1), z_0 ~ N(0, I) and
// z_t = t·u_y + (1−t)·z_0 + σ·ε, and
//
//	L = η · mean_i ‖v_θ(z_t, x, t) − (u_y − z_0)‖²
//	  + [learned embedding] CE(p̂_θout(y | z̃_1)),  z̃_1 = z_t + (1−t)·v_θ(z_t, x, t)
//
// the anchor term keeping a learned W_Embed from collapsing (p̂_θout linear
// + softmax); with the fixed one-hot embedding there is no CE term and no
// head. The gradient is that of L in full (for a learned W_Embed: the
// target, the output stage logits·W_Embed and the path through z_t). One
// Adam step per minibatch. A prototype embedding meets the task's classes
// first (Embedding.Meet). The output logits·W_Embed is not masked: the
// target u_y − z_0 has a component on every output.
//
// The reported TrainAcc is the share of examples whose one-step estimate
// of z_1 from the z_0 they started at, z_0 + v_θ(z_t, x, t) (the straight
// path's end), is nearest to the label's embedding among the active
// classes: at chance when the network ignores the image.
func (l *FMLearner) Learn(ctx context.Context, data tasks.Set, active []int, obs methods.Observer) error {
	task, err := l.task(data, active)
	if err != nil {
		return err
	}
	return l.train.Train(ctx, task, obs, methods.Part{Step: func(b methods.Batch) (methods.Step, error) {
		return l.step(b, task.Active)
	}, Terms: FMTerms})
}

// FMTerms are the terms NoProp-FM reports per pass (EpochStats.Terms): "flow"
// the η-weighted flow-matching term of Eq. 13 as it enters the loss, "ce"
// the anchor cross-entropy on z̃_1 (0 with a fixed embedding), and
// "embed_spread" the RMS distance of the active classes' embeddings from
// their mean (what a collapse of learned embeddings drives to 0).
var FMTerms = []string{"flow", "ce", "embed_spread"}

// step is one minibatch of Algorithm 3: the loss and its gradients, then
// one optimizer step. It returns L and the correct count. active is the
// Learn call's active outputs, which the embedding guard watches.
func (l *FMLearner) step(b methods.Batch, active []int) (methods.Step, error) {
	loss, correct := l.lossGrad(b)
	if err := stepOrDiverge(l.opt, l.params, loss, l.termsText); err != nil {
		return methods.Step{}, err
	}
	if err := l.checkEmbedding(active); err != nil {
		return methods.Step{}, err
	}
	l.termVals[2] = l.embedSpread(active)
	return methods.Step{Loss: loss, Correct: correct, Terms: l.termVals[:len(FMTerms)]}, nil
}

// lossGrad computes L on a minibatch, drawing the t_i, z_0 and path noise
// from the training stream, and adds its gradient into every parameter's
// Grad without updating anything. It returns L and the correct count, and
// keeps L's terms for termsText. Each row's terms weigh its weight
// (Batch.Weight).
func (l *FMLearner) lossGrad(b methods.Batch) (float64, int) {
	x, y := b.X, b.Y
	n, e := x.Rows, l.embed
	d := e.D
	l.sampleTimes(n)
	l.z0, l.eps, l.z = nn.Resize(l.z0, n, d), nn.Resize(l.eps, n, d), nn.Resize(l.z, n, d)
	l.noise.FillNormal(l.z0.Data, 1)
	l.noise.FillNormal(l.eps.Data, float32(l.s.Sigma))
	for i, c := range y {
		t := float32(l.ts[i])
		zr, z0, er, u := l.z.Row(i), l.z0.Row(i), l.eps.Row(i), e.Row(c)
		for j := range zr {
			zr[j] = t*u[j] + (1-t)*z0[j] + er[j]
		}
	}
	v := l.net.Forward(x, l.z, l.tcol, nil, true)
	l.dv = nn.Resize(l.dv, n, d)
	var eg []float32
	if e.Learned() {
		eg = e.W.Grad
	}
	flow, correct := 0.0, 0
	g := float32(2 * l.s.Eta / float64(n))
	for i, c := range y {
		vr, z0, u, dr := v.Row(i), l.z0.Row(i), e.Row(c), l.dv.Row(i)
		w, gw := float64(b.W(i)), g*b.W(i)
		for j, vv := range vr {
			diff := vv - (u[j] - z0[j])
			flow += w * float64(diff) * float64(diff)
			dr[j] = gw * diff
			z0[j] += vv // z_0 + v: the straight path's end, for the count
		}
		if nearestClass(z0, e, nn.RowMask(b.Mask, i, e.M)) == c {
			correct++
		}
		if eg != nil { // the target u_y − z_0
			addInto(eg[c*d:(c+1)*d], dr, -1)
		}
	}
	flow /= float64(n)
	ce := 0.0
	var dzt1 nn.Matrix
	if e.Learned() {
		l.zt1 = nn.Resize(l.zt1, n, d)
		for i := range n {
			s := float32(1 - l.ts[i])
			zr, vr, dst := l.z.Row(i), v.Row(i), l.zt1.Row(i)
			for j := range dst {
				dst[j] = zr[j] + s*vr[j]
			}
		}
		ce = l.xent.ForwardMask(l.head.Forward(l.zt1, b.Mask, true), y, b.Mask, b.Weight)
		dzt1 = l.head.Backward(l.xent.Backward(), eg)
		for i := range n {
			addInto(l.dv.Row(i), dzt1.Row(i), float32(1-l.ts[i]))
		}
	}
	dz := l.net.Backward(l.dv, eg)
	if eg != nil {
		for i, c := range y { // z_t = t·u_y + …, directly and through z̃_1
			t := float32(l.ts[i])
			addInto(eg[c*d:(c+1)*d], dz.Row(i), t)
			addInto(eg[c*d:(c+1)*d], dzt1.Row(i), t)
		}
	}
	l.terms = [3]float64{flow, ce}
	l.termVals[0], l.termVals[1] = l.s.Eta*flow, ce
	return l.s.Eta*flow + ce, correct
}

// termsText names the terms of the last loss.
func (l *FMLearner) termsText() string {
	return fmt.Sprintf("flow %g, CE %g", l.terms[0], l.terms[1])
}

// Scores integrates the learned flow on every row of x with N Euler steps
// (N = timesteps), z_0 ~ N(0, I), z_{k+1} = z_k + v_θ(z_k, x, k/N)/N, the
// network in evaluation mode and the image features computed once per row
// (Net.Prepare), and returns −‖z_1 − u_y‖² for every output: the arg-max
// among the active outputs is the nearest class embedding (paper §2.3.1).
// The noise comes from the inference stream, re-derived for every call
// from the inference seed and the chunk index, so Scores is deterministic.
func (l *FMLearner) Scores(x nn.Matrix, active []int) nn.Matrix {
	l.checkRows(x)
	return scoreChunks(x, l.m, l.chunk, l.infer, l.inferSeed, func(dst, x nn.Matrix, rng noise) {
		nearestScores(dst, l.euler(x, rng, l.s.Timesteps), l.embed)
	})
}

// ScoresRuns is Scores for several inference seeds (methods.MultiScorer),
// the image features computed once per chunk for all of them.
func (l *FMLearner) ScoresRuns(x nn.Matrix, active []int, seeds []uint64) []nn.Matrix {
	l.checkRows(x)
	return l.scoreRuns(x, seeds, func(dst, x nn.Matrix, rng noise) {
		nearestScores(dst, l.euler(x, rng, l.s.Timesteps), l.embed)
	})
}

// euler integrates dz/dt = v_θ(z, x, t) from z_0 ~ N(0, I) (drawn from rng)
// to t = 1 in steps Euler steps over the rows of x and returns z_1 (owned by
// the learner). The Adjoint uses it too.
func (c *continuous) euler(x nn.Matrix, rng noise, steps int) nn.Matrix {
	n, d := x.Rows, c.embed.D
	c.zA = nn.Resize(c.zA, n, d)
	z := c.zA
	rng.fill(z, 1)
	if !c.prepared {
		c.net.Prepare(x, false)
	}
	h := float32(1 / float64(steps))
	for k := range steps {
		v := c.net.Step(z, float64(k)/float64(steps), nil, false)
		addInto(z.Data, v.Data, h)
	}
	return z
}
