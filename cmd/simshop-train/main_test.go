package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/simshop/simshop/checkpoints"
	"github.com/simshop/simshop/rl"
	"github.com/simshop/simshop/simenv"
)

// binPath is the simshop-train binary that TestMain builds once for every test.
var binPath string

func TestMain(m *testing.M) {
	os.Exit(buildAndRun(m))
}

// buildAndRun builds the command with the go tool from PATH, runs the tests and removes
// the binary.
func buildAndRun(m *testing.M) int {
	dir, err := os.MkdirTemp("", "simshop-train-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "create build folder:", err)
		return 1
	}
	defer os.RemoveAll(dir)

	binPath = filepath.Join(dir, "simshop-train")
	build := exec.Command("go", "build", "-o", binPath, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build simshop-train:", err)
		return 1
	}
	return m.Run()
}

// commandTimeout bounds one run of the binary, so that a hang fails one test instead of
// stalling the package until go test's own timeout.
const commandTimeout = 2 * time.Minute

// result is the outcome of one run of the binary.
type result struct {
	stdout string
	stderr string
	code   int
}

// execute runs the binary with args in a fresh temporary folder.
func execute(t *testing.T, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, binPath, args...)
	cmd.Dir = t.TempDir()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()

	r := result{stdout: stdout.String(), stderr: stderr.String()}
	var exitErr *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("simshop-train %s: timed out after %v", strings.Join(args, " "), commandTimeout)
	case errors.As(err, &exitErr):
		r.code = exitErr.ExitCode()
	case err != nil:
		t.Fatalf("start simshop-train: %v", err)
	}
	return r
}

// mustExecute runs the binary and fails the test unless it exits with code 0.
func mustExecute(t *testing.T, args ...string) result {
	t.Helper()
	r := execute(t, args...)
	if r.code != 0 {
		t.Fatalf("simshop-train %s: exit code %d; want 0\nstderr:\n%s", strings.Join(args, " "), r.code, r.stderr)
	}
	return r
}

// tinyTraining is a small training budget that still runs every stage: 600 shopper-steps
// in 4 sessions, a 16-unit network that starts learning after 64 transitions, and 20
// evaluation sessions.
var tinyTraining = []string{
	"--steps", "600", "--envs", "4", "--eval-episodes", "20",
	"--learning-starts", "64", "--batch-size", "16", "--hidden", "16",
}

// trainTiny trains a cheap_blue model on a generated 20-item catalog into the run folder
// out. extra flags come last, so they may override --steps, --seed and the others.
func trainTiny(t *testing.T, out string, extra ...string) result {
	t.Helper()
	args := []string{"train", "--out", out, "--persona", "cheap_blue", "--items", "20"}
	args = append(args, tinyTraining...)
	return mustExecute(t, append(args, extra...)...)
}

// checkpointPath returns where train writes the checkpoint of run folder out.
func checkpointPath(out string) string {
	return filepath.Join(out, "checkpoints", "latest.msgpack")
}

// evalResult is one object of the JSON array that eval and compare print.
type evalResult struct {
	Recommender   string  `json:"recommender"`
	Persona       string  `json:"persona"`
	Episodes      int     `json:"episodes"`
	CTR           float64 `json:"ctr"`
	PurchaseRate  float64 `json:"purchase_rate"`
	RewardPerStep float64 `json:"reward_per_step"`
	ReturnMean    float64 `json:"return_mean"`
	ReturnCI95    float64 `json:"return_ci95"`
}

// decodeResults decodes the JSON array that eval --json and compare --json print.
func decodeResults(t *testing.T, stdout string) []evalResult {
	t.Helper()
	var results []evalResult
	if err := json.Unmarshal([]byte(stdout), &results); err != nil {
		t.Fatalf("decode JSON output: %v\noutput:\n%s", err, stdout)
	}
	return results
}

// evalJSON evaluates model on 20 episodes with evaluation seed 1, unless extra overrides
// them, and returns the raw JSON output.
func evalJSON(t *testing.T, model string, extra ...string) string {
	t.Helper()
	args := []string{"eval", "--model", model, "--episodes", "20", "--seed", "1", "--json"}
	return mustExecute(t, append(args, extra...)...).stdout
}

// checkpointSummary is the part of a checkpoint file that the tests read.
type checkpointSummary struct {
	Graph struct {
		Initializers []struct {
			Name string `msgpack:"name"`
			Data []byte `msgpack:"data"`
		} `msgpack:"initializers"`
	} `msgpack:"graph"`
	Metadata struct {
		Metrics map[string]float64 `msgpack:"metrics"`
	} `msgpack:"metadata"`
	Training struct {
		EnvSteps int64 `msgpack:"env_steps"`
		Updates  int64 `msgpack:"updates"`
	} `msgpack:"training"`
}

