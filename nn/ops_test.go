package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// linearGraph is the Huber loss of two fused layers, act(x·W + b) with out columns and
// then a linear layer to one output, with its gradients with respect to x, W and b of the
// first layer.
type linearGraph struct {
	b               *builder
	x, w, bias      *G.Node
	xd, wd, bd, yd  []float64
	cost            *G.Node
	grads           G.Nodes
	prog            *program[float64]
	gx, gw, gb      []float64
	w2, b2          []float64
	rows, in, outCl int
}

func newLinearGraph(t *testing.T, rng *rand.Rand, act string, rows, in, out int) *linearGraph {
	t.Helper()
	l := &linearGraph{b: newBuilder(), rows: rows, in: in, outCl: out}
	g := G.NewGraph()
	matrix := func(name string, r, c int, data *[]float64) *G.Node {
		*data = make([]float64, r*c)
		for i := range *data {
			(*data)[i] = rng.NormFloat64()
		}
		return G.NewMatrix(g, tensor.Float64, G.WithShape(r, c), G.WithName(name),
			G.WithValue(tensor.New(tensor.WithShape(r, c), tensor.WithBacking(*data))))
	}
	l.x = matrix("x", rows, in, &l.xd)
	l.w = matrix("w", in, out, &l.wd)
	l.bias = matrix("b", 1, out, &l.bd)
	w2 := matrix("w2", out, 1, &l.w2)
	b2 := matrix("b2", 1, 1, &l.b2)
	y := matrix("y", rows, 1, &l.yd)
	for i := range l.yd {
		l.yd[i] *= 3
	}
	h, err := l.b.apply(newLinearOp[float64](l.b, rows, in, out, act, true), l.x, l.w, l.bias)
	if err != nil {
		t.Fatal(err)
	}
	o, err := l.b.apply(newLinearOp[float64](l.b, rows, out, 1, "", true), h, w2, b2)
	if err != nil {
		t.Fatal(err)
	}
	if l.cost, err = l.b.apply(newLossOp[float64](l.b, LossHuber, rows), o, y); err != nil {
		t.Fatal(err)
	}
	if l.grads, err = G.Grad(l.cost, l.x, l.w, l.bias); err != nil {
		t.Fatal(err)
	}
	if l.prog, err = compile[float64](l.b, append(G.Nodes{l.cost}, l.grads...), nil); err != nil {
		t.Fatal(err)
	}
	l.gx, l.gw, l.gb = l.prog.values[l.grads[0]], l.prog.values[l.grads[1]], l.prog.values[l.grads[2]]
	return l
}

func (l *linearGraph) loss() float64 {
	l.prog.run()
	return l.prog.values[l.cost][0]
}

// TestLinearOpGradientMatchesFiniteDifferences checks the fused layer's gradients with
// respect to its input, weights and bias, for each activation, in float64 against central
// finite differences.
func TestLinearOpGradientMatchesFiniteDifferences(t *testing.T) {
	for _, act := range []string{"", "relu", "tanh"} {
		t.Run("act="+act, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(21, 22))
			l := newLinearGraph(t, rng, act, 6, 5, 18) // 18 columns: one 16-wide block and a tail
			l.loss()
			analytic := [][]float64{append([]float64(nil), l.gx...), append([]float64(nil), l.gw...), append([]float64(nil), l.gb...)}
			for pi, param := range [][]float64{l.xd, l.wd, l.bd} {
				for i := range param {
					const eps = 1e-6
					orig := param[i]
					param[i] = orig + eps
					up := l.loss()
					param[i] = orig - eps
					down := l.loss()
					param[i] = orig
					numeric := (up - down) / (2 * eps)
					if d := math.Abs(numeric - analytic[pi][i]); d > 1e-6*math.Max(1, math.Abs(numeric)) {
						t.Errorf("input %d [%d]: analytic %.9g, finite difference %.9g", pi, i, analytic[pi][i], numeric)
					}
				}
			}
		})
	}
}

// TestProgramMatchesTapeMachine runs a trainer's graph on gorgonia's own TapeMachine, which
// calls the fused ops through gorgonia.Op, and checks it against the program's results.
func TestProgramMatchesTapeMachine(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 24))
	p, err := NewParams[float64](testSpec(), rng)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := NewTrainer(p, 9, LossHuber)
	if err != nil {
		t.Fatal(err)
	}
	for i := range tr.Input() {
		tr.Input()[i] = rng.NormFloat64()
	}
	for i := range tr.Target() {
		tr.Target()[i] = 2 * rng.NormFloat64()
	}
	loss, _ := tr.Run()
	vm := G.NewTapeMachine(tr.net.g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	if got := tr.cost.Value().Data().(float64); math.Abs(got-loss) > 1e-12 {
		t.Errorf("loss: tape machine %g, program %g", got, loss)
	}
	for i, g := range tr.grads {
		want := g.Value().Data().([]float64)
		for j, v := range tr.Grads[i] {
			if math.Abs(v-want[j]) > 1e-12 {
				t.Fatalf("%s[%d]: tape machine %g, program %g", p.Tensors[i].Name, j, want[j], v)
			}
		}
	}
}

// TestRunsAllocateNothing checks that a forward pass and a training step allocate nothing
// once built.
func TestRunsAllocateNothing(t *testing.T) {
	spec := Spec{Inputs: 47, Hidden: []int{64, 64}, Outputs: 1, Activation: "relu"}
	p, err := NewParams[float32](spec, rand.New(rand.NewPCG(25, 26)))
	if err != nil {
		t.Fatal(err)
	}
	f, err := NewForward(p, 100)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := NewTrainer(p, 50, LossHuber)
	if err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(20, func() { _, _ = f.Run() }); n != 0 {
		t.Errorf("Forward.Run: %g allocations per run, want 0", n)
	}
	if n := testing.AllocsPerRun(20, func() { _, _ = tr.Run() }); n != 0 {
		t.Errorf("Trainer.Run: %g allocations per run, want 0", n)
	}
}

// TestRunRowsMatchesRun evaluates a network in two uneven ranges of rows on two goroutines
// and checks every output against a whole Run, bit for bit with the default kernels.
func TestRunRowsMatchesRun(t *testing.T) {
	spec := Spec{Inputs: 47, Hidden: []int{64, 64}, Outputs: 1, Activation: "relu"}
	rng := rand.New(rand.NewPCG(27, 28))
	p, err := NewParams[float32](spec, rng)
	if err != nil {
		t.Fatal(err)
	}
	const rows = 203
	f, err := NewForward(p, rows)
	if err != nil {
		t.Fatal(err)
	}
	for i := range f.Input() {
		f.Input()[i] = float32(rng.NormFloat64())
	}
	whole, _ := f.Run()
	whole = append([]float32(nil), whole...)
	clear(f.Output())
	done := make(chan bool)
	go func() { f.RunRows(0, 97); done <- true }()
	f.RunRows(97, rows)
	<-done
	for i, v := range f.Output() {
		// OpenBLAS treats the last rows of a product apart, so there a row's rounding
		// depends on where the range ends.
		if exact := v == whole[i]; !exact && (BLAS == "go" || math.Abs(float64(v-whole[i])) > 1e-5*math.Max(1, math.Abs(float64(whole[i])))) {
			t.Fatalf("row %d: %g from RunRows, %g from Run", i, v, whole[i])
		}
	}
}
