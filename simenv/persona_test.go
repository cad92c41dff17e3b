package simenv

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// noFavorites is a Shopper with no favourite category, brand or colour, to build hand cases on.
func noFavorites() Shopper {
	return Shopper{FavoriteCategory: -1, FavoriteBrand: -1, FavoriteColor: -1}
}

// handCatalog builds a catalog from items, failing the test on an error.
func handCatalog(t *testing.T, items []Item) *Catalog {
	t.Helper()
	c, err := NewCatalog(items, "hand-built")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// checkClose reports a quantity that differs from the hand-computed value by more than
// float64 rounding.
func checkClose(t *testing.T, quantity string, got, want float64) {
	t.Helper()
	if math.Abs(got-want) > 1e-12 {
		t.Errorf("%s = %.15g; want %.15g", quantity, got, want)
	}
}

func TestBrandLoverUtility(t *testing.T) {
	cat := handCatalog(t, []Item{
		{ID: "a", Category: "Tops", Price: 10, Color: "blue", Brand: "Acme", Rating: 4},
		{ID: "b", Category: "Tops", Price: 10, Color: "red", Brand: "Acme", Rating: 4},
		{ID: "c", Category: "Tops", Price: 10, Color: "blue", Brand: "Birch", Rating: 4},
		{ID: "d", Category: "Tops", Price: 10, Color: "red", Brand: "Birch", Rating: 4},
	})
	st := newItemStats(cat)
	s := noFavorites()
	s.Bias, s.BrandWeight, s.ColorWeight = -3.4, 2.4, 1.6
	s.FavoriteBrand = slices.Index(cat.Brands, "Acme")
	s.FavoriteColor = slices.Index(cat.Colors, "blue")

	var mem memory
	checkClose(t, "utility of brand and colour", s.utility(&st, 0, 0, &mem), 0.6)
	checkClose(t, "utility of brand alone", s.utility(&st, 1, 0, &mem), -1.0)
	checkClose(t, "utility of colour alone", s.utility(&st, 2, 0, &mem), -1.8)
	checkClose(t, "utility of neither", s.utility(&st, 3, 0, &mem), -3.4)
}

// TestBrandLoverFavoritesFollowItemCounts checks by chi-squared that favourite brands and
// colours are drawn in proportion to their numbers of items.
func TestBrandLoverFavoritesFollowItemCounts(t *testing.T) {
	// Brands A, B, C have 6, 3 and 1 items; colours blue and red have 7 and 3.
	var items []Item
	for i, brand := range []string{"A", "A", "A", "A", "A", "A", "B", "B", "B", "C"} {
		color := "blue"
		if i%3 == 2 {
			color = "red"
		}
		items = append(items, Item{ID: fmt.Sprint(i), Category: "Tops", Price: 10, Color: color, Brand: brand, Rating: 4})
	}
	cat := handCatalog(t, items)
	st := newItemStats(cat)
	rng := rand.New(rand.NewPCG(8, 8))
	brandCounts := make([]int, len(cat.Brands))
	colorCounts := make([]int, len(cat.Colors))
	for range 20_000 {
		s, err := drawShopper(BrandLover, &st, rng)
		if err != nil {
			t.Fatal(err)
		}
		brandCounts[s.FavoriteBrand]++
		colorCounts[s.FavoriteColor]++
	}

	// 2 degrees of freedom for brands (0.001 critical value 13.82), 1 for colours (10.83).
	if stat := chiSquaredShares(brandCounts, []float64{0.6, 0.3, 0.1}); stat > 13.82 {
		t.Errorf("chi-squared of favourite brands %v = %.2f; want at most 13.82", brandCounts, stat)
	}
	if stat := chiSquaredShares(colorCounts, []float64{0.7, 0.3}); stat > 10.83 {
		t.Errorf("chi-squared of favourite colours %v = %.2f; want at most 10.83", colorCounts, stat)
	}
}

func TestRandomChooserUtilityIsConstant(t *testing.T) {
	cat := testCatalog(t, 50)
	st := newItemStats(cat)
	s, err := drawShopper(RandomChooser, &st, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	var mem memory
	for i := range cat.Items {
		checkClose(t, fmt.Sprintf("utility of item %d before noise", i), s.utility(&st, i, 3, &mem), -2.2)
	}
	if s.NoiseScale != 1 {
		t.Errorf("NoiseScale = %v; want 1", s.NoiseScale)
	}
}

// TestGumbelNoiseDistribution checks the noise against the Gumbel law of mean 0, whose
// distribution function is F(x) = exp(−exp(−(x + γ))), with a chi-squared test over ten bins
// of equal probability, and checks its mean.
func TestGumbelNoiseDistribution(t *testing.T) {
	const n = 100_000
	rng := rand.New(rand.NewPCG(2, 3))
	counts := make([]int, 10)
	sum := 0.0
	for range n {
		x := gumbelNoise(rng)
		sum += x
		bin := int(10 * math.Exp(-math.Exp(-(x + eulerGamma))))
		counts[min(bin, 9)]++
	}
	shares := slices.Repeat([]float64{0.1}, 10)
	// 9 degrees of freedom: the 0.001 critical value is 27.88.
	if stat := chiSquaredShares(counts, shares); stat > 27.88 {
		t.Errorf("chi-squared of noise deciles %v = %.2f; want at most 27.88", counts, stat)
	}
	// The standard deviation of the Gumbel law is π/√6.
	standardError := math.Pi / math.Sqrt(6) / math.Sqrt(n)
	if mean := sum / n; math.Abs(mean) > 4*standardError {
		t.Errorf("noise mean = %.4f; want 0 ± %.4f", mean, 4*standardError)
	}
}

// TestRandomChooserIgnoresSlate shows random_chooser shoppers a slate of the three best
// items by value and a slate of the three worst, and checks that both are clicked equally
// often: no slate beats another.
func TestRandomChooserIgnoresSlate(t *testing.T) {
	cat := testCatalog(t, 200)
	st := newItemStats(cat)
	order := make([]int32, cat.Len())
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(a, b int32) int { return -cmpFloat(st.valueZ[a], st.valueZ[b]) })
	best, worst := order[:3], order[len(order)-3:]

	const n = 20_000
	rates := make([]float64, 2)
	for k, slate := range [][]int32{best, worst} {
		env, err := NewVecEnv(cat, Config{Persona: RandomChooser}, n, 4)
		if err != nil {
			t.Fatal(err)
		}
		slates := slices.Repeat(slate, n)
		out := NewStepResult(n)
		if err := env.Step(slates, out); err != nil {
			t.Fatal(err)
		}
		for _, c := range out.Click {
			if c >= 0 {
				rates[k]++
			}
		}
		rates[k] /= n
	}
	// The two rates come from different shoppers' noise. Their difference has a standard
	// error of sqrt(2·p(1-p)/n), about 0.005 at p = 0.35.
	standardError := math.Sqrt(2 * rates[0] * (1 - rates[0]) / n)
	if diff := rates[0] - rates[1]; math.Abs(diff) > 4*standardError {
		t.Errorf("click rate of the best slate %.4f, of the worst %.4f; want equal within %.4f", rates[0], rates[1], 4*standardError)
	}
	if rates[0] < 0.30 || rates[0] > 0.40 {
		t.Errorf("click rate = %.3f; want about 0.35 as documented", rates[0])
	}
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func TestFreshnessSeekerUtility(t *testing.T) {
	// ln(1 + age) is 0 and 1, so the standardised values are -1 and +1.
	cat := handCatalog(t, []Item{
		{ID: "new", Category: "Tops", Price: 10, Color: "blue", Brand: "A", Rating: 4, AgeDays: 0},
		{ID: "old", Category: "Tops", Price: 10, Color: "blue", Brand: "A", Rating: 4, AgeDays: math.E - 1},
	})
	st := newItemStats(cat)
	s := noFavorites()
	s.Bias, s.FreshnessWeight = -3.0, 1.2
	var mem memory
	checkClose(t, "utility of the new item", s.utility(&st, 0, 0, &mem), -3.0+1.2)
	checkClose(t, "utility of the old item", s.utility(&st, 1, 0, &mem), -3.0-1.2)
}

func TestCategoryFatigueUtility(t *testing.T) {
	cat := handCatalog(t, []Item{
		{ID: "top", Category: "Tops", Price: 10, Color: "blue", Brand: "A", Rating: 4},
		{ID: "bag", Category: "Bags", Price: 10, Color: "blue", Brand: "A", Rating: 4},
	})
	st := newItemStats(cat)
	s := noFavorites()
	s.Bias, s.CategoryWeight, s.FatigueWeight, s.FatigueDecay = -3.2, 2.8, 0.4, 0.6
	s.FavoriteCategory = slices.Index(cat.Categories, "Tops")
	mem := memory{fatigue: make([]float64, len(cat.Categories))}
	mem.fatigue[slices.Index(cat.Categories, "Tops")] = 2.5
	mem.fatigue[slices.Index(cat.Categories, "Bags")] = 7.5
	checkClose(t, "utility of the favourite at fatigue 2.5", s.utility(&st, 0, 0, &mem), -3.2+2.8-0.4*2.5)
	checkClose(t, "utility of another category at fatigue 7.5", s.utility(&st, 1, 0, &mem), -3.2-0.4*7.5)
}

// TestCategoryFatigueDynamics shows one shopper the same slate of two tops and a bag three
// times and checks its fatigue after each slate: F ← 0.6·F + (items of the category).
func TestCategoryFatigueDynamics(t *testing.T) {
	var items []Item
	for i, category := range []string{"Tops", "Tops", "Bags", "Shoes"} {
		items = append(items, Item{ID: fmt.Sprint(i), Category: category, Price: 10, Color: "red", Brand: "A", Rating: 4})
	}
	cat := handCatalog(t, items)
	env, err := NewVecEnv(cat, Config{Persona: CategoryFatigue}, 1, 3)
	if err != nil {
		t.Fatal(err)
	}
	// A finished session keeps its memory until ResetSession.
	env.AutoReset = false
	tops, bags, shoes := slices.Index(cat.Categories, "Tops"), slices.Index(cat.Categories, "Bags"), slices.Index(cat.Categories, "Shoes")
	decay := env.OracleShopper(0).FatigueDecay
	if decay != 0.6 {
		t.Fatalf("FatigueDecay = %v; want 0.6", decay)
	}

	wantTops, wantBags := 0.0, 0.0
	out := NewStepResult(1)
	for step := 1; step <= 3; step++ {
		if err := env.Step([]int32{0, 1, 2}, out); err != nil {
			t.Fatal(err)
		}
		wantTops, wantBags = decay*wantTops+2, decay*wantBags+1
		fatigue := env.OracleMemory(0).Fatigue
		checkClose(t, fmt.Sprintf("step %d fatigue with tops", step), fatigue[tops], wantTops)
		checkClose(t, fmt.Sprintf("step %d fatigue with bags", step), fatigue[bags], wantBags)
		checkClose(t, fmt.Sprintf("step %d fatigue with shoes", step), fatigue[shoes], 0)
	}
	checkClose(t, "fatigue with tops after three slates", wantTops, 3.92)
}

func TestBudgetBuyerUtility(t *testing.T) {
	// ln(price) is ln 5 and ln 20, so price_z is -1 and +1; equal ratings make value_z +1 and -1.
	cat := handCatalog(t, []Item{
		{ID: "cheap", Category: "Tops", Price: 5, Color: "blue", Brand: "A", Rating: 4},
		{ID: "dear", Category: "Tops", Price: 20, Color: "blue", Brand: "A", Rating: 4},
	})
	st := newItemStats(cat)
	s := noFavorites()
	s.Bias, s.ValueWeight, s.OverBudgetWeight, s.Budget = -2.8, 1.0, 2.5, 30
	mem := memory{budget: 10}
	checkClose(t, "utility of the affordable item", s.utility(&st, 0, 0, &mem), -2.8+1.0)
	checkClose(t, "utility of the item above the remaining budget", s.utility(&st, 1, 0, &mem), -2.8-1.0-2.5)
	mem.budget = 20
	checkClose(t, "utility of an item priced at the remaining budget", s.utility(&st, 1, 0, &mem), -2.8-1.0)
}

// TestBudgetBuyerSpendsWithinBudget steps budget_buyer shoppers on random slates and checks
// that every purchase was within the remaining budget and lowered it by the price.
func TestBudgetBuyerSpendsWithinBudget(t *testing.T) {
	checkSpendsWithinBudget(t, Config{Persona: BudgetBuyer})
}

// checkSpendsWithinBudget steps 500 sessions of shop on random slates and checks that every
// purchase was within the shopper's remaining budget and lowered it by the price.
func checkSpendsWithinBudget(t *testing.T, shop Config) {
	t.Helper()
	cat := testCatalog(t, 200)
	const n = 500
	env, err := NewVecEnv(cat, shop, n, 6)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(6, 6))
	slates := make([]int32, 3*n)
	out := NewStepResult(n)
	before := make([]float64, n)
	purchases := 0
	for range 200 {
		for i := range n {
			before[i] = env.OracleMemory(i).RemainingBudget
			sampleSlate(rng, cat.Len(), slates[i*3:(i+1)*3])
		}
		if err := env.Step(slates, out); err != nil {
			t.Fatal(err)
		}
		for i := range n {
			if out.Click[i] < 0 {
				continue
			}
			price := cat.Items[slates[i*3+int(out.Click[i])]].Price
			if !out.Bought[i] {
				continue
			}
			purchases++
			if price > before[i] {
				t.Fatalf("session %d bought an item of price %v with %v left", i, price, before[i])
			}
			if out.Done[i] {
				continue // a new shopper has replaced this one
			}
			if after := env.OracleMemory(i).RemainingBudget; after != before[i]-price {
				t.Errorf("session %d budget after buying at %v = %v; want %v", i, price, after, before[i]-price)
			}
		}
	}
	if purchases < 100 {
		t.Errorf("%d purchases; want at least 100 for a meaningful test", purchases)
	}
}

// TestBudgetBuyerWithoutBudgetNeverBuys empties the budget of every budget_buyer shopper and
// checks that they still click but never buy.
func TestBudgetBuyerWithoutBudgetNeverBuys(t *testing.T) {
	cat := testCatalog(t, 200)
	const n = 2000
	env, err := NewVecEnv(cat, Config{Persona: BudgetBuyer}, n, 12)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		env.sessions[i].budget = 0
	}
	// The three items of best value are the most clicked.
	st := newItemStats(cat)
	order := make([]int32, cat.Len())
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(a, b int32) int { return -cmpFloat(st.valueZ[a], st.valueZ[b]) })
	out := NewStepResult(n)
	if err := env.Step(slices.Repeat(order[:3], n), out); err != nil {
		t.Fatal(err)
	}
	clicks, purchases := 0, 0
	for i := range n {
		if out.Click[i] >= 0 {
			clicks++
		}
		if out.Bought[i] {
			purchases++
		}
	}
	if clicks < 50 {
		t.Errorf("%d clicks of %d shoppers; want at least 50 for a meaningful test", clicks, n)
	}
	if purchases != 0 {
		t.Errorf("%d purchases with no budget left; want 0", purchases)
	}
}

