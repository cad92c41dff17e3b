package simenv

import (
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

func TestParsePopulationValid(t *testing.T) {
	cases := []struct {
		input string
		want  Population
	}{
		{"cheap_blue", Population{Personas: []string{"cheap_blue"}, Shares: []float64{1}}},
		{"  learning_shopper ", Population{Personas: []string{"learning_shopper"}, Shares: []float64{1}}},
		{"cheap_blue:2", Population{Personas: []string{"cheap_blue"}, Shares: []float64{1}}},
		{"cheap_blue:0.5,value_seeker:0.5", Population{Personas: []string{"cheap_blue", "value_seeker"}, Shares: []float64{0.5, 0.5}}},
		{" brand_lover : 1 , budget_buyer:3 ", Population{Personas: []string{"brand_lover", "budget_buyer"}, Shares: []float64{0.25, 0.75}}},
		{"random_chooser:1,category_fatigue:0", Population{Personas: []string{"random_chooser", "category_fatigue"}, Shares: []float64{1, 0}}},
		{"freshness_seeker:1e-3,exposure_buyer:3e-3", Population{Personas: []string{"freshness_seeker", "exposure_buyer"}, Shares: []float64{0.25, 0.75}}},
	}
	for _, tc := range cases {
		t.Run(tc.input, func(t *testing.T) {
			got, err := ParsePopulation(tc.input)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ParsePopulation(%q) = %+v; want %+v", tc.input, got, tc.want)
			}

			// String gives a form that parses back to the same population.
			again, err := ParsePopulation(got.String())
			if err != nil {
				t.Fatalf("ParsePopulation(%q) of String: %v", got.String(), err)
			}
			if !reflect.DeepEqual(again, got) {
				t.Errorf("ParsePopulation(%q) = %+v; want %+v", got.String(), again, got)
			}
		})
	}
}

func TestPopulationString(t *testing.T) {
	p, err := ParsePopulation("cheap_blue:1,value_seeker:3")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := p.String(), "cheap_blue:0.25,value_seeker:0.75"; got != want {
		t.Errorf("String() = %q; want %q", got, want)
	}
	single, err := ParsePopulation("cheap_blue:4")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := single.String(), "cheap_blue"; got != want {
		t.Errorf("String() = %q; want %q", got, want)
	}
}

func TestParsePopulationInvalid(t *testing.T) {
	valid := strings.Join(PersonaNames, ", ")
	cases := []struct {
		name  string
		input string
		want  string // the whole error message
	}{
		{"empty", "", `simenv: population "" is empty; give a persona name such as cheap_blue, or a mix such as cheap_blue:0.5,value_seeker:0.5`},
		{"blank", "  ", `simenv: population "  " is empty; give a persona name such as cheap_blue, or a mix such as cheap_blue:0.5,value_seeker:0.5`},
		{"unknown single", "nobody", `simenv: unknown persona "nobody"; valid personas: ` + valid},
		{"unknown in mix", "cheap_blue:1,nobody:2", `simenv: population "cheap_blue:1,nobody:2": entry 2: unknown persona "nobody"; valid personas: ` + valid},
		{"missing colon", "cheap_blue:0.5,value_seeker", `simenv: population "cheap_blue:0.5,value_seeker": entry 2 "value_seeker" has no colon; write each entry of a mix as name:weight, such as cheap_blue:0.5,value_seeker:0.5`},
		{"names without weights", "cheap_blue,value_seeker", `simenv: population "cheap_blue,value_seeker": entry 1 "cheap_blue" has no colon; write each entry of a mix as name:weight, such as cheap_blue:0.5,value_seeker:0.5`},
		{"empty name", ":0.5,value_seeker:0.5", `simenv: population ":0.5,value_seeker:0.5": entry 1 ":0.5" has an empty persona name; write it as name:weight, such as cheap_blue:0.5`},
		{"empty entry", "cheap_blue:1,", `simenv: population "cheap_blue:1,": entry 2 is empty; separate name:weight entries by single commas, such as cheap_blue:0.5,value_seeker:0.5`},
		{"double comma", "cheap_blue:1,,value_seeker:1", `simenv: population "cheap_blue:1,,value_seeker:1": entry 2 is empty; separate name:weight entries by single commas, such as cheap_blue:0.5,value_seeker:0.5`},
		{"text weight", "cheap_blue:half", `simenv: population "cheap_blue:half": entry 1: weight "half" of cheap_blue is not a number; write a number >= 0 such as 0.5`},
		{"empty weight", "cheap_blue:", `simenv: population "cheap_blue:": entry 1: weight "" of cheap_blue is not a number; write a number >= 0 such as 0.5`},
		{"two colons", "cheap_blue:1:2", `simenv: population "cheap_blue:1:2": entry 1: weight "1:2" of cheap_blue is not a number; write a number >= 0 such as 0.5`},
		{"negative weight", "cheap_blue:-0.5,value_seeker:1", `simenv: population "cheap_blue:-0.5,value_seeker:1": entry 1: weight -0.5 of cheap_blue is invalid; use a finite number >= 0`},
		{"NaN weight", "cheap_blue:1,value_seeker:NaN", `simenv: population "cheap_blue:1,value_seeker:NaN": entry 2: weight NaN of value_seeker is invalid; use a finite number >= 0`},
		{"infinite weight", "cheap_blue:+Inf", `simenv: population "cheap_blue:+Inf": entry 1: weight +Inf of cheap_blue is invalid; use a finite number >= 0`},
		{"all zero", "cheap_blue:0,value_seeker:0", `simenv: population "cheap_blue:0,value_seeker:0": all weights are 0; give at least one persona a weight above 0`},
		{"sum overflows", "cheap_blue:1e308,value_seeker:1e308", `simenv: population "cheap_blue:1e308,value_seeker:1e308": the weights sum to more than the largest float64; use smaller weights such as shares that sum to 1`},
		{"duplicate", "cheap_blue:1,value_seeker:1,cheap_blue:2", `simenv: population "cheap_blue:1,value_seeker:1,cheap_blue:2": entry 3 repeats persona cheap_blue of entry 1; give each persona once, with its total weight`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ParsePopulation(tc.input)
			if err == nil {
				t.Fatalf("ParsePopulation(%q) = %+v; want an error", tc.input, p)
			}
			if got := err.Error(); got != tc.want {
				t.Errorf("error = %q\nwant    %q", got, tc.want)
			}
		})
	}
}

