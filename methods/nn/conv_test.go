package nn

import (
	"fmt"
	"math"
	"runtime"
	"slices"
	"testing"

	"gonum.org/v1/gonum/blas/blas32"

	"github.com/noprop/noprop/methods/nn/gemm"
)

func imgRand(rng *RNG, rows, cols int) Matrix {
	m := NewMatrix(rows, cols)
	rng.FillUniform(m.Data, 1)
	return m
}

// naiveConvCHW is a direct valid convolution of CHW examples with the
// Conv2D weight layout, producing HWC rows (the layer's output layout).
func naiveConvCHW(x Matrix, c, h, w, oc, k int, wt, bias []float32) Matrix {
	oh, ow := h-k+1, w-k+1
	out := NewMatrix(x.Rows, oh*ow*oc)
	for e := 0; e < x.Rows; e++ {
		xe := x.Row(e)
		for oy := 0; oy < oh; oy++ {
			for ox := 0; ox < ow; ox++ {
				for o := 0; o < oc; o++ {
					s := float64(bias[o])
					for ch := 0; ch < c; ch++ {
						for ky := 0; ky < k; ky++ {
							for kx := 0; kx < k; kx++ {
								v := xe[ch*h*w+(oy+ky)*w+ox+kx]
								s += float64(v) * float64(wt[((ky*k+kx)*c+ch)*oc+o])
							}
						}
					}
					out.Data[e*oh*ow*oc+(oy*ow+ox)*oc+o] = float32(s)
				}
			}
		}
	}
	return out
}

func imgMaxDiff(a, b []float32) float64 {
	d := 0.0
	for i := range a {
		d = math.Max(d, math.Abs(float64(a[i])-float64(b[i])))
	}
	return d
}

func TestConv2DForwardMatchesNaive(t *testing.T) {
	rng := NewRNG(1)
	for _, tc := range []struct{ b, c, h, w, oc, k int }{
		{2, 2, 6, 7, 3, 3},
		{3, 1, 9, 8, 4, 3},
		{2, 3, 7, 5, 2, 1},
		{1, 4, 6, 6, 5, 2},
		{2, 2, 8, 9, 3, 5},
		{4, 5, 5, 5, 6, 5}, // output 1×1
	} {
		conv := NewConv2D(tc.c, tc.h, tc.w, tc.oc, tc.k, InitPyTorch, rng)
		x := imgRand(rng, tc.b, tc.c*tc.h*tc.w)
		toHWC := NewCHWToHWC(tc.c, tc.h, tc.w)
		got := conv.Forward(toHWC.Forward(x, false), false)
		want := naiveConvCHW(x, tc.c, tc.h, tc.w, tc.oc, tc.k, conv.Weight.Value, conv.Bias.Value)
		if got.Rows != want.Rows || got.Cols != want.Cols {
			t.Fatalf("%+v: shape %d×%d, want %d×%d", tc, got.Rows, got.Cols, want.Rows, want.Cols)
		}
		if d := imgMaxDiff(got.Data, want.Data); d > 1e-5 {
			t.Errorf("%+v: max |conv - naive| = %g", tc, d)
		}
	}
}

func TestConv2DGrad(t *testing.T) {
	rng := NewRNG(2)
	conv := NewConv2D(2, 6, 7, 3, 3, InitPyTorch, rng)
	checkLayerGrad(t, conv, imgRand(rng, 2, 2*6*7), true, 1e-2)
	conv5 := NewConv2D(3, 7, 6, 2, 5, InitPyTorch, rng)
	checkLayerGrad(t, conv5, imgRand(rng, 2, 3*7*6), true, 1e-2)
}

// A second Backward after one Forward must rebuild the im2col columns that
// the first one overwrote, and give the same gradients.
func TestConv2DBackwardTwice(t *testing.T) {
	rng := NewRNG(3)
	conv := NewConv2D(2, 6, 7, 3, 3, InitPyTorch, rng)
	x := imgRand(rng, 3, 2*6*7)
	dy := imgRand(rng, 3, 3*4*5)
	conv.Forward(x, true)
	dx1 := append([]float32(nil), conv.Backward(dy).Data...)
	g1 := append([]float32(nil), conv.Weight.Grad...)
	dx2 := conv.Backward(dy).Data
	for i := range g1 {
		if d := math.Abs(float64(conv.Weight.Grad[i] - 2*g1[i])); d > 1e-5 {
			t.Fatalf("weight grad %d: %g after two backwards, want 2×%g", i, conv.Weight.Grad[i], g1[i])
		}
	}
	if d := imgMaxDiff(dx1, dx2); d != 0 {
		t.Errorf("second input gradient differs by %g", d)
	}
}

