package gemm

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"

	"github.com/noprop/noprop/methods/nn/gemm/internal/benchshapes"
)

// BenchmarkSgemm compares this package (active kernel, Threads goroutines)
// with gonum's native Sgemm on the training shapes of docs/performance.md:
//
//	go test -bench Sgemm -run '^$' ./methods/nn/gemm/
func BenchmarkSgemm(b *testing.B) {
	for _, s := range benchshapes.Shapes {
		b.Run(s.Name+"/gemm-"+Kernel(), func(b *testing.B) { benchshapes.Bench(b, Implementation{}, s) })
		b.Run(s.Name+"/gonum", func(b *testing.B) { benchshapes.Bench(b, gonum.Implementation{}, s) })
	}
}

// BenchmarkSgemmP1 is BenchmarkSgemm on one goroutine (SetThreads(1)): the
// per-core efficiency, less sensitive to a busy machine.
func BenchmarkSgemmP1(b *testing.B) {
	defer SetThreads(Threads())
	SetThreads(1)
	for _, s := range benchshapes.Shapes {
		b.Run(s.Name+"/gemm-"+Kernel(), func(b *testing.B) { benchshapes.Bench(b, Implementation{}, s) })
	}
}

// BenchmarkSgemmKernels runs every kernel this machine has (forced through
// the test hook) on the forward and dgrad shapes, Threads goroutines.
func BenchmarkSgemmKernels(b *testing.B) {
	for _, name := range kernelNames() {
		for _, s := range benchshapes.Shapes {
			if s.Name != "fwd-1024" && s.Name != "dgrad" {
				continue
			}
			b.Run(s.Name+"/"+name, func(b *testing.B) {
				defer setKernel(name)()
				benchshapes.Bench(b, Implementation{}, s)
			})
		}
	}
}

