package rl

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/simshop/simshop/simenv"
)

// smallShop is a catalog of 4 items whose brand shares are X 1/4, Y 1/2, Z 1/4 and colour
// shares blue 1/4, green 1/4, red 1/2. Pair q of the posterior is brand·3 + colour, with
// brands X, Y, Z and colours blue, green, red in sorted order.
func smallShop(t *testing.T) *simenv.Catalog {
	t.Helper()
	item := func(id, brand, color string) simenv.Item {
		return simenv.Item{ID: id, Category: "Tops", Price: 10, Color: color, Brand: brand, Rating: 4}
	}
	cat, err := simenv.NewCatalog([]simenv.Item{
		item("i0", "X", "red"), item("i1", "Y", "red"), item("i2", "Y", "blue"), item("i3", "Z", "green"),
	}, "test")
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

// brandLoverWeight returns exp(u) of the documented brand_lover utility at median weights.
func brandLoverWeight(brand, color bool) float64 {
	u := -3.4
	if brand {
		u += 2.4
	}
	if color {
		u += 1.6
	}
	return math.Exp(u)
}

func TestPosteriorUpdateByHand(t *testing.T) {
	p := NewPosterior(smallShop(t), 2, "")
	prior := []float64{
		1.0 / 16, 1.0 / 16, 2.0 / 16, // X: blue, green, red
		2.0 / 16, 2.0 / 16, 4.0 / 16, // Y
		1.0 / 16, 1.0 / 16, 2.0 / 16, // Z
	}
	for q, want := range prior {
		if math.Abs(p.prior[q]-want) > 1e-15 {
			t.Errorf("prior of pair %d = %g, want %g", q, p.prior[q], want)
		}
	}

	// Step 1: slate (i0 X red, i2 Y blue) ignored. Per pair, whether each item matches the
	// favourite brand and colour, listed by hand.
	type match struct{ brand, color bool }
	i0 := []match{{true, false}, {true, false}, {true, true}, {false, false}, {false, false}, {false, true}, {false, false}, {false, false}, {false, true}}
	i2 := []match{{false, true}, {false, false}, {false, false}, {true, true}, {true, false}, {true, false}, {false, true}, {false, false}, {false, false}}
	want := make([]float64, 9)
	total := 0.0
	for q := range want {
		want[q] = prior[q] / (1 + brandLoverWeight(i0[q].brand, i0[q].color) + brandLoverWeight(i2[q].brand, i2[q].color))
		total += want[q]
	}
	post := append([]float64(nil), p.prior...)
	p.update(post, []int32{0, 2}, -1, false)
	for q := range want {
		if math.Abs(post[q]-want[q]/total) > 1e-15 {
			t.Errorf("after the ignored slate, pair %d = %.17g, want %.17g", q, post[q], want[q]/total)
		}
	}
	// (X, red) matched i0 fully: 0.125/(1 + e^0.6 + e^-3.4) = 0.043775 before normalising
	// by the sum 0.640197 over all pairs, computed apart in Python.
	if math.Abs(post[2]-0.06837786507070337) > 1e-12 {
		t.Errorf("posterior of (X, red) after the ignored slate = %.17g, want 0.06837786507070337", post[2])
	}

	// Step 2: slate (i1 Y red, i3 Z green), a click on i1 without a purchase.
	i1 := []match{{false, false}, {false, false}, {false, true}, {true, false}, {true, false}, {true, true}, {false, false}, {false, false}, {false, true}}
	i3 := []match{{false, false}, {false, true}, {false, false}, {false, false}, {false, true}, {false, false}, {true, false}, {true, true}, {true, false}}
	total = 0
	for q := range want {
		w1 := brandLoverWeight(i1[q].brand, i1[q].color)
		u1 := math.Log(w1)
		noBuy := 1 - 1/(1+math.Exp(-(-1.0+0.8*u1)))
		want[q] = post[q] * w1 / (1 + w1 + brandLoverWeight(i3[q].brand, i3[q].color)) * noBuy
		total += want[q]
	}
	p.update(post, []int32{1, 3}, 0, false)
	for q := range want {
		if math.Abs(post[q]-want[q]/total) > 1e-15 {
			t.Errorf("after the click, pair %d = %.17g, want %.17g", q, post[q], want[q]/total)
		}
	}
	for q, prob := range post {
		if prob > post[5] {
			t.Errorf("after a click on the only (Y, red) item, pair %d has posterior %g, above (Y, red)'s %g", q, prob, post[5])
		}
	}
}

// bestSlateValue returns the highest expected reward under post over every slate of three
// available items, found by trying them all.
func bestSlateValue(p *Posterior, post []float64) float64 {
	n := int32(p.catalog.Len())
	best := math.Inf(-1)
	slate := make([]int32, 3)
	for a := int32(0); a < n; a++ {
		for b := a + 1; b < n; b++ {
			for c := b + 1; c < n; c++ {
				slate[0], slate[1] = a, b
				p.sums(post, slate[:2])
				best = math.Max(best, p.expected(post, c))
			}
		}
	}
	return best
}

func TestPosteriorSearchFindsBestSlate(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for _, seed := range []uint64{1, 2, 3} {
		cat, err := simenv.Generate(24, seed)
		if err != nil {
			t.Fatal(err)
		}
		for _, reward := range []string{simenv.RewardClickPurchase, simenv.RewardRevenue} {
			p := NewPosterior(cat, 3, reward)
			available := make([]bool, cat.Len())
			for j := range available {
				available[j] = true
			}
			for trial := 0; trial < 20; trial++ {
				// The prior first, then random posteriors, sharp or spread out.
				post := append([]float64(nil), p.prior...)
				if trial > 0 {
					sum := 0.0
					for q := range post {
						post[q] = math.Pow(rng.Float64(), float64(1+trial%5*4))
						sum += post[q]
					}
					for q := range post {
						post[q] /= sum
					}
				}
				slate := make([]int32, 3)
				p.choose(post, available, slate)
				p.sums(post, slate[:2])
				got := p.expected(post, slate[2])
				if want := bestSlateValue(p, post); got < want*(1-1e-9) {
					t.Errorf("catalog seed %d, %s, trial %d: slate %v has expected reward %.12g, the best slate %.12g",
						seed, reward, trial, slate, got, want)
				}
			}
		}
	}
}

// TestPosteriorItemWiseTopItems checks the item-wise slate against a ranking of every
// available item by its expected reward alone, and that it never beats the best slate.
func TestPosteriorItemWiseTopItems(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	cat, err := simenv.Generate(40, 4)
	if err != nil {
		t.Fatal(err)
	}
	for _, reward := range []string{simenv.RewardClickPurchase, simenv.RewardRevenue} {
		p := NewItemWisePosterior(cat, 3, reward)
		for trial := 0; trial < 20; trial++ {
			available := make([]bool, cat.Len())
			for j := range available {
				available[j] = rng.Float64() < 0.8
			}
			post := make([]float64, len(p.prior))
			sum := 0.0
			for q := range post {
				post[q] = p.prior[q] * math.Pow(rng.Float64(), float64(trial%4*3))
				sum += post[q]
			}
			for q := range post {
				post[q] /= sum
			}

			var ranked []scoredItem
			clear(p.num)
			clear(p.den)
			for j := range available {
				if available[j] {
					ranked = append(ranked, scoredItem{int32(j), p.expected(post, int32(j))})
				}
			}
			sort.SliceStable(ranked, func(a, b int) bool { return ranked[a].value > ranked[b].value })

			slate := make([]int32, 3)
			p.choose(post, available, slate)
			for a, j := range slate {
				if !available[j] {
					t.Fatalf("%s, trial %d: slate %v holds unavailable item %d", reward, trial, slate, j)
				}
				if got, want := p.expected(post, j), ranked[a].value; got != want {
					t.Errorf("%s, trial %d: position %d holds item %d of value %.12g alone, want the %d-th best value %.12g",
						reward, trial, a, j, got, a+1, want)
				}
			}
			p.sums(post, slate[:2])
			got := p.expected(post, slate[2])
			if best := bestSlateValue(p, post); got > best*(1+1e-9) {
				t.Errorf("%s, trial %d: item-wise slate %v has expected reward %.12g, above the best slate's %.12g", reward, trial, slate, got, best)
			}
		}
	}
}

func TestPosteriorSeededEvaluation(t *testing.T) {
	cat := generated(t, 200)
	shop := simenv.Config{Persona: simenv.BrandLover}
	res, err := Evaluate(NewPosterior(cat, 3, ""), cat, shop, EvalOptions{Episodes: 40, Seed: 1, Sessions: 8})
	if err != nil {
		t.Fatal(err)
	}
	if want := 0.8545454545454545; res.RewardPerStep != want {
		t.Errorf("reward per step = %.17g, want %.17g", res.RewardPerStep, want)
	}
	single, err := Evaluate(NewPosterior(cat, 3, ""), cat, shop, EvalOptions{Episodes: 40, Seed: 1, Sessions: 1})
	if err != nil {
		t.Fatal(err)
	}
	if single.RewardPerStep != res.RewardPerStep {
		t.Errorf("reward per step with 1 session = %.17g, with 8 sessions %.17g", single.RewardPerStep, res.RewardPerStep)
	}
}

func TestPosteriorItemWiseSeededEvaluation(t *testing.T) {
	cat := generated(t, 200)
	shop := simenv.Config{Persona: simenv.BrandLover}
	res, err := Evaluate(NewItemWisePosterior(cat, 3, ""), cat, shop, EvalOptions{Episodes: 40, Seed: 1, Sessions: 8})
	if err != nil {
		t.Fatal(err)
	}
	if want := 0.84375; res.RewardPerStep != want {
		t.Errorf("reward per step = %.17g, want %.17g", res.RewardPerStep, want)
	}
	if res.Recommender != "posterior-itemwise" {
		t.Errorf("recommender = %q, want posterior-itemwise", res.Recommender)
	}
}

// TestPosteriorSpreadsAfterClick clicks each of the first 60 items of the generated catalog,
// shown with two items of other brands and colours, and counts the next slates that hold
// an item of the clicked colour in another brand. The slate search spreads its slate over
// the readings of the click far more often than the item-wise ranking.
func TestPosteriorSpreadsAfterClick(t *testing.T) {
	cat := generated(t, 200)
	available := make([]bool, cat.Len())
	for j := range available {
		available[j] = true
	}
	spread := func(p *Posterior) int {
		count := 0
		for first := int32(0); first < 60; first++ {
			slate := []int32{first}
			for j := int32(0); j < int32(cat.Len()) && len(slate) < 3; j++ {
				unrelated := true
				for _, s := range slate {
					if cat.BrandOf[s] == cat.BrandOf[j] || cat.ColorOf[s] == cat.ColorOf[j] {
						unrelated = false
					}
				}
				if unrelated {
					slate = append(slate, j)
				}
			}
			post := append([]float64(nil), p.prior...)
			p.update(post, slate, 0, false)
			next := make([]int32, 3)
			p.choose(post, available, next)
			for _, j := range next {
				if cat.ColorOf[j] == cat.ColorOf[first] && cat.BrandOf[j] != cat.BrandOf[first] {
					count++
					break
				}
			}
		}
		return count
	}
	if got := spread(NewPosterior(cat, 3, "")); got != 28 {
		t.Errorf("posterior: %d of 60 next slates hold the clicked colour in another brand, want 28", got)
	}
	if got := spread(NewItemWisePosterior(cat, 3, "")); got != 6 {
		t.Errorf("posterior-itemwise: %d of 60 next slates hold the clicked colour in another brand, want 6", got)
	}
}