// sampleSlate fills dst with distinct uniform items of a catalog of n items.
func sampleSlate(rng *rand.Rand, n int, dst []int32) {
	for a := range dst {
		for {
			v := int32(rng.IntN(n))
			if !slices.Contains(dst[:a], v) {
				dst[a] = v
				break
			}
		}
	}
}

func TestBudgetDrawAroundMedianPrice(t *testing.T) {
	cat := testCatalog(t, 200)
	st := newItemStats(cat)
	rng := rand.New(rand.NewPCG(9, 9))
	const n = 4001
	logBudgets := make([]float64, n)
	for k := range logBudgets {
		s, err := drawShopper(BudgetBuyer, &st, rng)
		if err != nil {
			t.Fatal(err)
		}
		logBudgets[k] = math.Log(s.Budget)
	}
	// ln budget is normal with mean ln(3·median price) and standard deviation 0.3.
	mean := 0.0
	for _, v := range logBudgets {
		mean += v / n
	}
	want := math.Log(3 * st.medianPrice)
	if math.Abs(mean-want) > 4*0.3/math.Sqrt(n) {
		t.Errorf("mean ln budget = %.4f; want %.4f ± %.4f", mean, want, 4*0.3/math.Sqrt(n))
	}
	prices := make([]float64, cat.Len())
	for i, it := range cat.Items {
		prices[i] = it.Price
	}
	slices.Sort(prices)
	checkClose(t, "median price of the generated catalog", st.medianPrice, (prices[99]+prices[100])/2)
}

