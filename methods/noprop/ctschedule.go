package noprop

import (
	"fmt"
	"math"

	"github.com/noprop/noprop/methods/nn"
)

// The hidden activations of the learned schedule's network.
const (
	ScheduleSigmoid  = "sigmoid"
	ScheduleSoftplus = "softplus"
)

// LearnedSchedule is the noise schedule NoProp-CT learns (paper App. B,
// after Kingma et al.'s VDM): with t ∈ [0, 1] running from noise (t = 0) to
// the least noisy latent (t = 1),
//
//	γ̃(t) = |w|·t + (1/H) Σ_k |v_k| φ(|a_k|·(2t−1) + c_k)
//	γ̄(t) = (γ̃(t) − γ̃(0)) / (γ̃(1) − γ̃(0))
//	γ(t) = γ_0 + (γ_1 − γ_0)(1 − γ̄(t))
//	SNR(t) = exp(−γ(t)),  ᾱ(t) = sigmoid(−γ(t))
//
// γ̃ is a two-layer network 1 → H → 1 whose weights are positive (the
// absolute values of its raw parameters, as in VDM), with a positive linear
// skip (VDM's too), so it increases in t; γ̄ rises from 0 to 1, and γ falls
// from γ(0) = γ_1 to γ(1) = γ_0 whenever γ_1 > γ_0. The end points γ_0 and γ_1
// are trainable; their order is not enforced (it is not in the paper or in
// VDM): a crossing would make SNR′ negative and shows as a collapse.
//
// Everything is computed in float64 from the float32 parameters. SNR′ is
// analytic:
//
//	SNR′(t) = −γ′(t)·SNR(t) = (γ_1 − γ_0)·γ̄′(t)·exp(−γ(t)),  γ̄′ = γ̃′/(γ̃(1) − γ̃(0)),
//	γ̃′(t) = |w| + (2/H) Σ_k |v_k||a_k| φ′(|a_k|(2t−1) + c_k),
//
// and Backward gives the gradients of ᾱ(t) and SNR′(t) with respect to every
// parameter (which needs φ″).
//
// The paper leaves the network's width and activation and the initial end
// points open (docs/methods.md §9.2); they are settings of NoProp-CT. At
// initialisation w = 1, the a_k and v_k are drawn from N(0, 0.01²) and the
// c_k are 0 (VDM's initialisation), so γ̄(t) ≈ t: log-SNR falls linearly from
// −γ_1 to −γ_0.
type LearnedSchedule struct {
	// Act is φ: "sigmoid" (VDM's) or "softplus".
	Act string
	// Skip is the raw skip weight w (1 value), In the raw a_k, Bias the c_k,
	// Out the raw v_k (H values each) and Gamma the end points [γ_0, γ_1].
	Skip, In, Bias, Out, Gamma *nn.Param

	params []*nn.Param
	// float64 copies of the parameters for one Eval/Backward, with the
	// accumulated gradients; g0 and g1 are γ̃(0) and γ̃(1).
	a, c, v          []float64
	w, g0, g1        float64
	da, dc, dv       []float64
	dw, dg0v, dg1v   float64
	dGamma0, dGamma1 float64
}

// SchedulePoint is the schedule at one time t.
type SchedulePoint struct {
	T             float64
	GammaBar      float64 // γ̄(t)
	GammaBarPrime float64 // γ̄′(t)
	Gamma         float64 // γ(t)
	AlphaBar      float64 // ᾱ(t) = sigmoid(−γ(t))
	OneMinus      float64 // 1 − ᾱ(t) = sigmoid(γ(t)), without cancellation
	SNR           float64 // exp(−γ(t))
	SNRPrime      float64 // dSNR/dt
}

