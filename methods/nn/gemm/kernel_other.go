//go:build !amd64 || purego

package gemm

import "math"

// platformKernels lists no assembly kernels: only the pure-Go one is used.
func platformKernels() []*kernel { return nil }

// platformBF16 lists no bf16 kernel: there is none here.
func platformBF16() []*kernel { return nil }

// pairAlongBF16, pairAcrossBF16, pairWordsBF16 and pairAcrossT16BF16 are never called here (platformBF16 is
// nil, so SgemmBF16 refuses to run).
func pairAlongBF16(dst *uint32, src *float32, n int)                  { panic("gemm: no bf16") }
func pairAcrossBF16(dst *uint32, r0, r1 *float32, n int, idx *uint16) { panic("gemm: no bf16") }
func pairWordsBF16(dst *uint32, r0, r1 *uint16, n int, idx *uint16)   { panic("gemm: no bf16") }
func pairAcrossT16BF16(dst *uint32, ldd int, src *float32, lds int, m int, idx *uint16) {
	panic("gemm: no bf16")
}

// platformDirectTMaxM sets no limit; no kernel here reads A unpacked anyway.
func platformDirectTMaxM() int { return math.MaxInt }