func TestConv2DNoInputGrad(t *testing.T) {
	rng := NewRNG(4)
	a := NewConv2D(2, 6, 7, 3, 3, InitPyTorch, NewRNG(5))
	b := NewConv2D(2, 6, 7, 3, 3, InitPyTorch, NewRNG(5))
	b.NoInputGrad = true
	x := imgRand(rng, 2, 2*6*7)
	dy := imgRand(rng, 2, 3*4*5)
	a.Forward(x, true)
	a.Backward(dy)
	b.Forward(x, true)
	if dx := b.Backward(dy); dx.Rows != 0 || dx.Data != nil {
		t.Errorf("NoInputGrad Backward returned %d×%d", dx.Rows, dx.Cols)
	}
	if imgMaxDiff(a.Weight.Grad, b.Weight.Grad) != 0 || imgMaxDiff(a.Bias.Grad, b.Bias.Grad) != 0 {
		t.Error("NoInputGrad changed the parameter gradients")
	}
}

// Batch sizes may change between calls: a big batch, then a small one, then
// a medium one must each give the per-example results.
func TestConv2DVaryingBatch(t *testing.T) {
	rng := NewRNG(6)
	conv := NewConv2D(3, 8, 8, 4, 3, InitPyTorch, rng)
	x := imgRand(rng, 9, 3*8*8)
	full := append([]float32(nil), conv.Forward(x, false).Data...)
	n := conv.Forward(x, false).Cols
	for _, r := range [][2]int{{0, 9}, {2, 3}, {4, 9}, {0, 1}} {
		got := conv.Forward(x.Slice(r[0], r[1]), true)
		if d := imgMaxDiff(got.Data, full[r[0]*n:r[1]*n]); d != 0 {
			t.Errorf("rows %v: differ by %g", r, d)
		}
		conv.Backward(imgRand(rng, r[1]-r[0], n))
	}
}

func TestCHWToHWC(t *testing.T) {
	x := NewMatrix(2, 3*2*4)
	for i := range x.Data {
		x.Data[i] = float32(i)
	}
	l := NewCHWToHWC(3, 2, 4)
	y := l.Forward(x, true)
	for e := 0; e < 2; e++ {
		for ch := 0; ch < 3; ch++ {
			for p := 0; p < 8; p++ {
				if got, want := y.Data[e*24+p*3+ch], x.Data[e*24+ch*8+p]; got != want {
					t.Fatalf("example %d channel %d pixel %d: %v, want %v", e, ch, p, got, want)
				}
			}
		}
	}
	back := l.Backward(y)
	if imgMaxDiff(back.Data, x.Data) != 0 {
		t.Error("Backward is not the inverse permutation")
	}
	checkLayerGrad(t, l, imgRand(NewRNG(7), 2, 24), true, 1e-2)

	one := NewCHWToHWC(1, 4, 4)
	x1 := imgRand(NewRNG(8), 3, 16)
	if y1 := one.Forward(x1, true); &y1.Data[0] != &x1.Data[0] {
		t.Error("C=1 conversion copied its input")
	}
	if d1 := one.Backward(x1); &d1.Data[0] != &x1.Data[0] {
		t.Error("C=1 backward copied its input")
	}
}

// convImagePath builds the paper's DT image path (§2.2) and returns the
// flattened size and its parameter count.
func convImagePath(c, h, w int) (layers []Layer, flat int) { return convImagePathLayers(c, h, w, true) }

