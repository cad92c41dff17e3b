package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// recsimRow is one row of the JSON output of RecSim's scenario.
type recsimRow struct {
	Policy   string  `json:"policy"`
	Episodes int     `json:"episodes"`
	Mean     float64 `json:"return_mean"`
	CI95     float64 `json:"return_ci95"`
}

func decodeRecSim(t *testing.T, stdout string) []recsimRow {
	t.Helper()
	var rows []recsimRow
	if err := json.Unmarshal([]byte(stdout), &rows); err != nil {
		t.Fatalf("decode JSON output: %v\n%s", err, stdout)
	}
	return rows
}

// TestRecSimTrainEvalCompare trains SlateQ briefly on RecSim's scenario, then evaluates and
// compares the checkpoint, which must reproduce the training run's own evaluation.
func TestRecSimTrainEvalCompare(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	mustExecute(t, "train", "--scenario", "recsim-iev", "--out", out, "--steps", "1200", "--envs", "4",
		"--eval-episodes", "12", "--learning-starts", "100", "--batch-size", "16", "--hidden", "8",
		"--candidates", "6", "--recsim-quirks")
	model := filepath.Join(out, "checkpoints", "latest.msgpack")

	evalJSON := mustExecute(t, "eval", "--scenario", "recsim-iev", "--model", model, "--episodes", "12", "--json").stdout
	// The keys follow those of the shop's results, such as return_mean and session_length.
	var keys []map[string]any
	if err := json.Unmarshal([]byte(evalJSON), &keys); err != nil || len(keys) != 1 {
		t.Fatalf("decode eval --json: %v\n%s", err, evalJSON)
	}
	for _, k := range []string{"policy", "episodes", "return_mean", "return_stdev", "return_ci95", "session_length", "clicks", "clicked_quality"} {
		if _, ok := keys[0][k]; !ok {
			t.Errorf("eval --json lacks the key %s:\n%s", k, evalJSON)
		}
	}
	eval := decodeRecSim(t, evalJSON)
	if len(eval) != 1 || eval[0].Policy != "slateq:run" || eval[0].Episodes != 12 {
		t.Fatalf("eval rows %+v; want one slateq:run row of 12 episodes", eval)
	}

	rows := decodeRecSim(t, mustExecute(t, "compare", "--scenario", "recsim-iev", "--model", model, "--episodes", "12", "--json").stdout)
	var names []string
	for _, r := range rows {
		names = append(names, r.Policy)
	}
	if got := strings.Join(names, ","); got != "random,greedy,slateq:run" {
		t.Fatalf("compare rows %s; want random,greedy,slateq:run", got)
	}
	if rows[2].Mean != eval[0].Mean {
		t.Errorf("compare gives slateq %v, eval %v, on the same seed", rows[2].Mean, eval[0].Mean)
	}

	// inspect shows the scenario, not the shop and catalog that SlateQ has none of.
	raw := mustExecute(t, "inspect", model, "--json").stdout
	var report struct {
		Metadata map[string]json.RawMessage `json:"metadata"`
	}
	if err := json.Unmarshal([]byte(raw), &report); err != nil {
		t.Fatalf("decode inspect --json output: %v\n%s", err, raw)
	}
	for _, key := range []string{"shop", "catalog"} {
		if v, ok := report.Metadata[key]; ok {
			t.Errorf("inspect --json shows %s %s for a SlateQ checkpoint", key, v)
		}
	}
	var scenario struct {
		Name          string    `json:"name"`
		Candidates    int       `json:"candidates"`
		Slate         int       `json:"slate"`
		ResampleDocs  bool      `json:"resample_docs"`
		RecSimQuirks  bool      `json:"recsim_quirks"`
		ChoiceWeights []float64 `json:"choice_weights"`
	}
	if err := json.Unmarshal(report.Metadata["scenario"], &scenario); err != nil {
		t.Fatalf("decode the scenario of inspect --json: %v\n%s", err, raw)
	}
	if scenario.Name != "recsim-iev" || scenario.Candidates != 6 || scenario.Slate != 2 || !scenario.ResampleDocs || !scenario.RecSimQuirks {
		t.Errorf("inspect --json scenario %+v; want recsim-iev, 6 candidates, slate 2, resampling, quirks", scenario)
	}
	if len(scenario.ChoiceWeights) != 41 {
		t.Errorf("inspect --json shows %d choice weights; want 41", len(scenario.ChoiceWeights))
	}
	text := mustExecute(t, "inspect", model).stdout
	for _, want := range []string{"recsim-iev, 6 candidates, slate size 2, resample documents true, RecSim quirks true", "41 weights ["} {
		if !strings.Contains(text, want) {
			t.Errorf("inspect lacks %q:\n%s", want, text)
		}
	}
	if !strings.Contains(text, "not stored; a SlateQ checkpoint cannot resume training") || strings.Contains(text, "resumed run") {
		t.Errorf("inspect does not say that a SlateQ checkpoint cannot resume:\n%s", text)
	}
	if strings.Contains(text, "persona ,") || strings.Contains(text, "0 items") {
		t.Errorf("inspect shows an empty shop or catalog for a SlateQ checkpoint:\n%s", text)
	}

	// A second run in the same folder needs --force, since a SlateQ run cannot resume.
	again := execute(t, "train", "--scenario", "recsim-iev", "--out", out, "--steps", "64", "--envs", "4", "--eval-episodes", "2")
	if again.code == 0 || !strings.Contains(again.stderr, "which SlateQ cannot resume; choose another --out, or pass --force") || strings.Contains(again.stderr, "--resume") {
		t.Errorf("train into a SlateQ run folder: exit code %d, stderr %q; want an error without --resume", again.code, again.stderr)
	}

	// A SlateQ checkpoint cannot resume, nor join a comparison of shop models.
	shopModel := filepath.Join(t.TempDir(), "shop")
	trainTiny(t, shopModel)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"train", "--resume", model, "--out", out, "--steps", "5000"}, "SlateQ agent of --scenario recsim-iev"},
		{[]string{"compare", "--model", checkpointPath(shopModel), "--model", model}, "SlateQ agent of --scenario recsim-iev"},
		{[]string{"compare", "--model", model, "--model", checkpointPath(shopModel)}, "apart from SlateQ checkpoints"},
	} {
		if r := execute(t, c.args...); r.code == 0 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("simshop-train %s: exit code %d, stderr %q; want an error containing %q", strings.Join(c.args, " "), r.code, r.stderr, c.want)
		}
	}

	// Without --scenario, the SlateQ checkpoint selects RecSim's scenario.
	implicit := decodeRecSim(t, mustExecute(t, "eval", "--model", model, "--episodes", "12", "--json").stdout)
	if len(implicit) != 1 || implicit[0].Mean != eval[0].Mean {
		t.Errorf("eval without --scenario gives %+v; want %+v", implicit, eval)
	}
}

