package results

import (
	"math"
	"testing"
)

// TestWelch checks Welch's test against values worked out by hand, the
// p-values by integrating Student's t density numerically.
func TestWelch(t *testing.T) {
	near := func(got, want, tol float64) bool {
		return math.IsNaN(got) && math.IsNaN(want) || math.Abs(got-want) <= tol
	}
	tests := []struct {
		name          string
		a, b          []float64
		delta, se, df float64
		p             float64
	}{
		// a = 1..5, b = 3..7: means 3 and 5, SE √0.5 each; t = −2/1 = −2 on
		// 8 degrees of freedom: p = 0.08052.
		{"shifted by 2", []float64{1, 2, 3, 4, 5}, []float64{3, 4, 5, 6, 7}, -2, 1, 8, 0.0805162},
		// Unequal spreads and sizes: SE² = 20/3/4 + 0.875/6 = 1.8125, df =
		// 1.8125² / ((5/3)²/3 + (0.875/6)²/5) = 3.5317, t = 2.7854.
		{"unequal", []float64{10, 12, 14, 16}, []float64{8, 8.5, 9, 9.5, 10, 10.5}, 3.75, 1.3462912, 3.5317448, 0.0570396},
		{"one seed", []float64{1}, []float64{2, 3}, -1.5, math.NaN(), math.NaN(), math.NaN()},
		{"no spread, equal", []float64{4, 4}, []float64{4, 4, 4}, 0, 0, math.NaN(), 1},
		{"a side without values", []float64{math.NaN()}, []float64{5, 5}, math.NaN(), math.NaN(), math.NaN(), math.NaN()},
		{"no spread, apart", []float64{4, 4}, []float64{5, 5}, -1, 0, math.NaN(), 0},
	}
	for _, tc := range tests {
		d := Welch(NewStat(tc.a, nil), NewStat(tc.b, nil))
		if !near(d.Delta, tc.delta, 1e-12) || !near(d.SE, tc.se, 1e-4) || !near(d.DF, tc.df, 1e-4) || !near(d.P, tc.p, 1e-4) {
			t.Errorf("%s: %+v, want Δ %v, SE %v, df %v, p %v", tc.name, d, tc.delta, tc.se, tc.df, tc.p)
		}
	}
}
