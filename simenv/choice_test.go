package simenv

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func sigmoidOf(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

func TestCascadeProbabilitiesFormula(t *testing.T) {
	u := []float64{0.5, -1, 2}
	const u0 = 0.3
	p := make([]float64, 3)
	none := CascadeProbabilities(p, u, u0)
	a0, a1, a2 := sigmoidOf(0.5-u0), sigmoidOf(-1-u0), sigmoidOf(2-u0)
	want := []float64{a0, (1 - a0) * a1, (1 - a0) * (1 - a1) * a2}
	for k := range want {
		checkClose(t, fmt.Sprintf("cascade P(click %d)", k), p[k], want[k])
	}
	checkClose(t, "cascade P(no click)", none, (1-a0)*(1-a1)*(1-a2))
}

func TestPositionProbabilitiesFormula(t *testing.T) {
	u := []float64{0.5, -1, 2, 0}
	const u0 = 0.3
	p := make([]float64, 4)
	none := PositionProbabilities(p, u, u0)
	theta := []float64{1, 1 / math.Log2(3), 0.5, 1 / math.Log2(5)}
	q := make([]float64, 4) // probability of examining and being attracted
	for k := range q {
		q[k] = theta[k] * sigmoidOf(u[k]-u0)
	}
	want := []float64{q[0], (1 - q[0]) * q[1], (1 - q[0]) * (1 - q[1]) * q[2], (1 - q[0]) * (1 - q[1]) * (1 - q[2]) * q[3]}
	for k := range want {
		checkClose(t, fmt.Sprintf("position P(click %d)", k), p[k], want[k])
	}
	checkClose(t, "position P(no click)", none, (1-q[0])*(1-q[1])*(1-q[2])*(1-q[3]))
}

func TestExaminationProbability(t *testing.T) {
	want := []float64{1, 0.6309297535714574, 0.5, 0.43067655807339306}
	for k, w := range want {
		checkClose(t, fmt.Sprintf("θ_%d", k), ExaminationProbability(k), w)
	}
	for k := 1; k < 100; k++ {
		if ExaminationProbability(k) >= ExaminationProbability(k-1) {
			t.Errorf("θ_%d = %g is not below θ_%d = %g", k, ExaminationProbability(k), k-1, ExaminationProbability(k-1))
		}
	}
	if got := ExaminationProbability(-1); got != 0 {
		t.Errorf("θ_-1 = %g; want 0", got)
	}
}

// TestChoiceModelsAgreeOnOneItem checks that the attraction of the cascade and
// position-based models is the multinomial-logit click probability of a slate of one item.
func TestChoiceModelsAgreeOnOneItem(t *testing.T) {
	for _, u := range []float64{-3, -0.4, 0, 1.7} {
		want := make([]float64, 1)
		ClickProbabilities(want, []float64{u}, 0.2)
		for _, model := range ChoiceModelNames {
			got := make([]float64, 1)
			if _, err := ChoiceProbabilities(model, got, []float64{u}, 0.2); err != nil {
				t.Fatal(err)
			}
			checkClose(t, model+" P(click) of a one-item slate", got[0], want[0])
		}
	}
}

// TestChoiceProbabilitiesUnavailableItem checks that an item of utility −Inf, as Step gives
// an unavailable item, is never clicked and leaves the other positions' probabilities as
// if the shopper had skipped it.
func TestChoiceProbabilitiesUnavailableItem(t *testing.T) {
	for _, model := range ChoiceModelNames {
		p := make([]float64, 3)
		none, err := ChoiceProbabilities(model, p, []float64{0.5, math.Inf(-1), 1}, 0)
		if err != nil {
			t.Fatal(err)
		}
		if p[1] != 0 {
			t.Errorf("%s: P(click on the unavailable item) = %g; want 0", model, p[1])
		}
		if sum := p[0] + p[1] + p[2] + none; math.Abs(sum-1) > 1e-15 || math.IsNaN(sum) {
			t.Errorf("%s: probabilities sum to %g; want 1", model, sum)
		}
	}
	p := make([]float64, 2)
	none := CascadeProbabilities(p, []float64{math.Inf(-1), 1}, 0)
	checkClose(t, "cascade P(click after an unavailable item)", p[1], sigmoidOf(1))
	checkClose(t, "cascade P(no click)", none, 1-sigmoidOf(1))
}

func TestChoiceModelRejectsUnknown(t *testing.T) {
	cat := testCatalog(t, 10)
	_, err := NewVecEnv(cat, Config{Persona: CheapBlue, ChoiceModel: "probit"}, 1, 1)
	want := `simenv: unknown choice model "probit"; valid models: mnl, cascade, position`
	if err == nil || err.Error() != want {
		t.Errorf("error %v; want %q", err, want)
	}
	if _, err := ChoiceProbabilities("probit", make([]float64, 1), []float64{0}, 0); err == nil {
		t.Error("ChoiceProbabilities accepted an unknown model")
	}
	for _, name := range append([]string{""}, ChoiceModelNames...) {
		if err := CheckChoiceModel(name); err != nil {
			t.Errorf("CheckChoiceModel(%q) = %v; want nil", name, err)
		}
	}
}

// TestClickFrequenciesMatchChoiceModels steps many sessions on one fixed slate under every
// choice model and checks the empirical frequencies of the reactions against the model's
// formula with a chi-squared test, as TestClickFrequenciesMatchLogit does for the default.
// The slate is shown in two orders, because the cascade and position-based models depend
// on it. For random_chooser the expected probabilities average the formula over 200 draws
// of its noise from a stream of the test's own.
func TestClickFrequenciesMatchChoiceModels(t *testing.T) {
	cat := testCatalog(t, 200)
	blue := firstBlue(t, cat)
	for _, model := range ChoiceModelNames {
		for _, slate := range [][]int32{{blue, 0, 1}, {1, 0, blue}} {
			for _, persona := range PersonaNames {
				t.Run(model+"/"+persona, func(t *testing.T) {
					checkClickFrequencies(t, cat, Config{Persona: persona, ChoiceModel: model}, slate, 40000)
				})
			}
		}
	}
}

// checkClickFrequencies shows slate to the first step of n sessions of cfg and checks the
// frequencies of clicks per position and of no click against ChoiceProbabilities by a
// chi-squared test at the 0.001 level.
func checkClickFrequencies(t *testing.T, cat *Catalog, cfg Config, slate []int32, n int) {
	t.Helper()
	k := len(slate)
	env, err := NewVecEnv(cat, cfg, n, 11)
	if err != nil {
		t.Fatal(err)
	}

	// Expected frequencies, from the formula at each session's first step.
	slates := make([]int32, 0, n*k)
	expected := make([]float64, k+1) // positions, then no click
	p := make([]float64, k)
	u := make([]float64, k)
	noise := rand.New(rand.NewPCG(99, 99))
	for i := 0; i < n; i++ {
		slates = append(slates, slate...)
		s := env.OracleShopper(i)
		mem := env.memoryOf(i)
		draws := 1
		if s.NoiseScale != 0 {
			draws = 200
		}
		for range draws {
			for a, item := range slate {
				u[a] = s.utility(&env.stats, int(item), 0, &mem)
				if s.NoiseScale != 0 {
					u[a] += s.NoiseScale * gumbelNoise(noise)
				}
				if !env.Available[item] {
					u[a] = math.Inf(-1)
				}
			}
			none, err := ChoiceProbabilities(cfg.ChoiceModel, p, u, s.noClickUtility(0))
			if err != nil {
				t.Fatal(err)
			}
			for a := range p {
				expected[a] += p[a] / float64(draws)
			}
			expected[k] += none / float64(draws)
		}
	}

	// Observed frequencies of one step.
	out := NewStepResult(n)
	if err := env.Step(slates, out); err != nil {
		t.Fatal(err)
	}
	observed := make([]float64, k+1)
	for i := 0; i < n; i++ {
		if c := out.Click[i]; c >= 0 {
			observed[c]++
		} else {
			observed[k]++
		}
	}

	chi2, dof := 0.0, -1
	for a := range observed {
		if expected[a] == 0 {
			if observed[a] != 0 {
				t.Errorf("position %d was clicked %v times; its probability is 0", a, observed[a])
			}
			continue
		}
		chi2 += (observed[a] - expected[a]) * (observed[a] - expected[a]) / expected[a]
		dof++
	}
	// The 0.999 quantiles of chi-squared with 1, 2 and 3 degrees of freedom.
	critical := map[int]float64{1: 10.83, 2: 13.82, 3: 16.27}[dof]
	if chi2 > critical {
		t.Errorf("chi-squared %.2f with %d degrees of freedom rejects %s: observed %v, expected %v",
			chi2, dof, cfg.ChoiceModel, observed, expected)
	}
}

// TestClickFrequenciesWithUnavailableItem removes the middle item of the slate by drift and
// checks, for every choice model, that it is never clicked and that the other positions
// follow the formula with the item skipped.
func TestClickFrequenciesWithUnavailableItem(t *testing.T) {
	cat := testCatalog(t, 200)
	blue := firstBlue(t, cat)
	slate := []int32{blue, 0, 1}
	for _, model := range ChoiceModelNames {
		t.Run(model, func(t *testing.T) {
			cfg := Config{Persona: CheapBlue, ChoiceModel: model, Drift: "remove=" + cat.Items[0].ID + "@0"}
			checkClickFrequencies(t, cat, cfg, slate, 40000)
		})
	}
}

// TestCascadeFavoursTopPosition shows the same three items in two orders to cascade
// shoppers and checks that the best item is clicked more often at the top than at the
// bottom, which the multinomial logit would not do.
func TestCascadeFavoursTopPosition(t *testing.T) {
	cat := testCatalog(t, 200)
	blue := firstBlue(t, cat)
	const n = 20000
	clicksOnBlue := func(slate []int32, position int) int {
		env, err := NewVecEnv(cat, Config{Persona: CheapBlue, ChoiceModel: ChoiceCascade}, n, 5)
		if err != nil {
			t.Fatal(err)
		}
		slates := make([]int32, 0, 3*n)
		for range n {
			slates = append(slates, slate...)
		}
		out := NewStepResult(n)
		if err := env.Step(slates, out); err != nil {
			t.Fatal(err)
		}
		count := 0
		for _, c := range out.Click {
			if int(c) == position {
				count++
			}
		}
		return count
	}
	top, bottom := clicksOnBlue([]int32{blue, 0, 1}, 0), clicksOnBlue([]int32{0, 1, blue}, 2)
	if top <= bottom {
		t.Errorf("the blue item was clicked %d times at the top and %d at the bottom; want more at the top", top, bottom)
	}
}

// TestChoiceModelGolden pins the total reward and clicks of seeded runs of the first nine
// personas under the cascade and position-based models, so that any change to them shows.
func TestChoiceModelGolden(t *testing.T) {
	cat := testCatalog(t, 200)
	want := map[string][3]float64{
		ChoiceCascade:  {2751, 1635, 885},
		ChoicePosition: {1903, 1151, 1069},
	}
	for model, w := range want {
		cfg := Config{Persona: strings.Join(PersonaNames[:9], ":1,") + ":1", ReturnProb: 0.5, ChoiceModel: model}
		env, err := NewVecEnv(cat, cfg, 32, 99)
		if err != nil {
			t.Fatal(err)
		}
		trace := runEnv(t, env, 200, rand.New(rand.NewPCG(2, 2)))
		var reward, clicks, ends float64
		for k := 0; k < len(trace); k += 3 {
			reward += trace[k]
			if trace[k+1] >= 0 {
				clicks++
			}
			ends += trace[k+2]
		}
		if reward != w[0] || clicks != w[1] || ends != w[2] {
			t.Errorf("%s: reward %v, clicks %v, ends %v; want %v, %v, %v", model, reward, clicks, ends, w[0], w[1], w[2])
		}
	}
}

// TestSampleLogitMatchesReference checks the step's logit sampler, with its memo, against
// the same walk over weights computed with math.Exp, bit for bit, for random utilities and
// for draws at and next to every boundary between outcomes. Away from the boundaries it
// must also pick what sampleClick picks from ClickProbabilities; at a boundary the two may
// round to the neighbouring outcome.
func TestSampleLogitMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 8))
	checked := 0
	for trial := range 20000 {
		k := 1 + trial%6
		if trial%100 == 0 {
			k = 60
		}
		sc := newStepScratch(k)
		u := make([]float64, k)
		for a := range u {
			u[a] = 6 * (rng.Float64() - 0.7)
			if rng.IntN(20) == 0 {
				u[a] = math.Inf(-1)
			}
		}
		noClick := rng.NormFloat64()
		p := make([]float64, k)
		ClickProbabilities(p, u, noClick)

		// Random draws must match sampleClick exactly.
		for _, d := range []float64{0, rng.Float64(), rng.Float64(), math.Nextafter(1, 0)} {
			copy(sc.utility, u)
			if got, want := sc.sampleLogit(noClick, d), sampleClick(p, d); got != want {
				t.Fatalf("utilities %v, no-click %v, draw %v: sampleLogit = %d; sampleClick = %d", u, noClick, d, got, want)
			}
		}

		// Draws at the cumulative sums of the walk and their neighbours.
		var draws []float64
		r := 0.0
		for _, q := range p {
			r += q
			for _, d := range []float64{r, math.Nextafter(r, 0), math.Nextafter(r, 2), r * (1 - 1e-15), r * (1 + 1e-15)} {
				if d >= 0 && d < 1 {
					draws = append(draws, d)
				}
			}
		}
		for _, d := range draws {
			copy(sc.utility, u)
			got := sc.sampleLogit(noClick, d)
			if want := referenceLogitWalk(u, noClick, d); got != want {
				t.Fatalf("utilities %v, no-click %v, draw %v: sampleLogit = %d; the walk with math.Exp = %d", u, noClick, d, got, want)
			}
			if want := sampleClick(p, d); got != want && !adjacentOutcomes(got, want, p) {
				t.Fatalf("utilities %v, no-click %v, draw %v: sampleLogit = %d; sampleClick = %d, not a neighbour", u, noClick, d, got, want)
			}
			checked++
		}
	}
	if checked < 100000 {
		t.Errorf("checked only %d draws", checked)
	}
}

