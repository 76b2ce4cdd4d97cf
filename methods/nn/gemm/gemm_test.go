package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/gonum"
)

var transposes = []blas.Transpose{blas.NoTrans, blas.Trans}

// testShapes are m, n, k triples: odd sizes, every remainder of m mod 12
// and several of n mod 32 (edge tiles), exact multiples of the 12×32 tile,
// k past one KC block (256), m past MC (144) and n past NC (1024).
var testShapes = [][3]int{
	{1, 1, 1}, {1, 7, 3}, {5, 1, 9}, {9, 9, 1}, {2, 31, 17}, {3, 16, 8},
	{6, 17, 33}, {7, 15, 40}, {8, 47, 21}, {10, 49, 64}, {4, 64, 5},
	{37, 300, 53}, {37, 53, 300}, {41, 129, 70}, {100, 33, 65}, {13, 515, 77},
	{12, 32, 16}, {24, 64, 256}, {36, 96, 257}, {12, 32, 600},
	{144, 64, 40}, {145, 33, 19}, {11, 1025, 5}, {300, 20, 520},
	{130, 700, 1100},
}

// mat is a rows×cols row-major matrix inside a buffer whose stride and tail
// padding hold a sentinel, so writes outside the matrix can be detected.
type mat struct {
	rows, cols, stride int
	buf                []float32 // data plus padding
}

const pad = 5

func newMat(rows, cols int, sentinel float32) mat {
	stride := cols + 3
	m := mat{rows, cols, stride, make([]float32, rows*stride+pad)}
	for i := range m.buf {
		m.buf[i] = sentinel
	}
	return m
}

// data is the slice passed to BLAS: exactly (rows-1)·stride+cols long.
func (m mat) data() []float32 { return m.buf[:(m.rows-1)*m.stride+m.cols] }

func (m mat) fill(f func() float32) {
	for i := 0; i < m.rows; i++ {
		for j := 0; j < m.cols; j++ {
			m.buf[i*m.stride+j] = f()
		}
	}
}

func (m mat) clone() mat {
	c := m
	c.buf = append([]float32(nil), m.buf...)
	return c
}

// checkPadding reports entries outside the matrix that differ from sentinel.
func (m mat) checkPadding(t *testing.T, sentinel float32) {
	t.Helper()
	for idx, v := range m.buf {
		i, j := idx/m.stride, idx%m.stride
		if i < m.rows && j < m.cols {
			continue
		}
		if math.Float32bits(v) != math.Float32bits(sentinel) {
			t.Fatalf("padding at [%d] (row %d col %d) changed to %v", idx, i, j, v)
		}
	}
}

func smallInt(r *rand.Rand) func() float32 {
	return func() float32 { return float32(r.IntN(7) - 3) }
}

func dims(t blas.Transpose, rows, cols int) (int, int) {
	if t == blas.NoTrans {
		return rows, cols
	}
	return cols, rows
}

// exactCase is one product of the exact tests: small-integer operands in
// NaN padding, C before the call (NaN when beta is 0, which must not read
// it) and gonum's result.
type exactCase struct {
	desc        string
	tA, tB      blas.Transpose
	m, n, k     int
	alpha, beta float32
	a, b        mat
	c0, want    mat
}

// exactSentinel fills C's padding, which no product may write.
const exactSentinel = -7777

// exactCases calls check with every shape of testShapes, transpose pair,
// alpha of alphas and beta of 0, 1 and 0.3, drawing the operands from r.
func exactCases(r *rand.Rand, alphas []float32, check func(c exactCase)) {
	for _, sh := range testShapes {
		m, n, k := sh[0], sh[1], sh[2]
		for _, tA := range transposes {
			for _, tB := range transposes {
				ar, ac := dims(tA, m, k)
				br, bc := dims(tB, k, n)
				a := newMat(ar, ac, float32(math.NaN()))
				b := newMat(br, bc, float32(math.NaN()))
				a.fill(smallInt(r))
				b.fill(smallInt(r))
				for _, alpha := range alphas {
					for _, beta := range []float32{0, 1, 0.3} {
						c0 := newMat(m, n, exactSentinel)
						if beta == 0 {
							c0.fill(func() float32 { return float32(math.NaN()) })
						} else {
							c0.fill(smallInt(r))
						}
						want := c0.clone()
						if beta == 0 {
							want.fill(func() float32 { return 0 })
						}
						gonum.Implementation{}.Sgemm(tA, tB, m, n, k, alpha, a.data(), a.stride, b.data(), b.stride, beta, want.data(), want.stride)
						check(exactCase{fmt.Sprintf("%dx%dx%d tA=%c tB=%c alpha=%v beta=%v", m, n, k, tA, tB, alpha, beta),
							tA, tB, m, n, k, alpha, beta, a, b, c0, want})
					}
				}
			}
		}
	}
}