// NewLearnedSchedule returns a schedule whose network has hidden units
// with activation act and whose end points start at gamma0 = γ(1) and
// gamma1 = γ(0); the hidden weights are drawn from rng. It panics on an
// unknown activation or hidden < 1.
func NewLearnedSchedule(hidden int, act string, gamma0, gamma1 float64, rng *nn.RNG) *LearnedSchedule {
	if act != ScheduleSigmoid && act != ScheduleSoftplus {
		panic(fmt.Sprintf("noprop: unknown schedule activation %q", act))
	}
	if hidden < 1 {
		panic(fmt.Sprintf("noprop: schedule with %d hidden units", hidden))
	}
	s := &LearnedSchedule{
		Act:   act,
		Skip:  nn.NewParam("schedule/skip", true, 1),
		In:    nn.NewParam("schedule/in", true, hidden),
		Bias:  nn.NewParam("schedule/bias", true, hidden),
		Out:   nn.NewParam("schedule/out", true, hidden),
		Gamma: nn.NewParam("schedule/gamma", true, 2),
	}
	s.Skip.Value[0] = 1
	rng.FillNormal(s.In.Value, 0.01)
	rng.FillNormal(s.Out.Value, 0.01)
	s.Gamma.Value[0], s.Gamma.Value[1] = float32(gamma0), float32(gamma1)
	s.params = []*nn.Param{s.Skip, s.In, s.Bias, s.Out, s.Gamma}
	return s
}

// Params lists the schedule's parameters (ψ of Algorithm 2).
func (s *LearnedSchedule) Params() []*nn.Param { return s.params }

// Hidden is H, the width of γ̃'s hidden layer.
func (s *LearnedSchedule) Hidden() int { return len(s.In.Value) }

// Ends returns the current end points γ_0 = γ(1) and γ_1 = γ(0).
func (s *LearnedSchedule) Ends() (gamma0, gamma1 float64) {
	return float64(s.Gamma.Value[0]), float64(s.Gamma.Value[1])
}

// load copies the parameters into float64 and computes γ̃(0) and γ̃(1).
func (s *LearnedSchedule) load() {
	h := s.Hidden()
	if len(s.a) != h {
		s.a, s.c, s.v = make([]float64, h), make([]float64, h), make([]float64, h)
		s.da, s.dc, s.dv = make([]float64, h), make([]float64, h), make([]float64, h)
	}
	inv := 1 / float64(h)
	for k := range h {
		s.a[k] = math.Abs(float64(s.In.Value[k]))
		s.c[k] = float64(s.Bias.Value[k])
		s.v[k] = math.Abs(float64(s.Out.Value[k])) * inv
	}
	s.w = math.Abs(float64(s.Skip.Value[0]))
	s.g0, _ = s.net(0)
	s.g1, _ = s.net(1)
}

// act returns φ(u), φ′(u) and φ″(u).
func (s *LearnedSchedule) act(u float64) (f, f1, f2 float64) {
	sg := 1 / (1 + math.Exp(-u))
	d := sg * (1 - sg)
	if s.Act == ScheduleSoftplus {
		if u > 0 {
			f = u + math.Log1p(math.Exp(-u))
		} else {
			f = math.Log1p(math.Exp(u))
		}
		return f, sg, d
	}
	return sg, d, d * (1 - 2*sg)
}

// net returns γ̃(t) and γ̃′(t) (after load).
func (s *LearnedSchedule) net(t float64) (g, gp float64) {
	tau := 2*t - 1
	g, gp = s.w*t, s.w
	for k, a := range s.a {
		f, f1, _ := s.act(a*tau + s.c[k])
		g += s.v[k] * f
		gp += 2 * s.v[k] * a * f1
	}
	return g, gp
}

// netBackward adds the gradient of dg·γ̃(t) + dgp·γ̃′(t) with respect to |w|,
// |a_k|, c_k and v_k into the float64 accumulators.
func (s *LearnedSchedule) netBackward(t, dg, dgp float64) {
	tau := 2*t - 1
	s.dw += dg*t + dgp
	for k, a := range s.a {
		f, f1, f2 := s.act(a*tau + s.c[k])
		v := s.v[k]
		s.dv[k] += dg*f + dgp*2*a*f1
		s.da[k] += dg*v*f1*tau + dgp*2*v*(f1+a*f2*tau)
		s.dc[k] += dg*v*f1 + dgp*2*v*a*f2
	}
}

