package main

import (
	"encoding/csv"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/simshop/simshop/rl"
)

// TestMetricsKeepOlderColumns checks that a resumed run whose metrics.csv predates the
// purchase_rate column goes on writing the columns of its header, and that a new file
// gets every column.
func TestMetricsKeepOlderColumns(t *testing.T) {
	dir := t.TempDir()
	old := filepath.Join(dir, "old.csv")
	oldHeader := "env_steps,episodes,updates,epsilon,loss,return_mean,ctr,steps_per_second\n"
	if err := os.WriteFile(old, []byte(oldHeader+"100,2,0,1,NaN,NaN,0.2,900\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := rl.TrainProgress{EnvSteps: 200, Episodes: 4, Epsilon: 0.9, Loss: 0.5, ReturnMean: 3, CTR: 0.25, PurchaseRate: 0.125, StepsPerSecond: 1000}
	for _, c := range []struct {
		path    string
		columns int
	}{{old, 8}, {filepath.Join(dir, "new.csv"), 9}} {
		m, err := openMetrics(c.path)
		if err != nil {
			t.Fatal(err)
		}
		m.write(p)
		m.close()
		f, err := os.Open(c.path)
		if err != nil {
			t.Fatal(err)
		}
		records, err := csv.NewReader(f).ReadAll() // fails on rows of differing widths
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", filepath.Base(c.path), err)
		}
		last := records[len(records)-1]
		if len(last) != c.columns || last[0] != "200" {
			t.Errorf("%s: last row %v; want step 200 in %d columns", filepath.Base(c.path), last, c.columns)
		}
		if c.columns == 9 && last[8] != "0.125" {
			t.Errorf("purchase_rate = %s; want 0.125", last[8])
		}
	}
}

func TestDashboardRejectsBadRun(t *testing.T) {
	file := filepath.Join(t.TempDir(), "metrics.csv")
	os.WriteFile(file, nil, 0o644)
	for _, c := range []struct{ run, want string }{
		{filepath.Join(t.TempDir(), "missing"), "no such file"},
		{file, "is a file"},
	} {
		r := execute(t, "dashboard", "--run", c.run, "--addr", "127.0.0.1:0")
		if r.code == 0 || !strings.Contains(r.stderr, c.want) || !strings.Contains(r.stderr, "--out folder") {
			t.Errorf("dashboard --run %s: exit %d, stderr %q; want an error with %q naming the fix", c.run, r.code, r.stderr, c.want)
		}
	}

	// A SlateQ run has no shop or catalog to show.
	slateQ := filepath.Join(t.TempDir(), "iev")
	mustExecute(t, "train", "--scenario", "recsim-iev", "--out", slateQ, "--steps", "64", "--envs", "4",
		"--eval-episodes", "2", "--hidden", "8", "--candidates", "4")
	for _, extra := range [][]string{nil, {"--items", "20"}} {
		args := append([]string{"dashboard", "--run", slateQ, "--addr", "127.0.0.1:0"}, extra...)
		r := execute(t, args...)
		if r.code == 0 || !strings.Contains(r.stderr, "is a SlateQ run of --scenario recsim-iev") || !strings.Contains(r.stderr, "simshop-train eval --model") {
			t.Errorf("%s: exit %d, stderr %q; want an error naming the scenario and eval", strings.Join(args, " "), r.code, r.stderr)
		}
	}
	if r := execute(t, "dashboard", "--max-shops", "0"); r.code == 0 || !strings.Contains(r.stderr, "--max-shops 0 is invalid") {
		t.Errorf("dashboard --max-shops 0: exit %d, stderr %q; want a rejection", r.code, r.stderr)
	}
}

// TestDashboardServesRun starts the dashboard command on a trained run folder, reads its
// info and metrics, and stops it with SIGINT.
func TestDashboardServesRun(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	trainTiny(t, out)
	p := startBinary(t, "dashboard", "--run", out, "--addr", "127.0.0.1:0")
	p.waitFor(t, "dashboard listening")
	url := dashboardURL.FindStringSubmatch(p.stderr.String())[1]
	res, err := http.Get(url + "api/info")
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(res.Body)
	res.Body.Close()
	var info struct {
		Items       int      `json:"items"`
		Checkpoints []string `json:"checkpoints"`
	}
	if err := json.Unmarshal(data, &info); err != nil {
		t.Fatalf("decode %s: %v", data, err)
	}
	// Without --catalog the live shops use the checkpoint's 20-item catalog.
	if info.Items != 20 || len(info.Checkpoints) == 0 || info.Checkpoints[0] != "latest" {
		t.Errorf("info = %+v; want the run's 20-item catalog and its latest checkpoint", info)
	}
	res, err = http.Get(url + "api/train/points")
	if err != nil {
		t.Fatal(err)
	}
	var points []struct {
		Source string             `json:"source"`
		Step   int64              `json:"step"`
		Values map[string]float64 `json:"values"`
	}
	json.NewDecoder(res.Body).Decode(&points)
	res.Body.Close()
	if len(points) == 0 || points[len(points)-1].Step != 600 || math.IsNaN(points[len(points)-1].Values["ctr"]) {
		t.Errorf("points = %+v; want the run's metrics up to step 600", points)
	}
	if code := p.interrupt(t); code != 0 {
		t.Errorf("dashboard exit code after SIGINT = %d; want 0\nstderr:\n%s", code, p.stderr.String())
	}
}
