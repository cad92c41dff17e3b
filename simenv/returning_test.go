package simenv

import (
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestConfigRejectsBadReturnProb(t *testing.T) {
	cat := testCatalog(t, 10)
	for _, p := range []float64{-0.1, 1.5, math.NaN(), math.Inf(1)} {
		_, err := NewVecEnv(cat, Config{Persona: CheapBlue, ReturnProb: p}, 1, 1)
		want := fmt.Sprintf("simenv: return probability %v is invalid; use a number from 0 (shoppers never return) to 1 (they always return)", p)
		if err == nil || err.Error() != want {
			t.Errorf("ReturnProb %v: error %v; want %q", p, err, want)
		}
	}
	for _, p := range []float64{0, 0.5, 1} {
		if _, err := NewVecEnv(cat, Config{Persona: CheapBlue, ReturnProb: p}, 1, 1); err != nil {
			t.Errorf("ReturnProb %v: %v", p, err)
		}
	}
}

func TestConfigRejectsBadPopulation(t *testing.T) {
	cat := testCatalog(t, 10)
	_, err := NewVecEnv(cat, Config{Persona: "cheap_blue:1,cheap_blue:1"}, 1, 1)
	if err == nil || !strings.Contains(err.Error(), "repeats persona cheap_blue") {
		t.Errorf("error %v; want one about the repeated persona", err)
	}
}

// stepRandom shows every session of env a random slate drawn from rng.
func stepRandom(t *testing.T, env *VecEnv, rng *rand.Rand, slates []int32, out *StepResult) {
	t.Helper()
	k := env.Config.SlateSize
	for i := range env.NumSessions() {
		sampleSlate(rng, env.Catalog.Len(), slates[i*k:(i+1)*k])
	}
	if err := env.Step(slates, out); err != nil {
		t.Fatal(err)
	}
}

// TestReturningShopperKeepsMemory runs a mix of personas with memory, with every shopper
// returning, and checks at every end of a session that the next visit has the same shopper,
// the same memory and the same item counters, and starts its own figures at 0.
func TestReturningShopperKeepsMemory(t *testing.T) {
	cat := testCatalog(t, 50)
	const n = 64
	cfg := Config{Persona: "category_fatigue:1,budget_buyer:1,learning_shopper:1,exposure_buyer:1", ReturnProb: 1, MaxSteps: 8}
	env, err := NewVecEnv(cat, cfg, n, 21)
	if err != nil {
		t.Fatal(err)
	}
	m := cat.Len()
	rng := rand.New(rand.NewPCG(21, 21))
	slates := make([]int32, 3*n)
	out := NewStepResult(n)
	returns := 0
	for range 100 {
		shoppers := make([]Shopper, n)
		visits := make([]int, n)
		memories := make([]ShopperMemory, n)
		for i := range n {
			shoppers[i] = env.OracleShopper(i)
			visits[i] = env.SessionVisit(i)
			memories[i] = env.OracleMemory(i)
		}
		exposure := slices.Clone(env.Exposure)
		stepRandom(t, env, rng, slates, out)
		for i := range n {
			checkMemoryStep(t, env, i, &shoppers[i], memories[i], slates[i*3:(i+1)*3], out)
			if !out.Done[i] {
				continue
			}
			returns++
			if got := env.OracleShopper(i); !reflect.DeepEqual(got, shoppers[i]) {
				t.Fatalf("session %d: shopper after the return = %+v; want %+v", i, got, shoppers[i])
			}
			if got, want := env.SessionVisit(i), visits[i]+1; got != want {
				t.Errorf("session %d visit = %d; want %d", i, got, want)
			}
			if env.SessionStep(i) != 0 || env.SessionClicks(i) != 0 || env.IgnoredRun(i) != 0 || env.SessionDone(i) {
				t.Errorf("session %d starts its visit at step %d, clicks %d, ignored run %d, done %v; want 0, 0, 0, false",
					i, env.SessionStep(i), env.SessionClicks(i), env.IgnoredRun(i), env.SessionDone(i))
			}
			// The exposure counters carry over: the last slate was added to the old counts.
			for a := range 3 {
				exposure[i*m+int(slates[i*3+a])]++
			}
			if !slices.Equal(env.Exposure[i*m:(i+1)*m], exposure[i*m:(i+1)*m]) {
				t.Errorf("session %d: exposure counts were not kept over the return", i)
			}
		}
	}
	if returns < 200 {
		t.Errorf("%d returns; want at least 200 for a meaningful test", returns)
	}

	// Memory that has built up is still there after many returns.
	kept := map[string]bool{}
	for i := range n {
		memory := env.OracleMemory(i)
		switch env.OracleShopper(i).Persona {
		case CategoryFatigue:
			kept[CategoryFatigue] = kept[CategoryFatigue] || slices.Max(memory.Fatigue) > 0
		case BudgetBuyer:
			kept[BudgetBuyer] = kept[BudgetBuyer] || memory.RemainingBudget < env.OracleShopper(i).Budget
		case LearningShopper:
			kept[LearningShopper] = kept[LearningShopper] || memory.Trust != 0
		}
	}
	for _, persona := range []string{CategoryFatigue, BudgetBuyer, LearningShopper} {
		if !kept[persona] {
			t.Errorf("no %s shopper has memory after %d returns", persona, returns)
		}
	}
}

// checkMemoryStep checks that session i's memory after a step is its memory before, before,
// changed only as the shopper's persona documents for the slate and its outcome, whether or
// not the session ended and its shopper returned.
func checkMemoryStep(t *testing.T, env *VecEnv, i int, shopper *Shopper, before ShopperMemory, slate []int32, out *StepResult) {
	t.Helper()
	after := env.OracleMemory(i)
	cat := env.Catalog

	// Fatigue: F ← decay·F + items of the category in the slate.
	want := slices.Clone(before.Fatigue)
	if shopper.FatigueDecay != 0 {
		for c := range want {
			want[c] *= shopper.FatigueDecay
		}
		for _, item := range slate {
			want[cat.CategoryOf[item]]++
		}
	}
	for c := range want {
		if math.Abs(after.Fatigue[c]-want[c]) > 1e-12 {
			t.Fatalf("session %d fatigue with category %d = %v; want %v", i, c, after.Fatigue[c], want[c])
		}
	}

	// Budget: lowered by the price of a purchase.
	wantBudget := before.RemainingBudget
	if out.Bought[i] && shopper.Budget > 0 {
		wantBudget -= cat.Items[slate[out.Click[i]]].Price
	}
	if after.RemainingBudget != wantBudget {
		t.Fatalf("session %d remaining budget = %v; want %v", i, after.RemainingBudget, wantBudget)
	}

	// Learning: one more click on the clicked item's category, and trust moves only on a click.
	wantClicks := slices.Clone(before.TasteClicks)
	if shopper.Learns && out.Click[i] >= 0 {
		wantClicks[cat.CategoryOf[slate[out.Click[i]]]]++
	}
	if !slices.Equal(after.TasteClicks, wantClicks) {
		t.Fatalf("session %d taste clicks = %v; want %v", i, after.TasteClicks, wantClicks)
	}
	if out.Click[i] < 0 && after.Trust != before.Trust {
		t.Fatalf("session %d trust moved from %v to %v without a click", i, before.Trust, after.Trust)
	}
}

// TestShopperWithoutReturnStartsFresh checks that with ReturnProb 0 every session that ends
// gets a new shopper on its first visit with cleared counters and memory.
func TestShopperWithoutReturnStartsFresh(t *testing.T) {
	cat := testCatalog(t, 50)
	const n = 32
	env, err := NewVecEnv(cat, Config{Persona: "category_fatigue:1,learning_shopper:1"}, n, 22)
	if err != nil {
		t.Fatal(err)
	}
	m := cat.Len()
	rng := rand.New(rand.NewPCG(22, 22))
	slates := make([]int32, 3*n)
	out := NewStepResult(n)
	ended := 0
	for range 60 {
		stepRandom(t, env, rng, slates, out)
		for i := range n {
			if !out.Done[i] {
				continue
			}
			ended++
			if got := env.SessionVisit(i); got != 1 {
				t.Errorf("session %d visit = %d; want 1", i, got)
			}
			if slices.Max(env.Exposure[i*m:(i+1)*m]) != 0 || slices.Max(env.ItemClicks[i*m:(i+1)*m]) != 0 {
				t.Errorf("session %d starts with item counters from the last shopper", i)
			}
			memory := env.OracleMemory(i)
			if slices.Max(memory.Fatigue) != 0 || memory.Trust != 0 || slices.Max(memory.TasteClicks) != 0 {
				t.Errorf("session %d starts with memory %+v; want none", i, memory)
			}
		}
	}
	if ended < 100 {
		t.Errorf("%d sessions ended; want at least 100 for a meaningful test", ended)
	}
}

// TestReturnFrequency checks that shoppers return with probability ReturnProb, by a
// binomial test over many ends of sessions.
func TestReturnFrequency(t *testing.T) {
	cat := testCatalog(t, 50)
	const n, p = 256, 0.3
	env, err := NewVecEnv(cat, Config{Persona: ValueSeeker, ReturnProb: p}, n, 23)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(23, 23))
	slates := make([]int32, 3*n)
	out := NewStepResult(n)
	ends, returns := 0, 0
	for range 200 {
		stepRandom(t, env, rng, slates, out)
		for i := range n {
			if out.Done[i] {
				ends++
				if env.SessionVisit(i) > 1 {
					returns++
				}
			}
		}
	}
	share := float64(returns) / float64(ends)
	standardError := math.Sqrt(p * (1 - p) / float64(ends))
	if math.Abs(share-p) > 4*standardError {
		t.Errorf("%d of %d shoppers returned (%.4f); want %.2f ± %.4f", returns, ends, share, p, 4*standardError)
	}
}

