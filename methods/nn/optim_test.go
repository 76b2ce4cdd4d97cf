package nn

import (
	"math"
	"testing"
)

func newParamWith(name string, noDecay bool, vals ...float32) *Param {
	p := NewParam(name, noDecay, len(vals))
	copy(p.Value, vals)
	return p
}

// adamTwoSteps runs two steps with gradients 0.5 then -0.2 on a weight
// starting at 1 (decayed) and a NoDecay bias starting at 1, and returns their
// values after each step.
func adamTwoSteps(t *testing.T, o Optimizer) (w, b [2]float32) {
	t.Helper()
	pw := newParamWith("w", false, 1)
	pb := newParamWith("b", true, 1)
	for s, g := range []float32{0.5, -0.2} {
		pw.Grad[0], pb.Grad[0] = g, g
		o.Step([]*Param{pw, pb})
		if pw.Grad[0] != 0 || pb.Grad[0] != 0 {
			t.Fatalf("step %d: gradients not zeroed: %g %g", s, pw.Grad[0], pb.Grad[0])
		}
		w[s], b[s] = pw.Value[0], pb.Value[0]
	}
	return w, b
}

func near(a float32, b float64) bool { return math.Abs(float64(a)-b) <= 1e-6*math.Max(1, math.Abs(b)) }

// TestAdamStep: lr 0.1, betas 0.9/0.999, eps 1e-8, wd 0.1 (L2).
//
// Step 1: g = 0.5 + 0.1·1 = 0.6, m = 0.06, v = 0.00036, m̂ = 0.6, v̂ = 0.36,
// w = 1 - 0.1·0.6/(0.6+1e-8) = 0.9000000016666666.
// Step 2: g = -0.2 + 0.1·0.9 = -0.11, m = 0.054 - 0.011 = 0.043,
// v = 0.999·0.00036 + 0.001·0.0121 = 0.00037174, m̂ = 0.043/0.19,
// v̂ = 0.00037174/0.001999, w = 0.9 - 0.1·m̂/(√v̂+1e-8) = 0.8475190629593703.
// The NoDecay bias sees the raw gradients: 0.900000002, 0.8654394181165108.
func TestAdamStep(t *testing.T) {
	cfg := DefaultOptimConfig("adam")
	cfg.LR, cfg.WeightDecay = 0.1, 0.1
	o, err := NewOptimizer("adam", cfg)
	if err != nil {
		t.Fatal(err)
	}
	w, b := adamTwoSteps(t, o)
	for i, want := range []float64{0.9000000016666666, 0.8475190629593703} {
		if !near(w[i], want) {
			t.Errorf("step %d: w = %.9g, want %.9g", i+1, w[i], want)
		}
	}
	for i, want := range []float64{0.900000002, 0.8654394181165108} {
		if !near(b[i], want) {
			t.Errorf("step %d: NoDecay b = %.9g, want %.9g", i+1, b[i], want)
		}
	}
}

// TestAdamWStep: lr 0.1, betas 0.9/0.999, eps 1e-8, wd 0.1 (decoupled).
//
// Step 1: w = 1·(1-0.01) - 0.1·0.5/(0.5+1e-8) = 0.890000002.
// Step 2: w = 0.89·0.99 = 0.8811, m = 0.045 - 0.02 = 0.025,
// v = 0.999·0.00025 + 0.001·0.04 = 0.00028975,
// w = 0.8811 - 0.1·(0.025/0.19)/(√(0.00028975/0.001999)+1e-8)
// = 0.8465394180965108. The NoDecay bias is not shrunk: 0.900000002,
// 0.8654394181165108 (the same as Adam's, which has no decay on it either).
func TestAdamWStep(t *testing.T) {
	cfg := DefaultOptimConfig("adamw")
	if cfg.WeightDecay != 1e-2 || cfg.LR != 1e-3 || cfg.Beta1 != 0.9 || cfg.Beta2 != 0.999 || cfg.Eps != 1e-8 {
		t.Errorf("AdamW defaults %+v", cfg)
	}
	cfg.LR, cfg.WeightDecay = 0.1, 0.1
	o, err := NewOptimizer("AdamW", cfg)
	if err != nil {
		t.Fatal(err)
	}
	w, b := adamTwoSteps(t, o)
	for i, want := range []float64{0.890000002, 0.8465394180965108} {
		if !near(w[i], want) {
			t.Errorf("step %d: w = %.9g, want %.9g", i+1, w[i], want)
		}
	}
	for i, want := range []float64{0.900000002, 0.8654394181165108} {
		if !near(b[i], want) {
			t.Errorf("step %d: NoDecay b = %.9g, want %.9g", i+1, b[i], want)
		}
	}
}

