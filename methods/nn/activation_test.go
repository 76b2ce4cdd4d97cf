package nn

import (
	"math"
	"testing"
)

// awayFromZero returns inputs with |x| in [0.05, 2], so the ReLU kink is
// farther than the finite-difference step.
func awayFromZero(rng *RNG, rows, cols int) Matrix {
	m := NewMatrix(rows, cols)
	for i := range m.Data {
		v := 0.05 + 1.95*rng.Float32()
		if rng.IntN(2) == 0 {
			v = -v
		}
		m.Data[i] = v
	}
	return m
}

func TestActivationGrad(t *testing.T) {
	for _, name := range []string{"relu", "tanh", "sigmoid"} {
		t.Run(name, func(t *testing.T) {
			l, err := NewActivation(name)
			if err != nil {
				t.Fatal(err)
			}
			rng := NewRNG(5)
			checkLayerGrad(t, l, awayFromZero(rng, 7, 13), true, 1e-2)
			checkLayerGrad(t, l, awayFromZero(rng, 1, 1), true, 1e-2)
		})
	}
	if _, err := NewActivation("gelu"); err == nil {
		t.Error("NewActivation(gelu): no error")
	}
}

func TestActivationValues(t *testing.T) {
	x := Matrix{Rows: 1, Cols: 7, Data: []float32{-3, -1, float32(math.Copysign(0, -1)), 0, 0.5, 2, -100}}
	want := map[string]func(float64) float64{
		"relu":    func(v float64) float64 { return math.Max(v, 0) },
		"tanh":    math.Tanh,
		"sigmoid": func(v float64) float64 { return 1 / (1 + math.Exp(-v)) },
	}
	for name, f := range want {
		l, _ := NewActivation(name)
		y := l.Forward(x, true)
		for i, v := range x.Data {
			if d := math.Abs(float64(y.Data[i]) - f(float64(v))); d > 1e-6 {
				t.Errorf("%s(%g) = %g, want %g", name, v, y.Data[i], f(float64(v)))
			}
		}
	}
	r := &ReLU{}
	y := r.Forward(x, true)
	if math.Signbit(float64(y.Data[2])) {
		t.Error("relu(-0) is -0, want +0")
	}
	dx := r.Backward(Matrix{Rows: 1, Cols: 7, Data: []float32{1, 1, 1, 1, 1, 1, 1}})
	for i, w := range []float32{0, 0, 0, 0, 1, 1, 0} {
		if dx.Data[i] != w {
			t.Errorf("relu'(%g) = %g, want %g", x.Data[i], dx.Data[i], w)
		}
	}
}

// TestActivationInPlace checks that in-place layers give the same outputs
// and gradients, and that large matrices (split over cores) match small ones.
func TestActivationInPlace(t *testing.T) {
	rng := NewRNG(6)
	x := randMatrix(rng, 300, 500, 3)
	dy := randMatrix(rng, 300, 500, 1)
	pairs := [][2]Layer{
		{&ReLU{}, &ReLU{InPlace: true}},
		{&Tanh{}, &Tanh{InPlace: true}},
		{&Sigmoid{}, &Sigmoid{InPlace: true}},
	}
	for _, p := range pairs {
		y := p[0].Forward(x, true)
		dx := p[0].Backward(dy)
		x2 := Matrix{Rows: x.Rows, Cols: x.Cols, Data: append([]float32(nil), x.Data...)}
		dy2 := Matrix{Rows: dy.Rows, Cols: dy.Cols, Data: append([]float32(nil), dy.Data...)}
		y2 := p[1].Forward(x2, true)
		if &y2.Data[0] != &x2.Data[0] {
			t.Errorf("%T: in-place Forward did not reuse the input", p[1])
		}
		dx2 := p[1].Backward(dy2)
		if &dx2.Data[0] != &dy2.Data[0] {
			t.Errorf("%T: in-place Backward did not reuse dy", p[1])
		}
		for i := range y.Data {
			if y.Data[i] != y2.Data[i] || dx.Data[i] != dx2.Data[i] {
				t.Fatalf("%T: element %d differs in place", p[1], i)
			}
		}
		// Row 0 alone (serial path) must give the same values.
		y3 := p[0].Forward(x.Slice(0, 1), true)
		for j := range y3.Data {
			if y3.Data[j] != y.Data[j] {
				t.Fatalf("%T: serial and split results differ at %d", p[0], j)
			}
		}
	}
}

// TestTanh32 compares tanh32 with math.Tanh rounded to float32, over a grid
// dense near 0 (the series) and across the exponential branch.
func TestTanh32(t *testing.T) {
	bad := 0
	check := func(v float32) {
		want := float32(math.Tanh(float64(v)))
		if got := tanh32(v); got != want {
			// Allow one ulp: the float64 result can sit on a rounding edge.
			if math.Abs(float64(got-want)) > float64(math.Nextafter32(want, float32(math.Inf(1)))-want)*1.01+1e-45 {
				t.Errorf("tanh32(%g) = %g, want %g", v, got, want)
			}
			bad++
		}
	}
	for i := -100000; i <= 100000; i++ {
		check(float32(i) * 1e-4)
		check(float32(i) * 1e-9)
	}
	for _, v := range []float32{1e-30, -1e-38, 100, -100, 3e38, float32(math.Inf(1)), float32(math.Inf(-1))} {
		check(v)
	}
	if bad > 20 {
		t.Errorf("%d values off by one ulp", bad)
	}
}
