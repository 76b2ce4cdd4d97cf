//go:build !amd64 || purego

package gemm

// platformKernels lists no assembly kernels: only the pure-Go one is used.
func platformKernels() []*kernel { return nil }
