package nn

import (
	"math"
	"strings"
	"testing"
)

// TestSoftmaxCrossEntropyGrad checks Backward against central differences
// of the mean loss, with a mask, and that inactive outputs neither affect the
// loss nor receive gradient.
func TestSoftmaxCrossEntropyGrad(t *testing.T) {
	for _, active := range [][]int{nil, {0, 2, 3, 6}, {5}} {
		rng := NewRNG(8)
		n, c := 5, 7
		logits := randMatrix(rng, n, c, 3)
		labels := make([]int, n)
		for i := range labels {
			if active == nil {
				labels[i] = rng.IntN(c)
			} else {
				labels[i] = active[rng.IntN(len(active))]
			}
		}
		var l SoftmaxCrossEntropy
		loss := l.Forward(logits, labels, active)
		g := l.Backward()
		grad := append([]float32(nil), g.Data...)
		isActive := func(j int) bool {
			if active == nil {
				return true
			}
			for _, a := range active {
				if a == j {
					return true
				}
			}
			return false
		}
		const h = 1e-2
		for k := range logits.Data {
			j := k % c
			old := logits.Data[k]
			logits.Data[k] = old + h
			lp := l.Forward(logits, labels, active)
			logits.Data[k] = old - h
			lm := l.Forward(logits, labels, active)
			logits.Data[k] = old
			num := (lp - lm) / (2 * h)
			if !isActive(j) {
				if grad[k] != 0 || lp != loss || lm != loss {
					t.Errorf("active %v: inactive output %d: grad %g, loss moved %g/%g from %g", active, j, grad[k], lp, lm, loss)
				}
				continue
			}
			if d := math.Abs(num - float64(grad[k])); d > 1e-3*math.Max(1, math.Abs(num)) {
				t.Errorf("active %v: dlogits[%d] = %g, numeric %g", active, k, grad[k], num)
			}
		}
		// Inactive outputs may hold anything, even +Inf.
		if active != nil {
			logits.Data[1] = float32(math.Inf(1))
			if got := l.Forward(logits, labels, active); got != loss {
				t.Errorf("active %v: +Inf on an inactive output changed the loss %g → %g", active, loss, got)
			}
		}
	}
}

func TestSoftmaxCrossEntropyValues(t *testing.T) {
	var l SoftmaxCrossEntropy
	// Large logits: a naive exp would overflow.
	logits := Matrix{Rows: 3, Cols: 3, Data: []float32{
		1000, 1001, 999,
		0, 0, 0,
		5, -1e30, 4,
	}}
	labels := []int{1, 2, 0}
	loss := l.Forward(logits, labels, nil)
	lse := func(z ...float64) float64 {
		m := math.Inf(-1)
		for _, v := range z {
			m = math.Max(m, v)
		}
		s := 0.0
		for _, v := range z {
			s += math.Exp(v - m)
		}
		return m + math.Log(s)
	}
	want := (lse(1000, 1001, 999) - 1001 + lse(0, 0, 0) - 0 + lse(5, -1e30, 4) - 5) / 3
	if math.Abs(loss-want) > 1e-6 {
		t.Errorf("loss %.9g, want %.9g", loss, want)
	}
	// Predictions: ties go to the lower index.
	if p := l.Predictions(); p[0] != 1 || p[1] != 0 || p[2] != 0 {
		t.Errorf("predictions %v, want [1 0 0]", p)
	}
	if l.Correct() != 2 {
		t.Errorf("correct %d, want 2", l.Correct())
	}
	// Mask {0, 2}: row 0 predicts 0 now.
	l.Forward(logits, []int{0, 2, 2}, []int{2, 0})
	if p := l.Predictions(); p[0] != 0 || p[1] != 0 || p[2] != 0 {
		t.Errorf("masked predictions %v, want [0 0 0]", p)
	}
	if l.Correct() != 1 {
		t.Errorf("masked correct %d, want 1", l.Correct())
	}
	pr := l.Probs()
	for i := range 3 {
		if pr.Data[i*3+1] != 0 {
			t.Errorf("row %d: inactive probability %g", i, pr.Data[i*3+1])
		}
	}
	// Empty batch.
	if got := l.Forward(Matrix{Cols: 3}, nil, nil); got != 0 {
		t.Errorf("empty batch loss %g", got)
	}
	if g := l.Backward(); g.Rows != 0 {
		t.Errorf("empty batch grad %d rows", g.Rows)
	}
}

