// Package benchshapes holds the GEMM shapes that package gemm and its
// openblas cross-check benchmark, so both report the same rows.
package benchshapes

import (
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/blas"
)

// Shape is C(m×n) = op(A)(m×k) · op(B)(k×n).
type Shape struct {
	Name    string
	M, N, K int
	TA, TB  blas.Transpose
}

// Shapes are the training shapes of docs/performance.md: MLP layers at batch 128
// (forward, weight gradient dW = Xᵀ·dZ, input gradient dX = dZ·Wᵀ) and the
// im2col products of a small CNN.
var Shapes = []Shape{
	{"fwd-256", 128, 256, 784, blas.NoTrans, blas.NoTrans},
	{"fwd-784", 128, 1024, 784, blas.NoTrans, blas.NoTrans},
	{"fwd-1024", 128, 1024, 1024, blas.NoTrans, blas.NoTrans},
	{"wgrad", 1024, 1024, 128, blas.Trans, blas.NoTrans},
	{"dgrad", 128, 1024, 1024, blas.NoTrans, blas.Trans},
	{"conv1", 86528, 32, 9, blas.NoTrans, blas.NoTrans},
	{"conv2", 18432, 64, 288, blas.NoTrans, blas.NoTrans},
	{"conv2-wgrad", 288, 64, 18432, blas.Trans, blas.NoTrans},
	{"conv3", 15488, 128, 576, blas.NoTrans, blas.NoTrans},
	{"conv3-wgrad", 576, 128, 15488, blas.Trans, blas.NoTrans},
}

// Bench times impl.Sgemm on s with uniform(−0.5, 0.5) inputs, beta = 0, and
// reports GFLOP/s (2·m·n·k per call).
func Bench(b *testing.B, impl blas.Float32, s Shape) {
	r := rand.New(rand.NewPCG(1, 1))
	fill := func(n int) []float32 {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(r.Float64() - 0.5)
		}
		return x
	}
	a, bb, c := fill(s.M*s.K), fill(s.K*s.N), make([]float32, s.M*s.N)
	lda, ldb := s.K, s.N
	if s.TA != blas.NoTrans {
		lda = s.M
	}
	if s.TB != blas.NoTrans {
		ldb = s.K
	}
	impl.Sgemm(s.TA, s.TB, s.M, s.N, s.K, 1, a, lda, bb, ldb, 0, c, s.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		impl.Sgemm(s.TA, s.TB, s.M, s.N, s.K, 1, a, lda, bb, ldb, 0, c, s.N)
	}
	b.ReportMetric(2*float64(s.M)*float64(s.N)*float64(s.K)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}
