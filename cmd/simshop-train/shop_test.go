package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
)

// checkpointShop returns the shop map of a checkpoint's metadata, keyed by Go field name.
func checkpointShop(t *testing.T, path string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read checkpoint: %v", err)
	}
	var c struct {
		Metadata struct {
			Shop map[string]any `msgpack:"shop"`
		} `msgpack:"metadata"`
	}
	if err := msgpack.Unmarshal(data, &c); err != nil {
		t.Fatalf("decode checkpoint %s: %v", path, err)
	}
	return c.Metadata.Shop
}

// TestChoiceModelFlag trains under the cascade model and checks that the checkpoint records
// it, that eval uses it unless --choice-model sets another, and that a default run's
// checkpoint has no ChoiceModel or Drift field.
func TestChoiceModelFlag(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	trainTiny(t, out, "--choice-model", "cascade")
	checkpointFile := checkpointPath(out)
	if got := checkpointShop(t, checkpointFile)["ChoiceModel"]; got != "cascade" {
		t.Errorf("checkpoint ChoiceModel = %v; want cascade", got)
	}

	byDefault := evalJSON(t, checkpointFile)
	if explicit := evalJSON(t, checkpointFile, "--choice-model", "cascade"); explicit != byDefault {
		t.Errorf("eval with --choice-model cascade differs from eval with the model's choice model:\n%s\n%s", explicit, byDefault)
	}
	if logit := evalJSON(t, checkpointFile, "--choice-model", "mnl"); logit == byDefault {
		t.Error("eval with --choice-model mnl gives the same figures as the cascade model")
	}

	plain := filepath.Join(t.TempDir(), "run")
	trainTiny(t, plain)
	shop := checkpointShop(t, checkpointPath(plain))
	for _, key := range []string{"ChoiceModel", "Drift"} {
		if v, ok := shop[key]; ok {
			t.Errorf("a default run's checkpoint has %s = %v; want the field left out", key, v)
		}
	}

	r := mustExecute(t, "compare", "--persona", "cheap_blue", "--choice-model", "position", "--items", "20", "--episodes", "20", "--envs", "4", "--json")
	if results := decodeResults(t, r.stdout); len(results) == 0 {
		t.Error("compare under the position model printed no results")
	}
}

// TestDriftFlag trains with a drift schedule and checks that the checkpoint records it and
// that eval reproduces the evaluation that train printed, which ran in the shop of the last
// training step.
func TestDriftFlag(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	drift := "favorite_color=red@200,price=Tops*0.5@300,remove_category=Tops@400"
	trained := trainTiny(t, out, "--drift", drift, "--seed", "5")
	checkpointFile := checkpointPath(out)
	if got := checkpointShop(t, checkpointFile)["Drift"]; got != drift {
		t.Errorf("checkpoint Drift = %v; want %q", got, drift)
	}
	res := decodeResults(t, evalJSON(t, checkpointFile, "--seed", "5"))[0]
	row := tableRow(t, trained.stdout, "dqn:run")
	if got := fmt.Sprintf("%.3f", res.RewardPerStep); got != row[3] {
		t.Errorf("eval reward/step = %s; train printed %s", got, row[3])
	}
	if got := fmt.Sprintf("%.3f", res.CTR); got != row[5] {
		t.Errorf("eval ctr = %s; train printed %s", got, row[5])
	}

	// A resumed run keeps the schedule and continues it.
	mustExecute(t, "train", "--resume", checkpointFile, "--out", out, "--steps", "1200", "--eval-episodes", "20")
	if got := checkpointShop(t, checkpointFile)["Drift"]; got != drift {
		t.Errorf("resumed checkpoint Drift = %v; want %q", got, drift)
	}
}

func TestChoiceModelAndDriftBadInput(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "run")
	trainTiny(t, out)
	checkpointFile := checkpointPath(out)
	trainArgs := func(flags ...string) []string {
		args := append([]string{"train", "--out", filepath.Join(dir, "bad"), "--persona", "cheap_blue", "--items", "20"}, tinyTraining...)
		return append(args, flags...)
	}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"train unknown choice model", trainArgs("--choice-model", "probit"), `unknown choice model "probit"; valid models: mnl, cascade, position`},
		{"eval unknown choice model", []string{"eval", "--model", checkpointFile, "--choice-model", "probit"}, `unknown choice model "probit"`},
		{"compare unknown choice model", []string{"compare", "--persona", "cheap_blue", "--choice-model", "probit", "--items", "20", "--envs", "4", "--episodes", "5"}, `unknown choice model "probit"`},
		{"unknown change", trainArgs("--drift", "colour=red@10"), `unknown change "colour"`},
		{"malformed entry", trainArgs("--drift", "favorite_color=red"), "has no @STEP"},
		{"negative step", trainArgs("--drift", "favorite_color=red@-10"), "step -10 is negative"},
		{"past the end", trainArgs("--drift", "favorite_color=red@600"), "is due at shopper-step 600, not before the end of the run at 600 shopper-steps"},
		{"rounded past the end", trainArgs("--drift", "favorite_color=red@597"), "takes effect at shopper-step 600, the first multiple of the 4 sessions"},
		{"colour not in catalog", trainArgs("--drift", "favorite_color=teal@10"), `colour "teal" is not in catalog`},
		{"resume choice model", []string{"train", "--resume", checkpointFile, "--out", out, "--steps", "1200", "--choice-model", "cascade"}, "--choice-model cannot change a resumed run"},
		{"resume drift", []string{"train", "--resume", checkpointFile, "--out", out, "--steps", "1200", "--drift", "favorite_color=red@700"}, "--drift cannot change a resumed run"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := execute(t, tc.args...)
			if r.code == 0 {
				t.Fatalf("exit code 0; want an error\nstdout:\n%s", r.stdout)
			}
			if !strings.Contains(r.stderr, tc.want) {
				t.Errorf("stderr = %q; want it to contain %q", r.stderr, tc.want)
			}
		})
	}
}
