package nn

import (
	"slices"
	"testing"
)

// scratchNet is a network of every kind of layer that owns scratch.
func scratchNet(seed uint64) *Concat2 {
	rng := NewRNG(seed)
	conv := NewConv2D(1, 6, 6, 4, 3, InitPyTorch, rng)
	c, h, w := conv.OutShape()
	pool := NewMaxPool2x2(c, h, w)
	pool.ReLU = true
	pc, ph, pw := pool.OutShape()
	img := &Sequential{Layers: []Layer{NewCHWToHWC(1, 6, 6), conv, pool, NewDropout(0.2, rng.Split("d")),
		NewLinear(pc*ph*pw, 5, InitPyTorch, rng), NewBatchNorm1D(5), &Tanh{}}}
	lab := &Sequential{Layers: []Layer{NewLinear(3, 5, InitPyTorch, rng), NewLayerNorm(5), &ReLU{},
		&Residual{Inner: &Sequential{Layers: []Layer{NewLinear(5, 5, InitPyTorch, rng), &Sigmoid{}, &Softmax{}}}}}}
	return &Concat2{A: img, B: lab}
}

// pass runs one forward and backward pass and returns the output and the
// parameter gradients.
func scratchPass(net *Concat2, x, z Matrix) ([]float32, []float32) {
	y := net.Forward(x, z, true)
	out := slices.Clone(y.Data)
	dy := NewMatrix(y.Rows, y.Cols)
	for i := range dy.Data {
		dy.Data[i] = float32(i%7) - 3
	}
	net.Backward(dy)
	var g []float32
	for _, p := range net.Params() {
		g = append(g, p.Grad...)
		clear(p.Grad)
	}
	return out, g
}

// TestMovedScratchChangesNothing: two networks share one set of buffers
// that moves between them; their results are those of networks with their
// own buffers, and a network without its buffers holds none.
func TestMovedScratchChangesNothing(t *testing.T) {
	x, z := NewMatrix(4, 36), NewMatrix(4, 3)
	NewRNG(5).FillUniform(x.Data, 1)
	NewRNG(6).FillUniform(z.Data, 1)
	refA, refB := scratchNet(1), scratchNet(2)
	a, b := scratchNet(1), scratchNet(2)
	for round := range 3 {
		wantA, wantGA := scratchPass(refA, x, z)
		wantB, wantGB := scratchPass(refB, x, z)
		gotA, gotGA := scratchPass(a, x, z)
		if ScratchBytes(a) == 0 {
			t.Fatal("a network that just ran holds no scratch")
		}
		MoveScratch(a, b)
		if n := ScratchBytes(a); n != 0 {
			t.Errorf("round %d: %d bytes of scratch left after moving them away", round, n)
		}
		gotB, gotGB := scratchPass(b, x, z)
		MoveScratch(b, a)
		if !slices.Equal(gotA, wantA) || !slices.Equal(gotGA, wantGA) || !slices.Equal(gotB, wantB) || !slices.Equal(gotGB, wantGB) {
			t.Fatalf("round %d: results with moved buffers differ", round)
		}
	}
}
