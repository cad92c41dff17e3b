package checkpoints

import (
	"bytes"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/simshop/simshop/nn"
)

// rawFile builds a msgpack map by hand: a valid header, then the given key and raw value
// bytes, so that a test can place any encoding where the decoder will meet it.
func rawFile(t *testing.T, keyValues ...any) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	if err := enc.EncodeMapLen(2 + len(keyValues)/2); err != nil {
		t.Fatal(err)
	}
	for _, v := range []any{"magic", Magic, "format_version", FormatVersion} {
		if err := enc.Encode(v); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < len(keyValues); i += 2 {
		if err := enc.EncodeString(keyValues[i].(string)); err != nil {
			t.Fatal(err)
		}
		buf.Write(keyValues[i+1].([]byte))
	}
	return buf.Bytes()
}

// cat concatenates byte slices.
func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// str encodes s as a msgpack string.
func str(t *testing.T, s string) []byte {
	t.Helper()
	b, err := msgpack.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// allocatedBy returns the bytes that the heap grew by while f ran.
func allocatedBy(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func TestDecodeRejectsHugeDeclaredLengths(t *testing.T) {
	padding := make([]byte, 100)
	bin32 := []byte{0xc6, 0x80, 0, 0, 0}            // binary of 2^31 bytes
	str32 := []byte{0xdb, 0x80, 0, 0, 0}            // string of 2^31 bytes
	array32 := []byte{0xdd, 0xff, 0xff, 0xff, 0xff} // array of 2^32-1 values
	map32 := []byte{0xdf, 0x10, 0, 0, 0}            // map of 2^28 entries

	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"binary of 2^31 bytes", rawFile(t, "created", cat(bin32, padding)), "binary declares 2147483648 bytes, but only 100 remain"},
		{"string of 2^31 bytes", rawFile(t, "created", cat(str32, padding)), "string declares 2147483648 bytes"},
		{"tensor data of 2^31 bytes", rawFile(t, "graph", cat([]byte{0x81}, str(t, "initializers"), []byte{0x91, 0x81}, str(t, "data"), bin32, padding)),
			"binary declares 2147483648 bytes"},
		{"2^32-1 tensors", rawFile(t, "graph", cat([]byte{0x81}, str(t, "initializers"), array32, padding)), "declares 4294967295 values, but only 100 bytes remain"},
		{"2^32-1 attribute values", rawFile(t, "graph", cat([]byte{0x81}, str(t, "nodes"), []byte{0x91, 0x81}, str(t, "attributes"), []byte{0x81, 0xa1, 'x'}, array32, padding)),
			"declares 4294967295 values"},
		{"2^28 metrics", rawFile(t, "metadata", cat([]byte{0x81}, str(t, "metrics"), map32, padding)), "declares 536870912 values"},
		{"magic of 2^31 bytes", cat([]byte{0x82}, str(t, "magic"), str32, padding), "not a SimShop checkpoint"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var err error
			allocated := allocatedBy(func() { _, err = Decode(c.data) })
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got error %v, want one containing %q", err, c.want)
			}
			// The error message and the scan's stack take a few hundred bytes; the declared
			// lengths would take gigabytes.
			if allocated > 64<<10 {
				t.Errorf("Decode allocated %d bytes, want under 64 KiB", allocated)
			}
		})
	}
}

func TestDecodeRejectsBadStructure(t *testing.T) {
	good := encode(t, testFile(t))

	deep := bytes.Repeat([]byte{0x91}, maxDepth+1) // arrays of one array each
	deep = append(deep, 0xc0)
	manyElements := cat([]byte{0xdd, 0x00, 0x40, 0x00, 0x01}, bytes.Repeat([]byte{0xc0}, maxArrayElements+1))

	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"trailing bytes", cat(good, []byte{0x01, 0x02}), "2 bytes follow the end of the msgpack map"},
		{"reserved byte", rawFile(t, "created", []byte{0xc1}), "0xc1 is reserved"},
		{"length cut off", rawFile(t, "created", []byte{0xdb, 0x00}), "ends inside the length"},
		{"nesting too deep", rawFile(t, "extra", deep), "nest more than 64 deep"},
		{"too many array elements", rawFile(t, "extra", manyElements), "exceed 4194304 elements"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Decode(c.data)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got error %v, want one containing %q", err, c.want)
			}
			if err != nil && !strings.Contains(err.Error(), "truncated or corrupted") {
				t.Errorf("error %q does not say the file is truncated or corrupted", err)
			}
		})
	}
}