// convImagePathLayers builds the image path with the ReLUs fused into the
// following pooling or dropout layer (as NoProp's block does), or as
// separate layers.
func convImagePathLayers(c, h, w int, fused bool) (layers []Layer, flat int) {
	rng := NewRNG(1)
	toHWC := NewCHWToHWC(c, h, w)
	c1 := NewConv2D(c, h, w, 32, 3, InitPyTorch, rng)
	p1 := NewMaxPool2x2(c1.OutShape())
	pc, ph, pw := p1.OutShape()
	c2 := NewConv2D(pc, ph, pw, 64, 3, InitPyTorch, rng)
	cc, ch, cw := c2.OutShape()
	c3 := NewConv2D(cc, ch, cw, 128, 3, InitPyTorch, rng)
	p3 := NewMaxPool2x2(c3.OutShape())
	oc, oh, ow := p3.OutShape()
	flat = oc * oh * ow
	fc := NewLinear(flat, 256, InitPyTorch, rng)
	bn := NewBatchNorm1D(256)
	d1, d2, d3 := NewDropout(0.2, rng), NewDropout(0.2, rng), NewDropout(0.2, rng)
	if !fused {
		return []Layer{toHWC, c1, &ReLU{}, p1, d1, c2, &ReLU{}, d2,
			c3, &ReLU{}, p3, d3, fc, bn}, flat
	}
	p1.ReLU, p3.ReLU = true, true
	d2.ReLU, d2.InPlace = true, true
	return []Layer{toHWC, c1, p1, d1, c2, d2, c3, p3, d3, fc, bn}, flat
}

// The fused image path computes what the separate layers compute: the same
// outputs and the same gradients (equal as numbers: a gradient that a
// dropped unit blocks can be -0 in one and +0 in the other).
func TestFusedImagePathMatchesLayers(t *testing.T) {
	run := func(fused bool) (out, dx []float32, grads [][]float32) {
		layers, _ := convImagePathLayers(1, 28, 28, fused)
		net := &Sequential{Layers: layers}
		x := imgRand(NewRNG(2), 5, 28*28)
		for range 2 { // the second step draws new masks
			for _, p := range net.Params() {
				clear(p.Grad)
			}
			y := net.Forward(x, true)
			out = append(out[:0], y.Data...)
			g := net.Backward(imgRand(NewRNG(3), y.Rows, y.Cols))
			dx = append(dx[:0], g.Data...)
		}
		for _, p := range net.Params() {
			grads = append(grads, append([]float32(nil), p.Grad...))
		}
		return out, dx, grads
	}
	o1, d1, g1 := run(false)
	o2, d2, g2 := run(true)
	same := func(what string, a, b []float32) {
		t.Helper()
		for i := range a {
			if a[i] != b[i] {
				t.Fatalf("%s[%d]: %g separate, %g fused", what, i, a[i], b[i])
			}
		}
	}
	same("output", o1, o2)
	same("input gradient", d1, d2)
	for i := range g1 {
		same(fmt.Sprintf("parameter %d gradient", i), g1[i], g2[i])
	}
}

// Pooling and dropout with a fused ReLU equal ReLU followed by the layer,
// also on inputs with ties and zeros of both signs, in evaluation, and for
// channel counts the vector kernels do not take.
func TestFusedReLULayers(t *testing.T) {
	rng := NewRNG(31)
	for _, c := range []int{3, 16} {
		const b, h, w = 4, 7, 6
		x := Matrix{Rows: b, Cols: c * h * w, Data: tiesValues(rng, b*c*h*w)}
		p := NewMaxPool2x2(c, h, w)
		sep := &Sequential{Layers: []Layer{&ReLU{}, NewMaxPool2x2(c, h, w)}}
		p.ReLU = true
		y1, y2 := sep.Forward(x, true), p.Forward(x, true)
		dy := imgRand(rng, y1.Rows, y1.Cols)
		if d := imgMaxDiff(y1.Data, y2.Data); d != 0 {
			t.Errorf("c %d: pooled outputs differ by %g", c, d)
		}
		if d := imgMaxDiff(sep.Backward(dy).Data, p.Backward(dy).Data); d != 0 {
			t.Errorf("c %d: pooling gradients differ by %g", c, d)
		}
	}
	x := Matrix{Rows: 8, Cols: 37, Data: tiesValues(rng, 8*37)}
	for _, train := range []bool{true, false} {
		for _, inPlace := range []bool{false, true} {
			sep := &Sequential{Layers: []Layer{&ReLU{}, NewDropout(0.3, NewRNG(5))}}
			d := NewDropout(0.3, NewRNG(5))
			d.ReLU, d.InPlace = true, inPlace
			y1 := sep.Forward(x, train)
			xc := Matrix{Rows: x.Rows, Cols: x.Cols, Data: append([]float32(nil), x.Data...)}
			y2 := d.Forward(xc, train)
			if diff := imgMaxDiff(y1.Data, y2.Data); diff != 0 {
				t.Errorf("train %v in place %v: outputs differ by %g", train, inPlace, diff)
			}
			dy := imgRand(rng, x.Rows, x.Cols)
			g1 := append([]float32(nil), sep.Backward(dy).Data...)
			g2 := d.Backward(Matrix{Rows: dy.Rows, Cols: dy.Cols, Data: append([]float32(nil), dy.Data...)})
			if diff := imgMaxDiff(g1, g2.Data); diff != 0 {
				t.Errorf("train %v in place %v: gradients differ by %g", train, inPlace, diff)
			}
		}
	}
}

