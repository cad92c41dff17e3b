// Package checkpoints reads and writes SimShop checkpoints, which are self-describing
// msgpack files. A checkpoint contains a network's graph and named weights in the spirit of
// ONNX, the metadata needed to use the model alone (feature encoding, catalog, shop
// settings, metrics), and the training state needed to continue training.
package checkpoints

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/simshop/simshop/nn"
	"github.com/simshop/simshop/simenv"
)

// Magic is the value of File.Magic in every SimShop checkpoint.
const Magic = "SIMSHOP-CHECKPOINT"

// SlateLogMagic is the magic string of the slate logs that package rl writes. Decode
// recognizes it to reject a slate log with ErrSlateLog.
const SlateLogMagic = "simshop-slate-log"

// FormatVersion is the version this package writes and the newest it reads.
const FormatVersion = 1

// File is one checkpoint. It is encoded as a msgpack map with the field names given in the
// msgpack tags.
type File struct {
	Magic    string   `msgpack:"magic"`
	Version  int      `msgpack:"format_version"`
	Producer Producer `msgpack:"producer"`
	Created  string   `msgpack:"created"` // RFC 3339, UTC
	Graph    Graph    `msgpack:"graph"`
	Metadata Metadata `msgpack:"metadata"`
	Training Training `msgpack:"training"`
}

// Producer names the program that wrote the file.
type Producer struct {
	Name     string `msgpack:"name"`
	Version  string `msgpack:"version"`
	Revision string `msgpack:"revision"` // VCS revision, empty when unknown
}

// Graph describes the network as named inputs and outputs, nodes in topological order, and
// initializers holding the weights, after ONNX's GraphProto.
type Graph struct {
	Spec         nn.Spec     `msgpack:"spec"`
	Inputs       []ValueInfo `msgpack:"inputs"`
	Outputs      []ValueInfo `msgpack:"outputs"`
	Nodes        []Node      `msgpack:"nodes"`
	Initializers []Tensor    `msgpack:"initializers"`
}

// ValueInfo names a graph input or output. A dimension of -1 is the batch of rows.
type ValueInfo struct {
	Name  string `msgpack:"name"`
	Dtype string `msgpack:"dtype"`
	Shape []int  `msgpack:"shape"`
}

// Node is one operation: Gemm (Y = A·B + C, with C broadcast over rows) or Relu or Tanh.
type Node struct {
	OpType     string         `msgpack:"op_type"`
	Inputs     []string       `msgpack:"inputs"`
	Outputs    []string       `msgpack:"outputs"`
	Attributes map[string]any `msgpack:"attributes"`
}

// Tensor is a named array of float32 values stored as raw little-endian bytes, row-major,
// with the SHA-256 of those bytes.
type Tensor struct {
	Name   string `msgpack:"name"`
	Dtype  string `msgpack:"dtype"` // "float32"
	Shape  []int  `msgpack:"shape"`
	Data   []byte `msgpack:"data"`
	SHA256 []byte `msgpack:"sha256"`
}

// Metadata is the information a loaded model needs besides its weights.
type Metadata struct {
	Agent       string             `msgpack:"agent"`        // e.g. "dqn"
	AgentConfig msgpack.RawMessage `msgpack:"agent_config"` // the agent's hyperparameters, a msgpack map
	Encoding    msgpack.RawMessage `msgpack:"encoding"`     // the feature encoding, a msgpack map
	Shop        simenv.Config      `msgpack:"shop"`
	Catalog     Catalog            `msgpack:"catalog"`
	Seed        uint64             `msgpack:"seed"`
	Sessions    int                `msgpack:"sessions"` // parallel training sessions
	Metrics     map[string]float64 `msgpack:"metrics"`  // evaluation figures at save time
}

// Catalog identifies the catalog a model was trained on, and embeds it.
type Catalog struct {
	Source      string        `msgpack:"source"`
	Fingerprint string        `msgpack:"fingerprint"` // hex SHA-256 of the catalog's canonical CSV
	Items       []simenv.Item `msgpack:"items"`
}

