//go:build amd64 && !purego

#include "textflag.h"

// AMX instructions, which the Go assembler does not know, as bytes; the
// operands are fixed registers (checked against GNU as 2.40). Tiles 0-3
// accumulate C (rows 0-11 and 12-23, columns 0-15 and 16-31), 4 and 5 hold
// A (rows 0-11 and 12-23, 16 pair steps), 6 and 7 B (16 pair steps of
// columns 0-15 and 16-31 of the packed micro-panel).
#define LDTILECFG_AX BYTE $0xc4; BYTE $0xe2; BYTE $0x78; BYTE $0x49; BYTE $0x00
#define TILERELEASE BYTE $0xc4; BYTE $0xe2; BYTE $0x78; BYTE $0x49; BYTE $0xc0
#define TILEZERO_T0 BYTE $0xc4; BYTE $0xe2; BYTE $0x7b; BYTE $0x49; BYTE $0xc0
#define TILEZERO_T1 BYTE $0xc4; BYTE $0xe2; BYTE $0x7b; BYTE $0x49; BYTE $0xc8
#define TILEZERO_T2 BYTE $0xc4; BYTE $0xe2; BYTE $0x7b; BYTE $0x49; BYTE $0xd0
#define TILEZERO_T3 BYTE $0xc4; BYTE $0xe2; BYTE $0x7b; BYTE $0x49; BYTE $0xd8
#define TILELOADD_T4_SI_DX BYTE $0xc4; BYTE $0xe2; BYTE $0x7b; BYTE $0x4b; BYTE $0x24; BYTE $0x16
#define TILELOADD_T5_AX_DX BYTE $0xc4; BYTE $0xe2; BYTE $0x7b; BYTE $0x4b; BYTE $0x2c; BYTE $0x10
#define TILELOADD_T6_DI_CX BYTE $0xc4; BYTE $0xe2; BYTE $0x7b; BYTE $0x4b; BYTE $0x34; BYTE $0x0f
#define TILELOADD_T7_BX_CX BYTE $0xc4; BYTE $0xe2; BYTE $0x7b; BYTE $0x4b; BYTE $0x3c; BYTE $0x0b
#define TDPBF16PS_T0_T4_T6 BYTE $0xc4; BYTE $0xe2; BYTE $0x4a; BYTE $0x5c; BYTE $0xc4
#define TDPBF16PS_T1_T4_T7 BYTE $0xc4; BYTE $0xe2; BYTE $0x42; BYTE $0x5c; BYTE $0xcc
#define TDPBF16PS_T2_T5_T6 BYTE $0xc4; BYTE $0xe2; BYTE $0x4a; BYTE $0x5c; BYTE $0xd5
#define TDPBF16PS_T3_T5_T7 BYTE $0xc4; BYTE $0xe2; BYTE $0x42; BYTE $0x5c; BYTE $0xdd
#define TILELOADD_T0_BX_CX BYTE $0xc4; BYTE $0xe2; BYTE $0x7b; BYTE $0x4b; BYTE $0x04; BYTE $0x0b
#define TILELOADD_T1_BX_CX BYTE $0xc4; BYTE $0xe2; BYTE $0x7b; BYTE $0x4b; BYTE $0x0c; BYTE $0x0b
#define TILELOADD_T2_BX_CX BYTE $0xc4; BYTE $0xe2; BYTE $0x7b; BYTE $0x4b; BYTE $0x14; BYTE $0x0b
#define TILELOADD_T3_BX_CX BYTE $0xc4; BYTE $0xe2; BYTE $0x7b; BYTE $0x4b; BYTE $0x1c; BYTE $0x0b
#define TILESTORED_T0_BX_CX BYTE $0xc4; BYTE $0xe2; BYTE $0x7a; BYTE $0x4b; BYTE $0x04; BYTE $0x0b
#define TILESTORED_T1_BX_CX BYTE $0xc4; BYTE $0xe2; BYTE $0x7a; BYTE $0x4b; BYTE $0x0c; BYTE $0x0b
#define TILESTORED_T2_BX_CX BYTE $0xc4; BYTE $0xe2; BYTE $0x7a; BYTE $0x4b; BYTE $0x14; BYTE $0x0b
#define TILESTORED_T3_BX_CX BYTE $0xc4; BYTE $0xe2; BYTE $0x7a; BYTE $0x4b; BYTE $0x1c; BYTE $0x0b