// TestResetSessionReturnsShopper checks the path that evaluation takes: with AutoReset off,
// ResetSession of a finished session brings its returning shopper back on a new stream.
func TestResetSessionReturnsShopper(t *testing.T) {
	cat := testCatalog(t, 50)
	m := cat.Len()
	for _, persona := range []string{CategoryFatigue, BudgetBuyer, LearningShopper, ExposureBuyer} {
		t.Run(persona, func(t *testing.T) {
			env, err := NewVecEnv(cat, Config{Persona: persona, ReturnProb: 1, MaxSteps: 3}, 1, 24)
			if err != nil {
				t.Fatal(err)
			}
			env.AutoReset = false
			shopper := env.OracleShopper(0)
			out := NewStepResult(1)
			for !env.SessionDone(0) {
				if err := env.Step([]int32{0, 1, 2}, out); err != nil {
					t.Fatal(err)
				}
			}
			memory := env.OracleMemory(0)
			exposure := slices.Clone(env.Exposure[:m])
			if err := env.ResetSession(0, 5, 5); err != nil {
				t.Fatal(err)
			}
			if got := env.OracleShopper(0); !reflect.DeepEqual(got, shopper) {
				t.Errorf("shopper after ResetSession = %+v; want the returning %+v", got, shopper)
			}
			if got := env.OracleMemory(0); !reflect.DeepEqual(got, memory) {
				t.Errorf("memory after ResetSession = %+v; want %+v", got, memory)
			}
			if !slices.Equal(env.Exposure[:m], exposure) {
				t.Error("exposure counts changed over ResetSession of a returning shopper")
			}
			if got := env.SessionVisit(0); got != 2 {
				t.Errorf("visit = %d; want 2", got)
			}

			// ResetSession of a session that has not ended draws a new shopper.
			if err := env.ResetSession(0, 6, 6); err != nil {
				t.Fatal(err)
			}
			if got := env.SessionVisit(0); got != 1 {
				t.Errorf("visit after resetting a running session = %d; want 1", got)
			}
		})
	}
}

