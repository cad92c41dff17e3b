package main

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/simshop/simshop/checkpoints"
	"github.com/simshop/simshop/nn"
	"github.com/simshop/simshop/rl"
	"github.com/simshop/simshop/simenv"
)

func inspectCommand() *cli.Command {
	return &cli.Command{
		Name:      "inspect",
		Usage:     "check a checkpoint and print its header, metadata, graph, tensors and training state",
		ArgsUsage: "FILE",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "json", Usage: "print one JSON object instead of text"},
		},
		Action: runInspect,
	}
}

// inspection is the report of inspect on one checkpoint, printed as is by --json.
type inspection struct {
	File          string            `json:"file"`
	Bytes         int64             `json:"bytes"`
	Magic         string            `json:"magic"`
	FormatVersion int               `json:"format_version"`
	Producer      inspectedProducer `json:"producer"`
	Created       string            `json:"created"`
	Metadata      inspectedMetadata `json:"metadata"`
	Graph         inspectedGraph    `json:"graph"`
	Tensors       []inspectedTensor `json:"tensors"`
	Training      inspectedTraining `json:"training"`
}

type inspectedProducer struct {
	Name     string `json:"name"`
	Version  string `json:"version"`
	Revision string `json:"revision"`
}

// inspectedMetadata describes how a checkpoint was trained. Shop and Catalog are set for
// the shop's agents, and Scenario for SlateQ, which runs on RecSim's scenario instead.
type inspectedMetadata struct {
	Agent       string               `json:"agent"`
	AgentConfig map[string]any       `json:"agent_config"`
	Shop        *inspectedShop       `json:"shop,omitempty"`
	Catalog     *inspectedCatalog    `json:"catalog,omitempty"`
	Scenario    *inspectedScenario   `json:"scenario,omitempty"`
	Seed        uint64               `json:"seed"`
	Sessions    int                  `json:"sessions"`
	Metrics     map[string]jsonFloat `json:"metrics"`
}

type inspectedShop struct {
	Persona     string  `json:"persona"`
	Reward      string  `json:"reward"`
	SlateSize   int     `json:"slate_size"`
	MaxSteps    int     `json:"max_steps"`
	ReturnProb  float64 `json:"return_prob"`
	Budget      float64 `json:"budget,omitempty"`
	ChoiceModel string  `json:"choice_model"`
	Drift       string  `json:"drift"`
}

// inspectedScenario is the RecSim scenario of a SlateQ checkpoint and its choice model.
type inspectedScenario struct {
	Name          string      `json:"name"`
	Candidates    int         `json:"candidates"`
	Slate         int         `json:"slate"`
	ResampleDocs  bool        `json:"resample_docs"`
	RecSimQuirks  bool        `json:"recsim_quirks"`
	ChoiceWeights []jsonFloat `json:"choice_weights"`
}

type inspectedCatalog struct {
	Source      string `json:"source"`
	Fingerprint string `json:"fingerprint"`
	Items       int    `json:"items"`
}

type inspectedGraph struct {
	Spec    inspectedSpec    `json:"spec"`
	Inputs  []inspectedValue `json:"inputs"`
	Outputs []inspectedValue `json:"outputs"`
	Nodes   []inspectedNode  `json:"nodes"`
}

type inspectedSpec struct {
	Inputs      int      `json:"inputs"`
	Hidden      []int    `json:"hidden"`
	Outputs     int      `json:"outputs"`
	Activation  string   `json:"activation"`
	Activations []string `json:"activations,omitempty"`
}

type inspectedValue struct {
	Name  string `json:"name"`
	Dtype string `json:"dtype"`
	Shape []int  `json:"shape"`
}

type inspectedNode struct {
	OpType     string         `json:"op_type"`
	Inputs     []string       `json:"inputs"`
	Outputs    []string       `json:"outputs"`
	Attributes map[string]any `json:"attributes,omitempty"`
}

