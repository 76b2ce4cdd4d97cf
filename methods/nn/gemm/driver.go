package gemm

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// parallelWork is the flop count (2·m·n·k) under which a product runs on the
// calling goroutine alone: below it, waking a worker costs more than the
// second core saves.
const parallelWork = 4e6

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

// job is one Sgemm call, shared by the goroutines that compute its parts.
type job struct {
	kern         *kernel
	aTrans       bool
	bTrans       bool
	m, n, k      int
	alpha, beta  float32
	a, b, c      []float32
	lda, ldb     int
	ldc          int
	splitN       bool
	parts, units int // parts of the split dimension, counted in units of mr or nr
	wg           sync.WaitGroup
}

var jobPool = sync.Pool{New: func() any { return new(job) }}

// workItem asks a worker for part part of job j.
type workItem struct {
	j    *job
	part int
}

var (
	workMu      sync.Mutex
	workers     int
	workCh      = make(chan workItem, 64)
	workspaceMu sync.Mutex
	freeSpaces  []*workspace
)

// ensureWorkers starts worker goroutines until there are at least n. They
// live for the life of the program, blocked on workCh when idle.
func ensureWorkers(n int) {
	workMu.Lock()
	for workers < n {
		workers++
		go func() {
			for it := range workCh {
				it.j.runPart(it.part)
				it.j.wg.Done()
			}
		}()
	}
	workMu.Unlock()
}

// workspace holds one goroutine's packed panels. Workspaces are kept on a
// free list for the life of the program (not in a sync.Pool, which a GC
// would empty), so steady-state calls allocate nothing.
type workspace struct {
	a, b []float32
	tmp  [mr * nr]float32 // edge tiles are computed here, then merged into C
}

func getWorkspace(kern *kernel) *workspace {
	var ws *workspace
	workspaceMu.Lock()
	if n := len(freeSpaces); n > 0 {
		ws = freeSpaces[n-1]
		freeSpaces = freeSpaces[:n-1]
	}
	workspaceMu.Unlock()
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
	workspaceMu.Lock()
	freeSpaces = append(freeSpaces, ws)
	workspaceMu.Unlock()
}

func roundUp(x, to int) int { return (x + to - 1) / to * to }

// sgemm runs a validated product with alpha ≠ 0 and m, n, k ≥ 1.
func sgemm(aTrans, bTrans bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	j := jobPool.Get().(*job)
	*j = job{
		kern: active.Load(), aTrans: aTrans, bTrans: bTrans,
		m: m, n: n, k: k, alpha: alpha, beta: beta,
		a: a, b: b, c: c, lda: lda, ldb: ldb, ldc: ldc,
	}
	// Split the larger of m and n, in whole micro-tiles.
	j.splitN = n >= m
	if j.splitN {
		j.units = (n + nr - 1) / nr
	} else {
		j.units = (m + mr - 1) / mr
	}
	j.parts = 1
	if t := Threads(); t > 1 && 2*float64(m)*float64(n)*float64(k) >= parallelWork {
		j.parts = min(t, j.units)
	}
	if j.parts > 1 {
		ensureWorkers(j.parts - 1)
		j.wg.Add(j.parts - 1)
		for p := 1; p < j.parts; p++ {
			workCh <- workItem{j, p}
		}
	}
	j.runPart(0)
	j.wg.Wait()
	j.a, j.b, j.c = nil, nil, nil
	jobPool.Put(j)
}

// runPart computes part p of the split dimension.
func (j *job) runPart(p int) {
	lo := j.units * p / j.parts
	hi := j.units * (p + 1) / j.parts
	i0, i1, j0, j1 := 0, j.m, 0, j.n
	if j.splitN {
		j0, j1 = lo*nr, min(hi*nr, j.n)
	} else {
		i0, i1 = lo*mr, min(hi*mr, j.m)
	}
	ws := getWorkspace(j.kern)
	j.block(ws, i0, i1, j0, j1)
	putWorkspace(ws)
}

// block computes C[i0:i1, j0:j1] with the Goto loop nest: n in NC-wide
// slabs, k in KC-deep slices (one packed B block each), m in MC-high blocks
// (one packed A block each), then micro-tiles with the B micro-panel outer so
// it stays in L1 while the A micro-panels stream from L2.
func (j *job) block(ws *workspace, i0, i1, j0, j1 int) {
	kern := j.kern
	micro := kern.micro
	kcb := split(j.k, kern.kc, 4)
	mcb := split(i1-i0, kern.mc, mr)
	for jc := j0; jc < j1; jc += kern.nc {
		nc := min(kern.nc, j1-jc)
		for pc := 0; pc < j.k; pc += kcb {
			kc := min(kcb, j.k-pc)
			packB(ws.b, j.b, j.ldb, j.bTrans, pc, kc, jc, nc)
			mode, beta := modeAdd, float32(1)
			if pc == 0 {
				switch j.beta {
				case 0:
					mode = modeSet
				case 1:
				default:
					mode, beta = modeBeta, j.beta
				}
			}
			for ic := i0; ic < i1; ic += mcb {
				mc := min(mcb, i1-ic)
				packA(ws.a, j.a, j.lda, j.aTrans, ic, mc, pc, kc)
				for jr := 0; jr < nc; jr += nr {
					bp := &ws.b[jr*kc]
					cols := min(nr, nc-jr)
					for ir := 0; ir < mc; ir += mr {
						ap := &ws.a[ir*kc]
						rows := min(mr, mc-ir)
						ci := (ic+ir)*j.ldc + jc + jr
						if rows == mr && cols == nr {
							micro(kc, ap, bp, &j.c[ci], j.ldc, j.alpha, beta, mode)
							continue
						}
						micro(kc, ap, bp, &ws.tmp[0], nr, 1, 0, modeSet)
						mergeEdge(j.c[ci:], j.ldc, ws.tmp[:], rows, cols, j.alpha, beta, mode)
					}
				}
			}
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
