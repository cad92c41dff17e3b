package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"

	"github.com/advancedclimatesystems/gonnx/onnx"
	"github.com/urfave/cli/v2"
	"github.com/vmihailenco/msgpack/v5"
	"google.golang.org/protobuf/proto"

	"github.com/simshop/simshop/checkpoints"
)

// exportFormats lists the values of export --format.
var exportFormats = []string{"onnx"}

// ONNX versions of the exported model. Opset 13 defines Gemm, Relu and Tanh as the
// checkpoint format uses them. ONNX 1.8 introduced opset 13 together with IR version 7, so
// every runtime that implements opset 13 reads IR version 7.
const (
	onnxOpset     = 13
	onnxIRVersion = 7
)

// batchDim is the symbolic name of the batch dimension of the exported input and output.
const batchDim = "batch"

func exportCommand() *cli.Command {
	return &cli.Command{
		Name:  "export",
		Usage: "write the network of a checkpoint in another format, for inference outside SimShop",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "format", Usage: "output format: " + strings.Join(exportFormats, ", "), Value: "onnx"},
			&cli.StringFlag{Name: "model", Usage: "checkpoint `FILE` to export, required"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "`FILE` to write, required; it is replaced atomically"},
		},
		Action: runExport,
	}
}

func runExport(c *cli.Context) error {
	if err := noArguments(c); err != nil {
		return err
	}
	format := c.String("format")
	if !slices.Contains(exportFormats, format) {
		return fmt.Errorf("--format %q is not supported; use one of: %s", format, strings.Join(exportFormats, ", "))
	}
	path := c.String("model")
	if path == "" {
		return fmt.Errorf("--model FILE is required: the checkpoint to export, such as --model runs/cheap_blue/checkpoints/latest.msgpack")
	}
	out := c.String("output")
	if out == "" {
		return fmt.Errorf("-o FILE is required: where to write the model, such as -o model.onnx")
	}
	if err := checkExportTarget(path, out); err != nil {
		return err
	}

	f, err := checkpoints.Load(path)
	if err != nil {
		return err
	}
	m, err := onnxModel(f, path)
	if err != nil {
		return fmt.Errorf("export %s: %w", path, err)
	}
	data, err := proto.Marshal(m)
	if err != nil {
		return fmt.Errorf("export %s: encode the ONNX model: %w", path, err)
	}
	if err := writeFileAtomic(out, data); err != nil {
		return err
	}
	fmt.Fprintf(os.Stdout, "wrote %s (%s, opset %d, %d bytes) from %s\n", out, format, onnxOpset, len(data), path)
	return nil
}

// checkExportTarget rejects an output path that would replace the checkpoint being
// exported, or any other SimShop checkpoint, or that names a folder.
func checkExportTarget(model, out string) error {
	outInfo, err := os.Stat(out)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("-o %s: %w", out, err)
	}
	if outInfo.IsDir() {
		return fmt.Errorf("-o %s is a folder; give a file name such as %s", out, filepath.Join(out, "model.onnx"))
	}
	if modelInfo, err := os.Stat(model); err == nil && os.SameFile(modelInfo, outInfo) {
		return fmt.Errorf("-o %s is the checkpoint given to --model; choose another file name, such as model.onnx", out)
	}
	if isCheckpoint(out) {
		return fmt.Errorf("-o %s is a SimShop checkpoint, which the export would replace; choose another file name, such as model.onnx", out)
	}
	return nil
}

// isCheckpoint reports whether the file at path starts like a SimShop checkpoint: its
// magic string is among the first bytes, where the writer puts the header fields.
func isCheckpoint(path string) bool {
	fh, err := os.Open(path)
	if err != nil {
		return false
	}
	defer fh.Close()
	head := make([]byte, 64)
	n, _ := io.ReadFull(fh, head)
	return bytes.Contains(head[:n], []byte(checkpoints.Magic))
}

