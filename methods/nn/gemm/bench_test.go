package gemm

import (
	"testing"

	"gonum.org/v1/gonum/blas/gonum"

	"github.com/noprop/noprop/methods/nn/gemm/internal/benchshapes"
)

// BenchmarkSgemm compares this package (active kernel, Threads goroutines)
// with gonum's native Sgemm on the training shapes of docs/perf.md:
//
//	go test -bench Sgemm -run '^$' ./methods/nn/gemm/
func BenchmarkSgemm(b *testing.B) {
	for _, s := range benchshapes.Shapes {
		b.Run(s.Name+"/gemm-"+Kernel(), func(b *testing.B) { benchshapes.Bench(b, Implementation{}, s) })
		b.Run(s.Name+"/gonum", func(b *testing.B) { benchshapes.Bench(b, gonum.Implementation{}, s) })
	}
}
