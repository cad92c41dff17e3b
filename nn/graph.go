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
	x       *G.Node // [rows, inputs]
	input   []T     // backing of x
	out     *G.Node // [rows, outputs]
	weights G.Nodes // one node per Params tensor, in the same order
}

// buildMLP adds the network of p to a new graph. Every weight node is bound to a tensor
// whose backing array is the Params slice itself, so updates to p are seen by the next run.
//
// A bias is added as ones[rows,1] × bias[1,out], an outer product computed by matrix
// multiplication, rather than with BroadcastAdd, whose gradient is unreliable in gorgonia
// v0.9.18.
func buildMLP[T Float](p *Params[T], rows int) (*mlp[T], error) {
	if rows < 1 {
		return nil, fmt.Errorf("nn: a graph needs at least 1 row, got %d", rows)
	}
	dt := dtypeOf[T]()
	m := &mlp[T]{g: G.NewGraph()}
	spec := p.Spec

	m.input = make([]T, rows*spec.Inputs)
	xT := tensor.New(tensor.WithShape(rows, spec.Inputs), tensor.WithBacking(m.input))
	m.x = G.NewMatrix(m.g, dt, G.WithShape(rows, spec.Inputs), G.WithName("x"), G.WithValue(xT))

	ones := make([]T, rows)
	for i := range ones {
		ones[i] = 1
	}
	onesT := tensor.New(tensor.WithShape(rows, 1), tensor.WithBacking(ones))
	onesNode := G.NewConstant(onesT, G.WithName("ones"))

	h := m.x
	layers := len(p.Tensors) / 2
	for l := 0; l < layers; l++ {
		w, b := p.Tensors[2*l], p.Tensors[2*l+1]
		wNode := G.NewMatrix(m.g, dt, G.WithShape(w.Shape[0], w.Shape[1]), G.WithName(w.Name),
			G.WithValue(tensor.New(tensor.WithShape(w.Shape[0], w.Shape[1]), tensor.WithBacking(w.Data))))
		bNode := G.NewMatrix(m.g, dt, G.WithShape(1, b.Shape[1]), G.WithName(b.Name),
			G.WithValue(tensor.New(tensor.WithShape(1, b.Shape[1]), tensor.WithBacking(b.Data))))
		m.weights = append(m.weights, wNode, bNode)

		xw, err := G.Mul(h, wNode)
		if err != nil {
			return nil, fmt.Errorf("nn: layer %d: %w", l, err)
		}
		bias, err := G.Mul(onesNode, bNode)
		if err != nil {
			return nil, fmt.Errorf("nn: layer %d bias: %w", l, err)
		}
		if h, err = G.Add(xw, bias); err != nil {
			return nil, fmt.Errorf("nn: layer %d: %w", l, err)
		}
		if l == layers-1 {
			break
		}
		switch spec.Activation {
		case "relu":
			h, err = G.Rectify(h)
		case "tanh":
			h, err = G.Tanh(h)
		}
		if err != nil {
			return nil, fmt.Errorf("nn: layer %d activation: %w", l, err)
		}
	}
	m.out = h
	return m, nil
}

// Forward evaluates a network on a fixed number of rows. Its graph has no gradient nodes.
// A Forward is not safe for concurrent use.
type Forward[T Float] struct {
	net *mlp[T]
	vm  G.VM
}

// NewForward builds a forward-only graph of p for rows input rows.
func NewForward[T Float](p *Params[T], rows int) (*Forward[T], error) {
	net, err := buildMLP(p, rows)
	if err != nil {
		return nil, err
	}
	return &Forward[T]{net: net, vm: G.NewTapeMachine(net.g)}, nil
}

// Input returns the [rows, inputs] row-major input buffer that Run reads.
func (f *Forward[T]) Input() []T { return f.net.input }

// Rows returns the number of input rows.
func (f *Forward[T]) Rows() int { return len(f.net.input) / f.net.x.Shape()[1] }

