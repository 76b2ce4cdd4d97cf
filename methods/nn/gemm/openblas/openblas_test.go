//go:build openblas

package openblas

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"

	"github.com/noprop/noprop/methods/nn/gemm"
	"github.com/noprop/noprop/methods/nn/gemm/internal/benchshapes"
)

// TestSgemm compares OpenBLAS with gonum on small-integer inputs (exact in
// float32 for beta 0 and 1) for odd shapes, all transposes and padded
// leading dimensions.
func TestSgemm(t *testing.T) {
	t.Logf("OpenBLAS core %s, %d threads, config %s", Kernel(), Threads(), Config())
	r := rand.New(rand.NewPCG(1, 2))
	ints := func(n int) []float32 {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(r.IntN(7) - 3)
		}
		return x
	}
	for _, sh := range [][3]int{{1, 1, 1}, {37, 300, 53}, {41, 129, 70}, {100, 33, 65}, {13, 515, 77}, {130, 700, 1100}} {
		m, n, k := sh[0], sh[1], sh[2]
		for _, tA := range []blas.Transpose{blas.NoTrans, blas.Trans} {
			for _, tB := range []blas.Transpose{blas.NoTrans, blas.Trans} {
				ar, ac := m, k
				if tA == blas.Trans {
					ar, ac = k, m
				}
				br, bc := k, n
				if tB == blas.Trans {
					br, bc = n, k
				}
				lda, ldb, ldc := ac+3, bc+2, n+1
				a, b := ints((ar-1)*lda+ac), ints((br-1)*ldb+bc)
				for _, alpha := range []float32{1, -0.5} {
					for _, beta := range []float32{0, 1} {
						c := ints((m-1)*ldc + n)
						want := append([]float32(nil), c...)
						gonum.Implementation{}.Sgemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, want, ldc)
						Implementation{}.Sgemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
						for i := range c {
							if c[i] != want[i] {
								t.Fatalf("%s: c[%d] = %v, want %v", fmt.Sprintf("%dx%dx%d tA=%c tB=%c alpha=%v beta=%v", m, n, k, tA, tB, alpha, beta), i, c[i], want[i])
							}
						}
					}
				}
			}
		}
	}
}

// BenchmarkSgemm times OpenBLAS on the same shapes as package gemm's
// BenchmarkSgemm and, right before each, package gemm itself, so the two
// are compared minutes apart at most even on a busy machine. The
// sub-benchmark names carry gemm's kernel and OpenBLAS's core type.
func BenchmarkSgemm(b *testing.B) {
	for _, s := range benchshapes.Shapes {
		first := true
		b.Run(s.Name+"/gemm-"+gemm.Kernel(), func(b *testing.B) {
			if first {
				// Let OpenBLAS's threads, which spin for a while after a
				// call, go idle (not timed: Bench resets the timer).
				time.Sleep(200 * time.Millisecond)
				first = false
			}
			benchshapes.Bench(b, gemm.Implementation{}, s)
		})
		b.Run(s.Name+"/openblas-"+Kernel(), func(b *testing.B) { benchshapes.Bench(b, Implementation{}, s) })
	}
}
