package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// executeEnv runs the binary with args and extra environment variables in dir.
func executeEnv(t *testing.T, dir string, env []string, args ...string) result {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), binPath, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	if exitErr, ok := err.(*exec.ExitError); ok {
		r.code = exitErr.ExitCode()
	} else if err != nil {
		t.Fatalf("start simshop-train: %v", err)
	}
	return r
}

// TestConfigPrecedence checks command line > environment > file > default with compare:
// the file sets persona, episodes, max-steps and json; the environment overrides
// episodes and persona; the command line overrides persona again.
func TestConfigPrecedence(t *testing.T) {
	files := map[string]string{
		"shop.yaml": "persona: brand_lover\nepisodes: 3\nmax-steps: 5\njson: true\nitems: 20\nenvs: 2\n",
		"shop.toml": "persona = \"brand_lover\"\nepisodes = 3\nmax-steps = 5\njson = true\nitems = 20\nenvs = 2\n",
	}
	for name, text := range files {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, filepath.Join(dir, name), []byte(text))
			env := []string{"SIMSHOP_EPISODES=4", "SIMSHOP_PERSONA=value_seeker"}
			r := executeEnv(t, dir, env, "compare", "--config", name, "--persona", "cheap_blue")
			if r.code != 0 {
				t.Fatalf("compare: exit code %d\nstderr:\n%s", r.code, r.stderr)
			}
			// JSON output shows that the file set --json.
			var results []struct {
				Persona       string  `json:"persona"`
				Episodes      int     `json:"episodes"`
				SessionLength float64 `json:"session_length"`
			}
			if err := json.Unmarshal([]byte(r.stdout), &results); err != nil {
				t.Fatalf("stdout is not JSON, so json: true in the file was ignored: %v\n%s", err, r.stdout)
			}
			if len(results) == 0 {
				t.Fatal("compare printed no results")
			}
			for _, res := range results {
				if res.Persona != "cheap_blue" {
					t.Errorf("persona = %q; want cheap_blue from the command line over the environment and the file", res.Persona)
				}
				if res.Episodes != 4 {
					t.Errorf("episodes = %d; want 4 from the environment over the file's 3", res.Episodes)
				}
				if res.SessionLength > 5 {
					t.Errorf("session length = %v; want at most 5 from the file's max-steps over the default 30", res.SessionLength)
				}
			}
		})
	}
}

func TestConfigRejectsBadFiles(t *testing.T) {
	cases := []struct {
		name, file, text, want string
	}{
		{"unknown key", "c.yaml", "seed: 10\nstepz: 20\n", `unknown key "stepz"`},
		{"list for one value", "c.yaml", "persona: [cheap_blue, value_seeker]\n", `key "persona": a list is given`},
		{"invalid value", "c.toml", "seed = \"many\"\n", `value "many" is invalid for --seed`},
		{"bad syntax", "c.yaml", "steps: [\n", "is not valid YAML"},
		{"extension", "c.json", "{}", `extension ".json" is not supported`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, filepath.Join(dir, tc.file), []byte(tc.text))
			// A small run, should the file be accepted by mistake.
			r := executeEnv(t, dir, nil, "train", "--config", tc.file, "--out", "run", "--persona", "cheap_blue",
				"--items", "20", "--steps", "64", "--envs", "4", "--eval-episodes", "2")
			if r.code == 0 {
				t.Fatalf("train accepted config %q", tc.text)
			}
			if !strings.Contains(r.stderr, tc.want) {
				t.Errorf("stderr = %q; want it to contain %q", r.stderr, tc.want)
			}
			if _, err := os.Stat(filepath.Join(dir, "run")); err == nil {
				t.Errorf("train created the run folder despite the bad config")
			}
		})
	}
}

// TestTrainWritesRunPlots checks the learning-curve plots and that metrics.jsonl holds the
// rows of metrics.csv.
func TestTrainWritesRunPlots(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	trainTiny(t, out, "--log-every", "100")
	for _, name := range []string{"learning_curve.png", "learning_curve.svg"} {
		data, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatalf("read %s: %v", name, err)
		}
		if len(data) < 1000 {
			t.Errorf("%s has %d bytes; want a drawn plot", name, len(data))
		}
	}
	png, _ := os.ReadFile(filepath.Join(out, "learning_curve.png"))
	if !bytes.HasPrefix(png, []byte("\x89PNG")) {
		t.Errorf("learning_curve.png does not start with the PNG signature")
	}

	f, err := os.Open(filepath.Join(out, "metrics.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(out, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != len(rows)-1 || len(lines) < 5 {
		t.Fatalf("metrics.jsonl has %d lines and metrics.csv %d rows; want one line per row, and at least 5", len(lines), len(rows)-1)
	}
	for i, line := range lines {
		var obj map[string]*float64
		if err := json.Unmarshal([]byte(line), &obj); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		for c, key := range rows[0] {
			want, _ := strconv.ParseFloat(rows[i+1][c], 64)
			got := obj[key]
			switch {
			case want != want: // NaN in the CSV
				if got != nil {
					t.Errorf("line %d: %s = %v; want null for NaN", i+1, key, *got)
				}
			case got == nil || *got != want:
				t.Errorf("line %d: %s = %v; want %v as in metrics.csv", i+1, key, got, want)
			}
		}
	}
}

// TestConfigExampleIsFlag checks that the key that --config's help shows as an example is
// a flag of the same command.
func TestConfigExampleIsFlag(t *testing.T) {
	example := regexp.MustCompile(`whose keys set flags, such as ([a-z-]+): `)
	for _, command := range []string{"train", "eval", "compare", "log"} {
		t.Run(command, func(t *testing.T) {
			help := mustExecute(t, command, "--help").stdout
			m := example.FindStringSubmatch(help)
			if m == nil {
				t.Fatalf("%s --help shows no --config example:\n%s", command, help)
			}
			if !strings.Contains(help, "--"+m[1]+" ") {
				t.Errorf("%s --help gives the --config example key %q, which is not one of its flags", command, m[1])
			}
		})
	}
}
