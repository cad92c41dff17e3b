package main

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/advancedclimatesystems/gonnx"
	"github.com/advancedclimatesystems/gonnx/onnx"
	"google.golang.org/protobuf/proto"
	"gorgonia.org/tensor"

	"github.com/simshop/simshop/checkpoints"
	"github.com/simshop/simshop/nn"
	"github.com/simshop/simshop/rl"
)

// exportCase is a checkpoint to export and the network that its graph computes.
type exportCase struct {
	name   string
	path   string
	params *nn.Params[float32]
}

// exportCases returns a DQN trained by the binary and a two-layer tanh network with 3
// outputs saved with checkpoints.Save, each with the network loaded back from its file.
func exportCases(t *testing.T) []exportCase {
	t.Helper()
	dir := t.TempDir()
	out := filepath.Join(dir, "run")
	trainTiny(t, out)
	f, err := checkpoints.Load(checkpointPath(out))
	if err != nil {
		t.Fatal(err)
	}
	agent, _, err := rl.LoadDQN(f, nil)
	if err != nil {
		t.Fatal(err)
	}

	spec := nn.Spec{Inputs: 6, Hidden: []int{5, 4}, Outputs: 3, Activation: "tanh"}
	tanh, err := nn.NewParams[float32](spec, rand.New(rand.NewPCG(4, 4)))
	if err != nil {
		t.Fatal(err)
	}
	for l := 1; l < len(tanh.Tensors); l += 2 { // distinct biases, so that a dropped bias shows
		for i := range tanh.Tensors[l].Data {
			tanh.Tensors[l].Data[i] = 0.05 * float32(i+l)
		}
	}
	tanhFile := &checkpoints.File{Graph: checkpoints.GraphOf(tanh)}
	tanhFile.Stamp(time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC))
	tanhPath := filepath.Join(dir, "tanh.msgpack")
	if err := checkpoints.Save(tanhPath, tanhFile); err != nil {
		t.Fatal(err)
	}
	return []exportCase{
		{"trained dqn", checkpointPath(out), agent.Online},
		{"tanh mlp", tanhPath, tanh},
	}
}

// exportONNX exports model with the binary and returns the path of the ONNX file.
func exportONNX(t *testing.T, model string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "model.onnx")
	r := mustExecute(t, "export", "--format", "onnx", "--model", model, "-o", path)
	if !strings.Contains(r.stdout, path) {
		t.Errorf("stdout = %q; want it to name %s", r.stdout, path)
	}
	return path
}

// inputRows returns rows×width features in [-2, 2], exact in float32 and in JSON.
func inputRows(rows, width int) [][]float32 {
	out := make([][]float32, rows)
	for r := range out {
		out[r] = make([]float32, width)
		for c := range out[r] {
			out[r][c] = float32((r*7+c*3)%33-16) / 8
		}
	}
	return out
}

// goForward computes p's outputs for rows with the Go network, row-major.
func goForward(t *testing.T, p *nn.Params[float32], rows [][]float32) []float32 {
	t.Helper()
	f, err := nn.NewForward(p, len(rows))
	if err != nil {
		t.Fatal(err)
	}
	for r, row := range rows {
		copy(f.Input()[r*p.Spec.Inputs:], row)
	}
	out, err := f.Run()
	if err != nil {
		t.Fatal(err)
	}
	return slices.Clone(out)
}

// checkClose reports every value of got that differs from want by more than 1e-5
// relative, or absolute below 1.
func checkClose(t *testing.T, who string, got []float64, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s returned %d values; want %d", who, len(got), len(want))
	}
	for i, v := range got {
		w := float64(want[i])
		if math.Abs(v-w) > 1e-5*math.Max(1, math.Abs(w)) {
			t.Errorf("%s: value %d = %.8g; the Go network computes %.8g", who, i, v, w)
		}
	}
}

