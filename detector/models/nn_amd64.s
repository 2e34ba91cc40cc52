#include "textflag.h"

// The dense-layer kernels of nn.go with AVX: four float64 lanes a
// register, each multiply and add rounded as the scalar code rounds them
// (no fused multiply-add), so the results are the same to the bit.

// func nnDotLanes4(w *float64, stride int, x *float64, blocks int, lanes *[16]float64)
//
// For the four rows of w that start stride elements apart, the four
// running sums of nnDot over the first 4·blocks elements: lanes[4r+k]
// sums w[r][i]·x[i] over i ≡ k (mod 4), in order of i.
TEXT ·nnDotLanes4(SB), NOSPLIT, $0-40
	MOVQ w+0(FP), SI
	MOVQ stride+8(FP), DX
	SHLQ $3, DX
	MOVQ x+16(FP), DI
	MOVQ blocks+24(FP), CX
	MOVQ lanes+32(FP), R8
	LEAQ (SI)(DX*1), R9
	LEAQ (R9)(DX*1), R10
	LEAQ (R10)(DX*1), R11
	VXORPD Y0, Y0, Y0
	VXORPD Y1, Y1, Y1
	VXORPD Y2, Y2, Y2
	VXORPD Y3, Y3, Y3
	XORQ AX, AX
	TESTQ CX, CX
	JE dotdone

dotloop:
	VMOVUPD (DI)(AX*1), Y4
	VMULPD (SI)(AX*1), Y4, Y5
	VADDPD Y5, Y0, Y0
	VMULPD (R9)(AX*1), Y4, Y6
	VADDPD Y6, Y1, Y1
	VMULPD (R10)(AX*1), Y4, Y7
	VADDPD Y7, Y2, Y2
	VMULPD (R11)(AX*1), Y4, Y8
	VADDPD Y8, Y3, Y3
	ADDQ $32, AX
	DECQ CX
	JNE dotloop

dotdone:
	VMOVUPD Y0, 0(R8)
	VMOVUPD Y1, 32(R8)
	VMOVUPD Y2, 64(R8)
	VMOVUPD Y3, 96(R8)
	VZEROUPPER
	RET

// func nnAxpyRowsAVX(dst *float64, dstStride int, src *float64, srcStride int, a *float64, rows int, n int)
//
// For each row r < rows with a[r] ≠ 0 (NaN included), dst row r += a[r]·src
// row r over n elements (a multiple of 4); the rows are dstStride and
// srcStride elements apart, a stride of 0 meaning the same row each time.
TEXT ·nnAxpyRowsAVX(SB), NOSPLIT, $0-56
	MOVQ dst+0(FP), DI
	MOVQ dstStride+8(FP), R8
	SHLQ $3, R8
	MOVQ src+16(FP), SI
	MOVQ srcStride+24(FP), R9
	SHLQ $3, R9
	MOVQ a+32(FP), R10
	MOVQ rows+40(FP), R11
	MOVQ n+48(FP), R12
	VXORPD X14, X14, X14

rowloop:
	TESTQ R11, R11
	JE rowsdone
	VMOVSD (R10), X0
	VUCOMISD X14, X0
	JNE dorow
	JPS dorow // unordered: a NaN is not 0
	JMP nextrow

dorow:
	VBROADCASTSD (R10), Y0
	XORQ AX, AX
	MOVQ R12, CX
	PCALIGN $32

row8:
	CMPQ CX, $8
	JL row4
	VMULPD (SI)(AX*8), Y0, Y1
	VMULPD 32(SI)(AX*8), Y0, Y2
	VADDPD (DI)(AX*8), Y1, Y1
	VADDPD 32(DI)(AX*8), Y2, Y2
	VMOVUPD Y1, (DI)(AX*8)
	VMOVUPD Y2, 32(DI)(AX*8)
	ADDQ $8, AX
	SUBQ $8, CX
	JMP row8

row4:
	CMPQ CX, $4
	JL nextrow
	VMULPD (SI)(AX*8), Y0, Y1
	VADDPD (DI)(AX*8), Y1, Y1
	VMOVUPD Y1, (DI)(AX*8)

nextrow:
	ADDQ R8, DI
	ADDQ R9, SI
	ADDQ $8, R10
	DECQ R11
	JMP rowloop

rowsdone:
	VZEROUPPER
	RET
