package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

func TestBF16Rounding(t *testing.T) {
	for _, tc := range []struct {
		in   uint32 // float32 bits
		want uint32 // bf16 bits
	}{
		{0x3f800000, 0x3f80},        // 1
		{0x3f808000, 0x3f80},        // a tie, to the even 0x3f80
		{0x3f818000, 0x3f82},        // a tie, to the even 0x3f82
		{0x3f808001, 0x3f81},        // above the tie
		{0x3f807fff, 0x3f80},        // below it
		{0xbf808001, 0xbf81},        // negative
		{0x7f7fffff, 0x7f80},        // the largest float rounds to +Inf
		{0x7f800000, 0x7f80},        // +Inf
		{0x7fc00001, 0x7fc0 | 0x40}, // NaN stays NaN
		{0x7f800001, 0x7f80 | 0x40}, // a NaN whose payload is low bits
		{0x00000001, 0x0000},        // the smallest subnormal rounds to 0
		{math.Float32bits(-0), 0x0000},
	} {
		if got := bf16(math.Float32frombits(tc.in)); got != tc.want {
			t.Errorf("bf16(%#08x) = %#04x, want %#04x", tc.in, got, tc.want)
		}
	}
}

// TestSgemmBF16Exact multiplies small integers, which bf16 holds exactly and
// whose products and sums float32 holds exactly, so SgemmBF16 must equal
// gonum's float32 product on every shape (odd k pads a pair, edge tiles,
// several KC blocks of pairs) and transpose, except where beta·C rounds.
func TestSgemmBF16Exact(t *testing.T) {
	if !HasBF16() {
		t.Skip("no AVX512_BF16 on this CPU")
	}
	forEachBF16(t, func(t *testing.T) {
		exactCases(rand.New(rand.NewPCG(3, 4)), []float32{1, -0.5}, func(c exactCase) {
			got := c.c0.clone()
			SgemmBF16(c.tA, c.tB, c.m, c.n, c.k, c.alpha, c.a.data(), c.a.stride, c.b.data(), c.b.stride, c.beta, got.data(), got.stride)
			got.checkPadding(t, exactSentinel)
			compare(t, "bf16 "+c.desc, got, c.want, c.beta == 0.3)
		})
	})
}

// forEachBF16 runs f as a subtest with each bf16 kernel of this CPU.
func forEachBF16(t *testing.T, f func(t *testing.T)) {
	for _, k := range bf16Kernels {
		t.Run(k.name, func(t *testing.T) {
			defer setBF16Kernel(k.name)()
			f(t)
		})
	}
}

// TestSgemmBF16Rounds checks, on random floats, that SgemmBF16 is the
// float32 product of the operands rounded to bf16 (up to the order of the
// float32 sums) and not the product of the operands themselves.
func TestSgemmBF16Rounds(t *testing.T) {
	if !HasBF16() {
		t.Skip("no AVX512_BF16 on this CPU")
	}
	r := rand.New(rand.NewPCG(5, 6))
	const m, n, k = 50, 70, 301
	a, b := newMat(m, k, 0), newMat(k, n, 0)
	a.fill(func() float32 { return float32(r.NormFloat64()) })
	b.fill(func() float32 { return float32(r.NormFloat64()) })
	round := func(x mat) mat {
		y := x.clone()
		for i, v := range y.buf {
			y.buf[i] = math.Float32frombits(bf16(v) << 16)
		}
		return y
	}
	rounded, exact := newMat(m, n, 0), newMat(m, n, 0)
	ra, rb := round(a), round(b)
	gonum.Implementation{}.Sgemm(blas.NoTrans, blas.NoTrans, m, n, k, 1, ra.data(), ra.stride, rb.data(), rb.stride, 0, rounded.data(), rounded.stride)
	gonum.Implementation{}.Sgemm(blas.NoTrans, blas.NoTrans, m, n, k, 1, a.data(), a.stride, b.data(), b.stride, 0, exact.data(), exact.stride)
	forEachBF16(t, func(t *testing.T) {
		got := newMat(m, n, 0)
		SgemmBF16(blas.NoTrans, blas.NoTrans, m, n, k, 1, a.data(), a.stride, b.data(), b.stride, 0, got.data(), got.stride)
		var maxRounded, maxExact float64
		for i := 0; i < m; i++ {
			for j := 0; j < n; j++ {
				g := float64(got.buf[i*got.stride+j])
				maxRounded = max(maxRounded, math.Abs(g-float64(rounded.buf[i*rounded.stride+j])))
				maxExact = max(maxExact, math.Abs(g-float64(exact.buf[i*exact.stride+j])))
			}
		}
		// Sums of 301 terms of size about 1 and total about 17: float32
		// reordering moves them by about 1e-5; bf16 rounding by about 1e-1.
		if maxRounded > 1e-4 || maxExact < 1e-2 {
			t.Errorf("max |bf16 − product of rounded operands| = %g (want ≤ 1e-4), max |bf16 − float32 product| = %g (want ≥ 1e-2)", maxRounded, maxExact)
		}
	})
}

