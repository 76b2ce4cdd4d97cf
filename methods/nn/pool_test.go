package nn

import "testing"

func TestMaxPool2x2Forward(t *testing.T) {
	// One example, 2 channels, 3×5 HWC: the last row and column are dropped.
	const c, h, w = 2, 3, 5
	x := NewMatrix(1, c*h*w)
	for y := 0; y < h; y++ {
		for xx := 0; xx < w; xx++ {
			x.Data[(y*w+xx)*c] = float32(y*w + xx)    // channel 0 increases
			x.Data[(y*w+xx)*c+1] = -float32(y*w + xx) // channel 1 decreases
		}
	}
	p := NewMaxPool2x2(c, h, w)
	if oc, oh, ow := p.OutShape(); oc != 2 || oh != 1 || ow != 2 {
		t.Fatalf("OutShape %d×%d×%d", oc, oh, ow)
	}
	y := p.Forward(x, true)
	// Windows: (0,0),(0,1),(1,0),(1,1) and (0,2),(0,3),(1,2),(1,3).
	want := []float32{6, 0, 8, -2}
	for i, v := range want {
		if y.Data[i] != v {
			t.Errorf("out[%d] = %v, want %v", i, y.Data[i], v)
		}
	}
	dx := p.Backward(Matrix{Rows: 1, Cols: 4, Data: []float32{1, 2, 3, 4}})
	wantDx := map[int]float32{(1*w+1)*c + 0: 1, 0*c + 1: 2, (1*w+3)*c + 0: 3, 2*c + 1: 4}
	for i, v := range dx.Data {
		if v != wantDx[i] {
			t.Errorf("dx[%d] = %v, want %v", i, v, wantDx[i])
		}
	}
}

func TestMaxPool2x2Grad(t *testing.T) {
	// Distinct values 0.05 apart: the finite-difference step (0.01) never
	// changes a window's winner.
	const b, c, h, w = 2, 3, 5, 6
	rng := NewRNG(10)
	x := NewMatrix(b, c*h*w)
	for i, j := range rng.Perm(len(x.Data)) {
		x.Data[i] = 0.05*float32(j) - 4
	}
	checkLayerGrad(t, NewMaxPool2x2(c, h, w), x, true, 1e-2)
}