// TestVecEnvDeterministicWithReturns runs a population with returning shoppers twice from
// one seed and once from another, and checks that the first two runs agree exactly.
func TestVecEnvDeterministicWithReturns(t *testing.T) {
	cat := testCatalog(t, 50)
	cfg := Config{Persona: strings.Join(PersonaNames, ":1,") + ":1", ReturnProb: 0.7}
	run := func(seed uint64) []float64 {
		env, err := NewVecEnv(cat, cfg, 16, seed)
		if err != nil {
			t.Fatal(err)
		}
		trace := runEnv(t, env, 150, rand.New(rand.NewPCG(1, 1)))
		for i := range env.NumSessions() {
			trace = append(trace, float64(env.SessionVisit(i)), env.OracleMemory(i).Trust, env.OracleMemory(i).RemainingBudget)
		}
		return trace
	}
	a, b, c := run(3), run(3), run(4)
	if !equalFloats(a, b) {
		t.Error("two runs from seed 3 differ")
	}
	if equalFloats(a, c) {
		t.Error("seeds 3 and 4 gave identical runs")
	}
}

// TestSeededRunGolden pins the total reward and clicks of a seeded run of the first nine
// personas in one population with returns, so that any change to the simulation shows.
// Later personas are left out, so that adding one keeps the pinned figures.
func TestSeededRunGolden(t *testing.T) {
	cat := testCatalog(t, 200)
	cfg := Config{Persona: strings.Join(PersonaNames[:9], ":1,") + ":1", ReturnProb: 0.5}
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
	if reward != 2657 || clicks != 1537 || ends != 906 {
		t.Errorf("reward %v, clicks %v, ends %v; want 2657, 1537, 906", reward, clicks, ends)
	}
}

func TestStepAllocatesNothingWithEveryPersona(t *testing.T) {
	cat := testCatalog(t, 200)
	populations := append(slices.Clone(PersonaNames), strings.Join(PersonaNames, ":1,")+":1")
	for _, population := range populations {
		t.Run(population, func(t *testing.T) {
			env, err := NewVecEnv(cat, Config{Persona: population, ReturnProb: 0.5}, 64, 1)
			if err != nil {
				t.Fatal(err)
			}
			slates := make([]int32, 64*3)
			for i := 0; i < 64; i++ {
				copy(slates[i*3:], []int32{int32(i), int32(i + 64), int32(i + 128)})
			}
			out := NewStepResult(64)
			ended := 0
			allocs := testing.AllocsPerRun(50, func() {
				if err := env.Step(slates, out); err != nil {
					t.Fatal(err)
				}
				for _, done := range out.Done {
					if done {
						ended++
					}
				}
			})
			if allocs != 0 {
				t.Errorf("Step allocates %.1f times per call, want 0", allocs)
			}
			// The runs must include ends of sessions, where new and returning shoppers start.
			if ended < 10 {
				t.Errorf("%d sessions ended during the runs; want at least 10", ended)
			}
		})
	}
}
