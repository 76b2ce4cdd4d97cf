package nn

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// Optimizer updates parameters from their accumulated gradients. Step
// applies Param.Grad to Param.Value for every parameter and zeroes Grad, so
// the next Backward starts from zero.
//
// State (momenta) is allocated lazily per *Param on its first Step and kept
// for the optimizer's lifetime; passing different parameter sets to one
// optimizer is allowed (each keeps its own state and step count).
//
// Each tensor is updated in one fused pass (moments, bias-corrected step,
// weight decay, denormal flush, zeroing the gradient), split over the cores
// for large tensors. The result does not depend on the split.
//
// Denormals: moments and momentum buffers decay geometrically whenever a
// gradient stays zero (dead units, constant input pixels) and reach the
// denormal range within an epoch or two, so they are flushed (see Flush) on
// every step. Weights move by additive updates, which do not drift into the
// denormal range; only weight decay shrinks them geometrically, and slowly
// (AdamW's defaults shrink by a factor 1-1e-5 per step). So when decay
// applies to a tensor, its weights are flushed in the same pass on every
// weightFlushPeriod-th step of the tensor, often enough that decay cannot
// carry a weight from 1e-30 to below the denormal bound in between, or on
// every step when the decay is strong enough to do that. Flushing the
// weights on every step costs about 60% more in the scalar AdamW loop on
// the project machine.
type Optimizer interface {
	Step(params []*Param)
}

// OptimConfig holds the hyper-parameters of every optimizer; each reads the
// fields it needs. Values are used as given: start from DefaultOptimConfig
// and override, so that a zero is never mistaken for "unset".
type OptimConfig struct {
	LR          float32 // learning rate
	Momentum    float32 // SGD only
	Beta1       float32 // Adam, AdamW
	Beta2       float32 // Adam, AdamW
	Eps         float32 // Adam, AdamW
	WeightDecay float32 // L2 for SGD and Adam, decoupled for AdamW
}

// DefaultOptimConfig returns PyTorch's defaults for the named optimizer
// ("sgd", "adam", "adamw"): lr 1e-3, momentum 0, betas 0.9/0.999, eps 1e-8,
// and weight decay 0 (SGD, Adam) or 1e-2 (AdamW).
func DefaultOptimConfig(name string) OptimConfig {
	cfg := OptimConfig{LR: 1e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8}
	if normOptimName(name) == "adamw" {
		cfg.WeightDecay = 1e-2
	}
	return cfg
}

// OptimizerNames lists the names NewOptimizer accepts.
var OptimizerNames = []string{"sgd", "adam", "adamw"}

func normOptimName(name string) string { return strings.ToLower(strings.TrimSpace(name)) }

// NewOptimizer builds an optimizer from a settings-string name ("sgd",
// "adam", "adamw"; case-insensitive) and a configuration, which is checked
// for values PyTorch would reject.
func NewOptimizer(name string, cfg OptimConfig) (Optimizer, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("nn: optimizer %q: %w", name, err)
	}
	switch normOptimName(name) {
	case "sgd":
		return &SGD{LR: cfg.LR, Momentum: cfg.Momentum, WeightDecay: cfg.WeightDecay}, nil
	case "adam":
		return &Adam{LR: cfg.LR, Beta1: cfg.Beta1, Beta2: cfg.Beta2, Eps: cfg.Eps, WeightDecay: cfg.WeightDecay}, nil
	case "adamw":
		return &AdamW{Adam{LR: cfg.LR, Beta1: cfg.Beta1, Beta2: cfg.Beta2, Eps: cfg.Eps, WeightDecay: cfg.WeightDecay}}, nil
	}
	return nil, fmt.Errorf("nn: unknown optimizer %q (want one of %v)", name, OptimizerNames)
}

func (c OptimConfig) validate() error {
	finite := func(v float32) bool { return !math.IsNaN(float64(v)) && !math.IsInf(float64(v), 0) }
	switch {
	case !finite(c.LR) || c.LR < 0:
		return fmt.Errorf("invalid learning rate %g", c.LR)
	case !finite(c.Momentum) || c.Momentum < 0 || c.Momentum >= 1:
		return fmt.Errorf("invalid momentum %g (want [0, 1))", c.Momentum)
	case !finite(c.Beta1) || c.Beta1 < 0 || c.Beta1 >= 1:
		return fmt.Errorf("invalid beta1 %g (want [0, 1))", c.Beta1)
	case !finite(c.Beta2) || c.Beta2 < 0 || c.Beta2 >= 1:
		return fmt.Errorf("invalid beta2 %g (want [0, 1))", c.Beta2)
	case !finite(c.Eps) || c.Eps < 0:
		return fmt.Errorf("invalid eps %g", c.Eps)
	case !finite(c.WeightDecay) || c.WeightDecay < 0:
		return fmt.Errorf("invalid weight decay %g", c.WeightDecay)
	}
	return nil
}

