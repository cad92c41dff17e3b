package checkpoints

import (
	"bytes"
	"errors"
	"fmt"
	"io"
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

// Save writes f to path atomically. It writes a temporary file in the same folder, syncs
// it to disk, renames it over path and syncs the folder. A crash thus leaves either the old
// file or the new one, never a partial file.
func Save(path string, f *File) error {
	data, err := msgpack.Marshal(f)
	if err != nil {
		return fmt.Errorf("checkpoints: encode %s: %w", path, err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("checkpoints: create folder for %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("checkpoints: save %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once the rename has happened
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("checkpoints: write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("checkpoints: set permissions of %s: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("checkpoints: sync %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("checkpoints: close %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("checkpoints: rename %s to %s: %w", tmp.Name(), path, err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("checkpoints: open folder %s to sync it: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("checkpoints: sync folder %s: %w", dir, err)
	}
	return nil
}

// Load reads and checks the checkpoint at path. Every error names the file and the problem.
// Load checks the header and the hashes of the graph's initializers, and the agent that
// uses the file checks that the tensors match its graph.
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
		return nil, fmt.Errorf("checkpoints: load %s: %w", path, err)
	}
	return f, nil
}

// Decode parses and checks a checkpoint held in memory.
func Decode(data []byte) (*File, error) {
	if len(data) == 0 {
		return nil, errors.New("the file is empty; it is not a SimShop checkpoint")
	}
	if err := checkHeader(data); err != nil {
		return nil, err
	}
	var f File
	if err := msgpack.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("the file is truncated or corrupted: %v", err)
	}
	for _, t := range f.Graph.Initializers {
		if err := t.check(); err != nil {
			return nil, err
		}
	}
	return &f, nil
}

// checkHeader reads the magic string and format version, the first two fields of the
// top-level map, before the body is decoded. A file from another program or a newer
// version thus gets a precise message rather than a decoding error deep inside the body.
func checkHeader(data []byte) error {
	dec := msgpack.NewDecoder(bytes.NewReader(data))
	n, err := dec.DecodeMapLen()
	if err != nil || n < 2 {
		return errors.New("the file is not a msgpack SimShop checkpoint: it does not start with a msgpack map of the header fields")
	}
	var magic string
	version := -1
	for i := 0; i < 2; i++ {
		key, err := dec.DecodeString()
		if err != nil {
			return errors.New("the file is not a msgpack SimShop checkpoint: its first key is not a string")
		}
		switch key {
		case "magic":
			magic, err = dec.DecodeString()
		case "format_version":
			version, err = dec.DecodeInt()
		default:
			return fmt.Errorf("the file is not a SimShop checkpoint: it starts with the field %q instead of \"magic\"", truncate(key, 40))
		}
		if err != nil {
			return fmt.Errorf("the file is not a SimShop checkpoint: field %q cannot be read (%v)", key, err)
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
