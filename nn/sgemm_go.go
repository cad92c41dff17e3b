//go:build !openblas

package nn

// BLAS names the matrix-product kernel of this build: "go" for the default build, whose
// kernels are Go and Go assembly, "openblas" with the openblas build tag.
const BLAS = "go"

func sgemm(m, n, k int, a []float32, ars, acs int, b []float32, ldb int, c []float32, ldc int, acc, relu bool) {
	sgemmNative(m, n, k, a, ars, acs, b, ldb, c, ldc, acc, relu)
}
