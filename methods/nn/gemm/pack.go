package gemm

// Packing copies blocks of op(A) and op(B) into the micro-panel layout the
// kernels read sequentially: A as mr-row panels stored step by step (mr
// floats per k step), B as nr-column panels (nr floats per k step). Rows or
// columns past the matrix edge are zero-filled, so the kernels never need a
// remainder path.
//
// Two source layouts occur. When a k step of a panel is a contiguous run of
// the source (op(A) = Aᵀ, op(B) = B), packing is a strided copy. Otherwise
// (op(A) = A, op(B) = Bᵀ: the forward and "dgrad" shapes) it is a transpose,
// done 16×16 in registers by the assembly packers where they exist.

// packers are vectorised versions of the full-panel packing loops. A nil
// packers means the Go loops below.
type packers struct {
	// tr12 and tr16 store source row r < 12 (or 16), columns 0..kc-1, into
	// lane r of dst rows 0..kc-1 (row strides ldd and lds, in floats).
	tr12, tr16 func(dst *float32, ldd int, src *float32, lds int, kc int)
	// cp12 and cp32 fill panels adjacent 12- (or 32-) float panels from kc
	// source rows, reading panels·12 (or ·32) contiguous floats per row.
	cp12, cp32 func(dst, src *float32, lds int, kc int, panels int)
}

// packA packs op(A)[i0:i0+mc, p0:p0+kc] into ceil(mc/mr) micro-panels of
// kc·mr floats each.
func packA(pk *packers, dst, a []float32, lda int, trans bool, i0, mc, p0, kc int) {
	ir := 0
	if pk != nil && trans && mc >= mr {
		full := mc / mr
		_ = a[(p0+kc-1)*lda+i0+full*mr-1]
		pk.cp12(&dst[0], &a[p0*lda+i0], lda, kc, full)
		ir = full * mr
	}
	for ; ir < mc; ir += mr {
		rows := min(mr, mc-ir)
		d := dst[ir*kc : (ir+mr)*kc]
		i := i0 + ir
		switch {
		case rows < mr:
			clear(d)
		case pk != nil && !trans:
			_ = a[(i+mr-1)*lda+p0+kc-1]
			pk.tr12(&d[0], mr, &a[i*lda+p0], lda, kc)
			continue
		}
		if trans {
			packCopy(d, mr, a, lda, i, rows, p0, kc)
		} else {
			packTranspose(d, mr, a, lda, i, rows, p0, kc)
		}
	}
}

// packB packs op(B)[p0:p0+kc, j0:j0+nc] into ceil(nc/nr) micro-panels of
// kc·nr floats each.
func packB(pk *packers, dst, b []float32, ldb int, trans bool, p0, kc, j0, nc int) {
	jr := 0
	if pk != nil && !trans && nc >= nr {
		full := nc / nr
		_ = b[(p0+kc-1)*ldb+j0+full*nr-1]
		pk.cp32(&dst[0], &b[p0*ldb+j0], ldb, kc, full)
		jr = full * nr
	}
	for ; jr < nc; jr += nr {
		cols := min(nr, nc-jr)
		d := dst[jr*kc : (jr+nr)*kc]
		j := j0 + jr
		switch {
		case cols < nr:
			clear(d)
		case pk != nil && trans:
			_ = b[(j+nr-1)*ldb+p0+kc-1]
			pk.tr16(&d[0], nr, &b[j*ldb+p0], ldb, kc)
			pk.tr16(&d[16], nr, &b[(j+16)*ldb+p0], ldb, kc)
			continue
		}
		if trans {
			packTranspose(d, nr, b, ldb, j, cols, p0, kc)
		} else {
			packCopy(d, nr, b, ldb, j, cols, p0, kc)
		}
	}
}

// packCopy fills a panel of width w whose k step p is the contiguous run
// src[(p0+p)·ld + i : +n], n ≤ w.
func packCopy(d []float32, w int, src []float32, ld, i, n, p0, kc int) {
	for p := 0; p < kc; p++ {
		s := (p0+p)*ld + i
		copy(d[p*w:p*w+n], src[s:s+n])
	}
}

// packTranspose fills a panel of width w from n ≤ w source rows: row i+r,
// columns p0..p0+kc-1, becomes lane r of the kc steps.
func packTranspose(d []float32, w int, src []float32, ld, i, n, p0, kc int) {
	for r := 0; r < n; r++ {
		s := src[(i+r)*ld+p0:][:kc]
		dd := d[r:]
		for p, v := range s {
			dd[p*w] = v
		}
	}
}
