package main

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/simshop/simshop/checkpoints"
)

// tinyReinforce is a small REINFORCE budget that still runs every stage.
var tinyReinforce = []string{
	"--agent", "reinforce", "--steps", "600", "--envs", "4", "--eval-episodes", "20",
	"--hidden", "16", "--batch-states", "32",
}

func TestTrainReinforceEvalAndCompare(t *testing.T) {
	out := filepath.Join(t.TempDir(), "rf")
	args := append([]string{"train", "--out", out, "--persona", "cheap_blue", "--items", "20"}, tinyReinforce...)
	r := mustExecute(t, args...)
	if !strings.Contains(r.stdout, "reinforce:rf") {
		t.Errorf("train output names no reinforce:rf model:\n%s", r.stdout)
	}
	ckpt, err := checkpoints.Load(checkpointPath(out))
	if err != nil {
		t.Fatal(err)
	}
	if ckpt.Metadata.Agent != "reinforce" || ckpt.Training.Baseline == nil {
		t.Errorf("checkpoint agent %q, baseline stored %v; want reinforce with its baseline", ckpt.Metadata.Agent, ckpt.Training.Baseline != nil)
	}

	// eval reproduces the figures that train printed, from the checkpoint alone.
	results := decodeResults(t, evalJSON(t, checkpointPath(out), "--episodes", "20"))
	if len(results) != 1 || results[0].Recommender != "reinforce:rf" {
		t.Fatalf("eval results %+v, want one row of reinforce:rf", results)
	}
	if row := tableRow(t, r.stdout, "reinforce:rf"); row[3] != fmt.Sprintf("%.3f", results[0].RewardPerStep) {
		t.Errorf("train printed reward per step %s, eval %.3f", row[3], results[0].RewardPerStep)
	}

	cmp := mustExecute(t, "compare", "--model", checkpointPath(out), "--episodes", "20", "--json")
	names := rowNames(decodeResults(t, cmp.stdout))
	if !slices.Contains(names, "reinforce:rf/cheap_blue") || !slices.Contains(names, "oracle/cheap_blue") {
		t.Errorf("compare rows %v, want the baselines, the oracle and reinforce:rf", names)
	}
	mustExecute(t, "inspect", checkpointPath(out))

	// A resumed REINFORCE run continues from the checkpoint's step count.
	resumed := mustExecute(t, "train", "--resume", checkpointPath(out), "--out", out, "--steps", "900", "--eval-episodes", "20")
	if !strings.Contains(resumed.stderr, "agent=reinforce") {
		t.Errorf("resume log does not name the agent:\n%s", resumed.stderr)
	}
	if got := readCheckpoint(t, checkpointPath(out)).Training.EnvSteps; got < 900 {
		t.Errorf("resumed run stopped at %d shopper-steps, want at least 900", got)
	}
}

// TestReinforceRejectsDQNFlags checks that each agent rejects the other's hyperparameters.
func TestReinforceRejectsDQNFlags(t *testing.T) {
	for _, flag := range []string{"--replay-capacity", "--learning-starts", "--target-update", "--epsilon-steps", "--batch-size", "--tau"} {
		value := "100"
		if flag == "--tau" {
			value = "0.01"
		}
		r := execute(t, "train", "--out", "run", "--persona", "cheap_blue", "--items", "20", "--agent", "reinforce", flag, value)
		if r.code == 0 || !strings.Contains(r.stderr, flag[2:]) {
			t.Errorf("%s with --agent reinforce: exit code %d, stderr %q; want an error naming the flag", flag, r.code, r.stderr)
		}
	}
	for _, flag := range []string{"--batch-states", "--entropy-coef", "--max-weight", "--top-k-correction=false"} {
		args := []string{"train", "--out", "run", "--persona", "cheap_blue", "--items", "20", flag}
		if !strings.Contains(flag, "=") {
			args = append(args, "3")
		}
		name := strings.TrimSuffix(flag, "=false")
		if r := execute(t, args...); r.code == 0 || !strings.Contains(r.stderr, name+" sets a REINFORCE hyperparameter") {
			t.Errorf("%s with the DQN: exit code %d, stderr %q; want an error naming the flag", flag, r.code, r.stderr)
		}
	}
	r := execute(t, "train", "--out", "run", "--persona", "cheap_blue", "--agent", "ppo")
	if r.code == 0 || !strings.Contains(r.stderr, "reinforce") {
		t.Errorf("--agent ppo: exit code %d, stderr %q; want an error listing the agents", r.code, r.stderr)
	}
	r = execute(t, "train", "--out", "run", "--persona", "cheap_blue", "--lr-schedule", "step")
	if r.code == 0 || !strings.Contains(r.stderr, "cosine") {
		t.Errorf("--lr-schedule step: exit code %d, stderr %q; want an error listing the schedules", r.code, r.stderr)
	}
}

// TestScheduleFlagsNeedEachOther checks that train rejects schedule and target flags that
// the other flags would make it ignore, or a decaying schedule without its final rate.
func TestScheduleFlagsNeedEachOther(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--lr-final", "1e-4"}, "--lr-final applies only to a decaying schedule"},
		{[]string{"--lr-steps", "100"}, "--lr-steps applies only to a decaying schedule"},
		{[]string{"--agent", "reinforce", "--lr-steps", "100"}, "--lr-steps applies only to a decaying schedule"},
		{[]string{"--lr-schedule", "cosine"}, "--lr-schedule cosine needs --lr-final"},
		{[]string{"--agent", "reinforce", "--lr-schedule", "linear"}, "--lr-schedule linear needs --lr-final"},
		{[]string{"--tau", "0.01", "--target-update", "10"}, "--target-update applies only with --tau 0"},
	} {
		args := append([]string{"train", "--out", "run", "--persona", "cheap_blue", "--items", "20"}, c.args...)
		if r := execute(t, args...); r.code == 0 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("train %s: exit code %d, stderr %q; want an error containing %q", strings.Join(c.args, " "), r.code, r.stderr, c.want)
		}
	}
}

