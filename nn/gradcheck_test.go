package nn

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestBackpropGradientMatchesFiniteDifferences checks Backprop, and through it every op of
// the network (matrix product, the ones ⊗ bias outer product, addition, ReLU and tanh) and
// the cost Σ out·upstream, against central finite differences in float64.
func TestBackpropGradientMatchesFiniteDifferences(t *testing.T) {
	for _, act := range []string{"relu", "tanh"} {
		t.Run(act, func(t *testing.T) {
			spec := Spec{Inputs: 4, Hidden: []int{5, 3}, Outputs: 2, Activation: act}
			rng := rand.New(rand.NewPCG(11, 12))
			p, err := NewParams[float64](spec, rng)
			if err != nil {
				t.Fatal(err)
			}
			for _, pt := range p.Tensors {
				for i := range pt.Data {
					pt.Data[i] += 0.1 * rng.NormFloat64()
				}
			}
			const rows = 5
			b, err := NewBackprop(p, rows)
			if err != nil {
				t.Fatal(err)
			}
			for i := range b.Input() {
				b.Input()[i] = rng.NormFloat64()
			}
			for i := range b.Upstream() {
				b.Upstream()[i] = rng.NormFloat64()
			}
			cost := func() float64 {
				if err := b.Run(); err != nil {
					t.Fatal(err)
				}
				c := 0.0
				for i, o := range b.Output() {
					c += o * b.Upstream()[i]
				}
				return c
			}
			cost()
			analytic := make([][]float64, len(b.Grads))
			for i, g := range b.Grads {
				analytic[i] = append([]float64(nil), g...)
			}
			const eps = 1e-6
			for ti, pt := range p.Tensors {
				for i := range pt.Data {
					orig := pt.Data[i]
					pt.Data[i] = orig + eps
					up := cost()
					pt.Data[i] = orig - eps
					down := cost()
					pt.Data[i] = orig
					numeric := (up - down) / (2 * eps)
					if diff := math.Abs(numeric - analytic[ti][i]); diff > 1e-6*math.Max(1, math.Abs(numeric)) {
						t.Errorf("%s[%d]: analytic gradient %.9g, finite difference %.9g", pt.Name, i, analytic[ti][i], numeric)
					}
				}
			}
		})
	}
}

func TestLogSoftmaxMatchesDefinition(t *testing.T) {
	logits := []float64{0.5, -1, 2, 0}
	got := make([]float64, len(logits))
	LogSoftmax(got, logits)
	sum := 0.0
	for _, z := range logits {
		sum += math.Exp(z)
	}
	for i, z := range logits {
		if want := z - math.Log(sum); math.Abs(got[i]-want) > 1e-15 {
			t.Errorf("item %d: log-probability %.17g, want %.17g", i, got[i], want)
		}
	}
}

func TestLogSoftmaxFiniteAtLargeLogits(t *testing.T) {
	for _, logits := range [][]float64{
		{1000, 1001, 999.5},
		{-1000, -1001, -999.5},
		{1e3, -1e3, 0},
	} {
		got := make([]float64, len(logits))
		LogSoftmax(got, logits)
		total := 0.0
		for i, lp := range got {
			if math.IsNaN(lp) || math.IsInf(lp, 0) || lp > 0 {
				t.Fatalf("logits %v: log-probability %d is %g, want a finite value <= 0", logits, i, lp)
			}
			total += math.Exp(lp)
		}
		if math.Abs(total-1) > 1e-12 {
			t.Errorf("logits %v: probabilities sum to %.17g, want 1", logits, total)
		}
	}
	// The same logits shifted by 1000 give the same log-probabilities.
	base, shifted := make([]float64, 3), make([]float64, 3)
	LogSoftmax(base, []float64{0, 1, -0.5})
	LogSoftmax(shifted, []float64{1000, 1001, 999.5})
	for i := range base {
		if math.Abs(base[i]-shifted[i]) > 1e-12 {
			t.Errorf("item %d: log-probability %.17g after a shift of 1000, %.17g before", i, shifted[i], base[i])
		}
	}
	// float32 logits of 1e3 stay finite too.
	got32 := make([]float32, 3)
	LogSoftmax(got32, []float32{1000, 1001, 999.5})
	for i, lp := range got32 {
		if math.IsNaN(float64(lp)) || math.IsInf(float64(lp), 0) {
			t.Errorf("float32 item %d: log-probability %g", i, lp)
		}
	}
}

func TestLogSoftmaxMasksNegativeInfinity(t *testing.T) {
	got := make([]float64, 3)
	LogSoftmax(got, []float64{math.Inf(-1), 0, 0})
	if !math.IsInf(got[0], -1) {
		t.Errorf("masked item: log-probability %g, want -Inf", got[0])
	}
	for i := 1; i < 3; i++ {
		if math.Abs(got[i]-math.Log(0.5)) > 1e-15 {
			t.Errorf("item %d: log-probability %g, want ln 0.5", i, got[i])
		}
	}
	LogSoftmax(got, []float64{math.Inf(-1), math.Inf(-1), math.Inf(-1)})
	for i, lp := range got {
		if !math.IsInf(lp, -1) {
			t.Errorf("all masked, item %d: log-probability %g, want -Inf", i, lp)
		}
	}
}

// TestBackpropSplitMatchesRun checks that RunForward then RunBackward give the outputs and
// gradients of Run, when the upstream gradient is written between the two.
func TestBackpropSplitMatchesRun(t *testing.T) {
	spec := Spec{Inputs: 4, Hidden: []int{5, 3}, Outputs: 2, Activation: "relu"}
	rng := rand.New(rand.NewPCG(13, 14))
	p, err := NewParams[float64](spec, rng)
	if err != nil {
		t.Fatal(err)
	}
	whole, err := NewBackprop(p, 6)
	if err != nil {
		t.Fatal(err)
	}
	split, err := NewBackprop(p, 6)
	if err != nil {
		t.Fatal(err)
	}
	for i := range whole.Input() {
		whole.Input()[i] = rng.NormFloat64()
	}
	copy(split.Input(), whole.Input())

	split.RunForward()
	for i, o := range split.Output() {
		split.Upstream()[i] = o - 0.5 // an upstream gradient that depends on the outputs
	}
	split.RunBackward()
	copy(whole.Upstream(), split.Upstream())
	if err := whole.Run(); err != nil {
		t.Fatal(err)
	}

	for i, o := range whole.Output() {
		if split.Output()[i] != o {
			t.Errorf("output %d: split %g, Run %g", i, split.Output()[i], o)
		}
	}
	for ti, g := range whole.Grads {
		for i, v := range g {
			if split.Grads[ti][i] != v {
				t.Errorf("%s[%d]: split gradient %g, Run %g", p.Tensors[ti].Name, i, split.Grads[ti][i], v)
			}
		}
	}
}