// TestSGDStep: lr 0.1, momentum 0.9, wd 0.1.
// Step 1: g = 0.5 + 0.1 = 0.6, buf = 0.6, w = 1 - 0.06 = 0.94.
// Step 2: g = -0.2 + 0.094 = -0.106, buf = 0.54 - 0.106 = 0.434,
// w = 0.94 - 0.0434 = 0.8966. NoDecay bias: buf 0.5 → 0.95 - 0.05 = 0.95;
// buf 0.45 - 0.2 = 0.25 → 0.95 - 0.025 = 0.925.
func TestSGDStep(t *testing.T) {
	cfg := DefaultOptimConfig("sgd")
	cfg.LR, cfg.Momentum, cfg.WeightDecay = 0.1, 0.9, 0.1
	o, err := NewOptimizer("sgd", cfg)
	if err != nil {
		t.Fatal(err)
	}
	w, b := adamTwoSteps(t, o)
	if !near(w[0], 0.94) || !near(w[1], 0.8966) || !near(b[0], 0.95) || !near(b[1], 0.925) {
		t.Errorf("w %v, b %v; want [0.94 0.8966], [0.95 0.925]", w, b)
	}
	// Plain SGD without momentum.
	o2 := &SGD{LR: 0.1}
	p := newParamWith("w", false, 1)
	p.Grad[0] = 0.5
	o2.Step([]*Param{p})
	if !near(p.Value[0], 0.95) || p.Grad[0] != 0 {
		t.Errorf("plain SGD: w %g grad %g", p.Value[0], p.Grad[0])
	}
}

func TestFlush(t *testing.T) {
	inf := float32(math.Inf(1))
	denorm := math.Float32frombits(1)
	for _, c := range []struct{ in, want float32 }{
		{1e-35, 0}, {-1e-35, 0}, {9.9e-31, 0}, {denorm, 0}, {-denorm, 0},
		{1.01e-30, 1.01e-30}, {-1e-29, -1e-29}, {1, 1}, {-2, -2}, {inf, inf}, {-inf, -inf}, {0, 0},
	} {
		got := Flush(c.in)
		if got != c.want || math.Signbit(float64(got)) != math.Signbit(float64(c.want)) {
			t.Errorf("Flush(%g) = %g, want %g", c.in, got, c.want)
		}
	}
	if nan := Flush(float32(math.NaN())); nan == nan {
		t.Error("Flush(NaN) is not NaN")
	}
	xs := []float32{1e-35, 3, -1e-36}
	FlushSlice(xs)
	if xs[0] != 0 || xs[1] != 3 || xs[2] != 0 {
		t.Errorf("FlushSlice: %v", xs)
	}
}

