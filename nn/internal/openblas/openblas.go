//go:build openblas

// Package openblas calls OpenBLAS's single-precision matrix product through cgo, for the
// openblas build tag of package nn. It needs a C compiler and OpenBLAS with its headers
// (Debian: libopenblas-dev). It is a package of its own because a Go package that uses
// cgo cannot also hold Go assembly, which nn does.
package openblas

/*
#cgo LDFLAGS: -lopenblas
#include <cblas.h>
void openblas_set_num_threads(int num_threads);
*/
import "C"

import "os"

// init keeps OpenBLAS on the calling thread unless OPENBLAS_NUM_THREADS sets a count.
// The products of SimShop's networks are small, and training already runs the simulator
// and the agent on their own goroutines, so extra BLAS threads would compete with them for
// the same cores.
func init() {
	if os.Getenv("OPENBLAS_NUM_THREADS") == "" {
		C.openblas_set_num_threads(1)
	}
}

// Sgemm sets C = op(A)·B + beta·C for row-major matrices, with op(A) = Aᵀ when transA is
// set. m, n and k are the sizes of C (m×n) and of the sum; lda, ldb and ldc the row
// strides of the stored matrices. The caller checks that every pointer covers its matrix.
func Sgemm(transA bool, m, n, k int, a *float32, lda int, b *float32, ldb int, beta float32, c *float32, ldc int) {
	ta := uint32(C.CblasNoTrans)
	if transA {
		ta = C.CblasTrans
	}
	C.cblas_sgemm(C.CblasRowMajor, ta, C.CblasNoTrans, C.blasint(m), C.blasint(n), C.blasint(k),
		1, (*C.float)(a), C.blasint(lda), (*C.float)(b), C.blasint(ldb), C.float(beta), (*C.float)(c), C.blasint(ldc))
}
