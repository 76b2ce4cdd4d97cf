package gemm

import (
	"math"
	"sync"
	"sync/atomic"
	"unsafe"

	"gonum.org/v1/gonum/blas"

	"github.com/noprop/noprop/methods/nn/internal/workpool"
)

var (
	// bf16Kernels lists the bf16 kernels of this CPU, best first.
	bf16Kernels = platformBF16()
	// bf16Active is the one SgemmBF16 uses (nil: none).
	bf16Active atomic.Pointer[kernel]
)

func init() {
	if len(bf16Kernels) > 0 {
		bf16Active.Store(bf16Kernels[0])
	}
}

// HasBF16 reports whether this CPU multiplies bf16 in hardware
// (AVX512_BF16, or AMX tiles), so that SgemmBF16 is available.
func HasBF16() bool { return bf16Active.Load() != nil }

// BF16Kernel names the kernel SgemmBF16 uses: "amx-bf16" (AMX tiles),
// "avx512-bf16" (VDPBF16PS), or "" when there is none.
func BF16Kernel() string {
	if k := bf16Active.Load(); k != nil {
		return k.name
	}
	return ""
}

// setBF16Kernel forces the named bf16 kernel (a test hook) and returns a
// function that restores the previous one. It panics if the kernel is not
// available.
func setBF16Kernel(name string) (restore func()) {
	for _, k := range bf16Kernels {
		if k.name == name {
			prev := bf16Active.Swap(k)
			return func() { bf16Active.Store(prev) }
		}
	}
	panic("gemm: no bf16 kernel " + name)
}

