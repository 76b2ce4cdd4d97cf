package gemm

// Reading op(A) where it lies instead of packing it: the AVX-512 kernel's
// direct variants for convolution-shaped products, and the tile kernel,
// which reads every panel so.

// directMaxN is the widest product (n) whose A panels are read unpacked, each
// serving at most four B panels: at 128 (conv3) that still won 1.13–1.22×
// (BenchmarkSgemmDirect); 256 gained nothing more in the training step.
const directMaxN = 4 * nr

// directOn enables reading A unpacked (a test hook: off, every product packs).
var directOn = true

// directTMaxM is the tallest op(A) = Aᵀ read unpacked (platformDirectTMaxM);
// tests lift it to reach the kernel everywhere.
var directTMaxM = platformDirectTMaxM()

// multiplyA is packA and macro for a product with directA: the full
// mr-row panels of op(A)[ic:ic+mc, pc:pc+kc] are read from A where they lie
// by the kernel's direct variant, and a last partial panel is packed.
func (j *job) multiplyA(ws *workspace, pb []float32, kc, pc, ic, mc, jc, nc, mode int, beta float32) {
	kern := j.kern
	full := mc / mr * mr
	if kern.tileN != nil {
		j.multiplyTiles(ws, pb, kc, pc, ic, mc, jc, nc, mode, beta)
		return
	}
	for jr := 0; jr < nc && full > 0; jr += nr {
		bp := &pb[jr*kc]
		cols := min(nr, nc-jr)
		for ir := 0; ir < full; ir += mr {
			i := ic + ir
			ci := i*j.ldc + jc + jr
			_ = j.c[ci+(mr-1)*j.ldc+cols-1]
			if j.aTrans { // op(A)[i+r, pc+p] = A[pc+p, i+r]
				_ = j.a[(pc+kc-1)*j.lda+i+mr-1]
				kern.directT(kc, &j.a[pc*j.lda+i], bp, &j.c[ci], j.ldc, j.alpha, beta, mode, mr, cols, j.lda)
			} else {
				_ = j.a[(i+mr-1)*j.lda+pc+kc-1]
				kern.directN(kc, &j.a[i*j.lda+pc], bp, &j.c[ci], j.ldc, j.alpha, beta, mode, mr, cols, j.lda)
			}
		}
	}
	if full < mc {
		packA(kern.pk, ws.a, j.a, j.lda, j.aTrans, ic+full, mc-full, pc, kc)
		j.macro(ws, ws.a, pb, kc, ic+full, mc-full, jc, nc, mode, beta)
	}
}