func readCheckpoint(t *testing.T, path string) checkpointSummary {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read checkpoint: %v", err)
	}
	var c checkpointSummary
	if err := msgpack.Unmarshal(data, &c); err != nil {
		t.Fatalf("decode checkpoint %s: %v", path, err)
	}
	return c
}

// tableRow returns the fields of the stdout table row whose first column is recommender.
// The columns are recommender, persona, episodes, reward/step, its ±95%, ctr, purchase
// rate, return, its ±95%, session length, coverage and diversity.
func tableRow(t *testing.T, stdout, recommender string) []string {
	t.Helper()
	for _, line := range strings.Split(stdout, "\n") {
		fields := strings.Fields(line)
		if len(fields) > 0 && fields[0] == recommender {
			if len(fields) != 12 {
				t.Fatalf("table row %q has %d columns; want 12", line, len(fields))
			}
			return fields
		}
	}
	t.Fatalf("no table row for recommender %q in output:\n%s", recommender, stdout)
	return nil
}

// lastLine returns the last non-empty line of s.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}

func TestTrainWritesCheckpoint(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	r := trainTiny(t, out)
	checkpointFile := checkpointPath(out)

	if _, err := os.Stat(checkpointFile); err != nil {
		t.Errorf("checkpoint missing: %v", err)
	}
	if got, want := lastLine(r.stdout), "checkpoint: "+checkpointFile; got != want {
		t.Errorf("last stdout line = %q; want %q", got, want)
	}
	if !strings.Contains(r.stdout, "evaluated with --seed 1 --episodes 20\n") {
		t.Errorf("stdout lacks the evaluation settings line:\n%s", r.stdout)
	}
	row := tableRow(t, r.stdout, "dqn:run")
	if got, want := row[1], "cheap_blue"; got != want {
		t.Errorf("table persona = %q; want %q", got, want)
	}
	if got, want := row[2], "20"; got != want {
		t.Errorf("table episodes = %q; want %q", got, want)
	}

	// The metrics file has the documented header and one row per progress report, the last
	// one at the final step.
	f, err := os.Open(filepath.Join(out, "metrics.csv"))
	if err != nil {
		t.Fatalf("open metrics.csv: %v", err)
	}
	defer f.Close()
	records, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("parse metrics.csv: %v", err)
	}
	if len(records) < 2 {
		t.Fatalf("metrics.csv has %d records; want a header and at least one row", len(records))
	}
	wantHeader := []string{"env_steps", "episodes", "updates", "epsilon", "loss", "return_mean", "ctr", "steps_per_second", "purchase_rate"}
	if !slices.Equal(records[0], wantHeader) {
		t.Errorf("metrics.csv header = %v; want %v", records[0], wantHeader)
	}
	if got, want := records[len(records)-1][0], "600"; got != want {
		t.Errorf("last metrics row env_steps = %s; want %s", got, want)
	}
}

func TestEvalJSON(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	trainTiny(t, out)
	stdout := evalJSON(t, checkpointPath(out), "--episodes", "17", "--seed", "5")

	// Check the JSON types field by field, because decoding into a struct would accept a
	// missing field as zero.
	var raw []map[string]any
	if err := json.Unmarshal([]byte(stdout), &raw); err != nil {
		t.Fatalf("decode JSON output: %v\noutput:\n%s", err, stdout)
	}
	if len(raw) != 1 {
		t.Fatalf("JSON array has %d objects; want 1", len(raw))
	}
	for _, key := range []string{"recommender", "persona"} {
		if _, ok := raw[0][key].(string); !ok {
			t.Errorf("field %s = %#v; want a string", key, raw[0][key])
		}
	}
	for _, key := range []string{"episodes", "ctr", "purchase_rate", "reward_per_step", "return_mean", "return_ci95"} {
		if _, ok := raw[0][key].(float64); !ok {
			t.Errorf("field %s = %#v; want a number", key, raw[0][key])
		}
	}

	res := decodeResults(t, stdout)[0]
	if got, want := res.Episodes, 17; got != want {
		t.Errorf("episodes = %d; want %d", got, want)
	}
	if got, want := res.Persona, "cheap_blue"; got != want {
		t.Errorf("persona = %q; want %q", got, want)
	}
	if got, want := res.Recommender, "dqn:run"; got != want {
		t.Errorf("recommender = %q; want %q", got, want)
	}
	if res.CTR < 0 || res.CTR > 1 {
		t.Errorf("ctr = %g; want a value in [0, 1]", res.CTR)
	}
	if res.PurchaseRate < 0 || res.PurchaseRate > res.CTR {
		t.Errorf("purchase_rate = %g; want a value in [0, ctr = %g]", res.PurchaseRate, res.CTR)
	}
	if res.ReturnCI95 < 0 {
		t.Errorf("return_ci95 = %g; want at least 0", res.ReturnCI95)
	}
}

