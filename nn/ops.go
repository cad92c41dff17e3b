package nn

import (
	"fmt"
	"hash"
	"hash/fnv"
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// The networks of this package are gorgonia graphs built from the fused operations below.
// Each op replaces several of gorgonia's own operations with one call into the dense
// kernels of gemm.go, and it writes into a buffer that the caller provides. A whole layer
// (x·W, the bias and the activation) is one op. Each op implements gorgonia.Op, so that
// gorgonia's TapeMachine can run the graphs too, and gorgonia.SDOp, so that gorgonia.Grad
// differentiates them.

// kernel is the part of an op that program runs: dst and src are the backing arrays of the
// op's output and inputs, in the order of the node's children.
type kernel[T Float] interface {
	run(dst []T, src [][]T)
}

// rowKernel is a kernel whose output rows each depend only on the same rows of its first
// input, so that disjoint ranges of rows can be computed apart and at the same time.
type rowKernel[T Float] interface {
	runRows(dst []T, src [][]T, lo, hi int)
}

// builder records the children of every node that a fused op adds, which gorgonia keeps
// private, so that program can order and feed the nodes.
type builder struct {
	children map[*G.Node]G.Nodes
}

func newBuilder() *builder { return &builder{children: map[*G.Node]G.Nodes{}} }

// apply adds op to the graph of its children and records them.
func (b *builder) apply(op G.Op, children ...*G.Node) (*G.Node, error) {
	n, err := G.ApplyOp(op, children...)
	if err != nil {
		return nil, fmt.Errorf("nn: %v: %w", op, err)
	}
	b.children[n] = append(G.Nodes(nil), children...)
	return n, nil
}

// opBase holds what every fused op shares.
type opBase struct {
	name  string
	arity int
	shape tensor.Shape // of the output; nil for a scalar
}

func (o *opBase) Arity() int            { return o.arity }
func (o *opBase) ReturnsPtr() bool      { return false }
func (o *opBase) CallsExtern() bool     { return BLAS != "go" }
func (o *opBase) OverwritesInput() int  { return -1 }
func (o *opBase) String() string        { return o.name }
func (o *opBase) WriteHash(h hash.Hash) { fmt.Fprint(h, o.name) }
func (o *opBase) Hashcode() uint32 {
	h := fnv.New32a()
	o.WriteHash(h)
	return h.Sum32()
}

func (o *opBase) InferShape(...G.DimSizer) (tensor.Shape, error) {
	if o.shape == nil {
		return tensor.ScalarShape(), nil
	}
	return o.shape.Clone(), nil
}

// typeOf returns the function type of an op whose matrix inputs come first and its scalar
// inputs after them. The output is a matrix, or a scalar when scalarOut is set.
func typeOf(matrices, scalars int, scalarOut bool) hm.Type {
	a := hm.TypeVariable('a')
	mat := G.TensorType{Dims: 2, Of: a}
	ts := make([]hm.Type, 0, matrices+scalars+1)
	for i := 0; i < matrices; i++ {
		ts = append(ts, mat)
	}
	for i := 0; i < scalars; i++ {
		ts = append(ts, a)
	}
	if scalarOut {
		ts = append(ts, a)
	} else {
		ts = append(ts, mat)
	}
	return hm.NewFnType(ts...)
}

// doWith runs k on gorgonia values into a fresh output, for gorgonia's machines.
func doWith[T Float](k kernel[T], shape tensor.Shape, inputs []G.Value) (G.Value, error) {
	src := make([][]T, len(inputs))
	for i, v := range inputs {
		d, err := valueData[T](v)
		if err != nil {
			return nil, err
		}
		src[i] = d
	}
	if shape == nil {
		dst := make([]T, 1)
		k.run(dst, src)
		return scalarValue(dst[0]), nil
	}
	dst := make([]T, shape.TotalSize())
	k.run(dst, src)
	return tensor.New(tensor.WithShape(shape.Clone()...), tensor.WithBacking(dst)), nil
}

// preallocWith runs k on gorgonia values into prealloc, a tensor of the output's shape.
func preallocWith[T Float](k kernel[T], prealloc G.Value, inputs []G.Value) (G.Value, error) {
	dst, err := valueData[T](prealloc)
	if err != nil {
		return nil, err
	}
	src := make([][]T, len(inputs))
	for i, v := range inputs {
		if src[i], err = valueData[T](v); err != nil {
			return nil, err
		}
	}
	k.run(dst, src)
	return prealloc, nil
}

// valueData returns the elements of a gorgonia value of element type T.
func valueData[T Float](v G.Value) ([]T, error) {
	switch d := v.Data().(type) {
	case []T:
		return d, nil
	case T:
		return []T{d}, nil
	}
	return nil, fmt.Errorf("nn: value of type %T where %T data was expected", v.Data(), []T(nil))
}

func scalarValue[T Float](v T) G.Value {
	if f, ok := any(v).(float64); ok {
		return G.NewF64(f)
	}
	return G.NewF32(float32(v))
}

// linearOp computes act(x·W + b) for x [rows, in], W [in, out] and b [1, out], with act
// "relu", "tanh" or "" for the identity.
type linearOp[T Float] struct {
	opBase
	b              *builder
	rows, in, out  int
	act            string
	differentiateX bool // whether the gradient with respect to x is needed
}

func newLinearOp[T Float](b *builder, rows, in, out int, act string, differentiateX bool) *linearOp[T] {
	name := fmt.Sprintf("linear[%d×%d→%d, act %q, dx %v]", rows, in, out, act, differentiateX)
	return &linearOp[T]{opBase: opBase{name: name, arity: 3, shape: tensor.Shape{rows, out}},
		b: b, rows: rows, in: in, out: out, act: act, differentiateX: differentiateX}
}

func (o *linearOp[T]) Type() hm.Type { return typeOf(3, 0, false) }

func (o *linearOp[T]) run(dst []T, src [][]T) { o.runRows(dst, src, 0, o.rows) }

// runRows computes the output rows [lo, hi) alone.
func (o *linearOp[T]) runRows(dst []T, src [][]T, lo, hi int) {
	x, w, bias := src[0][lo*o.in:hi*o.in], src[1], src[2]
	y := dst[lo*o.out : hi*o.out]
	for r := 0; r < hi-lo; r++ {
		copy(y[r*o.out:(r+1)*o.out], bias)
	}
	gemm(hi-lo, o.out, o.in, x, o.in, 1, w, o.out, y, o.out, true, o.act == "relu")
	if o.act == "tanh" {
		for i, v := range y {
			y[i] = T(math.Tanh(float64(v)))
		}
	}
}

func (o *linearOp[T]) Do(inputs ...G.Value) (G.Value, error) { return doWith[T](o, o.shape, inputs) }
func (o *linearOp[T]) UsePreallocDo(p G.Value, inputs ...G.Value) (G.Value, error) {
	return preallocWith[T](o, p, inputs)
}

func (o *linearOp[T]) DiffWRT(int) []bool { return []bool{o.differentiateX, true, true} }

// SymDiff returns the gradients of x, W and b given the output's gradient dy: with dz
// = dy masked by y > 0 for ReLU or dy·(1 - y²) for tanh, dx = dz·Wᵀ, dW = xᵀ·dz and db
// the column sums of dz.
func (o *linearOp[T]) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	dz := grad
	var err error
	switch o.act {
	case "relu":
		dz, err = o.b.apply(newReluGradOp[T](o.rows, o.out), output, grad)
	case "tanh":
		dz, err = o.b.apply(newTanhGradOp[T](o.rows, o.out), output, grad)
	}
	if err != nil {
		return nil, err
	}
	var dx *G.Node
	if o.differentiateX {
		if dx, err = o.b.apply(newInputGradOp[T](o.rows, o.in, o.out), dz, inputs[1]); err != nil {
			return nil, err
		}
	}
	dw, err := o.b.apply(newWeightGradOp[T](o.rows, o.in, o.out), inputs[0], dz)
	if err != nil {
		return nil, err
	}
	db, err := o.b.apply(newBiasGradOp[T](o.rows, o.out), dz)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dx, dw, db}, nil
}