// Eval fills pts[i] with the schedule at ts[i] (len(pts) ≥ len(ts)).
func (s *LearnedSchedule) Eval(ts []float64, pts []SchedulePoint) {
	s.load()
	g0, g1 := s.Ends()
	span := s.g1 - s.g0
	delta := g1 - g0
	for i, t := range ts {
		g, gp := s.net(t)
		p := &pts[i]
		p.T = t
		p.GammaBar = (g - s.g0) / span
		p.GammaBarPrime = gp / span
		if t == 0 { // exact at the end points, whatever the rounding of span
			p.GammaBar = 0
		} else if t == 1 {
			p.GammaBar = 1
		}
		p.Gamma = g0 + delta*(1-p.GammaBar)
		p.AlphaBar = 1 / (1 + math.Exp(p.Gamma))
		p.OneMinus = 1 / (1 + math.Exp(-p.Gamma))
		p.SNR = math.Exp(-p.Gamma)
		p.SNRPrime = delta * p.GammaBarPrime * p.SNR
	}
}

// At returns the schedule at t.
func (s *LearnedSchedule) At(t float64) SchedulePoint {
	var p [1]SchedulePoint
	s.Eval([]float64{t}, p[:])
	return p[0]
}

// Grid returns the schedule at t_k = k/n, k = 0..n: NoProp-CT's inference
// grid.
func (s *LearnedSchedule) Grid(n int) []SchedulePoint {
	ts := make([]float64, n+1)
	for k := range ts {
		ts[k] = float64(k) / float64(n)
	}
	pts := make([]SchedulePoint, n+1)
	s.Eval(ts, pts)
	return pts
}

// Backward adds into the parameters' gradients the gradient of
//
//	Σ_i dAlphaBar[i]·ᾱ(ts[i]) + dSNRPrime[i]·SNR′(ts[i])
//
// for the points pts that Eval computed at ts (with the current
// parameters). A nil dSNRPrime means zeros.
func (s *LearnedSchedule) Backward(ts []float64, pts []SchedulePoint, dAlphaBar, dSNRPrime []float64) {
	s.load()
	clear(s.da)
	clear(s.dc)
	clear(s.dv)
	s.dw, s.dg0v, s.dg1v, s.dGamma0, s.dGamma1 = 0, 0, 0, 0, 0
	g0, g1 := s.Ends()
	delta := g1 - g0
	span := s.g1 - s.g0
	for i, t := range ts {
		p := pts[i]
		dsp := 0.0
		if dSNRPrime != nil {
			dsp = dSNRPrime[i]
		}
		// Through γ(t) and γ′(t) = −Δ·γ̄′(t): dᾱ/dγ = −ᾱ(1−ᾱ),
		// ∂SNR′/∂γ = −SNR′, ∂SNR′/∂γ′ = −SNR.
		dGamma := -dAlphaBar[i]*p.AlphaBar*p.OneMinus - dsp*p.SNRPrime
		dGammaP := -dsp * p.SNR
		s.dGamma0 += dGamma*p.GammaBar + dGammaP*p.GammaBarPrime
		s.dGamma1 += dGamma*(1-p.GammaBar) - dGammaP*p.GammaBarPrime
		dgb := -delta * dGamma   // dL/dγ̄
		dgbp := -delta * dGammaP // dL/dγ̄′
		if t == 0 || t == 1 {
			dgb = 0 // γ̄ is exactly 0 or 1 there, whatever the parameters
		}
		if dgb == 0 && dgbp == 0 {
			continue
		}
		// γ̄ = (g − g0)/span, γ̄′ = g′/span.
		dg := dgb / span
		dgp := dgbp / span
		s.dg0v += -dgb*(1-p.GammaBar)/span + dgbp*p.GammaBarPrime/span
		s.dg1v += -dgb*p.GammaBar/span - dgbp*p.GammaBarPrime/span
		s.netBackward(t, dg, dgp)
	}
	s.netBackward(0, s.dg0v, 0)
	s.netBackward(1, s.dg1v, 0)
	h := s.Hidden()
	inv := 1 / float64(h)
	for k := range h {
		s.In.Grad[k] += float32(s.da[k] * sign(float64(s.In.Value[k])))
		s.Bias.Grad[k] += float32(s.dc[k])
		s.Out.Grad[k] += float32(s.dv[k] * inv * sign(float64(s.Out.Value[k])))
	}
	s.Skip.Grad[0] += float32(s.dw * sign(float64(s.Skip.Value[0])))
	s.Gamma.Grad[0] += float32(s.dGamma0)
	s.Gamma.Grad[1] += float32(s.dGamma1)
}

