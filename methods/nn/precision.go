package nn

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"

	"github.com/noprop/noprop/methods/nn/gemm"
)

// Precision is the arithmetic of the matrix products of Linear and Conv2D
// layers (forward, weight and input gradients, tangents), set per weight
// tensor (Param.Products). Weights, activations, gradients and optimizer
// state are float32 in both; BF16 rounds the two operands of a product to
// bfloat16 and accumulates in float32 (mixed precision, as bf16 training
// on CPUs does), in training and scoring alike.
type Precision int32

const (
	// FP32 multiplies in float32: the default.
	FP32 Precision = iota
	// BF16 multiplies bfloat16 operands with float32 accumulation, on CPUs
	// with the bf16 instructions (BF16Available), for products whose inner
	// dimension is at least BF16MinK; every other product stays FP32.
	BF16
)

// BF16MinK is the smallest inner dimension multiplied in BF16: below it,
// converting the operands costs more than the faster product saves (the
// first convolution of an MNIST image has 9).
const BF16MinK = 32

// BF16Available reports whether this CPU has the bf16 instructions BF16
// needs (AVX512_BF16 or AMX); without them BF16 products run in FP32.
func BF16Available() bool { return gemm.HasBF16() }

// Kernels names the kernels this CPU runs, for the record: the products'
// and the element-wise passes' ("fp32 avx512, bf16 amx-bf16, vector
// avx512"; bf16 "none" without the instructions). Two CPUs with the same
// names compute the same bits; different names may round differently.
func Kernels() string {
	bf16 := gemm.BF16Kernel()
	if bf16 == "" {
		bf16 = "none"
	}
	return "fp32 " + gemm.Kernel() + ", bf16 " + bf16 + ", vector " + VectorKernels()
}

// SetProducts sets the precision of the products every layer takes with
// these tensors as its weights (Param.Products). SetProductsOf does it for
// a whole learner; methods.Rule does that from the Training settings.
func SetProducts(p Precision, params ...*Param) {
	for _, q := range params {
		q.Products = p
	}
}

// matmul sets c = alpha·op(a)·op(b) + beta·c in precision p.
func matmul(p Precision, tA, tB blas.Transpose, alpha float32, a, b blas32.General, beta float32, c blas32.General) {
	k := a.Cols
	if tA != blas.NoTrans {
		k = a.Rows
	}
	if p == BF16 && k >= BF16MinK && gemm.HasBF16() {
		m, n := c.Rows, c.Cols
		gemm.SgemmBF16(tA, tB, m, n, k, alpha, a.Data, a.Stride, b.Data, b.Stride, beta, c.Data, c.Stride)
		return
	}
	blas32.Gemm(tA, tB, alpha, a, b, beta, c)
}
