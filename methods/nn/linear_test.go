package nn

import (
	"math"
	"runtime"
	"testing"
)

func randMatrix(rng *RNG, rows, cols int, limit float32) Matrix {
	m := NewMatrix(rows, cols)
	rng.FillUniform(m.Data, limit)
	return m
}

func TestLinearGrad(t *testing.T) {
	for _, tc := range []struct{ batch, in, out int }{
		{1, 1, 1}, {1, 5, 3}, {3, 7, 5}, {13, 17, 11}, {8, 64, 33},
	} {
		rng := NewRNG(uint64(tc.batch*1000 + tc.in*10 + tc.out))
		l := NewLinear(tc.in, tc.out, InitPyTorch, rng)
		x := randMatrix(rng, tc.batch, tc.in, 1)
		checkLayerGrad(t, l, x, true, 1e-2)
	}
}

// TestLinearMatchesNaive compares Forward/Backward with plain loops, over
// varying batch sizes on one layer (buffers growing and shrinking).
func TestLinearMatchesNaive(t *testing.T) {
	rng := NewRNG(1)
	in, out := 37, 23
	l := NewLinear(in, out, InitPyTorch, rng)
	for _, batch := range []int{5, 130, 1, 64, 0, 7} {
		x := randMatrix(rng, batch, in, 1)
		dy := randMatrix(rng, batch, out, 1)
		y := l.Forward(x, true)
		if y.Rows != batch || y.Cols != out {
			t.Fatalf("batch %d: output %d×%d", batch, y.Rows, y.Cols)
		}
		for i := range batch {
			for j := range out {
				s := float64(l.B.Value[j])
				for k := range in {
					s += float64(x.Data[i*in+k]) * float64(l.W.Value[k*out+j])
				}
				if d := math.Abs(float64(y.Data[i*out+j]) - s); d > 1e-4 {
					t.Fatalf("batch %d: y[%d,%d] = %g, want %g", batch, i, j, y.Data[i*out+j], s)
				}
			}
		}
		// Pre-existing gradients must be added to, not overwritten.
		for _, p := range l.Params() {
			for i := range p.Grad {
				p.Grad[i] = 0.5
			}
		}
		dx := l.Backward(dy)
		if dx.Rows != batch || dx.Cols != in {
			t.Fatalf("batch %d: dx %d×%d", batch, dx.Rows, dx.Cols)
		}
		for k := range in {
			for j := range out {
				s := 0.5
				for i := range batch {
					s += float64(x.Data[i*in+k]) * float64(dy.Data[i*out+j])
				}
				if d := math.Abs(float64(l.W.Grad[k*out+j]) - s); d > 1e-4 {
					t.Fatalf("batch %d: dW[%d,%d] = %g, want %g", batch, k, j, l.W.Grad[k*out+j], s)
				}
			}
		}
		for j := range out {
			s := 0.5
			for i := range batch {
				s += float64(dy.Data[i*out+j])
			}
			if d := math.Abs(float64(l.B.Grad[j]) - s); d > 1e-4 {
				t.Fatalf("batch %d: db[%d] = %g, want %g", batch, j, l.B.Grad[j], s)
			}
		}
		for i := range batch {
			for k := range in {
				s := 0.0
				for j := range out {
					s += float64(dy.Data[i*out+j]) * float64(l.W.Value[k*out+j])
				}
				if d := math.Abs(float64(dx.Data[i*in+k]) - s); d > 1e-4 {
					t.Fatalf("batch %d: dx[%d,%d] = %g, want %g", batch, i, k, dx.Data[i*in+k], s)
				}
			}
		}
	}
}

// TestLinearBigParallel exercises the split bias and column-sum passes.
func TestLinearBigParallel(t *testing.T) {
	rng := NewRNG(2)
	l := NewLinear(20, 700, InitPyTorch, rng)
	x := randMatrix(rng, 200, 20, 1)
	dy := randMatrix(rng, 200, 700, 1)
	y := l.Forward(x, true)
	l.Backward(dy)
	for _, j := range []int{0, 349, 350, 699} {
		for _, i := range []int{0, 99, 100, 199} {
			s := float64(l.B.Value[j])
			for k := range 20 {
				s += float64(x.Data[i*20+k]) * float64(l.W.Value[k*700+j])
			}
			if d := math.Abs(float64(y.Data[i*700+j]) - s); d > 1e-4 {
				t.Errorf("y[%d,%d] = %g, want %g", i, j, y.Data[i*700+j], s)
			}
		}
		s := 0.0
		for i := range 200 {
			s += float64(dy.Data[i*700+j])
		}
		if d := math.Abs(float64(l.B.Grad[j]) - s); d > 1e-3 {
			t.Errorf("db[%d] = %g, want %g", j, l.B.Grad[j], s)
		}
	}
}

func TestLinearNoInputGrad(t *testing.T) {
	rng := NewRNG(3)
	a := NewLinear(9, 4, InitPyTorch, NewRNG(7))
	b := NewLinear(9, 4, InitPyTorch, NewRNG(7))
	b.NoInputGrad = true
	x := randMatrix(rng, 6, 9, 1)
	dy := randMatrix(rng, 6, 4, 1)
	a.Forward(x, true)
	b.Forward(x, true)
	a.Backward(dy)
	if dx := b.Backward(dy); dx.Rows != 0 || dx.Data != nil {
		t.Fatalf("NoInputGrad: got a %d×%d dx", dx.Rows, dx.Cols)
	}
	for i, p := range a.Params() {
		q := b.Params()[i]
		for k := range p.Grad {
			if p.Grad[k] != q.Grad[k] {
				t.Fatalf("%s[%d]: %g vs %g", p.Name, k, p.Grad[k], q.Grad[k])
			}
		}
	}
}

// TestLinearNoAllocs checks that a warmed-up Linear allocates nothing, also
// when the batch shrinks. It runs on one P with shapes below gonum's parallel
// threshold (fewer than 4 64×64 blocks): with more cores, gonum's native
// Sgemm spawns goroutines, which allocate closures (a few small objects per
// call, independent of the tensor sizes).
func TestLinearNoAllocs(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	rng := NewRNG(4)
	l := NewLinear(100, 60, InitPyTorch, rng)
	r := &ReLU{}
	x := randMatrix(rng, 32, 100, 1)
	dy := randMatrix(rng, 32, 60, 1)
	small, dySmall := x.Slice(0, 9), dy.Slice(0, 9)
	step := func() {
		r.Forward(l.Forward(x, true), true)
		l.Backward(r.Backward(dy))
		r.Forward(l.Forward(small, true), true)
		l.Backward(r.Backward(dySmall))
	}
	step()
	if n := testing.AllocsPerRun(20, step); n != 0 {
		t.Errorf("Linear+ReLU step: %v allocations, want 0", n)
	}
}
