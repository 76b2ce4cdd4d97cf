package nn

import (
	"math"
	"testing"
)

// TestProducts checks that a Linear layer whose weights are set to BF16
// multiplies the bf16-rounded operands (where the CPU can), keeps FP32 for
// an inner dimension under BF16MinK, and is FP32 by default.
func TestProducts(t *testing.T) {
	if !BF16Available() {
		t.Skip("no AVX512_BF16 on this CPU")
	}
	round := func(x float32) float32 {
		b := math.Float32bits(x)
		return math.Float32frombits((b + 0x7fff + (b >> 16 & 1)) &^ 0xffff)
	}
	for _, in := range []int{BF16MinK - 1, 64} {
		rng := NewRNG(1)
		l := NewLinear(in, 8, InitPyTorch, rng)
		x := NewMatrix(5, in)
		for i := range x.Data {
			x.Data[i] = rng.Float32() - 0.5
		}
		fp := append([]float32(nil), l.Forward(x, false).Data...)
		SetProducts(BF16, l.Params()...)
		bf := append([]float32(nil), l.Forward(x, false).Data...)
		var maxFromRounded, maxFromFP float64
		for r := 0; r < 5; r++ {
			for c := 0; c < 8; c++ {
				var sum float64
				for k := 0; k < in; k++ {
					sum += float64(round(x.Data[r*in+k])) * float64(round(l.W.Value[k*8+c]))
				}
				sum += float64(l.B.Value[c])
				got := float64(bf[r*8+c])
				maxFromRounded = max(maxFromRounded, math.Abs(got-sum))
				maxFromFP = max(maxFromFP, math.Abs(got-float64(fp[r*8+c])))
			}
		}
		switch {
		case in < BF16MinK && maxFromFP != 0:
			t.Errorf("in=%d (< BF16MinK): BF16 changed the product by %g; want fp32", in, maxFromFP)
		case in >= BF16MinK && (maxFromRounded > 1e-5 || maxFromFP == 0):
			t.Errorf("in=%d: |bf16 − product of rounded operands| = %g (want ≤ 1e-5), |bf16 − fp32| = %g (want > 0)", in, maxFromRounded, maxFromFP)
		}
	}
}
