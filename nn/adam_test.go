package nn

import (
	"math"
	"testing"
)

func TestAdamFirstStepsMatchHandComputation(t *testing.T) {
	p := &Params[float64]{Tensors: []*Param[float64]{{Name: "w", Shape: [2]int{1, 2}, Data: []float64{1, -2}}}}
	a := NewAdam(p, 0.1)
	// Step 1 with g = (0.5, -4): m = 0.1g, v = 0.001g², α1 = 0.1·sqrt(0.001)/0.1, so each
	// weight moves by α1·m/(sqrt(v)+ε) ≈ 0.1·sign(g).
	a.Update(p, [][]float64{{0.5, -4}})
	if got, want := p.Tensors[0].Data[0], 1-0.1; math.Abs(got-want) > 1e-7 {
		t.Errorf("w[0] after step 1 = %.9f, want %.9f", got, want)
	}
	if got, want := p.Tensors[0].Data[1], -2+0.1; math.Abs(got-want) > 1e-7 {
		t.Errorf("w[1] after step 1 = %.9f, want %.9f", got, want)
	}
	// Step 2 with g = (0.5, 0), computed from the update rule in full.
	before := p.Tensors[0].Data[0]
	a.Update(p, [][]float64{{0.5, 0}})
	m := 0.9*0.05 + 0.1*0.5
	v := 0.999*0.00025 + 0.001*0.25
	alpha := 0.1 * math.Sqrt(1-0.999*0.999) / (1 - 0.9*0.9)
	want := before - alpha*m/(math.Sqrt(v)+1e-8)
	if got := p.Tensors[0].Data[0]; math.Abs(got-want) > 1e-12 {
		t.Errorf("w[0] after step 2 = %.12f, want %.12f", got, want)
	}
	if a.Step != 2 {
		t.Errorf("Step = %d, want 2", a.Step)
	}
}

func TestAdamClipsGradientNorm(t *testing.T) {
	p := &Params[float64]{Tensors: []*Param[float64]{{Name: "w", Shape: [2]int{1, 2}, Data: []float64{0, 0}}}}
	a := NewAdam(p, 0.1)
	a.MaxGradNorm = 1
	norm := a.Update(p, [][]float64{{3, 4}})
	if norm != 5 {
		t.Errorf("returned norm %g, want 5", norm)
	}
	// After clipping the gradient is (0.6, 0.8); the first moment stores 0.1 of it.
	if got, want := a.M[0][1], 0.08; math.Abs(got-want) > 1e-12 {
		t.Errorf("first moment %g, want %g", got, want)
	}
}

// TestAdamFloat32MatchesFloat64 checks the float32 step, which runs 8 values at a time on
// CPUs with AVX2, against the float64 step over several updates, on a tensor long enough
// for both the vector part and the leftover values.
func TestAdamFloat32MatchesFloat64(t *testing.T) {
	const n = 37
	p32 := &Params[float32]{Tensors: []*Param[float32]{{Name: "w", Shape: [2]int{1, n}, Data: make([]float32, n)}}}
	p64 := &Params[float64]{Tensors: []*Param[float64]{{Name: "w", Shape: [2]int{1, n}, Data: make([]float64, n)}}}
	a32, a64 := NewAdam(p32, 0.01), NewAdam(p64, 0.01)
	a32.MaxGradNorm, a64.MaxGradNorm = 3, 3
	g32, g64 := make([]float32, n), make([]float64, n)
	for step := 0; step < 5; step++ {
		for i := range g32 {
			g32[i] = float32(math.Sin(float64(i*7+step*3))) * float32(step+1)
			g64[i] = float64(g32[i])
		}
		n32, n64 := a32.Update(p32, [][]float32{g32}), a64.Update(p64, [][]float64{g64})
		if math.Abs(n32-n64) > 1e-9*n64 {
			t.Fatalf("step %d: gradient norm %g in float32, %g in float64", step, n32, n64)
		}
	}
	for i, w := range p32.Tensors[0].Data {
		if want := p64.Tensors[0].Data[i]; math.Abs(float64(w)-want) > 1e-5 {
			t.Errorf("w[%d] = %g after 5 float32 steps, %g in float64", i, w, want)
		}
	}
}
