package gemm

import (
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/noprop/noprop/methods/nn/internal/workpool"
)

// parallelWork is the flop count (2·m·n·k) under which a product runs on the
// calling goroutine alone: below it, waking a worker costs more than the
// second core saves.
const parallelWork = 2e6

// shareMax bounds, in floats, the operand that is packed once and shared by
// all goroutines (op(A) when n is split, op(B) when m is split). A variable
// so that tests can force the other path.
var shareMax = 4 << 20

var threads atomic.Int64 // requested thread count; ≤ 0 means GOMAXPROCS

// SetThreads sets how many goroutines a large Sgemm is split over; n ≤ 0
// means runtime.GOMAXPROCS(0), the default.
func SetThreads(n int) { threads.Store(int64(n)) }

// Threads reports how many goroutines a large Sgemm is split over.
func Threads() int {
	if n := int(threads.Load()); n > 0 {
		return n
	}
	return runtime.GOMAXPROCS(0)
}

// job is one Sgemm call, shared by the goroutines that compute it.
//
// The larger of m and n (the split dimension) is cut into chunks that the
// goroutines claim one at a time, so a goroutine that starts late or is
// descheduled on a busy machine simply takes fewer chunks. The other
// operand is packed once into sh, KC block by KC block, by whichever
// goroutine first needs a block; when it is too large for that, each chunk
// packs its own blocks (the plain Goto loop, with larger chunks).
type job struct {
	kern        *kernel
	aTrans      bool
	bTrans      bool
	m, n, k     int
	alpha, beta float32
	a, b, c     []float32
	lda, ldb    int
	ldc         int

	splitN  bool
	directA bool         // full A panels are read unpacked (multiplyA)
	directB bool         // op(B) = B is read unpacked by a tileN kernel
	convert              // the operands converted to pairs block by block
	chunk   int          // chunk size along the split dimension
	nchunks int          // number of chunks
	next    atomic.Int64 // next chunk to claim

	kcb, nq int            // KC block depth and number of KC blocks
	shared  bool           // the other operand is packed once, in sh
	sh      []float32      // its packed KC blocks, block q at q·kcb·shWidth
	shWidth int            // rows (splitN) or columns (splitM) of sh, rounded up to the tile
	shSub   int            // pieces each block of sh is packed in (units)
	shNext  atomic.Int64   // next unit of sh to pack, unit u = q·shSub + piece
	shDone  []atomic.Int32 // 1 once unit u of sh is packed

	// crew counts the workers that joined the call and have finished it.
	workpool.Crew
}

var (
	listMu     sync.Mutex
	freeSpaces []*workspace
	freeJobs   []*job
)

// workspace holds one goroutine's packed panels. Workspaces and jobs are
// kept on free lists for the life of the program (not in a sync.Pool, which
// a GC would empty), so steady-state calls allocate nothing.
type workspace struct {
	a, b []float32
	t    []float32        // a transposed operand's last 16 pair rows before their transpose (pairBlockT)
	tmp  [mr * nr]float32 // edge tiles are computed here, then merged into C
}

func getWorkspace(kern *kernel) *workspace {
	var ws *workspace
	listMu.Lock()
	if n := len(freeSpaces); n > 0 {
		ws = freeSpaces[n-1]
		freeSpaces = freeSpaces[:n-1]
	}
	listMu.Unlock()
	if ws == nil {
		ws = new(workspace)
	}
	if need := roundUp(kern.mc, mr) * kern.kc; len(ws.a) < need {
		ws.a = make([]float32, need)
	}
	if need := roundUp(kern.nc, nr) * kern.kc; len(ws.b) < need {
		ws.b = make([]float32, need)
	}
	return ws
}

func putWorkspace(ws *workspace) {
	listMu.Lock()
	freeSpaces = append(freeSpaces, ws)
	listMu.Unlock()
}

func getJob() *job {
	listMu.Lock()
	defer listMu.Unlock()
	if n := len(freeJobs); n > 0 {
		j := freeJobs[n-1]
		freeJobs = freeJobs[:n-1]
		return j
	}
	return new(job)
}

func putJob(j *job) {
	j.a, j.b, j.c = nil, nil, nil
	listMu.Lock()
	freeJobs = append(freeJobs, j)
	listMu.Unlock()
}

func roundUp(x, to int) int { return (x + to - 1) / to * to }

func ceilDiv(x, y int) int { return (x + y - 1) / y }

