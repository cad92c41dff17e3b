package simenv

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func testCatalog(t *testing.T, n int) *Catalog {
	t.Helper()
	c, err := Generate(n, 1)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestClickProbabilitiesFormula(t *testing.T) {
	u := []float64{0.5, -1, 2}
	p := make([]float64, 3)
	none := ClickProbabilities(p, u, 0.3)
	z := math.Exp(0.3) + math.Exp(0.5) + math.Exp(-1) + math.Exp(2)
	for k := range u {
		if want := math.Exp(u[k]) / z; math.Abs(p[k]-want) > 1e-15 {
			t.Errorf("P(click %d) = %.17g, want %.17g", k, p[k], want)
		}
	}
	if want := math.Exp(0.3) / z; math.Abs(none-want) > 1e-15 {
		t.Errorf("P(no click) = %.17g, want %.17g", none, want)
	}
}

func TestClickProbabilitiesLargeUtilities(t *testing.T) {
	p := make([]float64, 2)
	none := ClickProbabilities(p, []float64{1000, 999}, 0)
	if math.IsNaN(p[0]) || math.IsNaN(none) {
		t.Fatalf("probabilities are NaN for utilities near 1000: %v, none %v", p, none)
	}
	if want := 1 / (1 + math.Exp(-1)); math.Abs(p[0]-want) > 1e-12 {
		t.Errorf("P(click 0) = %g, want %g", p[0], want)
	}
}

// TestClickFrequenciesMatchLogit steps many sessions on one fixed slate and checks the
// empirical frequencies of the reactions against the multinomial logit with a chi-squared
// test. Each session's first step is used, so that exposure and memory have not changed the
// utilities. For random_chooser the expected probabilities average the logit over 200
// draws of its noise from a stream of the test's own.
func TestClickFrequenciesMatchLogit(t *testing.T) {
	cat := testCatalog(t, 200)
	for _, persona := range PersonaNames {
		t.Run(persona, func(t *testing.T) {
			const sessions = 40000
			env, err := NewVecEnv(cat, Config{Persona: persona}, sessions, 11)
			if err != nil {
				t.Fatal(err)
			}
			// A slate whose utilities differ: the first blue item, the cheapest and the best value.
			slate := []int32{firstBlue(t, cat), 0, 1}
			slates := make([]int32, 0, sessions*3)
			expected := make([]float64, 4) // positions 0..2, then no click
			p := make([]float64, 3)
			u := make([]float64, 3)
			noise := rand.New(rand.NewPCG(99, 99))
			for i := 0; i < sessions; i++ {
				slates = append(slates, slate...)
				s := env.OracleShopper(i)
				mem := env.memoryOf(i)
				draws := 1
				if s.NoiseScale != 0 {
					draws = 200
				}
				for range draws {
					for k, item := range slate {
						u[k] = s.utility(&env.stats, int(item), 0, &mem)
						if s.NoiseScale != 0 {
							u[k] += s.NoiseScale * gumbelNoise(noise)
						}
					}
					none := ClickProbabilities(p, u, s.noClickUtility(0))
					for k := range p {
						expected[k] += p[k] / float64(draws)
					}
					expected[3] += none / float64(draws)
				}
			}
			out := NewStepResult(sessions)
			if err := env.Step(slates, out); err != nil {
				t.Fatal(err)
			}
			observed := make([]float64, 4)
			for i := 0; i < sessions; i++ {
				if c := out.Click[i]; c >= 0 {
					observed[c]++
				} else {
					observed[3]++
				}
			}
			chi2 := 0.0
			for k := range observed {
				chi2 += (observed[k] - expected[k]) * (observed[k] - expected[k]) / expected[k]
			}
			// 16.27 is the 0.999 quantile of chi-squared with 3 degrees of freedom.
			if chi2 > 16.27 {
				t.Errorf("chi-squared %.2f rejects the logit: observed %v, expected %v", chi2, observed, expected)
			}
		})
	}
}

func firstBlue(t *testing.T, c *Catalog) int32 {
	for i, it := range c.Items {
		if it.Color == "blue" && i > 1 {
			return int32(i)
		}
	}
	t.Fatal("generated catalog has no blue item")
	return -1
}

// runEnv steps env with slates drawn from rng for steps steps and returns a digest of every
// reaction, so that two runs can be compared exactly.
func runEnv(t *testing.T, env *VecEnv, steps int, rng *rand.Rand) []float64 {
	t.Helper()
	n, k, m := env.NumSessions(), env.Config.SlateSize, env.Catalog.Len()
	slates := make([]int32, n*k)
	out := NewStepResult(n)
	var trace []float64
	for s := 0; s < steps; s++ {
		for i := 0; i < n; i++ {
			perm := rng.Perm(m)
			for a := 0; a < k; a++ {
				slates[i*k+a] = int32(perm[a])
			}
		}
		if err := env.Step(slates, out); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < n; i++ {
			trace = append(trace, out.Reward[i], float64(out.Click[i]), indicatorFloat(out.Done[i]))
		}
	}
	return trace
}

func indicatorFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func TestVecEnvDeterministic(t *testing.T) {
	cat := testCatalog(t, 50)
	for _, persona := range PersonaNames {
		a, _ := NewVecEnv(cat, Config{Persona: persona}, 8, 3)
		b, _ := NewVecEnv(cat, Config{Persona: persona}, 8, 3)
		c, _ := NewVecEnv(cat, Config{Persona: persona}, 8, 4)
		ta := runEnv(t, a, 100, rand.New(rand.NewPCG(1, 1)))
		tb := runEnv(t, b, 100, rand.New(rand.NewPCG(1, 1)))
		tc := runEnv(t, c, 100, rand.New(rand.NewPCG(1, 1)))
		for i := range ta {
			if ta[i] != tb[i] {
				t.Fatalf("%s: same seed diverged at entry %d: %g vs %g", persona, i, ta[i], tb[i])
			}
		}
		if equalFloats(ta, tc) {
			t.Errorf("%s: seeds 3 and 4 gave identical runs", persona)
		}
	}
}

func equalFloats(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestSessionIndependentOfOthers checks that a session's course depends only on its own
// seed and slates: session 0 of a 1-session env and of a 5-session env agree.
func TestSessionIndependentOfOthers(t *testing.T) {
	cat := testCatalog(t, 30)
	one, _ := NewVecEnv(cat, Config{Persona: CheapBlue}, 1, 9)
	five, _ := NewVecEnv(cat, Config{Persona: CheapBlue}, 5, 9)
	slate := []int32{3, 7, 11}
	out1, out5 := NewStepResult(1), NewStepResult(5)
	slates5 := make([]int32, 15)
	for i := 0; i < 5; i++ {
		copy(slates5[i*3:], slate)
	}
	for step := 0; step < 200; step++ {
		if err := one.Step(slate, out1); err != nil {
			t.Fatal(err)
		}
		if err := five.Step(slates5, out5); err != nil {
			t.Fatal(err)
		}
		if out1.Click[0] != out5.Click[0] || out1.Reward[0] != out5.Reward[0] || out1.Done[0] != out5.Done[0] {
			t.Fatalf("step %d: session 0 differs: alone click %d reward %g, among five click %d reward %g",
				step, out1.Click[0], out1.Reward[0], out5.Click[0], out5.Reward[0])
		}
	}
}

// TestSessionsEndByPatience shows cheap_blue shoppers a slate of expensive black items,
// far below their no-click utility, and checks that every session that never clicked ends
// after exactly its patience of ignored slates.
func TestSessionsEndByPatience(t *testing.T) {
	var items []Item
	for i := 0; i < 3; i++ {
		items = append(items, Item{ID: fmt.Sprintf("black%d", i), Category: "Tops", Price: 1000, Color: "black", Brand: "b", Rating: 1})
	}
	// Many cheap blue items put the black ones several standard deviations above the mean price.
	for i := 0; i < 30; i++ {
		items = append(items, Item{ID: fmt.Sprintf("blue%d", i), Category: "Tops", Price: 1, Color: "blue", Brand: "b", Rating: 5})
	}
	cat, err := NewCatalog(items, "test")
	if err != nil {
		t.Fatal(err)
	}
	const n = 200
	env, _ := NewVecEnv(cat, Config{Persona: CheapBlue}, n, 5)
	slates := make([]int32, 3*n)
	for i := 0; i < n; i++ {
		copy(slates[i*3:], []int32{0, 1, 2})
	}
	patience := make([]int, n)
	for i := range patience {
		patience[i] = env.OracleShopper(i).Patience
	}
	out := NewStepResult(n)
	ended := make([]int, n)
	clicked := make([]bool, n)
	for step := 1; step <= 6; step++ {
		if err := env.Step(slates, out); err != nil {
			t.Fatal(err)
		}
		for i, d := range out.Done {
			if ended[i] != 0 {
				continue
			}
			clicked[i] = clicked[i] || out.Click[i] >= 0
			if d {
				ended[i] = step
			}
		}
	}
	checked := 0
	for i := range ended {
		if clicked[i] {
			continue
		}
		checked++
		if ended[i] != patience[i] {
			t.Errorf("session %d ended at step %d, want its patience %d", i, ended[i], patience[i])
		}
	}
	if checked < n*9/10 {
		t.Errorf("only %d of %d sessions never clicked; the slate should be almost always ignored", checked, n)
	}
}

func TestSessionsEndAtMaxSteps(t *testing.T) {
	cat := testCatalog(t, 40)
	const n = 50
	env, _ := NewVecEnv(cat, Config{Persona: CheapBlue, MaxSteps: 4}, n, 2)
	out := NewStepResult(n)
	slates := make([]int32, 3*n)
	for step := 1; step <= 4; step++ {
		for i := 0; i < n; i++ {
			copy(slates[i*3:], []int32{int32(step), int32(step + 10), int32(step + 20)})
		}
		if err := env.Step(slates, out); err != nil {
			t.Fatal(err)
		}
		for i, d := range out.Done {
			if d && out.EpisodeSteps[i] > 4 {
				t.Errorf("session %d ran %d steps, beyond the maximum 4", i, out.EpisodeSteps[i])
			}
			// A session that began at step 1 has shown 4 slates now and must have ended.
			if step == 4 && !d && env.SessionStep(i) >= 4 {
				t.Errorf("session %d is still running after %d steps", i, env.SessionStep(i))
			}
		}
	}
}

func TestExposureRaisesPurchaseChance(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	cat := testCatalog(t, 50)
	s, err := NewShopper(ExposureBuyer, cat, rng)
	if err != nil {
		t.Fatal(err)
	}
	prev := -1.0
	for e := int32(0); e < 8; e++ {
		p := s.buyProbability(-1, e)
		if p <= prev {
			t.Errorf("P(buy) after %d showings = %g, not above %g after %d", e, p, prev, e-1)
		}
		prev = p
	}
	st := newItemStats(cat)
	var mem memory
	if u0, u5 := s.utility(&st, 0, 0, &mem), s.utility(&st, 0, 5, &mem); u5 <= u0 {
		t.Errorf("utility after 5 showings %g is not above the first-sight utility %g", u5, u0)
	}
}

func TestShopperJitterDiffers(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	cat := testCatalog(t, 50)
	a, _ := NewShopper(CheapBlue, cat, rng)
	b, _ := NewShopper(CheapBlue, cat, rng)
	if a.BlueWeight == b.BlueWeight || a.PriceWeight == b.PriceWeight {
		t.Errorf("two cheap_blue shoppers share weights: %+v and %+v", a, b)
	}
	if a.BlueWeight <= 0 || b.BlueWeight <= 0 {
		t.Errorf("jitter flipped the sign of the blue weight: %g, %g", a.BlueWeight, b.BlueWeight)
	}
}

func TestStepRejectsInvalidSlates(t *testing.T) {
	cat := testCatalog(t, 10)
	env, _ := NewVecEnv(cat, Config{Persona: ValueSeeker}, 2, 1)
	out := NewStepResult(2)
	cases := []struct {
		name   string
		slates []int32
		want   string
	}{
		{"short", []int32{0, 1, 2}, "want 6"},
		{"outside", []int32{0, 1, 2, 3, 4, 10}, "item 10 is outside"},
		{"negative", []int32{-1, 1, 2, 3, 4, 5}, "item -1 is outside"},
		{"repeat", []int32{0, 1, 2, 4, 4, 5}, "shows item 4 twice"},
	}
	for _, c := range cases {
		err := env.Step(c.slates, out)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got error %v, want one containing %q", c.name, err, c.want)
		}
	}
}

func TestConfigRejectsBadInput(t *testing.T) {
	cat := testCatalog(t, 10)
	cases := []struct {
		cfg  Config
		want string
	}{
		{Config{Persona: "nobody"}, `unknown persona "nobody"`},
		{Config{Persona: CheapBlue, Reward: "gold"}, `unknown reward scheme "gold"`},
		{Config{Persona: CheapBlue, SlateSize: 11}, "fewer than the slate size 11"},
		{Config{Persona: CheapBlue, MaxSteps: -1}, "maximum session length -1"},
	}
	for _, c := range cases {
		_, err := NewVecEnv(cat, c.cfg, 1, 1)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: got error %v, want one containing %q", c.cfg, err, c.want)
		}
	}
	if _, err := NewVecEnv(cat, Config{Persona: CheapBlue}, 0, 1); err == nil {
		t.Error("0 sessions: got nil error")
	}
}

