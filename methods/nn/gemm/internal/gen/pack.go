package main

import "fmt"

// regAlloc hands out zmm registers, never Z15.
type regAlloc struct{ free []int }

func newRegAlloc() *regAlloc {
	ra := &regAlloc{}
	for r := 31; r >= 0; r-- {
		if r != 15 {
			ra.free = append(ra.free, r)
		}
	}
	return ra
}

func (ra *regAlloc) get() string {
	r := ra.free[len(ra.free)-1]
	ra.free = ra.free[:len(ra.free)-1]
	return fmt.Sprintf("Z%d", r)
}

func (ra *regAlloc) put(z string) {
	var r int
	fmt.Sscanf(z, "Z%d", &r)
	ra.free = append(ra.free, r)
}

// genTranspose writes
//
//	func transpose<rows>AVX512(dst *float32, ldd int, src *float32, lds int, kc int)
//
// which stores source row r (r < rows, stride lds floats), columns 0..kc-1,
// into lane r of dst rows 0..kc-1 (stride ldd floats): the packing of op(A)
// = A into 12-row panels (rows = 12) and of op(B) = Bᵀ into halves of
// 32-column panels (rows = 16). It works on 16×16 blocks with the classic
// 64-shuffle in-register transpose (unpack 32-bit, unpack 64-bit, two rounds
// of 128-bit lane shuffles); a last block of kc mod 16 columns is loaded
// with a zeroing mask. With rows = 12 only the 12 live lanes are stored.
func genTranspose(rows int) {
	name := fmt.Sprintf("transpose%dAVX512", rows)
	p("// func %s(dst *float32, ldd int, src *float32, lds int, kc int)\n", name)
	p("TEXT ·%s(SB), NOSPLIT, $0-40\n", name)
	ins("MOVQ dst+0(FP), DI")
	ins("MOVQ ldd+8(FP), BX")
	ins("SHLQ $2, BX") // ldd in bytes
	ins("MOVQ src+16(FP), SI")
	ins("MOVQ lds+24(FP), DX")
	ins("SHLQ $2, DX") // lds in bytes
	ins("MOVQ kc+32(FP), CX")
	ins("LEAQ (DX)(DX*2), R12") // 3·lds
	// Base pointers of row groups 0–3, 4–7, 8–11, 12–15.
	ins("LEAQ (SI)(DX*4), R8")
	ins("LEAQ (R8)(DX*4), R9")
	ins("LEAQ (R9)(DX*4), R10")
	ins("LEAQ (BX)(BX*2), R13") // 3·ldd
	// Store mask for the live lanes.
	ins("MOVQ $%d, AX", (1<<rows)-1)
	ins("KMOVW AX, K1")
	rowAddr := func(r int) string {
		base := []string{"SI", "R8", "R9", "R10"}[r/4]
		switch r % 4 {
		case 0:
			return fmt.Sprintf("(%s)", base)
		case 1:
			return fmt.Sprintf("(%s)(DX*1)", base)
		case 2:
			return fmt.Sprintf("(%s)(DX*2)", base)
		}
		return fmt.Sprintf("(%s)(R12*1)", base)
	}
	block := func(tail bool) {
		ra := newRegAlloc()
		r := make([]string, 16)
		for i := 0; i < 16; i++ {
			r[i] = ra.get()
			switch {
			case i >= rows:
				ins("VPXORD %s, %s, %s", r[i], r[i], r[i])
			case tail:
				ins("VMOVUPS.Z %s, K2, %s", rowAddr(i), r[i])
			default:
				ins("VMOVUPS %s, %s", rowAddr(i), r[i])
			}
		}
		storeRows(name, transposeRegs(ra, r), tail, rows)
	}
	columnBlocks(name, block, "SI", "R8", "R9", "R10")
}

// columnBlocks writes the loop of a transposing pass over CX source
// columns, 16 at a time: block(false) for each whole 16, then, for the
// CX mod 16 left, K2 set to their lanes and block(true). After each whole
// block the source pointers advance 16 floats and DI, which storeRows left
// 12 rows on, 4 rows more. It ends the function.
func columnBlocks(name string, block func(tail bool), srcs ...string) {
	ins("CMPQ CX, $16")
	ins("JLT %s_tail", name)
	p("%s_loop:\n", name)
	block(false)
	ins("LEAQ (DI)(BX*4), DI")
	for _, r := range srcs {
		ins("ADDQ $64, %s", r)
	}
	ins("SUBQ $16, CX")
	ins("CMPQ CX, $16")
	ins("JGE %s_loop", name)
	p("%s_tail:\n", name)
	ins("TESTQ CX, CX")
	ins("JZ %s_done", name)
	// K2 = (1 << CX) − 1: the live columns of the last block.
	ins("MOVQ $1, AX")
	ins("SHLQ CX, AX")
	ins("DECQ AX")
	ins("KMOVW AX, K2")
	block(true)
	p("%s_done:\n", name)
	ins("VZEROUPPER")
	ins("RET")
	p("\n")
}

