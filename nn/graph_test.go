package nn

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func testSpec() Spec { return Spec{Inputs: 5, Hidden: []int{7, 4}, Outputs: 1, Activation: "relu"} }

// lossAt evaluates the trainer's loss with the current parameter values.
func lossAt(t *testing.T, tr *Trainer[float64]) float64 {
	t.Helper()
	loss, err := tr.Run()
	if err != nil {
		t.Fatal(err)
	}
	return loss
}

func TestTrainerGradientMatchesFiniteDifferences(t *testing.T) {
	for _, loss := range []Loss{LossHuber, LossSquared} {
		for _, act := range []string{"relu", "tanh", "tanh,relu"} {
			t.Run(string(loss)+"/"+act, func(t *testing.T) {
				spec := testSpec()
				spec.Activation = act
				if acts := strings.Split(act, ","); len(acts) > 1 {
					spec.Activation, spec.Activations = "", acts
				}
				rng := rand.New(rand.NewPCG(1, 2))
				p, err := NewParams[float64](spec, rng)
				if err != nil {
					t.Fatal(err)
				}
				for _, pt := range p.Tensors {
					for i := range pt.Data {
						pt.Data[i] += 0.1 * rng.NormFloat64() // non-zero biases too
					}
				}
				const rows = 6
				tr, err := NewTrainer(p, rows, loss)
				if err != nil {
					t.Fatal(err)
				}
				for i := range tr.Input() {
					tr.Input()[i] = rng.NormFloat64()
				}
				// Targets spread so that some rows are in Huber's linear part and some in its quadratic part.
				for i := range tr.Target() {
					tr.Target()[i] = 3 * rng.NormFloat64()
				}
				lossAt(t, tr)
				analytic := make([][]float64, len(tr.Grads))
				for i, g := range tr.Grads {
					analytic[i] = append([]float64(nil), g...)
				}

				const eps = 1e-6
				for ti, pt := range p.Tensors {
					for i := range pt.Data {
						orig := pt.Data[i]
						pt.Data[i] = orig + eps
						up := lossAt(t, tr)
						pt.Data[i] = orig - eps
						down := lossAt(t, tr)
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
}

func TestTrainerGradientsDoNotAccumulate(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	p, err := NewParams[float32](testSpec(), rng)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := NewTrainer(p, 4, LossHuber)
	if err != nil {
		t.Fatal(err)
	}
	for i := range tr.Input() {
		tr.Input()[i] = float32(rng.NormFloat64())
	}
	if _, err := tr.Run(); err != nil {
		t.Fatal(err)
	}
	first := append([]float32(nil), tr.Grads[0]...)
	for run := 0; run < 3; run++ {
		if _, err := tr.Run(); err != nil {
			t.Fatal(err)
		}
	}
	for i := range first {
		if tr.Grads[0][i] != first[i] {
			t.Fatalf("gradient %d changed across identical runs: first %g, fourth %g", i, first[i], tr.Grads[0][i])
		}
	}
}

func TestForwardSeesParameterUpdates(t *testing.T) {
	p, err := NewParams[float32](testSpec(), rand.New(rand.NewPCG(5, 6)))
	if err != nil {
		t.Fatal(err)
	}
	f, err := NewForward(p, 3)
	if err != nil {
		t.Fatal(err)
	}
	for i := range f.Input() {
		f.Input()[i] = float32(i%5) - 2
	}
	out, err := f.Run()
	if err != nil {
		t.Fatal(err)
	}
	before := append([]float32(nil), out...)
	last := p.Tensors[len(p.Tensors)-1] // output bias
	last.Data[0] += 1.5
	out, err = f.Run()
	if err != nil {
		t.Fatal(err)
	}
	for i := range out {
		if got, want := out[i], before[i]+1.5; math.Abs(float64(got-want)) > 1e-5 {
			t.Errorf("row %d: got %g after raising the output bias by 1.5, want %g", i, got, want)
		}
	}
}

func TestForwardMatchesManualComputation(t *testing.T) {
	spec := Spec{Inputs: 2, Hidden: []int{2}, Outputs: 1, Activation: "relu"}
	p, err := NewParams[float64](spec, rand.New(rand.NewPCG(7, 8)))
	if err != nil {
		t.Fatal(err)
	}
	copy(p.Tensors[0].Data, []float64{1, -1, 2, 0.5}) // [in=2, out=2] row-major
	copy(p.Tensors[1].Data, []float64{0.1, -3})
	copy(p.Tensors[2].Data, []float64{2, 4})
	copy(p.Tensors[3].Data, []float64{0.25})
	f, err := NewForward(p, 1)
	if err != nil {
		t.Fatal(err)
	}
	copy(f.Input(), []float64{1, 2})
	out, err := f.Run()
	if err != nil {
		t.Fatal(err)
	}
	// h = relu([1*1+2*2+0.1, 1*(-1)+2*0.5-3]) = relu([5.1, -3]) = [5.1, 0]; out = 2*5.1 + 0.25.
	if want := 10.45; math.Abs(out[0]-want) > 1e-12 {
		t.Errorf("got %g, want %g", out[0], want)
	}
}

// TestForwardPerLayerActivations checks a network whose hidden layers have their own
// activations, tanh then ReLU, against a hand computation.
func TestForwardPerLayerActivations(t *testing.T) {
	spec := Spec{Inputs: 1, Hidden: []int{1, 1}, Outputs: 1, Activations: []string{"tanh", "relu"}}
	p, err := NewParams[float64](spec, rand.New(rand.NewPCG(7, 8)))
	if err != nil {
		t.Fatal(err)
	}
	copy(p.Tensors[0].Data, []float64{2})  // layer 0 weight
	copy(p.Tensors[1].Data, []float64{0})  // layer 0 bias
	copy(p.Tensors[2].Data, []float64{-3}) // layer 1 weight
	copy(p.Tensors[3].Data, []float64{1})  // layer 1 bias
	copy(p.Tensors[4].Data, []float64{5})  // output weight
	copy(p.Tensors[5].Data, []float64{0.5})
	f, err := NewForward(p, 2)
	if err != nil {
		t.Fatal(err)
	}
	copy(f.Input(), []float64{0.1, -0.5})
	out, err := f.Run()
	if err != nil {
		t.Fatal(err)
	}
	for i, x := range []float64{0.1, -0.5} {
		h := math.Max(0, -3*math.Tanh(2*x)+1)
		if want := 5*h + 0.5; math.Abs(out[i]-want) > 1e-12 {
			t.Errorf("input %g: got %.15g, want %.15g", x, out[i], want)
		}
	}
}

func TestNewParamsSeeded(t *testing.T) {
	a, _ := NewParams[float32](testSpec(), rand.New(rand.NewPCG(9, 9)))
	b, _ := NewParams[float32](testSpec(), rand.New(rand.NewPCG(9, 9)))
	c, _ := NewParams[float32](testSpec(), rand.New(rand.NewPCG(9, 10)))
	same, differ := true, false
	for i := range a.Tensors {
		for j := range a.Tensors[i].Data {
			same = same && a.Tensors[i].Data[j] == b.Tensors[i].Data[j]
			differ = differ || a.Tensors[i].Data[j] != c.Tensors[i].Data[j]
		}
	}
	if !same {
		t.Error("same seed gave different weights")
	}
	if !differ {
		t.Error("different seeds gave identical weights")
	}
}

func TestSpecValidateRejectsBadFields(t *testing.T) {
	cases := []Spec{
		{Inputs: 0, Outputs: 1, Activation: "relu"},
		{Inputs: 2, Outputs: 0, Activation: "relu"},
		{Inputs: 2, Hidden: []int{0}, Outputs: 1, Activation: "relu"},
		{Inputs: 2, Outputs: 1, Activation: "sigmoid"},
		{Inputs: 2, Hidden: []int{3, 3}, Outputs: 1, Activations: []string{"relu"}},
		{Inputs: 2, Hidden: []int{3}, Outputs: 1, Activations: []string{"sigmoid"}},
	}
	for _, s := range cases {
		if err := s.Validate(); err == nil {
			t.Errorf("Validate(%+v) = nil, want an error", s)
		}
	}
}