// TestSgemmBF16SharedPairing: on operands large enough that two goroutines
// share their conversion to pairs (a convolution's im2col matrix, an odd
// k; a wide B), every transpose gives gonum's product of the small integers
// exactly, as one goroutine does.
func TestSgemmBF16SharedPairing(t *testing.T) {
	if !HasBF16() {
		t.Skip("no AVX512_BF16 on this CPU")
	}
	defer SetThreads(0)
	r := rand.New(rand.NewPCG(7, 8))
	small := func() float32 { return float32(r.IntN(9) - 4) }
	for _, sh := range []struct{ m, n, k int }{{5000, 32, 27}, {40, 2048, 301}} {
		for _, tA := range []blas.Transpose{blas.NoTrans, blas.Trans} {
			for _, tB := range []blas.Transpose{blas.NoTrans, blas.Trans} {
				a, b := newMat(sh.m, sh.k, 0), newMat(sh.k, sh.n, 0)
				if tA == blas.Trans {
					a = newMat(sh.k, sh.m, 0)
				}
				if tB == blas.Trans {
					b = newMat(sh.n, sh.k, 0)
				}
				a.fill(small)
				b.fill(small)
				want := newMat(sh.m, sh.n, 0)
				gonum.Implementation{}.Sgemm(tA, tB, sh.m, sh.n, sh.k, 1, a.data(), a.stride, b.data(), b.stride, 0, want.data(), want.stride)
				forEachBF16(t, func(t *testing.T) {
					for _, threads := range []int{1, 2} {
						SetThreads(threads)
						got := newMat(sh.m, sh.n, 0)
						SgemmBF16(tA, tB, sh.m, sh.n, sh.k, 1, a.data(), a.stride, b.data(), b.stride, 0, got.data(), got.stride)
						compare(t, fmt.Sprintf("%d×%d×%d %c%c, %d thread(s)", sh.m, sh.n, sh.k, tA, tB, threads), got, want, false)
					}
				})
			}
		}
	}
}

// TestPairAcrossT16 checks the one-pass pairing and transpose against its
// definition, pair i of column c from rows 2i and 2i+1, for whole and
// masked blocks of columns, rounding ties, NaN and an output stride wider
// than 16, writing nothing else.
func TestPairAcrossT16(t *testing.T) {
	if !HasBF16() {
		t.Skip("no bf16 instructions")
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for _, m := range []int{1, 7, 16, 17, 40} {
		const lds, ldd = 45, 20
		src := make([]float32, 31*lds+m)
		for i := range src {
			src[i] = float32(rng.NormFloat64())
		}
		src[3] = math.Float32frombits(0x3f818000) // a tie
		src[lds+1] = float32(math.NaN())
		const untouched = 0xdeadbeef
		dst := make([]uint32, (m+1)*ldd)
		for i := range dst {
			dst[i] = untouched
		}
		pairAcrossT16BF16(&dst[0], ldd, &src[0], lds, m, &interleave[0])
		for c := 0; c <= m; c++ {
			for i := 0; i < ldd; i++ {
				want := uint32(untouched)
				if c < m && i < 16 {
					want = bf16(src[2*i*lds+c]) | bf16(src[(2*i+1)*lds+c])<<16
				}
				if got := dst[c*ldd+i]; got != want {
					t.Fatalf("m %d: element %d of output row %d = %#08x, want %#08x", m, i, c, got, want)
				}
			}
		}
	}
}