// referenceLogitWalk is sampleLogit written plainly with math.Exp.
func referenceLogitWalk(u []float64, noClick, r float64) int32 {
	m := noClick
	for _, v := range u {
		m = max(m, v)
	}
	w := make([]float64, len(u))
	z := math.Exp(noClick - m)
	for k, v := range u {
		w[k] = math.Exp(v - m)
		z += w[k]
	}
	x := r * z
	for a, wa := range w {
		if x < wa {
			return int32(a)
		}
		x -= wa
	}
	return -1
}

// adjacentOutcomes reports whether clicks a and b are next to each other in the order of
// the walk over the click probabilities p, slate positions 0 to len(p)−1 and then no
// click (−1), when outcomes of probability 0 are left out.
func adjacentOutcomes(a, b int32, p []float64) bool {
	order := func(c int32) int {
		if c < 0 {
			return len(p)
		}
		return int(c)
	}
	lo, hi := min(order(a), order(b)), max(order(a), order(b))
	for c := lo + 1; c < hi; c++ {
		if p[c] > 0 {
			return false
		}
	}
	return lo != hi
}

func TestStepAllocatesNothingWithEveryChoiceModel(t *testing.T) {
	cat := testCatalog(t, 200)
	for _, model := range ChoiceModelNames {
		env, err := NewVecEnv(cat, Config{Persona: strings.Join(PersonaNames, ":1,") + ":1", ReturnProb: 0.5, ChoiceModel: model}, 64, 1)
		if err != nil {
			t.Fatal(err)
		}
		slates := make([]int32, 64*3)
		for i := 0; i < 64; i++ {
			copy(slates[i*3:], []int32{int32(i), int32(i + 64), int32(i + 128)})
		}
		out := NewStepResult(64)
		allocs := mallocsDuring(func() {
			for range 100 {
				if err := env.Step(slates, out); err != nil {
					t.Fatal(err)
				}
			}
		})
		if allocs != 0 {
			t.Errorf("%s: 100 steps allocated %d times; want 0", model, allocs)
		}
	}
}
