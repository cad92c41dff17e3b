package nn

// Kernel names the float32 matrix-product kernel that this build runs on this CPU:
// "openblas" with the openblas build tag, "avx2" for the Go assembly that needs AVX2 and FMA,
// or "go" for the portable Go loop. The kernels sum products in different orders, so float32
// training results differ between them in the last bits.
func Kernel() string {
	switch {
	case BLAS == "openblas":
		return "openblas"
	case useAVX2:
		return "avx2"
	}
	return "go"
}