// func kernAMX(kc int, a, b, c *float32, ldc int, alpha, beta float32, mode, rows, cols, lda, panels, ldb int)
//
// It computes panels tiles of C one below the other (mr rows apart in A
// and C) against one B micro-panel (ldb floats a pair step: 32 when
// packed, B's row stride when read where it lies), two at a time where it can: each
// TDPBF16PS waits for the previous one into its accumulator, so four
// independent accumulators keep the tile unit busier than two. The tiles
// of C are stored in the frame (24 rows of 32 floats; the panel count and
// the store path above them) and then into C as a microKernel stores (only
// rows × cols; rows < mr only with panels = 1). Full tiles with alpha = 1
// and mode set or add (most calls) skip that: the accumulators start at
// zero or at C, and are stored straight into C. The tile configuration is loaded and
// released on every call: between calls the goroutine may move to
// another thread.
TEXT ·kernAMX(SB), 0, $3088-96
	LEAQ ·amxConfig(SB), AX
	LDTILECFG_AX
	MOVQ panels+80(FP), AX
	MOVQ AX, cnt-8(SP)

	// K1 and K2 select the first cols columns of the two halves.
	MOVQ cols+64(FP), R11
	MOVL $0xffff, R12
	CMPQ R11, $16
	JGE amx_k1
	MOVQ R11, CX
	MOVL $1, R12
	SHLL CX, R12
	DECL R12

amx_k1:
	KMOVW R12, K1
	XORL R13, R13
	MOVQ R11, CX
	SUBQ $16, CX
	JLE amx_k2
	MOVL $1, R13
	SHLL CX, R13
	DECL R13

amx_k2:
	KMOVW R13, K2
	VBROADCASTSS alpha+40(FP), Z30
	VBROADCASTSS beta+44(FP), Z31
	MOVQ ldc+32(FP), R9
	SHLQ $2, R9
	MOVQ a+8(FP), R12
	MOVQ c+24(FP), R13

	// fast: 0 through the frame, 1 straight into C, 2 added into C.
	MOVQ $0, fast-16(SP)
	CMPQ rows+56(FP), $12
	JNE amx_next
	CMPQ cols+64(FP), $32
	JNE amx_next
	CMPL alpha+40(FP), $0x3f800000
	JNE amx_next
	MOVQ mode+48(FP), AX
	CMPQ AX, $1
	JA amx_next
	INCQ AX
	MOVQ AX, fast-16(SP)

amx_next:
	CMPQ fast-16(SP), $2
	JEQ amx_loadc
	TILEZERO_T0
	TILEZERO_T1
	TILEZERO_T2
	TILEZERO_T3
	JMP amx_setup

amx_loadc:
	MOVQ R9, CX
	MOVQ R13, BX
	TILELOADD_T0_BX_CX
	LEAQ 64(R13), BX
	TILELOADD_T1_BX_CX
	CMPQ cnt-8(SP), $2
	JLT amx_setup
	LEAQ (R13)(R9*4), BX
	LEAQ (BX)(R9*8), BX
	TILELOADD_T2_BX_CX
	ADDQ $64, BX
	TILELOADD_T3_BX_CX

amx_setup:
	MOVQ kc+0(FP), R8
	SHRQ $4, R8
	MOVQ R12, SI
	MOVQ lda+72(FP), DX
	SHLQ $2, DX
	MOVQ b+16(FP), DI
	MOVQ ldb+88(FP), CX
	SHLQ $2, CX
	MOVQ CX, R11
	SHLQ $4, R11
	CMPQ cnt-8(SP), $2
	JLT amx_one
	LEAQ (SI)(DX*4), AX
	LEAQ (AX)(DX*8), AX

