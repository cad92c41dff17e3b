package main

import (
	"bytes"
	"encoding/csv"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// evalRow is one row of evals.csv.
type evalRow struct {
	step     int64
	metrics  map[string]float64 // keyed by column name, as in a checkpoint's metrics
	episodes int
}

// readEvals reads RUN/evals.csv and checks its header.
func readEvals(t *testing.T, out string) []evalRow {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(out, "evals.csv"))
	if err != nil {
		t.Fatalf("read evals.csv: %v", err)
	}
	records, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	if err != nil {
		t.Fatalf("parse evals.csv: %v\n%s", err, data)
	}
	header := []string{"env_steps", "reward_per_step", "reward_per_step_ci95", "ctr", "purchase_rate", "return_mean", "episodes"}
	if len(records) == 0 || !slices.Equal(records[0], header) {
		t.Fatalf("evals.csv header = %v; want %v", records[:min(1, len(records))], header)
	}
	var rows []evalRow
	for _, rec := range records[1:] {
		row := evalRow{metrics: map[string]float64{}}
		var err error
		if row.step, err = strconv.ParseInt(rec[0], 10, 64); err != nil {
			t.Fatalf("evals.csv step %q: %v", rec[0], err)
		}
		for i := 1; i < 6; i++ {
			if row.metrics[header[i]], err = strconv.ParseFloat(rec[i], 64); err != nil {
				t.Fatalf("evals.csv %s %q: %v", header[i], rec[i], err)
			}
		}
		if row.episodes, err = strconv.Atoi(rec[6]); err != nil {
			t.Fatalf("evals.csv episodes %q: %v", rec[6], err)
		}
		rows = append(rows, row)
	}
	return rows
}

// bestRow returns the first row of highest reward per step, the one best.msgpack keeps.
func bestRow(rows []evalRow) evalRow {
	best := rows[0]
	for _, r := range rows[1:] {
		if r.metrics["reward_per_step"] > best.metrics["reward_per_step"] {
			best = r
		}
	}
	return best
}

// checkBestModel checks that RUN/checkpoints/best.msgpack is the model of the best row of
// evals.csv: same step and metrics, and eval on it reproduces the row.
func checkBestModel(t *testing.T, out string, rows []evalRow) {
	t.Helper()
	best := bestRow(rows)
	path := filepath.Join(out, "checkpoints", "best.msgpack")
	saved := readCheckpoint(t, path)
	if saved.Training.EnvSteps != best.step {
		t.Errorf("best.msgpack is from step %d; the best row of evals.csv is step %d", saved.Training.EnvSteps, best.step)
	}
	for name, want := range best.metrics {
		if got, ok := saved.Metadata.Metrics[name]; !ok || got != want {
			t.Errorf("best.msgpack metric %s = %v (present %v); evals.csv has %v", name, got, ok, want)
		}
	}

	// eval with the run's seed and the row's episodes plays the same sessions.
	res := decodeResults(t, evalJSON(t, path, "--episodes", strconv.Itoa(best.episodes)))
	if len(res) != 1 || res[0].RewardPerStep != best.metrics["reward_per_step"] || res[0].CTR != best.metrics["ctr"] {
		t.Errorf("eval of best.msgpack = %+v; want reward_per_step %v and ctr %v as in evals.csv",
			res, best.metrics["reward_per_step"], best.metrics["ctr"])
	}
}

func TestTrainKeepsBestModel(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	r := trainTiny(t, out, "--steps", "1000", "--save-every", "500", "--eval-every", "200", "--eval-every-episodes", "10")

	// Evaluations at steps 200 to 800 with 10 episodes, then the final one with 20.
	rows := readEvals(t, out)
	var steps []int64
	var episodes []int
	for _, row := range rows {
		steps = append(steps, row.step)
		episodes = append(episodes, row.episodes)
	}
	if want := []int64{200, 400, 600, 800, 1000}; !slices.Equal(steps, want) {
		t.Errorf("evals.csv steps = %v; want %v", steps, want)
	}
	if want := []int{10, 10, 10, 10, 20}; !slices.Equal(episodes, want) {
		t.Errorf("evals.csv episodes = %v; want %v", episodes, want)
	}
	if got := strings.Count(r.stderr, "msg=evaluation "); got != len(rows) {
		t.Errorf("the log has %d evaluation lines; want one per row of evals.csv (%d)", got, len(rows))
	}
	checkBestModel(t, out, rows)

	// Evaluations do not add saves: only the --save-every steps have step checkpoints.
	want := []string{"best.msgpack", "latest.msgpack", "step-000000500.msgpack", "step-000001000.msgpack"}
	if got := checkpointFiles(t, out); !slices.Equal(got, want) {
		t.Errorf("checkpoint folder contains %v; want %v", got, want)
	}
}

func TestEvalEveryLeavesTrainingUnchanged(t *testing.T) {
	// Evaluations step as many sessions as training and switch exploration back on, so
	// the trained weights match those of a run without them, bit for bit.
	dir := t.TempDir()
	plain, evaluated := filepath.Join(dir, "plain"), filepath.Join(dir, "evaluated")
	trainTiny(t, plain)
	trainTiny(t, evaluated, "--eval-every", "100", "--eval-every-episodes", "8")

	a, b := readCheckpoint(t, checkpointPath(plain)), readCheckpoint(t, checkpointPath(evaluated))
	if a.Training.Updates != b.Training.Updates || a.Training.EnvSteps != b.Training.EnvSteps {
		t.Errorf("training counters differ: %+v without evaluations, %+v with them", a.Training, b.Training)
	}
	for i, init := range a.Graph.Initializers {
		if !bytes.Equal(init.Data, b.Graph.Initializers[i].Data) {
			t.Errorf("weights %s differ between runs with and without --eval-every", init.Name)
		}
	}
	if _, err := os.Stat(filepath.Join(plain, "evals.csv")); !os.IsNotExist(err) {
		t.Errorf("a run without --eval-every wrote evals.csv (err %v)", err)
	}
	if _, err := os.Stat(filepath.Join(plain, "checkpoints", "best.msgpack")); !os.IsNotExist(err) {
		t.Errorf("a run without --eval-every wrote best.msgpack (err %v)", err)
	}
}

func TestResumeKeepsBestModel(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	trainTiny(t, out, "--eval-every", "200", "--eval-every-episodes", "10")
	first := readEvals(t, out)
	mustExecute(t, "train", "--resume", checkpointPath(out), "--out", out, "--steps", "1000",
		"--eval-every", "200", "--eval-every-episodes", "10", "--eval-episodes", "20")

	rows := readEvals(t, out)
	var steps []int64
	for _, row := range rows {
		steps = append(steps, row.step)
	}
	if want := []int64{200, 400, 600, 800, 1000}; !slices.Equal(steps, want) {
		t.Errorf("evals.csv steps after resuming = %v; want %v", steps, want)
	}
	if !slices.EqualFunc(first, rows[:len(first)], func(a, b evalRow) bool { return a.step == b.step && a.metrics["ctr"] == b.metrics["ctr"] }) {
		t.Error("resuming changed the rows of the first part of the run")
	}
	checkBestModel(t, out, rows)
}

func TestEvalEveryRejectsBadValues(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	cases := []struct {
		flags []string
		want  string
	}{
		{[]string{"--eval-every", "-200"}, "--eval-every -200 is invalid; use 0 to disable"},
		{[]string{"--eval-every", "200", "--eval-every-episodes", "0"}, "--eval-every-episodes 0 is invalid"},
		{[]string{"--eval-every", "ten"}, `invalid value "ten" for flag -eval-every`},
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