// Training is the state that continuing training needs beyond the online weights.
type Training struct {
	EnvSteps int64   `msgpack:"env_steps"`
	Episodes int64   `msgpack:"episodes"`
	Updates  int64   `msgpack:"updates"`
	Epsilon  float64 `msgpack:"epsilon"` // exploration rate at EnvSteps, for readers; it is recomputed from the schedule

	Target []Tensor `msgpack:"target"` // target-network weights, named like the initializers

	AdamStep int64    `msgpack:"adam_step"`
	AdamM    []Tensor `msgpack:"adam_m"`
	AdamV    []Tensor `msgpack:"adam_v"`

	// RNG holds the marshalled state of each random stream by name (math/rand/v2 PCG).
	RNG map[string][]byte `msgpack:"rng"`

	// ReplayStored reports whether Replay holds the replay buffer. Without it, a resumed run
	// refills the buffer before its next update.
	ReplayStored bool `msgpack:"replay_stored"`

	// The fields below are present in files saved for exact resume; older files lack them.

	// LastLoss is the loss of the latest update, which the metrics report.
	LastLoss float64 `msgpack:"last_loss,omitempty"`
	// Env is the simulator's state: the drift clock, every session's stream and shopper, and
	// the per-item and per-category counters.
	Env *simenv.State `msgpack:"env,omitempty"`
	// Pending holds, per session, the transition waiting for its next state: a tensor of shape
	// [sessions, record width]. Waiting marks the sessions whose row is in use.
	Pending *Tensor `msgpack:"pending,omitempty"`
	Waiting []bool  `msgpack:"waiting,omitempty"`
	// Replay is the replay buffer, present when ReplayStored is true.
	Replay *Replay `msgpack:"replay,omitempty"`

	// Baseline is the learned baseline of a REINFORCE agent; other agents leave it out.
	Baseline *Network `msgpack:"baseline,omitempty"`
	// Rollouts are a REINFORCE agent's states not yet learned from, present in files saved
	// for exact resume.
	Rollouts *Rollouts `msgpack:"rollouts,omitempty"`
}

// Rollouts are the slates a REINFORCE agent has shown but not yet learned from: the states
// of finished sessions that wait for an update, then those of each running session, each
// group oldest first. State s has Slots = K values per slate position in Slates, Behaviour,
// Reward and Return.
type Rollouts struct {
	Session   []int     `msgpack:"session"`   // per state, the running session it belongs to, or -1 if its session has finished
	Features  Tensor    `msgpack:"features"`  // shape [states, items × features]: the feature rows of every item
	Available []byte    `msgpack:"available"` // states × items bytes, 1 where the shop could show the item
	Slots     int       `msgpack:"slots"`
	Slates    []int32   `msgpack:"slates"`
	Behaviour []float64 `msgpack:"behaviour"` // β(a|s) of each slate item
	Reward    []float64 `msgpack:"reward"`
	Return    []float64 `msgpack:"return"` // returns-to-go, 0 until the session ends
}

// Network is a network trained beside the main one, such as REINFORCE's baseline: its spec,
// its weights named like a graph's initializers, and its Adam state.
type Network struct {
	Spec     nn.Spec  `msgpack:"spec"`
	Weights  []Tensor `msgpack:"weights"`
	AdamStep int64    `msgpack:"adam_step"`
	AdamM    []Tensor `msgpack:"adam_m"`
	AdamV    []Tensor `msgpack:"adam_v"`
}

// Replay is a stored replay buffer: Size transitions of Width float32 values in a ring of
// Capacity, with the next write at Cursor.
type Replay struct {
	Capacity int    `msgpack:"capacity"`
	Width    int    `msgpack:"width"`
	Size     int    `msgpack:"size"`
	Cursor   int    `msgpack:"cursor"`
	Data     Tensor `msgpack:"data"`     // shape [Capacity, Width]
	Terminal []byte `msgpack:"terminal"` // Capacity bytes, 1 where a transition ended its episode
}

// NewTensor encodes data as a float32 tensor.
func NewTensor(name string, shape []int, data []float32) Tensor {
	raw := make([]byte, 4*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
	}
	return Tensor{Name: name, Dtype: "float32", Shape: append([]int(nil), shape...), Data: raw, SHA256: sha256Sum(raw)}
}