amx_loop2:
	LEAQ 64(DI), BX
	TILELOADD_T4_SI_DX
	TILELOADD_T5_AX_DX
	TILELOADD_T6_DI_CX
	TILELOADD_T7_BX_CX
	TDPBF16PS_T0_T4_T6
	TDPBF16PS_T1_T4_T7
	TDPBF16PS_T2_T5_T6
	TDPBF16PS_T3_T5_T7
	ADDQ $64, SI
	ADDQ $64, AX
	ADDQ R11, DI
	DECQ R8
	JNZ amx_loop2

	MOVQ $2, R11
	CMPQ fast-16(SP), $0
	JNE amx_direct2
	MOVQ $128, CX
	LEAQ 1536(SP), BX
	TILESTORED_T2_BX_CX
	LEAQ 1600(SP), BX
	TILESTORED_T3_BX_CX
	MOVQ $24, R10
	JMP amx_store01

amx_direct2:
	MOVQ R9, CX
	LEAQ (R13)(R9*4), BX
	LEAQ (BX)(R9*8), BX
	TILESTORED_T2_BX_CX
	ADDQ $64, BX
	TILESTORED_T3_BX_CX
	JMP amx_direct01

amx_one:
	LEAQ 64(DI), BX
	TILELOADD_T4_SI_DX
	TILELOADD_T6_DI_CX
	TILELOADD_T7_BX_CX
	TDPBF16PS_T0_T4_T6
	TDPBF16PS_T1_T4_T7
	ADDQ $64, SI
	ADDQ R11, DI
	DECQ R8
	JNZ amx_one
	MOVQ rows+56(FP), R10
	MOVQ $1, R11
	CMPQ fast-16(SP), $0
	JNE amx_direct01

amx_store01:
	MOVQ $128, CX
	LEAQ 0(SP), BX
	TILESTORED_T0_BX_CX
	LEAQ 64(SP), BX
	TILESTORED_T1_BX_CX

	MOVQ R13, DI
	MOVQ mode+48(FP), DX
	LEAQ 0(SP), BX

amx_row:
	VMOVUPS 0(BX), Z0
	VMOVUPS 64(BX), Z1
	TESTQ DX, DX
	JNZ amx_readc
	VMULPS Z30, Z0, Z0
	VMULPS Z30, Z1, Z1
	JMP amx_store

amx_readc:
	VMOVUPS.Z 0(DI), K1, Z2
	VMOVUPS.Z 64(DI), K2, Z3
	CMPQ DX, $2
	JEQ amx_beta
	VFMADD213PS Z2, Z30, Z0
	VFMADD213PS Z3, Z30, Z1
	JMP amx_store

amx_beta:
	VMULPS Z30, Z0, Z0
	VMULPS Z30, Z1, Z1
	VFMADD231PS Z2, Z31, Z0
	VFMADD231PS Z3, Z31, Z1

amx_store:
	VMOVUPS Z0, K1, 0(DI)
	VMOVUPS Z1, K2, 64(DI)
	ADDQ $128, BX
	ADDQ R9, DI
	DECQ R10
	JNZ amx_row
	JMP amx_advance

amx_direct01:
	MOVQ R9, CX
	MOVQ R13, BX
	TILESTORED_T0_BX_CX
	LEAQ 64(R13), BX
	TILESTORED_T1_BX_CX

amx_advance:
	// The next panels: R11 × mr rows down in A and in C.
	MOVQ lda+72(FP), AX
	IMULQ $48, AX
	IMULQ R11, AX
	ADDQ AX, R12
	MOVQ R9, AX
	IMULQ $12, AX
	IMULQ R11, AX
	ADDQ AX, R13
	SUBQ R11, cnt-8(SP)
	JNZ amx_next
	TILERELEASE
	VZEROUPPER
	RET