// SgemmBF16 computes C = alpha·op(A)·op(B) + beta·C as Implementation.Sgemm
// does, with op(A) and op(B) rounded to bfloat16 (to nearest, ties to
// even) and the products accumulated in float32: the mixed precision of
// bf16 training, whose weights and optimizer state stay float32. It
// panics when HasBF16 is false, and as Sgemm on bad arguments.
//
// The operands are first written as bf16 pairs of consecutive k (an odd k
// is padded with a zero), which the fp32 packing code then moves as 32-bit
// elements. With VDPBF16PS, k/2 pair steps do the product, twice the
// multiply rate of fp32 FMA; with AMX, tiles of 16 pair steps do it.
func SgemmBF16(tA, tB blas.Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	kern := mustBF16()
	checkArgs(tA, tB, m, n, k, a, lda, b, ldb, c, ldc)
	if m == 0 || n == 0 {
		return
	}
	if alpha == 0 || k == 0 {
		scaleC(m, n, beta, c, ldc)
		return
	}
	aTrans, bTrans := tA != blas.NoTrans, tB != blas.NoTrans
	if kern.tileN != nil {
		sgemmTiles(kern, aTrans, bTrans, floats, floats, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	sgemmVNNI(kern, aTrans, bTrans, floats, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// form is how an operand of SgemmBF16's internals holds its values.
type form int

const (
	floats form = iota // float32 values
	words              // bf16 values along the rows, two to a float32 slot (PairRow)
)

// sgemmVNNI is SgemmBF16 with a VDPBF16PS kernel. A may hold words
// (B holds floats): with aTrans, k rows of m; otherwise m rows of k, already
// the pairs the kernel reads.
func sgemmVNNI(kern *kernel, aTrans, bTrans bool, aForm form, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	// Each operand becomes a matrix of pairs along k, laid out as the
	// conversion reads it best; the driver packs either orientation.
	kp := (k + 1) / 2
	na := m * kp
	if !aTrans && aForm == words {
		na = 0
	}
	sc := getScratch(na + kp*n)
	defer putScratch(sc)
	ap, bp := sc.buf[:na], sc.buf[na:]
	aPairs, lap, lbp := a, lda, n
	switch {
	case aTrans: // A is k×m: pairs across its rows, kp×m, read as op = ᵀ
		sc.run(ap, m, a, lda, true, aForm == words, k, m)
		aPairs, lap = u32AsF32(ap), m
	case aForm == floats:
		sc.run(ap, kp, a, lda, false, false, k, m)
		aPairs, lap = u32AsF32(ap), kp
	}
	if bTrans { // B is n×k: pairs along its rows, n×kp, read as op = ᵀ
		sc.run(bp, kp, b, ldb, false, false, k, n)
		lbp = kp
	} else {
		sc.run(bp, n, b, ldb, true, false, k, n)
	}
	sgemmWith(kern, aTrans, bTrans, m, n, kp, alpha, aPairs, lap, u32AsF32(bp), lbp, beta, c, ldc)
}

// sgemmTiles is SgemmBF16 with a tileN kernel, which reads op(A) as m
// rows of pairs, the pair count padded with zeros to a whole number of the
// kernel's steps.
//
// Where the goroutines split an operand (A's rows when m > n, an
// untransposed B's columns when n ≥ m), the driver converts it block by
// block, in cache, just before the kernel reads it (pairBlock, pairBlockB,
// and for a transposed A: a block's pairs across rows, then their
// transpose). An operand the goroutines share is converted here once, in
// parallel: A when n ≥ m (transposed: pairs across rows, then transposed),
// or B when m > n (as pairs across rows, read where they lie in whole
// 32-column panels) or when it is transposed (pairs along rows, which the
// driver packs).
//
// An untransposed A may hold words (then it is read where it lies: lda
// pairs apart, zero from pair (k+1)/2 to the kernel's step), and so may an
// untransposed B (then converted across its rows as floats would be).
func sgemmTiles(kern *kernel, aTrans, bTrans bool, aForm, bForm form, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if aTrans && !bTrans && k*(m-n) > 8*m*n {
		sgemmTilesSwapped(kern, bForm, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	tilesAsIs(kern, aTrans, bTrans, aForm, bForm, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// tilesAsIs is sgemmTiles without the choice of the swapped product.
func tilesAsIs(kern *kernel, aTrans, bTrans bool, aForm, bForm form, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	kp := roundUp((k+1)/2, kern.kq)
	np := roundUp(n, nr)
	blocksA, blocksB := m > n && aForm == floats, !bTrans && n >= m
	na, nb := kp*m, kp*np
	switch {
	case blocksA || aForm == words:
		na = 0
	case aTrans:
		na += 16 * m // and the last 16 pair rows across before their transpose
	}
	if blocksB {
		nb = 0
	}
	sc := getScratch(na + nb)
	defer putScratch(sc)
	ap, bp := sc.buf[:min(na, kp*m)], sc.buf[na:]

	aPairs, lap, cv := a, lda, convert{floatsA: k}
	switch {
	case aForm == words: // read where it lies
		cv.floatsA = 0
	case blocksA: // converted block by block
	case aTrans:
		sc.runT(ap, kp, a, lda, k, m, sc.buf[kp*m:na], kern.pk.tr16)
		aPairs, lap, cv.floatsA = u32AsF32(ap), kp, 0
	default:
		sc.run(ap, kp, a, lda, false, false, k, m)
		clearTail(ap, kp, m, (k+1)/2)
		aPairs, lap, cv.floatsA = u32AsF32(ap), kp, 0
	}
	aT := aTrans && blocksA // A still holds floats, k×m
	switch {
	case blocksB:
		cv.floatsB, cv.wordsB = k, bForm == words
		sgemmJob(kern, aT, false, m, n, kp, alpha, aPairs, lap, b, ldb, beta, c, ldc, cv)
	case bTrans:
		sc.run(bp, kp, b, ldb, false, false, k, n)
		clearTail(bp, kp, n, (k+1)/2)
		sgemmJob(kern, aT, true, m, n, kp, alpha, aPairs, lap, u32AsF32(bp), kp, beta, c, ldc, cv)
	default:
		sc.run(bp, np, b, ldb, true, bForm == words, k, n)
		clear(bp[(k+1)/2*np:])
		clearTail(bp, np, (k+1)/2, n)
		sgemmJob(kern, aT, false, m, n, kp, alpha, aPairs, lap, u32AsF32(bp), np, beta, c, ldc, cv)
	}
}

// bf16 rounds x to bfloat16 (nearest, ties to even) and returns its bits.
func bf16(x float32) uint32 {
	b := math.Float32bits(x)
	if b&0x7fffffff > 0x7f800000 { // NaN stays NaN (rounding could carry it to Inf)
		return b>>16 | 0x40
	}
	return (b + 0x7fff + (b >> 16 & 1)) >> 16
}

// pairAlong writes each of rows rows of k floats (src, stride lds) as
// (k+1)/2 pairs of neighbours (dst, stride ldd): element p holds src[2p]
// low and src[2p+1] (0 past k) high.
func pairAlong(dst []uint32, ldd int, src []float32, lds, rows, k int) {
	kp := (k + 1) / 2
	n32 := k &^ 31
	for r := 0; r < rows; r++ {
		s := src[r*lds : r*lds+k]
		d := dst[r*ldd : r*ldd+kp]
		if n32 > 0 {
			pairAlongBF16(&d[0], &s[0], n32)
		}
		for p := n32 / 2; p < kp; p++ {
			var hi uint32
			if 2*p+1 < k {
				hi = bf16(s[2*p+1])
			}
			d[p] = bf16(s[2*p]) | hi<<16
		}
	}
}

// interleave is VPERMW's word order for pairAcrossBF16: word 2j of the
// result is r0[j] (word j of the conversion), word 2j+1 is r1[j] (word
// 16+j).
var interleave = func() (idx [32]uint16) {
	for j := range 16 {
		idx[2*j], idx[2*j+1] = uint16(j), uint16(16+j)
	}
	return idx
}()

// pairAcross writes k rows of cols floats (src, stride lds) as (k+1)/2 rows
// of cols pairs (dst, stride ldd): element (p, j) holds src[2p][j] low and
// src[2p+1][j] (0 past k) high.
func pairAcross(dst []uint32, ldd int, src []float32, lds, k, cols int) {
	n16 := cols &^ 15
	for p := 0; p < k/2; p++ {
		r0 := src[2*p*lds : 2*p*lds+cols]
		r1 := src[(2*p+1)*lds : (2*p+1)*lds+cols]
		d := dst[p*ldd : p*ldd+cols]
		if n16 > 0 {
			pairAcrossBF16(&d[0], &r0[0], &r1[0], n16, &interleave[0])
		}
		for j := n16; j < cols; j++ {
			d[j] = bf16(r0[j]) | bf16(r1[j])<<16
		}
	}
	if k%2 == 1 { // the last row pairs with zeros
		r0 := src[(k-1)*lds : (k-1)*lds+cols]
		d := dst[(k/2)*ldd : (k/2)*ldd+cols]
		for j := range d {
			d[j] = bf16(r0[j])
		}
	}
}

// pairWords is pairAcross for k rows of cols bf16 words (src, stride lds
// words): element (p, j) holds src[2p][j] low and src[2p+1][j] (0 past k)
// high, the same bits pairAcross writes for the floats they round.
func pairWords(dst []uint32, ldd int, src []uint16, lds, k, cols int) {
	n16 := cols &^ 15
	for p := 0; p < k/2; p++ {
		r0 := src[2*p*lds : 2*p*lds+cols]
		r1 := src[(2*p+1)*lds : (2*p+1)*lds+cols]
		d := dst[p*ldd : p*ldd+cols]
		if n16 > 0 {
			pairWordsBF16(&d[0], &r0[0], &r1[0], n16, &interleave[0])
		}
		for j := n16; j < cols; j++ {
			d[j] = uint32(r0[j]) | uint32(r1[j])<<16
		}
	}
	if k%2 == 1 {
		r0 := src[(k-1)*lds : (k-1)*lds+cols]
		d := dst[(k/2)*ldd : (k/2)*ldd+cols]
		for j := range d {
			d[j] = uint32(r0[j])
		}
	}
}

// pairPass writes one operand as pairs (pairAlong, pairAcross or
// pairWords), shared out in ranges of rows among the idle workers
// (workpool.Range): on its own goroutine the conversion of a
// convolution's im2col matrix took a fifth of a bf16 step.
type pairPass struct {
	dst    []uint32
	ldd    int
	src    []float32
	lds    int
	across bool // pairs across rows (k rows of width) rather than along them (width rows of k)
	words  bool // across, from bf16 words (pairWords; lds still counts float32 slots)
	k      int
	width  int
	// With tr16, the pairs across are written transposed (width rows of
	// pairs, ldd apart): 16 pair rows at a time by pairAcrossT16BF16, the
	// last 16 (short of floats) across into tail, then transposed by tr16.
	tr16 func(dst *float32, ldd int, src *float32, lds int, kc int)
	tail []uint32
}

// pairChunk is the fewest floats a goroutine converts: about what a
// worker's wake-up costs.
const pairChunk = 32 << 10

// run converts src to dst in parallel: the same elements pairAlong(dst,
// ldd, src, lds, width, k), pairAcross(dst, ldd, src, lds, k, width) or
// (words) pairWords writes.
func (p *pairPass) run(dst []uint32, ldd int, src []float32, lds int, across, words bool, k, width int) {
	*p = pairPass{dst: dst, ldd: ldd, src: src, lds: lds, across: across, words: words, k: k, width: width}
	if across {
		workpool.Range((k+1)/2, max(1, pairChunk/(2*width)), Threads(), p)
	} else {
		workpool.Range(width, max(1, pairChunk/k), Threads(), p)
	}
	p.dst, p.src = nil, nil
}

// runT writes the k×width floats of src (stride lds) as width rows of kp
// pairs across (dst, stride kp; kp a multiple of 16): element (c, i) holds
// src[2i][c] low and src[2i+1][c] high, zero past k. tail holds 16·width
// pair elements.
func (p *pairPass) runT(dst []uint32, kp int, src []float32, lds, k, width int, tail []uint32, tr16 func(dst *float32, ldd int, src *float32, lds int, kc int)) {
	*p = pairPass{dst: dst, ldd: kp, src: src, lds: lds, across: true, k: k, width: width, tr16: tr16, tail: tail}
	workpool.Range(kp/16, max(1, pairChunk/(32*width)), Threads(), p)
	p.dst, p.src, p.tail, p.tr16 = nil, nil, nil, nil
}

// pairsT writes the groups of 16 pair rows [lo, hi) of the k×width floats
// of src (stride lds) as width rows of pairs across (dst, stride ldd):
// element (c, i) holds src[2i][c] low and src[2i+1][c] high, zero past k.
// A whole group goes in one pass (pairAcrossT16BF16); one short of floats,
// across into tail (16·width pair elements), then transposed by tr16.
func pairsT(dst []uint32, ldd int, src []float32, lds, k, width int, tail []uint32, tr16 func(dst *float32, ldd int, src *float32, lds int, kc int), lo, hi int) {
	d := u32AsF32(dst)
	for g := lo; g < hi; g++ {
		p0 := 16 * g
		floats := min(32, k-2*p0)
		if floats == 32 {
			_ = src[(2*p0+31)*lds+width-1] // the last float the assembly reads
			_ = dst[(width-1)*ldd+p0+15]
			pairAcrossT16BF16(&dst[p0], ldd, &src[2*p0*lds], lds, width, &interleave[0])
			continue
		}
		have := 0
		if floats > 0 {
			pairAcross(tail, width, src[2*p0*lds:], lds, floats, width)
			have = (floats + 1) / 2
		}
		clear(tail[have*width : 16*width])
		tr16(&d[p0], ldd, &u32AsF32(tail)[0], width, width)
	}
}

// Range converts pair rows [lo, hi) (across) or rows [lo, hi) (along), or
// (tr16) the groups of 16 pair rows [lo, hi).
func (p *pairPass) Range(lo, hi int) {
	switch {
	case p.tr16 != nil: // only the last group is short of floats: one tail does
		pairsT(p.dst, p.ldd, p.src, p.lds, p.k, p.width, p.tail, p.tr16, lo, hi)
	case p.words:
		pairWords(p.dst[lo*p.ldd:], p.ldd, f32AsU16(p.src)[4*lo*p.lds:], 2*p.lds, min(2*hi, p.k)-2*lo, p.width)
	case p.across:
		pairAcross(p.dst[lo*p.ldd:], p.ldd, p.src[2*lo*p.lds:], p.lds, min(2*hi, p.k)-2*lo, p.width)
	default:
		pairAlong(p.dst[lo*p.ldd:], p.ldd, p.src[lo*p.lds:], p.lds, hi-lo, p.k)
	}
}

// pairScratch is one SgemmBF16 call's working set: the buffer of both
// operands' pairs and the pass that fills it.
type pairScratch struct {
	buf []uint32
	pairPass
}

var (
	scratchMu   sync.Mutex
	freeScratch []*pairScratch
)

// getScratch returns a working set whose buffer holds n pair elements,
// reused across calls (kept for the life of the program, as the
// workspaces are).
func getScratch(n int) *pairScratch {
	scratchMu.Lock()
	defer scratchMu.Unlock()
	var s *pairScratch
	for i, f := range freeScratch {
		if cap(f.buf) >= n {
			s = f
			freeScratch = append(freeScratch[:i], freeScratch[i+1:]...)
			break
		}
	}
	if s == nil {
		s = &pairScratch{buf: make([]uint32, n)}
	}
	s.buf = s.buf[:n]
	return s
}

func putScratch(s *pairScratch) {
	scratchMu.Lock()
	freeScratch = append(freeScratch, s)
	scratchMu.Unlock()
}

// f32AsU16 views float32 slots as the bf16 words they hold, two each.
func f32AsU16(b []float32) []uint16 {
	return unsafe.Slice((*uint16)(unsafe.Pointer(unsafe.SliceData(b))), 2*len(b))
}

// u32AsF32 views pair elements as the float32 slots the packers move.
func u32AsF32(b []uint32) []float32 {
	return unsafe.Slice((*float32)(unsafe.Pointer(unsafe.SliceData(b))), len(b))
}

// sgemmTilesSwapped is sgemmTiles for C = alpha·Aᵀ·B + beta·C with n < m
// and k large (a convolution's weight gradient: A and B are k×m and k×n):
// it computes Cᵀ = Bᵀ·A into a scratch matrix, so that the narrower B is
// the operand transposed into rows of pairs, and then adds it into C. The
// caller takes this path where the k·(m−n) elements it saves transposing
// outweigh the m·n it adds (by 8×: the merge reads Cᵀ across its rows).
func sgemmTilesSwapped(kern *kernel, aForm form, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	sc := getScratch(m * n)
	defer putScratch(sc)
	ct := u32AsF32(sc.buf)
	tilesAsIs(kern, true, false, floats, aForm, n, m, k, alpha, b, ldb, a, lda, 0, ct, m)
	for i := 0; i < m; i++ {
		ci := c[i*ldc : i*ldc+n]
		for jj := range ci {
			v := ct[jj*m+i]
			switch beta {
			case 0:
			case 1:
				v += ci[jj]
			default:
				v += beta * ci[jj]
			}
			ci[jj] = v
		}
	}
}

// clearTail zeroes columns from..ld-1 of the rows rows of dst (stride ld):
// the pair steps past k, or the columns past n, that a tile kernel reads.
func clearTail(dst []uint32, ld, rows, from int) {
	if from >= ld {
		return
	}
	for r := 0; r < rows; r++ {
		clear(dst[r*ld+from : (r+1)*ld])
	}
}