// Floats decodes t into dst, checking its dtype, size and hash.
func (t Tensor) Floats(dst []float32) error {
	if t.Dtype != "float32" {
		return fmt.Errorf("tensor %q has dtype %q; this version reads only float32", t.Name, t.Dtype)
	}
	if len(t.Data) != 4*len(dst) {
		return fmt.Errorf("tensor %q has %d bytes, want %d for %d float32 values", t.Name, len(t.Data), 4*len(dst), len(dst))
	}
	if !bytes.Equal(sha256Sum(t.Data), t.SHA256) {
		return fmt.Errorf("tensor %q fails its SHA-256 check: the file is corrupted", t.Name)
	}
	for i := range dst {
		dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(t.Data[4*i:]))
	}
	return nil
}

// ParamsTensors encodes every tensor of p.
func ParamsTensors(p *nn.Params[float32]) []Tensor {
	out := make([]Tensor, len(p.Tensors))
	for i, t := range p.Tensors {
		out[i] = NewTensor(t.Name, t.Shape[:], t.Data)
	}
	return out
}

// SlicesTensors encodes slices aligned with the tensors of p, under the same names.
func SlicesTensors(p *nn.Params[float32], slices [][]float32) []Tensor {
	out := make([]Tensor, len(p.Tensors))
	for i, t := range p.Tensors {
		out[i] = NewTensor(t.Name, t.Shape[:], slices[i])
	}
	return out
}

// FillSlices decodes tensors into dst, matching them to p's tensors by name and shape.
// what names the tensor group in errors, e.g. "initializers".
func FillSlices(p *nn.Params[float32], tensors []Tensor, dst [][]float32, what string) error {
	byName := make(map[string]Tensor, len(tensors))
	for _, t := range tensors {
		byName[t.Name] = t
	}
	for i, pt := range p.Tensors {
		t, ok := byName[pt.Name]
		if !ok {
			return fmt.Errorf("%s: tensor %q is missing", what, pt.Name)
		}
		if len(t.Shape) != 2 || t.Shape[0] != pt.Shape[0] || t.Shape[1] != pt.Shape[1] {
			return fmt.Errorf("%s: tensor %q has shape %v, but the graph needs %v", what, pt.Name, t.Shape, pt.Shape)
		}
		if err := t.Floats(dst[i]); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
	}
	return nil
}

// GraphOf describes the MLP of p as ONNX-style nodes: per layer a Gemm, then the activation
// for every layer but the last.
func GraphOf(p *nn.Params[float32]) Graph {
	g := graphSkeleton(p.Spec)
	g.Initializers = ParamsTensors(p)
	return g
}

// graphSkeleton returns the graph of spec without its initializers: the input "features",
// the output "q" and the nodes that compute it from the weights that nn.NewParams names.
func graphSkeleton(spec nn.Spec) Graph {
	g := Graph{
		Spec:    spec,
		Inputs:  []ValueInfo{{Name: "features", Dtype: "float32", Shape: []int{-1, spec.Inputs}}},
		Outputs: []ValueInfo{{Name: "q", Dtype: "float32", Shape: []int{-1, spec.Outputs}}},
	}
	layers := len(spec.Hidden) + 1
	in := "features"
	ops := map[string]string{"relu": "Relu", "tanh": "Tanh"}
	for l := 0; l < layers; l++ {
		out := fmt.Sprintf("layer%d/linear", l)
		if l == layers-1 {
			out = "q"
		}
		g.Nodes = append(g.Nodes, Node{
			OpType:     "Gemm",
			Inputs:     []string{in, weightName(l), biasName(l)},
			Outputs:    []string{out},
			Attributes: map[string]any{"alpha": 1.0, "beta": 1.0, "transA": 0, "transB": 0},
		})
		in = out
		if l < layers-1 {
			act := fmt.Sprintf("layer%d/%s", l, spec.HiddenActivation(l))
			g.Nodes = append(g.Nodes, Node{OpType: ops[spec.HiddenActivation(l)], Inputs: []string{in}, Outputs: []string{act}})
			in = act
		}
	}
	return g
}

// weightName and biasName return the names nn.NewParams gives the tensors of layer l.
func weightName(l int) string { return fmt.Sprintf("layer%d/weight", l) }
func biasName(l int) string   { return fmt.Sprintf("layer%d/bias", l) }

func sha256Sum(b []byte) []byte {
	sum := sha256.Sum256(b)
	return sum[:]
}