func TestEvalReproducesTraining(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	trained := trainTiny(t, out, "--seed", "7", "--eval-episodes", "23")
	checkpointFile := checkpointPath(out)

	first := evalJSON(t, checkpointFile, "--episodes", "23", "--seed", "7")
	second := evalJSON(t, checkpointFile, "--episodes", "23", "--seed", "7")
	if first != second {
		t.Errorf("two eval runs differ:\n%s\n%s", first, second)
	}
	fewerSessions := evalJSON(t, checkpointFile, "--episodes", "23", "--seed", "7", "--envs", "3")
	if fewerSessions != first {
		t.Errorf("eval with --envs 3 differs from the default --envs:\n%s\n%s", fewerSessions, first)
	}

	// The table that train printed shows the same figures at its printed precision.
	res := decodeResults(t, first)[0]
	row := tableRow(t, trained.stdout, "dqn:run")
	checks := []struct {
		column string
		got    string
		want   string
	}{
		{"episodes", fmt.Sprint(res.Episodes), row[2]},
		{"reward/step", fmt.Sprintf("%.3f", res.RewardPerStep), row[3]},
		{"ctr", fmt.Sprintf("%.3f", res.CTR), row[5]},
		{"purchase rate", fmt.Sprintf("%.3f", res.PurchaseRate), row[6]},
		{"return", fmt.Sprintf("%.2f", res.ReturnMean), row[7]},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("eval %s = %s; train printed %s", c.column, c.got, c.want)
		}
	}

	// The checkpoint stores train's evaluation at full precision.
	metrics := readCheckpoint(t, checkpointFile).Metadata.Metrics
	exact := []struct {
		key  string
		eval float64
	}{
		{"ctr", res.CTR},
		{"purchase_rate", res.PurchaseRate},
		{"reward_per_step", res.RewardPerStep},
		{"return_mean", res.ReturnMean},
		{"return_ci95", res.ReturnCI95},
	}
	for _, e := range exact {
		got, ok := metrics[e.key]
		if !ok {
			t.Errorf("checkpoint metrics lack %s", e.key)
			continue
		}
		if got != e.eval {
			t.Errorf("checkpoint metric %s = %v; eval = %v", e.key, got, e.eval)
		}
	}
}

func TestTrainDeterministic(t *testing.T) {
	// Equal base names keep the recommender name, dqn:run, equal in both outputs.
	outA := filepath.Join(t.TempDir(), "run")
	outB := filepath.Join(t.TempDir(), "run")
	outSeed2 := filepath.Join(t.TempDir(), "run")
	trainA := trainTiny(t, outA, "--seed", "3")
	trainB := trainTiny(t, outB, "--seed", "3")
	trainTiny(t, outSeed2, "--seed", "4")

	tableA := strings.Join(tableRow(t, trainA.stdout, "dqn:run"), " ")
	tableB := strings.Join(tableRow(t, trainB.stdout, "dqn:run"), " ")
	if tableA != tableB {
		t.Errorf("train tables differ for the same seed:\n%s\n%s", tableA, tableB)
	}

	evalA := evalJSON(t, checkpointPath(outA))
	evalB := evalJSON(t, checkpointPath(outB))
	if evalA != evalB {
		t.Errorf("eval output differs for the same training seed:\n%s\n%s", evalA, evalB)
	}
	evalSeed2 := evalJSON(t, checkpointPath(outSeed2))
	if evalSeed2 == evalA {
		t.Errorf("eval output is the same for training seeds 3 and 4:\n%s", evalA)
	}

	weightsA := readCheckpoint(t, checkpointPath(outA)).Graph.Initializers
	weightsB := readCheckpoint(t, checkpointPath(outB)).Graph.Initializers
	if len(weightsA) == 0 {
		t.Fatal("checkpoint has no initializers")
	}
	if len(weightsA) != len(weightsB) {
		t.Fatalf("checkpoints have %d and %d initializers", len(weightsA), len(weightsB))
	}
	for i := range weightsA {
		if !bytes.Equal(weightsA[i].Data, weightsB[i].Data) {
			t.Errorf("initializer %s differs between runs with the same seed", weightsA[i].Name)
		}
	}
}

