package nn

import (
	"math"
	"strings"
	"testing"
)

// Perturb adds its direction to the tangent and is the identity otherwise.
func TestPerturb(t *testing.T) {
	rng := NewRNG(31)
	x := randMatrix(rng, 3, 4, 1)
	dx := randMatrix(rng, 3, 4, 1)
	u := randMatrix(rng, 3, 4, 1)
	p := &Perturb{}
	if y, dy := p.ForwardTangent(x, dx, true); &y.Data[0] != &x.Data[0] || &dy.Data[0] != &dx.Data[0] {
		t.Error("without a perturbation the input and its tangent are not passed on")
	}
	if _, dy := p.ForwardTangent(x, Matrix{}, true); len(dy.Data) != 0 {
		t.Error("no tangent and no perturbation give a tangent")
	}
	p.U = u
	y, dy := p.ForwardTangent(x, dx, true)
	if &y.Data[0] != &x.Data[0] {
		t.Error("the output is not the input")
	}
	for k := range dy.Data {
		if want := dx.Data[k] + u.Data[k]; dy.Data[k] != want {
			t.Fatalf("tangent[%d] = %g, want ẋ + U = %g", k, dy.Data[k], want)
		}
	}
	_, dy = p.ForwardTangent(x, Matrix{}, true)
	if &dy.Data[0] == &u.Data[0] || imgMaxDiff(dy.Data, u.Data) != 0 {
		t.Error("with no input tangent the tangent is not a copy of U")
	}
	if g := p.Backward(dx); &g.Data[0] != &dx.Data[0] {
		t.Error("Backward does not pass the gradient through")
	}
	if tw := Share(p).(*Perturb); len(tw.U.Data) != 0 {
		t.Error("the twin carries the perturbation")
	}
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "perturbation is 3×4") {
			t.Errorf("shape mismatch: panic %v", r)
		}
	}()
	p.ForwardTangent(x.Slice(0, 2), Matrix{}, true)
}

// A Perturb between two layers gives the directional derivative of the
// network along z + s·U, z the first layer's output: the tangent equals
// the central difference of f(s) = B(A(x) + s·U).
func TestPerturbDirectionalDerivative(t *testing.T) {
	rng := NewRNG(32)
	a := NewLinear(5, 4, InitPyTorch, rng)
	b := &Sequential{Layers: []Layer{&Tanh{}, NewLinear(4, 3, InitPyTorch, rng)}}
	x := randMatrix(rng, 2, 5, 1)
	u := randMatrix(rng, 2, 4, 1)
	net := &Sequential{Layers: []Layer{a, &Perturb{U: u}, b}}
	_, dy := net.ForwardTangent(x, Matrix{}, false)
	dy = clone(dy)
	f := func(s float64) Matrix {
		z := clone(a.Forward(x, false))
		for k := range z.Data {
			z.Data[k] += float32(s) * u.Data[k]
		}
		return clone(b.Forward(z, false))
	}
	const h = 1e-2
	yp, ym := f(h), f(-h)
	for k := range dy.Data {
		num := (float64(yp.Data[k]) - float64(ym.Data[k])) / (2 * h)
		if math.Abs(num-float64(dy.Data[k])) > 1e-3 {
			t.Errorf("tangent[%d] = %g, central difference %g", k, dy.Data[k], num)
		}
	}
}

// RowTangents are each row's own loss's directional derivative (a central
// difference of that row's loss alone), and their mean is ForwardTangent's.
func TestSoftmaxCrossEntropyRowTangents(t *testing.T) {
	rng := NewRNG(33)
	logits := randMatrix(rng, 4, 6, 3)
	v := randMatrix(rng, 4, 6, 1)
	labels := []int{0, 2, 5, 2}
	active := []int{0, 2, 3, 5}
	var l SoftmaxCrossEntropy
	_, d := l.ForwardTangent(logits, v, labels, active)
	rows := l.RowTangents(v, nil)
	mean := 0.0
	for _, r := range rows {
		mean += r / 4
	}
	if math.Abs(mean-d) > 1e-12 {
		t.Errorf("mean of the rows' tangents %g, ForwardTangent's %g", mean, d)
	}
	const h = 1e-3
	var one SoftmaxCrossEntropy
	for i := range logits.Rows {
		row := func(s float64) float64 {
			z := clone(logits.Slice(i, i+1))
			for j := range z.Data {
				z.Data[j] += float32(s) * v.Row(i)[j]
			}
			return one.Forward(z, labels[i:i+1], active)
		}
		if num := (row(h) - row(-h)) / (2 * h); math.Abs(num-rows[i]) > 1e-3 {
			t.Errorf("row %d: L̇ = %g, central difference of its loss %g", i, rows[i], num)
		}
	}
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "tangent is 3×6") {
			t.Errorf("shape mismatch: panic %v", r)
		}
	}()
	l.RowTangents(v.Slice(0, 3), nil)
}
