//go:build amd64 && !purego

#include "textflag.h"

// func kern4x16(k int, a *float32, ars, acs int, b *float32, ldb int, c *float32, ldc int, acc, relu bool)
//
// C[0:4, 0:16] = Σ_q A(0:4, q)·B[q, 0:16], plus C when acc is set, then max(·, 0) when relu
// is set. A(i, q) is at a + 4·(i·ars + q·acs). Needs AVX2 and FMA.
TEXT ·kern4x16(SB), NOSPLIT, $0-66
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), R8
	MOVQ ars+16(FP), R9
	SHLQ $2, R9
	MOVQ acs+24(FP), R10
	SHLQ $2, R10
	MOVQ b+32(FP), SI
	MOVQ ldb+40(FP), R11
	SHLQ $2, R11
	MOVQ c+48(FP), DI
	MOVQ ldc+56(FP), R12
	SHLQ $2, R12
	LEAQ (R8)(R9*1), R13
	LEAQ (R13)(R9*1), R14
	LEAQ (R14)(R9*1), BX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	TESTQ CX, CX
	JEQ k4done

k4loop:
	VMOVUPS (SI), Y8
	VMOVUPS 32(SI), Y9
	VBROADCASTSS (R8), Y10
	VFMADD231PS Y8, Y10, Y0
	VFMADD231PS Y9, Y10, Y1
	VBROADCASTSS (R13), Y11
	VFMADD231PS Y8, Y11, Y2
	VFMADD231PS Y9, Y11, Y3
	VBROADCASTSS (R14), Y12
	VFMADD231PS Y8, Y12, Y4
	VFMADD231PS Y9, Y12, Y5
	VBROADCASTSS (BX), Y13
	VFMADD231PS Y8, Y13, Y6
	VFMADD231PS Y9, Y13, Y7
	ADDQ R10, R8
	ADDQ R10, R13
	ADDQ R10, R14
	ADDQ R10, BX
	ADDQ R11, SI
	DECQ CX
	JNE  k4loop

k4done:
	MOVQ    DI, DX
	MOVBLZX acc+64(FP), AX
	TESTL   AX, AX
	JEQ     k4relu
	VADDPS  (DX), Y0, Y0
	VADDPS  32(DX), Y1, Y1
	ADDQ    R12, DX
	VADDPS  (DX), Y2, Y2
	VADDPS  32(DX), Y3, Y3
	ADDQ    R12, DX
	VADDPS  (DX), Y4, Y4
	VADDPS  32(DX), Y5, Y5
	ADDQ    R12, DX
	VADDPS  (DX), Y6, Y6
	VADDPS  32(DX), Y7, Y7

k4relu:
	MOVBLZX relu+65(FP), AX
	TESTL   AX, AX
	JEQ     k4store
	VXORPS  Y15, Y15, Y15
	VMAXPS  Y15, Y0, Y0
	VMAXPS  Y15, Y1, Y1
	VMAXPS  Y15, Y2, Y2
	VMAXPS  Y15, Y3, Y3
	VMAXPS  Y15, Y4, Y4
	VMAXPS  Y15, Y5, Y5
	VMAXPS  Y15, Y6, Y6
	VMAXPS  Y15, Y7, Y7

k4store:
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	ADDQ    R12, DI
	VMOVUPS Y2, (DI)
	VMOVUPS Y3, 32(DI)
	ADDQ    R12, DI
	VMOVUPS Y4, (DI)
	VMOVUPS Y5, 32(DI)
	ADDQ    R12, DI
	VMOVUPS Y6, (DI)
	VMOVUPS Y7, 32(DI)
	VZEROUPPER
	RET

// func kern1x16(k int, a *float32, acs int, b *float32, ldb int, c *float32, acc, relu bool)
//
// The one-row form of kern4x16, for the rows left over after groups of four. It adds the
// products in the same order as kern4x16, so a row's result does not depend on whether it
// fell in a group of four: a network's output for a row is the same for any batch.
TEXT ·kern1x16(SB), NOSPLIT, $0-50
	MOVQ   k+0(FP), CX
	MOVQ   a+8(FP), R8
	MOVQ   acs+16(FP), R10
	SHLQ   $2, R10
	MOVQ   b+24(FP), SI
	MOVQ   ldb+32(FP), R11
	SHLQ   $2, R11
	MOVQ   c+40(FP), DI
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	TESTQ  CX, CX
	JEQ    k1done

k1loop:
	VMOVUPS      (SI), Y8
	VMOVUPS      32(SI), Y9
	VBROADCASTSS (R8), Y10
	VFMADD231PS  Y8, Y10, Y0
	VFMADD231PS  Y9, Y10, Y1
	ADDQ         R10, R8
	ADDQ         R11, SI
	DECQ         CX
	JNE          k1loop

k1done:
	MOVBLZX acc+48(FP), AX
	TESTL   AX, AX
	JEQ     k1relu
	VADDPS  (DI), Y0, Y0
	VADDPS  32(DI), Y1, Y1

k1relu:
	MOVBLZX relu+49(FP), AX
	TESTL   AX, AX
	JEQ     k1store
	VXORPS  Y15, Y15, Y15
	VMAXPS  Y15, Y0, Y0
	VMAXPS  Y15, Y1, Y1

k1store:
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VZEROUPPER
	RET

