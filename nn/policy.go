package nn

import (
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// LogSoftmax writes into dst the log-softmax of one row of logits:
//
//	dst[i] = logits[i] - max - ln Σ_j exp(logits[j] - max)
//
// with max the largest finite logit of this row alone. Subtracting the row's own max keeps
// every exp in (0, 1], so logits of any finite size give finite results. Gorgonia's
// softmax (tensor v0.9.24) subtracts the max of the whole tensor instead, so every row whose
// logits sit far below another row's underflows. A logit of -Inf marks an item that cannot
// be chosen and gets -Inf. It panics if the lengths differ, and writes all -Inf when no
// logit is finite.
func LogSoftmax[T Float](dst, logits []T) {
	if len(dst) != len(logits) {
		panic("nn: LogSoftmax: dst and logits differ in length")
	}
	rowMax := math.Inf(-1)
	for _, z := range logits {
		if v := float64(z); v > rowMax && !math.IsInf(v, 1) {
			rowMax = v
		}
	}
	if math.IsInf(rowMax, -1) {
		for i := range dst {
			dst[i] = T(math.Inf(-1))
		}
		return
	}
	var sum float64
	for _, z := range logits {
		sum += math.Exp(float64(z) - rowMax)
	}
	logSum := math.Log(sum)
	for i, z := range logits {
		dst[i] = T(float64(z) - rowMax - logSum)
	}
}

// Backprop computes the gradient of a scalar function L of a network's outputs with
// respect to every parameter, given the upstream gradient dL/dout that the caller computed.
// It lets an agent write its loss in Go, such as a policy-gradient loss over a softmax, and
// still backpropagate through the network's graph. The graph's cost is
// Σ_{r,o} out[r,o]·upstream[r,o], whose gradient is exactly upstream·∂out/∂θ.
//
// The gradients are read from the gradient nodes after each run, never accumulated into
// dual values, so each Run's Grads are fresh. A Backprop is not safe for concurrent use.
type Backprop[T Float] struct {
	net      *mlp[T]
	upstream []T
	prog     *program[T]
	out      []T
	forward  int // the steps of prog that compute out
	// Grads receives, after each Run, the gradient of each Params tensor in the same order.
	Grads [][]T
}

// NewBackprop builds the gradient graph of p for rows input rows. Its loss is
// Σ out ⊙ upstream with upstream held constant, whose gradient with respect to out is
// upstream.
func NewBackprop[T Float](p *Params[T], rows int) (*Backprop[T], error) {
	net, err := buildMLP(p, rows)
	if err != nil {
		return nil, err
	}
	outputs := p.Spec.Outputs
	b := &Backprop[T]{net: net, upstream: make([]T, rows*outputs)}
	uT := tensor.New(tensor.WithShape(rows, outputs), tensor.WithBacking(b.upstream))
	u := G.NewMatrix(net.g, dtypeOf[T](), G.WithShape(rows, outputs), G.WithName("upstream"), G.WithValue(uT))
	cost, err := net.b.apply(newDotOp[T](net.b, rows, outputs), net.out, u)
	if err != nil {
		return nil, fmt.Errorf("nn: backprop cost: %w", err)
	}
	grads, err := G.Grad(cost, net.weights...)
	if err != nil {
		return nil, fmt.Errorf("nn: gradient graph: %w", err)
	}
	b.Grads = make([][]T, len(p.Tensors))
	preset := map[*G.Node][]T{}
	for i, pt := range p.Tensors {
		b.Grads[i] = make([]T, len(pt.Data))
		preset[grads[i]] = b.Grads[i]
	}
	if b.prog, err = compile[T](net.b, append(G.Nodes{cost, net.out}, grads...), preset); err != nil {
		return nil, err
	}
	b.out = b.prog.values[net.out]
	b.forward = b.prog.stepsUntil(b.out)
	return b, nil
}

// Input returns the [rows, inputs] row-major input buffer.
func (b *Backprop[T]) Input() []T { return b.net.input }

// Upstream returns the [rows, outputs] row-major buffer of dL/dout that Run reads.
func (b *Backprop[T]) Upstream() []T { return b.upstream }

// Run evaluates the network on Input and writes Σ upstream·∂out/∂θ into Grads. It
// allocates nothing; its error is always nil and stays for callers written against
// gorgonia's machines.
func (b *Backprop[T]) Run() error {
	b.prog.run()
	return nil
}

// RunForward evaluates the network on Input into Output alone, so that a caller can compute
// Upstream from the outputs and then call RunBackward. Together they do what Run does, with
// one forward pass.
func (b *Backprop[T]) RunForward() { b.prog.runSteps(0, b.forward) }

// RunBackward writes Σ upstream·∂out/∂θ into Grads for the inputs of the last RunForward.
func (b *Backprop[T]) RunBackward() { b.prog.runSteps(b.forward, len(b.prog.steps)) }

// Output returns the network's [rows, outputs] outputs of the last Run.
func (b *Backprop[T]) Output() []T { return b.out }
