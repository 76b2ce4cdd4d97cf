package nn

import (
	"fmt"
	"math"
	"testing"
)

// TestConv2DBF16Cols checks that a BF16 convolution whose im2col rows are
// built in bf16 computes, to the bit, what it computes from rows of floats
// (which its products round the same way): output, weight and bias
// gradients, input gradient and tangent. A C odd enough to split a pair
// keeps the rows in floats.
func TestConv2DBF16Cols(t *testing.T) {
	if !BF16Available() {
		t.Skip("no bf16 instructions on this CPU")
	}
	for _, s := range []struct {
		c, h, w, oc, k int
		paired         bool
	}{
		{4, 7, 6, 5, 3, true},   // k·k·C+1 = 37
		{32, 9, 8, 64, 3, true}, // the paper's second convolution, small
		{2, 8, 8, 3, 5, true},   // 5×5, k·C = 10
		{5, 6, 6, 4, 3, false},  // k·C = 15: a pair would straddle runs
		{2, 6, 6, 4, 3, false},  // k·k·C+1 = 19 < BF16MinK: fp32
	} {
		t.Run(fmt.Sprintf("c%d-k%d", s.c, s.k), func(t *testing.T) {
			run := func(paired bool) (y, dx, gw, gb, ty []float32, used bool) {
				defer func(v bool) { bf16Cols = v }(bf16Cols)
				bf16Cols = paired
				rng := NewRNG(3)
				l := NewConv2D(s.c, s.h, s.w, s.oc, s.k, InitPyTorch, rng)
				SetProducts(BF16, l.Params()...)
				x := imgRand(rng, 3, s.c*s.h*s.w)
				y = clone(l.Forward(x, true)).Data
				used = l.colsBF16
				dy := imgRand(rng, 3, len(y)/3)
				dx = clone(l.Backward(dy)).Data
				gw, gb = append([]float32(nil), l.Weight.Grad...), append([]float32(nil), l.Bias.Grad...)
				l.Weight.Tangent = imgRand(rng, 1, len(l.Weight.Value)).Data
				_, t := l.ForwardTangent(x, imgRand(rng, 3, x.Cols), true)
				return y, dx, gw, gb, clone(t).Data, used
			}
			y0, dx0, gw0, gb0, t0, _ := run(false)
			y1, dx1, gw1, gb1, t1, used := run(true)
			if used != s.paired {
				t.Fatalf("rows in bf16: %v, want %v", used, s.paired)
			}
			for _, v := range []struct {
				name      string
				got, want []float32
			}{{"output", y1, y0}, {"input gradient", dx1, dx0}, {"weight gradient", gw1, gw0}, {"bias gradient", gb1, gb0}, {"tangent", t1, t0}} {
				for i := range v.want {
					if math.Float32bits(v.got[i]) != math.Float32bits(v.want[i]) {
						t.Errorf("%s[%d] = %v from bf16 rows, %v from float rows", v.name, i, v.got[i], v.want[i])
						break
					}
				}
			}
		})
	}
}
