package nn

import (
	"math"
	"strings"
	"testing"
)

func TestBatchNorm1DGradTrain(t *testing.T) {
	rng := NewRNG(1)
	bn := randomBatchNorm(rng, 4, false)
	x := imgRand(rng, 6, 4)
	for i := range x.Data {
		x.Data[i] = 2*x.Data[i] + float32(i%4) // per-feature offsets and scales
	}
	checkLayerGrad(t, bn, x, true, 1e-2)
}

// randomBatchNorm returns a batch normalisation with random γ, β and, for
// evaluation, running statistics.
func randomBatchNorm(rng *RNG, features int, stats bool) *BatchNorm1D {
	bn := NewBatchNorm1D(features)
	rng.FillUniform(bn.Gamma.Value, 2)
	rng.FillUniform(bn.Beta.Value, 1)
	if stats {
		rng.FillUniform(bn.RunningMean, 1)
		for i := range bn.RunningVar {
			bn.RunningVar[i] = 0.5 + rng.Float32()
		}
	}
	return bn
}

func TestBatchNorm1DGradEval(t *testing.T) {
	rng := NewRNG(2)
	bn := randomBatchNorm(rng, 5, true)
	checkLayerGrad(t, bn, imgRand(rng, 3, 5), false, 1e-2)
}

// Running statistics after a few training steps match a float64 recount of
// PyTorch's update (biased variance to normalise, unbiased variance into the
// running estimate), and evaluation uses them.
func TestBatchNorm1DRunningStats(t *testing.T) {
	const f = 3
	rng := NewRNG(3)
	bn := NewBatchNorm1D(f)
	rm := make([]float64, f)
	rv := []float64{1, 1, 1}
	for step, n := range []int{5, 8, 2, 7} {
		x := imgRand(rng, n, f)
		for i := range x.Data {
			x.Data[i] = 3*x.Data[i] + float32(i%f) - 1
		}
		y := bn.Forward(x, true)
		for j := 0; j < f; j++ {
			mean, ss := 0.0, 0.0
			for i := 0; i < n; i++ {
				mean += float64(x.Data[i*f+j])
			}
			mean /= float64(n)
			for i := 0; i < n; i++ {
				d := float64(x.Data[i*f+j]) - mean
				ss += d * d
			}
			for i := 0; i < n; i++ { // γ = 1, β = 0
				want := (float64(x.Data[i*f+j]) - mean) / math.Sqrt(ss/float64(n)+1e-5)
				if math.Abs(float64(y.Data[i*f+j])-want) > 1e-4 {
					t.Errorf("step %d: y[%d][%d] = %v, want %v", step, i, j, y.Data[i*f+j], want)
				}
			}
			rm[j] = 0.9*rm[j] + 0.1*mean
			rv[j] = 0.9*rv[j] + 0.1*ss/float64(n-1)
		}
	}
	for j := 0; j < f; j++ {
		if math.Abs(float64(bn.RunningMean[j])-rm[j]) > 1e-5 || math.Abs(float64(bn.RunningVar[j])-rv[j]) > 1e-5 {
			t.Errorf("feature %d: running (%v, %v), want (%v, %v)", j, bn.RunningMean[j], bn.RunningVar[j], rm[j], rv[j])
		}
	}
	bn.Gamma.Value[1], bn.Beta.Value[1] = 2, -0.5
	x := imgRand(rng, 1, f) // a batch of one is fine in evaluation
	y := bn.Forward(x, false)
	for j := 0; j < f; j++ {
		want := float64(bn.Gamma.Value[j])*(float64(x.Data[j])-rm[j])/math.Sqrt(rv[j]+1e-5) + float64(bn.Beta.Value[j])
		if math.Abs(float64(y.Data[j])-want) > 1e-5 {
			t.Errorf("eval feature %d: %v, want %v", j, y.Data[j], want)
		}
	}
	if bn.RunningMean[0] != float32(rm[0]) && math.Abs(float64(bn.RunningMean[0])-rm[0]) > 1e-5 {
		t.Error("eval Forward changed the running mean")
	}
}

func TestBatchNorm1DBatchOfOnePanics(t *testing.T) {
	bn := NewBatchNorm1D(3)
	defer func() {
		r := recover()
		if r == nil {
			t.Fatal("training Forward on one example did not panic")
		}
		if !strings.Contains(r.(string), "at least 2") {
			t.Errorf("panic message %q does not explain the limit", r)
		}
	}()
	bn.Forward(NewMatrix(1, 3), true)
}
