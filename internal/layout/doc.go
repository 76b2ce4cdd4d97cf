// Package layout holds no code: its test keeps the repository readable,
// every source file under 500 lines and every function under 80 (the GEMM
// kernels' generator aside), and every document a comment cites inside the
// repository.
package layout
