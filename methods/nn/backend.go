package nn

import "github.com/noprop/noprop/methods/nn/gemm"

// The project's own packed GEMM is the default kernel behind blas32: gonum's
// native Sgemm is about ten times slower on training shapes. A program may
// install another implementation with blas32.Use after this package is
// initialised (the openblas build tag does).
func init() { gemm.Use() }