// gradOp is the base of the ops that only appear in gradient graphs. Nothing
// differentiates them again.
type gradOp struct{ opBase }

func (o *gradOp) DiffWRT(n int) []bool { return make([]bool, n) }
func (o *gradOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("nn: %s has no second derivative", o.name)
}

// reluGradOp computes dz = dy where y > 0, else 0, from (y, dy).
type reluGradOp[T Float] struct{ gradOp }

func newReluGradOp[T Float](rows, cols int) *reluGradOp[T] {
	return &reluGradOp[T]{gradOp{opBase{name: fmt.Sprintf("reluGrad[%d×%d]", rows, cols), arity: 2, shape: tensor.Shape{rows, cols}}}}
}

func (o *reluGradOp[T]) Type() hm.Type                         { return typeOf(2, 0, false) }
func (o *reluGradOp[T]) run(dst []T, src [][]T)                { reluGrad(dst, src[0], src[1]) }
func (o *reluGradOp[T]) Do(inputs ...G.Value) (G.Value, error) { return doWith[T](o, o.shape, inputs) }
func (o *reluGradOp[T]) UsePreallocDo(p G.Value, inputs ...G.Value) (G.Value, error) {
	return preallocWith[T](o, p, inputs)
}

// tanhGradOp computes dz = dy·(1 - y²) from (y, dy), the gradient through y = tanh(z).
type tanhGradOp[T Float] struct{ gradOp }

