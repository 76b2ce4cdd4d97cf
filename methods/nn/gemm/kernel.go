package gemm

import (
	"sync/atomic"
	"unsafe"
)

// Register tile of every kernel. 12×32 is the largest tile whose
// accumulators fit AVX-512's 32 zmm registers with room to spare: 24
// accumulators (12 rows × 2 vectors of 16 floats), 2 for the B row and 2 for
// broadcast A values, Z15 left alone. Each k step then does 24 FMAs for 2
// vector loads and 12 broadcasts. The packed layout is shared by all
// kernels, so they can be swapped without changing the packing code.
const (
	mr = 12 // rows of C per micro-kernel call (A micro-panel height)
	nr = 32 // columns of C per micro-kernel call (B micro-panel width)
)

// Store modes of a micro-kernel call.
const (
	modeSet  = 0 // C = alpha·AB
	modeAdd  = 1 // C = alpha·AB + C
	modeBeta = 2 // C = alpha·AB + beta·C
)

// microKernel multiplies a packed A micro-panel (kc steps of mr floats) by a
// packed B micro-panel (kc steps of nr floats), kc ≥ 1, and stores the mr×nr
// result into c (row stride ldc elements) according to mode. A kernel whose
// edges field is set stores only the top-left rows×cols of the tile; the
// others always store the whole tile, and are given full tiles only.
type microKernel func(kc int, a, b, c *float32, ldc int, alpha, beta float32, mode, rows, cols int)

// directKernel is a microKernel that reads a full-height (rows = mr) tile
// of op(A) from A itself, lda floats apart, instead of a packed
// micro-panel: op(A) = Aᵀ (directT: a k step's mr values are contiguous,
// steps lda apart) or op(A) = A (directN: the values lda apart, steps
// contiguous). It does the same FMAs in the same order as micro, so the
// product is bit-identical.
type directKernel func(kc int, a, b, c *float32, ldc int, alpha, beta float32, mode, rows, cols, lda int)

// kernel is a micro-kernel with the cache blocking that suits it.
type kernel struct {
	name       string
	micro      microKernel
	edges      bool     // micro stores partial tiles itself
	kc, mc, nc int      // maximum block sizes along k, m and n
	pk         *packers // vectorised packing, or nil for the Go loops
	// directT and directN read op(A) unpacked (nil: the kernel has none).
	directT, directN directKernel
	// tileN, when set, computes every panel of C, reading op(A) = A
	// unpacked (op(A) is never transposed): the AMX kernel, which cannot
	// read the packed layout. kq is its step along k, a divisor of every
	// KC block (0: 4); the caller pads k to a multiple of it.
	tileN tileKernel
	kq    int
}

// tileKernel is a directKernel over panels tiles of C one below the other
// (mr rows apart in A and C), each storing its top rows rows, whose B
// micro-panel has ldb floats a k step: nr when packed, or B's own stride
// when op(B) = B is read where it lies (its columns padded to whole
// panels by the caller).
type tileKernel func(kc int, a, b, c *float32, ldc int, alpha, beta float32, mode, rows, cols, lda, panels, ldb int)

// amxStep is the AMX kernel's step along k, in bf16 pairs: a tile row of
// 64 bytes.
const amxStep = 16

// step is the multiple of which every KC block of kern is.
func (kern *kernel) step() int {
	if kern.kq > 0 {
		return kern.kq
	}
	return 4
}

var (
	// kernels lists every kernel this machine can run, best first.
	kernels = append(platformKernels(),
		&kernel{name: "generic", micro: kernGeneric, kc: 256, mc: 96, nc: 1024})
	active atomic.Pointer[kernel]
)

func init() { active.Store(kernels[0]) }

// Kernel names the micro-kernel in use: "avx512", "avx2" or "generic".
func Kernel() string { return active.Load().name }

// kernelNames lists the kernels available on this machine, best first.
func kernelNames() []string {
	names := make([]string, len(kernels))
	for i, k := range kernels {
		names[i] = k.name
	}
	return names
}

// setKernel forces the named kernel (a test hook) and returns a function that
// restores the previous one. It panics if the kernel is not available.
func setKernel(name string) (restore func()) {
	for _, k := range kernels {
		if k.name == name {
			prev := active.Swap(k)
			return func() { active.Store(prev) }
		}
	}
	panic("gemm: kernel " + name + " not available")
}

// kernGeneric is the pure-Go micro-kernel. It works on 2×4 blocks of the
// tile: the 8 accumulators and 6 loaded values fit in the 16 floating-point
// registers of amd64 without spilling. The panels are walked by reslicing
// so the loop carries no bounds checks.
func kernGeneric(kc int, a, b, c *float32, ldc int, alpha, beta float32, mode, _, _ int) {
	as := unsafe.Slice(a, kc*mr)
	bs := unsafe.Slice(b, kc*nr)
	cs := unsafe.Slice(c, (mr-1)*ldc+nr)
	for i := 0; i < mr; i += 2 {
		for j := 0; j < nr; j += 4 {
			var c00, c01, c02, c03, c10, c11, c12, c13 float32
			ap, bp := as[i:], bs[j:]
			for p := 0; p < kc; p++ {
				if len(ap) < 2 || len(bp) < 4 {
					break // never: lets the compiler drop the bounds checks
				}
				a0, a1 := ap[0], ap[1]
				b0, b1, b2, b3 := bp[0], bp[1], bp[2], bp[3]
				c00 += a0 * b0
				c01 += a0 * b1
				c02 += a0 * b2
				c03 += a0 * b3
				c10 += a1 * b0
				c11 += a1 * b1
				c12 += a1 * b2
				c13 += a1 * b3
				if p+1 < kc {
					ap, bp = ap[mr:], bp[nr:]
				}
			}
			acc := [8]float32{c00, c01, c02, c03, c10, c11, c12, c13}
			for r := 0; r < 2; r++ {
				row := cs[(i+r)*ldc+j : (i+r)*ldc+j+4 : (i+r)*ldc+j+4]
				for q := range row {
					v := alpha * acc[4*r+q]
					switch mode {
					case modeAdd:
						v += row[q]
					case modeBeta:
						v += beta * row[q]
					}
					row[q] = v
				}
			}
		}
	}
}
