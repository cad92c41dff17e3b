package simenv

import (
	"fmt"
	"slices"
	"testing"
)

// horizonShop is the setting of the two-step argument in docs/simulator.md: one
// exposure_buyer shopper with the persona's default parameters (no jitter), a favourite
// category Dresses of four items, and five items of another category. Item a has been
// shown 14 times and item b 7 times; the other items are new.
func horizonShop(t *testing.T) (*VecEnv, map[string]int32) {
	t.Helper()
	var items []Item
	for _, id := range []string{"a", "b", "c", "d"} {
		items = append(items, Item{ID: id, Category: "Dresses", Price: 10, Color: "red", Brand: "A", Rating: 4})
	}
	for k := range 5 {
		items = append(items, Item{ID: fmt.Sprintf("j%d", k), Category: "Tops", Price: 10, Color: "red", Brand: "A", Rating: 4})
	}
	cat := handCatalog(t, items)
	env, err := NewVecEnv(cat, Config{Persona: ExposureBuyer}, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	s := &env.sessions[0].shopper
	s.Bias, s.CategoryWeight, s.ExposureWeight = -3.6, 3.0, 0.5
	s.BuyBias, s.BuyUtility, s.BuyExposure = -3.5, 0.5, 0.5
	s.FavoriteCategory = slices.Index(cat.Categories, "Dresses")
	index := map[string]int32{}
	for i, it := range cat.Items {
		index[it.ID] = int32(i)
	}
	env.Exposure[index["a"]] = 14
	env.Exposure[index["b"]] = 7
	return env, index
}

// slateValue returns the expected immediate reward of slate under the multinomial logit,
// from the oracle's click weights and click rewards.
func slateValue(env *VecEnv, slate []int32) float64 {
	m := env.Catalog.Len()
	weight, clickReward := make([]float64, m), make([]float64, m)
	noClick := env.OracleClickValues(0, weight, clickReward)
	num, den := 0.0, noClick
	for _, j := range slate {
		num += weight[j] * clickReward[j]
		den += weight[j]
	}
	return num / den
}

// bestSlate returns the slate of 3 of highest expected immediate reward, by trying all.
func bestSlate(env *VecEnv) ([]int32, float64) {
	m := int32(env.Catalog.Len())
	var best []int32
	bestValue := -1.0
	for x := int32(0); x < m; x++ {
		for y := x + 1; y < m; y++ {
			for z := y + 1; z < m; z++ {
				if v := slateValue(env, []int32{x, y, z}); v > bestValue {
					best, bestValue = []int32{x, y, z}, v
				}
			}
		}
	}
	return best, bestValue
}

// show raises the exposure of the slate's items by one, as Step does. Clicks do not
// change an exposure_buyer's utilities, so the second step's values do not depend on the
// first step's outcome.
func show(env *VecEnv, slate []int32) {
	for _, j := range slate {
		env.Exposure[j]++
	}
}

// TestMyopicLosesOverTwoSteps checks the numbers of the two-step argument in
// docs/simulator.md: the myopic slate earns less over two steps than a slate that shows b
// again, though b lowers the first step's value.
func TestMyopicLosesOverTwoSteps(t *testing.T) {
	env, id := horizonShop(t)
	m := env.Catalog.Len()
	weight, clickReward := make([]float64, m), make([]float64, m)
	env.OracleClickValues(0, weight, clickReward)
	checkNear := func(what string, got, want float64) {
		t.Helper()
		if got < want-5e-4 || got > want+5e-4 {
			t.Errorf("%s = %.4f; want %.3f", what, got, want)
		}
	}
	checkNear("click weight of a", weight[id["a"]], 2.126)
	checkNear("click reward of a", clickReward[id["a"]], 4.919)
	checkNear("click weight of b", weight[id["b"]], 1.552)
	checkNear("click reward of b", clickReward[id["b"]], 3.219)
	checkNear("click weight of a new junk item", weight[id["j0"]], 0.027)
	checkNear("click reward of a new junk item", clickReward[id["j0"]], 1.020)

	// Step 1: the myopic slate is a with two junk items, because b's click reward is below
	// the value of that slate, so adding b would lower it.
	myopic, myopicValue := bestSlate(env)
	if !slices.Contains(myopic, id["a"]) || slices.Contains(myopic, id["b"]) || slices.Contains(myopic, id["c"]) {
		t.Fatalf("the myopic slate is %v; want a with two junk items", myopic)
	}
	checkNear("value of the myopic slate", myopicValue, 3.305)
	repeat := []int32{id["a"], id["b"], id["j4"]}
	repeatValue := slateValue(env, repeat)
	checkNear("value of {a, b, junk}", repeatValue, 3.290)
	if repeatValue >= myopicValue {
		t.Fatalf("{a, b, junk} is worth %g now, not less than the myopic %g; the argument needs a cost now", repeatValue, myopicValue)
	}

	// Step 2 after each first slate, with the best second slate.
	exposure := slices.Clone(env.Exposure)
	show(env, myopic)
	_, afterMyopic := bestSlate(env)
	copy(env.Exposure, exposure)
	show(env, repeat)
	env.OracleClickValues(0, weight, clickReward)
	checkNear("click reward of b shown 8 times", clickReward[id["b"]], 3.716)
	secondSlate, afterRepeat := bestSlate(env)
	checkNear("best second value after the myopic slate", afterMyopic, 3.362)
	checkNear("best second value after {a, b, junk}", afterRepeat, 3.495)
	if !slices.Contains(secondSlate, id["b"]) {
		t.Errorf("the best second slate %v after showing b does not show b again", secondSlate)
	}

	// Over two steps the myopic plan earns less.
	checkNear("two-step value of the myopic plan", myopicValue+afterMyopic, 6.667)
	checkNear("two-step value of repeating b", repeatValue+afterRepeat, 6.785)
	if myopicValue+afterMyopic >= repeatValue+afterRepeat {
		t.Errorf("myopic plan %g is not below repeating b %g over two steps", myopicValue+afterMyopic, repeatValue+afterRepeat)
	}
}