// sgemm runs a validated product with alpha ≠ 0 and m, n, k ≥ 1.
func sgemm(aTrans, bTrans bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	sgemmWith(active.Load(), aTrans, bTrans, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// sgemmWith is sgemm with the given kernel.
func sgemmWith(kern *kernel, aTrans, bTrans bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	sgemmJob(kern, aTrans, bTrans, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, convert{})
}

// convert says which operands of a tileN kernel's product still hold
// floats (or bf16 words), to be converted to bf16 pairs block by block
// just before the kernel reads them, while they are in cache.
type convert struct {
	// floatsA > 0: A holds m rows of floatsA floats (aTrans: floatsA rows
	// of m floats) rather than m rows of k pairs.
	floatsA int
	// floatsB > 0 (with n ≥ m, so that each goroutine converts only its
	// own columns): op(B) = B holds floatsB rows of n floats rather than k
	// rows of pairs; with wordsB, rows of n bf16 words (PairRow's), two to
	// a float32 slot.
	floatsB int
	wordsB  bool
}

// sgemmJob is sgemmWith for a tileN kernel whose operands may still need
// converting (cv).
func sgemmJob(kern *kernel, aTrans, bTrans bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, cv convert) {
	j := getJob()
	j.convert = cv
	j.kern, j.aTrans, j.bTrans = kern, aTrans, bTrans
	j.m, j.n, j.k, j.alpha, j.beta = m, n, k, alpha, beta
	j.a, j.b, j.c, j.lda, j.ldb, j.ldc = a, b, c, lda, ldb, ldc

	parts := 1
	if t := Threads(); t > 1 && 2*float64(m)*float64(n)*float64(k) >= parallelWork {
		parts = t
	}
	j.kcb = split(k, kern.kc, kern.step())
	j.nq = ceilDiv(k, j.kcb)
	j.splitN = n >= m
	// An A panel serves ceil(n/nr) B panels: for up to four, packing it (a
	// read and a write of A, then a read) costs more than reading it where
	// it lies (the convolution products, whose n is a channel count).
	j.directA = kern.tileN != nil || directOn && (!aTrans || m <= directTMaxM) && n <= directMaxN && m >= mr && kern.directT != nil
	j.directB = kern.tileN != nil && !bTrans
	dim, tile, other, otherTile := m, mr, n, nr
	if j.splitN {
		dim, tile, other, otherTile = n, nr, m, mr
	}
	j.chunks(dim, tile, other, otherTile, parts)
	j.nchunks = ceilDiv(dim, j.chunk)
	parts = min(parts, j.nchunks)
	j.next.Store(0)

	if parts > 1 {
		j.Open()
		workpool.Offer(j, parts-1)
	}
	// The caller computes chunks too, and never waits for a worker that has
	// not started: it closes the job when no chunk is left and waits only
	// for the workers that joined, which are running.
	j.work()
	if parts > 1 {
		j.Close()
	}
	putJob(j)
}

// chunks sets how the split dimension dim (tile: its micro-panel size) is
// cut into chunks for parts goroutines, and whether the other operand
// (other wide, otherTile its panel size) is packed once and shared.
func (j *job) chunks(dim, tile, other, otherTile, parts int) {
	k, aTrans := j.k, j.aTrans
	j.shWidth = roundUp(other, otherTile)
	j.shared = j.shWidth*k <= shareMax
	if j.shared {
		// Several chunks per goroutine balance the load; chunks cost little
		// since the other operand is packed once.
		j.chunk = roundUp(ceilDiv(dim, 4*parts), tile)
		if !j.splitN && aTrans {
			// A chunk of rows of op(A) = Aᵀ is a run of columns of A: keep
			// the runs long, so that each KC block of A is read from memory
			// in few, long pieces (the conv "wgrad" shape, k ≫ m).
			j.chunk = roundUp(ceilDiv(dim, parts), tile)
		}
		// A claim is a contended atomic: keep chunks at 1 Mflop or more
		// (the conv1 shape, k = 9, would otherwise have 0.1 Mflop chunks).
		j.chunk = max(j.chunk, roundUp(ceilDiv(1e6, 2*other*k), tile))
		// The shared operand (A when n is split, else B) is never packed
		// when the kernel reads it where it lies.
		inPlace := j.directB
		if j.splitN {
			inPlace = j.directA
		}
		if need := j.shWidth * j.kcb * j.nq; len(j.sh) < need && !inPlace {
			j.sh = make([]float32, need)
		}
		// Blocks are packed in pieces of about 16 K floats, so that all the
		// goroutines waiting for the first block help pack it.
		j.shSub = max(1, min(j.shWidth*j.kcb/(16<<10), 4*parts, j.shWidth/otherTile))
		if units := j.nq * j.shSub; cap(j.shDone) < units {
			j.shDone = make([]atomic.Int32, units)
		}
		j.shDone = j.shDone[:j.nq*j.shSub]
		for q := range j.shDone {
			j.shDone[q].Store(0)
		}
		j.shNext.Store(0)
	} else {
		// Each chunk repacks the other operand (each element of it serves
		// 2·chunk flops), so chunks are kept large: at least 256 columns or
		// 576 rows, which keeps the repacking to a few per cent.
		minChunk := 48 * mr
		if j.splitN {
			minChunk = 8 * nr
		}
		j.chunk = max(roundUp(ceilDiv(dim, 4*parts), tile), minChunk)
	}
}

// work claims and computes chunks until none is left.
// Help computes chunks until none is left.
func (j *job) Help() {
	j.work()
	j.Leave() // the last access to j
}

func (j *job) work() {
	ws := getWorkspace(j.kern)
	for {
		c := int(j.next.Add(1) - 1)
		if c >= j.nchunks {
			break
		}
		lo := c * j.chunk
		if j.splitN {
			hi := min(lo+j.chunk, j.n)
			if j.shared {
				j.chunkSharedA(ws, lo, hi)
			} else {
				j.block(ws, 0, j.m, lo, hi)
			}
		} else {
			hi := min(lo+j.chunk, j.m)
			if j.shared {
				j.chunkSharedB(ws, lo, hi)
			} else {
				j.block(ws, lo, hi, 0, j.n)
			}
		}
	}
	putWorkspace(ws)
}

// sharedBlock returns packed KC block q of the shared operand. While a
// piece of it is not ready, it packs pieces itself (the next unclaimed ones,
// of block q or later).
func (j *job) sharedBlock(q int) []float32 {
	for s := 0; s < j.shSub; s++ {
		for j.shDone[q*j.shSub+s].Load() == 0 {
			if u := int(j.shNext.Add(1) - 1); u < len(j.shDone) {
				j.packShared(u)
				j.shDone[u].Store(1)
				continue
			}
			runtime.Gosched() // another goroutine is packing the piece
		}
	}
	return j.sh[q*j.kcb*j.shWidth:]
}

// packShared packs unit u of the shared operand: piece u mod shSub (a range
// of whole panels) of KC block u / shSub.
func (j *job) packShared(u int) {
	q, piece := u/j.shSub, u%j.shSub
	pc := q * j.kcb
	kc := min(j.kcb, j.k-pc)
	dim, tile := j.m, mr
	if !j.splitN {
		dim, tile = j.n, nr
	}
	panels := ceilDiv(dim, tile)
	lo := panels * piece / j.shSub * tile
	hi := min(panels*(piece+1)/j.shSub*tile, dim)
	if lo >= hi {
		return
	}
	dst := j.sh[q*j.kcb*j.shWidth+lo*kc:]
	if j.splitN {
		packA(j.kern.pk, dst, j.a, j.lda, j.aTrans, lo, hi-lo, pc, kc)
	} else {
		packB(j.kern.pk, dst, j.b, j.ldb, j.bTrans, pc, kc, lo, hi-lo)
	}
}

// storeMode returns the kernel store mode and beta for KC block pc: the
// first block applies the caller's beta, later ones accumulate.
func (j *job) storeMode(pc int) (int, float32) {
	if pc > 0 {
		return modeAdd, 1
	}
	switch j.beta {
	case 0:
		return modeSet, 0
	case 1:
		return modeAdd, 1
	}
	return modeBeta, j.beta
}

// chunkSharedA computes C[:, j0:j1] from the shared packed op(A).
func (j *job) chunkSharedA(ws *workspace, j0, j1 int) {
	kern := j.kern
	mcb := split(j.m, kern.mc, mr)
	for jc := j0; jc < j1; jc += kern.nc {
		nc := min(kern.nc, j1-jc)
		for q := 0; q < j.nq; q++ {
			pc := q * j.kcb
			kc := min(j.kcb, j.k-pc)
			j.packB(ws, pc, kc, jc, nc)
			mode, beta := j.storeMode(pc)
			if j.directA { // A is never packed
				for ic := 0; ic < j.m; ic += mcb {
					j.multiplyA(ws, ws.b, kc, pc, ic, min(mcb, j.m-ic), jc, nc, mode, beta)
				}
				continue
			}
			pa := j.sharedBlock(q)
			for ic := 0; ic < j.m; ic += mcb {
				j.macro(ws, pa[ic*kc:], ws.b, kc, ic, min(mcb, j.m-ic), jc, nc, mode, beta)
			}
		}
	}
}

// chunkSharedB computes C[i0:i1, :] from the shared packed op(B).
func (j *job) chunkSharedB(ws *workspace, i0, i1 int) {
	kern := j.kern
	mcb := split(i1-i0, kern.mc, mr)
	for q := 0; q < j.nq; q++ {
		pc := q * j.kcb
		kc := min(j.kcb, j.k-pc)
		var pb []float32
		if !j.directB {
			pb = j.sharedBlock(q)
		}
		mode, beta := j.storeMode(pc)
		for ic := i0; ic < i1; ic += mcb {
			mc := min(mcb, i1-ic)
			if j.directA {
				j.multiplyA(ws, pb, kc, pc, ic, mc, 0, j.n, mode, beta)
				continue
			}
			packA(kern.pk, ws.a, j.a, j.lda, j.aTrans, ic, mc, pc, kc)
			for jc := 0; jc < j.n; jc += kern.nc {
				j.macro(ws, ws.a, pb[jc*kc:], kc, ic, mc, jc, min(kern.nc, j.n-jc), mode, beta)
			}
		}
	}
}

// block computes C[i0:i1, j0:j1] with the Goto loop nest, packing both
// operands itself: n in NC-wide slabs, k in KC-deep slices (one packed B
// block each), m in MC-high blocks (one packed A block each).
func (j *job) block(ws *workspace, i0, i1, j0, j1 int) {
	kern := j.kern
	mcb := split(i1-i0, kern.mc, mr)
	for jc := j0; jc < j1; jc += kern.nc {
		nc := min(kern.nc, j1-jc)
		for q := 0; q < j.nq; q++ {
			pc := q * j.kcb
			kc := min(j.kcb, j.k-pc)
			j.packB(ws, pc, kc, jc, nc)
			mode, beta := j.storeMode(pc)
			for ic := i0; ic < i1; ic += mcb {
				mc := min(mcb, i1-ic)
				if j.directA {
					j.multiplyA(ws, ws.b, kc, pc, ic, mc, jc, nc, mode, beta)
					continue
				}
				packA(kern.pk, ws.a, j.a, j.lda, j.aTrans, ic, mc, pc, kc)
				j.macro(ws, ws.a, ws.b, kc, ic, mc, jc, nc, mode, beta)
			}
		}
	}
}

// macro multiplies a packed mc×kc block of A (pa) by a packed kc×nc block
// of B (pb) into C[ic:ic+mc, jc:jc+nc]. The B micro-panel is the outer loop
// so that it stays in L1 while the A micro-panels stream from L2.
func (j *job) macro(ws *workspace, pa, pb []float32, kc, ic, mc, jc, nc, mode int, beta float32) {
	micro := j.kern.micro
	for jr := 0; jr < nc; jr += nr {
		bp := &pb[jr*kc]
		cols := min(nr, nc-jr)
		for ir := 0; ir < mc; ir += mr {
			ap := &pa[ir*kc]
			rows := min(mr, mc-ir)
			ci := (ic+ir)*j.ldc + jc + jr
			if rows == mr && cols == nr || j.kern.edges {
				_ = j.c[ci+(rows-1)*j.ldc+cols-1]
				micro(kc, ap, bp, &j.c[ci], j.ldc, j.alpha, beta, mode, rows, cols)
				continue
			}
			micro(kc, ap, bp, &ws.tmp[0], nr, 1, 0, modeSet, mr, nr)
			mergeEdge(j.c[ci:], j.ldc, ws.tmp[:], rows, cols, j.alpha, beta, mode)
		}
	}
}

// split returns the block size for cutting n into pieces of at most max:
// equal pieces, rounded up to a multiple of q, so no piece is a sliver.
func split(n, max, q int) int {
	pieces := (n + max - 1) / max
	b := roundUp((n+pieces-1)/pieces, q)
	return min(b, roundUp(max, q))
}

// mergeEdge stores the top-left rows×cols of the tile t into c as a kernel
// call with the given mode would.
func mergeEdge(c []float32, ldc int, t []float32, rows, cols int, alpha, beta float32, mode int) {
	for r := 0; r < rows; r++ {
		cr := c[r*ldc : r*ldc+cols]
		tr := t[r*nr : r*nr+cols]
		for q, v := range tr {
			v *= alpha
			switch mode {
			case modeAdd:
				v += cr[q]
			case modeBeta:
				v += beta * cr[q]
			}
			cr[q] = v
		}
	}
}
