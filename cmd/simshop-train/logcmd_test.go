package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/simshop/simshop/checkpoints"
	"github.com/simshop/simshop/rl"
)

// logTiny records a slate log of 30 cheap_blue sessions on a generated 20-item catalog.
func logTiny(t *testing.T, path string, extra ...string) result {
	t.Helper()
	args := []string{"log", "--persona", "cheap_blue", "--items", "20", "--sessions", "30", "--seed", "3",
		"--out", path, "--eval-episodes", "10"}
	return mustExecute(t, append(args, extra...)...)
}

// fromLogTraining is a small REINFORCE run from a log.
var fromLogTraining = []string{"--agent", "reinforce", "--items", "20", "--steps", "400", "--eval-episodes", "10",
	"--batch-states", "32", "--hidden", "16"}

// TestTrainFromLogThenCompare logs a stochastic popularity policy, trains REINFORCE from
// the log, compares the checkpoint with the baselines and logs again with the trained model.
func TestTrainFromLogThenCompare(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "popularity.msgpack")
	r := logTiny(t, logPath)
	if !strings.Contains(r.stdout, "logged 30 sessions") || !strings.Contains(r.stdout, "logging:popularity(t=1,eps=0.1)") {
		t.Errorf("log output lacks the session count or the policy's evaluation:\n%s", r.stdout)
	}

	out := filepath.Join(dir, "run")
	mustExecute(t, append([]string{"train", "--from-log", logPath, "--out", out}, fromLogTraining...)...)
	f, err := checkpoints.Load(checkpointPath(out))
	if err != nil {
		t.Fatal(err)
	}
	if m := f.Metadata; m.Agent != "reinforce" || m.Shop.Persona != "cheap_blue" || f.Training.EnvSteps < 400 {
		t.Errorf("checkpoint of agent %q on persona %q after %d steps, want reinforce on the log's cheap_blue after 400",
			m.Agent, m.Shop.Persona, f.Training.EnvSteps)
	}

	compare := mustExecute(t, "compare", "--model", checkpointPath(out), "--persona", "cheap_blue", "--items", "20",
		"--episodes", "10", "--json")
	names := rowNames(decodeResults(t, compare.stdout))
	if !slices.Contains(names, "reinforce:run/cheap_blue") || !slices.Contains(names, "popularity/cheap_blue") {
		t.Errorf("compare rows %v, want reinforce:run beside the baselines", names)
	}

	// A log without propensities trains too, with β estimated.
	bare := filepath.Join(dir, "bare.msgpack")
	logTiny(t, bare, "--propensities=false", "--eval-episodes", "0")
	bareRun := filepath.Join(dir, "bare-run")
	r = mustExecute(t, append([]string{"train", "--from-log", bare, "--out", bareRun}, fromLogTraining...)...)
	if !strings.Contains(r.stderr, "propensities=false") {
		t.Errorf("training from a log without propensities did not say so:\n%s", r.stderr)
	}

	again := filepath.Join(dir, "model.msgpack")
	r = mustExecute(t, "log", "--policy", checkpointPath(out), "--persona", "cheap_blue", "--sessions", "5",
		"--out", again, "--eval-episodes", "0")
	if !strings.Contains(r.stdout, "logged 5 sessions") {
		t.Errorf("logging with the trained model printed:\n%s", r.stdout)
	}
}

