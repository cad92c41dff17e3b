package checkpoints

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/simshop/simshop/nn"
)

func testFile(t *testing.T) *File {
	t.Helper()
	p, err := nn.NewParams[float32](nn.Spec{Inputs: 3, Hidden: []int{4}, Outputs: 1, Activation: "relu"}, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	f := &File{Graph: GraphOf(p), Training: Training{EnvSteps: 42}}
	f.Stamp(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	return f
}

func encode(t *testing.T, f *File) []byte {
	t.Helper()
	data, err := msgpack.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestSaveLoadRoundTrip(t *testing.T) {
	f := testFile(t)
	path := filepath.Join(t.TempDir(), "sub", "model.msgpack")
	if err := Save(path, f); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.Training.EnvSteps != 42 || got.Created != "2026-01-02T03:04:05Z" || got.Magic != Magic || got.Version != FormatVersion {
		t.Errorf("header or counters changed: %+v", got)
	}
	if len(got.Graph.Nodes) != 3 || got.Graph.Nodes[0].OpType != "Gemm" || got.Graph.Nodes[1].OpType != "Relu" {
		t.Errorf("graph nodes = %+v, want Gemm, Relu, Gemm", got.Graph.Nodes)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("folder holds %d entries after Save, want only the checkpoint", len(entries))
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o644 {
		t.Errorf("checkpoint mode %v, want 0644", st.Mode().Perm())
	}
}

// TestPerLayerActivationsRoundTrip checks that a network with an activation per hidden
// layer keeps its spec through a file and that its graph applies each layer's own.
func TestPerLayerActivationsRoundTrip(t *testing.T) {
	spec := nn.Spec{Inputs: 3, Hidden: []int{4, 2}, Outputs: 1, Activations: []string{"tanh", "relu"}}
	p, err := nn.NewParams[float32](spec, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	f := &File{Graph: GraphOf(p)}
	f.Stamp(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	got, err := Decode(encode(t, f))
	if err != nil {
		t.Fatal(err)
	}
	if a := got.Graph.Spec.Activations; len(a) != 2 || a[0] != "tanh" || a[1] != "relu" {
		t.Errorf("activations after decoding = %v; want [tanh relu]", a)
	}
	var ops []string
	for _, n := range got.Graph.Nodes {
		ops = append(ops, n.OpType)
	}
	if want := "Gemm,Tanh,Gemm,Relu,Gemm"; strings.Join(ops, ",") != want {
		t.Errorf("graph nodes %v; want %s", ops, want)
	}

	// A file whose activations do not match its hidden layers is rejected.
	f.Graph.Spec.Activations = []string{"tanh"}
	if _, err := Decode(encode(t, f)); err == nil {
		t.Error("Decode accepted one activation for two hidden layers")
	}
}

func TestDecodeRejectsBadFiles(t *testing.T) {
	good := encode(t, testFile(t))

	wrongMagic := testFile(t)
	wrongMagic.Magic = "ONNX"
	newer := testFile(t)
	newer.Version = FormatVersion + 1
	flipped := append([]byte(nil), good...)
	data := testFile(t).Graph.Initializers[0].Data
	at := bytes.Index(flipped, data)
	if at < 0 {
		t.Fatal("tensor bytes not found in the encoding")
	}
	flipped[at+1] ^= 0x40
	badShape := testFile(t)
	badShape.Graph.Initializers[1].Shape = []int{1 << 20, 1 << 20}

	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "empty"},
		{"not msgpack", []byte("hello, world"), "not a msgpack SimShop checkpoint"},
		{"wrong magic", encode(t, wrongMagic), `wrong magic string "ONNX"`},
		{"newer version", encode(t, newer), "format version 2 is not supported"},
		{"truncated", good[:len(good)/2], "truncated or corrupted"},
		{"flipped byte", flipped, "fails its SHA-256 check"},
		{"huge shape", encode(t, badShape), "larger than any checkpoint"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Decode(c.data)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got error %v, want one containing %q", err, c.want)
			}
		})
	}
}

func TestLoadNamesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "junk.msgpack")
	if err := os.WriteFile(path, []byte{0xc1, 0xc1}, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("got error %v, want one naming %s", err, path)
	}
}

func TestFillSlicesChecksNamesAndShapes(t *testing.T) {
	f := testFile(t)
	p, _ := nn.NewParams[float32](f.Graph.Spec, rand.New(rand.NewPCG(2, 2)))
	dst := make([][]float32, len(p.Tensors))
	for i, pt := range p.Tensors {
		dst[i] = make([]float32, len(pt.Data))
	}
	if err := FillSlices(p, f.Graph.Initializers, dst, "initializers"); err != nil {
		t.Fatalf("matching tensors: %v", err)
	}
	if want := f.Graph.Initializers[0]; dst[0][0] == 0 || len(want.Data) != 4*len(dst[0]) {
		t.Errorf("first weight not decoded: %g", dst[0][0])
	}

	missing := f.Graph.Initializers[1:]
	if err := FillSlices(p, missing, dst, "initializers"); err == nil || !strings.Contains(err.Error(), `"layer0/weight" is missing`) {
		t.Errorf("missing tensor: got %v", err)
	}
	other, _ := nn.NewParams[float32](nn.Spec{Inputs: 5, Hidden: []int{4}, Outputs: 1, Activation: "relu"}, rand.New(rand.NewPCG(3, 3)))
	if err := FillSlices(p, GraphOf(other).Initializers, dst, "initializers"); err == nil || !strings.Contains(err.Error(), "has shape [5 4], but the graph needs [3 4]") {
		t.Errorf("shape mismatch: got %v", err)
	}
}

// TestLoadSlateLog checks that Load names a slate log and the command that reads it.
func TestLoadSlateLog(t *testing.T) {
	// The header of a slate log, in the order of rl.SlateLog's fields.
	log := struct {
		Magic   string  `msgpack:"magic"`
		Version int     `msgpack:"version"`
		Lengths []int32 `msgpack:"lengths"`
	}{SlateLogMagic, 1, []int32{1}}
	data, err := msgpack.Marshal(log)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "log.msgpack")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Load(path)
	if !errors.Is(err, ErrSlateLog) {
		t.Errorf("Load of a slate log returned %v, want ErrSlateLog", err)
	}
	want := path + " is a slate log, not a checkpoint; train from it with train --agent reinforce --from-log " + path
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Load of a slate log returned %v, want an error containing %q", err, want)
	}
}