func TestTrainResume(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	trainTiny(t, out)
	checkpointFile := checkpointPath(out)
	before := readCheckpoint(t, checkpointFile).Training
	if got, want := before.EnvSteps, int64(600); got != want {
		t.Errorf("env_steps after the first run = %d; want %d", got, want)
	}

	r := mustExecute(t, "train", "--resume", checkpointFile, "--out", out, "--steps", "1200", "--eval-episodes", "20")

	// The log reports the step the run resumes from.
	var resuming string
	for _, line := range strings.Split(r.stderr, "\n") {
		if strings.Contains(line, "msg=resuming") {
			resuming = line
		}
	}
	if resuming == "" {
		t.Fatalf("stderr has no resuming line:\n%s", r.stderr)
	}
	if !slices.Contains(strings.Fields(resuming), "step=600") {
		t.Errorf("resuming line = %q; want step=600", resuming)
	}
	if got, want := lastLine(r.stdout), "checkpoint: "+checkpointFile; got != want {
		t.Errorf("last stdout line = %q; want %q", got, want)
	}

	after := readCheckpoint(t, checkpointFile).Training
	if after.EnvSteps < 1200 {
		t.Errorf("env_steps after resuming = %d; want at least 1200", after.EnvSteps)
	}
	if after.Updates <= before.Updates {
		t.Errorf("updates after resuming = %d; want more than %d", after.Updates, before.Updates)
	}
	if res := decodeResults(t, evalJSON(t, checkpointFile)); len(res) != 1 {
		t.Errorf("eval of the resumed checkpoint returned %d results; want 1", len(res))
	}
}

func TestResumeRejectsFlags(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	trainTiny(t, out)
	checkpointFile := checkpointPath(out)

	cases := []struct {
		name string
		args []string
		want string
	}{
		{"steps not beyond", []string{"--steps", "600"}, "--steps 600"},
		{"persona", []string{"--steps", "1200", "--persona", "cheap_blue"}, "--persona"},
		{"return probability", []string{"--steps", "1200", "--return-prob", "0.5"}, "--return-prob"},
		{"seed", []string{"--steps", "1200", "--seed", "2"}, "--seed"},
		{"hidden", []string{"--steps", "1200", "--hidden", "32"}, "--hidden"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"train", "--resume", checkpointFile, "--out", out}, tc.args...)
			r := execute(t, args...)
			if r.code == 0 {
				t.Fatalf("exit code 0; want an error naming %s", tc.want)
			}
			if !strings.Contains(r.stderr, tc.want) {
				t.Errorf("stderr = %q; want it to name %s", r.stderr, tc.want)
			}
		})
	}
}

// personaBaselines lists the rows compare prints for the baselines, persona by persona.
var personaBaselines = func() []string {
	var rows []string
	for _, persona := range simenv.PersonaNames {
		for _, baseline := range rl.BaselineNames {
			rows = append(rows, baseline+"/"+persona)
		}
		rows = append(rows, "oracle/"+persona)
	}
	return rows
}()

// rowNames returns "recommender/persona" for each result.
func rowNames(results []evalResult) []string {
	names := make([]string, len(results))
	for i, r := range results {
		names[i] = r.Recommender + "/" + r.Persona
	}
	return names
}

func TestCompareBaselines(t *testing.T) {
	r := mustExecute(t, "compare", "--persona", "all", "--items", "20", "--episodes", "20", "--envs", "4", "--json")
	results := decodeResults(t, r.stdout)
	if got := rowNames(results); !slices.Equal(got, personaBaselines) {
		t.Errorf("rows = %v; want %v", got, personaBaselines)
	}
	for _, res := range results {
		if res.Episodes != 20 {
			t.Errorf("%s/%s episodes = %d; want 20", res.Recommender, res.Persona, res.Episodes)
		}
	}
}

func TestCompareReference(t *testing.T) {
	r := mustExecute(t, "compare", "--persona", "brand_lover", "--reference", "posterior", "--reference", "posterior-itemwise",
		"--items", "20", "--episodes", "20", "--json")
	want := []string{"random/brand_lover", "popularity/brand_lover", "filtered/brand_lover", "linucb/brand_lover",
		"posterior/brand_lover", "posterior-itemwise/brand_lover", "oracle/brand_lover"}
	if got := rowNames(decodeResults(t, r.stdout)); !slices.Equal(got, want) {
		t.Errorf("rows = %v; want %v", got, want)
	}

	bad := execute(t, "compare", "--persona", "brand_lover", "--reference", "bayes", "--items", "20", "--episodes", "20")
	if bad.code == 0 || !strings.Contains(bad.stderr, `--reference "bayes" is unknown; valid references: posterior, posterior-itemwise`) {
		t.Errorf("unknown reference: exit code %d, stderr:\n%s", bad.code, bad.stderr)
	}

	for _, persona := range []string{"cheap_blue", "all", "brand_lover:0.5,cheap_blue:0.5"} {
		other := execute(t, "compare", "--persona", persona, "--reference", "posterior", "--items", "20", "--episodes", "20")
		if other.code == 0 || !strings.Contains(other.stderr, "--reference posterior models brand_lover alone") {
			t.Errorf("posterior on --persona %s: exit code %d, stderr:\n%s", persona, other.code, other.stderr)
		}
	}
	itemWise := execute(t, "compare", "--persona", "cheap_blue", "--reference", "posterior-itemwise", "--items", "20", "--episodes", "20")
	if itemWise.code == 0 || !strings.Contains(itemWise.stderr, "--reference posterior-itemwise models brand_lover alone") {
		t.Errorf("posterior-itemwise on --persona cheap_blue: exit code %d, stderr:\n%s", itemWise.code, itemWise.stderr)
	}
	cascade := execute(t, "compare", "--persona", "brand_lover", "--choice-model", "cascade", "--reference", "posterior", "--items", "20", "--episodes", "20")
	if cascade.code == 0 || !strings.Contains(cascade.stderr, "--reference posterior assumes the multinomial logit") {
		t.Errorf("posterior under the cascade model: exit code %d, stderr:\n%s", cascade.code, cascade.stderr)
	}
	recsim := execute(t, "compare", "--scenario", "recsim-iev", "--reference", "posterior", "--episodes", "4")
	if recsim.code == 0 || !strings.Contains(recsim.stderr, "--reference adds a reference for SimShop's personas") {
		t.Errorf("posterior on recsim-iev: exit code %d, stderr:\n%s", recsim.code, recsim.stderr)
	}
}