func TestCompareEachPersona(t *testing.T) {
	out := filepath.Join(t.TempDir(), "mix")
	mustExecute(t, append([]string{"train", "--out", out, "--persona", "cheap_blue:0.5,value_seeker:0.5,brand_lover:0", "--items", "20",
		"--lr-schedule", "linear", "--lr-final", "1e-4", "--tau", "0.01"}, tinyTraining...)...)
	r := mustExecute(t, "compare", "--model", checkpointPath(out), "--each-persona", "--episodes", "10", "--json")
	results := decodeResults(t, r.stdout)
	var personas []string
	for _, res := range results {
		if res.Recommender == "dqn:mix" {
			personas = append(personas, res.Persona)
		}
	}
	if want := []string{"cheap_blue", "value_seeker"}; !slices.Equal(personas, want) {
		t.Errorf("dqn:mix evaluated on %v, want %v: each persona of the mix with a share above 0", personas, want)
	}
	if strings.Contains(r.stderr, "not trained on") {
		t.Errorf("compare warned about personas of the model's own mix:\n%s", r.stderr)
	}
}

func TestAgentModelNames(t *testing.T) {
	cases := map[string]string{
		"runs/cb/checkpoints/latest.msgpack": "reinforce:cb",
		"runs/cb/checkpoints/best.msgpack":   "reinforce:cb/best",
		"models/cheap.msgpack":               "reinforce:cheap",
	}
	for path, want := range cases {
		if got := agentModelName("reinforce", path); got != want {
			t.Errorf("agentModelName(reinforce, %q) = %q; want %q", path, got, want)
		}
	}
}

// TestReinforceResumeMatchesStraightRun stops a REINFORCE run saved with --save-replay,
// resumes it, and compares the final weights with those of a run that never stopped.
func TestReinforceResumeMatchesStraightRun(t *testing.T) {
	dir := t.TempDir()
	base := []string{"--persona", "cheap_blue", "--items", "20", "--agent", "reinforce", "--envs", "4",
		"--eval-episodes", "20", "--hidden", "16", "--batch-states", "32", "--save-replay"}
	straight := filepath.Join(dir, "straight")
	mustExecute(t, append([]string{"train", "--out", straight, "--steps", "1000"}, base...)...)
	stopped := filepath.Join(dir, "stopped")
	mustExecute(t, append([]string{"train", "--out", stopped, "--steps", "500"}, base...)...)
	mustExecute(t, "train", "--resume", checkpointPath(stopped), "--out", stopped, "--steps", "1000", "--eval-episodes", "20")

	want := readCheckpoint(t, checkpointPath(straight))
	got := readCheckpoint(t, checkpointPath(stopped))
	if got.Training.Updates != want.Training.Updates {
		t.Errorf("updates %d after resuming, %d straight", got.Training.Updates, want.Training.Updates)
	}
	for i, w := range want.Graph.Initializers {
		if string(got.Graph.Initializers[i].Data) != string(w.Data) {
			t.Errorf("weights %s differ from the straight run's after resuming", w.Name)
		}
	}
}

// TestInspectReinforceCheckpoint checks that inspect lists the baseline network's tensors
// and the stored rollouts of a REINFORCE checkpoint saved with --save-replay.
func TestInspectReinforceCheckpoint(t *testing.T) {
	out := filepath.Join(t.TempDir(), "rf")
	mustExecute(t, append([]string{"train", "--out", out, "--persona", "cheap_blue", "--items", "20", "--save-replay"}, tinyReinforce...)...)
	ckpt, err := checkpoints.Load(checkpointPath(out))
	if err != nil {
		t.Fatal(err)
	}
	report := inspectJSON(t, checkpointPath(out))

	groups := map[string]int{}
	for _, tensor := range report.Tensors {
		groups[tensor.Group]++
	}
	want := len(ckpt.Training.Baseline.Weights)
	for _, g := range []string{"training.baseline", "training.baseline.adam_m", "training.baseline.adam_v"} {
		if groups[g] != want {
			t.Errorf("group %s has %d tensors; want the baseline's %d", g, groups[g], want)
		}
	}
	states := len(ckpt.Training.Rollouts.Session)
	if states == 0 {
		t.Fatal("a REINFORCE checkpoint saved with --save-replay stores no rollouts")
	}
	if report.Training.RolloutStates != states {
		t.Errorf("inspect --json reports %d rollout states; the file stores %d", report.Training.RolloutStates, states)
	}
	text := mustExecute(t, "inspect", checkpointPath(out)).stdout
	if want := fmt.Sprintf("%d states not yet learned from, stored", states); !strings.Contains(text, want) {
		t.Errorf("text report lacks %q:\n%s", want, text)
	}
	if strings.Contains(text, "replay buffer") {
		t.Errorf("text report speaks of a replay buffer for REINFORCE:\n%s", text)
	}
}
