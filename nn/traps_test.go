package nn

// Tests of the gorgonia v0.9.18 / tensor v0.9.24 traps that nn works around. Where the trap
// reproduces, a test first shows it in raw gorgonia, so that it fails if a library upgrade
// removes the trap and the workaround can go. Each test then shows that nn avoids it.

import (
	"math"
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// TestTrapDualValuesAccumulate: with BindDualValues, a weight's gradient is added to the
// previous run's until a solver step clears it. nn reads the gradient nodes instead.
func TestTrapDualValuesAccumulate(t *testing.T) {
	g := G.NewGraph()
	w := G.NewMatrix(g, tensor.Float64, G.WithShape(1, 2), G.WithName("w"),
		G.WithValue(tensor.New(tensor.WithShape(1, 2), tensor.WithBacking([]float64{0.5, -1}))))
	x := G.NewMatrix(g, tensor.Float64, G.WithShape(1, 2), G.WithName("x"),
		G.WithValue(tensor.New(tensor.WithShape(1, 2), tensor.WithBacking([]float64{3, 4}))))
	prod := G.Must(G.HadamardProd(w, x))
	cost := G.Must(G.Sum(prod))
	if _, err := G.Grad(cost, w); err != nil {
		t.Fatal(err)
	}
	vm := G.NewTapeMachine(g, G.BindDualValues(w))
	defer vm.Close()
	var grads [][]float64
	for run := 0; run < 2; run++ {
		vm.Reset()
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
		gv, err := w.Grad()
		if err != nil {
			t.Fatal(err)
		}
		grads = append(grads, append([]float64(nil), gv.Data().([]float64)...))
	}
	// d cost / d w = x = [3 4] on every run; the dual value holds the sum of both runs.
	if grads[0][0] != 3 || grads[1][0] != 6 {
		t.Fatalf("raw gorgonia: dual-value gradients %v over two runs, want [3 4] then the accumulated [6 8]", grads)
	}

	p, err := NewParams[float64](testSpec(), rand.New(rand.NewPCG(7, 8)))
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewBackprop(p, 3)
	if err != nil {
		t.Fatal(err)
	}
	for i := range b.Input() {
		b.Input()[i] = float64(i%5) - 2
	}
	for i := range b.Upstream() {
		b.Upstream()[i] = 1
	}
	var first []float64
	for run := 0; run < 3; run++ {
		if err := b.Run(); err != nil {
			t.Fatal(err)
		}
		if run == 0 {
			first = append(first, b.Grads[0]...)
			continue
		}
		for i := range first {
			if b.Grads[0][i] != first[i] {
				t.Fatalf("nn: run %d gradient %d is %g, first run %g", run+1, i, b.Grads[0][i], first[i])
			}
		}
	}
}

// TestTrapSoftmaxWholeTensorMax: gorgonia's SoftMax over the rows of a matrix subtracts the
// max of the whole tensor, so a row far below another underflows to 0/0. nn.LogSoftmax
// takes each row's own max.
func TestTrapSoftmaxWholeTensorMax(t *testing.T) {
	rows := []float64{1000, 1001, 1002, 0, 1, 2}
	g := G.NewGraph()
	x := G.NewMatrix(g, tensor.Float64, G.WithShape(2, 3), G.WithName("x"),
		G.WithValue(tensor.New(tensor.WithShape(2, 3), tensor.WithBacking(append([]float64(nil), rows...)))))
	sm := G.Must(G.SoftMax(x, 1))
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	raw := sm.Value().Data().([]float64)
	if !math.IsNaN(raw[3]) && raw[3] != 0 {
		t.Fatalf("raw gorgonia: softmax of the second row %v is no longer broken; the trap is gone", raw[3:])
	}

	want := []float64{0.09003057317038046, 0.24472847105479767, 0.6652409557748219}
	for r := 0; r < 2; r++ {
		logp := make([]float64, 3)
		LogSoftmax(logp, rows[3*r:3*r+3])
		for i, lp := range logp {
			if got := math.Exp(lp); math.Abs(got-want[i]) > 1e-12 {
				t.Errorf("nn: row %d item %d: probability %.15g, want %.15g", r, i, got, want[i])
			}
		}
	}
}

// TestTrapBroadcastGradient compares the bias gradient of gorgonia's BroadcastAdd with
// finite differences, and checks that nn's own bias, added as ones ⊗ bias by matrix
// multiplication, gets the same gradient.
//
// NOTE: BroadcastAdd's gradient matched finite differences in v0.9.18 on these shapes, and
// so did column broadcasts, Sub and HadamardProd tried the same way. So this test does not
// reproduce the reported unreliability. nn keeps the ones ⊗ bias form, whose gradient the
// finite-difference checks of graph_test.go and gradcheck_test.go confirm.
func TestTrapBroadcastGradient(t *testing.T) {
	const rows = 3
	xData := []float64{1, 2, 3, 4, 5, 6}
	bias := []float64{0.1, -0.2}
	// cost returns Σ (x + b)² over the rows and its gradient with respect to b, the
	// bias added by BroadcastAdd (broadcast true) or as ones ⊗ b.
	cost := func(b []float64, broadcast bool) (float64, []float64) {
		g := G.NewGraph()
		x := G.NewMatrix(g, tensor.Float64, G.WithShape(rows, 2), G.WithName("x"),
			G.WithValue(tensor.New(tensor.WithShape(rows, 2), tensor.WithBacking(append([]float64(nil), xData...)))))
		bn := G.NewMatrix(g, tensor.Float64, G.WithShape(1, 2), G.WithName("b"),
			G.WithValue(tensor.New(tensor.WithShape(1, 2), tensor.WithBacking(append([]float64(nil), b...)))))
		var sum *G.Node
		if broadcast {
			sum = G.Must(G.BroadcastAdd(x, bn, nil, []byte{0}))
		} else {
			ones := G.NewConstant(tensor.New(tensor.WithShape(rows, 1), tensor.WithBacking([]float64{1, 1, 1})))
			sum = G.Must(G.Add(x, G.Must(G.Mul(ones, bn))))
		}
		c := G.Must(G.Sum(G.Must(G.Square(sum))))
		grads, err := G.Grad(c, bn)
		if err != nil {
			t.Fatal(err)
		}
		vm := G.NewTapeMachine(g)
		defer vm.Close()
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
		return c.Value().Data().(float64), append([]float64(nil), grads[0].Value().Data().([]float64)...)
	}
	for _, broadcast := range []bool{true, false} {
		_, analytic := cost(bias, broadcast)
		const eps = 1e-6
		for i := range bias {
			up, down := append([]float64(nil), bias...), append([]float64(nil), bias...)
			up[i] += eps
			down[i] -= eps
			cu, _ := cost(up, broadcast)
			cd, _ := cost(down, broadcast)
			numeric := (cu - cd) / (2 * eps)
			if math.Abs(numeric-analytic[i]) > 1e-6*math.Max(1, math.Abs(numeric)) {
				t.Errorf("broadcast %v: bias gradient %d is %.9g, finite difference %.9g", broadcast, i, analytic[i], numeric)
			}
		}
	}
}

// TestTrapBroadcastPatterns checks the gradient of b through gorgonia's broadcast ops on
// more patterns than TestTrapBroadcastGradient: a row and a column broadcast, a product, the
// broadcast operand on the left, b used by two broadcasts, and both operands broadcast. Each
// runs through symbolic differentiation on a tape machine and through the lisp machine's
// automatic differentiation. The wanted values are worked out by hand for x = [[1 2] [3 4]
// [5 6]] and b = 0.1, 0.2, ... in order, with cost Σ s².
//
// NOTE: every pattern matched in v0.9.18, so these cases do not reproduce the reported
// unreliability either.
func TestTrapBroadcastPatterns(t *testing.T) {
	cases := []struct {
		name   string
		bShape tensor.Shape
		op     func(x, b *G.Node) (*G.Node, error)
		want   []float64
	}{
		// d/db_j Σ_i (x_ij + b_j)² = 2 Σ_i (x_ij + b_j)
		{"row add", tensor.Shape{1, 2}, func(x, b *G.Node) (*G.Node, error) { return G.BroadcastAdd(x, b, nil, []byte{0}) },
			[]float64{18.6, 25.2}},
		// d/db_i Σ_j (x_ij + b_i)² = 2 Σ_j (x_ij + b_i)
		{"column add", tensor.Shape{3, 1}, func(x, b *G.Node) (*G.Node, error) { return G.BroadcastAdd(x, b, nil, []byte{1}) },
			[]float64{6.4, 14.8, 23.2}},
		// d/db_j Σ_i (x_ij b_j)² = 2 b_j Σ_i x_ij²
		{"row product", tensor.Shape{1, 2}, func(x, b *G.Node) (*G.Node, error) { return G.BroadcastHadamardProd(x, b, nil, []byte{0}) },
			[]float64{7, 22.4}},
		// d/db_i Σ_j (b_i − x_ij)² = 2 Σ_j (b_i − x_ij)
		{"left column subtraction", tensor.Shape{3, 1}, func(x, b *G.Node) (*G.Node, error) { return G.BroadcastSub(b, x, []byte{1}, nil) },
			[]float64{-5.6, -13.2, -20.8}},
		// s = (x + b) + x ⊙ b, so d/db_j = 2 Σ_i (x_ij + b_j (1 + x_ij)) (1 + x_ij)
		{"two broadcasts", tensor.Shape{1, 2}, func(x, b *G.Node) (*G.Node, error) {
			sum, err := G.BroadcastAdd(x, b, nil, []byte{0})
			if err != nil {
				return nil, err
			}
			prod, err := G.BroadcastHadamardProd(x, b, nil, []byte{0})
			if err != nil {
				return nil, err
			}
			return G.Add(sum, prod)
		}, []float64{99.2, 169.2}},
		// s_ij = x_i0 + b_j with both operands broadcast, so d/db_j = 2 Σ_i (x_i0 + b_j)
		{"both operands", tensor.Shape{1, 2}, func(x, b *G.Node) (*G.Node, error) {
			column, err := G.Slice(x, nil, G.S(0))
			if err != nil {
				return nil, err
			}
			if column, err = G.Reshape(column, tensor.Shape{3, 1}); err != nil {
				return nil, err
			}
			return G.BroadcastAdd(column, b, []byte{1}, []byte{0})
		}, []float64{18.6, 19.2}},
	}
	for _, tc := range cases {
		for _, lisp := range []bool{false, true} {
			g := G.NewGraph()
			x := G.NewMatrix(g, tensor.Float64, G.WithShape(3, 2), G.WithName("x"),
				G.WithValue(tensor.New(tensor.WithShape(3, 2), tensor.WithBacking([]float64{1, 2, 3, 4, 5, 6}))))
			values := make([]float64, tc.bShape.TotalSize())
			for i := range values {
				values[i] = 0.1 * float64(i+1)
			}
			b := G.NewMatrix(g, tensor.Float64, G.WithShape(tc.bShape...), G.WithName("b"),
				G.WithValue(tensor.New(tensor.WithShape(tc.bShape...), tensor.WithBacking(values))))
			s, err := tc.op(x, b)
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			cost := G.Must(G.Sum(G.Must(G.Square(s))))

			var vm G.VM
			if lisp {
				vm = G.NewLispMachine(g)
			} else {
				if _, err := G.Grad(cost, b); err != nil {
					t.Fatalf("%s: %v", tc.name, err)
				}
				vm = G.NewTapeMachine(g)
			}
			if err := vm.RunAll(); err != nil {
				vm.Close()
				t.Fatalf("%s, lisp machine %v: %v", tc.name, lisp, err)
			}
			grad, err := b.Grad()
			vm.Close()
			if err != nil {
				t.Fatalf("%s, lisp machine %v: %v", tc.name, lisp, err)
			}
			got := grad.Data().([]float64)
			for i, want := range tc.want {
				if math.Abs(got[i]-want) > 1e-9 {
					t.Errorf("%s, lisp machine %v: gradient %d is %.12g, want %.12g", tc.name, lisp, i, got[i], want)
				}
			}
		}
	}
}

// TestForwardGraphHasNoGradients checks that an acting or target-network graph is
// forward-only: none of its nodes is a gradient, so a run computes no backward pass and
// leaves nothing to accumulate. A trainer's graph of the same network does have them.
func TestForwardGraphHasNoGradients(t *testing.T) {
	p, err := NewParams[float32](testSpec(), rand.New(rand.NewPCG(9, 10)))
	if err != nil {
		t.Fatal(err)
	}
	f, err := NewForward(p, 4)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range f.net.g.AllNodes() {
		if len(n.DerivOf()) > 0 || n.Deriv() != nil {
			t.Errorf("forward graph node %s is or has a gradient", n.Name())
		}
	}
	tr, err := NewTrainer(p, 4, LossHuber)
	if err != nil {
		t.Fatal(err)
	}
	gradients := 0
	for _, n := range tr.net.g.AllNodes() {
		if len(n.DerivOf()) > 0 {
			gradients++
		}
	}
	if gradients == 0 {
		t.Error("the trainer's graph has no gradient nodes, so this test cannot tell the two apart")
	}
}
