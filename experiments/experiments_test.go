package experiments

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/simshop/simshop/simenv"
)

// microBudget runs every stage of a study in a few seconds.
var microBudget = Budget{Name: "micro", TrainSteps: 64, Sessions: 4, Episodes: 3, Checkpoints: 1, Points: 2}

// testCatalogs returns a generated catalog and one read from a CSV file, as a study gets
// them from the command line.
func testCatalogs(t *testing.T) []Catalog {
	t.Helper()
	gen, err := simenv.Generate(30, 1)
	if err != nil {
		t.Fatal(err)
	}
	other, err := simenv.Generate(24, 2)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "shop.csv")
	if err := other.SaveCSV(path); err != nil {
		t.Fatal(err)
	}
	file, err := simenv.LoadCSV(path)
	if err != nil {
		t.Fatal(err)
	}
	return []Catalog{
		{Name: "generated", Flags: "--items 30 --catalog-seed 1", Catalog: gen, Generated: true},
		{Name: "shop", Flags: "--catalog " + path, Catalog: file},
	}
}

var linkPattern = regexp.MustCompile(`\]\(([^)]+)\)`)

// TestStudiesWriteLinkedFiles runs each study end to end and checks that every file the
// report links to exists and is not empty, and that every file written is linked.
func TestStudiesWriteLinkedFiles(t *testing.T) {
	cats := testCatalogs(t)
	for _, study := range Studies {
		t.Run(study.Name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "report")
			personas := []string{simenv.CheapBlue}
			if study.FixedPersonas {
				personas = nil // the study has its own
			}
			var done, total int
			path, err := Run(study.Name, Options{
				Catalogs: cats, Budget: microBudget, Seed: 1, CatalogSeed: 1, Personas: personas,
				Out: out, Work: t.TempDir(), Command: "test",
				Progress: func(d, n int) { done, total = d, n },
			})
			if err != nil {
				t.Fatal(err)
			}
			if done != total || total == 0 {
				t.Errorf("progress ended at %d of %d units; want all units reported", done, total)
			}
			text, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var linked []string
			for _, m := range linkPattern.FindAllStringSubmatch(string(text), -1) {
				linked = append(linked, m[1])
				info, err := os.Stat(filepath.Join(out, m[1]))
				if err != nil {
					t.Errorf("report links %s: %v", m[1], err)
					continue
				}
				if info.Size() == 0 {
					t.Errorf("report links %s, which is empty", m[1])
				}
			}
			if len(linked) < 3 {
				t.Fatalf("report links %d files; want plots and data", len(linked))
			}
			entries, err := os.ReadDir(out)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				if e.Name() != "report.md" && !slices.Contains(linked, e.Name()) {
					t.Errorf("%s is written but the report does not link it", e.Name())
				}
			}
			for _, want := range []string{"shop", "generated", "How this report was made"} {
				if !strings.Contains(string(text), want) {
					t.Errorf("report does not mention %q", want)
				}
			}
			for _, e := range entries {
				if strings.HasSuffix(e.Name(), ".png") {
					data, _ := os.ReadFile(filepath.Join(out, e.Name()))
					if !bytes.HasPrefix(data, []byte("\x89PNG")) {
						t.Errorf("%s is not a PNG file", e.Name())
					}
				}
			}
		})
	}
}

// TestStudyDeterministic runs a study twice and compares its data files.
func TestStudyDeterministic(t *testing.T) {
	cats := testCatalogs(t)[:1]
	var results [2][]byte
	for i := range results {
		out := t.TempDir()
		_, err := Run("recommenders-by-persona", Options{Catalogs: cats, Budget: microBudget, Seed: 7, Personas: []string{simenv.ValueSeeker},
			Out: out, Work: t.TempDir(), Command: "test"})
		if err != nil {
			t.Fatal(err)
		}
		if results[i], err = os.ReadFile(filepath.Join(out, "results_generated.csv")); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(results[0], results[1]) {
		t.Errorf("two runs with seed 7 differ:\n%s\n---\n%s", results[0], results[1])
	}
}

func TestRunRejectsBadOptions(t *testing.T) {
	cats := testCatalogs(t)[:1]
	cases := []struct {
		name  string
		study string
		opt   Options
		want  string
	}{
		{"unknown study", "ablation", Options{Catalogs: cats, Budget: microBudget}, `unknown study "ablation"`},
		{"no catalog", "robustness", Options{Budget: microBudget}, "no catalog"},
		{"unknown persona", "behaviour-over-training", Options{Catalogs: cats, Budget: microBudget, Personas: []string{"bargain_hunter"}}, `unknown persona "bargain_hunter"`},
		{"robustness with personas", "robustness", Options{Catalogs: cats, Budget: microBudget, Personas: []string{simenv.ValueSeeker}}, "drop --persona"},
		{"empty budget", "robustness", Options{Catalogs: cats}, "budget"},
		{"bars with personas", "bars", Options{Catalogs: cats, Budget: microBudget, Personas: []string{simenv.CheapBlue}}, "drop --persona"},
		{"bars without the generated catalog", "bars", Options{Catalogs: testCatalogs(t)[1:], Budget: microBudget}, "needs the generated catalog as the first catalog"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.opt.Out = t.TempDir()
			_, err := Run(tc.study, tc.opt)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v; want one containing %q", err, tc.want)
			}
		})
	}
}

