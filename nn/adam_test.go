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
