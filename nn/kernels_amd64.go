//go:build amd64 && !purego

package nn

import "golang.org/x/sys/cpu"

// useAVX2 selects the assembly kernels, which need AVX2 and FMA.
var useAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA

//go:noescape
func kern4x16(k int, a *float32, ars, acs int, b *float32, ldb int, c *float32, ldc int, acc, relu bool)

//go:noescape
func kern1x16(k int, a *float32, acs int, b *float32, ldb int, c *float32, acc, relu bool)

//go:noescape
func sdotAVX2(n int, x, y *float32) float32

//go:noescape
func reluAVX2(n int, x *float32)

//go:noescape
func reluGradAVX2(n int, dz, y, dy *float32)

func srelu(x []float32) {
	n := 0
	if useAVX2 && len(x) >= 8 {
		n = len(x) &^ 7
		reluAVX2(n, &x[0])
	}
	reluGo(x[n:])
}

func sreluGrad(dz, y, dy []float32) {
	n := 0
	if useAVX2 && len(y) >= 8 {
		n = len(y) &^ 7
		reluGradAVX2(n, &dz[0], &y[0], &dy[0])
	}
	reluGradGo(dz[n:], y[n:], dy[n:])
}

// sgemmAVX2 is gemm for float32 with the assembly kernels: blocks of 4 rows × 16 columns,
// dot products for a single output column, and the portable kernel for what is left.
func sgemmAVX2(m, n, k int, a []float32, ars, acs int, b []float32, ldb int, c []float32, ldc int, acc, relu bool) {
	if !useAVX2 || k == 0 {
		gemmGo(m, n, k, a, ars, acs, b, ldb, c, ldc, acc, relu)
		return
	}
	if n == 1 && acs == 1 && ldb == 1 && k >= 8 {
		for i := 0; i < m; i++ {
			s := sdotAVX2(k, &a[i*ars], &b[0])
			if acc {
				s += c[i*ldc]
			}
			if relu && s < 0 {
				s = 0
			}
			c[i*ldc] = s
		}
		return
	}
	n16 := n &^ 15
	for j := 0; j < n16; j += 16 {
		i := 0
		for ; i+4 <= m; i += 4 {
			kern4x16(k, &a[i*ars], ars, acs, &b[j], ldb, &c[i*ldc+j], ldc, acc, relu)
		}
		for ; i < m; i++ {
			kern1x16(k, &a[i*ars], acs, &b[j], ldb, &c[i*ldc+j], acc, relu)
		}
	}
	if n16 < n {
		gemmGo(m, n-n16, k, a, ars, acs, b[n16:], ldb, c[n16:], ldc, acc, relu)
	}
}

//go:noescape
func adamAVX2(n int, p, grad, m, v *float32, scale, b1, c1, b2, c2, alpha, eps float32)

// adamStep32 applies the vectorized Adam step to the longest prefix of whole groups of 8
// values and returns its length; the caller updates the rest.
func adamStep32(p, g, m, v []float32, scale, b1, b2, alpha, eps float32) int {
	n := len(p) &^ 7
	if !useAVX2 || n == 0 {
		return 0
	}
	_, _, _ = g[n-1], m[n-1], v[n-1]
	adamAVX2(n, &p[0], &g[0], &m[0], &v[0], scale, b1, 1-b1, b2, 1-b2, alpha, eps)
	return n
}