// TestSgemmExact compares every kernel with gonum on small-integer inputs,
// for which both must be exact except when beta is 0.3 (beta·C rounds at a
// different point), where the results may differ by the rounding of the
// terms: 1e-4 absolute (the entries are at most a few hundred) plus 1e-6
// relative.
func TestSgemmExact(t *testing.T) {
	exactCases(rand.New(rand.NewPCG(1, 2)), []float32{1, -0.5}, func(c exactCase) {
		for _, name := range kernelNames() {
			restore := setKernel(name)
			got := c.c0.clone()
			Implementation{}.Sgemm(c.tA, c.tB, c.m, c.n, c.k, c.alpha, c.a.data(), c.a.stride, c.b.data(), c.b.stride, c.beta, got.data(), got.stride)
			restore()
			got.checkPadding(t, exactSentinel)
			compare(t, name+" "+c.desc, got, c.want, c.beta == 0.3)
		}
	})
}

func compare(t *testing.T, desc string, got, want mat, approx bool) {
	t.Helper()
	for i := 0; i < got.rows; i++ {
		for j := 0; j < got.cols; j++ {
			g, w := got.buf[i*got.stride+j], want.buf[i*want.stride+j]
			if g == w || approx && math.Abs(float64(g-w)) <= 1e-4+1e-6*math.Abs(float64(w)) {
				continue
			}
			t.Fatalf("%s: C[%d,%d] = %v, want %v", desc, i, j, g, w)
		}
	}
}

// TestSgemmRandom checks uniform(−1, 1) inputs against a float64 reference:
// each entry must be within 1e-5·Σ|a||b| of the exact sum, which leaves room
// for float32 rounding of KC-long partial sums but not for a wrong term.
func TestSgemmRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, sh := range [][3]int{{77, 190, 600}, {200, 45, 333}} {
		m, n, k := sh[0], sh[1], sh[2]
		for _, tA := range transposes {
			for _, tB := range transposes {
				ar, ac := dims(tA, m, k)
				br, bc := dims(tB, k, n)
				a, b := newMat(ar, ac, 0), newMat(br, bc, 0)
				uni := func() float32 { return float32(2*r.Float64() - 1) }
				a.fill(uni)
				b.fill(uni)
				at := func(x mat, tr blas.Transpose, i, j int) float64 {
					if tr != blas.NoTrans {
						i, j = j, i
					}
					return float64(x.buf[i*x.stride+j])
				}
				for _, name := range kernelNames() {
					restore := setKernel(name)
					c := newMat(m, n, 0)
					Implementation{}.Sgemm(tA, tB, m, n, k, 1.5, a.data(), a.stride, b.data(), b.stride, 0, c.data(), c.stride)
					restore()
					for i := 0; i < m; i++ {
						for j := 0; j < n; j++ {
							var s, abs float64
							for p := 0; p < k; p++ {
								x := at(a, tA, i, p) * at(b, tB, p, j)
								s += x
								abs += math.Abs(x)
							}
							s *= 1.5
							if d := math.Abs(float64(c.buf[i*c.stride+j]) - s); d > 1e-5*1.5*abs {
								t.Fatalf("%s %dx%dx%d tA=%c tB=%c: C[%d,%d] = %v, want %v (|diff| %g, Σ|ab| %g)",
									name, m, n, k, tA, tB, i, j, c.buf[i*c.stride+j], s, d, abs)
							}
						}
					}
				}
			}
		}
	}
}

