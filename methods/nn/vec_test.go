package nn

import (
	"math"
	"testing"
)

// bitsEqual compares float32 slices bit for bit (so that -0 ≠ +0 and NaNs
// with the same payload are equal).
func bitsEqual(t *testing.T, what string, got, want []float32) {
	t.Helper()
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("%s[%d] = %g (%#08x), want %g (%#08x)", what, i, got[i], math.Float32bits(got[i]), want[i], math.Float32bits(want[i]))
		}
	}
}

// forEachVectorKernel runs f at every vector level of this CPU.
func forEachVectorKernel(t *testing.T, f func(t *testing.T)) {
	ls := vecLevels()
	if len(ls) == 0 {
		t.Skip("no vector kernels on this CPU or build")
	}
	defer func(l int) { vecLevel = l }(vecLevel)
	for _, l := range ls {
		t.Run(vecLevelNames[l], func(t *testing.T) {
			vecLevel = l
			f(t)
		})
	}
}

// specialValues mixes ordinary values with the edge cases of the flush and
// the sign: zeros of both signs, values around the flush threshold,
// denormals, large values.
func specialValues(rng *RNG, n int, scale float32) []float32 {
	s := make([]float32, n)
	rng.FillNormal(s, scale)
	special := []float32{0, float32(math.Copysign(0, -1)), 1e-30, -1e-30, 0.99e-30, -1.01e-30, 1e-39, -1e-39, 1e-45, 3e38, -3e38, 1, -1}
	for i := 0; i < n; i += 7 {
		s[i] = special[(i/7)%len(special)]
	}
	return s
}

// TestAdamVectorMatchesGo: the vector Adam kernels give exactly (bit for
// bit, tolerance 0 ulp) the Go loop's result. They use the same float32
// operations in the same order without FMA, and VSQRTPS/VDIVPS are
// correctly rounded like the Go code's float64 square root rounded to
// float32 and its float32 division.
func TestAdamVectorMatchesGo(t *testing.T) {
	forEachVectorKernel(t, func(t *testing.T) {
		rng := NewRNG(21)
		for _, n := range []int{0, 1, 15, 16, 17, 100, 1000, 4099} {
			for c := range 4 {
				k0 := adamKernel{adamConsts: adamConsts{b1: 0.9, c1: 1 - float32(0.9), b2: 0.999, c2: 1 - float32(0.999),
					eps: 1e-8, step: 1e-3 / 0.19, invBc2: float32(1 / math.Sqrt(0.001999)), decay: 1, mThr: flushBits}}
				switch c {
				case 1: // AdamW, flushing the weights
					k0.decay, k0.wThr = 1-1e-5, flushBits
				case 2: // Adam with L2
					k0.l2, k0.wThr = 1e-2, flushBits
				case 3: // AdamW, not flushing this step
					k0.decay = 0.99
				}
				w, g := specialValues(rng, n, 1), specialValues(rng, n, 1e-3)
				m, v := specialValues(rng, n, 1e-3), specialValues(rng, n, 1e-6)
				for i := range v {
					v[i] = float32(math.Abs(float64(v[i]))) // a second moment is never negative
				}
				ref, vec := k0, k0
				ref.w, ref.g, ref.m, ref.v = clone32(w), clone32(g), clone32(m), clone32(v)
				vec.w, vec.g, vec.m, vec.v = clone32(w), clone32(g), clone32(m), clone32(v)
				ref.runGo(0, n)
				vec.run(0, n)
				bitsEqual(t, "w", vec.w, ref.w)
				bitsEqual(t, "g", vec.g, ref.g)
				bitsEqual(t, "m", vec.m, ref.m)
				bitsEqual(t, "v", vec.v, ref.v)
			}
		}
	})
}

func clone32(s []float32) []float32 { return append([]float32(nil), s...) }

// withVecLevel runs f at vector level l and restores the level.
func withVecLevel(l int, f func()) {
	defer func(old int) { vecLevel = old }(vecLevel)
	vecLevel = l
	f()
}

// tiesValues draws from a few values (both zeros among them), so that
// pooling windows have ties and non-positive maxima.
func tiesValues(rng *RNG, n int) []float32 {
	vals := []float32{-2, -1, float32(math.Copysign(0, -1)), 0, 0.5, 1, 1e-39, -1e-39}
	s := make([]float32, n)
	for i := range s {
		s[i] = vals[rng.IntN(len(vals))]
	}
	return s
}

