package main

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/simshop/simshop/rl"
)

// printTable writes results as an aligned table.
func printTable(w io.Writer, results []rl.Result) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "recommender\tpersona\tepisodes\treward/step\t±95%\tctr\tpurchase rate\treturn\t±95%\tsession length\tcoverage\tdiversity\t")
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%.3f\t%.3f\t%.3f\t%.3f\t%.2f\t%.2f\t%.1f\t%.3f\t%.3f\t\n",
			r.Recommender, r.Persona, r.Episodes, r.RewardPerStep, r.RewardPerStepCI95, r.CTR, r.PurchaseRate,
			r.ReturnMean, r.ReturnCI95, r.SessionLength, r.Coverage, r.Diversity)
	}
	tw.Flush()
}

func round(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}

func fmtFloat(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ",")
}

// parseInts parses a comma-separated list of positive integers such as "64,64".
func parseInts(s string) ([]int, error) {
	var out []int
	for _, part := range strings.Split(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(part))
		if err != nil || v < 1 {
			return nil, fmt.Errorf("%q is not a positive whole number; write widths like 64,64", part)
		}
		out = append(out, v)
	}
	return out, nil
}