// TestThreads runs shapes large enough to be split, over 1 and 3 goroutines,
// splitting both n (n ≥ m) and m.
func TestThreads(t *testing.T) {
	defer SetThreads(0)
	r := rand.New(rand.NewPCG(5, 6))
	for _, sh := range [][3]int{{130, 700, 300}, {700, 130, 300}, {37, 2000, 64}, {600, 620, 300}} {
		m, n, k := sh[0], sh[1], sh[2]
		for _, tA := range transposes {
			for _, tB := range transposes {
				ar, ac := dims(tA, m, k)
				br, bc := dims(tB, k, n)
				a, b := newMat(ar, ac, 0), newMat(br, bc, 0)
				a.fill(smallInt(r))
				b.fill(smallInt(r))
				want := newMat(m, n, 1)
				gonum.Implementation{}.Sgemm(tA, tB, m, n, k, 1, a.data(), a.stride, b.data(), b.stride, 0, want.data(), want.stride)
				for _, th := range []int{1, 3} {
					SetThreads(th)
					if Threads() != th {
						t.Fatalf("Threads() = %d after SetThreads(%d)", Threads(), th)
					}
					got := newMat(m, n, 1)
					Implementation{}.Sgemm(tA, tB, m, n, k, 1, a.data(), a.stride, b.data(), b.stride, 0, got.data(), got.stride)
					got.checkPadding(t, 1)
					compare(t, fmt.Sprintf("threads=%d %dx%dx%d tA=%c tB=%c", th, m, n, k, tA, tB), got, want, false)
				}
			}
		}
	}
	SetThreads(-1)
	if Threads() < 1 {
		t.Fatalf("Threads() = %d with SetThreads(-1)", Threads())
	}
}

// TestUnshared forces the path where each chunk packs both operands itself
// (used when the shared operand would exceed shareMax), with 1 and 3
// goroutines.
func TestUnshared(t *testing.T) {
	defer func(s int) { shareMax = s }(shareMax)
	defer SetThreads(0)
	shareMax = 0
	r := rand.New(rand.NewPCG(9, 10))
	for _, sh := range [][3]int{{37, 300, 53}, {300, 37, 530}, {130, 1100, 300}, {13, 70, 2}, {1250, 40, 30}} {
		m, n, k := sh[0], sh[1], sh[2]
		for _, tA := range transposes {
			for _, tB := range transposes {
				ar, ac := dims(tA, m, k)
				br, bc := dims(tB, k, n)
				a, b := newMat(ar, ac, 0), newMat(br, bc, 0)
				a.fill(smallInt(r))
				b.fill(smallInt(r))
				c0 := newMat(m, n, 2)
				c0.fill(smallInt(r))
				want := c0.clone()
				gonum.Implementation{}.Sgemm(tA, tB, m, n, k, -0.5, a.data(), a.stride, b.data(), b.stride, 1, want.data(), want.stride)
				for _, th := range []int{1, 3} {
					SetThreads(th)
					got := c0.clone()
					Implementation{}.Sgemm(tA, tB, m, n, k, -0.5, a.data(), a.stride, b.data(), b.stride, 1, got.data(), got.stride)
					got.checkPadding(t, 2)
					compare(t, fmt.Sprintf("unshared threads=%d %dx%dx%d tA=%c tB=%c", th, m, n, k, tA, tB), got, want, false)
				}
			}
		}
	}
}

