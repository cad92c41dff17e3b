package nn

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// dtypeOf returns the gorgonia dtype of T.
func dtypeOf[T Float]() tensor.Dtype {
	var zero T
	if _, ok := any(zero).(float64); ok {
		return tensor.Float64
	}
	return tensor.Float32
}

// mlp is the graph of one network for a fixed number of rows.
type mlp[T Float] struct {
	g       *G.ExprGraph
	b       *builder
	x       *G.Node // [rows, inputs]
	input   []T     // backing of x
	out     *G.Node // [rows, outputs]
	weights G.Nodes // one node per Params tensor, in the same order
}

// buildMLP adds the network of p to a new graph, one fused linear op (ops.go) per layer.
// Every weight node is bound to a tensor whose backing array is the Params slice itself,
// so updates to p are seen by the next run. The first layer does not differentiate with
// respect to its input, which is data.
func buildMLP[T Float](p *Params[T], rows int) (*mlp[T], error) {
	if rows < 1 {
		return nil, fmt.Errorf("nn: a graph needs at least 1 row, got %d", rows)
	}
	dt := dtypeOf[T]()
	m := &mlp[T]{g: G.NewGraph(), b: newBuilder()}
	spec := p.Spec

	m.input = make([]T, rows*spec.Inputs)
	xT := tensor.New(tensor.WithShape(rows, spec.Inputs), tensor.WithBacking(m.input))
	m.x = G.NewMatrix(m.g, dt, G.WithShape(rows, spec.Inputs), G.WithName("x"), G.WithValue(xT))

	h := m.x
	layers := len(p.Tensors) / 2
	for l := 0; l < layers; l++ {
		w, b := p.Tensors[2*l], p.Tensors[2*l+1]
		wNode := G.NewMatrix(m.g, dt, G.WithShape(w.Shape[0], w.Shape[1]), G.WithName(w.Name),
			G.WithValue(tensor.New(tensor.WithShape(w.Shape[0], w.Shape[1]), tensor.WithBacking(w.Data))))
		bNode := G.NewMatrix(m.g, dt, G.WithShape(1, b.Shape[1]), G.WithName(b.Name),
			G.WithValue(tensor.New(tensor.WithShape(1, b.Shape[1]), tensor.WithBacking(b.Data))))
		m.weights = append(m.weights, wNode, bNode)

		act := ""
		if l < layers-1 {
			act = spec.HiddenActivation(l)
		}
		if l == layers-1 {
			act = ""
		}
		op := newLinearOp[T](m.b, rows, w.Shape[0], w.Shape[1], act, l > 0)
		var err error
		if h, err = m.b.apply(op, h, wNode, bNode); err != nil {
			return nil, fmt.Errorf("nn: layer %d: %w", l, err)
		}
	}
	m.out = h
	return m, nil
}

// Forward evaluates a network on a fixed number of rows. Its graph has no gradient nodes.
// A Forward is not safe for concurrent use.
type Forward[T Float] struct {
	net  *mlp[T]
	prog *program[T]
	out  []T
	rows int
}

// NewForward builds a forward-only graph of p for rows input rows.
func NewForward[T Float](p *Params[T], rows int) (*Forward[T], error) {
	net, err := buildMLP(p, rows)
	if err != nil {
		return nil, err
	}
	prog, err := compile[T](net.b, G.Nodes{net.out}, nil)
	if err != nil {
		return nil, err
	}
	if !prog.rowwise() {
		return nil, fmt.Errorf("nn: a forward pass contains an op that mixes rows")
	}
	return &Forward[T]{net: net, prog: prog, out: prog.values[net.out], rows: rows}, nil
}

// Input returns the [rows, inputs] row-major input buffer that Run reads.
func (f *Forward[T]) Input() []T { return f.net.input }

// RunRows evaluates the network on the input rows [lo, hi) alone and writes their outputs
// into the slice that Run returns. The other rows keep their values. Calls on disjoint
// ranges may run at the same time. With the default kernels a row's output is the same,
// bit for bit, as Run gives it; with OpenBLAS its rounding may differ. RunRows allocates
// nothing.
func (f *Forward[T]) RunRows(lo, hi int) {
	if lo < 0 || hi > f.Rows() || lo > hi {
		panic(fmt.Sprintf("nn: rows [%d, %d) outside a forward pass of %d rows", lo, hi, f.Rows()))
	}
	f.prog.runRows(lo, hi)
}