func TestLearningShopperUtility(t *testing.T) {
	cat := handCatalog(t, []Item{
		{ID: "good", Category: "Tops", Price: 5, Color: "blue", Brand: "A", Rating: 4},
		{ID: "poor", Category: "Bags", Price: 20, Color: "blue", Brand: "A", Rating: 4},
	})
	st := newItemStats(cat)
	tops, bags := slices.Index(cat.Categories, "Tops"), slices.Index(cat.Categories, "Bags")
	s := noFavorites()
	s.Learns = true
	s.Bias, s.ValueWeight, s.FavoriteTaste, s.OtherTaste, s.PriorClicks = -3.0, 1.0, 1.5, -1.0, 2
	s.TrustWeight = 0.5
	s.FavoriteCategory = tops
	mem := memory{tasteSum: make([]float64, 2), tasteClicks: make([]float64, 2)}

	// Before any click the shopper perceives only the value.
	checkClose(t, "click utility before learning", s.utility(&st, 0, 0, &mem), -3.0+1.0)
	checkClose(t, "true utility", s.trueUtility(&st, 0, 0, &mem), -3.0+1.0+1.5)
	checkClose(t, "true utility of another category", s.trueUtility(&st, 1, 0, &mem), -3.0-1.0-1.0)

	// Three clicks on tops with residual satisfaction 1.5: the estimate is 4.5 / (3 + 2).
	mem.tasteSum[tops], mem.tasteClicks[tops] = 4.5, 3
	mem.tasteSum[bags], mem.tasteClicks[bags] = -1, 1
	checkClose(t, "click utility after learning", s.utility(&st, 0, 0, &mem), -3.0+1.0+0.9)
	checkClose(t, "click utility of bags after learning", s.utility(&st, 1, 0, &mem), -3.0-1.0-1.0/3)
	checkClose(t, "no-click utility at trust 0.4", s.noClickUtility(0.4), -0.2)
}

