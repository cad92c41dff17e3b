package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// metricsColumns returns metrics.csv of run folder out without its column steps_per_second,
// the wall clock speed, which differs between any two runs.
func metricsColumns(t *testing.T, out string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(out, "metrics.csv"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	speed := slices.Index(strings.Split(lines[0], ","), "steps_per_second")
	if speed < 0 {
		t.Fatalf("metrics.csv header %q has no steps_per_second column", lines[0])
	}
	var rows []string
	for _, line := range lines {
		cells := strings.Split(line, ",")
		rows = append(rows, strings.Join(slices.Delete(cells, speed, speed+1), ","))
	}
	return strings.Join(rows, "\n")
}

// TestResumeMatchesStraightRun trains 2,000 shopper-steps straight and, in another folder,
// 1,000 steps, a resume with GOMAXPROCS 1 and 1,000 more: with --save-replay both end with
// the same evaluation and the same training metrics.
func TestResumeMatchesStraightRun(t *testing.T) {
	flags := []string{"--persona", "exposure_buyer", "--items", "30", "--envs", "4", "--hidden", "16",
		"--batch-size", "16", "--learning-starts", "64", "--eval-episodes", "30", "--save-every", "500",
		"--log-every", "500", "--save-replay"}
	straight := filepath.Join(t.TempDir(), "run")
	mustExecute(t, append([]string{"train", "--out", straight, "--steps", "2000"}, flags...)...)

	stopped := filepath.Join(t.TempDir(), "run")
	mustExecute(t, append([]string{"train", "--out", stopped, "--steps", "1000"}, flags...)...)
	t.Setenv("GOMAXPROCS", "1")
	mustExecute(t, "train", "--resume", checkpointPath(stopped), "--out", stopped, "--steps", "2000",
		"--save-every", "500", "--log-every", "500", "--eval-episodes", "30", "--save-replay")

	if got, want := evalJSON(t, checkpointPath(stopped)), evalJSON(t, checkpointPath(straight)); got != want {
		t.Errorf("resumed run evaluates to\n%s\nstraight run to\n%s", got, want)
	}
	if got, want := metricsColumns(t, stopped), metricsColumns(t, straight); got != want {
		t.Errorf("resumed run's metrics\n%s\ndiffer from the straight run's\n%s", got, want)
	}
}
