package nn

import (
	"math"
	"runtime"
	"testing"
)

// LayerNorm matches a float64 recount of PyTorch's formula, in training and
// evaluation alike, on one example and on a batch large enough to split.
func TestLayerNormValues(t *testing.T) {
	rng := NewRNG(1)
	for _, shape := range [][2]int{{1, 7}, {5, 7}, {300, 257}} {
		n, f := shape[0], shape[1]
		l := NewLayerNorm(f)
		if !l.Gamma.NoDecay || !l.Beta.NoDecay {
			t.Error("γ and β are not excluded from weight decay")
		}
		rng.FillUniform(l.Gamma.Value, 2)
		rng.FillUniform(l.Beta.Value, 1)
		x := randMatrix(rng, n, f, 3)
		for i := range x.Data {
			x.Data[i] += float32(i / f % 5) // per-row offsets
		}
		y := clone(l.Forward(x, true))
		for i := range n {
			row := x.Row(i)
			mean, ss := 0.0, 0.0
			for _, v := range row {
				mean += float64(v)
			}
			mean /= float64(f)
			for _, v := range row {
				ss += (float64(v) - mean) * (float64(v) - mean)
			}
			inv := 1 / math.Sqrt(ss/float64(f)+1e-5)
			for j, v := range row {
				want := float64(l.Gamma.Value[j])*(float64(v)-mean)*inv + float64(l.Beta.Value[j])
				if d := math.Abs(float64(y.Row(i)[j]) - want); d > 1e-5*math.Max(1, math.Abs(want)) {
					t.Fatalf("%v: y[%d][%d] = %g, want %g", shape, i, j, y.Row(i)[j], want)
				}
			}
		}
		if d := imgMaxDiff(l.Forward(x, false).Data, y.Data); d != 0 {
			t.Errorf("%v: evaluation differs from training by %g", shape, d)
		}
	}
}

// The split row passes compute what one goroutine computes.
func TestLayerNormParallelMatchesSerial(t *testing.T) {
	run := func(procs int) (y, dx, dg []float32) {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		rng := NewRNG(2)
		l := NewLayerNorm(300)
		rng.FillUniform(l.Gamma.Value, 2)
		x := randMatrix(rng, 400, 300, 2)
		y = clone(l.Forward(x, true)).Data
		dx = clone(l.Backward(randMatrix(rng, 400, 300, 1))).Data
		return y, dx, append([]float32(nil), l.Gamma.Grad...)
	}
	y1, d1, g1 := run(1)
	y2, d2, g2 := run(2)
	if imgMaxDiff(y1, y2) != 0 || imgMaxDiff(d1, d2) != 0 || imgMaxDiff(g1, g2) != 0 {
		t.Error("results depend on the number of goroutines")
	}
}
