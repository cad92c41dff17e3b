package checkpoints

import (
	"fmt"
	"slices"
	"strings"
)

// check verifies that g is the graph its spec describes: the input, output and nodes that
// GraphOf writes, and exactly one initializer of the right shape, intact, per weight and
// bias. A reader that walks the nodes and SimShop's loader, which builds the network from
// the spec, thus compute the same function. It also bounds what a loader allocates from
// the spec by the size of the file, since every weight is in the file.
func (g Graph) check() error {
	if err := g.Spec.Validate(); err != nil {
		return fmt.Errorf("graph.spec: %v", err)
	}
	for _, w := range g.Spec.Widths() {
		if w > maxFileSize {
			return fmt.Errorf("graph.spec: layer width %d is larger than any checkpoint contains", w)
		}
	}

	// Initializers: each intact, each named once, exactly the tensors of the spec.
	byName := make(map[string]Tensor, len(g.Initializers))
	for _, t := range g.Initializers {
		if err := t.check(); err != nil {
			return err
		}
		if _, dup := byName[t.Name]; dup {
			return fmt.Errorf("graph.initializers contains tensor %q twice: the file is corrupted", t.Name)
		}
		byName[t.Name] = t
	}
	widths := g.Spec.Widths()
	for l := 1; l < len(widths); l++ {
		in, out := widths[l-1], widths[l]
		want := []struct {
			name  string
			shape []int
		}{
			{weightName(l - 1), []int{in, out}},
			{biasName(l - 1), []int{1, out}},
		}
		for _, w := range want {
			t, ok := byName[w.name]
			if !ok {
				return fmt.Errorf("graph.initializers lacks tensor %q, which graph.spec %v needs", w.name, widths)
			}
			if !slices.Equal(t.Shape, w.shape) {
				return fmt.Errorf("graph.initializers: tensor %q has shape %v, but graph.spec %v needs %v", w.name, t.Shape, widths, w.shape)
			}
		}
	}
	if want := 2 * (len(widths) - 1); len(g.Initializers) != want {
		return fmt.Errorf("graph.initializers contains %d tensors, but graph.spec %v needs exactly %d", len(g.Initializers), widths, want)
	}

	// Inputs, outputs and nodes: exactly those GraphOf writes for the spec.
	want := graphSkeleton(g.Spec)
	if err := equalValueInfos("graph.inputs", g.Inputs, want.Inputs); err != nil {
		return err
	}
	if err := equalValueInfos("graph.outputs", g.Outputs, want.Outputs); err != nil {
		return err
	}
	if len(g.Nodes) != len(want.Nodes) {
		return fmt.Errorf("graph.nodes contains %d nodes, but graph.spec %v needs %d", len(g.Nodes), widths, len(want.Nodes))
	}
	for i, n := range g.Nodes {
		if !equalNodes(n, want.Nodes[i]) {
			return fmt.Errorf("graph.nodes[%d] is %s, but graph.spec %v needs %s", i, n, widths, want.Nodes[i])
		}
	}
	return nil
}

// String formats n as OP(inputs) -> outputs {attributes}, for error messages.
func (n Node) String() string {
	s := fmt.Sprintf("%s(%s) -> %s", truncate(n.OpType, 40), truncate(strings.Join(n.Inputs, ", "), 200), truncate(strings.Join(n.Outputs, ", "), 200))
	if len(n.Attributes) > 0 {
		s += truncate(fmt.Sprintf(" %v", n.Attributes), 200)
	}
	return s
}

func equalValueInfos(field string, got, want []ValueInfo) error {
	if len(got) != len(want) {
		return fmt.Errorf("%s contains %d values, but graph.spec needs %d", field, len(got), len(want))
	}
	for i := range got {
		if got[i].Name != want[i].Name || got[i].Dtype != want[i].Dtype || !slices.Equal(got[i].Shape, want[i].Shape) {
			return fmt.Errorf("%s[%d] is %q %s %v, but graph.spec needs %q %s %v", field, i,
				truncate(got[i].Name, 40), truncate(got[i].Dtype, 40), got[i].Shape, want[i].Name, want[i].Dtype, want[i].Shape)
		}
	}
	return nil
}

// equalNodes compares nodes by value, accepting any msgpack number type for attributes,
// since the decoder returns the narrowest integer type that holds an integer.
func equalNodes(got, want Node) bool {
	if got.OpType != want.OpType || !slices.Equal(got.Inputs, want.Inputs) || !slices.Equal(got.Outputs, want.Outputs) {
		return false
	}
	if len(got.Attributes) != len(want.Attributes) {
		return false
	}
	for k, w := range want.Attributes {
		g, ok := number(got.Attributes[k])
		wv, _ := number(w)
		if !ok || g != wv {
			return false
		}
	}
	return true
}

// number converts a decoded msgpack number to float64, reporting false for other values.
func number(v any) (float64, bool) {
	switch x := v.(type) {
	case int:
		return float64(x), true
	case int8:
		return float64(x), true
	case int16:
		return float64(x), true
	case int32:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint8:
		return float64(x), true
	case uint16:
		return float64(x), true
	case uint32:
		return float64(x), true
	case uint64:
		return float64(x), true
	case float32:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}