func TestSignificance(t *testing.T) {
	cases := []struct {
		x, ciX, y, ciY float64
		want           string
	}{
		{1.0, 0.1, 0.5, 0.1, "▲"},   // z = 0.5 / (0.1414/1.96) = 6.9
		{0.5, 0.1, 1.0, 0.1, "▼"},   // the same, below
		{1.0, 0.3, 0.7, 0.3, ""},    // z = 0.3 / (0.424/1.96) = 1.39
		{1.0, 0.1, 0.8, 0.1, "▲"},   // z = 0.2 / (0.1414/1.96) = 2.77
		{1.0, 0.0, 1.0, 0.0, ""},    // no spread, no test
		{1.0, 0.1, 0.86, 0.1, ""},   // z = 1.94, just below 1.96
		{1.0, 0.1, 0.855, 0.1, "▲"}, // z = 2.01, just above
	}
	for _, tc := range cases {
		if got := significance(tc.x, tc.ciX, tc.y, tc.ciY); got != tc.want {
			t.Errorf("significance(%v ± %v vs %v ± %v) = %q; want %q", tc.x, tc.ciX, tc.y, tc.ciY, got, tc.want)
		}
	}
}

func TestTotalVariation(t *testing.T) {
	if got := totalVariation([]float64{0.5, 0.5, 0}, []float64{0.5, 0.5, 0}); got != 0 {
		t.Errorf("equal distributions: %v; want 0", got)
	}
	if got := totalVariation([]float64{1, 0}, []float64{0, 1}); got != 1 {
		t.Errorf("disjoint distributions: %v; want 1", got)
	}
	if got := totalVariation([]float64{0.6, 0.4, 0}, []float64{0.2, 0.4, 0.4}); math.Abs(got-0.4) > 1e-12 {
		t.Errorf("overlapping distributions: %v; want 0.4", got)
	}
}

func TestRecovery(t *testing.T) {
	// The change is at step 100: the level before is 2 ± 0.2, and the reward falls to 1,
	// then climbs to 1.9 by step 200, within the interval.
	c := curve{
		steps:  []float64{0, 50, 100, 100, 150, 200, 250},
		reward: []float64{1, 1.5, 2, 1, 1.5, 1.9, 2.1},
		before: 2, beforeCI: 0.2,
	}
	steps, lost := c.recovery(100)
	if steps != 100 {
		t.Errorf("recovery = %v shopper-steps; want 100", steps)
	}
	// Trapezoids of the gap from step 100: (1 + 0.5)/2·50 + (0.5 + 0.1)/2·50 + (0.1 + 0)/2·50.
	if want := 37.5 + 15 + 2.5; math.Abs(lost-want) > 1e-9 {
		t.Errorf("lost reward = %v; want %v", lost, want)
	}

	c.reward = []float64{1, 1.5, 2, 1, 1.2, 1.3, 1.4}
	if steps, _ := c.recovery(100); steps != -1 {
		t.Errorf("recovery = %v; want -1 for a curve that stays below the interval", steps)
	}
}

func TestPriceBands(t *testing.T) {
	cat, err := simenv.Generate(300, 3)
	if err != nil {
		t.Fatal(err)
	}
	bands := priceBands(cat)
	var count [3]int
	for _, b := range bands {
		count[b]++
	}
	for b, n := range count {
		if n < 90 || n > 110 {
			t.Errorf("band %d holds %d of 300 items; want about a third", b, n)
		}
	}
	// Every item of a lower band is no dearer than any item of a higher band.
	maxPrice := [3]float64{}
	minPrice := [3]float64{math.Inf(1), math.Inf(1), math.Inf(1)}
	for i, it := range cat.Items {
		maxPrice[bands[i]] = max(maxPrice[bands[i]], it.Price)
		minPrice[bands[i]] = min(minPrice[bands[i]], it.Price)
	}
	if maxPrice[0] > minPrice[1] || maxPrice[1] > minPrice[2] {
		t.Errorf("bands overlap: max %v, min %v", maxPrice, minPrice)
	}
}

func TestNiceTicks(t *testing.T) {
	var labels []string
	for _, tick := range niceTicks(0, 3.4) {
		if tick.Label != "" {
			labels = append(labels, tick.Label)
		}
	}
	if want := []string{"0", "0.5", "1", "1.5", "2", "2.5", "3"}; !slices.Equal(labels, want) {
		t.Errorf("labels = %v; want %v", labels, want)
	}
	labels = labels[:0]
	for _, tick := range niceTicks(-0.04, 0.6) {
		if tick.Label != "" {
			labels = append(labels, tick.Label)
		}
	}
	if want := []string{"0", "0.1", "0.2", "0.3", "0.4", "0.5", "0.6"}; !slices.Equal(labels, want) {
		t.Errorf("labels = %v; want %v, without -0", labels, want)
	}
}