// Output returns the [rows, outputs] row-major output of the last Run or RunRows.
func (f *Forward[T]) Output() []T { return f.out }

// Rows returns the number of input rows.
func (f *Forward[T]) Rows() int { return f.rows }

// Run evaluates the network on Input and returns the [rows, outputs] row-major output.
// The returned slice is reused by the next Run. Run allocates nothing; its error is
// always nil and stays for callers written against gorgonia's machines.
func (f *Forward[T]) Run() ([]T, error) {
	f.prog.run()
	return f.out, nil
}

// Loss names a regression loss between the network's output and a target.
type Loss string

const (
	// LossHuber is the Huber loss with threshold 1: d²/2 for |d| <= 1, |d| - 1/2 beyond.
	LossHuber Loss = "huber"
	// LossSquared is d²/2.
	LossSquared Loss = "squared"
)

// Trainer computes a regression loss of a single-output network and its gradient with
// respect to every parameter. The loss is the mean over rows of loss(output - target).
type Trainer[T Float] struct {
	net    *mlp[T]
	target []T
	cost   *G.Node
	grads  G.Nodes
	prog   *program[T]
	loss   []T // the cost's buffer
	out    []T // the network output's buffer
	// Grads receives, after each Run, the gradient of each Params tensor in the same order.
	Grads [][]T
}

// NewTrainer builds the loss and gradient graph of p for rows rows. p.Spec.Outputs must be 1.
func NewTrainer[T Float](p *Params[T], rows int, loss Loss) (*Trainer[T], error) {
	if p.Spec.Outputs != 1 {
		return nil, fmt.Errorf("nn: a trainer needs a single-output network, got %d outputs", p.Spec.Outputs)
	}
	net, err := buildMLP(p, rows)
	if err != nil {
		return nil, err
	}
	dt := dtypeOf[T]()
	t := &Trainer[T]{net: net, target: make([]T, rows)}
	yT := tensor.New(tensor.WithShape(rows, 1), tensor.WithBacking(t.target))
	y := G.NewMatrix(net.g, dt, G.WithShape(rows, 1), G.WithName("target"), G.WithValue(yT))

	switch loss {
	case LossHuber, LossSquared:
	default:
		return nil, fmt.Errorf("nn: unknown loss %q; use %q or %q", loss, LossHuber, LossSquared)
	}
	if t.cost, err = net.b.apply(newLossOp[T](net.b, loss, rows), net.out, y); err != nil {
		return nil, fmt.Errorf("nn: loss: %w", err)
	}
	if t.grads, err = G.Grad(t.cost, net.weights...); err != nil {
		return nil, fmt.Errorf("nn: gradient graph: %w", err)
	}
	t.Grads = make([][]T, len(p.Tensors))
	for i, pt := range p.Tensors {
		t.Grads[i] = make([]T, len(pt.Data))
	}
	// Gradients are written straight into Grads.
	preset := map[*G.Node][]T{}
	for i, g := range t.grads {
		preset[g] = t.Grads[i]
	}
	outputs := append(G.Nodes{t.cost, net.out}, t.grads...)
	if t.prog, err = compile[T](net.b, outputs, preset); err != nil {
		return nil, err
	}
	t.loss, t.out = t.prog.values[t.cost], t.prog.values[net.out]
	return t, nil
}

// Input returns the [rows, inputs] input buffer.
func (t *Trainer[T]) Input() []T { return t.net.input }

// Target returns the [rows] target buffer.
func (t *Trainer[T]) Target() []T { return t.target }

// Run computes the loss and writes the gradients into Grads. Each run's gradients are
// fresh: every gradient kernel overwrites its buffer, never adds to it. Run allocates
// nothing; its error is always nil and stays for callers written against gorgonia's
// machines.
func (t *Trainer[T]) Run() (T, error) {
	t.prog.run()
	return t.loss[0], nil
}

// Output returns the network's outputs of the last Run, one per row.
func (t *Trainer[T]) Output() []T { return t.out }
