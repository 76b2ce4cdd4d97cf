//go:build !amd64 || purego

package nn

// vecLevels lists no vector level: the Go loops are used, and the kernels
// below are never called.
func vecLevels() []int { return nil }

func adamAVX512(c *adamConsts, w, grad, m, v *float32, n int)       { panic("nn: no vector kernels") }
func adamAVX2(c *adamConsts, w, grad, m, v *float32, n int)         { panic("nn: no vector kernels") }
func addAVX512(dst, src *float32, n int)                            { panic("nn: no vector kernels") }
func reluAVX512(dst, src *float32, n int)                           { panic("nn: no vector kernels") }
func reluMaskScaleAVX512(dst, dy, y *float32, n int, scale float32) { panic("nn: no vector kernels") }
func dropoutAVX512(a *dropoutArgs, dst, src *float32, n int, relu bool) {
	panic("nn: no vector kernels")
}
func poolFwdAVX512(dst *float32, arg *uint8, src *float32, c, stride, oh, ow int, relu bool) {
	panic("nn: no vector kernels")
}
func poolBwdAVX512(dx *float32, arg *uint8, dy *float32, c, stride, oh, ow int) {
	panic("nn: no vector kernels")
}
func acc64AVX512(acc *float64, x *float32, n int)            { panic("nn: no vector kernels") }
func accSqDev64AVX512(acc *float64, x, mean *float32, n int) { panic("nn: no vector kernels") }
func bnNormAVX512(y, xhat, x, mean, invStd, gamma, beta *float32, n int) {
	panic("nn: no vector kernels")
}
func bnSums64AVX512(s, sx *float64, dy, xh *float32, n int) { panic("nn: no vector kernels") }
func bnDxAVX512(d, dy, xh, a, b, c *float32, n int)         { panic("nn: no vector kernels") }
func conv3x3c1FwdAVX512(out, x, w, b *float32, width, oh, ow, oc int) {
	panic("nn: no vector kernels")
}
func conv3x3c1WgradAVX512(acc, x, dy *float32, width, oh, ow, oc int) {
	panic("nn: no vector kernels")
}
func im2col3x3c3AVX512(dst *float32, ld int, extra float32, src *float32, width, oh, ow int) {
	panic("nn: no vector kernels")
}
func col2imAddAVX512(dst, src *float32, ld, c, w, k, oh, ow int) { panic("nn: no vector kernels") }
func im2colAVX512(dst *float32, ld int, extra float32, src *float32, c, w, k, oh, ow int) {
	panic("nn: no vector kernels")
}
func im2colPairsAVX512(dst *float32, ld int, extra uint32, tail int, src *float32, c, w, k, oh, ow int) {
	panic("nn: no vector kernels")
}
