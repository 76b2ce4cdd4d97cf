package nn

import (
	"math"
	"strings"
	"testing"
)

func TestConcat2Forward(t *testing.T) {
	rng := NewRNG(1)
	a, b := NewLinear(3, 2, InitPyTorch, rng), &Tanh{}
	c := &Concat2{A: a, B: b}
	xa, xb := randMatrix(rng, 4, 3, 1), randMatrix(rng, 4, 5, 1)
	y := c.Forward(xa, xb, true)
	ya := clone(a.Forward(xa, true))
	yb := clone(b.Forward(xb, true))
	if y.Rows != 4 || y.Cols != 7 {
		t.Fatalf("output %d×%d, want 4×7", y.Rows, y.Cols)
	}
	for i := range 4 {
		for j := range 7 {
			want := yb.Row(i)[max(j-2, 0)]
			if j < 2 {
				want = ya.Row(i)[j]
			}
			if y.Row(i)[j] != want {
				t.Fatalf("y[%d][%d] = %g, want %g", i, j, y.Row(i)[j], want)
			}
		}
	}
	if n := len(c.Params()); n != 2 {
		t.Errorf("%d parameters, want A's 2", n)
	}
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "rows") {
			t.Errorf("branches of different batch sizes: panic %v", r)
		}
	}()
	c.Forward(xa, xb.Slice(0, 3), true)
}

func TestResidualForward(t *testing.T) {
	x := randMatrix(NewRNG(2), 3, 4, 2)
	r := &Residual{Inner: &Tanh{}}
	y := r.Forward(x, true)
	for k, v := range x.Data {
		if want := tanh32(v) + v; y.Data[k] != want {
			t.Fatalf("y[%d] = %g, want tanh(x)+x = %g", k, y.Data[k], want)
		}
	}
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "inner maps") {
			t.Errorf("width-changing inner layer: panic %v", r)
		}
	}()
	(&Residual{Inner: NewLinear(4, 3, InitPyTorch, NewRNG(3))}).Forward(x, true)
}

// SoftmaxMix: û = softmax(masked logits)·W; masked outputs have
// probability 0 whatever their logits (even +Inf), no gradient, and the
// gradient with respect to W is added into the caller's buffer.
func TestSoftmaxMix(t *testing.T) {
	rng := NewRNG(4)
	const n, m, d = 5, 4, 3
	w := NewParam("w", false, m, d)
	rng.FillUniform(w.Value, 1)
	logits := randMatrix(rng, n, m, 3)
	mask := []bool{true, false, true, true}
	logits.Data[1] = float32(math.Inf(1)) // a masked output
	for _, identity := range []bool{false, true} {
		o := &SoftmaxMix{W: w, Identity: identity}
		u := clone(o.Forward(logits, mask))
		p := o.Probs()
		for i := range n {
			z := logits.Row(i)
			lse := refLogSumExp(z, mask)
			for j, on := range mask {
				want := 0.0
				if on {
					want = math.Exp(float64(z[j]) - lse)
				}
				if math.Abs(float64(p.Row(i)[j])-want) > 1e-6 {
					t.Fatalf("identity %v: p[%d][%d] = %g, want %g", identity, i, j, p.Row(i)[j], want)
				}
			}
			if identity {
				if u.Cols != m || imgMaxDiff(u.Row(i), p.Row(i)) != 0 {
					t.Fatalf("identity: û is not the softmax")
				}
				continue
			}
			for k := range d {
				want := 0.0
				for j := range m {
					want += float64(p.Row(i)[j]) * float64(w.Value[j*d+k])
				}
				if math.Abs(float64(u.Row(i)[k])-want) > 1e-6 {
					t.Fatalf("û[%d][%d] = %g, want %g", i, k, u.Row(i)[k], want)
				}
			}
		}
		du := randMatrix(rng, u.Rows, u.Cols, 1)
		wg := make([]float32, m*d)
		for k := range wg {
			wg[k] = 0.5
		}
		dl := o.Backward(du, wg)
		for i := range n {
			if dl.Row(i)[1] != 0 {
				t.Errorf("identity %v: masked output has gradient %g", identity, dl.Row(i)[1])
			}
		}
		for j := range m {
			for k := range d {
				want := 0.5
				if !identity {
					for i := range n {
						want += float64(p.Row(i)[j]) * float64(du.Row(i)[k])
					}
				}
				if math.Abs(float64(wg[j*d+k])-want) > 1e-5 {
					t.Fatalf("identity %v: W gradient [%d][%d] = %g, want %g", identity, j, k, wg[j*d+k], want)
				}
			}
		}
	}
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "mask") {
			t.Errorf("short mask: panic %v", r)
		}
	}()
	(&SoftmaxMix{W: w}).Forward(logits, mask[:3])
}

