package nn

import (
	"math"
	"strings"
	"testing"
)

// linearMixLayer is a LinearMix as a Layer for the checks of layerCases
// (gradient, tangent, sharing); its Backward adds the gradient of W into
// W.Grad.
type linearMixLayer struct{ o *LinearMix }

// linearMixCase builds a 4-logit LinearMix over a random 4×3 W, or the
// identity.
func linearMixCase(identity bool) func(rng *RNG) Layer {
	return func(rng *RNG) Layer {
		o := &LinearMix{Identity: identity}
		if !identity {
			o.W = NewParam("w", false, 4, 3)
			rng.FillUniform(o.W.Value, 1)
		}
		return &linearMixLayer{o: o}
	}
}

func (l *linearMixLayer) Forward(x Matrix, train bool) Matrix { return l.o.Forward(x) }

func (l *linearMixLayer) Backward(dy Matrix) Matrix {
	var g []float32
	if !l.o.Identity {
		g = l.o.W.Grad
	}
	return l.o.Backward(dy, g)
}

func (l *linearMixLayer) ForwardTangent(x, dx Matrix, train bool) (Matrix, Matrix) {
	return l.o.ForwardTangent(x, dx)
}

func (l *linearMixLayer) Params() []*Param {
	if l.o.Identity {
		return nil
	}
	return []*Param{l.o.W}
}

func (l *linearMixLayer) Share() Layer { return &linearMixLayer{o: l.o.Share()} }

// LinearMix: û = logits·W entry by entry, no softmax (negative and large
// weights pass unchanged), the identity passes the logits through, and the
// gradient with respect to W is added into the caller's buffer.
func TestLinearMix(t *testing.T) {
	rng := NewRNG(6)
	const n, m, d = 5, 4, 3
	w := NewParam("w", false, m, d)
	rng.FillUniform(w.Value, 1)
	logits := randMatrix(rng, n, m, 3)
	logits.Data[1] = -7
	o := &LinearMix{W: w}
	u := clone(o.Forward(logits))
	for i := range n {
		for k := range d {
			want := 0.0
			for j := range m {
				want += float64(logits.Row(i)[j]) * float64(w.Value[j*d+k])
			}
			if math.Abs(float64(u.Row(i)[k])-want) > 1e-5 {
				t.Fatalf("û[%d][%d] = %g, want %g", i, k, u.Row(i)[k], want)
			}
		}
	}
	du := randMatrix(rng, n, d, 1)
	wg := make([]float32, m*d)
	for k := range wg {
		wg[k] = 0.5
	}
	o.Backward(du, wg)
	for j := range m {
		for k := range d {
			want := 0.5
			for i := range n {
				want += float64(logits.Row(i)[j]) * float64(du.Row(i)[k])
			}
			if math.Abs(float64(wg[j*d+k])-want) > 1e-5 {
				t.Fatalf("W gradient [%d][%d] = %g, want %g", j, k, wg[j*d+k], want)
			}
		}
	}
	id := &LinearMix{Identity: true}
	if got := id.Forward(logits); imgMaxDiff(got.Data, logits.Data) != 0 {
		t.Error("identity: û is not the logits")
	}
	if got := id.Backward(du, nil); imgMaxDiff(got.Data, du.Data) != 0 {
		t.Error("identity: the logits' gradient is not û's")
	}
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "LinearMix") {
			t.Errorf("W of 12 values for 5 logits: panic %v", r)
		}
	}()
	o.Forward(randMatrix(rng, n, 5, 1))
}