func TestDecodeAcceptsOtherEncodings(t *testing.T) {
	// A writer may order the header fields either way, use a map16 for the top level, widen
	// integers and add keys this version does not know.
	f := testFile(t)
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	buf.Write([]byte{0xde, 0x00, 0x10}) // map16 of 16 entries
	buf.Write(str(t, "format_version"))
	buf.Write([]byte{0xd3, 0, 0, 0, 0, 0, 0, 0, 1}) // int64 1
	buf.Write(str(t, "magic"))
	buf.Write(str(t, Magic))
	for _, kv := range []struct {
		key   string
		value any
	}{{"graph", f.Graph}, {"training", f.Training}, {"created", f.Created}} {
		buf.Write(str(t, kv.key))
		if err := enc.Encode(kv.value); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 11; i++ {
		buf.Write(str(t, "unknown_"+string(rune('a'+i))))
		buf.Write([]byte{0x92, 0xc0, 0xa1, 'x'})
	}

	got, err := Decode(buf.Bytes())
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if got.Training.EnvSteps != 42 || got.Created != f.Created || len(got.Graph.Nodes) != 3 {
		t.Errorf("decoded file differs: env_steps %d, created %q, %d nodes", got.Training.EnvSteps, got.Created, len(got.Graph.Nodes))
	}
}

func TestDecodeChecksGraph(t *testing.T) {
	cases := []struct {
		name   string
		change func(f *File)
		want   string
	}{
		{"huge hidden layer", func(f *File) { f.Graph.Spec.Hidden = []int{1 << 40} }, "larger than any checkpoint"},
		{"spec wider than weights", func(f *File) { f.Graph.Spec.Hidden = []int{5} }, `"layer0/weight" has shape [3 4], but graph.spec [3 5 1] needs [3 5]`},
		{"unknown activation", func(f *File) { f.Graph.Spec.Activation = "gelu" }, `unknown activation "gelu"`},
		{"activation node differs", func(f *File) { f.Graph.Nodes[1].OpType = "Tanh" }, "graph.nodes[1] is Tanh(layer0/linear) -> layer0/relu"},
		{"transposed weight", func(f *File) { f.Graph.Nodes[0].Attributes["transB"] = 1 }, "graph.nodes[0] is Gemm"},
		{"node missing", func(f *File) { f.Graph.Nodes = f.Graph.Nodes[:2] }, "graph.nodes contains 2 nodes, but graph.spec [3 4 1] needs 3"},
		{"input renamed", func(f *File) { f.Graph.Inputs[0].Name = "x" }, `graph.inputs[0] is "x"`},
		{"output shape", func(f *File) { f.Graph.Outputs[0].Shape = []int{-1, 2} }, "graph.outputs[0]"},
		{"initializer missing", func(f *File) { f.Graph.Initializers = f.Graph.Initializers[1:] }, `lacks tensor "layer0/weight"`},
		{"initializer twice", func(f *File) { f.Graph.Initializers = append(f.Graph.Initializers, f.Graph.Initializers[0]) }, `contains tensor "layer0/weight" twice`},
		{"extra initializer", func(f *File) {
			f.Graph.Initializers = append(f.Graph.Initializers, NewTensor("extra", []int{1, 1}, []float32{1}))
		}, "contains 5 tensors, but graph.spec [3 4 1] needs exactly 4"},
		{"target hash", func(f *File) {
			f.Training.Target = ParamsTensors(mustParams(t, f.Graph.Spec))
			f.Training.Target[1].SHA256[0] ^= 1
		}, `training.target: tensor "layer0/bias" fails its SHA-256 check`},
		{"moment dtype", func(f *File) {
			f.Training.AdamM = ParamsTensors(mustParams(t, f.Graph.Spec))
			f.Training.AdamM[0].Dtype = "float16"
		}, `training.adam_m: tensor "layer0/weight" has dtype "float16"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := testFile(t)
			c.change(f)
			_, err := Decode(encode(t, f))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got error %v, want one containing %q", err, c.want)
			}
		})
	}
}

func mustParams(t *testing.T, spec nn.Spec) *nn.Params[float32] {
	t.Helper()
	p, err := nn.NewParams[float32](spec, rand.New(rand.NewPCG(5, 5)))
	if err != nil {
		t.Fatal(err)
	}
	return p
}
