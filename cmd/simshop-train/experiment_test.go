package main

import (
	"strings"
	"testing"
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
