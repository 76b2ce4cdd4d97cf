//go:build amd64 && !purego

#include "textflag.h"

// Element-wise AVX-512 kernels (see vectorKernel in vec.go). Each matches
// its Go loop bit for bit. Counts are multiples of 16.

// func addAVX512(dst, src *float32, n int)
TEXT ·addAVX512(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	CMPQ CX, $64
	JLT add_one

add_four:
	VMOVUPS (DI), Z0
	VMOVUPS 64(DI), Z1
	VMOVUPS 128(DI), Z2
	VMOVUPS 192(DI), Z3
	VADDPS (SI), Z0, Z0
	VADDPS 64(SI), Z1, Z1
	VADDPS 128(SI), Z2, Z2
	VADDPS 192(SI), Z3, Z3
	VMOVUPS Z0, (DI)
	VMOVUPS Z1, 64(DI)
	VMOVUPS Z2, 128(DI)
	VMOVUPS Z3, 192(DI)
	ADDQ $256, DI
	ADDQ $256, SI
	SUBQ $64, CX
	CMPQ CX, $64
	JGE add_four

add_one:
	TESTQ CX, CX
	JEQ add_done
	VMOVUPS (DI), Z0
	VADDPS (SI), Z0, Z0
	VMOVUPS Z0, (DI)
	ADDQ $64, DI
	ADDQ $64, SI
	SUBQ $16, CX
	JMP add_one

add_done:
	VZEROUPPER
	RET

// func reluAVX512(dst, src *float32, n int)
// dst = max(0, src) on the bits as int32: negative floats (and -0, and
// NaNs with the sign set) become +0.
TEXT ·reluAVX512(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	VPXORD Z31, Z31, Z31
	TESTQ CX, CX
	JEQ relu_done

relu_loop:
	VPMAXSD (SI), Z31, Z0
	VMOVDQU32 Z0, (DI)
	ADDQ $64, DI
	ADDQ $64, SI
	SUBQ $16, CX
	JNE relu_loop

relu_done:
	VZEROUPPER
	RET

// func reluMaskScaleAVX512(dst, dy, y *float32, n int, scale float32)
// dst = dy·scale where y > 0 (as int32 bits: positive, not ±0), else +0.
TEXT ·reluMaskScaleAVX512(SB), NOSPLIT, $0-36
	MOVQ dst+0(FP), DI
	MOVQ dy+8(FP), SI
	MOVQ y+16(FP), DX
	MOVQ n+24(FP), CX
	VBROADCASTSS scale+32(FP), Z30
	VPXORD Z31, Z31, Z31
	TESTQ CX, CX
	JEQ rms_done

rms_loop:
	VMOVDQU32 (DX), Z1
	VPCMPGTD Z31, Z1, K1
	VMULPS.Z (SI), Z30, K1, Z0
	VMOVUPS Z0, (DI)
	ADDQ $64, DI
	ADDQ $64, SI
	ADDQ $64, DX
	SUBQ $16, CX
	JNE rms_loop

rms_done:
	VZEROUPPER
	RET

// func dropoutAVX512(a *dropoutArgs, dst, src *float32, n int, relu bool)
// dst = x·mask for 16 elements per step from an even element; x is src or
// max(0, src). a: 0 z (8 lanes of (i+1)·golden), 64 seed, 72 inc,
// 80 thresh, 84 scale. The 8 SplitMix64 hashes of a step, read as 16
// uint32, are the random bits of its 16 elements in order.
TEXT ·dropoutAVX512(SB), NOSPLIT, $0-33
	MOVQ a+0(FP), AX
	MOVQ dst+8(FP), DI
	MOVQ src+16(FP), SI
	MOVQ n+24(FP), CX
	MOVBLZX relu+32(FP), DX
	VMOVDQU64 0(AX), Z0
	VPBROADCASTQ 64(AX), Z1
	VPBROADCASTQ 72(AX), Z2
	VPBROADCASTD 80(AX), Z3
	VBROADCASTSS 84(AX), Z4
	MOVQ $0xbf58476d1ce4e5b9, BX
	VPBROADCASTQ BX, Z5
	MOVQ $0x94d049bb133111eb, BX
	VPBROADCASTQ BX, Z6
	VPXORD Z7, Z7, Z7
	TESTQ CX, CX
	JEQ drop_done

drop_loop:
	VPADDQ Z0, Z1, Z8
	VPSRLQ $30, Z8, Z9
	VPXORQ Z9, Z8, Z8
	VPMULLQ Z5, Z8, Z8
	VPSRLQ $27, Z8, Z9
	VPXORQ Z9, Z8, Z8
	VPMULLQ Z6, Z8, Z8
	VPSRLQ $31, Z8, Z9
	VPXORQ Z9, Z8, Z8
	VPCMPUD $5, Z3, Z8, K1     // kept: bits ≥ thresh
	VMOVDQA32.Z Z4, K1, Z10    // mask value: scale or +0
	VMOVUPS (SI), Z11
	TESTQ DX, DX
	JEQ drop_apply
	VPMAXSD Z7, Z11, Z11

drop_apply:
	VMULPS Z10, Z11, Z11
	VMOVUPS Z11, (DI)
	VPADDQ Z2, Z0, Z0
	ADDQ $64, DI
	ADDQ $64, SI
	SUBQ $16, CX
	JNE drop_loop

drop_done:
	VZEROUPPER
	RET

// func poolFwdAVX512(dst *float32, arg *uint8, src *float32, c, stride, oh, ow int, relu bool)
// maxPool2x2HWC for c a multiple of 16, stride = w·c (in floats).
TEXT ·poolFwdAVX512(SB), NOSPLIT, $0-57
	MOVQ dst+0(FP), DI
	MOVQ arg+8(FP), R8
	MOVQ src+16(FP), SI
	MOVQ c+24(FP), R9
	SHLQ $2, R9                // channel run in bytes
	MOVQ stride+32(FP), R10
	SHLQ $2, R10               // row in bytes
	MOVQ oh+40(FP), R11
	MOVQ ow+48(FP), R12
	MOVBLZX relu+56(FP), DX
	MOVL $0x7fffffff, BX
	VPBROADCASTD BX, Z20
	VPXORD Z21, Z21, Z21
	MOVL $1, BX
	VPBROADCASTD BX, Z22
	MOVL $2, BX
	VPBROADCASTD BX, Z23
	MOVL $3, BX
	VPBROADCASTD BX, Z24
	MOVL $4, BX
	VPBROADCASTD BX, Z25

pf_row:
	MOVQ SI, AX                // window base
	MOVQ R12, R13

pf_win:
	XORQ BX, BX

pf_ch:
	VMOVDQU32 (AX)(BX*1), Z0
	LEAQ (AX)(R9*1), CX
	VMOVDQU32 (CX)(BX*1), Z1
	LEAQ (AX)(R10*1), CX
	VMOVDQU32 (CX)(BX*1), Z2
	ADDQ R9, CX
	VMOVDQU32 (CX)(BX*1), Z3
	// Order-preserving integer keys: flip the magnitude of negatives.
	VPSRAD $31, Z0, Z8
	VPANDD Z20, Z8, Z8
	VPXORD Z8, Z0, Z0
	VPSRAD $31, Z1, Z8
	VPANDD Z20, Z8, Z8
	VPXORD Z8, Z1, Z1
	VPSRAD $31, Z2, Z8
	VPANDD Z20, Z8, Z8
	VPXORD Z8, Z2, Z2
	VPSRAD $31, Z3, Z8
	VPANDD Z20, Z8, Z8
	VPXORD Z8, Z3, Z3
	VPXORD Z9, Z9, Z9          // position 0
	VPCMPGTD Z0, Z1, K1
	VMOVDQA32 Z1, K1, Z0
	VMOVDQA32 Z22, K1, Z9
	VPCMPGTD Z0, Z2, K1
	VMOVDQA32 Z2, K1, Z0
	VMOVDQA32 Z23, K1, Z9
	VPCMPGTD Z0, Z3, K1
	VMOVDQA32 Z3, K1, Z0
	VMOVDQA32 Z24, K1, Z9
	TESTQ DX, DX
	JEQ pf_unkey
	VPCMPGTD Z21, Z0, K2       // maximum > 0
	KNOTW K2, K3
	VMOVDQA32 Z25, K3, Z9      // else: no gradient
	VPMAXSD Z21, Z0, Z0
	JMP pf_store

pf_unkey:
	VPSRAD $31, Z0, Z8
	VPANDD Z20, Z8, Z8
	VPXORD Z8, Z0, Z0

pf_store:
	VMOVDQU32 Z0, (DI)
	VPMOVDB Z9, (R8)
	ADDQ $64, DI
	ADDQ $16, R8
	ADDQ $64, BX
	CMPQ BX, R9
	JLT pf_ch
	ADDQ R9, AX
	ADDQ R9, AX
	DECQ R13
	JNE pf_win
	ADDQ R10, SI
	ADDQ R10, SI
	DECQ R11
	JNE pf_row
	VZEROUPPER
	RET

// func poolBwdAVX512(dx *float32, arg *uint8, dy *float32, c, stride, oh, ow int)
// maxUnpool2x2HWC for c a multiple of 16, stride = w·c (in floats).
TEXT ·poolBwdAVX512(SB), NOSPLIT, $0-56
	MOVQ dx+0(FP), DI
	MOVQ arg+8(FP), R8
	MOVQ dy+16(FP), SI
	MOVQ c+24(FP), R9
	SHLQ $2, R9
	MOVQ stride+32(FP), R10
	SHLQ $2, R10
	MOVQ oh+40(FP), R11
	MOVQ ow+48(FP), R12
	VPXORD Z21, Z21, Z21
	MOVL $1, BX
	VPBROADCASTD BX, Z22
	MOVL $2, BX
	VPBROADCASTD BX, Z23
	MOVL $3, BX
	VPBROADCASTD BX, Z24

pb_row:
	MOVQ DI, AX
	MOVQ R12, R13

pb_win:
	XORQ BX, BX

pb_ch:
	VMOVUPS (SI), Z0
	VPMOVZXBD (R8), Z9
	VPCMPEQD Z21, Z9, K1
	VMOVDQU32.Z Z0, K1, Z1
	VMOVDQU32 Z1, (AX)(BX*1)
	LEAQ (AX)(R9*1), CX
	VPCMPEQD Z22, Z9, K1
	VMOVDQU32.Z Z0, K1, Z1
	VMOVDQU32 Z1, (CX)(BX*1)
	LEAQ (AX)(R10*1), CX
	VPCMPEQD Z23, Z9, K1
	VMOVDQU32.Z Z0, K1, Z1
	VMOVDQU32 Z1, (CX)(BX*1)
	ADDQ R9, CX
	VPCMPEQD Z24, Z9, K1
	VMOVDQU32.Z Z0, K1, Z1
	VMOVDQU32 Z1, (CX)(BX*1)
	ADDQ $64, SI
	ADDQ $16, R8
	ADDQ $64, BX
	CMPQ BX, R9
	JLT pb_ch
	ADDQ R9, AX
	ADDQ R9, AX
	DECQ R13
	JNE pb_win
	ADDQ R10, DI
	ADDQ R10, DI
	DECQ R11
	JNE pb_row
	VZEROUPPER
	RET

// BatchNorm1D row kernels (batchnorm.go). Float64 accumulators take 16
// floats per step in two vectors of 8 doubles.

// func acc64AVX512(acc *float64, x *float32, n int)
// acc += float64(x).
TEXT ·acc64AVX512(SB), NOSPLIT, $0-24
	MOVQ acc+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	TESTQ CX, CX
	JEQ acc64_done

acc64_loop:
	VCVTPS2PD (SI), Z0
	VCVTPS2PD 32(SI), Z1
	VADDPD (DI), Z0, Z0
	VADDPD 64(DI), Z1, Z1
	VMOVUPD Z0, (DI)
	VMOVUPD Z1, 64(DI)
	ADDQ $64, SI
	ADDQ $128, DI
	SUBQ $16, CX
	JNE acc64_loop

acc64_done:
	VZEROUPPER
	RET

// func accSqDev64AVX512(acc *float64, x, mean *float32, n int)
// d = float64(x − mean) (the difference in float32); acc += d·d.
TEXT ·accSqDev64AVX512(SB), NOSPLIT, $0-32
	MOVQ acc+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ mean+16(FP), DX
	MOVQ n+24(FP), CX
	TESTQ CX, CX
	JEQ sqdev_done

sqdev_loop:
	VMOVUPS (SI), Z0
	VSUBPS (DX), Z0, Z0
	VCVTPS2PD Y0, Z1
	VEXTRACTF64X4 $1, Z0, Y2
	VCVTPS2PD Y2, Z2
	VMULPD Z1, Z1, Z1
	VMULPD Z2, Z2, Z2
	VADDPD (DI), Z1, Z1
	VADDPD 64(DI), Z2, Z2
	VMOVUPD Z1, (DI)
	VMOVUPD Z2, 64(DI)
	ADDQ $64, SI
	ADDQ $64, DX
	ADDQ $128, DI
	SUBQ $16, CX
	JNE sqdev_loop

sqdev_done:
	VZEROUPPER
	RET

// func bnNormAVX512(y, xhat, x, mean, invStd, gamma, beta *float32, n int)
// h = (x − mean)·invStd; xhat = h; y = γ·h + β.
TEXT ·bnNormAVX512(SB), NOSPLIT, $0-64
	MOVQ y+0(FP), DI
	MOVQ xhat+8(FP), SI
	MOVQ x+16(FP), DX
	MOVQ mean+24(FP), R8
	MOVQ invStd+32(FP), R9
	MOVQ gamma+40(FP), R10
	MOVQ beta+48(FP), R11
	MOVQ n+56(FP), CX
	SHLQ $2, CX
	XORQ BX, BX
	TESTQ CX, CX
	JEQ bnnorm_done

bnnorm_loop:
	VMOVUPS (DX)(BX*1), Z0
	VSUBPS (R8)(BX*1), Z0, Z0
	VMULPS (R9)(BX*1), Z0, Z0
	VMOVUPS Z0, (SI)(BX*1)
	VMULPS (R10)(BX*1), Z0, Z1
	VADDPS (R11)(BX*1), Z1, Z1
	VMOVUPS Z1, (DI)(BX*1)
	ADDQ $64, BX
	CMPQ BX, CX
	JNE bnnorm_loop

bnnorm_done:
	VZEROUPPER
	RET

// func bnSums64AVX512(s, sx *float64, dy, xh *float32, n int)
// s += float64(g); sx += float64(g·xh) (the product in float32).
TEXT ·bnSums64AVX512(SB), NOSPLIT, $0-40
	MOVQ s+0(FP), DI
	MOVQ sx+8(FP), R8
	MOVQ dy+16(FP), SI
	MOVQ xh+24(FP), DX
	MOVQ n+32(FP), CX
	TESTQ CX, CX
	JEQ bnsums_done

bnsums_loop:
	VMOVUPS (SI), Z0
	VMULPS (DX), Z0, Z1
	VCVTPS2PD Y0, Z2
	VEXTRACTF64X4 $1, Z0, Y3
	VCVTPS2PD Y3, Z3
	VADDPD (DI), Z2, Z2
	VADDPD 64(DI), Z3, Z3
	VMOVUPD Z2, (DI)
	VMOVUPD Z3, 64(DI)
	VCVTPS2PD Y1, Z4
	VEXTRACTF64X4 $1, Z1, Y5
	VCVTPS2PD Y5, Z5
	VADDPD (R8), Z4, Z4
	VADDPD 64(R8), Z5, Z5
	VMOVUPD Z4, (R8)
	VMOVUPD Z5, 64(R8)
	ADDQ $64, SI
	ADDQ $64, DX
	ADDQ $128, DI
	ADDQ $128, R8
	SUBQ $16, CX
	JNE bnsums_loop

bnsums_done:
	VZEROUPPER
	RET

// func bnDxAVX512(d, dy, xh, a, b, c *float32, n int)
// d = a·((g − b) − xh·c).
TEXT ·bnDxAVX512(SB), NOSPLIT, $0-56
	MOVQ d+0(FP), DI
	MOVQ dy+8(FP), SI
	MOVQ xh+16(FP), DX
	MOVQ a+24(FP), R8
	MOVQ b+32(FP), R9
	MOVQ c+40(FP), R10
	MOVQ n+48(FP), CX
	SHLQ $2, CX
	XORQ BX, BX
	TESTQ CX, CX
	JEQ bndx_done

bndx_loop:
	VMOVUPS (SI)(BX*1), Z0
	VSUBPS (R9)(BX*1), Z0, Z0
	VMOVUPS (DX)(BX*1), Z1
	VMULPS (R10)(BX*1), Z1, Z1
	VSUBPS Z1, Z0, Z0
	VMULPS (R8)(BX*1), Z0, Z0
	VMOVUPS Z0, (DI)(BX*1)
	ADDQ $64, BX
	CMPQ BX, CX
	JNE bndx_loop

bndx_done:
	VZEROUPPER
	RET

// Direct 3×3 convolution of one-channel HWC images into 32·g channels (the
// first layer of an image network, where im2col columns are 9 wide and the
// GEMM is bound by memory): Conv2D's direct path (conv.go).

// func conv3x3c1FwdAVX512(out, x, w, b *float32, width, oh, ow, oc int)
// One example: out[(oy·ow + ox)·oc + o] = Σ_kk x[(oy+ky)·width + ox+kx]·w[kk·oc + o]
// + b[o], kk = 3·ky + kx, accumulated with FMAs in kk order and the bias
// added last (the order of the GEMM path, which gives the same bits).
TEXT ·conv3x3c1FwdAVX512(SB), NOSPLIT, $0-64
	MOVQ out+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ w+16(FP), DX
	MOVQ b+24(FP), R8
	MOVQ width+32(FP), R9
	SHLQ $2, R9
	MOVQ oh+40(FP), R10
	MOVQ ow+48(FP), R11
	MOVQ oc+56(FP), R12
	SHLQ $2, R12

c1f_row:
	MOVQ SI, AX
	MOVQ R11, R13

c1f_pix:
	XORQ BX, BX

c1f_grp:
	LEAQ (DX)(BX*1), CX
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VBROADCASTSS 0(AX), Z2
	VFMADD231PS (CX), Z2, Z0
	VFMADD231PS 64(CX), Z2, Z1
	ADDQ R12, CX
	VBROADCASTSS 4(AX), Z3
	VFMADD231PS (CX), Z3, Z0
	VFMADD231PS 64(CX), Z3, Z1
	ADDQ R12, CX
	VBROADCASTSS 8(AX), Z2
	VFMADD231PS (CX), Z2, Z0
	VFMADD231PS 64(CX), Z2, Z1
	ADDQ R12, CX
	VBROADCASTSS 0(AX)(R9*1), Z3
	VFMADD231PS (CX), Z3, Z0
	VFMADD231PS 64(CX), Z3, Z1
	ADDQ R12, CX
	VBROADCASTSS 4(AX)(R9*1), Z2
	VFMADD231PS (CX), Z2, Z0
	VFMADD231PS 64(CX), Z2, Z1
	ADDQ R12, CX
	VBROADCASTSS 8(AX)(R9*1), Z3
	VFMADD231PS (CX), Z3, Z0
	VFMADD231PS 64(CX), Z3, Z1
	ADDQ R12, CX
	VBROADCASTSS 0(AX)(R9*2), Z2
	VFMADD231PS (CX), Z2, Z0
	VFMADD231PS 64(CX), Z2, Z1
	ADDQ R12, CX
	VBROADCASTSS 4(AX)(R9*2), Z3
	VFMADD231PS (CX), Z3, Z0
	VFMADD231PS 64(CX), Z3, Z1
	ADDQ R12, CX
	VBROADCASTSS 8(AX)(R9*2), Z2
	VFMADD231PS (CX), Z2, Z0
	VFMADD231PS 64(CX), Z2, Z1
	VADDPS (R8)(BX*1), Z0, Z0
	VADDPS 64(R8)(BX*1), Z1, Z1
	VMOVUPS Z0, (DI)
	VMOVUPS Z1, 64(DI)
	ADDQ $128, DI
	ADDQ $128, BX
	CMPQ BX, R12
	JLT c1f_grp
	ADDQ $4, AX
	DECQ R13
	JNE c1f_pix
	ADDQ R9, SI
	DECQ R10
	JNE c1f_row
	VZEROUPPER
	RET

// func conv3x3c1WgradAVX512(acc, x, dy *float32, width, oh, ow, oc int)
// One example, one group of 32 output channels: acc[kk·oc + o] +=
// Σ_pixels x[(oy+ky)·width + ox+kx]·dy[pixel·oc + o] for kk < 9 and
// acc[9·oc + o] += Σ_pixels dy[pixel·oc + o], in pixel order (acc, x and dy
// point at the group's first channel).
TEXT ·conv3x3c1WgradAVX512(SB), NOSPLIT, $0-56
	MOVQ acc+0(FP), R8
	MOVQ x+8(FP), SI
	MOVQ dy+16(FP), DI
	MOVQ width+24(FP), R9
	SHLQ $2, R9
	MOVQ oh+32(FP), R10
	MOVQ ow+40(FP), R11
	MOVQ oc+48(FP), R12
	SHLQ $2, R12
	MOVQ R8, CX
	VMOVUPS (CX), Z0
	VMOVUPS 64(CX), Z1
	ADDQ R12, CX
	VMOVUPS (CX), Z2
	VMOVUPS 64(CX), Z3
	ADDQ R12, CX
	VMOVUPS (CX), Z4
	VMOVUPS 64(CX), Z5
	ADDQ R12, CX
	VMOVUPS (CX), Z6
	VMOVUPS 64(CX), Z7
	ADDQ R12, CX
	VMOVUPS (CX), Z8
	VMOVUPS 64(CX), Z9
	ADDQ R12, CX
	VMOVUPS (CX), Z10
	VMOVUPS 64(CX), Z11
	ADDQ R12, CX
	VMOVUPS (CX), Z12
	VMOVUPS 64(CX), Z13
	ADDQ R12, CX
	VMOVUPS (CX), Z14
	VMOVUPS 64(CX), Z15
	ADDQ R12, CX
	VMOVUPS (CX), Z16
	VMOVUPS 64(CX), Z17
	ADDQ R12, CX
	VMOVUPS (CX), Z18
	VMOVUPS 64(CX), Z19

c1w_row:
	MOVQ SI, AX
	MOVQ R11, R13

c1w_pix:
	VMOVUPS (DI), Z20
	VMOVUPS 64(DI), Z21
	VBROADCASTSS 0(AX), Z22
	VFMADD231PS Z20, Z22, Z0
	VFMADD231PS Z21, Z22, Z1
	VBROADCASTSS 4(AX), Z23
	VFMADD231PS Z20, Z23, Z2
	VFMADD231PS Z21, Z23, Z3
	VBROADCASTSS 8(AX), Z22
	VFMADD231PS Z20, Z22, Z4
	VFMADD231PS Z21, Z22, Z5
	VBROADCASTSS 0(AX)(R9*1), Z23
	VFMADD231PS Z20, Z23, Z6
	VFMADD231PS Z21, Z23, Z7
	VBROADCASTSS 4(AX)(R9*1), Z22
	VFMADD231PS Z20, Z22, Z8
	VFMADD231PS Z21, Z22, Z9
	VBROADCASTSS 8(AX)(R9*1), Z23
	VFMADD231PS Z20, Z23, Z10
	VFMADD231PS Z21, Z23, Z11
	VBROADCASTSS 0(AX)(R9*2), Z22
	VFMADD231PS Z20, Z22, Z12
	VFMADD231PS Z21, Z22, Z13
	VBROADCASTSS 4(AX)(R9*2), Z23
	VFMADD231PS Z20, Z23, Z14
	VFMADD231PS Z21, Z23, Z15
	VBROADCASTSS 8(AX)(R9*2), Z22
	VFMADD231PS Z20, Z22, Z16
	VFMADD231PS Z21, Z22, Z17
	VADDPS Z20, Z18, Z18
	VADDPS Z21, Z19, Z19
	ADDQ $4, AX
	ADDQ R12, DI
	DECQ R13
	JNE c1w_pix
	ADDQ R9, SI
	DECQ R10
	JNE c1w_row
	MOVQ R8, CX
	VMOVUPS Z0, (CX)
	VMOVUPS Z1, 64(CX)
	ADDQ R12, CX
	VMOVUPS Z2, (CX)
	VMOVUPS Z3, 64(CX)
	ADDQ R12, CX
	VMOVUPS Z4, (CX)
	VMOVUPS Z5, 64(CX)
	ADDQ R12, CX
	VMOVUPS Z6, (CX)
	VMOVUPS Z7, 64(CX)
	ADDQ R12, CX
	VMOVUPS Z8, (CX)
	VMOVUPS Z9, 64(CX)
	ADDQ R12, CX
	VMOVUPS Z10, (CX)
	VMOVUPS Z11, 64(CX)
	ADDQ R12, CX
	VMOVUPS Z12, (CX)
	VMOVUPS Z13, 64(CX)
	ADDQ R12, CX
	VMOVUPS Z14, (CX)
	VMOVUPS Z15, 64(CX)
	ADDQ R12, CX
	VMOVUPS Z16, (CX)
	VMOVUPS Z17, 64(CX)
	ADDQ R12, CX
	VMOVUPS Z18, (CX)
	VMOVUPS Z19, 64(CX)
	VZEROUPPER
	RET

// func im2col3x3c3AVX512(dst *float32, ld int, extra float32, src *float32, width, oh, ow int)
// The im2col rows of one 3-channel HWC example (width pixels a row) for a
// 3×3 convolution: row oy·ow + ox (ld floats apart) holds the 9 values of
// each of the 3 image rows under the window, then extra (ld > 27). Each
// 9-value piece is one masked load and store.
TEXT ·im2col3x3c3AVX512(SB), NOSPLIT, $0-56
	MOVQ dst+0(FP), DI
	MOVQ ld+8(FP), R8
	SHLQ $2, R8
	MOVSS extra+16(FP), X5
	MOVQ src+24(FP), SI
	MOVQ width+32(FP), R9
	LEAQ (R9)(R9*2), R9
	SHLQ $2, R9
	MOVQ oh+40(FP), R10
	MOVQ ow+48(FP), R11
	MOVL $0x1ff, AX
	KMOVW AX, K1

c3i_row:
	MOVQ SI, AX
	MOVQ R11, R13

c3i_pix:
	VMOVUPS.Z (AX), K1, Z0
	VMOVUPS.Z (AX)(R9*1), K1, Z1
	VMOVUPS.Z (AX)(R9*2), K1, Z2
	VMOVUPS Z0, K1, (DI)
	VMOVUPS Z1, K1, 36(DI)
	VMOVUPS Z2, K1, 72(DI)
	MOVSS X5, 108(DI)
	ADDQ $12, AX
	ADDQ R8, DI
	DECQ R13
	JNE c3i_pix
	ADDQ R9, SI
	DECQ R10
	JNE c3i_row
	VZEROUPPER
	RET

// func col2imAddAVX512(dst, src *float32, ld, c, w, k, oh, ow int)
// The adjoint of im2col for one HWC example (width w, c channels, k×k
// windows, k·c a multiple of 16): for each output pixel in order and each
// window row ky in order, dst's k·c values under that row of the window
// get the pixel's im2col row piece added (src rows ld floats apart), the
// order of col2imHWC's Go loop. dst must be cleared first.
TEXT ·col2imAddAVX512(SB), NOSPLIT, $0-64
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ ld+16(FP), R8
	SHLQ $2, R8
	MOVQ c+24(FP), R10
	IMULQ w+32(FP), R10
	SHLQ $2, R10
	MOVQ c+24(FP), R13
	IMULQ k+40(FP), R13
	SHLQ $2, R13
	MOVQ oh+48(FP), R12

c2i_row:
	MOVQ DI, AX
	MOVQ ow+56(FP), BX

c2i_pix:
	MOVQ AX, CX
	MOVQ SI, DX
	MOVQ k+40(FP), R9

c2i_ky:
	XORQ R11, R11

c2i_j:
	VMOVUPS (CX)(R11*1), Z0
	VADDPS (DX)(R11*1), Z0, Z0
	VMOVUPS Z0, (CX)(R11*1)
	ADDQ $64, R11
	CMPQ R11, R13
	JLT c2i_j
	ADDQ R10, CX
	ADDQ R13, DX
	DECQ R9
	JNE c2i_ky
	MOVQ c+24(FP), CX
	LEAQ (AX)(CX*4), AX
	ADDQ R8, SI
	DECQ BX
	JNE c2i_pix
	ADDQ R10, DI
	DECQ R12
	JNE c2i_row
	VZEROUPPER
	RET

// func im2colAVX512(dst *float32, ld int, extra float32, src *float32, c, w, k, oh, ow int)
// The im2col rows of one HWC example (width w, c channels, k×k windows,
// k·c a multiple of 16), as im2colHWC's Go loop writes them: row
// oy·ow + ox (ld floats apart) holds the k·c values of each of the k image
// rows under the window, then extra when ld > k·k·c.
TEXT ·im2colAVX512(SB), NOSPLIT, $0-72
	MOVQ dst+0(FP), DI
	MOVQ ld+8(FP), R8
	SHLQ $2, R8
	MOVSS extra+16(FP), X5
	MOVQ src+24(FP), SI
	MOVQ c+32(FP), R10
	IMULQ w+40(FP), R10
	SHLQ $2, R10
	MOVQ c+32(FP), R13
	IMULQ k+48(FP), R13
	SHLQ $2, R13
	MOVQ oh+56(FP), R12

i2c_row:
	MOVQ SI, AX
	MOVQ ow+64(FP), BX

i2c_pix:
	MOVQ AX, CX
	MOVQ DI, DX
	MOVQ k+48(FP), R9

i2c_ky:
	XORQ R11, R11

i2c_j:
	VMOVUPS (CX)(R11*1), Z0
	VMOVUPS Z0, (DX)(R11*1)
	ADDQ $64, R11
	CMPQ R11, R13
	JLT i2c_j
	ADDQ R10, CX
	ADDQ R13, DX
	DECQ R9
	JNE i2c_ky
	MOVQ DX, R9
	SUBQ DI, R9
	CMPQ R9, R8
	JGE i2c_next
	MOVSS X5, (DX)

i2c_next:
	MOVQ c+32(FP), CX
	LEAQ (AX)(CX*4), AX
	ADDQ R8, DI
	DECQ BX
	JNE i2c_pix
	ADDQ R10, SI
	DECQ R12
	JNE i2c_row
	VZEROUPPER
	RET

// func im2colPairsAVX512(dst *float32, ld int, extra uint32, tail int, src *float32, c, w, k, oh, ow int)
//
// im2colAVX512 writing bf16 pairs (gemm.PairRow): each k·c run (k·c a
// multiple of 32) rounded by VCVTNE2PS2BF16 into k·c/2 slots, then the
// tail ≤ 16 slots of the row set to extra (the extra column's pair bits)
// and zeros with one masked store. ld is in slots. Needs AVX512_BF16.
TEXT ·im2colPairsAVX512(SB), NOSPLIT, $0-80
	MOVQ dst+0(FP), DI
	MOVQ ld+8(FP), R8
	SHLQ $2, R8
	MOVL extra+16(FP), AX
	VMOVD AX, X5
	MOVQ tail+24(FP), CX
	MOVL $1, AX
	SHLL CX, AX
	DECL AX
	KMOVW AX, K1
	MOVQ src+32(FP), SI
	MOVQ c+40(FP), R10
	IMULQ w+48(FP), R10
	SHLQ $2, R10
	MOVQ c+40(FP), R13
	IMULQ k+56(FP), R13
	SHLQ $2, R13
	MOVQ oh+64(FP), R12

i2p_row:
	MOVQ SI, AX
	MOVQ ow+72(FP), BX

i2p_pix:
	MOVQ AX, CX
	MOVQ DI, DX
	MOVQ k+56(FP), R9

i2p_ky:
	XORQ R11, R11

i2p_j:
	VMOVUPS (CX)(R11*1), Z0
	VMOVUPS 64(CX)(R11*1), Z1
	BYTE $0x62; BYTE $0xf2; BYTE $0x77; BYTE $0x48; BYTE $0x72; BYTE $0xd0 // VCVTNE2PS2BF16 Z0, Z1, Z2
	VMOVDQU32 Z2, (DX)
	ADDQ $64, DX
	ADDQ $128, R11
	CMPQ R11, R13
	JLT i2p_j
	ADDQ R10, CX
	DECQ R9
	JNE i2p_ky
	VMOVDQU32 Z5, K1, (DX)
	MOVQ c+40(FP), CX
	LEAQ (AX)(CX*4), AX
	ADDQ R8, DI
	DECQ BX
	JNE i2p_pix
	ADDQ R10, SI
	DECQ R12
	JNE i2p_row
	VZEROUPPER
	RET