// func sdotAVX2(n int, x, y *float32) float32
TEXT ·sdotAVX2(SB), NOSPLIT, $0-28
	MOVQ   n+0(FP), CX
	MOVQ   x+8(FP), SI
	MOVQ   y+16(FP), DI
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	CMPQ   CX, $32
	JLT    dot8

dot32:
	VMOVUPS     (SI), Y4
	VMOVUPS     32(SI), Y5
	VMOVUPS     64(SI), Y6
	VMOVUPS     96(SI), Y7
	VFMADD231PS (DI), Y4, Y0
	VFMADD231PS 32(DI), Y5, Y1
	VFMADD231PS 64(DI), Y6, Y2
	VFMADD231PS 96(DI), Y7, Y3
	ADDQ        $128, SI
	ADDQ        $128, DI
	SUBQ        $32, CX
	CMPQ        CX, $32
	JGE         dot32

dot8:
	CMPQ        CX, $8
	JLT         dotsum
	VMOVUPS     (SI), Y4
	VFMADD231PS (DI), Y4, Y0
	ADDQ        $32, SI
	ADDQ        $32, DI
	SUBQ        $8, CX
	JMP         dot8

dotsum:
	VADDPS       Y1, Y0, Y0
	VADDPS       Y3, Y2, Y2
	VADDPS       Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS       X1, X0, X0
	VMOVHLPS     X0, X0, X1
	VADDPS       X1, X0, X0
	VMOVSHDUP    X0, X1
	VADDSS       X1, X0, X0
	TESTQ        CX, CX
	JEQ          dotdone

dottail:
	VMOVSS      (SI), X1
	VFMADD231SS (DI), X1, X0
	ADDQ        $4, SI
	ADDQ        $4, DI
	DECQ        CX
	JNE         dottail

dotdone:
	VZEROUPPER
	MOVSS X0, ret+24(FP)
	RET

// func reluAVX2(n int, x *float32)
//
// Sets the first n - n%8 values of x that are negative to zero.
TEXT ·reluAVX2(SB), NOSPLIT, $0-16
	MOVQ   n+0(FP), CX
	MOVQ   x+8(FP), SI
	VXORPS Y15, Y15, Y15
	SHRQ   $3, CX
	JEQ    reludone

reluloop:
	VMOVUPS (SI), Y0
	VMAXPS  Y15, Y0, Y0
	VMOVUPS Y0, (SI)
	ADDQ    $32, SI
	DECQ    CX
	JNE     reluloop

reludone:
	VZEROUPPER
	RET

// func reluGradAVX2(n int, dz, y, dy *float32)
//
// For the first n - n%8 values: dz = dy where y > 0, else 0.
TEXT ·reluGradAVX2(SB), NOSPLIT, $0-32
	MOVQ   n+0(FP), CX
	MOVQ   dz+8(FP), DI
	MOVQ   y+16(FP), SI
	MOVQ   dy+24(FP), DX
	VXORPS Y15, Y15, Y15
	SHRQ   $3, CX
	JEQ    rgdone

rgloop:
	VMOVUPS (SI), Y0
	VCMPPS  $0x0e, Y15, Y0, Y1
	VANDPS  (DX), Y1, Y1
	VMOVUPS Y1, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DX
	ADDQ    $32, DI
	DECQ    CX
	JNE     rgloop

rgdone:
	VZEROUPPER
	RET

// func adamAVX2(n int, p, grad, m, v *float32, scale, b1, c1, b2, c2, alpha, eps float32)
//
// One Adam step on the first n - n%8 values: with gi = grad·scale, m = b1·m + c1·gi,
// v = b2·v + c2·gi², p -= alpha·m/(sqrt(v) + eps).
TEXT ·adamAVX2(SB), NOSPLIT, $0-68
	MOVQ         n+0(FP), CX
	MOVQ         p+8(FP), DI
	MOVQ         grad+16(FP), SI
	MOVQ         m+24(FP), R8
	MOVQ         v+32(FP), R9
	VBROADCASTSS scale+40(FP), Y8
	VBROADCASTSS b1+44(FP), Y9
	VBROADCASTSS c1+48(FP), Y10
	VBROADCASTSS b2+52(FP), Y11
	VBROADCASTSS c2+56(FP), Y12
	VBROADCASTSS alpha+60(FP), Y13
	VBROADCASTSS eps+64(FP), Y14
	SHRQ         $3, CX
	JEQ          adamdone

adamloop:
	VMOVUPS     (SI), Y0
	VMULPS      Y8, Y0, Y0
	VMULPS      (R8), Y9, Y1
	VFMADD231PS Y0, Y10, Y1
	VMOVUPS     Y1, (R8)
	VMULPS      Y0, Y0, Y2
	VMULPS      (R9), Y11, Y3
	VFMADD231PS Y2, Y12, Y3
	VMOVUPS     Y3, (R9)
	VSQRTPS     Y3, Y3
	VADDPS      Y14, Y3, Y3
	VMULPS      Y13, Y1, Y1
	VDIVPS      Y3, Y1, Y1
	VMOVUPS     (DI), Y4
	VSUBPS      Y1, Y4, Y4
	VMOVUPS     Y4, (DI)
	ADDQ        $32, SI
	ADDQ        $32, DI
	ADDQ        $32, R8
	ADDQ        $32, R9
	DECQ        CX
	JNE         adamloop

adamdone:
	VZEROUPPER
	RET