// TestCompareFewerEpisodesThanEnvs runs compare with --episodes below the default --envs
// of 32, so evaluation steps fewer sessions than the baselines were built for.
func TestCompareFewerEpisodesThanEnvs(t *testing.T) {
	r := execute(t, "compare", "--persona", "all", "--items", "20", "--episodes", "20", "--json")
	if r.code != 0 {
		t.Fatalf("exit code %d; want 0\nstderr:\n%s", r.code, r.stderr)
	}
	if got := rowNames(decodeResults(t, r.stdout)); !slices.Equal(got, personaBaselines) {
		t.Errorf("rows = %v; want %v", got, personaBaselines)
	}
}

func TestCompareWithModel(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	trainTiny(t, out)
	checkpointFile := checkpointPath(out)

	r := mustExecute(t, "compare", "--model", checkpointFile, "--persona", "all", "--episodes", "20", "--envs", "4", "--json")
	results := decodeResults(t, r.stdout)
	var want []string
	for i, name := range personaBaselines {
		want = append(want, name)
		if i%(len(rl.BaselineNames)+1) == len(rl.BaselineNames) {
			want = append(want, "dqn:run/"+strings.SplitN(name, "/", 2)[1])
		}
	}
	if got := rowNames(results); !slices.Equal(got, want) {
		t.Fatalf("rows = %v; want %v", got, want)
	}

	// The model's cheap_blue row is the evaluation that eval prints for the same settings.
	single := decodeResults(t, evalJSON(t, checkpointFile))[0]
	if got := results[len(rl.BaselineNames)+1]; got != single {
		t.Errorf("compare row = %+v; eval = %+v", got, single)
	}
}

// TestBudgetFlag trains with budgets for every shopper and checks that the checkpoint keeps
// the setting for inspect and eval, and that eval can lift it.
func TestBudgetFlag(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	args := []string{"train", "--out", out, "--persona", "cheap_blue", "--budget", "0.5", "--items", "20"}
	mustExecute(t, append(args, tinyTraining...)...)
	checkpointFile := checkpointPath(out)

	if got := inspectJSON(t, checkpointFile).Metadata.Shop.Budget; got != 0.5 {
		t.Errorf("inspect shop budget = %v; want 0.5", got)
	}
	trained := decodeResults(t, evalJSON(t, checkpointFile, "--envs", "4"))[0]
	explicit := decodeResults(t, evalJSON(t, checkpointFile, "--envs", "4", "--budget", "0.5"))[0]
	if explicit != trained {
		t.Errorf("eval with --budget 0.5 given = %+v; want the default %+v", explicit, trained)
	}
	unlimited := decodeResults(t, evalJSON(t, checkpointFile, "--envs", "4", "--budget", "0"))[0]
	if unlimited == trained {
		t.Errorf("eval with --budget 0 = %+v, the same as with the model's budget 0.5", unlimited)
	}

	// compare evaluates in the shop of its flags, and warns that it is not the model's.
	cmp := mustExecute(t, "compare", "--model", checkpointFile, "--episodes", "4", "--envs", "4")
	if !strings.Contains(cmp.stderr, "model evaluated in a shop other than its training shop") || !strings.Contains(cmp.stderr, `differences="budget 0.5 -> 0"`) {
		t.Errorf("compare without --budget logs %q; want a warning naming budget 0.5 -> 0", cmp.stderr)
	}
	cmp = mustExecute(t, "compare", "--model", checkpointFile, "--episodes", "4", "--envs", "4", "--budget", "0.5")
	if strings.Contains(cmp.stderr, "training shop") {
		t.Errorf("compare with the model's --budget 0.5 logs %q; want no warning", cmp.stderr)
	}
}