// onnxModel converts the graph of f, read from path, to an ONNX model. It relies on
// checkpoints.Load having checked the graph, so every node is a Gemm, Relu or Tanh and
// every initializer is an intact float32 tensor.
func onnxModel(f *checkpoints.File, path string) (*onnx.ModelProto, error) {
	g := f.Graph
	graph := &onnx.GraphProto{
		Name:      "simshop_" + f.Metadata.Agent,
		DocString: fmt.Sprintf("Network %v (%s) of the SimShop checkpoint %s. %s", g.Spec.Widths(), activationsOf(g.Spec), filepath.Base(path), rowMeaning(f.Metadata.Agent)),
	}
	for _, v := range g.Inputs {
		graph.Input = append(graph.Input, onnxValueInfo(v))
	}
	for _, v := range g.Outputs {
		graph.Output = append(graph.Output, onnxValueInfo(v))
	}
	for _, t := range g.Initializers {
		if t.Dtype != "float32" {
			return nil, fmt.Errorf("tensor %q has dtype %q; ONNX export supports only float32", t.Name, t.Dtype)
		}
		dims := make([]int64, len(t.Shape))
		for i, d := range t.Shape {
			dims[i] = int64(d)
		}
		// Both formats store float32 values as little-endian IEEE 754 bytes, row-major.
		graph.Initializer = append(graph.Initializer, &onnx.TensorProto{
			Name: t.Name, Dims: dims, DataType: int32(onnx.TensorProto_FLOAT), RawData: bytes.Clone(t.Data),
		})
	}
	for i, n := range g.Nodes {
		node, err := onnxNode(n)
		if err != nil {
			return nil, fmt.Errorf("graph.nodes[%d]: %w", i, err)
		}
		node.Name = fmt.Sprintf("node%d_%s", i, strings.ToLower(n.OpType))
		graph.Node = append(graph.Node, node)
	}

	props, err := modelProperties(f, path)
	if err != nil {
		return nil, err
	}
	producer := checkpoints.NewProducer()
	return &onnx.ModelProto{
		IrVersion:       onnxIRVersion,
		OpsetImport:     []*onnx.OperatorSetIdProto{{Domain: "", Version: onnxOpset}},
		ProducerName:    producer.Name,
		ProducerVersion: producer.Version,
		Domain:          "org.simshop",
		ModelVersion:    1,
		DocString: fmt.Sprintf("SimShop %s recommender exported from the checkpoint %s (created %s, %d shopper-steps of training). "+
			"The feature encoding that builds its input rows is in that checkpoint.", f.Metadata.Agent, filepath.Base(path), f.Created, f.Training.EnvSteps),
		Graph:         graph,
		MetadataProps: props,
	}, nil
}

// rowMeaning returns the description of an input row and of the output q of the agent's
// network.
func rowMeaning(agent string) string {
	const shopRows = "Each input row holds the features of one (session, item) pair, encoded as SimShop's rl.Encoding does with the statistics " +
		"in that checkpoint's metadata.encoding, which the model property simshop.encoding repeats. "
	switch agent {
	case "reinforce":
		return shopRows + "The output q is the policy's logit of the item; the policy is the softmax of the logits over the items the shop can show."
	case "slateq":
		return "Each input row holds a user state of RecSim's interest-evolution scenario (the 20 interests, then with the agent config's " +
			"history the 3 response sums of SimShop's rl/slateq.go), a one-hot of a document's cluster (20 values), and a flag that is 1, " +
			"with no cluster set, for the no-click item. The output q is Q(s, i), the value of the user consuming that item. The checkpoint's " +
			"metadata.encoding, repeated as the model property simshop.encoding, holds the scenario and the learned choice model."
	}
	return shopRows + "The output q is the row's estimated value: the discounted return of showing the item now."
}

// onnxValueInfo converts a graph input or output to an ONNX float32 tensor, naming the
// dimension -1 batchDim.
func onnxValueInfo(v checkpoints.ValueInfo) *onnx.ValueInfoProto {
	shape := &onnx.TensorShapeProto{}
	for _, d := range v.Shape {
		dim := &onnx.TensorShapeProto_Dimension{Value: &onnx.TensorShapeProto_Dimension_DimValue{DimValue: int64(d)}}
		if d < 0 {
			dim = &onnx.TensorShapeProto_Dimension{Value: &onnx.TensorShapeProto_Dimension_DimParam{DimParam: batchDim}}
		}
		shape.Dim = append(shape.Dim, dim)
	}
	return &onnx.ValueInfoProto{
		Name: v.Name,
		Type: &onnx.TypeProto{Value: &onnx.TypeProto_TensorType{TensorType: &onnx.TypeProto_Tensor{
			ElemType: int32(onnx.TensorProto_FLOAT), Shape: shape,
		}}},
	}
}

