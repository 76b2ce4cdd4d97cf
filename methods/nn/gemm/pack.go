package gemm

// Packing copies blocks of op(A) and op(B) into the micro-panel layout the
// kernels read sequentially: A as mr-row panels stored step by step (mr
// floats per k step), B as nr-column panels (nr floats per k step). Rows or
// columns past the matrix edge are zero-filled, so the kernels never need a
// remainder path.

// packA packs op(A)[i0:i0+mc, p0:p0+kc] into ceil(mc/mr) micro-panels of
// kc·mr floats each.
func packA(dst, a []float32, lda int, trans bool, i0, mc, p0, kc int) {
	for ir := 0; ir < mc; ir += mr {
		rows := min(mr, mc-ir)
		d := dst[ir*kc : (ir+mr)*kc]
		if rows < mr {
			clear(d)
		}
		if trans {
			packRowsCopy12(d, a, lda, i0+ir, rows, p0, kc)
		} else {
			packCols(d, mr, a, lda, i0+ir, rows, p0, kc)
		}
	}
}

// packB packs op(B)[p0:p0+kc, j0:j0+nc] into ceil(nc/nr) micro-panels of
// kc·nr floats each.
func packB(dst, b []float32, ldb int, trans bool, p0, kc, j0, nc int) {
	for jr := 0; jr < nc; jr += nr {
		cols := min(nr, nc-jr)
		d := dst[jr*kc : (jr+nr)*kc]
		if cols < nr {
			clear(d)
		}
		if trans {
			packCols(d, nr, b, ldb, j0+jr, cols, p0, kc)
		} else {
			packRowsCopy32(d, b, ldb, j0+jr, cols, p0, kc)
		}
	}
}

// packRowsCopy12 handles the case where each k step of the panel is a
// contiguous run of the source (op(A) = Aᵀ): step p copies
// src[(p0+p)·ld + i : +rows].
func packRowsCopy12(d, src []float32, ld, i, rows, p0, kc int) {
	if rows == mr {
		for p := 0; p < kc; p++ {
			*(*[mr]float32)(d[p*mr:]) = *(*[mr]float32)(src[(p0+p)*ld+i:])
		}
		return
	}
	for p := 0; p < kc; p++ {
		copy(d[p*mr:p*mr+rows], src[(p0+p)*ld+i:])
	}
}

// packRowsCopy32 is packRowsCopy12 for B panels (op(B) = B).
func packRowsCopy32(d, src []float32, ld, j, cols, p0, kc int) {
	if cols == nr {
		for p := 0; p < kc; p++ {
			*(*[nr]float32)(d[p*nr:]) = *(*[nr]float32)(src[(p0+p)*ld+j:])
		}
		return
	}
	for p := 0; p < kc; p++ {
		copy(d[p*nr:p*nr+cols], src[(p0+p)*ld+j:j+cols+(p0+p)*ld])
	}
}

// packCols handles the transposing case (op(A) = A, or op(B) = Bᵀ): source
// row i+r, columns p0..p0+kc, becomes lane r of each of the kc steps of a
// panel of width w.
func packCols(d []float32, w int, src []float32, ld, i, rows, p0, kc int) {
	for r := 0; r < rows; r++ {
		s := src[(i+r)*ld+p0:][:kc]
		dd := d[r:]
		for p, v := range s {
			dd[p*w] = v
		}
	}
}
