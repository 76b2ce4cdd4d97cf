//go:build openblas

package openblas

import (
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"testing"
	"time"

	"gonum.org/v1/gonum/blas"

	"github.com/noprop/noprop/methods/nn/gemm"
	"github.com/noprop/noprop/methods/nn/gemm/internal/benchshapes"
)

// TestCompare times package gemm and OpenBLAS on the benchmark shapes in
// interleaved rounds (the method of docs/performance.md: a warm-up call, then calls
// for at least 0.3 s, per backend per round; medians over the rounds) and
// prints a table. It runs only with GEMM_COMPARE=1 (GEMM_COMPARE_ROUNDS sets
// the rounds, default 5):
//
//	GEMM_COMPARE=1 OPENBLAS_CORETYPE= OPENBLAS_NUM_THREADS=2 \
//	  go test -tags openblas -run Compare -v ./methods/nn/gemm/openblas/
func TestCompare(t *testing.T) {
	if os.Getenv("GEMM_COMPARE") == "" {
		t.Skip("set GEMM_COMPARE=1 to run")
	}
	rounds := 5
	fmt.Sscan(os.Getenv("GEMM_COMPARE_ROUNDS"), &rounds)
	backends := []struct {
		name string
		impl blas.Float32
	}{
		{"gemm-" + gemm.Kernel(), gemm.Implementation{}},
		{"openblas-" + Kernel(), Implementation{}},
	}
	type key struct{ shape, backend int }
	res := map[key][]float64{}
	r := rand.New(rand.NewPCG(1, 1))
	for round := 0; round < rounds; round++ {
		for si, s := range benchshapes.Shapes {
			a, b, c := make([]float32, s.M*s.K), make([]float32, s.K*s.N), make([]float32, s.M*s.N)
			for _, x := range [][]float32{a, b} {
				for i := range x {
					x[i] = float32(r.Float64() - 0.5)
				}
			}
			lda, ldb := s.K, s.N
			if s.TA != blas.NoTrans {
				lda = s.M
			}
			if s.TB != blas.NoTrans {
				ldb = s.K
			}
			for bi, be := range backends {
				// Let OpenBLAS's idle threads stop spinning before timing
				// the next backend.
				time.Sleep(200 * time.Millisecond)
				call := func() { be.impl.Sgemm(s.TA, s.TB, s.M, s.N, s.K, 1, a, lda, b, ldb, 0, c, s.N) }
				call()
				n, start := 0, time.Now()
				for n < 2 || time.Since(start) < 300*time.Millisecond {
					call()
					n++
				}
				flops := 2 * float64(s.M) * float64(s.N) * float64(s.K) * float64(n)
				res[key{si, bi}] = append(res[key{si, bi}], flops/time.Since(start).Seconds()/1e9)
			}
		}
	}
	fmt.Printf("GFLOP/s, median (min–max) of %d interleaved rounds; gemm threads %d, OpenBLAS threads %d\n", rounds, gemm.Threads(), Threads())
	fmt.Printf("%-12s", "shape")
	for _, be := range backends {
		fmt.Printf(" %22s", be.name)
	}
	fmt.Println()
	for si, s := range benchshapes.Shapes {
		fmt.Printf("%-12s", s.Name)
		for bi := range backends {
			v := slices.Sorted(slices.Values(res[key{si, bi}]))
			fmt.Printf(" %8.1f (%5.1f–%5.1f)", v[len(v)/2], v[0], v[len(v)-1])
		}
		fmt.Println()
	}
}