// Run evaluates the network on Input and returns the [rows, outputs] row-major output.
// The returned slice is reused by the next Run.
func (f *Forward[T]) Run() ([]T, error) {
	f.vm.Reset()
	if err := f.vm.RunAll(); err != nil {
		return nil, fmt.Errorf("nn: forward pass: %w", err)
	}
	return f.net.out.Value().Data().([]T), nil
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
	vm     G.VM
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

	diff, err := G.Sub(net.out, y)
	if err != nil {
		return nil, fmt.Errorf("nn: loss: %w", err)
	}
	switch loss {
	case LossHuber:
		t.cost, err = huberMean(net.g, diff, rows)
	case LossSquared:
		t.cost, err = squaredMean(net.g, diff, rows)
	default:
		return nil, fmt.Errorf("nn: unknown loss %q; use %q or %q", loss, LossHuber, LossSquared)
	}
	if err != nil {
		return nil, fmt.Errorf("nn: loss: %w", err)
	}
	if t.grads, err = G.Grad(t.cost, net.weights...); err != nil {
		return nil, fmt.Errorf("nn: gradient graph: %w", err)
	}
	t.Grads = make([][]T, len(p.Tensors))
	for i, pt := range p.Tensors {
		t.Grads[i] = make([]T, len(pt.Data))
	}
	t.vm = G.NewTapeMachine(net.g)
	return t, nil
}

// Input returns the [rows, inputs] input buffer.
func (t *Trainer[T]) Input() []T { return t.net.input }

// Target returns the [rows] target buffer.
func (t *Trainer[T]) Target() []T { return t.target }

// Run computes the loss and writes the gradients into Grads. Each run's gradients are
// fresh: they are read from the gradient nodes, never accumulated into dual values.
func (t *Trainer[T]) Run() (T, error) {
	t.vm.Reset()
	if err := t.vm.RunAll(); err != nil {
		return 0, fmt.Errorf("nn: loss and gradient: %w", err)
	}
	for i, g := range t.grads {
		copy(t.Grads[i], g.Value().Data().([]T))
	}
	return t.cost.Value().Data().(T), nil
}

// Output returns the network's outputs of the last Run, one per row.
func (t *Trainer[T]) Output() []T { return t.net.out.Value().Data().([]T) }

// huberMean returns mean(huber(d)) written with differentiable gorgonia ops:
// with a = |d| and m = min(a, 1), huber(d) = m²/2 + (a - m).
func huberMean(g *G.ExprGraph, d *G.Node, rows int) (*G.Node, error) {
	one := constantLike(d, 1)
	a, err := G.Abs(d)
	if err != nil {
		return nil, err
	}
	m, err := G.MinBetween(a, one)
	if err != nil {
		return nil, err
	}
	m2, err := G.Square(m)
	if err != nil {
		return nil, err
	}
	quadratic, err := G.Sum(m2)
	if err != nil {
		return nil, err
	}
	linear, err := G.Sub(a, m)
	if err != nil {
		return nil, err
	}
	linearSum, err := G.Sum(linear)
	if err != nil {
		return nil, err
	}
	half := scalarLike(d, 0.5)
	halfQuadratic, err := G.Mul(quadratic, half)
	if err != nil {
		return nil, err
	}
	total, err := G.Add(halfQuadratic, linearSum)
	if err != nil {
		return nil, err
	}
	return G.Mul(total, scalarLike(d, 1/float64(rows)))
}

// squaredMean returns mean(d²/2).
func squaredMean(g *G.ExprGraph, d *G.Node, rows int) (*G.Node, error) {
	sq, err := G.Square(d)
	if err != nil {
		return nil, err
	}
	s, err := G.Sum(sq)
	if err != nil {
		return nil, err
	}
	return G.Mul(s, scalarLike(d, 0.5/float64(rows)))
}

// constantLike returns a constant node with n's shape and dtype, filled with v.
func constantLike(n *G.Node, v float64) *G.Node {
	shape := n.Shape().Clone()
	size := shape.TotalSize()
	var t *tensor.Dense
	if n.Dtype() == tensor.Float64 {
		data := make([]float64, size)
		for i := range data {
			data[i] = v
		}
		t = tensor.New(tensor.WithShape(shape...), tensor.WithBacking(data))
	} else {
		data := make([]float32, size)
		for i := range data {
			data[i] = float32(v)
		}
		t = tensor.New(tensor.WithShape(shape...), tensor.WithBacking(data))
	}
	return G.NewConstant(t)
}

// scalarLike returns a scalar constant of n's dtype.
func scalarLike(n *G.Node, v float64) *G.Node {
	if n.Dtype() == tensor.Float64 {
		return G.NewConstant(v)
	}
	return G.NewConstant(float32(v))
}
