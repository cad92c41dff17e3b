package nn

import "fmt"

// The dense kernels below are the arithmetic of every graph in this package. Matrices are
// row-major slices; a matrix A is read through two strides, A(i, q) = a[i*ars + q*acs], so
// that one kernel serves A and its transpose. B and C always have contiguous rows.

// gemm sets C = A·B, or adds A·B to C when accumulate is set, for A m×k, B k×n and C m×n,
// and then replaces negative values of C by zero when relu is set. It dispatches float32
// to the fastest kernel of the build and the machine.
func gemm[T Float](m, n, k int, a []T, ars, acs int, b []T, ldb int, c []T, ldc int, accumulate, relu bool) {
	if m == 0 || n == 0 {
		return
	}
	checkGemm(m, n, k, len(a), ars, acs, len(b), ldb, len(c), ldc)
	if a32, ok := any(a).([]float32); ok {
		sgemm(m, n, k, a32, ars, acs, any(b).([]float32), ldb, any(c).([]float32), ldc, accumulate, relu)
		return
	}
	gemmGo(m, n, k, a, ars, acs, b, ldb, c, ldc, accumulate, relu)
}

// checkGemm panics unless every element that gemm touches lies inside its slice. The
// assembly and cgo kernels read memory unchecked, so this check guards them.
func checkGemm(m, n, k, la, ars, acs, lb, ldb, lc, ldc int) {
	switch {
	case m < 0 || n < 0 || k < 0 || ars < 0 || acs < 0 || ldb < n || ldc < n:
		panic(fmt.Sprintf("nn: gemm with m %d n %d k %d strides %d %d %d %d", m, n, k, ars, acs, ldb, ldc))
	case k > 0 && (m-1)*ars+(k-1)*acs >= la:
		panic(fmt.Sprintf("nn: gemm reads A up to %d, but it has %d values", (m-1)*ars+(k-1)*acs, la))
	case k > 0 && (k-1)*ldb+n > lb:
		panic(fmt.Sprintf("nn: gemm reads B up to %d, but it has %d values", (k-1)*ldb+n, lb))
	case (m-1)*ldc+n > lc:
		panic(fmt.Sprintf("nn: gemm writes C up to %d, but it has %d values", (m-1)*ldc+n, lc))
	}
}

// gemmGo is the portable kernel: for each row of C it adds the rows of B scaled by A's row.
func gemmGo[T Float](m, n, k int, a []T, ars, acs int, b []T, ldb int, c []T, ldc int, accumulate, relu bool) {
	for i := 0; i < m; i++ {
		ci := c[i*ldc : i*ldc+n]
		if !accumulate {
			clear(ci)
		}
		for q := 0; q < k; q++ {
			s := a[i*ars+q*acs]
			if s == 0 {
				continue
			}
			bq := b[q*ldb : q*ldb+n]
			for j, v := range bq {
				ci[j] += s * v
			}
		}
		if relu {
			for j, v := range ci {
				if v < 0 {
					ci[j] = 0
				}
			}
		}
	}
}

// reluInPlace sets every negative value of x to zero.
func reluInPlace[T Float](x []T) {
	if x32, ok := any(x).([]float32); ok {
		srelu(x32)
		return
	}
	for i, v := range x {
		if v < 0 {
			x[i] = 0
		}
	}
}

// reluGrad sets dz = dy where y > 0 and 0 elsewhere: the gradient through y = max(z, 0).
func reluGrad[T Float](dz, y, dy []T) {
	if len(y) != len(dz) || len(dy) != len(dz) {
		panic(fmt.Sprintf("nn: reluGrad lengths %d, %d and %d differ", len(dz), len(y), len(dy)))
	}
	if dz32, ok := any(dz).([]float32); ok {
		sreluGrad(dz32, any(y).([]float32), any(dy).([]float32))
		return
	}
	for i, v := range y {
		if v > 0 {
			dz[i] = dy[i]
		} else {
			dz[i] = 0
		}
	}
}

func reluGradGo(dz, y, dy []float32) {
	for i, v := range y {
		if v > 0 {
			dz[i] = dy[i]
		} else {
			dz[i] = 0
		}
	}
}

func reluGo(x []float32) {
	for i, v := range x {
		if v < 0 {
			x[i] = 0
		}
	}
}
