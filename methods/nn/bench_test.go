package nn

import (
	"fmt"
	"math"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
)

// The Linear benchmarks run through whatever blas32 implementation is
// installed (the package's packed GEMM by default, see backend.go). The
// gemm-only and elementwise-only sub-benchmarks split a step into its GEMMs
// and the rest (bias add, column sums).
func BenchmarkLinear(b *testing.B) {
	const batch = 128
	for _, s := range [][2]int{{784, 400}, {400, 400}} {
		in, out := s[0], s[1]
		rng := NewRNG(1)
		l := NewLinear(in, out, InitPyTorch, rng)
		x := randMatrix(rng, batch, in, 1)
		dy := randMatrix(rng, batch, out, 1)
		flops := 3 * 2 * float64(batch*in*out)
		name := fmt.Sprintf("%dx%d", in, out)
		b.Run(name+"/fwd+bwd", func(b *testing.B) {
			for b.Loop() {
				l.Forward(x, true)
				l.Backward(dy)
			}
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
		b.Run(name+"/gemm-only", func(b *testing.B) {
			y, dx := NewMatrix(batch, out), NewMatrix(batch, in)
			dW := Matrix{Rows: in, Cols: out, Data: l.W.Grad}
			for b.Loop() {
				blas32.Gemm(blas.NoTrans, blas.NoTrans, 1, x.General(), l.Weights().General(), 0, y.General())
				blas32.Gemm(blas.Trans, blas.NoTrans, 1, x.General(), dy.General(), 1, dW.General())
				blas32.Gemm(blas.NoTrans, blas.Trans, 1, dy.General(), l.Weights().General(), 0, dx.General())
			}
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
		b.Run(name+"/elementwise-only", func(b *testing.B) {
			y := NewMatrix(batch, out)
			for b.Loop() {
				addRowVector(y, l.B.Value)
				addColumnSums(l.B.Grad, dy)
			}
		})
	}
}

func BenchmarkActivation(b *testing.B) {
	rng := NewRNG(2)
	x := randMatrix(rng, 128, 1024, 2)
	dy := randMatrix(rng, 128, 1024, 1)
	for _, name := range []string{"relu", "tanh", "sigmoid"} {
		l, _ := NewActivation(name)
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				l.Forward(x, true)
				l.Backward(dy)
			}
		})
	}
}

// mlpParams are the parameters of a 784-1024-1024-10 MLP: 1,864,690 values.
func mlpParams(rng *RNG) []*Param {
	var ps []*Param
	for _, s := range [][2]int{{784, 1024}, {1024, 1024}, {1024, 10}} {
		l := NewLinear(s[0], s[1], InitPyTorch, rng)
		ps = append(ps, l.Params()...)
	}
	return ps
}

// adamRunNoFlush is adamKernel.run without the denormal flushes: the
// reference for what the flush saves once the state has gone denormal.
func adamRunNoFlush(k *adamKernel, lo, hi int) {
	w := k.w[lo:hi]
	g, m, v := k.g[lo:hi], k.m[lo:hi], k.v[lo:hi]
	g, m, v = g[:len(w)], m[:len(w)], v[:len(w)]
	b1, b2, c1, c2 := k.b1, k.b2, 1-k.b1, 1-k.b2
	eps, step, invBc2, l2, decay := k.eps, k.step, k.invBc2, k.l2, k.decay
	for i, wi := range w {
		gi := g[i] + l2*wi
		mi := b1*m[i] + c1*gi
		vi := b2*v[i] + c2*gi*gi
		m[i], v[i] = mi, vi
		denom := float32(math.Sqrt(float64(vi)))*invBc2 + eps
		w[i] = wi*decay - step*mi/denom
		g[i] = 0
	}
}

// BenchmarkAdamStep times one AdamW step (lr 1e-3, wd 1e-2) over 1.86M
// parameters; the weights are flushed on one step in weightFlushPeriod.
//
//   - normal: gradients ~N(0, 1e-3²), normal state.
//   - denormal: the state of a network whose gradients have been zero for a
//     while (dead units, constant input pixels): m and v hold 1e-39, which
//     is denormal; the gradients are 0. Step flushes it to 0 on the first
//     call, so this measures the steady state with the flush.
//   - denormal-noflush: the same start through a copy of the kernel without
//     Flush, with the same split over the cores; v stays denormal for
//     thousands of steps (it decays by 0.999 per step).
//   - normal-noflush: the cost of the flushes themselves.
func BenchmarkAdamStep(b *testing.B) {
	setup := func(denormal bool) ([]*Param, *AdamW) {
		rng := NewRNG(3)
		ps := mlpParams(rng)
		o := &AdamW{Adam{LR: 1e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 1e-2}}
		o.Step(ps) // allocate the state
		for _, p := range ps {
			s := o.state[p]
			if denormal {
				for i := range s.m {
					s.m[i], s.v[i] = 1e-39, 1e-39
				}
			} else {
				rng.FillNormal(s.m, 1e-3)
				for i := range s.v {
					s.v[i] = 1e-6
				}
			}
		}
		return ps, o
	}
	fillGrads := func(ps []*Param, denormal bool) {
		if denormal {
			return // Step zeroes them
		}
		rng := NewRNG(4)
		for _, p := range ps {
			rng.FillNormal(p.Grad, 1e-3)
		}
	}
	for _, c := range []struct {
		name     string
		denormal bool
		flush    bool
	}{
		{"normal", false, true},
		{"denormal", true, true},
		{"denormal-noflush", true, false},
		{"normal-noflush", false, false},
	} {
		b.Run(c.name, func(b *testing.B) {
			ps, o := setup(c.denormal)
			b.SetBytes(int64(4 * 4 * CountParams(ps))) // w, g, m, v
			for b.Loop() {
				b.StopTimer()
				fillGrads(ps, c.denormal)
				b.StartTimer()
				if c.flush {
					o.Step(ps)
					continue
				}
				for _, p := range ps {
					s := o.state[p]
					k := &adamKernel{adamConsts: adamConsts{b1: 0.9, c1: 0.1, b2: 0.999, c2: 0.001, eps: 1e-8, step: 1e-3, invBc2: 1, decay: 1},
						w: p.Value, g: p.Grad, m: s.m, v: s.v}
					ParallelFor(len(p.Value), optimMin, func(lo, hi int) { adamRunNoFlush(k, lo, hi) })
				}
			}
		})
	}
}

// BenchmarkSGDStep times one SGD (momentum 0.9) step over 1.86M parameters.
func BenchmarkSGDStep(b *testing.B) {
	rng := NewRNG(5)
	ps := mlpParams(rng)
	o := &SGD{LR: 0.01, Momentum: 0.9}
	b.SetBytes(int64(3 * 4 * CountParams(ps))) // w, g, buf
	for b.Loop() {
		b.StopTimer()
		for _, p := range ps {
			rng.FillNormal(p.Grad, 1e-3)
		}
		b.StartTimer()
		o.Step(ps)
	}
}
