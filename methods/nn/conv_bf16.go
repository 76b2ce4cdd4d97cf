package nn

import (
	"math"

	"github.com/noprop/noprop/methods/nn/gemm"
)

// bf16Cols lets Conv2D build its im2col rows in bf16 (a test turns it
// off to compare with the rows in floats).
var bf16Cols = true

// pairedCols reports whether im2col writes its rows in bf16 (gemm.PairRow):
// when the products that read them (forward, tangent, weight gradient)
// are BF16 ones anyway, the rows are rounded once as they are built,
// rather than converted from floats by every product, and take half the
// memory traffic. It needs a whole pair per k·C run of a row (C even).
func (l *Conv2D) pairedCols() bool {
	kc := l.k * l.c
	return bf16Cols && l.Weight.Products == BF16 && gemm.HasBF16() && l.k*kc+1 >= BF16MinK && kc%2 == 0
}

// im2colPairs is im2colHWC writing the rows in bf16 (gemm.PairRow), ld
// float32 slots apart, zero from the pair of the extra column on; k·c must
// be even, so that each k·c run starts a pair.
func im2colPairs(dst []float32, ld int, extra float32, src []float32, c, w, k, oh, ow int) {
	kc := k * c
	stride := w * c
	last := k * kc / 2 // the slot of the extra column
	ex := [1]float32{extra}
	if tail := ld - last; vecLevel == vecAVX512 && kc%32 == 0 && tail <= 16 && oh*ow > 0 {
		// One call for the example, as im2colAVX512.
		_ = dst[(oh*ow-1)*ld+ld-1]
		_ = src[((oh+k-2)*w+ow+k-2)*c+c-1]
		var bits [1]float32
		gemm.PairRow(bits[:], ex[:])
		im2colPairsAVX512(&dst[0], ld, math.Float32bits(bits[0]), tail, &src[0], c, w, k, oh, ow)
		return
	}
	p := 0
	for oy := 0; oy < oh; oy++ {
		for ox := 0; ox < ow; ox++ {
			base := oy*stride + ox*c
			row := dst[p : p+ld]
			for ky := 0; ky < k; ky++ {
				gemm.PairRow(row[ky*kc/2:(ky+1)*kc/2], src[base+ky*stride:base+ky*stride+kc])
			}
			gemm.PairRow(row[last:last+1], ex[:])
			clear(row[last+1:])
			p += ld
		}
	}
}