func TestSoftmaxCrossEntropyBadLabel(t *testing.T) {
	defer func() {
		r := recover()
		if r == nil || !strings.Contains(r.(string), "not an active output") {
			t.Errorf("panic %v, want a message about an inactive label", r)
		}
	}()
	var l SoftmaxCrossEntropy
	l.Forward(NewMatrix(2, 4), []int{0, 3}, []int{0, 1})
}

// TestSoftmaxCrossEntropyLarge compares the split path with the serial one.
func TestSoftmaxCrossEntropyLarge(t *testing.T) {
	rng := NewRNG(9)
	n, c := 400, 100
	logits := randMatrix(rng, n, c, 5)
	labels := make([]int, n)
	for i := range labels {
		labels[i] = rng.IntN(c)
	}
	var big, one SoftmaxCrossEntropy
	loss := big.Forward(logits, labels, nil)
	g := big.Backward()
	sum := 0.0
	for i := range n {
		sum += one.Forward(logits.Slice(i, i+1), labels[i:i+1], nil)
		gi := one.Backward()
		for j := range c {
			if d := math.Abs(float64(gi.Data[j])/float64(n) - float64(g.Data[i*c+j])); d > 1e-9 {
				t.Fatalf("grad[%d,%d] differs: %g", i, j, d)
			}
		}
	}
	if math.Abs(sum/float64(n)-loss) > 1e-9 {
		t.Errorf("loss %g, per-row mean %g", loss, sum/float64(n))
	}
}

// refLogSumExp is log Σ exp(z_j) over the entries with mask set (nil: all)
// in float64, the reference of the softmax tests.
func refLogSumExp(z []float32, mask []bool) float64 {
	m := math.Inf(-1)
	for j, v := range z {
		if mask == nil || mask[j] {
			m = math.Max(m, float64(v))
		}
	}
	s := 0.0
	for j, v := range z {
		if mask == nil || mask[j] {
			s += math.Exp(float64(v) - m)
		}
	}
	return m + math.Log(s)
}

// TestSoftmaxRows checks SoftmaxRows and LogSoftmaxRows against float64,
// with large logits, split over the cores or not, and in place.
func TestSoftmaxRows(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    func(dst, src Matrix)
		want func(v, lse float64) float64
	}{
		{"softmax", SoftmaxRows, func(v, lse float64) float64 { return math.Exp(v - lse) }},
		{"log-softmax", LogSoftmaxRows, func(v, lse float64) float64 { return v - lse }},
	} {
		rng := NewRNG(10)
		for _, shape := range [][2]int{{3, 5}, {200, 300}} {
			src := randMatrix(rng, shape[0], shape[1], 50)
			src.Data[0] = 1e4 // a large logit stays finite
			dst := NewMatrix(shape[0], shape[1])
			tc.f(dst, src)
			for i := range src.Rows {
				z := src.Row(i)
				lse := refLogSumExp(z, nil)
				for j, v := range z {
					want := tc.want(float64(v), lse)
					if d := math.Abs(float64(dst.Row(i)[j]) - want); !(d <= 1e-6*math.Max(1, math.Abs(want))) {
						t.Fatalf("%s %v: [%d,%d] = %g, want %g", tc.name, shape, i, j, dst.Row(i)[j], want)
					}
				}
			}
			// Row by row (never split) and in place give the same bits.
			one := NewMatrix(1, shape[1])
			for i := range src.Rows {
				tc.f(one, src.Slice(i, i+1))
				if imgMaxDiff(one.Data, dst.Row(i)) != 0 {
					t.Fatalf("%s %v: row %d differs when computed alone", tc.name, shape, i)
				}
			}
			tc.f(src, src)
			if imgMaxDiff(src.Data, dst.Data) != 0 {
				t.Fatalf("%s %v: in-place result differs", tc.name, shape)
			}
		}
	}
}