// BenchmarkSgemmTraffic times only the memory traffic a product of each
// shape cannot avoid, reading A once and writing C once (copying an m×k
// slice, clearing an m×n one), and reports it as the GFLOP/s of a product
// bound by that traffic alone. Beside BenchmarkSgemm's rows it tells a
// shape the kernel could speed up from one bound by memory: with K = 9
// (conv1) each element of C written carries 9 multiply-adds.
//
//	go test -bench 'Sgemm(P1|Traffic)' -run '^$' ./methods/nn/gemm/
func BenchmarkSgemmTraffic(b *testing.B) {
	for _, s := range benchshapes.Shapes {
		b.Run(s.Name, func(b *testing.B) {
			a, a2, c := make([]float32, s.M*s.K), make([]float32, s.M*s.K), make([]float32, s.M*s.N)
			b.SetBytes(int64(4 * (len(a) + len(c))))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				copy(a2, a)
				clear(c)
			}
			b.StopTimer()
			flops := 2 * float64(s.M) * float64(s.N) * float64(s.K) * float64(b.N)
			b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// BenchmarkSgemmDirect runs the shapes whose A panels are read unpacked
// (n ≤ 128: the convolution products) both ways, packed and unpacked,
// one goroutine, side by side in one run:
//
//	go test -bench SgemmDirect -run '^$' ./methods/nn/gemm/
func BenchmarkSgemmDirect(b *testing.B) {
	defer SetThreads(Threads())
	SetThreads(1)
	for _, s := range benchshapes.Shapes {
		if s.N > directMaxN || s.M < mr {
			continue
		}
		for _, direct := range []bool{false, true} {
			name := s.Name + "/packed"
			if direct {
				name = s.Name + "/unpacked"
			}
			b.Run(name, func(b *testing.B) {
				defer func(d bool, dt int) { directOn, directTMaxM = d, dt }(directOn, directTMaxM)
				directOn = direct
				if direct {
					directTMaxM = math.MaxInt
				}
				benchshapes.Bench(b, Implementation{}, s)
			})
		}
	}
}

// BenchmarkSgemmBF16 runs the training shapes in float32 and in bf16
// (SgemmBF16 with each bf16 kernel of the CPU, its conversion of the
// operands included), one goroutine, side by side:
//
//	go test -bench SgemmBF16 -run '^$' ./methods/nn/gemm/
func BenchmarkSgemmBF16(b *testing.B) {
	if !HasBF16() {
		b.Skip("no AVX512_BF16 on this CPU")
	}
	defer SetThreads(Threads())
	SetThreads(1)
	for _, s := range benchshapes.Shapes {
		b.Run(s.Name+"/fp32", func(b *testing.B) { benchshapes.Bench(b, Implementation{}, s) })
		for _, k := range bf16Kernels {
			b.Run(s.Name+"/"+k.name, func(b *testing.B) {
				defer setBF16Kernel(k.name)()
				benchshapes.Bench(b, bf16Impl{}, s)
			})
		}
	}
}

// BenchmarkSgemmBF16CIFAR runs the products of the paper's conv block on
// CIFAR (batch 128) in float32 and with each bf16 kernel, on all the
// goroutines as a training step does:
//
//	go test -bench SgemmBF16CIFAR -run '^$' ./methods/nn/gemm/
func BenchmarkSgemmBF16CIFAR(b *testing.B) {
	if !HasBF16() {
		b.Skip("no bf16 instructions on this CPU")
	}
	for _, s := range []benchshapes.Shape{
		{Name: "conv1-wgrad", M: 28, N: 32, K: 115200, TA: blas.Trans, TB: blas.NoTrans},
		{Name: "conv2", M: 21632, N: 64, K: 289, TA: blas.NoTrans, TB: blas.NoTrans},
		{Name: "conv2-dgrad", M: 21632, N: 288, K: 64, TA: blas.NoTrans, TB: blas.Trans},
		{Name: "conv2-wgrad", M: 289, N: 64, K: 21632, TA: blas.Trans, TB: blas.NoTrans},
		{Name: "conv3", M: 15488, N: 128, K: 577, TA: blas.NoTrans, TB: blas.NoTrans},
		{Name: "conv3-dgrad", M: 15488, N: 576, K: 128, TA: blas.NoTrans, TB: blas.Trans},
		{Name: "conv3-wgrad", M: 577, N: 128, K: 15488, TA: blas.Trans, TB: blas.NoTrans},
	} {
		b.Run(s.Name+"/fp32", func(b *testing.B) { benchshapes.Bench(b, Implementation{}, s) })
		for _, k := range bf16Kernels {
			b.Run(s.Name+"/"+k.name, func(b *testing.B) {
				defer setBF16Kernel(k.name)()
				benchshapes.Bench(b, bf16Impl{}, s)
			})
			if s.TB == blas.NoTrans { // the im2col matrix is A: in bf16 as Conv2D builds it
				b.Run(s.Name+"/"+k.name+"-rows", func(b *testing.B) {
					defer setBF16Kernel(k.name)()
					benchPaired(b, s)
				})
			}
		}
	}
}

// benchPaired times SgemmBF16PairedA (s.TA = NoTrans) or
// SgemmBF16PairedTN on s, its A written in bf16 beforehand.
func benchPaired(b *testing.B, s benchshapes.Shape) {
	r := rand.New(rand.NewPCG(1, 1))
	rows, cols := s.M, s.K
	if s.TA != blas.NoTrans {
		rows, cols = s.K, s.M
	}
	ld := PairStride(cols)
	a, x := make([]float32, rows*ld), make([]float32, cols)
	for i := 0; i < rows; i++ {
		for j := range x {
			x[j] = float32(r.Float64() - 0.5)
		}
		PairRow(a[i*ld:], x)
	}
	bb, c := make([]float32, s.K*s.N), make([]float32, s.M*s.N)
	for i := range bb {
		bb[i] = float32(r.Float64() - 0.5)
	}
	mul := func() {
		if s.TA == blas.NoTrans {
			SgemmBF16PairedA(s.M, s.N, s.K, 1, a, ld, bb, s.N, 0, c, s.N)
		} else {
			SgemmBF16PairedTN(s.M, s.N, s.K, 1, a, ld, bb, s.N, 0, c, s.N)
		}
	}
	mul()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		mul()
	}
	b.ReportMetric(2*float64(s.M)*float64(s.N)*float64(s.K)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// bf16Impl routes Sgemm to SgemmBF16, for benchshapes.Bench.
type bf16Impl struct{ Implementation }

func (bf16Impl) Sgemm(tA, tB blas.Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	SgemmBF16(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}
