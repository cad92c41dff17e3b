//go:build !amd64 || purego

package nn

func srelu(x []float32) { reluGo(x) }

func sreluGrad(dz, y, dy []float32) { reluGradGo(dz, y, dy) }