// TestOptimFlushesDenormals puts 1e-35 into the moments and the weights.
// One step must zero the moments (a zero gradient keeps them decaying); the
// weights, when weight decay applies, within weightFlushPeriod steps (every
// step for Adam's coupled L2). See Optimizer.
func TestOptimFlushesDenormals(t *testing.T) {
	for _, name := range OptimizerNames {
		for _, wd := range []float32{1e-4, 0} {
			cfg := DefaultOptimConfig(name)
			cfg.Momentum, cfg.WeightDecay = 0.9, wd
			o, err := NewOptimizer(name, cfg)
			if err != nil {
				t.Fatal(err)
			}
			// Large enough to take the split path too.
			n := 3 * optimMin
			p := NewParam("w", false, n)
			p.Grad[0] = 1
			o.Step([]*Param{p}) // allocates the state
			var state [][]float32
			switch o := o.(type) {
			case *SGD:
				state = [][]float32{o.buf[p]}
			case *Adam:
				state = [][]float32{o.state[p].m, o.state[p].v}
			case *AdamW:
				state = [][]float32{o.state[p].m, o.state[p].v}
			}
			for _, s := range append(state, p.Value) {
				for i := range s {
					s[i] = 1e-35
				}
			}
			zero := func(s []float32) bool {
				for _, v := range s {
					if v != 0 {
						return false
					}
				}
				return true
			}
			o.Step([]*Param{p})
			for k, s := range state {
				if !zero(s) {
					t.Fatalf("%s wd %g: state %d not flushed after a step", name, wd, k)
				}
			}
			steps := 1
			for ; steps <= weightFlushPeriod && !zero(p.Value); steps++ {
				o.Step([]*Param{p})
			}
			flushed := zero(p.Value)
			if wd == 0 && flushed {
				t.Errorf("%s: weights of 1e-35 went to 0 without decay", name)
			}
			if wd != 0 && !flushed {
				t.Errorf("%s wd %g: weights not flushed within %d steps", name, wd, weightFlushPeriod)
			}
			if wd != 0 && name == "adam" && steps != 1 {
				t.Errorf("adam (L2): weights flushed after %d steps, want 1", steps)
			}
		}
	}
}

func TestFlushWeightsAt(t *testing.T) {
	if flushWeightsAt(1, 0) || flushWeightsAt(1, -1) {
		t.Error("flush without decay")
	}
	for step := 1; step <= 3*weightFlushPeriod; step++ {
		if got, want := flushWeightsAt(step, 1e-5), step%weightFlushPeriod == 1; got != want {
			t.Fatalf("step %d: flush %v", step, got)
		}
		if !flushWeightsAt(step, 0.5) {
			t.Fatalf("step %d: strong decay not flushed every step", step)
		}
	}
}

func TestNewOptimizerErrors(t *testing.T) {
	if _, err := NewOptimizer("rmsprop", DefaultOptimConfig("adam")); err == nil {
		t.Error("unknown name accepted")
	}
	bad := []func(*OptimConfig){
		func(c *OptimConfig) { c.LR = -1 },
		func(c *OptimConfig) { c.Beta2 = 1 },
		func(c *OptimConfig) { c.Momentum = -0.1 },
		func(c *OptimConfig) { c.Eps = float32(math.NaN()) },
		func(c *OptimConfig) { c.WeightDecay = -1 },
	}
	for i, f := range bad {
		cfg := DefaultOptimConfig("adam")
		f(&cfg)
		if _, err := NewOptimizer("adam", cfg); err == nil {
			t.Errorf("bad config %d accepted: %+v", i, cfg)
		}
	}
	for _, name := range OptimizerNames {
		if _, err := NewOptimizer(" "+name+" ", DefaultOptimConfig(name)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestAdamSplitMatchesSerial checks that a tensor updated by the split pass
// gets the same bits as the same values updated one chunk at a time.
func TestAdamSplitMatchesSerial(t *testing.T) {
	rng := NewRNG(11)
	n := 4*optimMin + 17
	big := NewParam("w", false, n)
	rng.FillUniform(big.Value, 1)
	small := make([]*Param, 0)
	for lo := 0; lo < n; lo += 1000 {
		hi := min(lo+1000, n)
		p := NewParam("c", false, hi-lo)
		copy(p.Value, big.Value[lo:hi])
		small = append(small, p)
	}
	cfg := DefaultOptimConfig("adamw")
	a, _ := NewOptimizer("adamw", cfg)
	b, _ := NewOptimizer("adamw", cfg)
	for range 3 {
		rng.FillNormal(big.Grad, 1)
		for i, p := range small {
			copy(p.Grad, big.Grad[i*1000:])
		}
		a.Step([]*Param{big})
		b.Step(small)
	}
	for i, p := range small {
		for j, v := range p.Value {
			if v != big.Value[i*1000+j] {
				t.Fatalf("element %d: %g vs %g", i*1000+j, v, big.Value[i*1000+j])
			}
		}
	}
}
