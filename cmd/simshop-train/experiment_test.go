package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestExperimentRejectsBadFlags(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no out", []string{"experiment", "robustness"}, "--out DIR is required"},
		{"unknown budget", []string{"experiment", "robustness", "--out", "r", "--budget", "huge"}, `--budget "huge" is unknown`},
		{"too few steps", []string{"experiment", "robustness", "--out", "r", "--budget", "tiny", "--train-steps", "4"}, "--train-steps 4 is too small"},
		{"one episode", []string{"experiment", "robustness", "--out", "r", "--budget", "tiny", "--episodes", "1"}, "--episodes 1 is too small"},
		{"unknown persona", []string{"experiment", "behaviour-over-training", "--out", "r", "--budget", "tiny", "--persona", "shopaholic"}, `unknown persona "shopaholic"`},
		{"missing catalog", []string{"experiment", "robustness", "--out", "r", "--budget", "tiny", "--catalog", "no-such.csv"}, "no-such.csv"},
		{"argument", []string{"experiment", "robustness", "--out", "r", "extra"}, `unexpected argument "extra"`},
		{"bars with a persona", []string{"experiment", "bars", "--out", "r", "--persona", "cheap_blue"}, "flag provided but not defined: -persona"},
		{"bars with an unknown persona", []string{"experiment", "bars", "--out", "r", "--persona", "shopaholic"}, "flag provided but not defined: -persona"},
		{"catalog folder", []string{"experiment", "robustness", "--out", "r", "--budget", "tiny", "--catalog", "."}, ". is a folder"},
		{"seed not a number", []string{"experiment", "robustness", "--out", "r", "--seed", "abc"}, "run simshop-train experiment robustness --help"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := execute(t, tc.args...)
			if r.code == 0 {
				t.Fatalf("simshop-train %s succeeded; want an error", strings.Join(tc.args, " "))
			}
			if !strings.Contains(r.stderr, tc.want) {
				t.Errorf("stderr = %q; want it to contain %q", r.stderr, tc.want)
			}
		})
	}
}

func TestExperimentRejectsFileFolders(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "notes.txt")
	writeFile(t, file, []byte("notes"))
	for _, flag := range []string{"--out", "--work"} {
		args := []string{"experiment", "robustness", "--budget", "tiny", "--out", filepath.Join(dir, "r"), flag, file}
		r := execute(t, args...)
		if r.code == 0 {
			t.Fatalf("%s FILE succeeded; want an error", flag)
		}
		if want := flag + " " + file + " is a file"; !strings.Contains(r.stderr, want) {
			t.Errorf("stderr = %q; want it to contain %q", r.stderr, want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "r")); !os.IsNotExist(err) {
		t.Errorf("a rejected run created its --out folder (stat: %v)", err)
	}
}

// TestExperimentKeepsReportUntilComplete checks that an earlier report survives a run
// without --force and an interrupted run, and that a complete run with --force replaces
// the whole folder.
func TestExperimentKeepsReportUntilComplete(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "report")
	args := []string{"experiment", "recommenders-by-persona", "--budget", "tiny", "--persona", "cheap_blue", "--items", "30",
		"--out", out, "--work", filepath.Join(dir, "work")}
	if r := execute(t, args...); r.code != 0 {
		t.Fatalf("first run failed: %s", r.stderr)
	}
	first, err := os.ReadFile(filepath.Join(out, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	stray := filepath.Join(out, "notes.txt")
	writeFile(t, stray, []byte("kept until a complete run replaces the folder"))

	r := execute(t, args...)
	if r.code == 0 || !strings.Contains(r.stderr, "already contains files") {
		t.Errorf("second run without --force: code %d, stderr %q; want an error about the files in --out", r.code, r.stderr)
	}

	p := startBinary(t, append(args, "--force", "--train-steps", "2000000")...)
	drafts := filepath.Join(dir, ".report.draft-*")
	for deadline := time.Now().Add(waitTimeout); ; time.Sleep(5 * time.Millisecond) {
		if found, _ := filepath.Glob(drafts); len(found) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no draft folder %s after %v\nstderr:\n%s", drafts, waitTimeout, p.stderr.String())
		}
	}
	if code := p.interrupt(t); code != 130 {
		t.Errorf("interrupted run exited with %d; want 130\nstderr:\n%s", code, p.stderr.String())
	}
	if got, err := os.ReadFile(filepath.Join(out, "report.md")); err != nil || string(got) != string(first) {
		t.Errorf("the interrupted run changed the earlier report (read error: %v)", err)
	}
	if _, err := os.Stat(stray); err != nil {
		t.Errorf("the interrupted run removed a file of the earlier folder: %v", err)
	}

	if r := execute(t, append(args, "--force")...); r.code != 0 {
		t.Fatalf("run with --force failed: %s", r.stderr)
	}
	if _, err := os.Stat(stray); !os.IsNotExist(err) {
		t.Errorf("the complete run kept %s of the earlier folder (stat: %v); want the folder replaced", stray, err)
	}
	if _, err := os.Stat(filepath.Join(out, "report.md")); err != nil {
		t.Errorf("no report after the complete run: %v", err)
	}
	if info, err := os.Stat(out); err != nil {
		t.Error(err)
	} else if info.Mode().Perm() != 0o755 {
		t.Errorf("report folder mode = %v; want rwxr-xr-x, as other folders", info.Mode().Perm())
	}
	if found, _ := filepath.Glob(filepath.Join(dir, ".report.*")); len(found) > 0 {
		t.Errorf("draft folders left behind: %v", found)
	}
}
