package nn

import (
	"math"
	"testing"
)

// xorBlobs returns n points from four Gaussian blobs centred on (±1, ±1)
// labelled by the XOR of the coordinate signs: not linearly separable.
func xorBlobs(rng *RNG, n int) (Matrix, []int) {
	x := NewMatrix(n, 2)
	labels := make([]int, n)
	for i := range n {
		sx, sy := float32(1), float32(1)
		if rng.IntN(2) == 0 {
			sx = -1
		}
		if rng.IntN(2) == 0 {
			sy = -1
		}
		x.Data[2*i] = sx + 0.3*rng.Norm32()
		x.Data[2*i+1] = sy + 0.3*rng.Norm32()
		if sx != sy {
			labels[i] = 1
		}
	}
	return x, labels
}

// trainXOR trains Linear-ReLU-Linear with Adam on minibatches and returns
// the network and its final training accuracy.
func trainXOR(t *testing.T, seed uint64) (*Sequential, float64) {
	t.Helper()
	root := NewRNG(seed)
	x, labels := xorBlobs(root.Split("data"), 512)
	initRNG := root.Split("init")
	first := NewLinear(2, 32, InitPyTorch, initRNG)
	first.NoInputGrad = true
	net := &Sequential{Layers: []Layer{first, &ReLU{InPlace: true}, NewLinear(32, 2, InitPyTorch, initRNG)}}
	cfg := DefaultOptimConfig("adam")
	cfg.LR = 1e-2
	opt, err := NewOptimizer("adam", cfg)
	if err != nil {
		t.Fatal(err)
	}
	var loss SoftmaxCrossEntropy
	shuffle := root.Split("shuffle")
	const batch = 100 // the last minibatch of an epoch has 12 rows
	order := shuffle.Perm(x.Rows)
	xb := NewMatrix(batch, 2)
	yb := make([]int, batch)
	params := net.Params()
	steps := 0
	for steps < 300 {
		shuffle.Shuffle(order)
		for lo := 0; lo < x.Rows && steps < 300; lo += batch {
			hi := min(lo+batch, x.Rows)
			xb = Resize(xb, hi-lo, 2)
			for i, k := range order[lo:hi] {
				copy(xb.Row(i), x.Row(k))
				yb[i] = labels[k]
			}
			loss.Forward(net.Forward(xb, true), yb[:hi-lo], nil)
			net.Backward(loss.Backward())
			opt.Step(params)
			steps++
		}
	}
	l := loss.Forward(net.Forward(x, false), labels, nil)
	if math.IsNaN(l) {
		t.Fatal("loss is NaN")
	}
	return net, float64(loss.Correct()) / float64(x.Rows)
}

func TestTrainXOR(t *testing.T) {
	net, acc := trainXOR(t, 42)
	if acc < 0.95 {
		t.Errorf("training accuracy %.3f after 300 steps, want ≥ 0.95", acc)
	}
	net2, acc2 := trainXOR(t, 42)
	if acc2 != acc {
		t.Errorf("same seed, accuracy %v then %v", acc, acc2)
	}
	p1, p2 := net.Params(), net2.Params()
	for i := range p1 {
		for j := range p1[i].Value {
			if math.Float32bits(p1[i].Value[j]) != math.Float32bits(p2[i].Value[j]) {
				t.Fatalf("same seed, param %d[%d]: %g vs %g", i, j, p1[i].Value[j], p2[i].Value[j])
			}
		}
	}
	t.Logf("training accuracy %.3f", acc)
}