func TestFromLogRejectsBadInput(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "log.msgpack")
	logTiny(t, logPath, "--eval-episodes", "0")
	data, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	truncated := filepath.Join(dir, "truncated.msgpack")
	writeFile(t, truncated, data[:len(data)/2])
	dqn := checkpointOf(t, dir)

	cases := []struct {
		name string
		args []string
		want string
	}{
		{"shop flag", []string{"--from-log", logPath, "--agent", "reinforce", "--persona", "value_seeker"}, "--persona cannot be set with --from-log"},
		{"dqn", []string{"--from-log", logPath, "--agent", "dqn", "--items", "20"}, "--from-log trains REINFORCE only"},
		{"other catalog", []string{"--from-log", logPath, "--agent", "reinforce", "--items", "21"}, "pass the catalog flags"},
		{"truncated log", []string{"--from-log", truncated, "--agent", "reinforce", "--items", "20"}, "truncated or corrupted"},
		{"missing log", []string{"--from-log", filepath.Join(dir, "none.msgpack"), "--agent", "reinforce", "--items", "20"}, "no such file"},
		{"max weight 0", []string{"--from-log", logPath, "--agent", "reinforce", "--items", "20", "--max-weight", "0"}, "importance-weight cap 0 (--max-weight) is invalid"},
		{"batch states 0", []string{"--from-log", logPath, "--agent", "reinforce", "--items", "20", "--batch-states", "0"}, "0 states per update (--batch-states) is invalid"},
		{"checkpoint as log", []string{"--from-log", dqn, "--agent", "reinforce", "--items", "20"}, dqn + " is a checkpoint, not a slate log"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"train", "--out", filepath.Join(dir, "run-"+tc.name)}, tc.args...)
			r := execute(t, args...)
			if r.code == 0 || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("exit code %d, stderr:\n%s\nwant an error containing %q", r.code, r.stderr, tc.want)
			}
		})
	}

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"returning shoppers", []string{"--return-prob", "0.5"}, "--return-prob 0.5"},
		{"temperature 0", []string{"--temperature", "0"}, "logging temperature 0 (--temperature) is invalid"},
		{"epsilon 2", []string{"--epsilon", "2"}, "logging uniform share 2 (--epsilon) is invalid"},
		{"filtered policy", []string{"--policy", "filtered"}, "--policy filtered is a recommender but not a logging policy"},
		{"oracle policy", []string{"--policy", "oracle"}, "--policy oracle is a recommender but not a logging policy"},
		{"valid policies", []string{"--policy", "linucb"}, "use popularity, random, or the checkpoint FILE"},
		{"missing policy", []string{"--policy", filepath.Join(dir, "none.msgpack")}, "is neither a logging policy nor a checkpoint file"},
		{"policy other catalog", []string{"--policy", dqn, "--items", "21"}, "--policy " + dqn + " was loaded as a checkpoint and failed: load model"},
		{"propensity underflow", []string{"--temperature", "0.001", "--epsilon", "0"}, "raise --temperature, or --epsilon above 0"},
		{"too many sessions", []string{"--sessions", "600000"}, "--sessions 600000 is too many"},
		{"sessions at most", []string{"--sessions", "600000"}, "use --sessions 123817 or fewer"},
		{"too long sessions", []string{"--max-steps", "4000000"}, "use --max-steps 3728270 or fewer"},
	} {
		t.Run("log "+tc.name, func(t *testing.T) {
			args := append([]string{"log", "--persona", "cheap_blue", "--items", "20", "--out", filepath.Join(dir, "bad.msgpack")}, tc.args...)
			r := execute(t, args...)
			if r.code == 0 || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("exit code %d, stderr:\n%s\nwant an error containing %q", r.code, r.stderr, tc.want)
			}
		})
	}
}

// checkpointOf trains a tiny DQN in dir and returns its checkpoint.
func checkpointOf(t *testing.T, dir string) string {
	t.Helper()
	out := filepath.Join(dir, "dqn")
	trainTiny(t, out, "--steps", "100", "--eval-episodes", "1")
	return checkpointPath(out)
}