func newTanhGradOp[T Float](rows, cols int) *tanhGradOp[T] {
	return &tanhGradOp[T]{gradOp{opBase{name: fmt.Sprintf("tanhGrad[%d×%d]", rows, cols), arity: 2, shape: tensor.Shape{rows, cols}}}}
}

func (o *tanhGradOp[T]) Type() hm.Type { return typeOf(2, 0, false) }
func (o *tanhGradOp[T]) run(dst []T, src [][]T) {
	y, dy := src[0], src[1]
	for i, v := range y {
		dst[i] = dy[i] * (1 - v*v)
	}
}
func (o *tanhGradOp[T]) Do(inputs ...G.Value) (G.Value, error) { return doWith[T](o, o.shape, inputs) }
func (o *tanhGradOp[T]) UsePreallocDo(p G.Value, inputs ...G.Value) (G.Value, error) {
	return preallocWith[T](o, p, inputs)
}

// inputGradOp computes dx = dz·Wᵀ [rows, in] from (dz [rows, out], W [in, out]).
type inputGradOp[T Float] struct {
	gradOp
	rows, in, out int
	wT            []T // scratch: Wᵀ, so that the kernel reads contiguous rows
}

func newInputGradOp[T Float](rows, in, out int) *inputGradOp[T] {
	o := &inputGradOp[T]{gradOp: gradOp{opBase{name: fmt.Sprintf("inputGrad[%d×%d→%d]", rows, in, out), arity: 2, shape: tensor.Shape{rows, in}}},
		rows: rows, in: in, out: out}
	if out > 1 {
		o.wT = make([]T, in*out)
	}
	return o
}

func (o *inputGradOp[T]) Type() hm.Type { return typeOf(2, 0, false) }
func (o *inputGradOp[T]) run(dst []T, src [][]T) {
	dz, w := src[0], src[1]
	wT := w // for one output column, W [in, 1] is already Wᵀ [1, in]
	if o.out > 1 {
		wT = o.wT
		for i := 0; i < o.in; i++ {
			for j := 0; j < o.out; j++ {
				wT[j*o.in+i] = w[i*o.out+j]
			}
		}
	}
	gemm(o.rows, o.in, o.out, dz, o.out, 1, wT, o.in, dst, o.in, false, false)
}
func (o *inputGradOp[T]) Do(inputs ...G.Value) (G.Value, error) {
	return doWith[T](o, o.shape, inputs)
}
func (o *inputGradOp[T]) UsePreallocDo(p G.Value, inputs ...G.Value) (G.Value, error) {
	return preallocWith[T](o, p, inputs)
}

