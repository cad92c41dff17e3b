package experiments

import (
	"encoding/csv"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/simshop/simshop/simenv"
)

func TestRatioInterval(t *testing.T) {
	ratio, ci := ratioInterval(3, 0.3, 2, 0.1)
	if ratio != 1.5 {
		t.Errorf("ratio = %v, want 1.5", ratio)
	}
	// 1.5 * sqrt(0.1² + 0.05²)
	if want := 1.5 * math.Sqrt(0.0125); math.Abs(ci-want) > 1e-12 {
		t.Errorf("half-width = %v, want %v", ci, want)
	}
	if _, ci := ratioInterval(1, 0.1, 0, 0.1); !math.IsNaN(ci) {
		t.Errorf("half-width with a reference of 0 = %v, want NaN", ci)
	}
}

func TestBarSpecsCoverEveryCatalog(t *testing.T) {
	opt := Options{Catalogs: testCatalogs(t)}
	bars := barSpecs(opt)
	// Three personas times two bars, two bars on the second catalog, the long horizon,
	// REINFORCE on three personas and the four personas of the mix.
	if len(bars) != 6+2+1+3+4 {
		t.Fatalf("got %d bars, want 16", len(bars))
	}
	count := map[string]int{}
	for _, b := range bars {
		count[fmt.Sprintf("%s %v %s", b.agent, b.need, b.reference)]++
	}
	for key, want := range map[string]int{
		"dqn 0.9 oracle": 4, "dqn 1.2 popularity": 4, "dqn 1.05 oracle": 1,
		"reinforce 1.2 popularity": 3, "dqn 0.8 oracle": 4,
	} {
		if count[key] != want {
			t.Errorf("%d bars of %q, want %d", count[key], key, want)
		}
	}
	for _, b := range bars {
		if b.catalog == 1 && b.eval != simenv.CheapBlue {
			t.Errorf("bar %+v runs on the second catalog; only cheap_blue should", b)
		}
		if b.metric == metricReturn && b.eval != simenv.ImpulseBuyer {
			t.Errorf("bar %+v compares returns; only the long-horizon bar should", b)
		}
	}
}

// TestBarsReportMatchesData runs the bars study and checks each bar's verdict and the
// report's count of met bars against the CSV data.
func TestBarsReportMatchesData(t *testing.T) {
	out, work := filepath.Join(t.TempDir(), "report"), t.TempDir()
	path, err := Run("bars", Options{Catalogs: testCatalogs(t), Budget: microBudget, Seed: 3, Out: out, Work: work, Command: "test"})
	if err != nil {
		t.Fatal(err)
	}

	f, err := os.Open(filepath.Join(out, "bars.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1+16 {
		t.Fatalf("bars.csv has %d rows, want a header and 16 bars", len(rows))
	}

	col := map[string]int{}
	for i, name := range rows[0] {
		col[name] = i
	}
	met := 0
	for _, row := range rows[1:] {
		number := func(name string) float64 {
			v, err := strconv.ParseFloat(row[col[name]], 64)
			if err != nil {
				t.Fatalf("column %s: %v", name, err)
			}
			return v
		}
		model, ref, ratio, bar := number("model"), number("reference_value"), number("ratio"), number("bar")
		if ref != 0 && math.Abs(ratio-model/ref) > 1e-9*math.Abs(ratio) {
			t.Errorf("row %v: ratio %v, want model/reference = %v", row, ratio, model/ref)
		}
		if want := fmt.Sprint(ratio >= bar); row[col["met"]] != want {
			t.Errorf("row %v: met = %s, want %s", row, row[col["met"]], want)
		}
		if row[col["met"]] == "true" {
			met++
		}
	}

	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("%d of 16 bars met.", met); !strings.Contains(string(text), want) {
		t.Errorf("report does not say %q", want)
	}
	if runs := strings.Count(string(text), "catalog | "); runs < 9 {
		t.Errorf("report lists %d training runs, want at least 9", runs)
	}

	saved, err := filepath.Glob(filepath.Join(work, "*", "*.msgpack"))
	if err != nil {
		t.Fatal(err)
	}
	// Eight runs on the generated catalog and the cheap_blue run on the second.
	if len(saved) != 9 {
		t.Errorf("saved %d checkpoints, want 9: %v", len(saved), saved)
	}
}
