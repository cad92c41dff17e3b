package checkpoints_test

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/simshop/simshop/checkpoints"
	"github.com/simshop/simshop/nn"
)

// FuzzDecode checks that Decode never panics and that every file it accepts encodes and
// decodes again. Run it with make fuzz; plain go test runs only the seed corpus in
// testdata/fuzz/FuzzDecode.
func FuzzDecode(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := checkpoints.Decode(data)
		if err != nil {
			if file != nil {
				t.Fatalf("Decode returned a file and the error %v", err)
			}
			return
		}
		again, err := msgpack.Marshal(file)
		if err != nil {
			t.Fatalf("encode an accepted file: %v", err)
		}
		if _, err := checkpoints.Decode(again); err != nil {
			t.Fatalf("an accepted file fails to decode after encoding it again: %v", err)
		}
	})
}

var updateCorpus = flag.Bool("update-corpus", false, "rewrite the seed corpus of FuzzDecode in testdata/fuzz/FuzzDecode")

// corpusDir contains FuzzDecode's seed corpus. Seeds named valid-* are real checkpoints that
// Decode must accept; Decode must reject every other seed.
const corpusDir = "testdata/fuzz/FuzzDecode"

// seeds returns the seed corpus: small real checkpoints and corrupt variants of them.
func seeds(t *testing.T) map[string][]byte {
	_, trained := trainedDQN(t, 6, 300)
	_, untrained := trainedDQN(t, 6, 0)
	_, tanh := mlpFile(t, nn.Spec{Inputs: 3, Hidden: []int{4, 2}, Outputs: 2, Activation: "tanh"}, 1)
	encode := func(f *checkpoints.File) []byte {
		data, err := msgpack.Marshal(f)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	valid := encode(tanh)
	flipped := bytes.Clone(valid)
	weights := tanh.Graph.Initializers[0].Data
	flipped[bytes.Index(flipped, weights)+2] ^= 0x10

	// A binary of 2^31 bytes where the creation time should be: the header, then "created".
	at := bytes.Index(valid, []byte("created"))
	hugeBinary := append(bytes.Clone(valid[:at+len("created")]), 0xc6, 0x80, 0, 0, 0, 1, 2, 3)
	// An array of 2^32-1 tensors where the initializers should be.
	at = bytes.Index(valid, []byte("initializers"))
	hugeArray := append(bytes.Clone(valid[:at+len("initializers")]), 0xdd, 0xff, 0xff, 0xff, 0xff, 0xc0)
	// A Relu node where the spec says tanh.
	relu := bytes.Replace(valid, []byte("Tanh"), []byte("Relu"), 1)

	return map[string][]byte{
		"valid-dqn-trained":   encode(trained),
		"valid-dqn-untrained": encode(untrained),
		"valid-mlp-tanh":      valid,
		"truncated":           valid[:len(valid)/2],
		"flipped-weight":      flipped,
		"huge-binary":         hugeBinary,
		"huge-array":          hugeArray,
		"relu-for-tanh":       relu,
		"trailing-bytes":      append(bytes.Clone(valid), 0x00),
		"wrong-magic":         bytes.Replace(valid, []byte(checkpoints.Magic), []byte("SIMSHOP-CHECKPOINX"), 1),
		"version-2":           bytes.Replace(valid, []byte("format_version\x01"), []byte("format_version\x02"), 1),
	}
}

// TestFuzzSeeds checks the committed seed corpus: Decode accepts the valid-* seeds and
// rejects the others. With -update-corpus it first rewrites the corpus.
func TestFuzzSeeds(t *testing.T) {
	if *updateCorpus {
		if err := os.MkdirAll(corpusDir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, data := range seeds(t) {
			text := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", data)
			if err := os.WriteFile(filepath.Join(corpusDir, name), []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}

	entries, err := os.ReadDir(corpusDir)
	if err != nil {
		t.Fatalf("read the seed corpus: %v; write it with go test ./checkpoints -run TestFuzzSeeds -update-corpus", err)
	}
	valid := 0
	for _, e := range entries {
		data := readCorpusFile(t, filepath.Join(corpusDir, e.Name()))
		_, err := checkpoints.Decode(data)
		switch {
		case strings.HasPrefix(e.Name(), "valid-"):
			valid++
			if err != nil {
				t.Errorf("seed %s: %v; want it decoded", e.Name(), err)
			}
		case err == nil:
			t.Errorf("seed %s decoded; want an error", e.Name())
		}
	}
	if valid < 3 || len(entries)-valid < 5 {
		t.Errorf("corpus has %d valid and %d corrupt seeds; want at least 3 and 5", valid, len(entries)-valid)
	}
}

// readCorpusFile parses a file of Go's fuzzing corpus that contains one []byte value.
func readCorpusFile(t *testing.T, path string) []byte {
	t.Helper()
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	header, value, ok := strings.Cut(strings.TrimSpace(string(text)), "\n")
	literal, isBytes := strings.CutPrefix(value, "[]byte(")
	literal, closed := strings.CutSuffix(literal, ")")
	if !ok || header != "go test fuzz v1" || !isBytes || !closed {
		t.Fatalf("%s is not a Go fuzz corpus file with one []byte value", path)
	}
	s, err := strconv.Unquote(literal)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return []byte(s)
}
