//go:build !unix

package nn

// processCPUSeconds returns 0: this system's CPU time is not read, and benchmarks then
// leave out the per-CPU-second figure.
func processCPUSeconds() float64 { return 0 }