// optimMin is the per-goroutine minimum of an optimizer pass. Biases and
// other small tensors stay below 2·optimMin and never spawn goroutines.
const optimMin = 1 << 15

// weightFlushPeriod is how often, in steps of a tensor, the optimizers flush
// weights that decay applies to (see Optimizer).
const weightFlushPeriod = 64

// flushWeightsAt reports whether step t (1-based) of a tensor flushes its
// weights, given the largest fraction r of a weight that decay alone can
// remove per step (r ≤ 0: no decay). Between two flushes decay shrinks a
// weight by at least (1-r)^weightFlushPeriod; while that stays ≥ 1e-7, a
// weight of 1e-30 or more stays above the denormal bound (1.18e-38).
func flushWeightsAt(t int, r float64) bool {
	switch {
	case r <= 0:
		return false
	case r >= 1 || math.Pow(1-r, weightFlushPeriod) < 1e-7:
		return true
	}
	return (t-1)%weightFlushPeriod == 0
}

// tensorPass updates a list of tensors in one pass, split over the cores as
// a whole: the tensors are laid end to end, so small ones (biases, norm
// scales) cost no goroutine hand-off of their own and a whole layer stack
// is updated with a single fork and join. segs[i] is tensor i's kernel,
// covering [offs[i], offs[i+1]) of the concatenation. The pass is rebuilt
// only when the parameter list changes.
type tensorPass[K any, P interface {
	*K
	Ranger
}] struct {
	params []*Param
	offs   []int
	segs   []K
	// dup marks a list that names a tensor twice: its updates must run one
	// after the other, in list order.
	dup bool
}

// matches reports whether the pass was built for exactly this list.
func (p *tensorPass[K, P]) matches(params []*Param) bool {
	if len(params) != len(p.params) || len(params) == 0 {
		return false
	}
	for i, q := range params {
		if q != p.params[i] || len(q.Value) != p.offs[i+1]-p.offs[i] {
			return false
		}
	}
	return true
}

// build sizes the pass for params, reusing its storage (an optimizer
// stepping alternate lists allocates nothing once it has seen the longest).
func (p *tensorPass[K, P]) build(params []*Param) {
	p.params = append(p.params[:0], params...)
	p.offs = append(p.offs[:0], 0)
	p.dup = false
	for i, q := range params {
		p.offs = append(p.offs, p.offs[len(p.offs)-1]+len(q.Value))
		p.dup = p.dup || slices.Contains(params[:i], q)
	}
	if cap(p.segs) < len(params) {
		p.segs = make([]K, len(params))
	}
	p.segs = p.segs[:len(params)]
}

// Range runs the kernels over [lo, hi) of the concatenation.
func (p *tensorPass[K, P]) Range(lo, hi int) {
	i, _ := slices.BinarySearch(p.offs, lo+1)
	for i--; i < len(p.segs) && p.offs[i] < hi; i++ {
		a, b := max(lo, p.offs[i]), min(hi, p.offs[i+1])
		if a < b {
			P(&p.segs[i]).Range(a-p.offs[i], b-p.offs[i])
		}
	}
}

// exec runs the pass over all tensors.
func (p *tensorPass[K, P]) exec() {
	n := p.offs[len(p.offs)-1]
	if p.dup {
		for i := range p.segs {
			ParallelRange(p.offs[i+1]-p.offs[i], optimMin, P(&p.segs[i]))
		}
		return
	}
	if !splits(n, optimMin) {
		p.Range(0, n)
		return
	}
	ParallelRange(n, optimMin, p)
}

// SGD is stochastic gradient descent with PyTorch's semantics: L2 weight
// decay added to the gradient (g += wd·p, skipped for NoDecay parameters),
// then, with Momentum > 0, buf = momentum·buf + g and p -= lr·buf (no
// dampening, no Nesterov), else p -= lr·g.
type SGD struct {
	LR, Momentum, WeightDecay float32

	buf   map[*Param][]float32
	steps map[*Param]int
	pass  tensorPass[sgdKernel, *sgdKernel]
}