func TestRecSimRejectsFlags(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"train", "--scenario", "recsim-iev", "--out", out, "--resume", "x.msgpack"}, "--resume is not available"},
		{[]string{"train", "--scenario", "recsim-iev", "--out", out, "--persona", "cheap_blue"}, "--persona does not apply"},
		{[]string{"compare", "--candidates", "5"}, "--candidates applies only to --scenario recsim-iev"},
		{[]string{"compare", "--scenario", "recsim"}, `--scenario "recsim" is unknown`},
		{[]string{"compare", "--scenario", "recsim-iev", "--candidates", "1"}, "slate size 2 is invalid with 1 candidates"},
		{[]string{"train", "--scenario", "recsim-iev", "--out", out, "--slateq-target", "previous"}, `SlateQ target "previous" is unknown`},
		{[]string{"train", "--scenario", "recsim-iev", "--out", out, "--dashboard", "127.0.0.1:0"}, "--dashboard is not available with --scenario recsim-iev"},
		{[]string{"train", "--scenario", "recsim-iev", "--out", out, "--lr-schedule", "cosine"}, "--lr-schedule is not available"},
		{[]string{"train", "--scenario", "recsim-iev", "--out", out, "--tau", "0.01"}, "--tau is not available"},
		{[]string{"train", "--scenario", "recsim-iev", "--out", out, "--eval-every", "100"}, "--eval-every is not available"},
		{[]string{"train", "--scenario", "recsim-iev", "--out", out, "--budget", "3"}, "--budget does not apply"},
		{[]string{"eval", "--scenario", "recsim-iev", "--model", "x.msgpack", "--budget", "3"}, "--budget does not apply"},
		{[]string{"eval", "--scenario", "recsim-iev", "--model", "x.msgpack", "--true-choice"}, "--true-choice applies to train only"},
		{[]string{"compare", "--scenario", "recsim-iev", "--history=false"}, "--history applies to train only"},
		{[]string{"compare", "--scenario", "recsim-iev", "--each-persona"}, "--each-persona does not apply"},
	} {
		r := execute(t, c.args...)
		if r.code == 0 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("simshop-train %s: exit code %d, stderr %q; want an error containing %q", strings.Join(c.args, " "), r.code, r.stderr, c.want)
		}
	}
}

// TestRecSimSessionsDefault checks that SlateQ training runs the number of sessions that
// the help of --envs gives for RecSim's scenario.
func TestRecSimSessionsDefault(t *testing.T) {
	help := mustExecute(t, "train", "--help").stdout
	if !strings.Contains(help, "32 by default with --scenario recsim-iev") {
		t.Errorf("train --help does not give --envs 32 for recsim-iev:\n%s", help)
	}
	out := filepath.Join(t.TempDir(), "run")
	r := mustExecute(t, "train", "--scenario", "recsim-iev", "--out", out, "--steps", "64", "--eval-episodes", "2", "--hidden", "8")
	if !strings.Contains(r.stderr, " envs=32 ") {
		t.Errorf("SlateQ training log does not show envs=32:\n%s", r.stderr)
	}
}
