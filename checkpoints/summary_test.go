package checkpoints

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadSummarySkipsReplay(t *testing.T) {
	f := testFile(t)
	data := make([]float32, 1000*50)
	for i := range data {
		data[i] = float32(i)
	}
	f.Training.ReplayStored = true
	f.Training.Replay = &Replay{Capacity: 1000, Width: 50, Size: 10, Cursor: 10,
		Data: NewTensor("replay", []int{1000, 50}, data), Terminal: make([]byte, 1000)}
	path := filepath.Join(t.TempDir(), "model.msgpack")
	if err := Save(path, f); err != nil {
		t.Fatal(err)
	}
	full, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	summary, skipped, err := LoadSummary(path)
	if err != nil {
		t.Fatal(err)
	}
	if summary.Training.Replay != nil {
		t.Error("LoadSummary decoded the replay buffer")
	}
	if skipped < int64(4*len(data)) {
		t.Errorf("skipped %d bytes; want at least the buffer's %d", skipped, 4*len(data))
	}
	if !summary.Training.ReplayStored || summary.Training.EnvSteps != full.Training.EnvSteps || len(summary.Graph.Initializers) != len(full.Graph.Initializers) {
		t.Errorf("summary differs from the full load outside the buffer: %+v", summary.Training)
	}
}

func TestLoadSummaryRejectsTruncatedFile(t *testing.T) {
	good := encode(t, testFile(t))
	path := filepath.Join(t.TempDir(), "cut.msgpack")
	if err := os.WriteFile(path, good[:len(good)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadSummary(path); err == nil || !strings.Contains(err.Error(), "truncated") || !strings.Contains(err.Error(), path) {
		t.Errorf("got error %v, want one naming %s and saying it is truncated", err, path)
	}
}