// inspectedTensor describes one stored tensor. Group is where it is stored:
// graph.initializers, training.target, training.adam_m, training.adam_v, or for REINFORCE's
// baseline network training.baseline, training.baseline.adam_m and training.baseline.adam_v.
type inspectedTensor struct {
	Group  string `json:"group"`
	Name   string `json:"name"`
	Dtype  string `json:"dtype"`
	Shape  []int  `json:"shape"`
	Bytes  int    `json:"bytes"`
	SHA256 string `json:"sha256"` // hex
}

type inspectedTraining struct {
	EnvSteps     int64     `json:"env_steps"`
	Episodes     int64     `json:"episodes"`
	Updates      int64     `json:"updates"`
	Epsilon      jsonFloat `json:"epsilon"`
	AdamStep     int64     `json:"adam_step"`
	ReplayStored bool      `json:"replay_stored"`
	// RolloutStates counts the REINFORCE states not yet learned from that the file stores,
	// which --save-replay keeps for an exact resume.
	RolloutStates int            `json:"rollout_states,omitempty"`
	RNGBytes      map[string]int `json:"rng_bytes"` // bytes of state per random stream
}

// inspectArgs returns the FILE argument and whether --json was given. The flag parser
// stops at the first argument that is not a flag, so it would miss --json in the
// documented order "inspect FILE --json". This function also reads the flag there.
func inspectArgs(c *cli.Context) (string, bool, error) {
	asJSON := c.Bool("json")
	var files []string
	for _, a := range c.Args().Slice() {
		switch {
		case a == "--json" || a == "-json":
			asJSON = true
		case strings.HasPrefix(a, "-") && a != "-":
			return "", false, fmt.Errorf("inspect: unknown flag %s; inspect takes a checkpoint FILE and --json", a)
		default:
			files = append(files, a)
		}
	}
	if len(files) != 1 {
		return "", false, fmt.Errorf("inspect takes exactly one checkpoint FILE, got %d; run simshop-train inspect runs/RUN/checkpoints/latest.msgpack", len(files))
	}
	return files[0], asJSON, nil
}

func runInspect(c *cli.Context) error {
	path, asJSON, err := inspectArgs(c)
	if err != nil {
		return err
	}
	// LoadSummary streams past the replay buffer. A bad file gets Load's error, which eval
	// prints too.
	f, replayBytes, err := checkpoints.LoadSummary(path)
	if err != nil {
		if _, loadErr := checkpoints.Load(path); loadErr != nil {
			return loadErr
		}
		return err
	}
	if replayBytes > 0 {
		slog.Info("replay buffer not loaded", "file", path, "bytes", replayBytes)
	}
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("inspect %s: %w", path, err)
	}
	report, err := inspect(path, st.Size(), f)
	if err != nil {
		return fmt.Errorf("inspect %s: %w", path, err)
	}
	if asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(report)
	}
	printInspection(os.Stdout, report)
	return nil
}

