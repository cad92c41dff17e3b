package checkpoints

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

// ProducerName is the name written into Producer.Name.
const ProducerName = "simshop"

// maxFileSize bounds what Load reads, far above any SimShop model (a few MiB), so that a
// wrong path to a huge file fails fast instead of filling memory.
const maxFileSize = 1 << 30

// NewProducer describes this build, with the VCS revision when the binary records one.
func NewProducer() Producer {
	p := Producer{Name: ProducerName, Version: "devel"}
	if info, ok := debug.ReadBuildInfo(); ok {
		if info.Main.Version != "" {
			p.Version = info.Main.Version
		}
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" {
				p.Revision = s.Value
			}
		}
	}
	return p
}

// Stamp fills the header fields of f: magic, format version, producer and creation time.
func (f *File) Stamp(now time.Time) {
	f.Magic = Magic
	f.Version = FormatVersion
	f.Producer = NewProducer()
	f.Created = now.UTC().Format(time.RFC3339)
}

// Save writes f to path atomically with WriteFileAtomic.
func Save(path string, f *File) error {
	data, err := msgpack.Marshal(f)
	if err != nil {
		return fmt.Errorf("checkpoints: encode %s: %w", path, err)
	}
	if err := WriteFileAtomic(path, data); err != nil {
		return fmt.Errorf("checkpoints: %w", err)
	}
	return nil
}

// WriteFileAtomic writes data to path, creating its folder if needed. It writes a
// temporary file in the same folder, syncs it to disk, renames it over path and syncs the
// folder. A crash thus leaves either the old file or the new one, never a partial file.
// Errors name the file.
func WriteFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create folder for %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("save %s: %w", path, err)
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
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open folder %s to sync it: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync folder %s: %w", dir, err)
	}
	return nil
}

// Load reads and checks the checkpoint at path with Decode. Every error names the file and
// the problem. The agent that uses the file checks that the training tensors match its
// graph.
func Load(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("checkpoints: %w", err)
	}
	defer fh.Close()
	data, err := io.ReadAll(io.LimitReader(fh, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("checkpoints: read %s: %w", path, err)
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("checkpoints: %s is larger than %d bytes; it is not a SimShop checkpoint", path, maxFileSize)
	}
	f, err := Decode(data)
	if err != nil {
		return nil, loadError(path, err)
	}
	return f, nil
}

// ErrSlateLog is the error of Decode for a slate log, which is not a checkpoint.
var ErrSlateLog = errors.New("the file is a slate log, not a checkpoint")

// loadError returns the error of loading the file at path, given the error of Decode.
func loadError(path string, err error) error {
	if errors.Is(err, ErrSlateLog) {
		return slateLogError{path}
	}
	return fmt.Errorf("checkpoints: load %s: %w", path, err)
}

// slateLogError is the error of Load for the slate log at path. It matches ErrSlateLog.
type slateLogError struct{ path string }

func (e slateLogError) Error() string {
	return fmt.Sprintf("checkpoints: %s is a slate log, not a checkpoint; train from it with train --agent reinforce --from-log %s", e.path, e.path)
}

func (e slateLogError) Is(target error) bool { return target == ErrSlateLog }

// Decode parses and checks a checkpoint held in memory. Before decoding, it checks the
// header and the limits of checkStructure, so that a corrupt or hostile file cannot make
// the decoder allocate memory for data it declares but does not contain. After decoding,
// it checks the graph against its spec and the shape and SHA-256 hash of every tensor.
func Decode(data []byte) (*File, error) {
	if len(data) == 0 {
		return nil, errors.New("the file is empty; it is not a SimShop checkpoint")
	}
	if err := checkHeader(data); err != nil {
		return nil, err
	}
	if err := checkStructure(data); err != nil {
		return nil, fmt.Errorf("the file is truncated or corrupted: %v", err)
	}
	var f File
	if err := msgpack.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("the file is truncated or corrupted: %v", err)
	}
	if err := f.Graph.check(); err != nil {
		return nil, err
	}
	groups := []struct {
		what    string
		tensors []Tensor
	}{
		{"training.target", f.Training.Target},
		{"training.adam_m", f.Training.AdamM},
		{"training.adam_v", f.Training.AdamV},
	}
	if b := f.Training.Baseline; b != nil {
		groups = append(groups, []struct {
			what    string
			tensors []Tensor
		}{{"training.baseline.weights", b.Weights}, {"training.baseline.adam_m", b.AdamM}, {"training.baseline.adam_v", b.AdamV}}...)
	}
	if r := f.Training.Rollouts; r != nil {
		groups = append(groups, struct {
			what    string
			tensors []Tensor
		}{"training.rollouts.features", []Tensor{r.Features}})
	}
	for _, g := range groups {
		for _, t := range g.tensors {
			if err := t.check(); err != nil {
				return nil, fmt.Errorf("%s: %w", g.what, err)
			}
		}
	}
	return &f, nil
}