// chiSquaredShares returns Pearson's chi-squared statistic of counts against shares that sum
// to 1, over the entries of share above 0. It reports a count in an entry of share 0 as
// infinite.
func chiSquaredShares(counts []int, shares []float64) float64 {
	total := 0
	for _, n := range counts {
		total += n
	}
	sum := 0.0
	for k, n := range counts {
		if shares[k] == 0 {
			if n > 0 {
				return float64(n) * 1e300
			}
			continue
		}
		expected := shares[k] * float64(total)
		sum += (float64(n) - expected) * (float64(n) - expected) / expected
	}
	return sum
}

func TestPopulationSampleFrequencies(t *testing.T) {
	p, err := ParsePopulation("cheap_blue:0.1,value_seeker:0,brand_lover:0.2,learning_shopper:0.3,budget_buyer:0.4")
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	counts := make([]int, len(p.Personas))
	for range 100_000 {
		counts[p.Sample(rng)]++
	}
	// 3 degrees of freedom over the 4 personas of share above 0: the 0.001 critical value
	// is 16.27.
	if stat := chiSquaredShares(counts, p.Shares); stat > 16.27 {
		t.Errorf("chi-squared of counts %v against shares %v = %.2f; want at most 16.27", counts, p.Shares, stat)
	}
}

func TestPopulationSampleSinglePersonaDrawsNothing(t *testing.T) {
	for _, input := range []string{"cheap_blue", "cheap_blue:1,value_seeker:0"} {
		p, err := ParsePopulation(input)
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(1, 1))
		if got := p.Sample(rng); got != 0 {
			t.Errorf("%s: Sample = %d; want 0", input, got)
		}
		want := rand.New(rand.NewPCG(1, 1)).Uint64()
		if got := rng.Uint64(); got != want {
			t.Errorf("%s: Sample drew from the stream", input)
		}
	}
}

// TestSessionPersonaFrequencies checks by chi-squared that the sessions of a VecEnv draw
// their personas with the population's shares.
func TestSessionPersonaFrequencies(t *testing.T) {
	cat := testCatalog(t, 50)
	const population = "cheap_blue:0.5,random_chooser:0.2,freshness_seeker:0.3"
	const n = 30_000
	env, err := NewVecEnv(cat, Config{Persona: population}, n, 17)
	if err != nil {
		t.Fatal(err)
	}
	p, err := ParsePopulation(population)
	if err != nil {
		t.Fatal(err)
	}
	counts := make([]int, len(p.Personas))
	for i := range n {
		persona := env.OracleShopper(i).Persona
		k := -1
		for j, name := range p.Personas {
			if name == persona {
				k = j
			}
		}
		if k < 0 {
			t.Fatalf("session %d has persona %q, outside the population %s", i, persona, population)
		}
		counts[k]++
	}
	// 2 degrees of freedom: the 0.001 critical value is 13.82.
	if stat := chiSquaredShares(counts, p.Shares); stat > 13.82 {
		t.Errorf("chi-squared of persona counts %v = %.2f; want at most 13.82", counts, stat)
	}
}

// TestSessionPersonasGolden pins the personas that seed 7 draws for the first sessions, so
// that a change to the order of draws shows.
func TestSessionPersonasGolden(t *testing.T) {
	cat := testCatalog(t, 50)
	env, err := NewVecEnv(cat, Config{Persona: "brand_lover:1,budget_buyer:1,learning_shopper:1"}, 8, 7)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"learning_shopper", "budget_buyer", "brand_lover", "learning_shopper", "brand_lover", "brand_lover", "brand_lover", "brand_lover"}
	for i, w := range want {
		if got := env.OracleShopper(i).Persona; got != w {
			t.Errorf("session %d persona = %s; want %s", i, got, w)
		}
	}
}

// TestSinglePersonaPopulationsAgree checks that the ways of writing a single persona give
// the same run: a population with one persona of share above 0 draws nothing from the
// session streams.
func TestSinglePersonaPopulationsAgree(t *testing.T) {
	cat := testCatalog(t, 50)
	var traces [][]float64
	for _, persona := range []string{"cheap_blue", "cheap_blue:3", "value_seeker:0,cheap_blue:1"} {
		env, err := NewVecEnv(cat, Config{Persona: persona}, 8, 3)
		if err != nil {
			t.Fatal(err)
		}
		traces = append(traces, runEnv(t, env, 100, rand.New(rand.NewPCG(1, 1))))
	}
	for k := 1; k < len(traces); k++ {
		if !equalFloats(traces[0], traces[k]) {
			t.Errorf("population %d gives a different run than cheap_blue", k)
		}
	}
}