// weightGradOp computes dW = xᵀ·dz [in, out] from (x [rows, in], dz [rows, out]).
type weightGradOp[T Float] struct {
	gradOp
	rows, in, out int
}

func newWeightGradOp[T Float](rows, in, out int) *weightGradOp[T] {
	return &weightGradOp[T]{gradOp: gradOp{opBase{name: fmt.Sprintf("weightGrad[%d×%d→%d]", rows, in, out), arity: 2, shape: tensor.Shape{in, out}}},
		rows: rows, in: in, out: out}
}

func (o *weightGradOp[T]) Type() hm.Type { return typeOf(2, 0, false) }
func (o *weightGradOp[T]) run(dst []T, src [][]T) {
	x, dz := src[0], src[1]
	if o.out == 1 {
		// dWᵀ [1, in] = dzᵀ·x, which reads x by rows; it has dW's layout.
		gemm(1, o.in, o.rows, dz, 0, 1, x, o.in, dst, o.in, false, false)
		return
	}
	gemm(o.in, o.out, o.rows, x, 1, o.in, dz, o.out, dst, o.out, false, false)
}
func (o *weightGradOp[T]) Do(inputs ...G.Value) (G.Value, error) {
	return doWith[T](o, o.shape, inputs)
}
func (o *weightGradOp[T]) UsePreallocDo(p G.Value, inputs ...G.Value) (G.Value, error) {
	return preallocWith[T](o, p, inputs)
}

// biasGradOp computes the column sums [1, cols] of dz [rows, cols].
type biasGradOp[T Float] struct {
	gradOp
	rows, cols int
	one        []T
}

func newBiasGradOp[T Float](rows, cols int) *biasGradOp[T] {
	return &biasGradOp[T]{gradOp: gradOp{opBase{name: fmt.Sprintf("biasGrad[%d×%d]", rows, cols), arity: 1, shape: tensor.Shape{1, cols}}},
		rows: rows, cols: cols, one: []T{1}}
}

func (o *biasGradOp[T]) Type() hm.Type { return typeOf(1, 0, false) }
func (o *biasGradOp[T]) run(dst []T, src [][]T) {
	// ones[1, rows]·dz, with the ones read from one value through a zero stride.
	gemm(1, o.cols, o.rows, o.one, 0, 0, src[0], o.cols, dst, o.cols, false, false)
}
func (o *biasGradOp[T]) Do(inputs ...G.Value) (G.Value, error) { return doWith[T](o, o.shape, inputs) }
func (o *biasGradOp[T]) UsePreallocDo(p G.Value, inputs ...G.Value) (G.Value, error) {
	return preallocWith[T](o, p, inputs)
}

// lossOp computes the mean over rows of loss(out - target) for out and target [rows, 1].
type lossOp[T Float] struct {
	opBase
	b    *builder
	loss Loss
	rows int
}

func newLossOp[T Float](b *builder, loss Loss, rows int) *lossOp[T] {
	return &lossOp[T]{opBase: opBase{name: fmt.Sprintf("%sLoss[%d]", loss, rows), arity: 2}, b: b, loss: loss, rows: rows}
}

func (o *lossOp[T]) Type() hm.Type { return typeOf(2, 0, true) }
func (o *lossOp[T]) run(dst []T, src [][]T) {
	out, target := src[0], src[1]
	var sum float64
	for i, v := range out {
		d := float64(v - target[i])
		if o.loss == LossHuber {
			if a := math.Abs(d); a > 1 {
				sum += a - 0.5
				continue
			}
		}
		sum += d * d / 2
	}
	dst[0] = T(sum / float64(o.rows))
}
func (o *lossOp[T]) Do(inputs ...G.Value) (G.Value, error) { return doWith[T](o, nil, inputs) }
func (o *lossOp[T]) UsePreallocDo(p G.Value, inputs ...G.Value) (G.Value, error) {
	return doWith[T](o, nil, inputs) // a scalar output is returned by value
}