// transposeRegs transposes the 16×16 block of floats in registers r (row i
// in r[i]) with the classic 64-shuffle in-register transpose (unpack
// 32-bit, unpack 64-bit, two rounds of 128-bit lane shuffles), freeing r and
// returning the registers of the output rows.
func transposeRegs(ra *regAlloc, r []string) []string {
	// Step 1: t[2i], t[2i+1] interleave 32-bit elements of rows 2i, 2i+1.
	t := make([]string, 16)
	for i := 0; i < 8; i++ {
		t[2*i], t[2*i+1] = ra.get(), ra.get()
		ins("VUNPCKLPS %s, %s, %s", r[2*i+1], r[2*i], t[2*i])
		ins("VUNPCKHPS %s, %s, %s", r[2*i+1], r[2*i], t[2*i+1])
		ra.put(r[2*i])
		ra.put(r[2*i+1])
	}
	// Step 2: u[4g+c] lane L holds column 4L+c of rows 4g..4g+3.
	u := make([]string, 16)
	for g := 0; g < 4; g++ {
		b := 4 * g
		for c := 0; c < 4; c++ {
			u[b+c] = ra.get()
		}
		ins("VUNPCKLPD %s, %s, %s", t[b+2], t[b], u[b])
		ins("VUNPCKHPD %s, %s, %s", t[b+2], t[b], u[b+1])
		ins("VUNPCKLPD %s, %s, %s", t[b+3], t[b+1], u[b+2])
		ins("VUNPCKHPD %s, %s, %s", t[b+3], t[b+1], u[b+3])
		for c := 0; c < 4; c++ {
			ra.put(t[b+c])
		}
	}
	// Step 3: gather lane L of u[c], u[4+c], u[8+c], u[12+c] into output
	// row 4L+c.
	out := make([]string, 16)
	for c := 0; c < 4; c++ {
		x, y, x2, y2 := ra.get(), ra.get(), ra.get(), ra.get()
		ins("VSHUFF32X4 $0x44, %s, %s, %s", u[4+c], u[c], x)
		ins("VSHUFF32X4 $0xEE, %s, %s, %s", u[4+c], u[c], y)
		ins("VSHUFF32X4 $0x44, %s, %s, %s", u[12+c], u[8+c], x2)
		ins("VSHUFF32X4 $0xEE, %s, %s, %s", u[12+c], u[8+c], y2)
		for _, z := range []string{u[c], u[4+c], u[8+c], u[12+c]} {
			ra.put(z)
		}
		for L := 0; L < 4; L++ {
			out[4*L+c] = ra.get()
		}
		ins("VSHUFF32X4 $0x88, %s, %s, %s", x2, x, out[c])
		ins("VSHUFF32X4 $0xDD, %s, %s, %s", x2, x, out[4+c])
		ins("VSHUFF32X4 $0x88, %s, %s, %s", y2, y, out[8+c])
		ins("VSHUFF32X4 $0xDD, %s, %s, %s", y2, y, out[12+c])
		for _, z := range []string{x, y, x2, y2} {
			ra.put(z)
		}
	}
	return out
}

// storeRows stores output row j of a transposed block to dst + j·ldd (DI,
// BX = ldd bytes, R13 = 3·ldd; DI ends 12 rows on): the first CX rows in a
// tail block, only the live lanes (K1) when rows < 16.
func storeRows(name string, out []string, tail bool, rows int) {
	// Stores: output row j goes to dst + j·ldd.
	for j := 0; j < 16; j++ {
		if tail && j > 0 {
			ins("CMPQ CX, $%d", j)
			ins("JEQ %s_done", name)
		}
		if j%4 == 0 && j > 0 {
			ins("LEAQ (DI)(BX*4), DI")
		}
		addr := []string{"(DI)", "(DI)(BX*1)", "(DI)(BX*2)", "(DI)(R13*1)"}[j%4]
		if rows < 16 {
			ins("VMOVUPS %s, K1, %s", out[j], addr)
		} else {
			ins("VMOVUPS %s, %s", out[j], addr)
		}
	}
}

