package nn

// Element-wise kernels in Go assembly (vec_amd64.s, adam_amd64.s) replace
// the hottest Go loops on CPUs that have the instructions. Each computes
// exactly (bit for bit) what the Go loop computes, on a prefix of the data
// whose length is a multiple of the vector width; the Go loop does the
// rest. They are called directly (not through function values), so that
// pointers to the callers' stack variables do not escape.
//
// Levels, chosen once at start-up with golang.org/x/sys/cpu: vecAVX512
// (AVX-512 F and DQ: every kernel), vecAVX2 (the optimizer only), vecGo
// (no kernel; every other architecture, and the purego build tag).
const (
	vecGo = iota
	vecAVX2
	vecAVX512
)

// vecLevel is the level in use.
var vecLevel = vecGo

// vecLevelNames names the levels.
var vecLevelNames = [...]string{vecGo: "go", vecAVX2: "avx2", vecAVX512: "avx512"}

func init() {
	if ls := vecLevels(); len(ls) > 0 {
		vecLevel = ls[0]
	}
}

// VectorKernels names the instruction set of the element-wise kernels in
// use: "avx512", "avx2" or "go".
func VectorKernels() string { return vecLevelNames[vecLevel] }

// addTo sets dst += src.
func addTo(dst, src []float32) {
	src = src[:len(dst)]
	j := 0
	if vecLevel == vecAVX512 && len(dst) >= 16 {
		j = len(dst) &^ 15
		addAVX512(&dst[0], &src[0], j)
	}
	for ; j < len(dst); j++ {
		dst[j] += src[j]
	}
}