// concatLayer is a Concat2 as a Layer for the checks: its input holds xa's
// columns, then xb's; or, when fixedB is set, xa's alone, B seeing fixedB
// (with an empty input tangent).
type concatLayer struct {
	c        *Concat2
	na       int
	fixedB   Matrix
	xa, xb   Matrix
	tax, tbx Matrix
	dx       Matrix
}

func (l *concatLayer) split(a, b *Matrix, x Matrix) {
	if l.fixedB.Rows > 0 {
		*a, *b = x, l.fixedB
		return
	}
	*a = Resize(*a, x.Rows, l.na)
	*b = Resize(*b, x.Rows, x.Cols-l.na)
	for i := range x.Rows {
		copy(a.Row(i), x.Row(i)[:l.na])
		copy(b.Row(i), x.Row(i)[l.na:])
	}
}

func (l *concatLayer) Forward(x Matrix, train bool) Matrix {
	l.split(&l.xa, &l.xb, x)
	return l.c.Forward(l.xa, l.xb, train)
}

func (l *concatLayer) Backward(dy Matrix) Matrix {
	da, db := l.c.Backward(dy)
	if l.fixedB.Rows > 0 {
		return da
	}
	l.dx = Resize(l.dx, dy.Rows, da.Cols+db.Cols)
	for i := range dy.Rows {
		copy(l.dx.Row(i)[:da.Cols], da.Row(i))
		copy(l.dx.Row(i)[da.Cols:], db.Row(i))
	}
	return l.dx
}

func (l *concatLayer) ForwardTangent(x, dx Matrix, train bool) (Matrix, Matrix) {
	l.split(&l.xa, &l.xb, x)
	if len(dx.Data) == 0 {
		return l.c.ForwardTangent(l.xa, Matrix{}, l.xb, Matrix{}, train)
	}
	l.split(&l.tax, &l.tbx, dx)
	if l.fixedB.Rows > 0 {
		l.tbx = Matrix{}
	}
	return l.c.ForwardTangent(l.xa, l.tax, l.xb, l.tbx, train)
}

func (l *concatLayer) Params() []*Param { return l.c.Params() }

func (l *concatLayer) Share() Layer {
	return &concatLayer{c: l.c.Share(), na: l.na, fixedB: l.fixedB}
}

// mixLayer is a SoftmaxMix with a fixed mask as a Layer for the checks; its
// Backward adds the gradient of W into W.Grad.
type mixLayer struct {
	o    *SoftmaxMix
	mask []bool
}

func (l *mixLayer) Forward(x Matrix, train bool) Matrix { return l.o.Forward(x, l.mask) }

func (l *mixLayer) Backward(dy Matrix) Matrix {
	var g []float32
	if !l.o.Identity {
		g = l.o.W.Grad
	}
	return l.o.Backward(dy, g)
}

func (l *mixLayer) ForwardTangent(x, dx Matrix, train bool) (Matrix, Matrix) {
	return l.o.ForwardTangent(x, dx, l.mask)
}

func (l *mixLayer) Params() []*Param {
	if l.o.Identity {
		return nil
	}
	return []*Param{l.o.W}
}

func (l *mixLayer) Share() Layer { return &mixLayer{o: l.o.Share(), mask: l.mask} }