// genCopy writes
//
//	func copy<w>AVX512(dst *float32, src *float32, lds int, kc int, panels int)
//
// which packs panels adjacent w-float micro-panels whose k steps are
// contiguous runs of the source (op(A) = Aᵀ with w = 12, op(B) = B with
// w = 32): for each of kc source rows (stride lds floats) it reads
// panels·w contiguous floats and writes w of them to each panel (panel q
// starts at dst + q·kc·w). Sweeping whole source rows keeps the reads long
// and sequential, which matters when the source streams from memory.
func genCopy(w int) {
	name := fmt.Sprintf("copy%dAVX512", w)
	p("// func %s(dst *float32, src *float32, lds int, kc int, panels int)\n", name)
	p("TEXT ·%s(SB), NOSPLIT, $0-40\n", name)
	ins("MOVQ dst+0(FP), DI")
	ins("MOVQ src+8(FP), SI")
	ins("MOVQ lds+16(FP), DX")
	ins("SHLQ $2, DX")
	ins("MOVQ kc+24(FP), CX")
	ins("MOVQ panels+32(FP), R11")
	ins("MOVQ CX, R12")
	ins("IMUL3Q $%d, R12, R12", w*4) // panel stride in bytes
	if w == 12 {
		ins("MOVQ $0xfff, AX")
		ins("KMOVW AX, K1")
	}
	ins("TESTQ CX, CX")
	ins("JZ %s_done", name)
	ins("TESTQ R11, R11")
	ins("JZ %s_done", name)
	p("%s_row:\n", name)
	ins("MOVQ SI, R8")
	ins("MOVQ DI, R9")
	ins("MOVQ R11, R10")
	p("%s_panel:\n", name)
	switch w {
	case 12:
		ins("VMOVUPS.Z (R8), K1, Z0")
		ins("VMOVUPS Z0, K1, (R9)")
	case 32:
		ins("VMOVUPS (R8), Z0")
		ins("VMOVUPS 64(R8), Z1")
		ins("VMOVUPS Z0, (R9)")
		ins("VMOVUPS Z1, 64(R9)")
	}
	ins("ADDQ $%d, R8", w*4)
	ins("ADDQ R12, R9")
	ins("DECQ R10")
	ins("JNZ %s_panel", name)
	ins("ADDQ DX, SI")
	ins("ADDQ $%d, DI", w*4)
	ins("DECQ CX")
	ins("JNZ %s_row", name)
	p("%s_done:\n", name)
	ins("VZEROUPPER")
	ins("RET")
	p("\n")
}