// Step updates every parameter and zeroes its gradient.
func (o *SGD) Step(params []*Param) {
	if len(params) == 0 {
		return
	}
	if o.steps == nil {
		o.steps = make(map[*Param]int)
	}
	if !o.pass.matches(params) {
		o.pass.build(params)
	}
	for i, p := range params {
		t := o.steps[p] + 1
		o.steps[p] = t
		k := &o.pass.segs[i]
		*k = sgdKernel{lr: o.LR, mom: o.Momentum, wd: o.WeightDecay, w: p.Value, g: p.Grad}
		if p.NoDecay {
			k.wd = 0
		}
		// With momentum μ, decay removes up to lr·wd/(1-μ) per step.
		k.flushW = flushWeightsAt(t, float64(k.lr)*float64(k.wd)/(1-float64(k.mom)))
		if o.Momentum != 0 {
			k.buf = o.velocity(p)
		}
	}
	o.pass.exec()
}

// velocity returns p's momentum buffer, made on first use.
func (o *SGD) velocity(p *Param) []float32 {
	if o.buf == nil {
		o.buf = make(map[*Param][]float32)
	}
	b, ok := o.buf[p]
	if !ok {
		b = make([]float32, len(p.Value))
		o.buf[p] = b
	}
	return b
}

// sgdKernel is one tensor's fused SGD update.
type sgdKernel struct {
	lr, mom, wd float32
	flushW      bool
	w, g, buf   []float32
}

// Range updates elements [lo, hi) of the tensor.
func (k *sgdKernel) Range(lo, hi int) { k.run(lo, hi) }

func (k *sgdKernel) run(lo, hi int) {
	w, g := k.w[lo:hi], k.g[lo:hi]
	g = g[:len(w)]
	lr, wd, mom := k.lr, k.wd, k.mom
	switch {
	case k.buf == nil && !k.flushW:
		for i, wi := range w {
			w[i] = wi - lr*(g[i]+wd*wi)
			g[i] = 0
		}
	case k.buf == nil:
		for i, wi := range w {
			w[i] = Flush(wi - lr*(g[i]+wd*wi))
			g[i] = 0
		}
	case !k.flushW:
		buf := k.buf[lo:hi]
		buf = buf[:len(w)]
		for i, wi := range w {
			b := Flush(mom*buf[i] + g[i] + wd*wi)
			buf[i] = b
			w[i] = wi - lr*b
			g[i] = 0
		}
	default:
		buf := k.buf[lo:hi]
		buf = buf[:len(w)]
		for i, wi := range w {
			b := Flush(mom*buf[i] + g[i] + wd*wi)
			buf[i] = b
			w[i] = Flush(wi - lr*b)
			g[i] = 0
		}
	}
}

// Adam is Adam with PyTorch's semantics (torch.optim.Adam, amsgrad off):
// L2 weight decay added to the gradient (g += wd·p, skipped for NoDecay
// parameters), m = β1·m + (1-β1)·g, v = β2·v + (1-β2)·g²,
// p -= lr/(1-β1ᵗ) · m / (√v/√(1-β2ᵗ) + eps), with t counted per parameter.
// Use DefaultOptimConfig("adam") for PyTorch's defaults.
type Adam struct {
	LR, Beta1, Beta2, Eps, WeightDecay float32

	state map[*Param]*adamState
	pass  tensorPass[adamKernel, *adamKernel]
}

type adamState struct {
	m, v []float32
	t    int
}

// Step updates every parameter and zeroes its gradient.
func (o *Adam) Step(params []*Param) { o.step(params, false) }

// AdamW is Adam with decoupled weight decay (torch.optim.AdamW):
// p -= lr·wd·p before the Adam update, the gradient itself is not decayed.
// NoDecay parameters skip the decay. Use DefaultOptimConfig("adamw") for
// PyTorch's defaults (note wd 1e-2).
type AdamW struct {
	Adam
}

// Step updates every parameter and zeroes its gradient.
func (o *AdamW) Step(params []*Param) { o.step(params, true) }

