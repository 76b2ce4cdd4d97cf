//go:build openblas

package openblas

/*
#cgo LDFLAGS: -lopenblas
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
char* openblas_get_corename(void);
char* openblas_get_config(void);
*/
import "C"

import (
	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/netlib/blas/netlib"
)

// Implementation is gonum's netlib binding: every BLAS routine, Sgemm
// included, runs in OpenBLAS.
type Implementation struct {
	netlib.Implementation
}

// Use makes every blas32 call in the program go through OpenBLAS.
func Use() { blas32.Use(Implementation{}) }

// SetThreads sets OpenBLAS's thread count (openblas_set_num_threads).
func SetThreads(n int) { C.openblas_set_num_threads(C.int(n)) }

// Threads reports OpenBLAS's thread count.
func Threads() int { return int(C.openblas_get_num_threads()) }

// Kernel names the core type whose kernels OpenBLAS uses, e.g. "Cooperlake"
// or "Haswell".
func Kernel() string { return C.GoString(C.openblas_get_corename()) }

// Config is OpenBLAS's build configuration string.
func Config() string { return C.GoString(C.openblas_get_config()) }
