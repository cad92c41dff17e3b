package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// checkpointFiles returns the names of the files in run folder out's checkpoints folder.
func checkpointFiles(t *testing.T, out string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(out, "checkpoints"))
	if err != nil {
		t.Fatalf("read checkpoint folder: %v", err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// inspectReport is the part of inspect --json output that the tests read.
type inspectReport struct {
	Magic         string `json:"magic"`
	FormatVersion int    `json:"format_version"`
	Metadata      struct {
		Agent   string `json:"agent"`
		Catalog struct {
			Items int `json:"items"`
		} `json:"catalog"`
		Shop struct {
			Persona string  `json:"persona"`
			Budget  float64 `json:"budget"`
		} `json:"shop"`
		Metrics map[string]float64 `json:"metrics"`
	} `json:"metadata"`
	Graph struct {
		Nodes []struct {
			OpType string `json:"op_type"`
		} `json:"nodes"`
	} `json:"graph"`
	Tensors []struct {
		Group  string `json:"group"`
		Name   string `json:"name"`
		Shape  []int  `json:"shape"`
		Bytes  int    `json:"bytes"`
		SHA256 string `json:"sha256"`
	} `json:"tensors"`
	Training struct {
		EnvSteps      int64 `json:"env_steps"`
		Updates       int64 `json:"updates"`
		RolloutStates int   `json:"rollout_states"`
	} `json:"training"`
}

// inspectJSON runs inspect --json on path and decodes its output.
func inspectJSON(t *testing.T, path string) inspectReport {
	t.Helper()
	r := mustExecute(t, "inspect", path, "--json")
	var report inspectReport
	if err := json.Unmarshal([]byte(r.stdout), &report); err != nil {
		t.Fatalf("decode inspect --json output: %v\n%s", err, r.stdout)
	}
	return report
}

func TestTrainKeepsStepCheckpoints(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	trainTiny(t, out, "--steps", "1000", "--save-every", "200", "--keep", "2")

	want := []string{"latest.msgpack", "step-000000800.msgpack", "step-000001000.msgpack"}
	if got := checkpointFiles(t, out); !slices.Equal(got, want) {
		t.Fatalf("checkpoint folder contains %v; want %v", got, want)
	}
	for _, c := range []struct {
		file string
		step int64
	}{{"step-000000800.msgpack", 800}, {"step-000001000.msgpack", 1000}, {"latest.msgpack", 1000}} {
		report := inspectJSON(t, filepath.Join(out, "checkpoints", c.file))
		if report.Training.EnvSteps != c.step {
			t.Errorf("%s contains env_steps %d; want %d", c.file, report.Training.EnvSteps, c.step)
		}
	}

	// The final step checkpoint is the evaluated model, as latest.msgpack is.
	final := inspectJSON(t, filepath.Join(out, "checkpoints", "step-000001000.msgpack"))
	latest := inspectJSON(t, checkpointPath(out))
	if len(final.Metadata.Metrics) == 0 {
		t.Error("the final step checkpoint has no evaluation metrics")
	}
	for i := range latest.Tensors {
		if final.Tensors[i].SHA256 != latest.Tensors[i].SHA256 {
			t.Errorf("tensor %s %s differs between latest.msgpack and the final step checkpoint", latest.Tensors[i].Group, latest.Tensors[i].Name)
		}
	}
}

func TestTrainKeepZero(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	trainTiny(t, out, "--steps", "1000", "--save-every", "200", "--keep", "0")
	if got, want := checkpointFiles(t, out), []string{"latest.msgpack"}; !slices.Equal(got, want) {
		t.Errorf("checkpoint folder contains %v; want %v", got, want)
	}
}

func TestResumeKeepsCountingSteps(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	trainTiny(t, out, "--steps", "600", "--save-every", "200")
	mustExecute(t, "train", "--resume", checkpointPath(out), "--out", out, "--steps", "1000", "--save-every", "200", "--eval-episodes", "20")

	// The default --keep 3 leaves the three newest of steps 200 to 1000.
	want := []string{"latest.msgpack", "step-000000600.msgpack", "step-000000800.msgpack", "step-000001000.msgpack"}
	if got := checkpointFiles(t, out); !slices.Equal(got, want) {
		t.Errorf("checkpoint folder contains %v; want %v", got, want)
	}
}

func TestTrainRejectsNewerStepCheckpoints(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	trainTiny(t, out, "--steps", "1000", "--save-every", "200")
	before := checkpointFiles(t, out)
	older := filepath.Join(out, "checkpoints", "step-000000800.msgpack")

	cases := []struct {
		name string
		args []string
		want string
	}{
		{"fresh run", append([]string{"train", "--out", out, "--persona", "cheap_blue", "--items", "20"}, tinyTraining...),
			"already contains a run"},
		{"resume from older", []string{"train", "--resume", older, "--out", out, "--steps", "2000"},
			"beyond this run's start at step 800"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := execute(t, c.args...)
			if r.code == 0 {
				t.Fatal("exit code 0; want an error")
			}
			if !strings.Contains(r.stderr, c.want) || !strings.Contains(r.stderr, "--out") {
				t.Errorf("stderr = %q; want it to contain %q and suggest another --out", r.stderr, c.want)
			}
			if got := checkpointFiles(t, out); !slices.Equal(got, before) {
				t.Errorf("checkpoint folder changed from %v to %v", before, got)
			}
		})
	}
}

func TestTrainRemovesTempFiles(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	dir := filepath.Join(out, "checkpoints")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	leftovers := []string{".latest.msgpack.tmp-123456", ".step-000000200.msgpack.tmp-987"}
	for _, name := range append(leftovers, "notes.txt") {
		writeFile(t, filepath.Join(dir, name), []byte("partial"))
	}

	r := trainTiny(t, out)
	files := checkpointFiles(t, out)
	for _, name := range leftovers {
		if slices.Contains(files, name) {
			t.Errorf("%s is still in the checkpoint folder", name)
		}
		if !strings.Contains(r.stderr, name) {
			t.Errorf("the log does not name the removed file %s", name)
		}
	}
	if !slices.Contains(files, "notes.txt") {
		t.Error("train removed notes.txt, which no save writes")
	}
}

func TestTrainSaveSeconds(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	args := append([]string{"train", "--out", out, "--persona", "cheap_blue", "--items", "20"}, tinyTraining...)
	args = append(args, "--steps", "10000000", "--save-every", "10000000", "--save-seconds", "0.2", "--keep", "10")
	p := startBinary(t, args...)

	// Only the wall-time rule saves before step 10,000,000.
	deadline := time.Now().Add(30 * time.Second)
	var steps []string
	for len(steps) < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("no 3 step checkpoints after 30 s with --save-seconds 0.2; folder contains %v\nstderr:\n%s", steps, p.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
		steps = stepFiles(t, out)
	}
	p.interrupt(t)
	for _, name := range stepFiles(t, out) {
		report := inspectJSON(t, filepath.Join(out, "checkpoints", name))
		if report.Training.EnvSteps <= 0 || report.Training.EnvSteps >= 10000000 {
			t.Errorf("%s contains env_steps %d; want a step inside the run", name, report.Training.EnvSteps)
		}
	}
}

func TestTrainSaveSecondsZero(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	args := append([]string{"train", "--out", out, "--persona", "cheap_blue", "--items", "20"}, tinyTraining...)
	args = append(args, "--steps", "10000000", "--save-every", "10000000", "--save-seconds", "0", "--log-every", "200")
	p := startBinary(t, args...)
	p.waitFor(t, "msg=progress")
	time.Sleep(700 * time.Millisecond)
	if _, err := os.Stat(filepath.Join(out, "checkpoints")); !os.IsNotExist(err) {
		t.Errorf("checkpoint folder exists before the first --save-every step (err %v); want no save", err)
	}
	p.interrupt(t)
}

// stepFiles returns the step checkpoints of run folder out, or none while it has no
// checkpoint folder.
func stepFiles(t *testing.T, out string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(out, "checkpoints"))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "step-") && strings.HasSuffix(e.Name(), ".msgpack") {
			names = append(names, e.Name())
		}
	}
	return names
}

