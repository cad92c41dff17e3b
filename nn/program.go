package nn

import (
	"fmt"

	G "gorgonia.org/gorgonia"
)

// program runs a graph of fused ops as a fixed list of kernel calls over buffers that it
// allocates once, in place of gorgonia's TapeMachine, which allocates its input lists and
// often its outputs on every run. A run allocates nothing.
type program[T Float] struct {
	steps  []step[T]
	values map[*G.Node][]T // the buffer of every node the program reads or writes
}

type step[T Float] struct {
	k   kernel[T]
	rk  rowKernel[T] // k as a row kernel, or nil
	dst []T
	src [][]T
}

// compile orders the nodes that outputs depend on and gives each op node a buffer: the
// one in preset if there is one, a new one otherwise. Leaves read the values bound to
// them, so a leaf bound to a tensor over a Go slice is read from that slice on every run.
func compile[T Float](b *builder, outputs G.Nodes, preset map[*G.Node][]T) (*program[T], error) {
	p := &program[T]{values: map[*G.Node][]T{}}
	done := map[*G.Node]bool{}
	var visit func(n *G.Node) error
	visit = func(n *G.Node) error {
		if done[n] {
			return nil
		}
		children, isOp := b.children[n]
		if !isOp {
			v := n.Value()
			if v == nil {
				return fmt.Errorf("nn: graph node %v has neither an op of this package nor a value", n)
			}
			data, err := valueData[T](v)
			if err != nil {
				return fmt.Errorf("nn: graph node %v: %w", n, err)
			}
			p.values[n], done[n] = data, true
			return nil
		}
		k, ok := n.Op().(kernel[T])
		if !ok {
			return fmt.Errorf("nn: graph node %v has op %v, which this package cannot run", n, n.Op())
		}
		src := make([][]T, len(children))
		for i, c := range children {
			if err := visit(c); err != nil {
				return err
			}
			src[i] = p.values[c]
		}
		dst, ok := preset[n]
		if !ok {
			dst = make([]T, max(1, n.Shape().TotalSize()))
		}
		p.values[n], done[n] = dst, true
		rk, _ := k.(rowKernel[T])
		p.steps = append(p.steps, step[T]{k: k, rk: rk, dst: dst, src: src})
		return nil
	}
	for _, n := range outputs {
		if err := visit(n); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// run executes every step in order.
func (p *program[T]) run() { p.runSteps(0, len(p.steps)) }

// runSteps executes the steps [from, to) in order.
func (p *program[T]) runSteps(from, to int) {
	for i := from; i < to; i++ {
		s := &p.steps[i]
		s.k.run(s.dst, s.src)
	}
}

// stepsUntil returns the number of steps up to and including the one that writes n's
// buffer, or 0 when no step writes it.
func (p *program[T]) stepsUntil(n []T) int {
	for i, s := range p.steps {
		if len(s.dst) > 0 && &s.dst[0] == &n[0] {
			return i + 1
		}
	}
	return 0
}

// rowwise reports whether every step is a row kernel, so that runRows may be used.
func (p *program[T]) rowwise() bool {
	for _, s := range p.steps {
		if s.rk == nil {
			return false
		}
	}
	return true
}

// runRows executes every step on the rows [lo, hi) only.
func (p *program[T]) runRows(lo, hi int) {
	for i := range p.steps {
		s := &p.steps[i]
		s.rk.runRows(s.dst, s.src, lo, hi)
	}
}
