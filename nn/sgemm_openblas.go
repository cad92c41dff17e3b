//go:build openblas

package nn

import "github.com/simshop/simshop/nn/internal/openblas"

// BLAS names the matrix-product kernel of this build.
const BLAS = "openblas"

// sgemm sends the product to OpenBLAS, then applies the ReLU with the native kernel.
// OPENBLAS_NUM_THREADS sets OpenBLAS's threads; unset, it uses one (see package openblas).
func sgemm(m, n, k int, a []float32, ars, acs int, b []float32, ldb int, c []float32, ldc int, acc, relu bool) {
	transA, lda := false, ars
	switch {
	case k == 0 || acs == 0 || (acs != 1 && ars != 1):
		// Broadcast reads (a zero stride) have no BLAS form.
		sgemmNative(m, n, k, a, ars, acs, b, ldb, c, ldc, acc, relu)
		return
	case acs == 1:
		lda = max(ars, k) // for m = 1 the row stride is unused, but BLAS wants at least k
	default: // ars == 1: A is stored transposed, [k, m]
		transA, lda = true, max(acs, m)
	}
	beta := float32(0)
	if acc {
		beta = 1
	}
	openblas.Sgemm(transA, m, n, k, &a[0], lda, &b[0], ldb, beta, &c[0], ldc)
	if relu {
		for i := 0; i < m; i++ {
			srelu(c[i*ldc : i*ldc+n])
		}
	}
}