// gemmAttributes are the attributes of a checkpoint Gemm node and their ONNX types.
var gemmAttributes = map[string]onnx.AttributeProto_AttributeType{
	"alpha":  onnx.AttributeProto_FLOAT,
	"beta":   onnx.AttributeProto_FLOAT,
	"transA": onnx.AttributeProto_INT,
	"transB": onnx.AttributeProto_INT,
}

// onnxNode converts one checkpoint node. Attributes are written in name order, so that
// the same checkpoint always gives the same bytes.
func onnxNode(n checkpoints.Node) (*onnx.NodeProto, error) {
	switch n.OpType {
	case "Gemm", "Relu", "Tanh":
	default:
		return nil, fmt.Errorf("operator %q has no ONNX export; SimShop writes only Gemm, Relu and Tanh", n.OpType)
	}
	node := &onnx.NodeProto{OpType: n.OpType, Input: slices.Clone(n.Inputs), Output: slices.Clone(n.Outputs)}
	names := make([]string, 0, len(n.Attributes))
	for name := range n.Attributes {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		kind, ok := gemmAttributes[name]
		if n.OpType != "Gemm" || !ok {
			return nil, fmt.Errorf("%s has the unknown attribute %q", n.OpType, name)
		}
		value, ok := attributeNumber(n.Attributes[name])
		if !ok {
			return nil, fmt.Errorf("%s attribute %q is %v, not a number", n.OpType, name, n.Attributes[name])
		}
		attr := &onnx.AttributeProto{Name: name, Type: kind}
		if kind == onnx.AttributeProto_FLOAT {
			attr.F = float32(value)
		} else {
			attr.I = int64(value)
		}
		node.Attribute = append(node.Attribute, attr)
	}
	return node, nil
}

// attributeNumber converts a decoded msgpack number of any integer or float type to
// float64.
func attributeNumber(v any) (float64, bool) {
	r := reflect.ValueOf(v)
	switch {
	case !r.IsValid():
		return 0, false
	case r.CanInt():
		return float64(r.Int()), true
	case r.CanUint():
		return float64(r.Uint()), true
	case r.CanFloat():
		return r.Float(), true
	}
	return 0, false
}

// modelProperties returns the ONNX metadata_props of the model: where it comes from and the
// feature encoding as JSON, so that a reader of the ONNX file alone can build input rows
// with a port of SimShop's feature code.
func modelProperties(f *checkpoints.File, path string) ([]*onnx.StringStringEntryProto, error) {
	m := f.Metadata
	props := []*onnx.StringStringEntryProto{
		{Key: "simshop.checkpoint", Value: filepath.Base(path)},
		{Key: "simshop.checkpoint_created", Value: f.Created},
		{Key: "simshop.agent", Value: m.Agent},
	}
	if m.Agent != "slateq" { // SlateQ runs on RecSim's scenario, which has no persona or catalog
		props = append(props, []*onnx.StringStringEntryProto{
			{Key: "simshop.persona", Value: m.Shop.Persona},
			{Key: "simshop.catalog_source", Value: m.Catalog.Source},
			{Key: "simshop.catalog_fingerprint", Value: m.Catalog.Fingerprint},
		}...)
	}
	if len(m.Encoding) > 0 {
		var encoding map[string]any
		if err := msgpack.Unmarshal(m.Encoding, &encoding); err != nil {
			return nil, fmt.Errorf("metadata.encoding is not a msgpack map: %v", err)
		}
		text, err := json.Marshal(encoding)
		if err != nil {
			return nil, fmt.Errorf("metadata.encoding cannot be written as JSON: %v", err)
		}
		props = append(props, &onnx.StringStringEntryProto{Key: "simshop.encoding", Value: string(text)})
	}
	return props, nil
}

// writeFileAtomic writes data to path through a temporary file in the same folder, which
// it syncs and renames over path. A failed write thus leaves path as it was.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return fmt.Errorf("cannot write %s: the folder %s does not exist; create it first", path, dir)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once the rename has happened
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("set permissions of %s: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("sync %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("rename %s to %s: %w", tmp.Name(), path, err)
	}
	return nil
}