// TestPopulationWithReturns trains on a mix of personas with returning shoppers and checks
// that the checkpoint keeps both settings for eval, and that compare takes them too.
func TestPopulationWithReturns(t *testing.T) {
	const population = "cheap_blue:0.5,learning_shopper:0.5"
	out := filepath.Join(t.TempDir(), "run")
	args := []string{"train", "--out", out, "--persona", population, "--return-prob", "0.8", "--items", "20"}
	mustExecute(t, append(args, tinyTraining...)...)
	checkpointFile := checkpointPath(out)

	// eval defaults to the model's population and return probability. With 20 episodes in 4
	// slots, 16 episodes follow another one in their slot, where a shopper can return.
	trained := decodeResults(t, evalJSON(t, checkpointFile, "--envs", "4"))[0]
	if trained.Persona != population {
		t.Errorf("eval persona = %q; want %q", trained.Persona, population)
	}
	explicit := decodeResults(t, evalJSON(t, checkpointFile, "--envs", "4", "--persona", population, "--return-prob", "0.8"))[0]
	if explicit != trained {
		t.Errorf("eval with the training settings given = %+v; want the default %+v", explicit, trained)
	}
	noReturns := decodeResults(t, evalJSON(t, checkpointFile, "--envs", "4", "--return-prob", "0"))[0]
	if noReturns == trained {
		t.Errorf("eval with --return-prob 0 = %+v, the same as with the model's 0.8", noReturns)
	}

	// compare labels every row with the population.
	r := mustExecute(t, "compare", "--persona", population, "--return-prob", "0.8", "--items", "20", "--episodes", "20", "--envs", "4", "--json")
	var want []string
	for _, baseline := range rl.BaselineNames {
		want = append(want, baseline+"/"+population)
	}
	want = append(want, "oracle/"+population)
	if got := rowNames(decodeResults(t, r.stdout)); !slices.Equal(got, want) {
		t.Errorf("rows = %v; want %v", got, want)
	}
}

func TestEvalCatalogMismatch(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	trainTiny(t, out)

	r := execute(t, "eval", "--model", checkpointPath(out), "--items", "30", "--episodes", "20")
	if r.code == 0 {
		t.Fatal("exit code 0; want an error for a 30-item catalog")
	}
	if !strings.Contains(r.stderr, "fingerprint") {
		t.Errorf("stderr = %q; want it to mention the fingerprint", r.stderr)
	}
}

// shopCSV is a valid 12-item catalog in which the blue items are the cheapest.
const shopCSV = `item_id,category,price,color,brand
p01,shirts,9.90,blue,Acme
p02,shirts,12.50,blue,Acme
p03,shirts,49.00,red,Birch
p04,shoes,15.00,blue,Cedar
p05,shoes,89.00,black,Cedar
p06,shoes,120.00,white,Birch
p07,bags,7.50,blue,Acme
p08,bags,64.00,green,Dune
p09,hats,5.00,blue,Dune
p10,hats,30.00,yellow,Acme
p11,socks,3.20,blue,Cedar
p12,socks,18.00,grey,Birch
`

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestTrainCSVCatalog(t *testing.T) {
	dir := t.TempDir()
	catalog := filepath.Join(dir, "shop.csv")
	writeFile(t, catalog, []byte(shopCSV))
	out := filepath.Join(dir, "run")

	args := append([]string{"train", "--out", out, "--persona", "cheap_blue", "--catalog", catalog}, tinyTraining...)
	r := mustExecute(t, args...)
	if !strings.Contains(r.stderr, "items=12") {
		t.Errorf("training log does not report items=12:\n%s", r.stderr)
	}

	embedded := evalJSON(t, checkpointPath(out))
	res := decodeResults(t, embedded)
	if len(res) != 1 {
		t.Fatalf("eval returned %d results; want 1", len(res))
	}
	if got, want := res[0].Episodes, 20; got != want {
		t.Errorf("episodes = %d; want %d", got, want)
	}
	fromFile := evalJSON(t, checkpointPath(out), "--catalog", catalog)
	if fromFile != embedded {
		t.Errorf("eval with --catalog differs from eval with the embedded catalog:\n%s\n%s", fromFile, embedded)
	}
}

// corruptWeight copies the checkpoint src to dst with one byte flipped in the middle of
// the first initializer's data.
func corruptWeight(t *testing.T, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := msgpack.Unmarshal(data, &doc); err != nil {
		t.Fatalf("decode %s: %v", src, err)
	}
	graph, _ := doc["graph"].(map[string]any)
	initializers, _ := graph["initializers"].([]any)
	if len(initializers) == 0 {
		t.Fatalf("%s has no graph.initializers", src)
	}
	first, _ := initializers[0].(map[string]any)
	weights, _ := first["data"].([]byte)
	if len(weights) == 0 {
		t.Fatalf("%s: the first initializer has no data bytes", src)
	}
	at := bytes.Index(data, weights)
	if at < 0 {
		t.Fatalf("%s: initializer data not found in the file", src)
	}
	corrupted := bytes.Clone(data)
	corrupted[at+len(weights)/2] ^= 0xff
	writeFile(t, dst, corrupted)
}