// genTransposeAVX2 writes
//
//	func transpose<rows>AVX2(dst *float32, ldd int, src *float32, lds int, kc int)
//
// the AVX2 counterpart of genTranspose for rows = 8 or 4 source rows (the
// Go wrapper combines calls for 12 and 16 rows), kc a multiple of 8. It uses
// the classic 24-shuffle 8×8 transpose; with rows = 4 the missing rows are
// zero and only the low 4 lanes (an xmm) are stored.
func genTransposeAVX2(rows int) {
	name := fmt.Sprintf("transpose%dAVX2", rows)
	p("// func %s(dst *float32, ldd int, src *float32, lds int, kc int)\n", name)
	p("TEXT ·%s(SB), NOSPLIT, $0-40\n", name)
	ins("MOVQ dst+0(FP), DI")
	ins("MOVQ ldd+8(FP), BX")
	ins("SHLQ $2, BX")
	ins("MOVQ src+16(FP), SI")
	ins("MOVQ lds+24(FP), DX")
	ins("SHLQ $2, DX")
	ins("MOVQ kc+32(FP), CX")
	ins("LEAQ (DX)(DX*2), R12") // 3·lds
	ins("LEAQ (SI)(DX*4), R8")  // row 4
	ins("LEAQ (BX)(BX*2), R13") // 3·ldd
	ins("SHRQ $3, CX")
	ins("JZ %s_done", name)
	rowAddr := func(r int) string {
		base := []string{"SI", "R8"}[r/4]
		return fmt.Sprintf([]string{"(%s)", "(%s)(DX*1)", "(%s)(DX*2)", "(%s)(R12*1)"}[r%4], base)
	}
	p("%s_loop:\n", name)
	free := []int{14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0}
	get := func() string {
		r := free[len(free)-1]
		free = free[:len(free)-1]
		return fmt.Sprintf("Y%d", r)
	}
	put := func(y string) {
		var r int
		fmt.Sscanf(y, "Y%d", &r)
		free = append(free, r)
	}
	r := make([]string, 8)
	for i := range r {
		r[i] = get()
		if i < rows {
			ins("VMOVUPS %s, %s", rowAddr(i), r[i])
		} else {
			ins("VXORPS %s, %s, %s", r[i], r[i], r[i])
		}
	}
	t := make([]string, 8)
	for i := 0; i < 4; i++ {
		t[2*i], t[2*i+1] = get(), get()
		ins("VUNPCKLPS %s, %s, %s", r[2*i+1], r[2*i], t[2*i])
		ins("VUNPCKHPS %s, %s, %s", r[2*i+1], r[2*i], t[2*i+1])
		put(r[2*i])
		put(r[2*i+1])
	}
	s := make([]string, 8)
	for g := 0; g < 2; g++ {
		b := 4 * g
		for c := 0; c < 4; c++ {
			s[b+c] = get()
		}
		ins("VSHUFPS $0x44, %s, %s, %s", t[b+2], t[b], s[b])
		ins("VSHUFPS $0xEE, %s, %s, %s", t[b+2], t[b], s[b+1])
		ins("VSHUFPS $0x44, %s, %s, %s", t[b+3], t[b+1], s[b+2])
		ins("VSHUFPS $0xEE, %s, %s, %s", t[b+3], t[b+1], s[b+3])
		for c := 0; c < 4; c++ {
			put(t[b+c])
		}
	}
	out := make([]string, 8)
	for c := 0; c < 4; c++ {
		out[c], out[4+c] = get(), get()
		ins("VPERM2F128 $0x20, %s, %s, %s", s[4+c], s[c], out[c])
		ins("VPERM2F128 $0x31, %s, %s, %s", s[4+c], s[c], out[4+c])
		put(s[c])
		put(s[4+c])
	}
	for j := 0; j < 8; j++ {
		if j == 4 {
			ins("LEAQ (DI)(BX*4), DI")
		}
		addr := []string{"(DI)", "(DI)(BX*1)", "(DI)(BX*2)", "(DI)(R13*1)"}[j%4]
		if rows == 4 {
			ins("VMOVUPS X%s, %s", out[j][1:], addr)
		} else {
			ins("VMOVUPS %s, %s", out[j], addr)
		}
	}
	ins("LEAQ (DI)(BX*4), DI")
	ins("ADDQ $32, SI")
	ins("ADDQ $32, R8")
	ins("DECQ CX")
	ins("JNZ %s_loop", name)
	p("%s_done:\n", name)
	ins("VZEROUPPER")
	ins("RET")
	p("\n")
}

// genCopyAVX2 is genCopy with ymm (and, for 12 floats, one xmm) moves.
func genCopyAVX2(w int) {
	name := fmt.Sprintf("copy%dAVX2", w)
	p("// func %s(dst *float32, src *float32, lds int, kc int, panels int)\n", name)
	p("TEXT ·%s(SB), NOSPLIT, $0-40\n", name)
	ins("MOVQ dst+0(FP), DI")
	ins("MOVQ src+8(FP), SI")
	ins("MOVQ lds+16(FP), DX")
	ins("SHLQ $2, DX")
	ins("MOVQ kc+24(FP), CX")
	ins("MOVQ panels+32(FP), R11")
	ins("MOVQ CX, R12")
	ins("IMUL3Q $%d, R12, R12", w*4)
	ins("TESTQ CX, CX")
	ins("JZ %s_done", name)
	ins("TESTQ R11, R11")
	ins("JZ %s_done", name)
	p("%s_row:\n", name)
	ins("MOVQ SI, R8")
	ins("MOVQ DI, R9")
	ins("MOVQ R11, R10")
	p("%s_panel:\n", name)
	switch w {
	case 12:
		ins("VMOVUPS (R8), Y0")
		ins("VMOVUPS 32(R8), X1")
		ins("VMOVUPS Y0, (R9)")
		ins("VMOVUPS X1, 32(R9)")
	case 32:
		for i := 0; i < 4; i++ {
			ins("VMOVUPS %d(R8), Y%d", 32*i, i)
		}
		for i := 0; i < 4; i++ {
			ins("VMOVUPS Y%d, %d(R9)", i, 32*i)
		}
	}
	ins("ADDQ $%d, R8", w*4)
	ins("ADDQ R12, R9")
	ins("DECQ R10")
	ins("JNZ %s_panel", name)
	ins("ADDQ DX, SI")
	ins("ADDQ $%d, DI", w*4)
	ins("DECQ CX")
	ins("JNZ %s_row", name)
	p("%s_done:\n", name)
	ins("VZEROUPPER")
	ins("RET")
	p("\n")
}
