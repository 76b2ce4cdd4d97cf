package gemm

import (
	"sync/atomic"
	"unsafe"
)

// Register tile of every kernel: the packed layout is shared, so kernels can
// be swapped without changing the packing code.
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
// result into c (row stride ldc elements) according to mode.
type microKernel func(kc int, a, b, c *float32, ldc int, alpha, beta float32, mode int)

// kernel is a micro-kernel with the cache blocking that suits it.
type kernel struct {
	name       string
	micro      microKernel
	kc, mc, nc int // maximum block sizes along k, m and n
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

// kernGeneric is the pure-Go micro-kernel. It works on 4×4 blocks of the
// tile so that the 16 accumulators stay in registers where the architecture
// has enough of them.
func kernGeneric(kc int, a, b, c *float32, ldc int, alpha, beta float32, mode int) {
	as := unsafe.Slice(a, kc*mr)
	bs := unsafe.Slice(b, kc*nr)
	cs := unsafe.Slice(c, (mr-1)*ldc+nr)
	for i := 0; i < mr; i += 4 {
		for j := 0; j < nr; j += 4 {
			var c00, c01, c02, c03, c10, c11, c12, c13 float32
			var c20, c21, c22, c23, c30, c31, c32, c33 float32
			ap, bp := as[i:], bs[j:]
			for p := 0; p < kc; p++ {
				av := ap[p*mr : p*mr+4 : p*mr+4]
				bv := bp[p*nr : p*nr+4 : p*nr+4]
				a0, a1, a2, a3 := av[0], av[1], av[2], av[3]
				b0, b1, b2, b3 := bv[0], bv[1], bv[2], bv[3]
				c00 += a0 * b0
				c01 += a0 * b1
				c02 += a0 * b2
				c03 += a0 * b3
				c10 += a1 * b0
				c11 += a1 * b1
				c12 += a1 * b2
				c13 += a1 * b3
				c20 += a2 * b0
				c21 += a2 * b1
				c22 += a2 * b2
				c23 += a2 * b3
				c30 += a3 * b0
				c31 += a3 * b1
				c32 += a3 * b2
				c33 += a3 * b3
			}
			acc := [16]float32{c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23, c30, c31, c32, c33}
			for r := 0; r < 4; r++ {
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