// inspect builds the report of the checked checkpoint f, read from path of size bytes.
func inspect(path string, size int64, f *checkpoints.File) (*inspection, error) {
	m := f.Metadata
	r := &inspection{
		File: path, Bytes: size,
		Magic: f.Magic, FormatVersion: f.Version, Created: f.Created,
		Producer: inspectedProducer{Name: f.Producer.Name, Version: f.Producer.Version, Revision: f.Producer.Revision},
		Metadata: inspectedMetadata{
			Agent:    m.Agent,
			Seed:     m.Seed,
			Sessions: m.Sessions,
			Metrics:  map[string]jsonFloat{},
		},
		Graph: inspectedGraph{
			Spec:    inspectedSpec{Inputs: f.Graph.Spec.Inputs, Hidden: f.Graph.Spec.Hidden, Outputs: f.Graph.Spec.Outputs, Activation: f.Graph.Spec.Activation, Activations: f.Graph.Spec.Activations},
			Inputs:  inspectedValues(f.Graph.Inputs),
			Outputs: inspectedValues(f.Graph.Outputs),
		},
		Training: inspectedTraining{
			EnvSteps: f.Training.EnvSteps, Episodes: f.Training.Episodes, Updates: f.Training.Updates,
			Epsilon: jsonFloat(f.Training.Epsilon), AdamStep: f.Training.AdamStep, ReplayStored: f.Training.ReplayStored,
			RNGBytes: map[string]int{},
		},
	}
	if m.Agent == "slateq" {
		var enc rl.SlateQEncoding
		if err := msgpack.Unmarshal(m.Encoding, &enc); err != nil {
			return nil, fmt.Errorf("metadata.encoding of a SlateQ checkpoint is invalid (%v); train the model again", err)
		}
		sc := &inspectedScenario{Name: enc.Scenario, Candidates: enc.Candidates, Slate: enc.Slate,
			ResampleDocs: enc.Resample, RecSimQuirks: enc.Quirks, ChoiceWeights: []jsonFloat{}}
		for _, w := range enc.ChoiceWeights {
			sc.ChoiceWeights = append(sc.ChoiceWeights, jsonFloat(w))
		}
		r.Metadata.Scenario = sc
	} else {
		r.Metadata.Shop = &inspectedShop{
			Persona: m.Shop.Persona, Reward: m.Shop.Reward, SlateSize: m.Shop.SlateSize, MaxSteps: m.Shop.MaxSteps,
			ReturnProb: m.Shop.ReturnProb, Budget: m.Shop.Budget, ChoiceModel: choiceModelName(m.Shop.ChoiceModel), Drift: m.Shop.Drift,
		}
		r.Metadata.Catalog = &inspectedCatalog{Source: m.Catalog.Source, Fingerprint: m.Catalog.Fingerprint, Items: len(m.Catalog.Items)}
	}
	for k, v := range m.Metrics {
		r.Metadata.Metrics[k] = jsonFloat(v)
	}
	if len(m.AgentConfig) > 0 {
		if err := msgpack.Unmarshal(m.AgentConfig, &r.Metadata.AgentConfig); err != nil {
			return nil, fmt.Errorf("metadata.agent_config is not a msgpack map with string keys: %v", err)
		}
		r.Metadata.AgentConfig = jsonSafe(r.Metadata.AgentConfig).(map[string]any)
	}
	for _, n := range f.Graph.Nodes {
		node := inspectedNode{OpType: n.OpType, Inputs: n.Inputs, Outputs: n.Outputs}
		if n.Attributes != nil {
			node.Attributes = jsonSafe(n.Attributes).(map[string]any)
		}
		r.Graph.Nodes = append(r.Graph.Nodes, node)
	}
	groups := []struct {
		name    string
		tensors []checkpoints.Tensor
	}{
		{"graph.initializers", f.Graph.Initializers},
		{"training.target", f.Training.Target},
		{"training.adam_m", f.Training.AdamM},
		{"training.adam_v", f.Training.AdamV},
	}
	if b := f.Training.Baseline; b != nil {
		groups = append(groups, []struct {
			name    string
			tensors []checkpoints.Tensor
		}{
			{"training.baseline", b.Weights},
			{"training.baseline.adam_m", b.AdamM},
			{"training.baseline.adam_v", b.AdamV},
		}...)
	}
	if ro := f.Training.Rollouts; ro != nil {
		r.Training.RolloutStates = len(ro.Session)
	}
	for _, g := range groups {
		for _, t := range g.tensors {
			r.Tensors = append(r.Tensors, inspectedTensor{
				Group: g.name, Name: t.Name, Dtype: t.Dtype, Shape: t.Shape, Bytes: len(t.Data), SHA256: hex.EncodeToString(t.SHA256),
			})
		}
	}
	for name, state := range f.Training.RNG {
		r.Training.RNGBytes[name] = len(state)
	}
	return r, nil
}