func TestKeepFlagsRejectBadValues(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	cases := []struct {
		flags []string
		want  string
	}{
		{[]string{"--keep", "-1"}, "--keep -1 is invalid"},
		{[]string{"--save-seconds", "-1"}, "--save-seconds -1 is invalid"},
		{[]string{"--save-seconds", "NaN"}, "--save-seconds NaN is invalid"},
		{[]string{"--save-seconds", "0.01"}, "--save-seconds 0.01 is invalid; use 0 to disable it, or seconds from 0.1"},
		{[]string{"--save-seconds", "1e12"}, "--save-seconds 1e+12 is invalid"},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.flags, " "), func(t *testing.T) {
			args := append([]string{"train", "--out", out, "--persona", "cheap_blue", "--items", "20"}, tinyTraining...)
			r := execute(t, append(args, c.flags...)...)
			if r.code == 0 {
				t.Fatal("exit code 0; want an error")
			}
			if !strings.Contains(r.stderr, c.want) {
				t.Errorf("stderr = %q; want it to contain %q", r.stderr, c.want)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("the run folder exists after the error (err %v); want nothing written", err)
			}
		})
	}
}

func TestInspect(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	trainTiny(t, out)
	path := checkpointPath(out)

	report := inspectJSON(t, path)
	if report.Magic != "SIMSHOP-CHECKPOINT" || report.FormatVersion != 1 {
		t.Errorf("header = %q version %d; want SIMSHOP-CHECKPOINT version 1", report.Magic, report.FormatVersion)
	}
	if report.Metadata.Agent != "dqn" || report.Metadata.Shop.Persona != "cheap_blue" || report.Metadata.Catalog.Items != 20 {
		t.Errorf("metadata = %+v; want a dqn on cheap_blue with 20 items", report.Metadata)
	}
	if _, ok := report.Metadata.Metrics["ctr"]; !ok {
		t.Errorf("metrics = %v; want the final evaluation's ctr", report.Metadata.Metrics)
	}
	var ops []string
	for _, n := range report.Graph.Nodes {
		ops = append(ops, n.OpType)
	}
	if want := []string{"Gemm", "Relu", "Gemm"}; !slices.Equal(ops, want) {
		t.Errorf("nodes = %v; want %v for --hidden 16", ops, want)
	}
	if report.Training.EnvSteps != 600 || report.Training.Updates == 0 {
		t.Errorf("training = %+v; want 600 env steps and some updates", report.Training)
	}

	// Four groups of the same 4 tensors; each tensor's bytes match its shape.
	groups := map[string]int{}
	for _, tensor := range report.Tensors {
		groups[tensor.Group]++
		n := 4
		for _, d := range tensor.Shape {
			n *= d
		}
		if tensor.Bytes != n || len(tensor.SHA256) != 64 {
			t.Errorf("tensor %s %s: %d bytes for shape %v, hash %q", tensor.Group, tensor.Name, tensor.Bytes, tensor.Shape, tensor.SHA256)
		}
	}
	for _, g := range []string{"graph.initializers", "training.target", "training.adam_m", "training.adam_v"} {
		if groups[g] != 4 {
			t.Errorf("group %s has %d tensors; want 4", g, groups[g])
		}
	}

	// --json before the file gives the same object, and the text report shows the same facts.
	if before := mustExecute(t, "inspect", "--json", path).stdout; before != mustExecute(t, "inspect", path, "--json").stdout {
		t.Error("inspect --json FILE and inspect FILE --json print different output")
	}
	text := mustExecute(t, "inspect", path).stdout
	for _, want := range []string{
		"magic           SIMSHOP-CHECKPOINT", "format version  1", "persona cheap_blue",
		"Gemm(features, layer0/weight, layer0/bias) -> layer0/linear",
		"training.adam_v     layer1/bias", report.Tensors[0].SHA256[:16], "env steps", "600",
		"not stored; a resumed run refills it",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("text report lacks %q:\n%s", want, text)
		}
	}
}