func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "run")
	trainTiny(t, out)
	checkpointFile := checkpointPath(out)
	data, err := os.ReadFile(checkpointFile)
	if err != nil {
		t.Fatal(err)
	}

	// Build the broken inputs. File names avoid the words the messages must contain.
	negativePrice := filepath.Join(dir, "negative.csv")
	writeFile(t, negativePrice, []byte("item_id,category,price,color,brand\na1,shirts,9.90,blue,Acme\na2,shirts,-4,blue,Acme\na3,bags,5,red,Dune\n"))
	missingCatalog := filepath.Join(dir, "missing.csv")
	missingModel := filepath.Join(dir, "missing.msgpack")
	randomModel := filepath.Join(dir, "random.msgpack")
	noise := make([]byte, 4096)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range noise {
		noise[i] = byte(rng.Uint32())
	}
	writeFile(t, randomModel, noise)
	truncatedModel := filepath.Join(dir, "cut.msgpack")
	writeFile(t, truncatedModel, data[:len(data)/2])
	emptyModel := filepath.Join(dir, "zero.msgpack")
	writeFile(t, emptyModel, nil)
	flippedModel := filepath.Join(dir, "flipped.msgpack")
	corruptWeight(t, checkpointFile, flippedModel)

	trainArgs := func(flags ...string) []string {
		args := append([]string{"train", "--out", filepath.Join(dir, "bad")}, tinyTraining...)
		return append(args, flags...)
	}
	cases := []struct {
		name string
		args []string
		want []string // each must appear in stderr
	}{
		{"unknown persona", trainArgs("--persona", "nobody", "--items", "20"), []string{`"nobody"`}},
		{"weight not a number", trainArgs("--persona", "cheap_blue:x", "--items", "20"), []string{`"cheap_blue:x"`, `weight "x"`}},
		{"return-prob 1.5", trainArgs("--persona", "cheap_blue", "--items", "20", "--return-prob", "1.5"), []string{"return probability 1.5 is invalid"}},
		{"budget negative", trainArgs("--persona", "cheap_blue", "--items", "20", "--budget", "-2"), []string{"budget -2 is invalid"}},
		{"no persona", trainArgs("--items", "20"), []string{"--persona"}},
		{"items 2", trainArgs("--persona", "cheap_blue", "--items", "2"), []string{"--items 2"}},
		{"envs 0", trainArgs("--persona", "cheap_blue", "--items", "20", "--envs", "0"), []string{"--envs 0"}},
		{"envs not a number", trainArgs("--persona", "cheap_blue", "--items", "20", "--envs", "abc"), []string{`"abc"`}},
		{"steps 0", trainArgs("--persona", "cheap_blue", "--items", "20", "--steps", "0"), []string{"--steps 0"}},
		{"hidden 64,x", trainArgs("--persona", "cheap_blue", "--items", "20", "--hidden", "64,x"), []string{"--hidden", `"x"`}},
		{"max-steps 0", trainArgs("--persona", "cheap_blue", "--items", "20", "--max-steps", "0"), []string{"0 is invalid"}},
		{"lr NaN", trainArgs("--persona", "cheap_blue", "--items", "20", "--lr", "NaN"), []string{"NaN"}},
		{"gamma NaN", trainArgs("--persona", "cheap_blue", "--items", "20", "--gamma", "NaN"), []string{"NaN"}},
		{"unknown reward", trainArgs("--persona", "cheap_blue", "--items", "20", "--reward", "bogus"), []string{`"bogus"`}},
		{"missing catalog", trainArgs("--persona", "cheap_blue", "--catalog", missingCatalog), []string{missingCatalog}},
		{"negative price", trainArgs("--persona", "cheap_blue", "--catalog", negativePrice), []string{negativePrice, "line 3", `"-4"`}},
		{"catalog and items", trainArgs("--persona", "cheap_blue", "--catalog", negativePrice, "--items", "20"), []string{"--catalog", "--items"}},
		{"no out", []string{"train", "--persona", "cheap_blue", "--items", "20"}, []string{"--out DIR is required"}},
		{"stray argument", []string{"train", "--persona", "cheap_blue", "--out", out, "extra", "--steps", "600"}, []string{`unexpected argument "extra"`}},
		{"resume missing", []string{"train", "--resume", missingModel, "--out", out, "--steps", "1200"}, []string{missingModel}},
		{"eval missing model", []string{"eval", "--model", missingModel}, []string{missingModel}},
		{"eval random bytes", []string{"eval", "--model", randomModel}, []string{randomModel, "not a"}},
		{"eval empty file", []string{"eval", "--model", emptyModel}, []string{emptyModel, "empty"}},
		{"eval truncated", []string{"eval", "--model", truncatedModel}, []string{truncatedModel, "truncated"}},
		{"eval flipped weight", []string{"eval", "--model", flippedModel}, []string{flippedModel, "SHA-256"}},
		{"eval unknown reward", []string{"eval", "--model", checkpointFile, "--reward", "bogus"}, []string{`"bogus"`}},
		{"eval unknown persona", []string{"eval", "--model", checkpointFile, "--persona", "nobody"}, []string{`"nobody"`}},
		{"eval return-prob NaN", []string{"eval", "--model", checkpointFile, "--return-prob", "NaN"}, []string{"return probability NaN is invalid"}},
		{"eval budget NaN", []string{"eval", "--model", checkpointFile, "--budget", "NaN"}, []string{"budget NaN is invalid"}},
		{"eval episodes 0", []string{"eval", "--model", checkpointFile, "--episodes", "0"}, []string{"--episodes 0"}},
		{"compare unknown persona", []string{"compare", "--persona", "nobody", "--items", "20", "--envs", "4", "--episodes", "5"}, []string{`"nobody"`}},
		{"compare zero weights", []string{"compare", "--persona", "cheap_blue:0,value_seeker:0", "--items", "20", "--envs", "4", "--episodes", "5"}, []string{"all weights are 0"}},
		{"compare return-prob negative", []string{"compare", "--persona", "all", "--return-prob", "-0.5", "--items", "20", "--envs", "4", "--episodes", "5"}, []string{"return probability -0.5 is invalid"}},
		{"compare missing model", []string{"compare", "--model", missingModel, "--envs", "4", "--episodes", "5"}, []string{missingModel}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := execute(t, tc.args...)
			if r.code == 0 {
				t.Fatalf("exit code 0; want an error\nstdout:\n%s", r.stdout)
			}
			for _, crash := range []string{"panic", "goroutine"} {
				if strings.Contains(r.stderr, crash) {
					t.Fatalf("stderr contains %q; want an error message:\n%s", crash, r.stderr)
				}
			}
			if got := lastLine(r.stderr); !strings.HasPrefix(got, "simshop-train: ") {
				t.Errorf("last stderr line = %q; want it to start with %q", got, "simshop-train: ")
			}
			for _, w := range tc.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr = %q; want it to contain %s", r.stderr, w)
				}
			}
			if strings.Contains(r.stdout, "reward/step") || strings.Contains(r.stdout, "checkpoint:") {
				t.Errorf("stdout has results despite the error:\n%s", r.stdout)
			}
		})
	}
}

