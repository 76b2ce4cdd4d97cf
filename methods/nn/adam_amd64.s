//go:build amd64 && !purego

#include "textflag.h"

// Fused Adam/AdamW update (see adamKernel.runGo, which these match bit for
// bit: the same float32 operations in the same order, no FMA). c points to
// an adamConsts:
//
//	0 b1, 4 c1, 8 b2, 12 c2, 16 eps, 20 step, 24 invBc2, 28 l2, 32 decay,
//	36 wThr, 40 mThr
//
// A value is flushed to +0 when its bits with the sign cleared are below
// the threshold (unsigned; a threshold of 0 flushes nothing).

// func adamAVX512(c *adamConsts, w, grad, m, v *float32, n int)
// n is a multiple of 16.
TEXT ·adamAVX512(SB), NOSPLIT, $0-48
	MOVQ c+0(FP), AX
	MOVQ w+8(FP), DI
	MOVQ grad+16(FP), SI
	MOVQ m+24(FP), R8
	MOVQ v+32(FP), R9
	MOVQ n+40(FP), CX
	VBROADCASTSS 0(AX), Z16  // b1
	VBROADCASTSS 4(AX), Z17  // c1
	VBROADCASTSS 8(AX), Z18  // b2
	VBROADCASTSS 12(AX), Z19 // c2
	VBROADCASTSS 16(AX), Z20 // eps
	VBROADCASTSS 20(AX), Z21 // step
	VBROADCASTSS 24(AX), Z22 // invBc2
	VBROADCASTSS 28(AX), Z23 // l2
	VBROADCASTSS 32(AX), Z24 // decay
	VPBROADCASTD 36(AX), Z25 // wThr
	VPBROADCASTD 40(AX), Z26 // mThr
	MOVL $0x7fffffff, BX
	VPBROADCASTD BX, Z27     // abs mask
	VPXORD Z28, Z28, Z28     // zero
	TESTQ CX, CX
	JEQ adam512_done

adam512_loop:
	VMOVUPS (DI), Z0         // w
	VMOVUPS (SI), Z1         // g
	VMULPS Z0, Z23, Z2       // l2·w
	VADDPS Z2, Z1, Z1        // gi = g + l2·w
	VMULPS (R8), Z16, Z3     // b1·m
	VMULPS Z1, Z17, Z4       // c1·gi
	VADDPS Z4, Z3, Z3        // mi
	VPANDD Z27, Z3, Z5
	VPCMPUD $1, Z26, Z5, K1  // |mi| < mThr
	VPXORD Z3, Z3, K1, Z3
	VMULPS Z1, Z19, Z5       // c2·gi
	VMULPS Z1, Z5, Z5        // c2·gi·gi
	VMULPS (R9), Z18, Z6     // b2·v
	VADDPS Z5, Z6, Z6        // vi
	VPANDD Z27, Z6, Z7
	VPCMPUD $1, Z26, Z7, K2  // |vi| < mThr
	VPXORD Z6, Z6, K2, Z6
	VMOVUPS Z3, (R8)
	VMOVUPS Z6, (R9)
	VSQRTPS Z6, Z7
	VMULPS Z22, Z7, Z7       // √vi·invBc2
	VADDPS Z20, Z7, Z7       // + eps
	VMULPS Z3, Z21, Z8       // step·mi
	VDIVPS Z7, Z8, Z8        // step·mi / (√vi·invBc2 + eps)
	VMULPS Z24, Z0, Z0       // w·decay
	VSUBPS Z8, Z0, Z0
	VPANDD Z27, Z0, Z9
	VPCMPUD $1, Z25, Z9, K3  // |w| < wThr
	VPXORD Z0, Z0, K3, Z0
	VMOVUPS Z0, (DI)
	VMOVUPS Z28, (SI)
	ADDQ $64, DI
	ADDQ $64, SI
	ADDQ $64, R8
	ADDQ $64, R9
	SUBQ $16, CX
	JNE adam512_loop

adam512_done:
	VZEROUPPER
	RET

// func adamAVX2(c *adamConsts, w, grad, m, v *float32, n int)
// n is a multiple of 8.
TEXT ·adamAVX2(SB), NOSPLIT, $0-48
	MOVQ c+0(FP), AX
	MOVQ w+8(FP), DI
	MOVQ grad+16(FP), SI
	MOVQ m+24(FP), R8
	MOVQ v+32(FP), R9
	MOVQ n+40(FP), CX
	VBROADCASTSS 0(AX), Y4   // b1
	VBROADCASTSS 4(AX), Y5   // c1
	VBROADCASTSS 8(AX), Y6   // b2
	VBROADCASTSS 12(AX), Y7  // c2
	VBROADCASTSS 16(AX), Y8  // eps
	VBROADCASTSS 20(AX), Y9  // step
	VBROADCASTSS 24(AX), Y10 // invBc2
	VBROADCASTSS 28(AX), Y11 // l2
	VBROADCASTSS 32(AX), Y12 // decay
	VPBROADCASTD 36(AX), Y13 // wThr
	VPBROADCASTD 40(AX), Y14 // mThr
	MOVL $0x7fffffff, BX
	MOVQ BX, X15
	VPBROADCASTD X15, Y15    // abs mask
	TESTQ CX, CX
	JEQ adam2_done

adam2_loop:
	VMOVUPS (DI), Y0         // w
	VMOVUPS (SI), Y1         // g
	VMULPS Y0, Y11, Y3       // l2·w
	VADDPS Y3, Y1, Y1        // gi
	VMULPS (R8), Y4, Y2      // b1·m
	VMULPS Y1, Y5, Y3        // c1·gi
	VADDPS Y3, Y2, Y2        // mi
	VPAND Y15, Y2, Y3
	VPCMPGTD Y3, Y14, Y3     // mThr > |mi|
	VPANDN Y2, Y3, Y2
	VMOVUPS Y2, (R8)
	VMULPS Y1, Y7, Y3        // c2·gi
	VMULPS Y1, Y3, Y3        // c2·gi·gi
	VMULPS (R9), Y6, Y1      // b2·v
	VADDPS Y3, Y1, Y1        // vi
	VPAND Y15, Y1, Y3
	VPCMPGTD Y3, Y14, Y3     // mThr > |vi|
	VPANDN Y1, Y3, Y1
	VMOVUPS Y1, (R9)
	VSQRTPS Y1, Y1
	VMULPS Y10, Y1, Y1       // √vi·invBc2
	VADDPS Y8, Y1, Y1        // + eps
	VMULPS Y2, Y9, Y2        // step·mi
	VDIVPS Y1, Y2, Y2
	VMULPS Y12, Y0, Y0       // w·decay
	VSUBPS Y2, Y0, Y0
	VPAND Y15, Y0, Y3
	VPCMPGTD Y3, Y13, Y3     // wThr > |w|
	VPANDN Y0, Y3, Y0
	VMOVUPS Y0, (DI)
	VPXOR Y3, Y3, Y3
	VMOVUPS Y3, (SI)
	ADDQ $32, DI
	ADDQ $32, SI
	ADDQ $32, R8
	ADDQ $32, R9
	SUBQ $8, CX
	JNE adam2_loop

adam2_done:
	VZEROUPPER
	RET