// TestConcurrent runs products from several goroutines at once: calls share
// the workers and the workspace lists.
func TestConcurrent(t *testing.T) {
	shapes := [][3]int{{130, 700, 300}, {700, 130, 40}, {64, 64, 64}, {300, 300, 300}}
	type problem struct {
		m, n, k int
		a, b    []float32
		want    []float32
	}
	r := rand.New(rand.NewPCG(11, 12))
	var ps []problem
	for _, sh := range shapes {
		m, n, k := sh[0], sh[1], sh[2]
		p := problem{m: m, n: n, k: k, a: make([]float32, m*k), b: make([]float32, k*n), want: make([]float32, m*n)}
		for i := range p.a {
			p.a[i] = float32(r.IntN(7) - 3)
		}
		for i := range p.b {
			p.b[i] = float32(r.IntN(7) - 3)
		}
		gonum.Implementation{}.Sgemm(blas.NoTrans, blas.NoTrans, m, n, k, 1, p.a, k, p.b, n, 0, p.want, n)
		ps = append(ps, p)
	}
	errs := make(chan error, 4*len(ps))
	done := make(chan struct{})
	for g := 0; g < 4; g++ {
		go func() {
			defer func() { done <- struct{}{} }()
			for it := 0; it < 10; it++ {
				p := ps[(g+it)%len(ps)]
				c := make([]float32, p.m*p.n)
				Implementation{}.Sgemm(blas.NoTrans, blas.NoTrans, p.m, p.n, p.k, 1, p.a, p.k, p.b, p.n, 0, c, p.n)
				for i := range c {
					if c[i] != p.want[i] {
						errs <- fmt.Errorf("goroutine %d, %dx%dx%d: c[%d] = %v, want %v", g, p.m, p.n, p.k, i, c[i], p.want[i])
						return
					}
				}
			}
		}()
	}
	for g := 0; g < 4; g++ {
		<-done
	}
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestSpecialCases covers alpha = 0, k = 0, empty matrices and beta = 0 over
// a C full of NaN.
func TestSpecialCases(t *testing.T) {
	nan := float32(math.NaN())
	a := []float32{1, 2, 3, 4, 5, 6}
	b := []float32{1, 2, 3, 4, 5, 6}
	c := []float32{nan, nan, nan, nan}
	Implementation{}.Sgemm(blas.NoTrans, blas.NoTrans, 2, 2, 0, 1, a, 1, b, 2, 0, c, 2)
	for _, v := range c {
		if v != 0 {
			t.Fatalf("k=0, beta=0: C = %v, want zeros", c)
		}
	}
	c = []float32{1, 2, 3, 4}
	Implementation{}.Sgemm(blas.NoTrans, blas.NoTrans, 2, 2, 3, 0, a, 3, b, 2, 2, c, 2)
	if c[0] != 2 || c[3] != 8 {
		t.Fatalf("alpha=0, beta=2: C = %v", c)
	}
	Implementation{}.Sgemm(blas.NoTrans, blas.NoTrans, 0, 0, 3, 1, nil, 3, nil, 1, 0, nil, 1)
	// ConjTrans is Trans for real matrices (10³ takes the packed path).
	sq := make([]float32, 100)
	for i := range sq {
		sq[i] = float32(i%7 - 3)
	}
	c, c2 := make([]float32, 100), make([]float32, 100)
	Implementation{}.Sgemm(blas.ConjTrans, blas.ConjTrans, 10, 10, 10, 1, sq, 10, sq, 10, 0, c, 10)
	Implementation{}.Sgemm(blas.Trans, blas.Trans, 10, 10, 10, 1, sq, 10, sq, 10, 0, c2, 10)
	for i := range c {
		if c[i] != c2[i] {
			t.Fatalf("ConjTrans: %v, Trans: %v", c, c2)
		}
	}
	// NaN in C with beta = 0 on a shape that takes the packed path.
	const m, n, k = 30, 40, 20
	big := make([]float32, m*n)
	for i := range big {
		big[i] = nan
	}
	ones := make([]float32, m*k+k*n)
	for i := range ones {
		ones[i] = 1
	}
	Implementation{}.Sgemm(blas.NoTrans, blas.NoTrans, m, n, k, 1, ones, k, ones, n, 0, big, n)
	for i, v := range big {
		if v != k {
			t.Fatalf("beta=0 over NaN: C[%d] = %v, want %d", i, v, k)
		}
	}
}

// TestPanics checks that bad arguments panic with gonum's messages.
func TestPanics(t *testing.T) {
	buf := make([]float32, 100)
	cases := []struct {
		name          string
		tA, tB        blas.Transpose
		m, n, k       int
		a, b, c       []float32
		lda, ldb, ldc int
	}{
		{"transpose", 'x', blas.NoTrans, 2, 2, 2, buf, buf, buf, 2, 2, 2},
		{"m<0", blas.NoTrans, blas.NoTrans, -1, 2, 2, buf, buf, buf, 2, 2, 2},
		{"lda", blas.NoTrans, blas.NoTrans, 2, 2, 3, buf, buf, buf, 2, 2, 2},
		{"ldb", blas.NoTrans, blas.Trans, 2, 2, 3, buf, buf, buf, 3, 2, 2},
		{"ldc", blas.NoTrans, blas.NoTrans, 2, 3, 2, buf, buf, buf, 2, 3, 2},
		{"short a", blas.NoTrans, blas.NoTrans, 21, 2, 5, buf, buf, buf, 5, 2, 2},
		{"short b", blas.NoTrans, blas.NoTrans, 2, 10, 20, buf, buf, buf, 20, 10, 10},
		{"short c", blas.NoTrans, blas.NoTrans, 20, 10, 1, buf, buf, buf, 1, 10, 10},
	}
	for _, tc := range cases {
		want := panicMsg(func() {
			gonum.Implementation{}.Sgemm(tc.tA, tc.tB, tc.m, tc.n, tc.k, 1, tc.a, tc.lda, tc.b, tc.ldb, 0, tc.c, tc.ldc)
		})
		got := panicMsg(func() {
			Implementation{}.Sgemm(tc.tA, tc.tB, tc.m, tc.n, tc.k, 1, tc.a, tc.lda, tc.b, tc.ldb, 0, tc.c, tc.ldc)
		})
		if want == nil || fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: panic %v, gonum panics %v", tc.name, got, want)
		}
	}
}

