package checkpoints_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/simshop/simshop/checkpoints"
	"github.com/simshop/simshop/nn"
)

// python is the interpreter the example reader is written for: Debian's, with the
// python3-msgpack and python3-numpy packages.
const python = "/usr/bin/python3"

// readerScript is the example reader documented in docs/checkpoint-format.md.
var readerScript = filepath.Join("..", "docs", "read_checkpoint.py")

// requirePython skips the test unless python has the modules the reader imports.
func requirePython(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(python); err != nil {
		t.Skipf("%s not found; install it with apt-get install -y python3-msgpack python3-numpy to test the Python reader", python)
	}
	if out, err := exec.Command(python, "-c", "import msgpack, numpy").CombinedOutput(); err != nil {
		t.Skipf("%s cannot import msgpack and numpy (%v: %s); install them with apt-get install -y python3-msgpack python3-numpy",
			python, err, bytes.TrimSpace(out))
	}
}

// readerOutput is the part of the reader's --json output that the test checks.
type readerOutput struct {
	FormatVersion int `json:"format_version"`
	Catalog       struct {
		Items int `json:"items"`
	} `json:"catalog"`
	Graph struct {
		Nodes []string `json:"nodes"`
	} `json:"graph"`
	Tensors []struct {
		Group  string `json:"group"`
		Name   string `json:"name"`
		Bytes  int    `json:"bytes"`
		SHA256 string `json:"sha256"`
	} `json:"tensors"`
	Training struct {
		EnvSteps int64 `json:"env_steps"`
	} `json:"training"`
	Outputs map[string][][]float64 `json:"outputs"`
}

// runReader runs the reader on path with the given input rows and --json.
func runReader(t *testing.T, path string, rows [][]float32) (readerOutput, error) {
	t.Helper()
	input, err := json.Marshal(rows)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(python, readerScript, path, "--input", string(input), "--json")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return readerOutput{}, &readerError{err: err, stderr: stderr.String()}
	}
	var out readerOutput
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		t.Fatalf("decode the reader's JSON: %v\n%s", err, stdout.String())
	}
	return out, nil
}

type readerError struct {
	err    error
	stderr string
}

func (e *readerError) Error() string { return e.err.Error() + ": " + e.stderr }

// featureRows returns rows×width inputs in [-2, 2], exact in float32 and in JSON.
func featureRows(rows, width int) [][]float32 {
	out := make([][]float32, rows)
	for r := range out {
		out[r] = make([]float32, width)
		for c := range out[r] {
			out[r][c] = float32((r*7+c*3)%33-16) / 8
		}
	}
	return out
}

// forward computes p's outputs for rows with the Go network.
func forward(t *testing.T, p *nn.Params[float32], rows [][]float32) []float32 {
	t.Helper()
	f, err := nn.NewForward(p, len(rows))
	if err != nil {
		t.Fatal(err)
	}
	in := f.Input()
	for r, row := range rows {
		copy(in[r*p.Spec.Inputs:], row)
	}
	out, err := f.Run()
	if err != nil {
		t.Fatal(err)
	}
	return append([]float32(nil), out...)
}

func TestPythonReaderMatchesGo(t *testing.T) {
	requirePython(t)
	agent, trained := trainedDQN(t, 20, 400)
	tanhParams, tanhFile := mlpFile(t, nn.Spec{Inputs: 6, Hidden: []int{5, 4}, Outputs: 3, Activation: "tanh"}, 2)

	cases := []struct {
		name      string
		params    *nn.Params[float32]
		file      *checkpoints.File
		wantNodes int
	}{
		{"trained dqn", agent.Online, trained, 3},
		{"tanh mlp", tanhParams, tanhFile, 5},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "model.msgpack")
			if err := checkpoints.Save(path, c.file); err != nil {
				t.Fatal(err)
			}
			rows := featureRows(4, c.params.Spec.Inputs)
			out, err := runReader(t, path, rows)
			if err != nil {
				t.Fatalf("reader failed: %v", err)
			}

			if out.FormatVersion != checkpoints.FormatVersion {
				t.Errorf("format_version = %d; want %d", out.FormatVersion, checkpoints.FormatVersion)
			}
			if len(out.Graph.Nodes) != c.wantNodes {
				t.Errorf("reader lists %d nodes; want %d: %v", len(out.Graph.Nodes), c.wantNodes, out.Graph.Nodes)
			}
			wantTensors := len(c.file.Graph.Initializers) + len(c.file.Training.Target) + len(c.file.Training.AdamM) + len(c.file.Training.AdamV)
			if len(out.Tensors) != wantTensors {
				t.Errorf("reader lists %d tensors; want %d", len(out.Tensors), wantTensors)
			}
			if out.Training.EnvSteps != c.file.Training.EnvSteps {
				t.Errorf("env_steps = %d; want %d", out.Training.EnvSteps, c.file.Training.EnvSteps)
			}

			// The reader's outputs, computed from graph.nodes, match the Go forward pass.
			want := forward(t, c.params, rows)
			got := out.Outputs[c.file.Graph.Outputs[0].Name]
			outputs := c.params.Spec.Outputs
			if len(got) != len(rows) {
				t.Fatalf("reader returned %d output rows; want %d", len(got), len(rows))
			}
			for r := range got {
				if len(got[r]) != outputs {
					t.Fatalf("output row %d has %d values; want %d", r, len(got[r]), outputs)
				}
				for k, v := range got[r] {
					w := float64(want[r*outputs+k])
					if math.Abs(v-w) > 1e-5*math.Max(1, math.Abs(w)) {
						t.Errorf("output [%d][%d] = %.8g from Python; Go computes %.8g", r, k, v, w)
					}
				}
			}
		})
	}
}

func TestPythonReaderRejectsCorruptFile(t *testing.T) {
	requirePython(t)
	_, f := mlpFile(t, nn.Spec{Inputs: 3, Hidden: []int{4}, Outputs: 1, Activation: "relu"}, 3)
	dir := t.TempDir()
	path := filepath.Join(dir, "model.msgpack")
	if err := checkpoints.Save(path, f); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	weights := f.Graph.Initializers[0].Data
	flipped := bytes.Clone(data)
	flipped[bytes.Index(flipped, weights)+5] ^= 0x01

	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"flipped weight", flipped, `tensor 'layer0/weight' fails its SHA-256 check`},
		{"truncated", data[:len(data)-10], "truncated or corrupted"},
		{"trailing bytes", append(bytes.Clone(data), 0), "bytes follow the end"},
		{"empty", nil, "empty"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			bad := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "-")+".msgpack")
			if err := os.WriteFile(bad, c.data, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := runReader(t, bad, featureRows(1, 3))
			var rerr *readerError
			if err == nil {
				t.Fatal("reader succeeded; want an error")
			}
			if !errors.As(err, &rerr) {
				t.Fatalf("unexpected error type %T", err)
			}
			if !strings.Contains(rerr.stderr, c.want) || !strings.Contains(rerr.stderr, bad) {
				t.Errorf("stderr = %q; want it to name %s and contain %q", rerr.stderr, bad, c.want)
			}
			if strings.Contains(rerr.stderr, "Traceback") {
				t.Errorf("reader crashed instead of reporting the error:\n%s", rerr.stderr)
			}
		})
	}
}