// TestElementwiseVectorMatchesGo: every element-wise vector kernel gives
// the Go loop's bits, for lengths and offsets around the vector width.
func TestElementwiseVectorMatchesGo(t *testing.T) {
	forEachVectorKernel(t, func(t *testing.T) {
		level := vecLevel
		rng := NewRNG(22)
		for _, n := range []int{0, 1, 15, 16, 17, 33, 100, 1000} {
			a, b := specialValues(rng, n, 1), specialValues(rng, n, 1)
			run := func(l int, f func(dst []float32)) []float32 {
				dst := specialValues(NewRNG(1), n, 1)
				withVecLevel(l, func() { f(dst) })
				return dst
			}
			check := func(name string, f func(dst []float32)) {
				t.Helper()
				bitsEqual(t, name, run(level, f), run(vecGo, f))
			}
			check("addTo", func(dst []float32) { addTo(dst, a) })
			check("reluForward", func(dst []float32) { reluForward(dst, a) })
			check("reluBackward", func(dst []float32) { reluBackward(dst, a, b) })
			check("reluMaskScale", func(dst []float32) { reluMaskScale(dst, a, b, 1.25) })
			for _, first := range []int{0, 1, 6, 7} {
				for _, relu := range []bool{false, true} {
					check("dropoutForward", func(dst []float32) {
						dropoutForward(dst, a, first, 0x1234567, dropThreshold(0.3), 1/(1-float32(0.3)), relu)
					})
				}
			}
		}
		for _, c := range []int{16, 32, 48} {
			for _, hw := range [][2]int{{2, 2}, {5, 4}, {6, 7}, {26, 26}} {
				h, w := hw[0], hw[1]
				oh, ow := h/2, w/2
				src := tiesValues(rng, c*h*w)
				dy := specialValues(rng, c*oh*ow, 1)
				for _, relu := range []bool{false, true} {
					var outs, dxs [2][]float32
					var args [2][]uint8
					for i, l := range []int{level, vecGo} {
						outs[i] = make([]float32, c*oh*ow)
						args[i] = make([]uint8, c*oh*ow)
						dxs[i] = specialValues(NewRNG(2), c*h*w, 1) // positions outside the windows keep these
						withVecLevel(l, func() {
							maxPool2x2HWC(outs[i], args[i], src, c, w, oh, ow, relu)
							maxUnpool2x2HWC(dxs[i], args[i], dy, c, w, oh, ow)
						})
					}
					bitsEqual(t, "pool out", outs[0], outs[1])
					for i := range args[0] {
						if args[0][i] != args[1][i] {
							t.Fatalf("c %d %d×%d relu %v: arg[%d] = %d, want %d", c, h, w, relu, i, args[0][i], args[1][i])
						}
					}
					bitsEqual(t, "pool dx", dxs[0], dxs[1])
				}
			}
		}
	})
}

func bitsEqual64(t *testing.T, what string, got, want []float64) {
	t.Helper()
	for i := range want {
		if math.Float64bits(got[i]) != math.Float64bits(want[i]) {
			t.Fatalf("%s[%d] = %g, want %g", what, i, got[i], want[i])
		}
	}
}

// TestBatchNormVectorMatchesGo: BatchNorm1D's row kernels give the Go
// loops' bits, and so does a whole training step of the layer.
func TestBatchNormVectorMatchesGo(t *testing.T) {
	forEachVectorKernel(t, func(t *testing.T) {
		level := vecLevel
		rng := NewRNG(23)
		for _, n := range []int{1, 16, 17, 40, 256} {
			x, g := specialValues(rng, n, 2), specialValues(rng, n, 1)
			p := [5][]float32{specialValues(rng, n, 1), specialValues(rng, n, 1), specialValues(rng, n, 1), specialValues(rng, n, 1), specialValues(rng, n, 1)}
			var acc, accs, s, sx [2][]float64
			var y, xh, d [2][]float32
			for i, l := range []int{level, vecGo} {
				acc[i], accs[i], s[i], sx[i] = make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)
				for j := range acc[i] {
					acc[i][j], accs[i][j], s[i][j], sx[i][j] = float64(j), -float64(j), 0.5, 0.25
				}
				y[i], xh[i], d[i] = make([]float32, n), make([]float32, n), make([]float32, n)
				withVecLevel(l, func() {
					accumulate64(acc[i], x)
					accumulateSqDev64(accs[i], x, p[0])
					bnNormalizeRow(y[i], xh[i], x, p[0], p[1], p[2], p[3])
					bnGradSums(s[i], sx[i], g, p[4])
					bnGradInput(d[i], g, p[4], p[1], p[2], p[3])
				})
			}
			bitsEqual64(t, "accumulate64", acc[0], acc[1])
			bitsEqual64(t, "accumulateSqDev64", accs[0], accs[1])
			bitsEqual(t, "bnNormalizeRow y", y[0], y[1])
			bitsEqual(t, "bnNormalizeRow xhat", xh[0], xh[1])
			bitsEqual64(t, "bnGradSums s", s[0], s[1])
			bitsEqual64(t, "bnGradSums sx", sx[0], sx[1])
			bitsEqual(t, "bnGradInput", d[0], d[1])
		}
		// A whole layer step.
		var outs, dxs [2][]float32
		for i, l := range []int{level, vecGo} {
			withVecLevel(l, func() {
				bn := NewBatchNorm1D(40)
				rng := NewRNG(24)
				rng.FillUniform(bn.Gamma.Value, 2)
				x := imgRand(rng, 9, 40)
				outs[i] = clone32(bn.Forward(x, true).Data)
				dxs[i] = clone32(bn.Backward(imgRand(rng, 9, 40)).Data)
			})
		}
		bitsEqual(t, "BatchNorm1D output", outs[0], outs[1])
		bitsEqual(t, "BatchNorm1D input gradient", dxs[0], dxs[1])
	})
}