func (o *lossOp[T]) DiffWRT(int) []bool { return []bool{true, false} }

func (o *lossOp[T]) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	d, err := o.b.apply(newLossGradOp[T](o.loss, o.rows), inputs[0], inputs[1], grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{d, nil}, nil
}

// lossGradOp computes the gradient [rows, 1] of lossOp's output, scaled by the upstream
// scalar gradient, from (out, target, upstream).
type lossGradOp[T Float] struct {
	gradOp
	loss Loss
	rows int
}

func newLossGradOp[T Float](loss Loss, rows int) *lossGradOp[T] {
	return &lossGradOp[T]{gradOp: gradOp{opBase{name: fmt.Sprintf("%sLossGrad[%d]", loss, rows), arity: 3, shape: tensor.Shape{rows, 1}}},
		loss: loss, rows: rows}
}

func (o *lossGradOp[T]) Type() hm.Type { return typeOf(2, 1, false) }
func (o *lossGradOp[T]) run(dst []T, src [][]T) {
	out, target := src[0], src[1]
	scale := src[2][0] / T(o.rows)
	for i, v := range out {
		d := v - target[i]
		if o.loss == LossHuber {
			d = max(-1, min(1, d))
		}
		dst[i] = d * scale
	}
}
func (o *lossGradOp[T]) Do(inputs ...G.Value) (G.Value, error) { return doWith[T](o, o.shape, inputs) }
func (o *lossGradOp[T]) UsePreallocDo(p G.Value, inputs ...G.Value) (G.Value, error) {
	return preallocWith[T](o, p, inputs)
}

// dotOp computes Σ_i a_i·u_i over two matrices of one shape. As a loss on a network's
// output a with u held constant, its gradient with respect to a is u, which lets a caller
// backpropagate a loss gradient computed outside the graph.
type dotOp[T Float] struct {
	opBase
	b          *builder
	rows, cols int
}

func newDotOp[T Float](b *builder, rows, cols int) *dotOp[T] {
	return &dotOp[T]{opBase: opBase{name: fmt.Sprintf("dot[%d×%d]", rows, cols), arity: 2}, b: b, rows: rows, cols: cols}
}

func (o *dotOp[T]) Type() hm.Type { return typeOf(2, 0, true) }
func (o *dotOp[T]) run(dst []T, src [][]T) {
	var sum float64
	for i, v := range src[0] {
		sum += float64(v) * float64(src[1][i])
	}
	dst[0] = T(sum)
}
func (o *dotOp[T]) Do(inputs ...G.Value) (G.Value, error) { return doWith[T](o, nil, inputs) }
func (o *dotOp[T]) UsePreallocDo(p G.Value, inputs ...G.Value) (G.Value, error) {
	return doWith[T](o, nil, inputs) // a scalar output is returned by value
}

func (o *dotOp[T]) DiffWRT(int) []bool { return []bool{true, false} }

func (o *dotOp[T]) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	d, err := o.b.apply(newScaleOp[T](o.rows, o.cols), inputs[1], grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{d, nil}, nil
}

// scaleOp computes u·s for a matrix u and a scalar s: dotOp's gradient.
type scaleOp[T Float] struct{ gradOp }

func newScaleOp[T Float](rows, cols int) *scaleOp[T] {
	return &scaleOp[T]{gradOp{opBase{name: fmt.Sprintf("scale[%d×%d]", rows, cols), arity: 2, shape: tensor.Shape{rows, cols}}}}
}

func (o *scaleOp[T]) Type() hm.Type { return typeOf(1, 1, false) }
func (o *scaleOp[T]) run(dst []T, src [][]T) {
	s := src[1][0]
	for i, v := range src[0] {
		dst[i] = v * s
	}
}
func (o *scaleOp[T]) Do(inputs ...G.Value) (G.Value, error) { return doWith[T](o, o.shape, inputs) }
func (o *scaleOp[T]) UsePreallocDo(p G.Value, inputs ...G.Value) (G.Value, error) {
	return preallocWith[T](o, p, inputs)
}