func TestTrainProtectsRunFolder(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	trainTiny(t, out)

	args := append([]string{"train", "--out", out, "--persona", "value_seeker", "--items", "20"}, tinyTraining...)
	r := execute(t, args...)
	if r.code == 0 || !strings.Contains(r.stderr, "already contains a run") || !strings.Contains(r.stderr, "--force") {
		t.Fatalf("second run into the same folder: exit code %d, stderr %q; want a refusal naming --force", r.code, r.stderr)
	}

	mustExecute(t, append(args, "--force")...)
	f, err := checkpoints.Load(checkpointPath(out))
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Metadata.Shop.Persona; got != "value_seeker" {
		t.Errorf("checkpoint persona after --force = %q; want value_seeker", got)
	}
	rows, err := os.ReadFile(filepath.Join(out, "metrics.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(rows), "env_steps"); n != 1 {
		t.Errorf("metrics.csv holds %d headers after --force; want 1, for the new run alone", n)
	}
}

func TestForceKeepsRunOnBadFlags(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	trainTiny(t, out)
	for _, bad := range [][]string{{"--keep", "-1"}, {"--save-seconds", "0.05"}, {"--eval-every", "-1"}, {"--eval-every-episodes", "0"}} {
		args := append([]string{"train", "--out", out, "--persona", "cheap_blue", "--items", "20", "--force"}, tinyTraining...)
		r := execute(t, append(args, bad...)...)
		if r.code == 0 {
			t.Errorf("%v: exit code 0; want an error", bad)
		}
		if _, err := os.Stat(checkpointPath(out)); err != nil {
			t.Errorf("%v: the earlier run's checkpoint is gone after a rejected --force run: %v", bad, err)
		}
	}
}

func TestModelNames(t *testing.T) {
	cases := map[string]string{
		"runs/cb/checkpoints/latest.msgpack":         "dqn:cb",
		"runs/cb/checkpoints/best.msgpack":           "dqn:cb/best",
		"runs/cb/checkpoints/step-000002000.msgpack": "dqn:cb/step-000002000",
		"models/cheap.msgpack":                       "dqn:cheap",
	}
	for path, want := range cases {
		if got := modelName(path); got != want {
			t.Errorf("modelName(%q) = %q; want %q", path, got, want)
		}
	}
}
