package gemm

// Operands in bf16. A caller that builds an operand itself, as a
// convolution builds its im2col matrix, can write it in bf16 once
// (PairRow) instead of in floats that SgemmBF16 converts at every product
// that reads them: half the bytes written and read, and no conversion in
// the forward product. The results are SgemmBF16's, to the bit.

// PairStride returns the row stride, in float32 slots, that
// SgemmBF16PairedA needs of an operand of k values a row: (k+1)/2 pairs,
// padded to the active bf16 kernel's step. It panics when HasBF16 is
// false.
func PairStride(k int) int { return pairStride(mustBF16(), k) }

// pairStride is PairStride for the kernel kern.
func pairStride(kern *kernel, k int) int {
	kp := (k + 1) / 2
	if kern.tileN != nil {
		kp = roundUp(kp, kern.kq)
	}
	return kp
}

// PairRow writes the floats src in bf16, two to a float32 slot of dst:
// slot p holds the bits of src[2p] rounded to bfloat16 (to nearest, ties
// to even, as SgemmBF16 rounds) in its low half and those of src[2p+1] (0
// past the end) in its high half. It fills (len(src)+1)/2 slots; the
// slots hold bits, not float32 values.
func PairRow(dst, src []float32) {
	if len(src) == 0 {
		return
	}
	pairAlong(f32AsU32(dst[:(len(src)+1)/2]), 0, src, 0, 1, len(src))
}

// SgemmBF16PairedA is SgemmBF16(NoTrans, NoTrans, m, n, k, ...) with A
// already in bf16: row i of A is the PairRow of its k values at
// a[i·lda:], lda ≥ PairStride(k), and the slots from (k+1)/2 to
// PairStride(k) are zero.
func SgemmBF16PairedA(m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	kern := mustBF16()
	stride := pairStride(kern, k)
	if !checkPaired(m, n, k, m, stride, a, lda, b, ldb, c, ldc) {
		return
	}
	if alpha == 0 || k == 0 {
		scaleC(m, n, beta, c, ldc)
		return
	}
	if kern.tileN != nil {
		sgemmTiles(kern, false, false, words, floats, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	sgemmVNNI(kern, false, false, words, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// SgemmBF16PairedTN is SgemmBF16(Trans, NoTrans, m, n, k, ...) with A
// already in bf16: A is k×m, row r the PairRow of its m values at
// a[r·lda:], lda ≥ (m+1)/2. It is a convolution's weight gradient, the
// im2col matrix's transpose times the output gradient.
func SgemmBF16PairedTN(m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	kern := mustBF16()
	if !checkPaired(m, n, k, k, (m+1)/2, a, lda, b, ldb, c, ldc) {
		return
	}
	if alpha == 0 || k == 0 {
		scaleC(m, n, beta, c, ldc)
		return
	}
	if kern.tileN != nil {
		// Always as Cᵀ = Bᵀ·A, so that A's words are only ever paired
		// across its rows, block by block or whole.
		sgemmTilesSwapped(kern, words, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	sgemmVNNI(kern, true, false, words, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// mustBF16 returns the active bf16 kernel, or panics as SgemmBF16 does
// without one.
func mustBF16() *kernel {
	kern := bf16Active.Load()
	if kern == nil {
		panic("gemm: bf16 product on a CPU without AVX512_BF16 (check HasBF16)")
	}
	return kern
}

// checkPaired panics, as checkArgs does, on bad arguments of an m×n×k
// product whose A is aRows rows of width slots, lda apart, and whose B is
// k×n; it reports whether there is anything to compute.
func checkPaired(m, n, k, aRows, width int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) bool {
	switch {
	case m < 0:
		panic(mLT0)
	case n < 0:
		panic(nLT0)
	case k < 0:
		panic(kLT0)
	case lda < max(1, width):
		panic(badLdA)
	}
	checkLdBC(false, n, k, ldb, ldc)
	if m == 0 || n == 0 {
		return false
	}
	if aRows > 0 && len(a) < (aRows-1)*lda+width {
		panic(shortA)
	}
	checkLenBC(false, m, n, k, b, ldb, c, ldc)
	return true
}