func TestExportONNXHeader(t *testing.T) {
	for _, c := range exportCases(t) {
		t.Run(c.name, func(t *testing.T) {
			data, err := os.ReadFile(exportONNX(t, c.path))
			if err != nil {
				t.Fatal(err)
			}
			var m onnx.ModelProto
			if err := proto.Unmarshal(data, &m); err != nil {
				t.Fatalf("decode the ONNX protobuf: %v", err)
			}
			if m.IrVersion != 7 {
				t.Errorf("ir_version = %d; want 7", m.IrVersion)
			}
			if len(m.OpsetImport) != 1 || m.OpsetImport[0].Domain != "" || m.OpsetImport[0].Version != 13 {
				t.Errorf("opset_import = %v; want the default domain at version 13", m.OpsetImport)
			}
			if m.ProducerName != "simshop" || m.ProducerVersion == "" {
				t.Errorf("producer = %q %q; want simshop and a version", m.ProducerName, m.ProducerVersion)
			}
			if !strings.Contains(m.DocString, filepath.Base(c.path)) || !strings.Contains(m.Graph.DocString, "metadata.encoding") {
				t.Errorf("doc strings do not name the checkpoint %s and its encoding:\n%s\n%s", filepath.Base(c.path), m.DocString, m.Graph.DocString)
			}

			// features [batch, inputs] -> q [batch, outputs], both float32.
			for _, v := range []struct {
				info  []*onnx.ValueInfoProto
				name  string
				width int
			}{{m.Graph.Input, "features", c.params.Spec.Inputs}, {m.Graph.Output, "q", c.params.Spec.Outputs}} {
				if len(v.info) != 1 || v.info[0].Name != v.name {
					t.Fatalf("graph values %v; want one named %s", v.info, v.name)
				}
				tt := v.info[0].Type.GetTensorType()
				dims := tt.GetShape().GetDim()
				if tt.ElemType != int32(onnx.TensorProto_FLOAT) || len(dims) != 2 || dims[0].GetDimParam() != "batch" || dims[1].GetDimValue() != int64(v.width) {
					t.Errorf("%s has type %v; want float32 [batch, %d]", v.name, tt, v.width)
				}
			}
			var ops []string
			for _, n := range m.Graph.Node {
				ops = append(ops, n.OpType)
			}
			want := []string{"Gemm", "Relu", "Gemm"}
			if c.params.Spec.Activation == "tanh" {
				want = []string{"Gemm", "Tanh", "Gemm", "Tanh", "Gemm"}
			}
			if !slices.Equal(ops, want) {
				t.Errorf("nodes = %v; want %v", ops, want)
			}
			if len(m.Graph.Initializer) != len(c.params.Tensors) {
				t.Errorf("%d initializers; want %d", len(m.Graph.Initializer), len(c.params.Tensors))
			}
		})
	}
}

func TestExportONNXMatchesGo(t *testing.T) {
	for _, c := range exportCases(t) {
		t.Run(c.name, func(t *testing.T) {
			model, err := gonnx.NewModelFromFile(exportONNX(t, c.path))
			if err != nil {
				t.Fatalf("gonnx cannot load the exported model: %v", err)
			}
			// Two batch sizes, because the batch dimension is symbolic.
			for _, rows := range []int{1, 5} {
				in := inputRows(rows, c.params.Spec.Inputs)
				flat := slices.Concat(in...)
				outputs, err := model.Run(gonnx.Tensors{
					"features": tensor.New(tensor.WithShape(rows, c.params.Spec.Inputs), tensor.WithBacking(flat)),
				})
				if err != nil {
					t.Fatalf("gonnx run on %d rows: %v", rows, err)
				}
				q, ok := outputs["q"]
				if !ok {
					t.Fatalf("gonnx outputs %v lack q", outputs)
				}
				if shape := q.Shape(); len(shape) != 2 || shape[0] != rows || shape[1] != c.params.Spec.Outputs {
					t.Errorf("q has shape %v; want [%d %d]", shape, rows, c.params.Spec.Outputs)
				}
				values, ok := q.Data().([]float32)
				if !ok {
					t.Fatalf("q holds %T; want []float32", q.Data())
				}
				got := make([]float64, len(values))
				for i, v := range values {
					got[i] = float64(v)
				}
				checkClose(t, "gonnx", got, goForward(t, c.params, in))
			}
		})
	}
}

// onnxChecker is the script that checks an exported model with Debian's python3-onnx.
var onnxChecker = filepath.Join("..", "..", "docs", "check_onnx.py")

// requirePythonONNX skips the test unless /usr/bin/python3 can import onnx and numpy.
func requirePythonONNX(t *testing.T) {
	t.Helper()
	const python = "/usr/bin/python3"
	if _, err := os.Stat(python); err != nil {
		t.Skipf("%s not found; install it with apt-get install -y python3-onnx to check exported models with the onnx package", python)
	}
	if out, err := exec.Command(python, "-c", "import onnx, numpy").CombinedOutput(); err != nil {
		t.Skipf("%s cannot import onnx and numpy (%v: %s); install them with apt-get install -y python3-onnx", python, err, bytes.TrimSpace(out))
	}
}