// checkLossTangent compares a loss's directional derivative along v with the
// central difference of the loss and with ⟨Backward, v⟩.
func checkLossTangent(t *testing.T, name string, x Matrix, loss func() float64, tangent func(v Matrix) (float64, float64), grad func() Matrix) {
	t.Helper()
	rng := NewRNG(21)
	l0 := loss()
	g := clone(grad())
	if l, d := tangent(Matrix{}); l != l0 || d != 0 {
		t.Errorf("%s: zero direction gives (%g, %g), want (%g, 0)", name, l, d, l0)
	}
	v := randMatrix(rng, x.Rows, x.Cols, 1)
	l, d := tangent(v)
	if l != l0 {
		t.Errorf("%s: ForwardTangent's loss %g, Forward's %g", name, l, l0)
	}
	x0 := clone(x)
	const h = 1e-3
	for k := range x.Data {
		x.Data[k] = float32(float64(x0.Data[k]) + h*float64(v.Data[k]))
	}
	lp := loss()
	for k := range x.Data {
		x.Data[k] = float32(float64(x0.Data[k]) - h*float64(v.Data[k]))
	}
	lm := loss()
	copy(x.Data, x0.Data)
	if num := (lp - lm) / (2 * h); !(math.Abs(d-num) <= 1e-3*math.Max(1, math.Abs(num))) {
		t.Errorf("%s: L̇ = %.8g, central difference %.8g", name, d, num)
	}
	if adj := dot64(g.Data, v.Data); !(math.Abs(d-adj) <= 1e-6*math.Max(1, math.Abs(adj))) {
		t.Errorf("%s: L̇ = %.8g, ⟨Backward, v⟩ = %.8g", name, d, adj)
	}
}

func TestSoftmaxCrossEntropyTangent(t *testing.T) {
	for _, active := range [][]int{nil, {0, 2, 3, 6}} {
		rng := NewRNG(22)
		logits := randMatrix(rng, 5, 7, 3)
		labels := []int{0, 2, 3, 6, 2}
		var l SoftmaxCrossEntropy
		checkLossTangent(t, "cross-entropy", logits,
			func() float64 { return l.Forward(logits, labels, active) },
			func(v Matrix) (float64, float64) {
				if active != nil && len(v.Data) > 0 {
					v = clone(v)
					v.Data[1] = float32(math.Inf(1)) // an inactive output's tangent is ignored
				}
				return l.ForwardTangent(logits, v, labels, active)
			},
			func() Matrix { l.Forward(logits, labels, active); return l.Backward() })
	}
}

func TestMSE(t *testing.T) {
	rng := NewRNG(23)
	pred, target := randMatrix(rng, 4, 6, 2), randMatrix(rng, 4, 6, 2)
	var l MSE
	want := 0.0
	for k, v := range pred.Data {
		d := float64(v) - float64(target.Data[k])
		want += d * d
	}
	want /= 4 // sum over features, mean over rows
	if got := l.Forward(pred, target); math.Abs(got-want) > 1e-6*want {
		t.Errorf("loss %g, want %g", got, want)
	}
	g := clone(l.Backward())
	const h = 1e-2
	for k := range pred.Data {
		old := pred.Data[k]
		pred.Data[k] = old + h
		lp := l.Forward(pred, target)
		pred.Data[k] = old - h
		lm := l.Forward(pred, target)
		pred.Data[k] = old
		if num := (lp - lm) / (2 * h); math.Abs(num-float64(g.Data[k])) > 1e-3*math.Max(1, math.Abs(num)) {
			t.Errorf("dpred[%d] = %g, numeric %g", k, g.Data[k], num)
		}
	}
	checkLossTangent(t, "MSE", pred,
		func() float64 { return l.Forward(pred, target) },
		func(v Matrix) (float64, float64) { return l.ForwardTangent(pred, v, target) },
		func() Matrix { l.Forward(pred, target); return l.Backward() })
	if got := l.Forward(Matrix{Cols: 3}, Matrix{Cols: 3}); got != 0 {
		t.Errorf("empty batch loss %g", got)
	}
	if g := l.Backward(); g.Rows != 0 {
		t.Errorf("empty batch gradient has %d rows", g.Rows)
	}
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "target") {
			t.Errorf("shape mismatch: panic %v", r)
		}
	}()
	l.Forward(pred, target.Slice(0, 3))
}
