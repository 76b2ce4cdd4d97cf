//go:build amd64 && !purego

package nn

import "golang.org/x/sys/cpu"

// Vector kernels in Go assembly (adam_amd64.s, vec_amd64.s).

//go:noescape
func adamAVX512(c *adamConsts, w, grad, m, v *float32, n int)

//go:noescape
func adamAVX2(c *adamConsts, w, grad, m, v *float32, n int)

//go:noescape
func addAVX512(dst, src *float32, n int)

//go:noescape
func reluAVX512(dst, src *float32, n int)

//go:noescape
func reluMaskScaleAVX512(dst, dy, y *float32, n int, scale float32)

//go:noescape
func dropoutAVX512(a *dropoutArgs, dst, src *float32, n int, relu bool)

//go:noescape
func poolFwdAVX512(dst *float32, arg *uint8, src *float32, c, stride, oh, ow int, relu bool)

//go:noescape
func poolBwdAVX512(dx *float32, arg *uint8, dy *float32, c, stride, oh, ow int)

//go:noescape
func acc64AVX512(acc *float64, x *float32, n int)

//go:noescape
func accSqDev64AVX512(acc *float64, x, mean *float32, n int)

//go:noescape
func bnNormAVX512(y, xhat, x, mean, invStd, gamma, beta *float32, n int)

//go:noescape
func bnSums64AVX512(s, sx *float64, dy, xh *float32, n int)

//go:noescape
func bnDxAVX512(d, dy, xh, a, b, c *float32, n int)

//go:noescape
func conv3x3c1FwdAVX512(out, x, w, b *float32, width, oh, ow, oc int)

//go:noescape
func conv3x3c1WgradAVX512(acc, x, dy *float32, width, oh, ow, oc int)

//go:noescape
func col2imAddAVX512(dst, src *float32, ld, c, w, k, oh, ow int)

//go:noescape
func im2colAVX512(dst *float32, ld int, extra float32, src *float32, c, w, k, oh, ow int)

//go:noescape
func im2colPairsAVX512(dst *float32, ld int, extra uint32, tail int, src *float32, c, w, k, oh, ow int)

//go:noescape
func im2col3x3c3AVX512(dst *float32, ld int, extra float32, src *float32, width, oh, ow int)

// vecLevels lists the levels this CPU can run, best first.
func vecLevels() []int {
	var ls []int
	if cpu.X86.HasAVX512F && cpu.X86.HasAVX512DQ {
		ls = append(ls, vecAVX512)
	}
	if cpu.X86.HasAVX2 {
		ls = append(ls, vecAVX2)
	}
	return ls
}