// checkerReport is the part of check_onnx.py --json output that the test reads.
type checkerReport struct {
	IRVersion int64 `json:"ir_version"`
	Inputs    []struct {
		Name  string `json:"name"`
		Shape []any  `json:"shape"`
	} `json:"inputs"`
	Evaluator string                 `json:"evaluator"`
	Outputs   map[string][][]float64 `json:"outputs_values"`
}

func TestExportONNXPythonCheck(t *testing.T) {
	requirePythonONNX(t)
	for _, c := range exportCases(t) {
		t.Run(c.name, func(t *testing.T) {
			path := exportONNX(t, c.path)
			rows := inputRows(4, c.params.Spec.Inputs)
			input, err := json.Marshal(rows)
			if err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command("/usr/bin/python3", onnxChecker, path, "--input", string(input), "--json")
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("check_onnx.py rejects the exported model: %v\n%s", err, stderr.String())
			}
			var report checkerReport
			if err := json.Unmarshal(stdout.Bytes(), &report); err != nil {
				t.Fatalf("decode check_onnx.py output: %v\n%s", err, stdout.String())
			}
			t.Logf("onnx evaluated the model with %s", report.Evaluator)

			if report.IRVersion != 7 {
				t.Errorf("onnx reads ir_version %d; want 7", report.IRVersion)
			}
			if len(report.Inputs) != 1 || len(report.Inputs[0].Shape) != 2 || report.Inputs[0].Shape[0] != "batch" {
				t.Errorf("onnx reads inputs %+v; want features [batch, %d]", report.Inputs, c.params.Spec.Inputs)
			}
			q := report.Outputs["q"]
			if len(q) != len(rows) {
				t.Fatalf("onnx returned %d rows of q; want %d", len(q), len(rows))
			}
			checkClose(t, "python onnx ("+report.Evaluator+")", slices.Concat(q...), goForward(t, c.params, rows))
		})
	}
}

func TestExportONNXPythonRejectsDamage(t *testing.T) {
	// The checker must be able to fail: a model whose Gemm reads a missing weight is invalid.
	requirePythonONNX(t)
	out := filepath.Join(t.TempDir(), "run")
	trainTiny(t, out)
	data, err := os.ReadFile(exportONNX(t, checkpointPath(out)))
	if err != nil {
		t.Fatal(err)
	}
	var m onnx.ModelProto
	if err := proto.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	m.Graph.Node[0].Input[1] = "layer9/weight"
	damaged, err := proto.Marshal(&m)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "damaged.onnx")
	writeFile(t, path, damaged)

	cmd := exec.Command("/usr/bin/python3", onnxChecker, path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err == nil {
		t.Fatal("check_onnx.py accepts a Gemm that reads a missing weight")
	}
	if !strings.Contains(stderr.String(), "not a valid ONNX model") || !strings.Contains(stderr.String(), path) {
		t.Errorf("stderr = %q; want it to name %s as not a valid ONNX model", stderr.String(), path)
	}
}