// TestLogKeepsExistingOut checks that log rejects an existing --out file or a folder
// before it plays, keeps the file's bytes, and replaces the file with --force.
func TestLogKeepsExistingOut(t *testing.T) {
	dir := t.TempDir()
	existing := filepath.Join(dir, "model.msgpack")
	content := []byte("a trained checkpoint")
	writeFile(t, existing, content)

	r := execute(t, "log", "--persona", "cheap_blue", "--items", "20", "--sessions", "5", "--out", existing, "--eval-episodes", "0")
	if r.code == 0 || !strings.Contains(r.stderr, "--out "+existing+" already exists") || !strings.Contains(r.stderr, "--force") {
		t.Errorf("exit code %d, stderr:\n%s\nwant an error that names %s and --force", r.code, r.stderr, existing)
	}
	if got, err := os.ReadFile(existing); err != nil || string(got) != string(content) {
		t.Errorf("the existing file now contains %q (error %v), want %q", got, err, content)
	}

	r = execute(t, "log", "--persona", "cheap_blue", "--items", "20", "--sessions", "5", "--out", dir, "--eval-episodes", "0")
	if r.code == 0 || !strings.Contains(r.stderr, "--out "+dir+" is a folder") {
		t.Errorf("exit code %d, stderr:\n%s\nwant an error saying that --out is a folder", r.code, r.stderr)
	}

	newFolder := filepath.Join(dir, "new") + string(os.PathSeparator)
	r = execute(t, "log", "--persona", "cheap_blue", "--items", "20", "--sessions", "5", "--out", newFolder, "--eval-episodes", "0")
	if r.code == 0 || !strings.Contains(r.stderr, "names a folder") {
		t.Errorf("exit code %d, stderr:\n%s\nwant an error saying that --out %s names a folder", r.code, r.stderr, newFolder)
	}

	r = execute(t, "log", "--persona", "cheap_blue", "--items", "20", "--sessions", "5", "--policy", dir, "--out", filepath.Join(dir, "other.msgpack"))
	if r.code == 0 || !strings.Contains(r.stderr, "--policy "+dir+" is a folder") {
		t.Errorf("exit code %d, stderr:\n%s\nwant an error saying that --policy is a folder", r.code, r.stderr)
	}

	r = mustExecute(t, "log", "--persona", "cheap_blue", "--items", "20", "--sessions", "5", "--out", existing, "--eval-episodes", "0", "--force")
	if !strings.Contains(r.stdout, "logged 5 sessions") {
		t.Errorf("log --force printed:\n%s", r.stdout)
	}
	data, err := os.ReadFile(existing)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rl.DecodeSlateLog(data); err != nil {
		t.Errorf("log --force left a file that is not a slate log: %v", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("the folder contains %d entries after log --force, want only %s", len(entries), existing)
	}
}

// TestSlateLogAsCheckpoint checks that every command that reads a checkpoint names a slate
// log given in its place and how to train from it.
func TestSlateLogAsCheckpoint(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "log.msgpack")
	logTiny(t, logPath, "--eval-episodes", "0")
	want := logPath + " is a slate log, not a checkpoint; train from it with train --agent reinforce --from-log " + logPath

	for _, args := range [][]string{
		{"compare", "--model", logPath, "--persona", "cheap_blue", "--items", "20", "--episodes", "2"},
		{"eval", "--model", logPath, "--persona", "cheap_blue", "--episodes", "2"},
		{"inspect", logPath},
		{"export", "--model", logPath, "--output", filepath.Join(dir, "model.onnx")},
		{"train", "--resume", logPath, "--out", filepath.Join(dir, "run")},
		{"log", "--policy", logPath, "--persona", "cheap_blue", "--out", filepath.Join(dir, "again.msgpack")},
	} {
		t.Run(args[0], func(t *testing.T) {
			r := execute(t, args...)
			if r.code == 0 || !strings.Contains(r.stderr, want) {
				t.Errorf("exit code %d, stderr:\n%s\nwant an error containing %q", r.code, r.stderr, want)
			}
		})
	}
}

// TestFromLogSIGINT checks that an interrupted from-log run saves its checkpoint and
// offers eval and on-policy training, not a resume from the log.
func TestFromLogSIGINT(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "log.msgpack")
	logTiny(t, logPath, "--eval-episodes", "0")
	out := filepath.Join(dir, "run")
	p := startBinary(t, "train", "--from-log", logPath, "--out", out, "--agent", "reinforce", "--items", "20",
		"--steps", "10000000", "--log-every", "200", "--batch-states", "32", "--hidden", "16")
	p.waitFor(t, "msg=progress")
	if code := p.interrupt(t); code != 130 {
		t.Fatalf("exit code %d; want 130 after a handled interrupt\nstderr:\n%s", code, p.stderr.String())
	}

	stderr := p.stderr.String()
	latest := checkpointPath(out)
	for _, want := range []string{
		"A from-log run cannot be resumed",
		binPath + " eval --model " + latest + " --seed 1\n",
		"train it further on-policy",
		binPath + " train --resume " + latest + " --out " + out + " --steps 10000000\n",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if strings.Contains(stderr, "--from-log "+logPath+" --resume") || strings.Contains(stderr, "Continue with") {
		t.Errorf("stderr offers to continue the from-log run:\n%s", stderr)
	}
	if _, err := checkpoints.Load(latest); err != nil {
		t.Errorf("load the checkpoint after SIGINT: %v", err)
	}
}

// TestLogHelpHidesReturnProb checks that log's help leaves out --return-prob, which log
// rejects unless it is 0, and shows --policy as a NAME.
func TestLogHelpHidesReturnProb(t *testing.T) {
	help := mustExecute(t, "log", "--help").stdout
	if strings.Contains(help, "--return-prob") {
		t.Errorf("log --help lists --return-prob:\n%s", help)
	}
	if !strings.Contains(help, "--policy NAME") || !strings.Contains(help, "popularity or random") {
		t.Errorf("log --help does not show --policy NAME with popularity and random:\n%s", help)
	}
}
