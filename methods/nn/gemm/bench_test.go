package gemm

import (
	"testing"

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