func TestInspectBadFilesLikeEval(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "run")
	trainTiny(t, out)
	data, err := os.ReadFile(checkpointPath(out))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		"random.msgpack": []byte("definitely not msgpack"),
		"zero.msgpack":   nil,
		"cut.msgpack":    data[:len(data)/3],
		"tail.msgpack":   append(slices.Clone(data), 0xc0),
	}
	for name, content := range files {
		writeFile(t, filepath.Join(dir, name), content)
	}
	corruptWeight(t, checkpointPath(out), filepath.Join(dir, "flipped.msgpack"))

	for _, name := range []string{"random.msgpack", "zero.msgpack", "cut.msgpack", "tail.msgpack", "flipped.msgpack", "missing.msgpack"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name)
			inspected := execute(t, "inspect", path)
			evaluated := execute(t, "eval", "--model", path)
			if inspected.code == 0 || evaluated.code == 0 {
				t.Fatalf("exit codes inspect %d, eval %d; want errors from both", inspected.code, evaluated.code)
			}
			if inspected.stderr != evaluated.stderr {
				t.Errorf("inspect and eval report different errors:\ninspect: %s\neval:    %s", inspected.stderr, evaluated.stderr)
			}
			if !strings.Contains(inspected.stderr, path) || strings.Contains(inspected.stderr, "panic") {
				t.Errorf("stderr = %q; want an error naming %s", inspected.stderr, path)
			}
			if inspected.stdout != "" {
				t.Errorf("stdout = %q; want nothing", inspected.stdout)
			}
		})
	}
}