func (o *Adam) step(params []*Param, decoupled bool) {
	if len(params) == 0 {
		return
	}
	if o.state == nil {
		o.state = make(map[*Param]*adamState)
	}
	if !o.pass.matches(params) {
		o.pass.build(params)
	}
	for i, p := range params {
		s, ok := o.state[p]
		if !ok {
			s = &adamState{m: make([]float32, len(p.Value)), v: make([]float32, len(p.Value))}
			o.state[p] = s
		}
		s.t++
		// Scalars in float64 so that 1-β2ᵗ keeps its precision at large t.
		bc1 := 1 - math.Pow(float64(o.Beta1), float64(s.t))
		bc2 := 1 - math.Pow(float64(o.Beta2), float64(s.t))
		k := &o.pass.segs[i]
		*k = adamKernel{
			adamConsts: adamConsts{
				b1: o.Beta1, c1: 1 - o.Beta1, b2: o.Beta2, c2: 1 - o.Beta2, eps: o.Eps,
				step:   float32(float64(o.LR) / bc1),
				invBc2: float32(1 / math.Sqrt(bc2)),
				decay:  1,
				mThr:   flushBits,
			},
			w: p.Value,
			g: p.Grad,
			m: s.m,
			v: s.v,
		}
		if !p.NoDecay && o.WeightDecay != 0 {
			lrwd := float64(o.LR) * float64(o.WeightDecay)
			if decoupled {
				k.decay = float32(1 - lrwd)
				if flushWeightsAt(s.t, lrwd) {
					k.wThr = flushBits
				}
			} else {
				// L2 through Adam's normalisation has no simple per-step
				// bound (near zero, eps sets the rate): flush every step.
				k.l2 = o.WeightDecay
				k.wThr = flushBits
			}
		}
	}
	o.pass.exec()
}

// adamConsts are the scalars of one tensor's Adam update, laid out for the
// assembly kernels (adam_amd64.s): keep the order.
type adamConsts struct {
	b1, c1, b2, c2 float32 // β1, 1-β1, β2, 1-β2
	eps            float32
	step, invBc2   float32 // lr/(1-β1ᵗ), 1/√(1-β2ᵗ)
	l2, decay      float32 // Adam: l2 = wd; AdamW: decay = 1-lr·wd
	wThr, mThr     uint32  // flush thresholds (bits of |x|) of the weights and of the moments; 0: none
}

// adamKernel is one tensor's fused Adam/AdamW update.
type adamKernel struct {
	adamConsts
	w, g, m, v []float32
}

// Range updates elements [lo, hi) of the tensor.
func (k *adamKernel) Range(lo, hi int) { k.run(lo, hi) }

// run updates elements [lo, hi): the bulk with the vector kernel when the
// CPU has one, the rest in Go. Both compute every element with the same
// float32 operations in the same order (no fused multiply-add), so the
// result does not depend on which one handles an element.
func (k *adamKernel) run(lo, hi int) {
	width := 16
	if vecLevel == vecAVX2 {
		width = 8
	}
	if vecLevel != vecGo && hi-lo >= width {
		n := (hi - lo) &^ (width - 1)
		_ = k.w[lo+n-1]
		_ = k.g[lo+n-1]
		_ = k.m[lo+n-1]
		_ = k.v[lo+n-1]
		if vecLevel == vecAVX512 {
			adamAVX512(&k.adamConsts, &k.w[lo], &k.g[lo], &k.m[lo], &k.v[lo], n)
		} else {
			adamAVX2(&k.adamConsts, &k.w[lo], &k.g[lo], &k.m[lo], &k.v[lo], n)
		}
		lo += n
	}
	k.runGo(lo, hi)
}

// runGo is the update in Go. The explicit float32 conversions keep the
// compiler from fusing a multiply and an add into an FMA (it may, on
// GOAMD64=v3 and other architectures), which would round differently from
// the vector kernels.
func (k *adamKernel) runGo(lo, hi int) {
	w := k.w[lo:hi]
	g, m, v := k.g[lo:hi], k.m[lo:hi], k.v[lo:hi]
	g, m, v = g[:len(w)], m[:len(w)], v[:len(w)]
	b1, b2, c1, c2 := k.b1, k.b2, k.c1, k.c2
	eps, step, invBc2, l2, decay := k.eps, k.step, k.invBc2, k.l2, k.decay
	if k.wThr == 0 {
		for i, wi := range w {
			gi := g[i] + float32(l2*wi)
			mi := Flush(float32(b1*m[i]) + float32(c1*gi))
			vi := Flush(float32(b2*v[i]) + float32(float32(c2*gi)*gi))
			m[i], v[i] = mi, vi
			d := float32(float32(math.Sqrt(float64(vi)))*invBc2) + eps
			w[i] = float32(wi*decay) - float32(step*mi)/d
			g[i] = 0
		}
		return
	}
	for i, wi := range w {
		gi := g[i] + float32(l2*wi)
		mi := Flush(float32(b1*m[i]) + float32(c1*gi))
		vi := Flush(float32(b2*v[i]) + float32(float32(c2*gi)*gi))
		m[i], v[i] = mi, vi
		d := float32(float32(math.Sqrt(float64(vi)))*invBc2) + eps
		w[i] = Flush(float32(wi*decay) - float32(step*mi)/d)
		g[i] = 0
	}
}
