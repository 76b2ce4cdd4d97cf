//go:build amd64 && !purego

package gemm

import "testing"

// BenchmarkAMXKernel times the AMX kernel alone on operands in cache: 12
// panels of 12 rows (A, 147 KiB) against one 32-column B panel, 256 pair
// steps deep, one goroutine. It is what the tile unit gives before any
// conversion or memory traffic.
//
//	go test -bench AMXKernel -run '^$' ./methods/nn/gemm/
func BenchmarkAMXKernel(b *testing.B) {
	if BF16Kernel() != "amx-bf16" {
		b.Skip("no AMX tiles on this CPU (or Linux did not grant them)")
	}
	const kc, panels = 256, 12
	a := make([]float32, panels*mr*kc)
	bp := make([]float32, kc*nr)
	c := make([]float32, panels*mr*nr)
	for i := range a {
		a[i] = 1
	}
	for b.Loop() {
		kernAMX(kc, &a[0], &bp[0], &c[0], nr, 1, 0, modeSet, mr, nr, kc, panels, nr)
	}
	flops := 2 * float64(panels*mr) * nr * 2 * kc // 2 bf16 products per pair step
	b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}
