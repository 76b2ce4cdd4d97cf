package nn

import (
	"math"
	"runtime"
	"testing"
)

func TestDropoutIdentity(t *testing.T) {
	x := imgRand(NewRNG(1), 4, 10)
	d := NewDropout(0.3, NewRNG(2))
	if y := d.Forward(x, false); &y.Data[0] != &x.Data[0] {
		t.Error("eval Forward is not the identity")
	}
	if g := d.Backward(x); &g.Data[0] != &x.Data[0] {
		t.Error("Backward after eval Forward is not the identity")
	}
	z := NewDropout(0, NewRNG(2))
	if y := z.Forward(x, true); &y.Data[0] != &x.Data[0] {
		t.Error("p=0 Forward is not the identity")
	}
}

func TestDropoutTrain(t *testing.T) {
	const p = 0.2
	x := NewMatrix(100, 1000)
	for i := range x.Data {
		x.Data[i] = 1
	}
	d := NewDropout(p, NewRNG(3))
	y := d.Forward(x, true)
	kept := 0
	for _, v := range y.Data {
		switch v {
		case 0:
		case 1 / (1 - float32(p)):
			kept++
		default:
			t.Fatalf("output value %v is neither 0 nor 1/(1-p)", v)
		}
	}
	if frac := float64(kept) / float64(len(y.Data)); math.Abs(frac-(1-p)) > 0.005 {
		t.Errorf("kept fraction %.4f, want %.2f", frac, 1-p)
	}
	// Backward uses the same mask.
	g := d.Backward(x)
	if imgMaxDiff(g.Data, y.Data) != 0 {
		t.Error("Backward mask differs from Forward mask")
	}
	// A new step draws a new mask.
	first := append([]float32(nil), y.Data...)
	if imgMaxDiff(d.Forward(x, true).Data, first) == 0 {
		t.Error("two training steps drew the same mask")
	}
}

// The mask depends only on the seed: the same seed gives the same masks,
// whatever GOMAXPROCS or chunking.
func TestDropoutDeterministic(t *testing.T) {
	x := imgRand(NewRNG(4), 64, 1500)
	run := func(procs int) [][]float32 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		d := NewDropout(0.2, NewRNG(5))
		var outs [][]float32
		for range 3 {
			outs = append(outs, append([]float32(nil), d.Forward(x, true).Data...))
		}
		return outs
	}
	a, b := run(1), run(3)
	for i := range a {
		if imgMaxDiff(a[i], b[i]) != 0 {
			t.Errorf("step %d: masks differ between GOMAXPROCS 1 and 3", i)
		}
	}
	whole := make([]float32, 101)
	dropoutMask(whole, 7, 42, dropThreshold(0.5), 2)
	parts := make([]float32, 101)
	for _, r := range [][2]int{{0, 1}, {1, 4}, {4, 5}, {5, 50}, {50, 51}, {51, 101}} {
		dropoutMask(parts[r[0]:r[1]], 7+r[0], 42, dropThreshold(0.5), 2)
	}
	if imgMaxDiff(whole, parts) != 0 {
		t.Error("mask depends on the chunking")
	}
}

func TestDropoutGrad(t *testing.T) {
	rng := NewRNG(6)
	x := imgRand(rng, 3, 20)
	d := NewDropout(0.4, rng)
	d.Forward(x, true)
	d.freezeMask(true)
	checkLayerGrad(t, d, x, true, 1e-2)
}
