package nn

import (
	"math"
	"testing"
)

// checkLayerGrad compares a layer's analytic gradients (input and every
// parameter) with central finite differences of the scalar loss
// L = sum(w ⊙ Forward(x)) for fixed random weights w. Layers that draw random
// numbers in training mode (dropout) must draw the same ones for every call;
// pass train=false for them or fix their mask.
//
// Differences are taken in float64 on float32 values, so the tolerance is
// relative: |analytic - numeric| <= tol * max(1, |analytic|, |numeric|).
func checkLayerGrad(t *testing.T, l Layer, x Matrix, train bool, tol float64) {
	t.Helper()
	y := l.Forward(x, train)
	rng := NewRNG(99)
	w := NewMatrix(y.Rows, y.Cols)
	rng.FillUniform(w.Data, 1)
	loss := func() float64 {
		out := l.Forward(x, train)
		s := 0.0
		for i, v := range out.Data {
			s += float64(v) * float64(w.Data[i])
		}
		return s
	}
	for _, p := range l.Params() {
		clear(p.Grad)
	}
	l.Forward(x, train)
	dx := l.Backward(w)
	dxCopy := append([]float32(nil), dx.Data...)
	const h = 1e-2
	check := func(name string, vals []float32, analytic []float32) {
		t.Helper()
		// Probe at most 40 entries spread over the tensor.
		step := max(1, len(vals)/40)
		for i := 0; i < len(vals); i += step {
			old := vals[i]
			vals[i] = old + h
			lp := loss()
			vals[i] = old - h
			lm := loss()
			vals[i] = old
			num := (lp - lm) / (2 * h)
			a := float64(analytic[i])
			if d := math.Abs(a - num); d > tol*math.Max(1, math.Max(math.Abs(a), math.Abs(num))) {
				t.Errorf("%s[%d]: analytic %.6g, numeric %.6g", name, i, a, num)
			}
		}
	}
	check("input", x.Data, dxCopy)
	for _, p := range l.Params() {
		check(p.Name, p.Value, p.Grad)
	}
}

// clone returns a copy of m that owns its data.
func clone(m Matrix) Matrix {
	return Matrix{Rows: m.Rows, Cols: m.Cols, Data: append([]float32(nil), m.Data...)}
}
