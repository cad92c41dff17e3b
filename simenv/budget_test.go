package simenv

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"
)

// TestShopBudgetSpendsWithinBudget checks the budget that Config.Budget gives personas
// without one: a persona whose purchase follows its click utility, and the learning shopper,
// whose purchase follows its satisfaction.
func TestShopBudgetSpendsWithinBudget(t *testing.T) {
	for _, persona := range []string{CheapBlue, ValueSeeker, LearningShopper} {
		t.Run(persona, func(t *testing.T) {
			checkSpendsWithinBudget(t, Config{Persona: persona, Budget: 2})
		})
	}
}

// TestShopBudgetDraws checks who gets a budget: every shopper under Config.Budget, drawn
// around Budget median prices, and budget_buyer its own.
func TestShopBudgetDraws(t *testing.T) {
	cat := testCatalog(t, 200)
	median := newItemStats(cat).medianPrice
	const n = 2000

	env, err := NewVecEnv(cat, Config{Persona: "cheap_blue:0.5,budget_buyer:0.5", Budget: 10}, n, 3)
	if err != nil {
		t.Fatal(err)
	}
	var logRatios []float64
	for i := range n {
		s := env.OracleShopper(i)
		if s.Budget <= 0 {
			t.Fatalf("session %d (%s) has budget %v; want one above 0", i, s.Persona, s.Budget)
		}
		if s.OverBudgetWeight != overBudgetWeight {
			t.Errorf("session %d over-budget weight %v; want %v", i, s.OverBudgetWeight, overBudgetWeight)
		}
		if s.Persona == CheapBlue {
			logRatios = append(logRatios, math.Log(s.Budget/(10*median)))
		} else if s.Budget > 10*median {
			t.Errorf("budget_buyer session %d has budget %v, above the shop's 10 median prices; want its own of about %v",
				i, s.Budget, budgetMedianPrices*median)
		}
	}
	// ln(budget / (10 · median price)) is normal with mean 0 and standard deviation 0.3.
	sort.Float64s(logRatios)
	if got := logRatios[len(logRatios)/2]; math.Abs(got) > 0.05 {
		t.Errorf("median ln(budget / 10 median prices) = %.3f; want 0 within 0.05", got)
	}
	mean, sq := 0.0, 0.0
	for _, v := range logRatios {
		mean += v
		sq += v * v
	}
	mean /= float64(len(logRatios))
	if sd := math.Sqrt(sq/float64(len(logRatios)) - mean*mean); math.Abs(sd-budgetSigma) > 0.03 {
		t.Errorf("spread of ln budgets = %.3f; want %.2f within 0.03", sd, budgetSigma)
	}

	plain, err := NewVecEnv(cat, Config{Persona: CheapBlue}, 10, 3)
	if err != nil {
		t.Fatal(err)
	}
	if b := plain.OracleShopper(0).Budget; b != 0 {
		t.Errorf("cheap_blue without Config.Budget has budget %v; want 0", b)
	}
}

// TestShopBudgetLowersPurchases checks that buying depends on price against the budget: the
// shoppers buy less with a budget of half the median price than with none, and what they buy
// is cheaper.
func TestShopBudgetLowersPurchases(t *testing.T) {
	cat := testCatalog(t, 200)
	purchases := func(budget float64) (int, float64) {
		const n = 400
		env, err := NewVecEnv(cat, Config{Persona: CheapBlue, Budget: budget}, n, 8)
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(8, 8))
		slates := make([]int32, 3*n)
		out := NewStepResult(n)
		total, spent := 0, 0.0
		for range 100 {
			for i := range n {
				sampleSlate(rng, cat.Len(), slates[i*3:(i+1)*3])
			}
			if err := env.Step(slates, out); err != nil {
				t.Fatal(err)
			}
			for i, b := range out.Bought {
				if b {
					total++
					spent += cat.Items[slates[i*3+int(out.Click[i])]].Price
				}
			}
		}
		return total, spent / float64(total)
	}
	none, nonePrice := purchases(0)
	tight, tightPrice := purchases(0.5)
	t.Logf("purchases %d at mean price %.2f without a budget, %d at %.2f with half the median price", none, nonePrice, tight, tightPrice)
	if none < 500 {
		t.Fatalf("%d purchases without a budget; want at least 500 for a meaningful test", none)
	}
	if float64(tight) > 0.8*float64(none) {
		t.Errorf("%d purchases with a budget of half the median price, %d without; want at most 80 %%", tight, none)
	}
	if tightPrice >= nonePrice {
		t.Errorf("mean price bought with a budget %.2f, without %.2f; want lower with the budget", tightPrice, nonePrice)
	}
}

func TestShopBudgetValidate(t *testing.T) {
	cat := testCatalog(t, 20)
	for _, budget := range []float64{-1, math.NaN(), math.Inf(1)} {
		err := Config{Persona: CheapBlue, Budget: budget}.WithDefaults().Validate(cat)
		if err == nil {
			t.Errorf("budget %v: Validate returned nil; want an error", budget)
		}
	}
	if err := (Config{Persona: CheapBlue, Budget: 2.5}).WithDefaults().Validate(cat); err != nil {
		t.Errorf("budget 2.5: %v", err)
	}
}