// sign is the derivative of |x|: −1, 0 or 1.
func sign(x float64) float64 {
	switch {
	case x > 0:
		return 1
	case x < 0:
		return -1
	}
	return 0
}

// ScheduleSettings is the block of settings of NoProp-CT's learned noise
// schedule (paper App. B; see LearnedSchedule). The paper leaves the
// network, the initial end points and the schedule's optimizer open
// (docs/methods.md §9.2); these are our choices.
type ScheduleSettings struct {
	// ScheduleHidden is the width H of γ̃'s hidden layer. Our choice: 1024,
	// VDM's, whose learned schedule the paper follows.
	ScheduleHidden int `json:"schedule_hidden" range:"[1,65536]" help:"hidden units of the learned schedule's monotone network γ̃ (VDM: 1024)"`
	// ScheduleActivation is γ̃'s hidden activation: "sigmoid" (VDM's) or
	// "softplus".
	ScheduleActivation string `json:"schedule_activation" enum:"sigmoid|softplus" help:"hidden activation of γ̃ (VDM: sigmoid)"`
	// Gamma0 and Gamma1 are the initial end points: γ(1) = γ_0, so
	// ᾱ(1) = sigmoid(−γ_0), and γ(0) = γ_1. Our choice: −4 and 4, ᾱ(1) ≈
	// 0.982 and ᾱ(0) ≈ 0.018 (SNR from 0.018 to 55), about the span of
	// NoProp-DT's cosine schedule at its clean end (ᾱ_T = 0.977) without
	// its near-zero ᾱ_0, so the inference grid does not spend its first
	// steps at an SNR of 1e-5. VDM's image values (SNR up to e^13) would make
	// the weight SNR′ of the last steps about 10⁵ times that of the rest.
	// The span is a trade-off (full MNIST, 2 epochs, seed 1): with ±2 the
	// network reads the image at every t (96 % right at t = 0 against 82 %
	// with ±4) but z_1 keeps a noise variance of 1−ᾱ(1) ≈ 0.13, and the head
	// on z_1 classifies the chain's end 76 % right against 92 %.
	Gamma0 float64 `json:"gamma0" help:"initial γ_0 = γ(1): ᾱ(1) = sigmoid(−γ_0) (trainable; not given by the paper)"`
	Gamma1 float64 `json:"gamma1" help:"initial γ_1 = γ(0): ᾱ(0) = sigmoid(−γ_1), must exceed gamma0 (trainable; not given by the paper)"`
	// ScheduleLR is the learning rate of the schedule's parameters ψ (γ̃'s
	// weights and γ_0, γ_1), which take their own optimizer of the same kind
	// as the network's. Default 1e-3, the network's (Algorithm 2 trains ψ
	// jointly); 0 freezes the schedule at its initial shape.
	ScheduleLR float64 `json:"schedule_lr" range:"[0,)" help:"learning rate of the schedule's parameters (same optimizer kind); 0 freezes the schedule"`
	// ScheduleWeightDecay is their weight decay. Our choice: 0. With Adam's
	// decay added to the gradient, 1e-3 on γ_1 ≈ 4 would outweigh the only
	// gradient γ_1 gets (the KL term's, about ᾱ(0)/2) and Adam would walk
	// it to 0 at up to lr per step.
	ScheduleWeightDecay float64 `json:"schedule_weight_decay" range:"[0,)" help:"weight decay of the schedule's parameters"`
	// ScheduleWarmup keeps the schedule frozen for the first epochs of
	// every task: the network learns to denoise under the initial schedule
	// before the schedule moves. Not in the paper (Algorithm 2 trains ψ
	// from the first step); our setting, default 0. While the network
	// cannot yet predict u_y, the weighted L2 term is about
	// (η/2)·(SNR(1) − SNR(0)) whatever it does, and the schedule lowers the
	// loss fastest by narrowing that span (see ScheduleCollapseSpan).
	ScheduleWarmup int `json:"schedule_warmup" range:"[0,1000000]" identity:"default" help:"epochs of each task during which the schedule stays frozen before it learns (not in the paper)"`
}