func TestPaperImagePathShapes(t *testing.T) {
	for _, tc := range []struct {
		name            string
		c, h, w         int
		flat, imgParams int
		blockParams     int // Table 5 recount for one DT block, one-hot labels (d = 10)
	}{
		{"MNIST", 1, 28, 28, 2048, 617728, 919946},
		{"CIFAR", 3, 32, 32, 3200, 913216, 1215434},
	} {
		layers, flat := convImagePath(tc.c, tc.h, tc.w)
		if flat != tc.flat {
			t.Errorf("%s: flat size %d, want %d", tc.name, flat, tc.flat)
		}
		img := CountParams((&Sequential{Layers: layers}).Params())
		if img != tc.imgParams {
			t.Errorf("%s: image path has %d parameters, want %d", tc.name, img, tc.imgParams)
		}
		// The rest of a DT block (§2.2): label path FC(10→256)+BN,
		// FC(256)+BN, FC(256)+BN; fusion FC(512→256)+BN, FC(128)+BN, FC(10).
		rest := []Layer{
			NewLinear(10, 256, "", NewRNG(1)), NewBatchNorm1D(256),
			NewLinear(256, 256, "", NewRNG(1)), NewBatchNorm1D(256),
			NewLinear(256, 256, "", NewRNG(1)), NewBatchNorm1D(256),
			NewLinear(512, 256, "", NewRNG(1)), NewBatchNorm1D(256),
			NewLinear(256, 128, "", NewRNG(1)), NewBatchNorm1D(128),
			NewLinear(128, 10, "", NewRNG(1)),
		}
		if n := img + CountParams((&Sequential{Layers: rest}).Params()); n != tc.blockParams {
			t.Errorf("%s: DT block has %d parameters, want %d (paper Table 5: %.2fM)", tc.name, n, tc.blockParams, float64(tc.blockParams)/1e6)
		}
		// One forward/backward of the whole path at batch 2 checks that the
		// chained shapes fit together.
		seq := &Sequential{Layers: layers}
		x := imgRand(NewRNG(2), 2, tc.c*tc.h*tc.w)
		y := seq.Forward(x, true)
		if y.Rows != 2 || y.Cols != 256 {
			t.Fatalf("%s: output %d×%d", tc.name, y.Rows, y.Cols)
		}
		layers[1].(*Conv2D).NoInputGrad = true
		seq.Layers = layers[1:] // CHWToHWC's backward is not needed either
		seq.Backward(imgRand(NewRNG(3), 2, 256))
	}
}

// A training step of a small conv stack allocates nothing once the batch
// size has been seen. The sizes keep every GEMM below gonum's parallel
// threshold (its parallel Sgemm allocates goroutines and a channel per call)
// and every element-wise pass on one goroutine: what is measured is the
// layers' own buffer management.
func TestConvStackNoAllocs(t *testing.T) {
	rng := NewRNG(9)
	toHWC := NewCHWToHWC(2, 10, 9)
	c1 := NewConv2D(2, 10, 9, 4, 3, InitPyTorch, rng) // 8×7
	p1 := NewMaxPool2x2(c1.OutShape())                // 4×3
	pc, ph, pw := p1.OutShape()
	c2 := NewConv2D(pc, ph, pw, 6, 2, InitPyTorch, rng)
	oc, oh, ow := c2.OutShape() // 6×3×2
	c1.NoInputGrad = true
	net := &Sequential{Layers: []Layer{toHWC, c1, &ReLU{}, p1, NewDropout(0.2, rng.Split("d1")),
		c2, &ReLU{}, NewDropout(0.2, rng.Split("d2")),
		NewLinear(oc*oh*ow, 8, InitPyTorch, rng), NewBatchNorm1D(8), &Softmax{}}}
	x := imgRand(rng, 3, 2*10*9)
	dy := imgRand(rng, 3, 8)
	step := func() {
		net.Forward(x, true)
		g := dy
		for i := len(net.Layers) - 1; i >= 1; i-- { // c1 has no input gradient
			g = net.Layers[i].Backward(g)
		}
	}
	step()
	if n := testing.AllocsPerRun(20, step); n != 0 {
		t.Errorf("training step allocates %v times", n)
	}
}

