//go:build !amd64 || purego

package nn

func sgemmNative(m, n, k int, a []float32, ars, acs int, b []float32, ldb int, c []float32, ldc int, acc, relu bool) {
	gemmGo(m, n, k, a, ars, acs, b, ldb, c, ldc, acc, relu)
}