func inspectedValues(values []checkpoints.ValueInfo) []inspectedValue {
	out := make([]inspectedValue, len(values))
	for i, v := range values {
		out[i] = inspectedValue{Name: v.Name, Dtype: v.Dtype, Shape: v.Shape}
	}
	return out
}

// jsonFloat is a float64 that encodes NaN and infinities, which JSON lacks, as the strings
// "NaN", "+Inf" and "-Inf", so that a damaged value is shown rather than failing the report.
type jsonFloat float64

func (f jsonFloat) MarshalJSON() ([]byte, error) {
	v := float64(f)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return json.Marshal(strconv.FormatFloat(v, 'g', -1, 64))
	}
	return json.Marshal(v)
}

// jsonSafe returns v, a value decoded from msgpack, with every float replaced by a
// jsonFloat, so that encoding/json accepts it.
func jsonSafe(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = jsonSafe(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = jsonSafe(e)
		}
		return out
	case float64:
		return jsonFloat(x)
	case float32:
		return jsonFloat(x)
	}
	return v
}

// hashPrefix is the number of hex digits of a SHA-256 that the text report shows.
const hashPrefix = 16

// printInspection writes the report as aligned sections.
func printInspection(w io.Writer, r *inspection) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	p := r.Producer
	revision := p.Revision
	if revision == "" {
		revision = "unknown"
	}
	fmt.Fprintf(tw, "file\t%s (%d bytes)\n", r.File, r.Bytes)
	fmt.Fprintf(tw, "magic\t%s\n", r.Magic)
	fmt.Fprintf(tw, "format version\t%d\n", r.FormatVersion)
	fmt.Fprintf(tw, "producer\t%s %s, revision %s\n", p.Name, p.Version, revision)
	fmt.Fprintf(tw, "created\t%s\n", r.Created)

	m := r.Metadata
	fmt.Fprintln(tw, "\nmetadata")
	fmt.Fprintf(tw, "  agent\t%s\n", m.Agent)
	if len(m.AgentConfig) > 0 {
		fmt.Fprintf(tw, "  agent config\t%s\n", formatMap(m.AgentConfig))
	}
	if sc := m.Scenario; sc != nil {
		fmt.Fprintf(tw, "  scenario\t%s, %d candidates, slate size %d, resample documents %v, RecSim quirks %v\n",
			sc.Name, sc.Candidates, sc.Slate, sc.ResampleDocs, sc.RecSimQuirks)
		weights := make([]string, len(sc.ChoiceWeights))
		for i, w := range sc.ChoiceWeights {
			weights[i] = strconv.FormatFloat(float64(w), 'g', 4, 64)
		}
		fmt.Fprintf(tw, "  choice model\t%d weights [%s]\n", len(weights), strings.Join(weights, " "))
	}
	if m.Shop != nil {
		fmt.Fprintf(tw, "  shop\tpersona %s, reward %s, slate size %d, at most %d slates per session\n",
			m.Shop.Persona, m.Shop.Reward, m.Shop.SlateSize, m.Shop.MaxSteps)
		fmt.Fprintf(tw, "  \tchoice model %s, return probability %g, drift %s\n",
			m.Shop.ChoiceModel, m.Shop.ReturnProb, orNone(m.Shop.Drift))
		if m.Shop.Budget > 0 {
			fmt.Fprintf(tw, "  \tbudget of every shopper %g median prices\n", m.Shop.Budget)
		}
	}
	if m.Catalog != nil {
		fmt.Fprintf(tw, "  catalog\t%q, %d items, fingerprint %s\n", m.Catalog.Source, m.Catalog.Items, m.Catalog.Fingerprint)
	}
	fmt.Fprintf(tw, "  seed\t%d\n", m.Seed)
	fmt.Fprintf(tw, "  sessions\t%d\n", m.Sessions)
	if len(m.Metrics) == 0 {
		fmt.Fprintf(tw, "  metrics\tnone (saved before the final evaluation)\n")
	}
	for _, k := range sortedKeys(m.Metrics) {
		fmt.Fprintf(tw, "  metric %s\t%.6g\n", k, float64(m.Metrics[k]))
	}

	g := r.Graph
	fmt.Fprintln(tw, "\ngraph")
	fmt.Fprintf(tw, "  spec\tinputs %d, hidden %v, outputs %d, activation %s\n", g.Spec.Inputs, g.Spec.Hidden, g.Spec.Outputs, activationsOf(nn.Spec{Activation: g.Spec.Activation, Activations: g.Spec.Activations}))
	for _, v := range g.Inputs {
		fmt.Fprintf(tw, "  input\t%s %s %v\n", v.Name, v.Dtype, v.Shape)
	}
	for _, v := range g.Outputs {
		fmt.Fprintf(tw, "  output\t%s %s %v\n", v.Name, v.Dtype, v.Shape)
	}
	for i, n := range g.Nodes {
		attrs := ""
		if len(n.Attributes) > 0 {
			attrs = " " + formatMap(n.Attributes)
		}
		fmt.Fprintf(tw, "  node %d\t%s(%s) -> %s%s\n", i, n.OpType, strings.Join(n.Inputs, ", "), strings.Join(n.Outputs, ", "), attrs)
	}
	tw.Flush()

	fmt.Fprintln(w, "\ntensors")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  group\tname\tdtype\tshape\tbytes\tsha256")
	for _, t := range r.Tensors {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%v\t%d\t%s\n", t.Group, t.Name, t.Dtype, t.Shape, t.Bytes, t.SHA256[:min(hashPrefix, len(t.SHA256))])
	}
	tw.Flush()

	tr := r.Training
	fmt.Fprintln(w, "\ntraining")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  env steps\t%d\n", tr.EnvSteps)
	fmt.Fprintf(tw, "  episodes\t%d\n", tr.Episodes)
	fmt.Fprintf(tw, "  updates\t%d\n", tr.Updates)
	fmt.Fprintf(tw, "  epsilon\t%.6g\n", float64(tr.Epsilon))
	fmt.Fprintf(tw, "  adam step\t%d\n", tr.AdamStep)
	switch {
	case tr.ReplayStored:
		fmt.Fprintf(tw, "  replay buffer\tstored\n")
	case tr.RolloutStates > 0:
		fmt.Fprintf(tw, "  rollouts\t%d states not yet learned from, stored\n", tr.RolloutStates)
	case r.Metadata.Agent == "slateq":
		fmt.Fprintf(tw, "  replay buffer\tnot stored; a SlateQ checkpoint cannot resume training\n")
	case r.Metadata.Agent == "reinforce":
		fmt.Fprintf(tw, "  rollouts\tnot stored; a resumed run collects new ones before its next update\n")
	default:
		fmt.Fprintf(tw, "  replay buffer\tnot stored; a resumed run refills it before its next update\n")
	}
	for _, name := range sortedKeys(tr.RNGBytes) {
		fmt.Fprintf(tw, "  random stream %s\t%d bytes of state\n", name, tr.RNGBytes[name])
	}
	tw.Flush()
}

// formatMap formats m as "k1 v1, k2 v2" in key order.
func formatMap[V any](m map[string]V) string {
	parts := make([]string, 0, len(m))
	for _, k := range sortedKeys(m) {
		parts = append(parts, fmt.Sprintf("%s %v", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// choiceModelName returns the choice model of a checkpoint, which leaves the default out.
func choiceModelName(name string) string {
	if name == "" {
		return simenv.ChoiceMNL
	}
	return name
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// activationsOf names the hidden layers' activations of spec: one name when they share it,
// else the list, such as "tanh, relu".
func activationsOf(spec nn.Spec) string {
	if len(spec.Activations) > 0 {
		return strings.Join(spec.Activations, ", ")
	}
	return spec.Activation
}
