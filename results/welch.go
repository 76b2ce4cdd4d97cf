package results

import (
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// A Difference is the difference of one metric's means between two
// configurations, each run over its own seeds, with Welch's t-test of
// equal means (the seeds of two rules draw different initialisations and
// minibatch orders, so they are not paired).
type Difference struct {
	// Delta is a's mean minus b's, and SE its standard error,
	// sqrt(SE_a² + SE_b²); SE is NaN when either side has fewer than two
	// seeds.
	Delta, SE float64
	// DF is the Welch–Satterthwaite degrees of freedom and P the two-sided
	// p-value of Welch's t-test; both NaN when SE is. Two sides without
	// spread have P 1 when their means are equal and 0 otherwise (DF NaN).
	DF, P float64
}

// Welch returns the difference of a's and b's means with Welch's t-test,
// from their means, standard errors and numbers of seeds alone; Delta is
// NaN when either side has no defined value.
func Welch(a, b Stat) Difference {
	d := Difference{Delta: a.Mean - b.Mean, SE: math.NaN(), DF: math.NaN(), P: math.NaN()}
	if a.N == 0 || b.N == 0 {
		d.Delta = math.NaN() // a side without the metric
		return d
	}
	if a.N < 2 || b.N < 2 || !isFinite(a.SE) || !isFinite(b.SE) || !isFinite(d.Delta) {
		return d
	}
	va, vb := a.SE*a.SE, b.SE*b.SE // the variances of the two means
	d.SE = math.Sqrt(va + vb)
	if d.SE == 0 {
		d.P = 0
		if d.Delta == 0 {
			d.P = 1
		}
		return d
	}
	d.DF = (va + vb) * (va + vb) / (va*va/float64(a.N-1) + vb*vb/float64(b.N-1))
	t := math.Abs(d.Delta) / d.SE
	d.P = 2 * distuv.StudentsT{Mu: 0, Sigma: 1, Nu: d.DF}.Survival(t)
	return d
}
