//go:build !amd64 || purego

package nn

func srelu(x []float32) { reluGo(x) }

func sreluGrad(dz, y, dy []float32) { reluGradGo(dz, y, dy) }

func adamStep32(p, g, m, v []float32, scale, b1, b2, alpha, eps float32) int { return 0 }

// useAVX2 is false: this build has no assembly kernels.
const useAVX2 = false