func panicMsg(f func()) (v any) {
	defer func() { v = recover() }()
	f()
	return nil
}

// TestUse checks that blas32.Gemm goes through this package after Use.
func TestUse(t *testing.T) {
	Use()
	defer blas32.Use(gonum.Implementation{})
	if _, ok := blas32.Implementation().(Implementation); !ok {
		t.Fatalf("blas32.Implementation() = %T", blas32.Implementation())
	}
	a := blas32.General{Rows: 2, Cols: 2, Stride: 2, Data: []float32{1, 2, 3, 4}}
	c := blas32.General{Rows: 2, Cols: 2, Stride: 2, Data: make([]float32, 4)}
	blas32.Gemm(blas.NoTrans, blas.NoTrans, 1, a, a, 0, c)
	if c.Data[0] != 7 || c.Data[3] != 22 {
		t.Fatalf("Gemm = %v", c.Data)
	}
	if Kernel() != kernelNames()[0] {
		t.Fatalf("Kernel() = %q, want %q", Kernel(), kernelNames()[0])
	}
	t.Logf("kernel %s, kernels available %v, threads %d", Kernel(), kernelNames(), Threads())
}

// TestNoAllocs checks that a medium, multi-threaded product allocates nothing
// once its workspaces exist.
func TestNoAllocs(t *testing.T) {
	const m, n, k = 128, 256, 784
	a := make([]float32, m*k)
	b := make([]float32, k*n)
	c := make([]float32, m*n)
	for _, tr := range [][2]blas.Transpose{{blas.NoTrans, blas.NoTrans}, {blas.Trans, blas.NoTrans}, {blas.NoTrans, blas.Trans}} {
		lda, ldb := k, n
		if tr[0] == blas.Trans {
			lda = m
		}
		if tr[1] == blas.Trans {
			ldb = k
		}
		f := func() { Implementation{}.Sgemm(tr[0], tr[1], m, n, k, 1, a, lda, b, ldb, 0, c, n) }
		f()
		if allocs := testing.AllocsPerRun(50, f); allocs != 0 {
			t.Errorf("%c%c: %v allocations per call", tr[0], tr[1], allocs)
		}
	}
}