// checkHeader reads the magic string and format version, the first two fields of the
// top-level map, before the body is decoded. A file from another program or a newer
// version thus gets a precise message rather than a decoding error deep inside the body.
// It reads the bytes directly, so a huge declared length costs no allocation.
func checkHeader(data []byte) error {
	head, _, values, isArray, err := msgpackHead(data)
	if err != nil || isArray || values < 4 {
		return errors.New("the file is not a msgpack SimShop checkpoint: it does not start with a msgpack map of the header fields")
	}
	var magic string
	version := int64(-1)
	h := headerReader{data: data, pos: head}
	for i := 0; i < 2; i++ {
		key, ok := h.readString()
		if !ok {
			return errors.New("the file is not a msgpack SimShop checkpoint: its first key is not a string")
		}
		switch key {
		case "magic":
			if magic, ok = h.readString(); !ok {
				return errors.New(`the file is not a SimShop checkpoint: field "magic" is not a string`)
			}
			if magic == SlateLogMagic {
				return ErrSlateLog
			}
		case "format_version":
			if version, ok = h.readInt(); !ok {
				return errors.New(`the file is not a SimShop checkpoint: field "format_version" is not an integer`)
			}
		default:
			return fmt.Errorf("the file is not a SimShop checkpoint: it starts with the field %q instead of \"magic\"", truncate(key, 40))
		}
	}
	if magic != Magic {
		return fmt.Errorf("wrong magic string %q, want %q: the file is not a SimShop checkpoint", truncate(magic, 40), Magic)
	}
	if version > FormatVersion || version < 1 {
		return fmt.Errorf("format version %d is not supported: this build reads versions 1 to %d; use a SimShop build that reads version %d",
			version, FormatVersion, version)
	}
	return nil
}

// headerReader reads msgpack strings and integers from data at pos.
type headerReader struct {
	data []byte
	pos  int
}

// readString reads a msgpack string, or reports false if the next value is not a string
// that ends within the data.
func (h *headerReader) readString() (string, bool) {
	if h.pos >= len(h.data) {
		return "", false
	}
	code := h.data[h.pos]
	isString := (code >= 0xa0 && code <= 0xbf) || (code >= 0xd9 && code <= 0xdb)
	head, n, _, _, err := msgpackHead(h.data[h.pos:])
	if !isString || err != nil || n > uint64(len(h.data)-h.pos-head) {
		return "", false
	}
	start := h.pos + head
	h.pos = start + int(n)
	return string(h.data[start:h.pos]), true
}

// readInt reads a msgpack integer of any width, or reports false if the next value is not
// an integer that fits in an int64.
func (h *headerReader) readInt() (int64, bool) {
	if h.pos >= len(h.data) {
		return 0, false
	}
	code := h.data[h.pos]
	if code <= 0x7f || code >= 0xe0 {
		h.pos++
		return int64(int8(code)), true
	}
	size := map[byte]int{0xcc: 1, 0xcd: 2, 0xce: 4, 0xcf: 8, 0xd0: 1, 0xd1: 2, 0xd2: 4, 0xd3: 8}[code]
	if size == 0 || h.pos+1+size > len(h.data) {
		return 0, false
	}
	var u uint64
	for _, b := range h.data[h.pos+1 : h.pos+1+size] {
		u = u<<8 | uint64(b)
	}
	h.pos += 1 + size
	if code >= 0xd0 { // signed: sign-extend from size bytes
		shift := 64 - 8*size
		return int64(u<<shift) >> shift, true
	}
	if u > math.MaxInt64 {
		return 0, false
	}
	return int64(u), true
}

// check verifies a tensor's declared shape against its bytes and its hash.
func (t Tensor) check() error {
	n := 1
	for _, d := range t.Shape {
		if d < 0 || d > maxFileSize {
			return fmt.Errorf("tensor %q has invalid shape %v", t.Name, t.Shape)
		}
		n *= d
		if n > maxFileSize {
			return fmt.Errorf("tensor %q declares shape %v, larger than any checkpoint", t.Name, t.Shape)
		}
	}
	if t.Dtype != "float32" {
		return fmt.Errorf("tensor %q has dtype %q; this version reads only float32", t.Name, t.Dtype)
	}
	if len(t.Data) != 4*n {
		return fmt.Errorf("tensor %q has %d bytes, but its shape %v needs %d", t.Name, len(t.Data), t.Shape, 4*n)
	}
	sum := sha256Sum(t.Data)
	if !bytes.Equal(sum, t.SHA256) {
		return fmt.Errorf("tensor %q fails its SHA-256 check: the file is corrupted", t.Name)
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
