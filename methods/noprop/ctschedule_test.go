package noprop

import (
	"fmt"
	"math"
	"testing"

	"github.com/noprop/noprop/methods/nn"
)

// randomSchedule is a learned schedule whose parameters are scrambled far
// from their initialisation (raw weights of both signs, biases of either
// sign), so that the checks see a strongly curved γ̄.
func randomSchedule(act string, hidden int, seed uint64) *LearnedSchedule {
	rng := nn.NewRNG(seed)
	s := NewLearnedSchedule(hidden, act, -3, 5, rng)
	rng.FillNormal(s.In.Value, 4)
	rng.FillNormal(s.Bias.Value, 2)
	rng.FillNormal(s.Out.Value, 3)
	s.Skip.Value[0] = -0.3 // a negative raw weight: the weight is 0.3
	return s
}

// TestScheduleMonotoneEnds: whatever its parameters, the schedule's ᾱ rises
// strictly from sigmoid(−γ_1) at t = 0 to sigmoid(−γ_0) at t = 1, γ̄ from 0
// to 1, SNR′ is positive, and SNR = ᾱ/(1−ᾱ). At initialisation γ̄(t) ≈ t.
func TestScheduleMonotoneEnds(t *testing.T) {
	for _, act := range []string{ScheduleSigmoid, ScheduleSoftplus} {
		for seed := uint64(1); seed <= 3; seed++ {
			name := fmt.Sprintf("%s/%d", act, seed)
			s := randomSchedule(act, 16, seed)
			g0, g1 := s.Ends()
			grid := s.Grid(2000)
			first, last := grid[0], grid[len(grid)-1]
			if first.GammaBar != 0 || last.GammaBar != 1 || first.Gamma != g1 || last.Gamma != g0 {
				t.Errorf("%s: γ̄(0) = %v, γ̄(1) = %v, γ(0) = %v, γ(1) = %v; want 0, 1, γ_1 = %v, γ_0 = %v",
					name, first.GammaBar, last.GammaBar, first.Gamma, last.Gamma, g1, g0)
			}
			if want := 1 / (1 + math.Exp(g1)); math.Abs(first.AlphaBar-want) > 1e-15 {
				t.Errorf("%s: ᾱ(0) = %v, want sigmoid(−γ_1) = %v", name, first.AlphaBar, want)
			}
			if want := 1 / (1 + math.Exp(g0)); math.Abs(last.AlphaBar-want) > 1e-15 {
				t.Errorf("%s: ᾱ(1) = %v, want sigmoid(−γ_0) = %v", name, last.AlphaBar, want)
			}
			for k := 1; k < len(grid); k++ {
				p, q := grid[k-1], grid[k]
				if !(q.AlphaBar > p.AlphaBar) || !(q.GammaBar > p.GammaBar) {
					t.Fatalf("%s: not increasing between t = %v and %v: ᾱ %v → %v, γ̄ %v → %v",
						name, p.T, q.T, p.AlphaBar, q.AlphaBar, p.GammaBar, q.GammaBar)
				}
			}
			for _, p := range grid {
				if !(p.SNRPrime > 0) {
					t.Fatalf("%s: SNR′(%v) = %v", name, p.T, p.SNRPrime)
				}
				if r := p.AlphaBar / p.OneMinus; math.Abs(r-p.SNR) > 1e-12*p.SNR {
					t.Fatalf("%s: SNR(%v) = %v, ᾱ/(1−ᾱ) = %v", name, p.T, p.SNR, r)
				}
			}
		}
		s := NewLearnedSchedule(1024, act, -4, 4, nn.NewRNG(1))
		for _, p := range s.Grid(10) {
			if math.Abs(p.GammaBar-p.T) > 1e-3 {
				t.Errorf("%s at initialisation: γ̄(%v) = %v, want ≈ t", act, p.T, p.GammaBar)
			}
		}
	}
}

// TestScheduleSNRPrime: the analytic SNR′(t) equals the central difference
// of SNR(t), at points spread over [0, 1] and at the ends (one-sided there).
func TestScheduleSNRPrime(t *testing.T) {
	for _, act := range []string{ScheduleSigmoid, ScheduleSoftplus} {
		s := randomSchedule(act, 16, 7)
		const h = 1e-6
		for _, tt := range []float64{0, 0.013, 0.2, 0.37, 0.5, 0.61, 0.8, 0.97, 1} {
			lo, hi := max(tt-h, 0), min(tt+h, 1)
			num := (s.At(hi).SNR - s.At(lo).SNR) / (hi - lo)
			got := s.At(tt).SNRPrime
			if math.Abs(got-num) > 1e-4*math.Max(math.Abs(num), 1e-6) {
				t.Errorf("%s: SNR′(%v) = %.9g, finite difference %.9g", act, tt, got, num)
			}
		}
	}
}

// TestScheduleBackward: the gradient of Σ_i dᾱ_i·ᾱ(t_i) + ds_i·SNR′(t_i)
// with respect to every parameter (the raw network weights through their
// absolute values, the biases and both end points) equals its finite
// difference, with points at the ends, where γ̄ is pinned, among them.
func TestScheduleBackward(t *testing.T) {
	for _, act := range []string{ScheduleSigmoid, ScheduleSoftplus} {
		s := randomSchedule(act, 6, 3)
		ts := []float64{0, 0.1, 0.45, 0.7, 0.93, 1}
		dA := []float64{0.7, -1.3, 0.4, 2.1, -0.8, 1.9}
		dS := []float64{0.5, 0.2, -0.6, 0.05, 0.3, -0.01}
		pts := make([]SchedulePoint, len(ts))
		loss := func() float64 {
			s.Eval(ts, pts)
			l := 0.0
			for i, p := range pts {
				l += dA[i]*p.AlphaBar + dS[i]*p.SNRPrime
			}
			return l
		}
		for _, p := range s.Params() {
			clear(p.Grad)
		}
		loss()
		s.Backward(ts, pts, dA, dS)
		for _, p := range s.Params() {
			for k := range p.Value {
				old := p.Value[k]
				p.Value[k] = old + 1e-3
				up, lp := p.Value[k], loss()
				p.Value[k] = old - 1e-3
				dn, lm := p.Value[k], loss()
				p.Value[k] = old
				num := (lp - lm) / float64(up-dn)
				if a := float64(p.Grad[k]); math.Abs(a-num) > 2e-3*math.Max(math.Abs(num), 1e-3) {
					t.Errorf("%s: %s[%d]: analytic %.6g, numeric %.6g", act, p.Name, k, a, num)
				}
			}
		}
	}
}
