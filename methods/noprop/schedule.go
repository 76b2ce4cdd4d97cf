package noprop

import (
	"fmt"
	"math"
)

// Schedule holds the fixed noise schedule of NoProp-DT and the coefficients
// derived from it, for t = 0..T. All slices have length T+1.
//
// NoProp's time runs opposite to DDPM's: ᾱ_t = Π_{s=t..T} α_s grows with t,
// z_0 is (almost) pure noise and z_T the least noisy latent (docs/methods.md §1).
// The per-step coefficients A, B, C of q(z_t|z_{t-1},y) = N(a_t u_y + b_t z_{t-1}, c_t I)
// are defined for t ≥ 1; index 0 holds NaN.
type Schedule struct {
	T        int
	AlphaBar []float64 // ᾱ_t: signal share of q(z_t|y) = N(√ᾱ_t u_y, (1−ᾱ_t) I)
	Alpha    []float64 // α_t = ᾱ_t/ᾱ_{t+1} (t < T), α_T = ᾱ_T
	SNR      []float64 // SNR(t) = ᾱ_t/(1−ᾱ_t)
	A, B, C  []float64 // a_t, b_t, c_t of Eq. 40–41 (t ≥ 1)
}

// CosineSpacing is the offset s of the Nichol–Dhariwal cosine schedule.
const CosineSpacing = 0.008

// MinAlphaBar0 is the floor on ᾱ_0, so that ln(1−ᾱ_0) and SNR(0) stay finite
// and z_0 stays distinct from pure noise by a hair (docs/methods.md §7).
const MinAlphaBar0 = 1e-5

// CosineSchedule is the "fixed cosine noise schedule" of the paper (§2.3.2),
// made concrete as in docs/methods.md §7, since the paper gives no formula: take the
// Nichol–Dhariwal cosine ᾱᴰ(k) = f(k/N)/f(0), f(u) = cos²((u+s)/(1+s)·π/2),
// s = 0.008, with N = T+1 steps; set ᾱ_t = ᾱᴰ(N−t) for t = 0..T, clipping ᾱ_0
// to at least 1e-5; α_t = ᾱ_t/ᾱ_{t+1} for t < T and α_T = ᾱ_T. Because ᾱ_0 is
// near 0 rather than 1, a_1, b_1 and c_1 are finite and no boundary patch is
// needed; ᾱ_T < 1, so the last L2 weight SNR(T)−SNR(T−1) stays finite (31 for
// T = 10).
//
// It panics if T < 1.
func CosineSchedule(T int) Schedule {
	if T < 1 {
		panic(fmt.Sprintf("noprop: CosineSchedule(%d): T must be at least 1", T))
	}
	n := float64(T + 1)
	f := func(u float64) float64 {
		c := math.Cos((u + CosineSpacing) / (1 + CosineSpacing) * math.Pi / 2)
		return c * c
	}
	s := Schedule{
		T:        T,
		AlphaBar: make([]float64, T+1),
		Alpha:    make([]float64, T+1),
		SNR:      make([]float64, T+1),
		A:        make([]float64, T+1),
		B:        make([]float64, T+1),
		C:        make([]float64, T+1),
	}
	for t := 0; t <= T; t++ {
		k := float64(T + 1 - t) // N − t
		s.AlphaBar[t] = f(k/n) / f(0)
	}
	s.AlphaBar[0] = max(s.AlphaBar[0], MinAlphaBar0)
	for t := 0; t < T; t++ {
		s.Alpha[t] = s.AlphaBar[t] / s.AlphaBar[t+1]
	}
	s.Alpha[T] = s.AlphaBar[T]
	for t := 0; t <= T; t++ {
		s.SNR[t] = s.AlphaBar[t] / (1 - s.AlphaBar[t])
	}
	s.A[0], s.B[0], s.C[0] = math.NaN(), math.NaN(), math.NaN()
	for t := 1; t <= T; t++ {
		s.A[t], s.B[t], s.C[t] = posteriorStep(s.AlphaBar[t-1], s.AlphaBar[t])
	}
	return s
}

// posteriorStep returns the coefficients a, b, c of one step of the chain
// from a latent with signal share abPrev to the next, abNext (Eq. 40–41 with
// α = abPrev/abNext): q(z_next | z_prev, y) = N(a·u_y + b·z_prev, c·I), the
// Eq. 3 update with û in place of u_y. NoProp-DT takes it between
// consecutive blocks, NoProp-CT between the points of its inference grid.
func posteriorStep(abPrev, abNext float64) (a, b, c float64) {
	ap := abPrev / abNext
	a = math.Sqrt(abNext) * (1 - ap) / (1 - abPrev)
	b = math.Sqrt(ap) * (1 - abNext) / (1 - abPrev)
	c = (1 - abNext) * (1 - ap) / (1 - abPrev)
	return a, b, c
}

// SNRDiff is SNR(t) − SNR(t−1), the weight of block t's L2 term (t ≥ 1).
func (s Schedule) SNRDiff(t int) float64 { return s.SNR[t] - s.SNR[t-1] }

// KLPrior is KL(q(z_0|y) ‖ p(z_0)) for one example whose embedding has squared
// norm normSq, in d dimensions: ½[ᾱ_0‖u_y‖² − dᾱ_0 − d ln(1−ᾱ_0)]
// (q(z_0|y) = N(√ᾱ_0 u_y, (1−ᾱ_0) I), p(z_0) = N(0, I)). Its gradient with
// respect to u_y is ᾱ_0 u_y.
func (s Schedule) KLPrior(normSq float64, d int) float64 { return klPrior(s.AlphaBar[0], normSq, d) }

// klPrior is KL(N(√a0·u, (1−a0) I) ‖ N(0, I)) for ‖u‖² = normSq in d
// dimensions (see Schedule.KLPrior).
func klPrior(a0, normSq float64, d int) float64 {
	fd := float64(d)
	return 0.5 * (a0*normSq - fd*a0 - fd*math.Log1p(-a0))
}

// klPriorDA0 is the derivative of klPrior with respect to a0:
// ½[‖u‖² − d + d/(1−a0)].
func klPriorDA0(a0, normSq float64, d int) float64 {
	fd := float64(d)
	return 0.5 * (normSq - fd + fd/(1-a0))
}
