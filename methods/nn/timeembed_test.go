package nn

import (
	"math"
	"strings"
	"testing"
)

// The embedding is DDPM's sinusoidal one: sines then cosines of
// Scale·t·MaxPeriod^(−k/h), with the defaults 1000 and 10000.
func TestTimeEmbeddingValues(t *testing.T) {
	ts := []float32{0, 0.001, 0.123, 0.5, 1}
	x := Matrix{Rows: len(ts), Cols: 1, Data: ts}
	for _, tc := range []struct {
		e             *TimeEmbedding
		scale, period float64
	}{
		{NewTimeEmbedding(64), 1000, 10000},
		{&TimeEmbedding{Dim: 6, Scale: 2, MaxPeriod: 100}, 2, 100},
	} {
		y := tc.e.Forward(x, true)
		h := tc.e.Dim / 2
		if y.Rows != len(ts) || y.Cols != tc.e.Dim {
			t.Fatalf("output %d×%d", y.Rows, y.Cols)
		}
		for i, tv := range ts {
			for k := range h {
				a := tc.scale * float64(tv) * math.Pow(tc.period, -float64(k)/float64(h))
				if d := math.Abs(float64(y.Row(i)[k]) - math.Sin(a)); d > 1e-6 {
					t.Errorf("dim %d t %g: y[%d] = %g, want sin %g", tc.e.Dim, tv, k, y.Row(i)[k], math.Sin(a))
				}
				if d := math.Abs(float64(y.Row(i)[h+k]) - math.Cos(a)); d > 1e-6 {
					t.Errorf("dim %d t %g: y[%d] = %g, want cos %g", tc.e.Dim, tv, h+k, y.Row(i)[h+k], math.Cos(a))
				}
			}
		}
	}
	// The tangent at the default scale, against the derivative in float64.
	e := NewTimeEmbedding(8)
	dt := Matrix{Rows: len(ts), Cols: 1, Data: []float32{1, -2, 0.5, 3, 1}}
	_, dy := e.ForwardTangent(x, dt, true)
	for i, tv := range ts {
		for k := range 4 {
			w := math.Pow(10000, -float64(k)/4)
			a := 1000 * float64(tv) * w
			if d := math.Abs(float64(dy.Row(i)[k]) - 1000*w*math.Cos(a)*float64(dt.Data[i])); d > 1e-3 {
				t.Errorf("t %g: tangent[%d] = %g", tv, k, dy.Row(i)[k])
			}
			if d := math.Abs(float64(dy.Row(i)[4+k]) + 1000*w*math.Sin(a)*float64(dt.Data[i])); d > 1e-3 {
				t.Errorf("t %g: tangent[%d] = %g", tv, 4+k, dy.Row(i)[4+k])
			}
		}
	}
}

func TestTimeEmbeddingErrors(t *testing.T) {
	for _, tc := range []struct {
		name, want string
		f          func()
	}{
		{"odd dimension", "even", func() { NewTimeEmbedding(5) }},
		{"zero dimension", "even", func() { (&TimeEmbedding{}).Forward(NewMatrix(2, 1), true) }},
		{"two columns", "1 (t)", func() { NewTimeEmbedding(4).Forward(NewMatrix(2, 2), true) }},
	} {
		func() {
			defer func() {
				r := recover()
				if r == nil || !strings.Contains(r.(string), tc.want) {
					t.Errorf("%s: panic %v, want one mentioning %q", tc.name, r, tc.want)
				}
			}()
			tc.f()
		}()
	}
}
