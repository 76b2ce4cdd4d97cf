package nn

import (
	"math"
	"testing"
)

func TestSoftmaxForward(t *testing.T) {
	x := imgRand(NewRNG(1), 3, 5)
	x.Data[0] = 80 // large logits stay finite
	var s Softmax
	y := s.Forward(x, true)
	for i := 0; i < y.Rows; i++ {
		sum := 0.0
		for _, v := range y.Row(i) {
			sum += float64(v)
		}
		if math.Abs(sum-1) > 1e-6 {
			t.Errorf("row %d sums to %v", i, sum)
		}
	}
}

func TestSoftmaxGrad(t *testing.T) {
	checkLayerGrad(t, &Softmax{}, imgRand(NewRNG(2), 4, 6), true, 1e-2)
}