func TestExportRejectsBadInput(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "run")
	trainTiny(t, out)
	model := checkpointPath(out)
	modelBytes, err := os.ReadFile(model)
	if err != nil {
		t.Fatal(err)
	}
	corrupt := filepath.Join(dir, "corrupt.msgpack")
	corruptWeight(t, model, corrupt)
	other := filepath.Join(dir, "other.msgpack")
	writeFile(t, other, modelBytes)

	// An earlier export that a failed export must leave as it was.
	earlier := filepath.Join(dir, "earlier.onnx")
	earlierBytes := []byte("an earlier export")
	writeFile(t, earlier, earlierBytes)

	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"unknown format", []string{"--format", "tflite", "--model", model, "-o", earlier}, []string{`--format "tflite" is not supported; use one of: onnx`}},
		{"no model", []string{"-o", earlier}, []string{"--model FILE is required"}},
		{"no output", []string{"--model", model}, []string{"-o FILE is required"}},
		{"missing model", []string{"--model", filepath.Join(dir, "missing.msgpack"), "-o", earlier}, []string{filepath.Join(dir, "missing.msgpack"), "no such file"}},
		{"corrupt model", []string{"--model", corrupt, "--output", earlier}, []string{corrupt, "SHA-256"}},
		{"output is the model", []string{"--model", model, "-o", model}, []string{model, "is the checkpoint given to --model"}},
		{"output is a checkpoint", []string{"--model", model, "-o", other}, []string{other, "is a SimShop checkpoint"}},
		{"output is a folder", []string{"--model", model, "-o", dir}, []string{dir, "is a folder"}},
		{"output folder missing", []string{"--model", model, "-o", filepath.Join(dir, "nowhere", "m.onnx")}, []string{filepath.Join(dir, "nowhere"), "does not exist"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := execute(t, append([]string{"export"}, c.args...)...)
			if r.code == 0 {
				t.Fatal("exit code 0; want an error")
			}
			for _, w := range c.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr = %q; want it to contain %q", r.stderr, w)
				}
			}
			if strings.Contains(r.stderr, "panic") {
				t.Errorf("export panicked:\n%s", r.stderr)
			}
		})
	}

	// Nothing saved before is lost, and no temporary file is left behind.
	for _, f := range []struct {
		path string
		data []byte
	}{{model, modelBytes}, {other, modelBytes}, {earlier, earlierBytes}} {
		if got, err := os.ReadFile(f.path); err != nil || !bytes.Equal(got, f.data) {
			t.Errorf("%s changed after the failed exports (err %v)", f.path, err)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") || strings.HasSuffix(e.Name(), ".onnx") && e.Name() != "earlier.onnx" {
			t.Errorf("the failed exports left %s in %s", e.Name(), dir)
		}
	}
}

func TestExportReplacesEarlierExport(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "run")
	trainTiny(t, out)
	path := filepath.Join(dir, "model.onnx")
	writeFile(t, path, []byte("an earlier export"))

	mustExecute(t, "export", "--model", checkpointPath(out), "-o", path)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m onnx.ModelProto
	if err := proto.Unmarshal(data, &m); err != nil || m.Graph == nil {
		t.Fatalf("%s is not the new ONNX model after the export (err %v)", path, err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o644 {
		t.Errorf("%s has mode %v; want 0644", path, st.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("%s contains %d entries; want the run folder and model.onnx only", dir, len(entries))
	}
}

// TestExportDescribesEachAgent exports a REINFORCE and a SlateQ checkpoint and checks that
// the graph's doc string says what their rows and outputs are, and that the SlateQ model
// carries no empty shop properties.
func TestExportDescribesEachAgent(t *testing.T) {
	dir := t.TempDir()
	reinforce := filepath.Join(dir, "rf")
	mustExecute(t, append([]string{"train", "--out", reinforce, "--persona", "cheap_blue", "--items", "20"}, tinyReinforce...)...)
	slateQ := filepath.Join(dir, "iev")
	mustExecute(t, "train", "--scenario", "recsim-iev", "--out", slateQ, "--steps", "64", "--envs", "4",
		"--eval-episodes", "2", "--hidden", "8", "--candidates", "4")

	for _, c := range []struct {
		run, want, wrong string
		props            []string
	}{
		{reinforce, "The output q is the policy's logit of the item", "estimated value",
			[]string{"simshop.checkpoint", "simshop.checkpoint_created", "simshop.agent", "simshop.persona", "simshop.catalog_source", "simshop.catalog_fingerprint", "simshop.encoding"}},
		{slateQ, "a one-hot of a document's cluster", "(session, item) pair",
			[]string{"simshop.checkpoint", "simshop.checkpoint_created", "simshop.agent", "simshop.encoding"}},
	} {
		data, err := os.ReadFile(exportONNX(t, checkpointPath(c.run)))
		if err != nil {
			t.Fatal(err)
		}
		var m onnx.ModelProto
		if err := proto.Unmarshal(data, &m); err != nil {
			t.Fatalf("decode the ONNX protobuf: %v", err)
		}
		if !strings.Contains(m.Graph.DocString, c.want) || strings.Contains(m.Graph.DocString, c.wrong) {
			t.Errorf("%s: graph doc string %q; want %q and not %q", c.run, m.Graph.DocString, c.want, c.wrong)
		}
		var keys []string
		for _, p := range m.MetadataProps {
			keys = append(keys, p.Key)
		}
		if !slices.Equal(keys, c.props) {
			t.Errorf("%s: model properties %v; want %v", c.run, keys, c.props)
		}
	}
}