// At the paper's size (MNIST image path, batch 128) a training step
// allocates nothing either, with the project's GEMM behind blas32 (gonum's
// parallel Sgemm allocates per call), on one core and on two (where the
// GEMMs and the element-wise passes split over the worker pools).
func TestPaperImagePathNoAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("batch-128 conv stack")
	}
	for _, procs := range []int{1, 2} {
		t.Run(fmt.Sprint("procs", procs), func(t *testing.T) { paperImagePathNoAllocs(t, procs, FP32) })
		if BF16Available() { // im2col rows in bf16, and the bf16 products
			t.Run(fmt.Sprint("procs", procs, "-bf16"), func(t *testing.T) { paperImagePathNoAllocs(t, procs, BF16) })
		}
	}
}

func paperImagePathNoAllocs(t *testing.T, procs int, p Precision) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
	prev := blas32.Implementation()
	defer blas32.Use(prev)
	blas32.Use(gemm.Implementation{})
	layers, _ := convImagePath(1, 28, 28)
	layers[1].(*Conv2D).NoInputGrad = true
	net := &Sequential{Layers: layers}
	for _, l := range layers {
		if pl, ok := l.(interface{ Params() []*Param }); ok {
			SetProducts(p, pl.Params()...)
		}
	}
	x := imgRand(NewRNG(1), 128, 28*28)
	dy := imgRand(NewRNG(2), 128, 256)
	step := func() {
		net.Forward(x, true)
		g := dy
		for i := len(layers) - 1; i >= 1; i-- {
			g = layers[i].Backward(g)
		}
	}
	step()
	if n := testing.AllocsPerRun(2, step); n != 0 {
		t.Errorf("training step allocates %v times", n)
	}
}

// The parallel paths (im2col, col2im, pooling, dropout split over examples
// or elements) give the same results as the serial ones. Run under -race it
// also checks that the workers write disjoint memory.
func TestConvStackParallelMatchesSerial(t *testing.T) {
	run := func(procs int) (out, dx, gw []float32) {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		rng := NewRNG(11)
		toHWC := NewCHWToHWC(3, 16, 15)
		c1 := NewConv2D(3, 16, 15, 8, 3, InitPyTorch, rng)
		p1 := NewMaxPool2x2(c1.OutShape())
		pc, ph, pw := p1.OutShape()
		c2 := NewConv2D(pc, ph, pw, 16, 3, InitPyTorch, rng)
		net := &Sequential{Layers: []Layer{toHWC, c1, &ReLU{}, p1, NewDropout(0.3, rng.Split("d")), c2, &Softmax{}}}
		x := imgRand(NewRNG(12), 40, 3*16*15)
		y := net.Forward(x, true)
		g := net.Backward(imgRand(NewRNG(13), y.Rows, y.Cols))
		return append([]float32(nil), y.Data...), append([]float32(nil), g.Data...), append([]float32(nil), c1.Weight.Grad...)
	}
	o1, d1, g1 := run(1)
	o2, d2, g2 := run(2)
	if d := imgMaxDiff(o1, o2); d > 1e-6 {
		t.Errorf("outputs differ by %g", d)
	}
	if d := imgMaxDiff(d1, d2); d > 1e-6 {
		t.Errorf("input gradients differ by %g", d)
	}
	if d := imgMaxDiff(g1, g2); d > 1e-5 {
		t.Errorf("weight gradients differ by %g", d)
	}
}

