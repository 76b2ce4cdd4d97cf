package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/blas"
)

func TestPairRow(t *testing.T) {
	if !HasBF16() {
		t.Skip("no bf16 instructions on this CPU")
	}
	r := rand.New(rand.NewPCG(7, 8))
	for _, n := range []int{1, 2, 31, 32, 33, 64, 97} {
		src := make([]float32, n)
		for i := range src {
			src[i] = float32(r.NormFloat64())
		}
		src[n/2] = float32(math.NaN())
		dst := make([]float32, (n+1)/2+1)
		dst[len(dst)-1] = 7 // past the pairs: untouched
		PairRow(dst, src)
		for p := 0; p < (n+1)/2; p++ {
			want := bf16(src[2*p])
			if 2*p+1 < n {
				want |= bf16(src[2*p+1]) << 16
			}
			if got := math.Float32bits(dst[p]); got != want {
				t.Errorf("n=%d: slot %d = %#08x, want %#08x", n, p, got, want)
			}
		}
		if dst[len(dst)-1] != 7 {
			t.Errorf("n=%d: PairRow wrote past its (n+1)/2 slots", n)
		}
	}
}

// pairRows writes the rows of x with PairRow at stride ld, zero past
// their pairs.
func pairRows(x mat, ld int) []float32 {
	out := make([]float32, x.rows*ld)
	for i := 0; i < x.rows; i++ {
		PairRow(out[i*ld:(i+1)*ld], x.buf[i*x.stride:i*x.stride+x.cols])
	}
	return out
}

// TestSgemmBF16Paired checks, with every bf16 kernel, that the products of
// operands already in bf16 are SgemmBF16's of the floats to the bit: A's
// rows (SgemmBF16PairedA: the convolution's forward product) and A's
// transpose (SgemmBF16PairedTN: its weight gradient), over odd sizes, edge
// tiles, several KC blocks, both sides of the m ≥ n split, alpha and beta.
func TestSgemmBF16Paired(t *testing.T) {
	if !HasBF16() {
		t.Skip("no bf16 instructions on this CPU")
	}
	r := rand.New(rand.NewPCG(9, 10))
	normal := func() float32 { return float32(r.NormFloat64()) }
	forEachBF16(t, func(t *testing.T) {
		for _, s := range []struct{ m, n, k int }{
			{1, 1, 1}, {13, 7, 3}, {37, 64, 290}, {290, 64, 37}, {290, 64, 3000},
			{577, 128, 2100}, {25, 40, 2049}, {64, 300, 500}, {100, 33, 65},
		} {
			for _, ab := range [][2]float32{{1, 0}, {-0.5, 1}, {1, 0.3}} {
				alpha, beta := ab[0], ab[1]
				desc := fmt.Sprintf("m=%d n=%d k=%d alpha=%g beta=%g", s.m, s.n, s.k, alpha, beta)
				c0 := newMat(s.m, s.n, 0)
				c0.fill(normal)

				// A is m×k: its rows in bf16.
				a, b := newMat(s.m, s.k, 0), newMat(s.k, s.n, 0)
				a.fill(normal)
				b.fill(normal)
				want, got := c0.clone(), c0.clone()
				SgemmBF16(blas.NoTrans, blas.NoTrans, s.m, s.n, s.k, alpha, a.data(), a.stride, b.data(), b.stride, beta, want.data(), want.stride)
				ld := PairStride(s.k) + 1
				SgemmBF16PairedA(s.m, s.n, s.k, alpha, pairRows(a, ld), ld, b.data(), b.stride, beta, got.data(), got.stride)
				got.checkPadding(t, 0)
				compareBits(t, "PairedA "+desc, got, want)

				// A is k×m: Cᵀ·… from its rows in bf16, against the
				// same product (always the swapped one with tiles) from
				// floats.
				at := newMat(s.k, s.m, 0)
				at.fill(normal)
				want, got = c0.clone(), c0.clone()
				kern := bf16Active.Load()
				if kern.tileN != nil {
					sgemmTilesSwapped(kern, floats, s.m, s.n, s.k, alpha, at.data(), at.stride, b.data(), b.stride, beta, want.data(), want.stride)
				} else {
					SgemmBF16(blas.Trans, blas.NoTrans, s.m, s.n, s.k, alpha, at.data(), at.stride, b.data(), b.stride, beta, want.data(), want.stride)
				}
				ld = (s.m+1)/2 + 2
				SgemmBF16PairedTN(s.m, s.n, s.k, alpha, pairRows(at, ld), ld, b.data(), b.stride, beta, got.data(), got.stride)
				got.checkPadding(t, 0)
				compareBits(t, "PairedTN "+desc, got, want)
			}
		}
	})
}

// compareBits fails t at the first element of got that differs from want
// in any bit.
func compareBits(t *testing.T, desc string, got, want mat) {
	t.Helper()
	for i := 0; i < got.rows; i++ {
		for j := 0; j < got.cols; j++ {
			g, w := got.buf[i*got.stride+j], want.buf[i*want.stride+j]
			if math.Float32bits(g) != math.Float32bits(w) {
				t.Errorf("%s: C[%d][%d] = %v, want %v", desc, i, j, g, w)
				return
			}
		}
	}
}

func TestSgemmBF16PairedPanics(t *testing.T) {
	if !HasBF16() {
		t.Skip("no bf16 instructions on this CPU")
	}
	a, b, c := make([]float32, 64), make([]float32, 64), make([]float32, 64)
	for _, tc := range []struct {
		name string
		f    func()
		want string
	}{
		{"PairedA short lda", func() { SgemmBF16PairedA(2, 2, 64, 1, a, 1, b, 2, 0, c, 2) }, badLdA},
		{"PairedA short a", func() { SgemmBF16PairedA(4, 2, 2, 1, a[:1], PairStride(2), b, 2, 0, c, 2) }, shortA},
		{"PairedA negative k", func() { SgemmBF16PairedA(2, 2, -1, 1, a, 1, b, 2, 0, c, 2) }, kLT0},
		{"PairedTN short lda", func() { SgemmBF16PairedTN(8, 2, 2, 1, a, 3, b, 2, 0, c, 2) }, badLdA},
		{"PairedTN short a", func() { SgemmBF16PairedTN(8, 2, 20, 1, a, 4, b, 2, 0, c, 2) }, shortA},
		{"PairedTN short c", func() { SgemmBF16PairedTN(8, 8, 2, 1, a, 4, b, 8, 0, c[:10], 8) }, shortC},
	} {
		if got := panicMsg(tc.f); got != tc.want {
			t.Errorf("%s: panic %v, want %q", tc.name, got, tc.want)
		}
	}
}
