package noprop

import (
	"math"
	"testing"
)

// TestCosineScheduleTable checks CosineSchedule(10) against the table of
// docs/methods.md §7 at the table's printed precision.
func TestCosineScheduleTable(t *testing.T) {
	type row struct {
		alphaBar, snr, diff, a, b, c float64
	}
	// Values as printed; the number of printed decimals sets the tolerance.
	rows := []row{
		{0.00001, 0.00001, math.NaN(), math.NaN(), math.NaN(), math.NaN()},
		{0.0199, 0.0203, 0.0203, 0.141, 0.022, 0.980},
		{0.0782, 0.0848, 0.0645, 0.213, 0.475, 0.701},
		{0.1700, 0.2049, 0.1201, 0.242, 0.610, 0.486},
		{0.2882, 0.4049, 0.2001, 0.265, 0.659, 0.352},
		{0.4233, 0.7340, 0.3291, 0.292, 0.669, 0.259},
		{0.5645, 1.2963, 0.5622, 0.326, 0.654, 0.189},
		{0.7006, 2.3397, 1.0435, 0.373, 0.617, 0.134},
		{0.8207, 4.5758, 2.2360, 0.443, 0.553, 0.088},
		{0.9152, 10.788, 6.2122, 0.551, 0.448, 0.049},
		{0.9766, 41.703, 30.915, 0.733, 0.267, 0.017},
	}
	s := CosineSchedule(10)
	// near reports whether got matches want to within one unit of the last
	// printed digit. Half a unit is not enough: the table's later columns were
	// computed from its own rounded ᾱ and SNR values (e.g. a_2 = 0.21250
	// exactly, printed 0.213; SNR diff at t=2 = 0.08479−0.02034 = 0.06445,
	// printed 0.0848−0.0203 = 0.0645).
	near := func(got, want float64, dec int) bool {
		return math.Abs(got-want) <= math.Pow(10, -float64(dec))*1.0001
	}
	check := func(name string, tt int, got, want float64, dec int) {
		t.Helper()
		if !near(got, want, dec) {
			t.Errorf("t=%d %s = %.6g, table %.*f", tt, name, got, dec, want)
		}
	}
	for tt, r := range rows {
		check("ᾱ", tt, s.AlphaBar[tt], r.alphaBar, 4+btoi(tt == 0))
		if tt == 0 {
			check("SNR", tt, s.SNR[tt], r.snr, 5)
			continue
		}
		snrDec := 4
		if r.snr >= 10 {
			snrDec = 3
		}
		check("SNR", tt, s.SNR[tt], r.snr, snrDec)
		diffDec := 4
		if r.diff >= 10 {
			diffDec = 3
		}
		check("SNR diff", tt, s.SNRDiff(tt), r.diff, diffDec)
		check("a", tt, s.A[tt], r.a, 3)
		check("b", tt, s.B[tt], r.b, 3)
		check("c", tt, s.C[tt], r.c, 3)
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestScheduleConsistency checks identities the coefficients must satisfy for
// any T: the marginals compose (a_t u + b_t·√ᾱ_{t−1} u = √ᾱ_t u, and the
// variances add up to 1−ᾱ_t), ᾱ grows with t, and every SNR step is positive.
func TestScheduleConsistency(t *testing.T) {
	for _, T := range []int{1, 2, 10, 50} {
		s := CosineSchedule(T)
		for tt := 1; tt <= T; tt++ {
			if s.AlphaBar[tt] <= s.AlphaBar[tt-1] {
				t.Errorf("T=%d: ᾱ not increasing at t=%d", T, tt)
			}
			if s.SNRDiff(tt) <= 0 {
				t.Errorf("T=%d: SNR diff %g at t=%d", T, s.SNRDiff(tt), tt)
			}
			mean := s.A[tt] + s.B[tt]*math.Sqrt(s.AlphaBar[tt-1])
			if math.Abs(mean-math.Sqrt(s.AlphaBar[tt])) > 1e-12 {
				t.Errorf("T=%d t=%d: mean coefficient %g, want √ᾱ_t = %g", T, tt, mean, math.Sqrt(s.AlphaBar[tt]))
			}
			// Var(z_t|y) through the posterior: b²(1−ᾱ_{t−1}) + c, where c is
			// the posterior variance; for this Gaussian bridge the total is
			// 1−ᾱ_t only when the sample a·u_y + ... uses u_y, which it does.
			v := s.B[tt]*s.B[tt]*(1-s.AlphaBar[tt-1]) + s.C[tt]
			if math.Abs(v-(1-s.AlphaBar[tt])) > 1e-12 {
				t.Errorf("T=%d t=%d: variance %g, want 1−ᾱ_t = %g", T, tt, v, 1-s.AlphaBar[tt])
			}
		}
	}
}

func TestKLPrior(t *testing.T) {
	s := CosineSchedule(10)
	// For u = 0 the KL is −(d/2)(ᾱ_0 + ln(1−ᾱ_0)) ≈ d·ᾱ_0²/4 > 0.
	if kl := s.KLPrior(0, 10); kl <= 0 || kl > 1e-8 {
		t.Errorf("KLPrior(0, 10) = %g", kl)
	}
	// One-hot: ‖u‖² = 1 adds ᾱ_0/2.
	if d := s.KLPrior(1, 10) - s.KLPrior(0, 10); math.Abs(d-0.5*s.AlphaBar[0]) > 1e-15 {
		t.Errorf("KL slope %g, want %g", d, 0.5*s.AlphaBar[0])
	}
}