// The direct path of one-channel 3×3 convolutions (Conv2D.direct) computes
// what im2col and the GEMM compute: the same outputs (to rounding: the
// GEMM kernel in use may order its sums differently) and weight gradients
// summed in another order, and the same input gradient.
func TestConv2DDirectMatchesGemm(t *testing.T) {
	if !slices.Contains(vecLevels(), vecAVX512) {
		t.Skip("no AVX-512")
	}
	for _, oc := range []int{32, 64} {
		run := func(level int) (out, dx, gw, gb []float32) {
			withVecLevel(level, func() {
				rng := NewRNG(41)
				c := NewConv2D(1, 11, 9, oc, 3, InitPyTorch, rng)
				if c.direct() != (level == vecAVX512) {
					t.Fatalf("level %d: direct %v", level, c.direct())
				}
				x := imgRand(rng, 9, 11*9)
				for range 2 {
					y := c.Forward(x, true)
					out = clone32(y.Data)
					dx = clone32(c.Backward(imgRand(NewRNG(42), y.Rows, y.Cols)).Data)
				}
				gw, gb = clone32(c.Weight.Grad), clone32(c.Bias.Grad)
			})
			return
		}
		o1, d1, w1, b1 := run(vecAVX512)
		o2, d2, w2, b2 := run(vecGo)
		if d := imgMaxDiff(o1, o2); d > 1e-6 {
			t.Errorf("oc %d: outputs differ by %g", oc, d)
		}
		if d := imgMaxDiff(d1, d2); d > 1e-6 {
			t.Errorf("oc %d: input gradients differ by %g", oc, d)
		}
		if d := imgMaxDiff(w1, w2); d > 1e-4 {
			t.Errorf("oc %d: weight gradients differ by %g", oc, d)
		}
		if d := imgMaxDiff(b1, b2); d > 1e-4 {
			t.Errorf("oc %d: bias gradients differ by %g", oc, d)
		}
		t.Logf("oc %d: max differences: output %g, input gradient %g, weight gradient %g, bias gradient %g",
			oc, imgMaxDiff(o1, o2), imgMaxDiff(d1, d2), imgMaxDiff(w1, w2), imgMaxDiff(b1, b2))
	}
}

// TestIm2colKernels: the vector kernels of im2col (3-channel 3×3 windows;
// windows of k·c a multiple of 16) write the rows the Go loop writes, bit
// for bit, with either extra value, with and without the extra column, on
// non-square images; the values past each row's end are left alone.
func TestIm2colKernels(t *testing.T) {
	forEachVectorKernel(t, func(t *testing.T) {
		for _, tc := range []struct{ c, h, w, k, ld int }{
			{3, 32, 32, 3, 28}, {3, 5, 7, 3, 28}, {3, 3, 3, 3, 31},
			{32, 15, 15, 3, 289}, {16, 7, 5, 3, 144}, {64, 4, 6, 2, 260},
		} {
			oh, ow := tc.h-tc.k+1, tc.w-tc.k+1
			src := imgRand(NewRNG(5), 1, tc.c*tc.h*tc.w).Data
			for _, extra := range []float32{1, 0} {
				var want []float32
				withVecLevel(vecGo, func() {
					want = slices.Repeat([]float32{-7}, oh*ow*tc.ld)
					im2colHWC(want, tc.ld, extra, src, tc.c, tc.w, tc.k, oh, ow)
				})
				got := slices.Repeat([]float32{-7}, oh*ow*tc.ld)
				im2colHWC(got, tc.ld, extra, src, tc.c, tc.w, tc.k, oh, ow)
				if !slices.Equal(got, want) {
					t.Errorf("c %d, %d×%d, k %d, ld %d, extra %v: rows differ from the Go loop's", tc.c, tc.h, tc.w, tc.k, tc.ld, extra)
				}
			}
		}
	})
}

// TestCol2imKernel: the vector kernel of col2im sums what the Go loop sums,
// in the same order, so bit for bit, on non-square images and row strides
// wider than the window (the bias column).
func TestCol2imKernel(t *testing.T) {
	forEachVectorKernel(t, func(t *testing.T) {
		for _, tc := range []struct{ c, h, w, k, ld int }{{32, 15, 15, 3, 289}, {16, 7, 5, 3, 150}, {64, 4, 6, 2, 256}} {
			oh, ow := tc.h-tc.k+1, tc.w-tc.k+1
			src := imgRand(NewRNG(6), oh*ow, tc.ld).Data
			var want []float32
			withVecLevel(vecGo, func() {
				want = make([]float32, tc.c*tc.h*tc.w)
				col2imHWC(want, src, tc.ld, tc.c, tc.w, tc.k, oh, ow)
			})
			got := slices.Repeat([]float32{-7}, tc.c*tc.h*tc.w) // cleared first
			col2imHWC(got, src, tc.ld, tc.c, tc.w, tc.k, oh, ow)
			if !slices.Equal(got, want) {
				t.Errorf("c %d, %d×%d, k %d: sums differ from the Go loop's", tc.c, tc.h, tc.w, tc.k)
			}
		}
	})
}
