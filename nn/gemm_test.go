package nn

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestSgemmMatchesFloat64 checks the float32 kernel of this build against the portable
// kernel in float64 over shapes that exercise every path: full 4×16 blocks, leftover rows
// and columns, single-column dot products, transposed and broadcast A, and k of 0 and 1.
func TestSgemmMatchesFloat64(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	shapes := [][3]int{{1, 1, 1}, {4, 16, 8}, {5, 17, 3}, {192, 64, 47}, {47, 64, 192}, {384, 1, 64}, {7, 1, 5}, {3, 33, 1}, {64, 64, 64}, {2, 16, 0}}
	for _, sh := range shapes {
		m, n, k := sh[0], sh[1], sh[2]
		for _, layout := range []string{"plain", "transposed", "broadcast"} {
			for _, acc := range []bool{false, true} {
				for _, relu := range []bool{false, true} {
					var ars, acs, la int
					switch layout {
					case "plain":
						ars, acs, la = k, 1, m*k
					case "transposed":
						ars, acs, la = 1, m, m*k
					case "broadcast":
						ars, acs, la = 1, 0, m
					}
					a32, b32, c32 := randomF32(rng, max(la, 1)), randomF32(rng, k*n), randomF32(rng, m*n)
					a64, b64, c64 := widen(a32), widen(b32), widen(c32)
					gemm(m, n, k, a32, ars, acs, b32, n, c32, n, acc, relu)
					gemmGo(m, n, k, a64, ars, acs, b64, n, c64, n, acc, relu)
					for i := range c32 {
						if d := math.Abs(float64(c32[i]) - c64[i]); d > 1e-4*math.Max(1, math.Abs(c64[i])) {
							t.Fatalf("m %d n %d k %d %s acc %v relu %v: C[%d] = %g, float64 gives %g", m, n, k, layout, acc, relu, i, c32[i], c64[i])
						}
					}
				}
			}
		}
	}
}

func TestReluKernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	for _, n := range []int{1, 8, 13, 64, 100} {
		x := randomF32(rng, n)
		y := append([]float32(nil), x...)
		reluInPlace(y)
		dy := randomF32(rng, n)
		dz := make([]float32, n)
		reluGrad(dz, x, dy)
		for i, v := range x {
			if want := float32(math.Max(float64(v), 0)); y[i] != want {
				t.Fatalf("n %d: relu(%g) = %g", n, v, y[i])
			}
			want := float32(0)
			if v > 0 {
				want = dy[i]
			}
			if dz[i] != want {
				t.Fatalf("n %d: relu gradient at %g with upstream %g is %g, want %g", n, v, dy[i], dz[i], want)
			}
		}
	}
}

func randomF32(rng *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	return x
}

func widen(x []float32) []float64 {
	y := make([]float64, len(x))
	for i, v := range x {
		y[i] = float64(v)
	}
	return y
}

// BenchmarkSgemm reports GFLOP/s of the float32 kernel at the DQN's layer shapes, by the
// wall clock and per CPU-second.
func BenchmarkSgemm(b *testing.B) {
	for _, sh := range [][3]int{{384, 64, 47}, {384, 64, 64}, {3200, 64, 64}} {
		m, n, k := sh[0], sh[1], sh[2]
		b.Run(BLAS+"/"+itoa(m)+"x"+itoa(n)+"x"+itoa(k), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 1))
			a, bb, c := randomF32(rng, m*k), randomF32(rng, k*n), make([]float32, m*n)
			b.ReportAllocs()
			cpu := processCPUSeconds()
			for i := 0; i < b.N; i++ {
				gemm(m, n, k, a, k, 1, bb, n, c, n, false, false)
			}
			flops := 2 * float64(m*n*k) * float64(b.N)
			b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			if cpu = processCPUSeconds() - cpu; cpu > 0 {
				b.ReportMetric(flops/cpu/1e9, "GFLOP/cpu-s")
			}
		})
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	s := ""
	for ; n > 0; n /= 10 {
		s = string(rune('0'+n%10)) + s
	}
	return s
}

// TestSgemmRowsIndependentOfBatch checks that a row's product is the same, bit for bit,
// whether it is computed alone or in a block of rows, so that splitting a batch across
// goroutines cannot change any result.
func TestSgemmRowsIndependentOfBatch(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	const m, n, k = 11, 80, 47
	a, b := randomF32(rng, m*k), randomF32(rng, k*n)
	whole := make([]float32, m*n)
	gemm(m, n, k, a, k, 1, b, n, whole, n, false, true)
	for i := 0; i < m; i++ {
		one := make([]float32, n)
		gemm(1, n, k, a[i*k:(i+1)*k], k, 1, b, n, one, n, false, true)
		for j := range one {
			if one[j] != whole[i*n+j] {
				t.Fatalf("row %d column %d: %g alone, %g in a batch of %d", i, j, one[j], whole[i*n+j], m)
			}
		}
	}
}
