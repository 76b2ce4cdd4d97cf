package nn

import (
	"fmt"
	"testing"
)

// TestShare runs two passes through a layer and its twin (Share): pass A on
// x1 and pass B on x2, both forward, then both backward. They must compute
// exactly what two passes one after the other through a single copy of the
// layer compute: the same outputs and input gradients (A's not overwritten
// by B's), the sum of the two passes' parameter gradients in the shared
// Params, and the same running statistics and dropout masks.
func TestShare(t *testing.T) {
	for _, c := range layerCases() {
		t.Run(c.name, func(t *testing.T) {
			x1, x2 := c.input(NewRNG(2)), c.input(NewRNG(3))
			// Reference: one layer, one pass after the other. Both layers
			// run a first pass before the twin is made, so that they have
			// buffers a careless twin could share.
			ref := c.build(NewRNG(1))
			ref.Forward(x2, c.train)
			y1 := clone(ref.Forward(x1, c.train))
			w1, w2 := randMatrix(NewRNG(4), y1.Rows, y1.Cols, 1), randMatrix(NewRNG(5), y1.Rows, y1.Cols, 1)
			d1 := clone(ref.Backward(w1))
			y2 := clone(ref.Forward(x2, c.train))
			d2 := clone(ref.Backward(w2))

			a := c.build(NewRNG(1))
			a.Forward(x2, c.train)
			b := Share(a)
			if b == a {
				t.Fatal("Share returned the layer itself")
			}
			pa, pb := a.Params(), b.Params()
			if len(pa) != len(pb) {
				t.Fatalf("twin has %d parameters, the layer %d", len(pb), len(pa))
			}
			for i := range pa {
				if pa[i] != pb[i] {
					t.Fatalf("parameter %d (%s) is not shared", i, pa[i].Name)
				}
			}
			ya := a.Forward(x1, c.train)
			yb := b.Forward(x2, c.train)
			same := func(what string, got, want Matrix) {
				t.Helper()
				if got.Rows != want.Rows || got.Cols != want.Cols {
					t.Fatalf("%s: %d×%d, want %d×%d", what, got.Rows, got.Cols, want.Rows, want.Cols)
				}
				for k := range want.Data {
					if got.Data[k] != want.Data[k] {
						t.Fatalf("%s[%d] = %g, want %g", what, k, got.Data[k], want.Data[k])
					}
				}
			}
			same("pass A output after pass B's forward", ya, y1)
			same("pass B output", yb, y2)
			da := a.Backward(w1)
			same("pass A input gradient", da, d1)
			db := b.Backward(w2)
			same("pass A output after both backwards", ya, y1)
			same("pass A input gradient after pass B's", da, d1)
			same("pass B input gradient", db, d2)
			for i, p := range ref.Params() {
				same(fmt.Sprintf("gradient of %s (%d)", p.Name, i),
					Matrix{Rows: 1, Cols: len(pa[i].Grad), Data: pa[i].Grad}, Matrix{Rows: 1, Cols: len(p.Grad), Data: p.Grad})
			}
			if bn, ok := ref.(*BatchNorm1D); ok {
				bnA := a.(*BatchNorm1D)
				same("running mean", Matrix{Rows: 1, Cols: bn.Features, Data: bnA.RunningMean}, Matrix{Rows: 1, Cols: bn.Features, Data: bn.RunningMean})
				same("running variance", Matrix{Rows: 1, Cols: bn.Features, Data: bnA.RunningVar}, Matrix{Rows: 1, Cols: bn.Features, Data: bn.RunningVar})
			}
		})
	}
}

// TestShareNeedsSharer names the layer that cannot share.
func TestShareNeedsSharer(t *testing.T) {
	defer func() {
		if r := recover(); r == nil {
			t.Error("Share of a layer without Share did not panic")
		}
	}()
	Share(&Sequential{Layers: []Layer{&ReLU{}, plainLayer{}}})
}

// plainLayer is a layer with neither Share nor ForwardTangent.
type plainLayer struct{}

func (plainLayer) Forward(x Matrix, train bool) Matrix { return x }
func (plainLayer) Backward(dy Matrix) Matrix           { return dy }
func (plainLayer) Params() []*Param                    { return nil }