// TestLearnFromClickUpdates checks one learning step by hand with no satisfaction noise.
func TestLearnFromClickUpdates(t *testing.T) {
	cat := handCatalog(t, []Item{
		{ID: "good", Category: "Tops", Price: 5, Color: "blue", Brand: "A", Rating: 4},
		{ID: "poor", Category: "Bags", Price: 20, Color: "blue", Brand: "A", Rating: 4},
		{ID: "other", Category: "Bags", Price: 10, Color: "blue", Brand: "A", Rating: 4},
	})
	env, err := NewVecEnv(cat, Config{Persona: LearningShopper}, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	tops, bags := slices.Index(cat.Categories, "Tops"), slices.Index(cat.Categories, "Bags")
	s := noFavorites()
	s.Persona, s.Learns = LearningShopper, true
	s.Bias, s.ValueWeight, s.FavoriteTaste, s.OtherTaste, s.PriorClicks = -3.0, 1.0, 1.5, -1.0, 2
	s.Aspiration, s.TrustRate, s.TrustWeight = 1.0, 0.1, 0.5
	s.FavoriteCategory = tops
	env.sessions[0].shopper = s
	valueZ := env.stats.valueZ

	// A click on the top: s = value_z + 1.5, trust = 0.1·(s − 1).
	satisfaction := env.learnFromClick(0, 0)
	checkClose(t, "satisfaction of the top", satisfaction, valueZ[0]+1.5)
	memory := env.OracleMemory(0)
	checkClose(t, "taste estimate of tops", memory.TasteEstimate[tops], 1.5/3)
	checkClose(t, "trust after the top", memory.Trust, 0.1*(valueZ[0]+1.5-1))

	// A click on the poor bag: s = value_z − 1; trust moves a tenth of the way to s − 1.
	trust := memory.Trust
	satisfaction = env.learnFromClick(0, 1)
	checkClose(t, "satisfaction of the poor bag", satisfaction, valueZ[1]-1)
	memory = env.OracleMemory(0)
	checkClose(t, "taste estimate of bags", memory.TasteEstimate[bags], -1.0/3)
	checkClose(t, "trust after the poor bag", memory.Trust, trust+0.1*(valueZ[1]-1-1-trust))
	if memory.TasteClicks[tops] != 1 || memory.TasteClicks[bags] != 1 {
		t.Errorf("taste clicks = %v; want 1 for tops and for bags", memory.TasteClicks)
	}
}

// TestDrawnShoppersMatchDefaults draws many shoppers of each new persona and checks that the
// geometric mean of every jittered weight is its documented default, within four standard
// errors of the log-normal jitter.
func TestDrawnShoppersMatchDefaults(t *testing.T) {
	cat := testCatalog(t, 200)
	st := newItemStats(cat)
	cases := []struct {
		persona string
		weight  string
		get     func(*Shopper) float64
		want    float64
	}{
		{BrandLover, "BrandWeight", func(s *Shopper) float64 { return s.BrandWeight }, 2.4},
		{BrandLover, "ColorWeight", func(s *Shopper) float64 { return s.ColorWeight }, 1.6},
		{FreshnessSeeker, "FreshnessWeight", func(s *Shopper) float64 { return s.FreshnessWeight }, 1.2},
		{CategoryFatigue, "CategoryWeight", func(s *Shopper) float64 { return s.CategoryWeight }, 2.8},
		{CategoryFatigue, "FatigueWeight", func(s *Shopper) float64 { return s.FatigueWeight }, 0.4},
		{BudgetBuyer, "ValueWeight", func(s *Shopper) float64 { return s.ValueWeight }, 1.0},
		{LearningShopper, "FavoriteTaste", func(s *Shopper) float64 { return s.FavoriteTaste }, 1.5},
		{LearningShopper, "OtherTaste", func(s *Shopper) float64 { return -s.OtherTaste }, 1.0},
		{LearningShopper, "BuyBias", func(s *Shopper) float64 { return -s.BuyBias }, 1.5},
		{ImpulseBuyer, "PriceWeight", func(s *Shopper) float64 { return s.PriceWeight }, 1.6},
		{ImpulseBuyer, "RegretWeight", func(s *Shopper) float64 { return s.RegretWeight }, 2.5},
		{ImpulseBuyer, "BuyBias", func(s *Shopper) float64 { return -s.BuyBias }, 0.5},
	}
	const n = 2000
	for _, tc := range cases {
		t.Run(tc.persona+"/"+tc.weight, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(10, 10))
			meanLog := 0.0
			for range n {
				s, err := drawShopper(tc.persona, &st, rng)
				if err != nil {
					t.Fatal(err)
				}
				meanLog += math.Log(tc.get(&s)) / n
			}
			tolerance := 4 * jitterSigma / math.Sqrt(n)
			if got := math.Exp(meanLog); math.Abs(meanLog-math.Log(tc.want)) > tolerance {
				t.Errorf("geometric mean = %.4f; want %v within a factor exp(±%.4f)", got, tc.want, tolerance)
			}
		})
	}
}
