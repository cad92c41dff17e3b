package simenv

import (
	"cmp"
	"math"
	"slices"
	"testing"
)

// TestImpulseBuyerLeavesAfterRegret checks that an impulse_buyer ends its session after a
// purchase with the documented probability sigmoid(RegretBias − RegretWeight·rating_z), and
// never after a click without a purchase. Sessions are long enough that neither patience
// nor length ends them after a click. The purchases are split by the rating of the bought
// item, and in each group the number of sessions ended must lie within four standard
// deviations of the sum of the shoppers' own probabilities.
func TestImpulseBuyerLeavesAfterRegret(t *testing.T) {
	cat := testCatalog(t, 200)
	env, err := NewVecEnv(cat, Config{Persona: ImpulseBuyer, MaxSteps: 1000}, 64, 5)
	if err != nil {
		t.Fatal(err)
	}
	st := &env.stats

	// Slates mix the cheapest items, which are clicked and bought often, with items of
	// every rating, so that purchases cover the range of ratings.
	byPrice := make([]int32, cat.Len())
	for j := range byPrice {
		byPrice[j] = int32(j)
	}
	slices.SortFunc(byPrice, func(a, b int32) int { return cmp.Compare(st.priceZ[a], st.priceZ[b]) })

	type group struct{ ended, purchases, mean, variance float64 }
	var low, high group // bought items rated below and above the catalog's mean
	clicksWithoutPurchase, endsWithoutPurchase := 0, 0
	slates := make([]int32, 64*3)
	out := NewStepResult(64)
	for step := range 3000 {
		for i := range 64 {
			for a := range 3 {
				slates[i*3+a] = byPrice[(step*7+i*3+a*11)%30]
			}
		}
		// The probabilities are taken before the step, from the shoppers that see the slates.
		var pLeave [64][3]float64
		for i := range 64 {
			s := env.OracleShopper(i)
			for a := range 3 {
				z := st.ratingZ[slates[i*3+a]]
				pLeave[i][a] = 1 / (1 + math.Exp(-(s.RegretBias - s.RegretWeight*z)))
			}
		}
		if err := env.Step(slates, out); err != nil {
			t.Fatal(err)
		}
		for i := range 64 {
			c := out.Click[i]
			switch {
			case c < 0:
			case out.Bought[i]:
				g := &high
				if st.ratingZ[slates[i*3+int(c)]] < 0 {
					g = &low
				}
				p := pLeave[i][c]
				g.purchases++
				g.mean += p
				g.variance += p * (1 - p)
				if out.Done[i] {
					g.ended++
				}
			default:
				clicksWithoutPurchase++
				if out.Done[i] {
					endsWithoutPurchase++
				}
			}
		}
	}
	if endsWithoutPurchase != 0 {
		t.Errorf("%d of %d clicks without a purchase ended the session; want none", endsWithoutPurchase, clicksWithoutPurchase)
	}
	for name, g := range map[string]group{"rated below the mean": low, "rated above the mean": high} {
		if g.purchases < 500 {
			t.Fatalf("only %v purchases of items %s; the test needs more", g.purchases, name)
		}
		if z := (g.ended - g.mean) / math.Sqrt(g.variance); math.Abs(z) > 4 {
			t.Errorf("items %s: %v of %v purchases ended the session, expected %.1f (z = %.2f)",
				name, g.ended, g.purchases, g.mean, z)
		}
	}
	if low.ended/low.purchases < 2*high.ended/high.purchases {
		t.Errorf("purchases of low-rated items ended %.3f of sessions and of high-rated ones %.3f; want the first at least twice the second",
			low.ended/low.purchases, high.ended/high.purchases)
	}
}
