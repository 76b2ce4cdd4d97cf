package gemm

import "unsafe"

// The tileN kernel's part of the driver (AMX): it reads A as rows of bf16
// pairs, and the operands the goroutines split arrive as floats, converted
// to pairs block by block in the workspace as the kernel reaches them.

// multiplyTiles is multiplyA with a tileN kernel: one call per B panel
// for the full mr-row panels, and the last rows < mr computed from a copy
// of them padded with zero rows (in the workspace's A panel), so that
// every row of C comes from the same kernel whatever the chunking.
func (j *job) multiplyTiles(ws *workspace, pb []float32, kc, pc, ic, mc, jc, nc, mode int, beta float32) {
	kern := j.kern
	full := mc / mr
	rows := mc - full*mr
	a, lda, ia := j.a, j.lda, ic*j.lda+pc // panel r of A starts at a[ia + r·mr·lda]
	switch {
	case j.floatsA > 0 && j.aTrans:
		a, lda, ia = j.pairBlockT(ws, kc, pc, ic, mc), kc, 0
	case j.floatsA > 0:
		a, lda, ia = j.pairBlock(ws, kc, pc, ic, mc), kc, 0
	}
	var pad []float32
	switch {
	case rows > 0 && j.floatsA > 0: // pairBlock zeroed the rows past mc
		pad = a[full*mr*kc:]
	case rows > 0:
		pad = ws.a[:mr*kc]
		for r := 0; r < rows; r++ {
			copy(pad[r*kc:(r+1)*kc], j.a[(ic+full*mr+r)*j.lda+pc:])
		}
		clear(pad[rows*kc:])
	}
	for jr := 0; jr < nc; jr += nr {
		var bp *float32
		ldb := nr
		switch {
		case j.floatsB > 0: // pairBlockB's rows, whole panels wide
			bp, ldb = &pb[jr], roundUp(nc, nr)
		case j.directB: // the caller padded B's columns to whole panels
			_ = j.b[(pc+kc-1)*j.ldb+jc+jr+nr-1]
			bp, ldb = &j.b[pc*j.ldb+jc+jr], j.ldb
		default:
			bp = &pb[jr*kc]
		}
		cols := min(nr, nc-jr)
		if full > 0 {
			ci := ic*j.ldc + jc + jr
			_ = j.c[ci+(full*mr-1)*j.ldc+cols-1]
			_ = a[ia+(full*mr-1)*lda+kc-1]
			kern.tileN(kc, &a[ia], bp, &j.c[ci], j.ldc, j.alpha, beta, mode, mr, cols, lda, full, ldb)
		}
		if rows > 0 {
			ci := (ic+full*mr)*j.ldc + jc + jr
			_ = j.c[ci+(rows-1)*j.ldc+cols-1]
			kern.tileN(kc, &pad[0], bp, &j.c[ci], j.ldc, j.alpha, beta, mode, rows, cols, kc, 1, ldb)
		}
	}
}

// pairBlock converts rows ic..ic+mc-1 of the float matrix A, pair steps
// pc..pc+kc-1, into the workspace as mc rows of kc pairs, and zeroes the
// pair steps past the end of A and the rows up to the next panel.
func (j *job) pairBlock(ws *workspace, kc, pc, ic, mc int) []float32 {
	buf := ws.a[:roundUp(mc, mr)*kc]
	pairs := f32AsU32(buf)
	f0, kf, have := blockFloats(j.floatsA, pc, kc)
	if have > 0 {
		pairAlong(pairs, kc, j.a[ic*j.lda+f0:], j.lda, mc, kf)
	}
	clearTail(pairs, kc, mc, have)
	clear(buf[mc*kc:])
	return buf
}

// packB packs op(B)[pc:pc+kc, jc:jc+nc] into the workspace, unless the
// kernel reads it where it lies.
func (j *job) packB(ws *workspace, pc, kc, jc, nc int) {
	switch {
	case j.floatsB > 0:
		j.pairBlockB(ws, pc, kc, jc, nc)
	case !j.directB:
		packB(j.kern.pk, ws.b, j.b, j.ldb, j.bTrans, pc, kc, jc, nc)
	}
}

// pairBlockT is pairBlock for a transposed A (floatsA rows of m floats):
// its pairs across rows 2pc.., written as mc rows of kc pairs (pairsT, with
// the workspace's t for the last 16 pair rows).
func (j *job) pairBlockT(ws *workspace, kc, pc, ic, mc int) []float32 {
	if need := 16 * mc; len(ws.t) < need {
		ws.t = make([]float32, need)
	}
	buf := ws.a[:roundUp(mc, mr)*kc]
	f0, kf, _ := blockFloats(j.floatsA, pc, kc)
	var src []float32
	if kf > 0 {
		src = j.a[f0*j.lda+ic:]
	}
	pairsT(f32AsU32(buf), kc, src, j.lda, max(kf, 0), mc, f32AsU32(ws.t[:16*mc]), j.kern.pk.tr16, 0, kc/16)
	clear(buf[mc*kc:])
	return buf
}

// pairBlockB converts B's float (or word) rows 2pc..2pc+2kc-1, columns jc..jc+nc-1,
// into the workspace as kc rows of pairs, roundUp(nc, nr) wide, zero past
// the end of B's rows and columns.
func (j *job) pairBlockB(ws *workspace, pc, kc, jc, nc int) {
	w := roundUp(nc, nr)
	pairs := f32AsU32(ws.b[:kc*w])
	f0, kf, have := blockFloats(j.floatsB, pc, kc)
	switch {
	case have > 0 && j.wordsB:
		pairWords(pairs, w, f32AsU16(j.b)[2*f0*j.ldb+jc:], 2*j.ldb, kf, nc)
	case have > 0:
		pairAcross(pairs, w, j.b[f0*j.ldb+jc:], j.ldb, kf, nc)
	}
	clearTail(pairs, w, have, nc)
	clear(pairs[have*w:])
}

// blockFloats locates the KC block of pair steps pc..pc+kc-1 in an operand
// of floats floats along k: it starts at float f0 and holds kf of them,
// which fill have pair steps (0 past the operand's end).
func blockFloats(floats, pc, kc int) (f0, kf, have int) {
	f0 = 2 * pc
	kf = min(2*kc, floats-f0)
	return f0, kf, max(0, (kf+1)/2)
}

// f32AsU32 views float32 slots as the pair elements they hold.
func f32AsU32(b []float32) []uint32 {
	return unsafe.Slice((*uint32)(unsafe.Pointer(unsafe.SliceData(b))), len(b))
}
