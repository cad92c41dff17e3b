// Package nn builds the multilayer perceptrons that SimShop's agents use as gorgonia
// computation graphs. Parameters live in plain Go slices owned by Params, so that an
// optimizer written in Go can update them in place and a checkpoint can store them. Every
// graph built from the same Params reads the same slices.
package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Float is the element type of a network: float32 for training, float64 for gradient checks.
type Float interface{ ~float32 | ~float64 }

// Spec declares a fully connected network: Inputs features, then one layer per entry of
// Hidden with its activation after it, then a linear layer with Outputs units.
type Spec struct {
	Inputs     int    `msgpack:"inputs"`
	Hidden     []int  `msgpack:"hidden"`
	Outputs    int    `msgpack:"outputs"`
	Activation string `msgpack:"activation"` // "relu" or "tanh", after every hidden layer
	// Activations, when set, gives each hidden layer its own activation, one entry per
	// entry of Hidden, in place of Activation. Checkpoints written before the field
	// existed leave it out.
	Activations []string `msgpack:"activations,omitempty"`
}

// HiddenActivation returns the activation after hidden layer l.
func (s Spec) HiddenActivation(l int) string {
	if len(s.Activations) > 0 {
		return s.Activations[l]
	}
	return s.Activation
}

// Validate reports the first field of s that cannot build a network.
func (s Spec) Validate() error {
	if s.Inputs < 1 {
		return fmt.Errorf("nn: spec has %d inputs; a network needs at least 1", s.Inputs)
	}
	if s.Outputs < 1 {
		return fmt.Errorf("nn: spec has %d outputs; a network needs at least 1", s.Outputs)
	}
	for i, h := range s.Hidden {
		if h < 1 {
			return fmt.Errorf("nn: hidden layer %d has width %d; widths must be at least 1", i, h)
		}
	}
	if len(s.Activations) == 0 {
		return checkActivation(s.Activation)
	}
	if len(s.Activations) != len(s.Hidden) {
		return fmt.Errorf("nn: spec has %d activations for %d hidden layers; give one per hidden layer", len(s.Activations), len(s.Hidden))
	}
	for _, a := range s.Activations {
		if err := checkActivation(a); err != nil {
			return err
		}
	}
	return nil
}

func checkActivation(a string) error {
	switch a {
	case "relu", "tanh":
		return nil
	}
	return fmt.Errorf("nn: unknown activation %q; use \"relu\" or \"tanh\"", a)
}

// Widths returns the layer widths from the input to the output, e.g. [64 128 128 1].
func (s Spec) Widths() []int {
	w := make([]int, 0, len(s.Hidden)+2)
	w = append(w, s.Inputs)
	w = append(w, s.Hidden...)
	return append(w, s.Outputs)
}

// MACsPerRow returns the multiply-accumulates of one forward pass of one input row.
func (s Spec) MACsPerRow() int {
	w := s.Widths()
	n := 0
	for i := 1; i < len(w); i++ {
		n += w[i-1] * w[i]
	}
	return n
}

// Param is one named weight tensor stored row-major.
type Param[T Float] struct {
	Name  string
	Shape [2]int
	Data  []T
}

// Params holds the weights of a network built from Spec: for layer l, "layer<l>/weight" of
// shape [in, out] and "layer<l>/bias" of shape [1, out].
type Params[T Float] struct {
	Spec    Spec
	Tensors []*Param[T]
}

// NewParams allocates the parameters of spec and initialises them from rng: weights with
// He-normal (standard deviation sqrt(2/fan_in), He et al. 2015) when the layer's output
// goes into a ReLU or Glorot-normal when it goes into a tanh, and biases with zero. The
// output layer is initialised like the last hidden layer. The same rng state always gives
// the same weights.
func NewParams[T Float](spec Spec, rng *rand.Rand) (*Params[T], error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	p := &Params[T]{Spec: spec}
	w := spec.Widths()
	for l := 1; l < len(w); l++ {
		in, out := w[l-1], w[l]
		// Layer l-1 feeds hidden layer l-1's activation; the output layer feeds none and is
		// initialised like the last hidden layer.
		act := spec.Activation
		if len(spec.Hidden) > 0 {
			act = spec.HiddenActivation(min(l-1, len(spec.Hidden)-1))
		}
		std := math.Sqrt(2 / float64(in))
		if act == "tanh" {
			std = math.Sqrt(2 / float64(in+out))
		}
		weight := &Param[T]{Name: fmt.Sprintf("layer%d/weight", l-1), Shape: [2]int{in, out}, Data: make([]T, in*out)}
		for i := range weight.Data {
			weight.Data[i] = T(rng.NormFloat64() * std)
		}
		bias := &Param[T]{Name: fmt.Sprintf("layer%d/bias", l-1), Shape: [2]int{1, out}, Data: make([]T, out)}
		p.Tensors = append(p.Tensors, weight, bias)
	}
	return p, nil
}

// Clone returns a deep copy of p.
func (p *Params[T]) Clone() *Params[T] {
	c := &Params[T]{Spec: p.Spec}
	c.Spec.Hidden = append([]int(nil), p.Spec.Hidden...)
	if p.Spec.Activations != nil {
		c.Spec.Activations = append([]string(nil), p.Spec.Activations...)
	}
	for _, t := range p.Tensors {
		c.Tensors = append(c.Tensors, &Param[T]{Name: t.Name, Shape: t.Shape, Data: append([]T(nil), t.Data...)})
	}
	return c
}

// CopyFrom overwrites the values of p with those of src, which must have the same spec.
func (p *Params[T]) CopyFrom(src *Params[T]) {
	for i, t := range p.Tensors {
		copy(t.Data, src.Tensors[i].Data)
	}
}

// Count returns the number of scalar parameters.
func (p *Params[T]) Count() int {
	n := 0
	for _, t := range p.Tensors {
		n += len(t.Data)
	}
	return n
}
