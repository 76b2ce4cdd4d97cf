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
	checkLayerGradStep(t, l, x, train, 1e-2, tol)
}

// checkLayerGradStep is checkLayerGrad with the finite-difference step h.
func checkLayerGradStep(t *testing.T, l Layer, x Matrix, train bool, h, tol float64) {
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
	check := func(name string, vals []float32, analytic []float32) {
		t.Helper()
		// Probe at most 40 entries spread over the tensor.
		step := max(1, len(vals)/40)
		for i := 0; i < len(vals); i += step {
			old := vals[i]
			vals[i] = old + float32(h)
			lp := loss()
			vals[i] = old - float32(h)
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

// dot64 is ⟨a, b⟩ in float64.
func dot64(a, b []float32) float64 {
	s := 0.0
	for i, v := range a {
		s += float64(v) * float64(b[i])
	}
	return s
}

// checkLayerTangent checks l's forward mode (TangentLayer) at x along random
// directions: the input alone, the parameters alone and both. For each it
// compares the tangent with the central difference
// (f(x+hv, θ+hθ̇) − f(x−hv, θ−hθ̇))/2h of Forward, element by element with
// the relative tolerance tol (as checkLayerGrad), and with Backward through
// the adjoint identity ⟨w, ẏ⟩ = ⟨Backward(w), ẋ⟩ + Σ_θ ⟨∂θ, θ̇⟩, which holds
// to rounding. It also checks that the output is Forward's and that a zero
// direction gives an empty tangent. Layers that draw random numbers must
// draw the same ones on every call (see freezeDropout).
func checkLayerTangent(t *testing.T, l Layer, x Matrix, train bool, h, tol float64) {
	t.Helper()
	rng := NewRNG(77)
	ps := l.Params()
	defer func() {
		for _, p := range ps {
			p.Tangent = nil
		}
	}()
	y0 := clone(l.Forward(x, train))
	y, dy := ForwardTangent(l, x, Matrix{}, train)
	if d := imgMaxDiff(y.Data, y0.Data); d != 0 || y.Rows != y0.Rows || y.Cols != y0.Cols {
		t.Fatalf("ForwardTangent's output differs from Forward's by %g", d)
	}
	if len(dy.Data) != 0 {
		t.Errorf("zero direction: tangent of %d values, want none", len(dy.Data))
	}
	x0 := clone(x)
	theta0 := make([][]float32, len(ps))
	for i, p := range ps {
		theta0[i] = append([]float32(nil), p.Value...)
	}
	// set moves x and θ to x0 + s·v and θ0 + s·θ̇.
	set := func(v Matrix, s float64) {
		for k := range x.Data {
			x.Data[k] = x0.Data[k]
			if len(v.Data) > 0 {
				x.Data[k] = float32(float64(x0.Data[k]) + s*float64(v.Data[k]))
			}
		}
		for i, p := range ps {
			for k := range p.Value {
				p.Value[k] = theta0[i][k]
				if p.Tangent != nil {
					p.Value[k] = float32(float64(theta0[i][k]) + s*float64(p.Tangent[k]))
				}
			}
		}
	}
	for _, mode := range []struct {
		name          string
		input, params bool
	}{{"input", true, false}, {"params", false, true}, {"both", true, true}} {
		if mode.params && len(ps) == 0 {
			continue
		}
		var v Matrix
		if mode.input {
			v = randMatrix(rng, x.Rows, x.Cols, 1)
		}
		for _, p := range ps {
			p.Tangent = nil
			if mode.params {
				p.Tangent = make([]float32, len(p.Value))
				rng.FillUniform(p.Tangent, 1)
			}
		}
		y, dy := ForwardTangent(l, x, v, train)
		if d := imgMaxDiff(y.Data, y0.Data); d != 0 {
			t.Fatalf("%s: ForwardTangent's output differs from Forward's by %g", mode.name, d)
		}
		if dy.Rows != y0.Rows || dy.Cols != y0.Cols {
			t.Fatalf("%s: tangent is %d×%d, output %d×%d", mode.name, dy.Rows, dy.Cols, y0.Rows, y0.Cols)
		}
		dy = clone(dy)
		set(v, h)
		fp := clone(l.Forward(x, train))
		set(v, -h)
		fm := clone(l.Forward(x, train))
		set(v, 0)
		bad := 0
		for k, a := range dy.Data {
			num := (float64(fp.Data[k]) - float64(fm.Data[k])) / (2 * h)
			if d := math.Abs(float64(a) - num); !(d <= tol*math.Max(1, math.Max(math.Abs(float64(a)), math.Abs(num)))) {
				if bad++; bad <= 5 {
					t.Errorf("%s: tangent[%d] = %.6g, central difference %.6g", mode.name, k, a, num)
				}
			}
		}
		// The adjoint identity against Backward.
		w := randMatrix(rng, y0.Rows, y0.Cols, 1)
		for _, p := range ps {
			clear(p.Grad)
		}
		l.Forward(x, train)
		gx := l.Backward(w)
		lhs := dot64(w.Data, dy.Data)
		rhs, scale := 0.0, 0.0
		for k, a := range dy.Data {
			scale += math.Abs(float64(w.Data[k]) * float64(a))
		}
		if mode.input {
			rhs += dot64(gx.Data, v.Data)
		}
		for _, p := range ps {
			if p.Tangent != nil {
				rhs += dot64(p.Grad, p.Tangent)
			}
		}
		if d := math.Abs(lhs - rhs); !(d <= 1e-4*math.Max(1, scale)) {
			t.Errorf("%s: ⟨w, ẏ⟩ = %.8g but ⟨Backward(w), ẋ⟩ + Σ⟨∂θ, θ̇⟩ = %.8g", mode.name, lhs, rhs)
		}
		for _, p := range ps {
			clear(p.Grad)
		}
	}
}

// freezeDropout runs one Forward of l on x and fixes the masks of the
// dropout layers inside, so that finite differences see one function.
func freezeDropout(l Layer, x Matrix, train bool) {
	l.Forward(x, train)
	var walk func(l Layer)
	walk = func(l Layer) {
		switch l := l.(type) {
		case *Dropout:
			l.freezeMask(true)
		case *Sequential:
			for _, c := range l.Layers {
				walk(c)
			}
		case *Residual:
			walk(l.Inner)
		case *concatLayer:
			walk(l.c.A)
			walk(l.c.B)
		}
	}
	walk(l)
}