// TestPackers checks the vectorised packers against the Go loops, for block
// depths around the 16-column transpose block and both panel kinds.
func TestPackers(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, kern := range kernels {
		if kern.pk == nil {
			continue
		}
		for _, kc := range []int{1, 4, 15, 16, 17, 33, 196, 256} {
			const rows = 300 // source matrix rows, more than any block needs
			ld := 300
			src := make([]float32, rows*ld)
			for i := range src {
				src[i] = float32(r.IntN(1000))
			}
			for _, trans := range []bool{false, true} {
				// A: mc = 26 rows (two full panels and a partial one).
				mc, nc := 26, 70
				if trans {
					mc = 40
				}
				got := make([]float32, roundUp(mc, mr)*kc)
				want := make([]float32, len(got))
				packA(kern.pk, got, src, ld, trans, 3, mc, 2, kc)
				packA(nil, want, src, ld, trans, 3, mc, 2, kc)
				for i := range got {
					if got[i] != want[i] {
						t.Fatalf("%s packA trans=%v kc=%d: [%d] = %v, want %v", kern.name, trans, kc, i, got[i], want[i])
					}
				}
				if trans {
					nc = 40
				} else {
					nc = 70
				}
				got = make([]float32, roundUp(nc, nr)*kc)
				want = make([]float32, len(got))
				if trans {
					packB(kern.pk, got, src, ld, true, 1, kc, 5, nc)
					packB(nil, want, src, ld, true, 1, kc, 5, nc)
				} else {
					packB(kern.pk, got, src, ld, false, 1, kc, 5, nc-10)
					packB(nil, want, src, ld, false, 1, kc, 5, nc-10)
				}
				for i := range got {
					if got[i] != want[i] {
						t.Fatalf("%s packB trans=%v kc=%d: [%d] = %v, want %v", kern.name, trans, kc, i, got[i], want[i])
					}
				}
			}
		}
	}
}

// TestDirectA checks that reading op(A) unpacked (the convolution shapes:
// n ≤ 128, whether m or n is split) gives the packed path's product bit for bit, on random
// floats, for both layouts of A, partial last panels, several KC blocks,
// each store mode, 1 and 2 goroutines.
func TestDirectA(t *testing.T) {
	defer func(s int) { shareMax = s }(shareMax)
	defer SetThreads(0)
	r := rand.New(rand.NewPCG(11, 12))
	uniform := func() float32 { return float32(r.Float64() - 0.5) }
	for _, sh := range [][3]int{{1000, 32, 28}, {1000, 64, 289}, {997, 40, 9}, {300, 17, 600}, {25, 64, 3}, {28, 32, 5000}, {13, 64, 700}, {600, 128, 300}, {500, 100, 77}, {40, 128, 3000}} {
		m, n, k := sh[0], sh[1], sh[2]
		for _, tA := range transposes {
			ar, ac := dims(tA, m, k)
			a, b := newMat(ar, ac, float32(math.NaN())), newMat(k, n, float32(math.NaN()))
			a.fill(uniform)
			b.fill(uniform)
			c0 := newMat(m, n, 2)
			c0.fill(uniform)
			for _, beta := range []float32{0, 1, 0.3} {
				for _, th := range []int{1, 2} {
					for _, share := range []int{4 << 20, 0} {
						SetThreads(th)
						shareMax = share
						product := func(direct bool) mat {
							defer func(d bool, dt int) { directOn, directTMaxM = d, dt }(directOn, directTMaxM)
							directOn = direct
							if direct {
								directTMaxM = math.MaxInt
							}
							c := c0.clone()
							Implementation{}.Sgemm(tA, blas.NoTrans, m, n, k, 0.7, a.data(), a.stride, b.data(), b.stride, beta, c.data(), c.stride)
							c.checkPadding(t, 2)
							return c
						}
						got, want := product(true), product(false)
						for i := range got.buf {
							if math.Float32bits(got.buf[i]) != math.Float32bits(want.buf[i]) {
								t.Fatalf("%dx%dx%d tA=%c beta=%v threads=%d shareMax=%d: C[%d] = %v unpacked, %v packed",
									m, n, k, tA, beta, th, share, i, got.buf[i], want.buf[i])
							}
						}
					}
				}
			}
		}
	}
}