func TestRewardSchemes(t *testing.T) {
	cases := []struct {
		scheme          string
		clicked, bought bool
		want            float64
	}{
		{RewardClickPurchase, false, false, 0},
		{RewardClickPurchase, true, false, 1},
		{RewardClickPurchase, true, true, 5},
		{RewardClick, true, true, 1},
		{RewardPurchase, true, false, 0},
		{RewardPurchase, true, true, 1},
		{RewardRevenue, true, true, 12.5},
		{RewardRevenue, true, false, 0},
	}
	for _, c := range cases {
		if got := reward(c.scheme, c.clicked, c.bought, 12.5); got != c.want {
			t.Errorf("reward(%s, clicked %v, bought %v) = %g, want %g", c.scheme, c.clicked, c.bought, got, c.want)
		}
	}
}

func TestStepAllocatesNothing(t *testing.T) {
	cat := testCatalog(t, 200)
	env, _ := NewVecEnv(cat, Config{Persona: ExposureBuyer}, 64, 1)
	slates := make([]int32, 64*3)
	for i := 0; i < 64; i++ {
		copy(slates[i*3:], []int32{int32(i), int32(i + 64), int32(i + 128)})
	}
	out := NewStepResult(64)
	allocs := testing.AllocsPerRun(50, func() {
		if err := env.Step(slates, out); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("Step allocates %.1f times per call, want 0", allocs)
	}
}
