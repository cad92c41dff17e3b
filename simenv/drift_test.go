package simenv

import (
	"math"
	"math/rand/v2"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
)

func TestParseDriftValid(t *testing.T) {
	cases := []struct {
		in   string
		want []DriftChange
	}{
		{"", nil},
		{"  ", nil},
		{"favorite_color=red@30000", []DriftChange{{Step: 30000, Name: DriftFavoriteColor, Value: "red"}}},
		{"price=Dresses*0.8@50000", []DriftChange{{Step: 50000, Name: DriftPrice, Value: "Dresses", Factor: 0.8}}},
		{" brand_lover.favorite_color = green @ 0 , exposure_buyer.favorite_category=Tops@7", []DriftChange{
			{Step: 0, Name: DriftFavoriteColor, Persona: BrandLover, Value: "green"},
			{Step: 7, Name: DriftFavoriteCategory, Persona: ExposureBuyer, Value: "Tops"},
		}},
		{"remove=g0001+g0002@10,add=g0003@20", []DriftChange{
			{Step: 10, Name: DriftRemove, Items: []string{"g0001", "g0002"}},
			{Step: 20, Name: DriftAdd, Items: []string{"g0003"}},
		}},
		{"add_category=Shoes@5,remove_category=Swimwear@5", []DriftChange{
			{Step: 5, Name: DriftAddCategory, Value: "Shoes"},
			{Step: 5, Name: DriftRemoveCategory, Value: "Swimwear"},
		}},
		{"price=Tops*1.5e0@1", []DriftChange{{Step: 1, Name: DriftPrice, Value: "Tops", Factor: 1.5}}},
	}
	for _, c := range cases {
		got, err := ParseDrift(c.in)
		if err != nil {
			t.Errorf("ParseDrift(%q): %v", c.in, err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("ParseDrift(%q) = %+v; want %+v", c.in, got, c.want)
		}
		// FormatDrift writes what ParseDrift reads back.
		again, err := ParseDrift(FormatDrift(got))
		if err != nil || !reflect.DeepEqual(again, got) {
			t.Errorf("round trip of %q through %q gives %+v, %v", c.in, FormatDrift(got), again, err)
		}
	}
}

func TestParseDriftInvalid(t *testing.T) {
	cases := []struct {
		in, want string
	}{
		{"colour=red@10", `unknown change "colour"; valid changes: favorite_color, favorite_category, price, add, remove, add_category, remove_category`},
		{"favorite_color=red", `"favorite_color=red" has no @STEP; write each entry as CHANGE@STEP`},
		{"favorite_color red@10", `has no =; write the change as NAME=VALUE`},
		{"favorite_color=red@10,,price=Tops*2@20", "entry 2: entry is empty; separate CHANGE@STEP entries by single commas"},
		{"favorite_color=@10", "the value after = is empty; give a colour of the catalog"},
		{"favorite_color=red@-5", "step -5 is negative; schedule changes at shopper-step 0 or later"},
		{"favorite_color=red@soon", `step "soon" is not a whole number`},
		{"favorite_color=red@1.5", `step "1.5" is not a whole number`},
		{"favorite_color=red@99999999999999999999", `step "99999999999999999999" is not a whole number`},
		{"price=Tops@10", `price change "Tops" has no *FACTOR`},
		{"price=*0.8@10", `price change "*0.8" has no category`},
		{"price=Tops*cheap@10", `price factor "cheap" is not a number`},
		{"price=Tops*0@10", "price factor 0 is invalid; use a finite number above 0"},
		{"price=Tops*-2@10", "price factor -2 is invalid"},
		{"price=Tops*NaN@10", "price factor NaN is invalid"},
		{"price=Tops*Inf@10", "price factor +Inf is invalid"},
		{"remove=g0001++g0002@10", "an item ID is empty; join item IDs by single + signs"},
		{"cheap_blue.price=Tops*2@10", "change price applies to the whole shop and takes no persona"},
		{"nobody.favorite_color=red@10", `unknown persona "nobody"`},
		{"value_seeker.favorite_color=red@10", "persona value_seeker has no favourite that favorite_color sets; it applies to cheap_blue, brand_lover"},
		{"cheap_blue.favorite_category=Tops@10", "persona cheap_blue has no favourite that favorite_category sets; it applies to exposure_buyer, category_fatigue, learning_shopper"},
	}
	for _, c := range cases {
		_, err := ParseDrift(c.in)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseDrift(%q): error %v; want one containing %q", c.in, err, c.want)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "simenv: drift ") {
			t.Errorf("ParseDrift(%q): error %q does not name the schedule", c.in, err)
		}
	}
}

func TestConfigRejectsDriftOutsideCatalog(t *testing.T) {
	cat := testCatalog(t, 50)
	cases := []struct {
		drift, want string
	}{
		{"favorite_color=teal@10", `colour "teal" is not in catalog generated: 50 items, seed 1; its colours are beige, black, blue`},
		{"favorite_category=Hats@10", `category "Hats" is not in catalog generated: 50 items, seed 1; its categories are Accessories, Bags`},
		{"price=Hats*2@10", `category "Hats" is not in catalog`},
		{"remove_category=Hats@10", `category "Hats" is not in catalog`},
		{"remove=g0001+nope@10", `item ID "nope" is not in catalog`},
		{"favorite_color=red@x", `step "x" is not a whole number`},
	}
	for _, c := range cases {
		_, err := NewVecEnv(cat, Config{Persona: CheapBlue, Drift: c.drift}, 1, 1)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("drift %q: error %v; want one containing %q", c.drift, err, c.want)
		}
	}
}

func TestCheckDrift(t *testing.T) {
	cases := []struct {
		schedule string
		total    int64
		sessions int
		want     string // empty for no error
	}{
		{"favorite_color=red@30000", 60000, 16, ""},
		{"favorite_color=red@0", 1, 1, ""},
		{"favorite_color=red@59984", 60000, 16, ""},
		{"favorite_color=red@60000", 60000, 16, "drift favorite_color=red@60000 is due at shopper-step 60000, not before the end of the run at 60000 shopper-steps"},
		{"favorite_color=red@70000", 60000, 16, "is due at shopper-step 70000, not before the end of the run at 60000"},
		// 59990 is not a multiple of 16, so the change takes effect at 60000: never.
		{"favorite_color=red@59990", 60000, 16, "takes effect at shopper-step 60000, the first multiple of the 16 sessions at or after its step 59990"},
		{"favorite_color=red@-1", 60000, 16, "step -1 is negative"},
		{"favorite_color=red@10", 60000, 0, "0 parallel sessions is invalid"},
		{"", 60000, 16, ""},
	}
	for _, c := range cases {
		err := CheckDrift(c.schedule, c.total, c.sessions)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("CheckDrift(%q, %d, %d) = %v; want nil", c.schedule, c.total, c.sessions, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("CheckDrift(%q, %d, %d) = %v; want an error containing %q", c.schedule, c.total, c.sessions, err, c.want)
		}
	}
}

func TestDriftEffectiveStep(t *testing.T) {
	cases := []struct {
		step     int64
		sessions int
		want     int64
	}{{0, 16, 0}, {1, 16, 16}, {16, 16, 16}, {17, 16, 32}, {5, 1, 5}, {30000, 7, 30002}}
	for _, c := range cases {
		if got := DriftEffectiveStep(c.step, c.sessions); got != c.want {
			t.Errorf("DriftEffectiveStep(%d, %d) = %d; want %d", c.step, c.sessions, got, c.want)
		}
	}
}

// driftEnv builds a VecEnv of n sessions with the given persona and drift on the generated
// 200-item catalog.
func driftEnv(t *testing.T, cat *Catalog, persona, drift string, n int) *VecEnv {
	t.Helper()
	env, err := NewVecEnv(cat, Config{Persona: persona, Drift: drift}, n, 5)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// stepOnce shows every session of env the same slate.
func stepOnce(t *testing.T, env *VecEnv, slate []int32) *StepResult {
	t.Helper()
	n, k := env.NumSessions(), len(slate)
	slates := make([]int32, n*k)
	for i := range n {
		copy(slates[i*k:], slate)
	}
	out := NewStepResult(n)
	if err := env.Step(slates, out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestFavoriteColorTakesEffectAtItsStep checks that cheap_blue's colour weight moves from
// blue to red items exactly when the clock reaches the change's step: after the third Step
// of 4 sessions for a change at shopper-step 12.
func TestFavoriteColorTakesEffectAtItsStep(t *testing.T) {
	cat := testCatalog(t, 200)
	env := driftEnv(t, cat, CheapBlue, "favorite_color=red@12", 4)
	red := slices.Index(cat.Colors, "red")
	blue := slices.Index(cat.Colors, "blue")
	for step := 0; step <= 4; step++ {
		want := blue
		if env.Clock() >= 12 {
			want = red
		}
		for i, c := range cat.ColorOf {
			if env.stats.blue[i] != (c == want) {
				t.Fatalf("clock %d: item %d (%s) has the favourite colour %v; want the favourite %s",
					env.Clock(), i, cat.Items[i].Color, env.stats.blue[i], cat.Colors[want])
			}
		}
		// The utility that the oracle reports follows the mask.
		s := env.OracleShopper(0)
		for _, item := range []int{slices.Index(cat.ColorOf, red), slices.Index(cat.ColorOf, blue)} {
			var mem memory
			if got, want := env.OracleUtility(0, item), s.utility(&env.stats, item, env.Exposure[item], &mem); got != want {
				t.Errorf("clock %d: OracleUtility of item %d = %g; want %g", env.Clock(), item, got, want)
			}
		}
		stepOnce(t, env, []int32{5, 6, 7})
	}
}

// TestDriftRunsAgreeUntilTheStep runs one seed with and without each change and checks that
// the traces are identical before the change takes effect and differ after it. With 8
// sessions, a change at shopper-step 100 takes effect at the clock 104, before the 14th Step.
func TestDriftRunsAgreeUntilTheStep(t *testing.T) {
	cat := testCatalog(t, 60)
	fourItems := strings.Join([]string{cat.Items[0].ID, cat.Items[1].ID, cat.Items[2].ID, cat.Items[3].ID}, "+")
	cases := []struct {
		persona, drift string
		base           string // the run to compare with; empty for no drift
	}{
		{CheapBlue, "favorite_color=red@100", ""},
		{BrandLover, "favorite_color=red@100", ""},
		{ExposureBuyer, "favorite_category=" + cat.Categories[0] + "@100", ""},
		{CategoryFatigue, "category_fatigue.favorite_category=" + cat.Categories[1] + "@100", ""},
		{LearningShopper, "favorite_category=" + cat.Categories[2] + "@100", ""},
		{ValueSeeker, "price=" + cat.Categories[3] + "*0.5@100", ""},
		{CheapBlue, "price=" + cat.Categories[3] + "*3@100", ""},
		{ValueSeeker, "remove_category=" + cat.Categories[3] + "@100", ""},
		{ValueSeeker, "remove=" + fourItems + "@100", ""},
		// Items that a schedule adds are unavailable from the start, so compare with a run
		// in which they stay unavailable.
		{ValueSeeker, "add_category=" + cat.Categories[3] + "@100", "remove_category=" + cat.Categories[3] + "@0"},
		{ValueSeeker, "add=" + fourItems + "@100", "remove=" + fourItems + "@0"},
	}
	const n, steps, changeAt = 8, 60, 13 // Step calls before the change takes effect
	for _, c := range cases {
		t.Run(c.drift, func(t *testing.T) {
			run := func(drift string) []float64 {
				env := driftEnv(t, cat, c.persona, drift, n)
				return runEnv(t, env, steps, rand.New(rand.NewPCG(3, 3)))
			}
			base, drifted := run(c.base), run(c.drift)
			before := changeAt * n * 3 // runEnv records 3 entries per session and Step
			if !equalFloats(base[:before], drifted[:before]) {
				t.Errorf("the runs differ before the change takes effect")
			}
			if equalFloats(base[before:], drifted[before:]) {
				t.Errorf("the runs are identical after the change takes effect")
			}
		})
	}
}

// TestFavoriteChangesApplyToEveryShopper checks that a favourite change sets the favourite
// of every running shopper of the persona, and of every shopper drawn later.
func TestFavoriteChangesApplyToEveryShopper(t *testing.T) {
	cat := testCatalog(t, 60)
	red := slices.Index(cat.Colors, "red")
	tops := slices.Index(cat.Categories, "Tops")
	population := "brand_lover:1,exposure_buyer:1,category_fatigue:1,learning_shopper:1,cheap_blue:1"
	env := driftEnv(t, cat, population, "brand_lover.favorite_color=red@32,favorite_category=Tops@32", 16)
	favorites := func() (colors, categories map[int]int) {
		colors, categories = map[int]int{}, map[int]int{}
		for i := range env.NumSessions() {
			s := env.OracleShopper(i)
			switch s.Persona {
			case BrandLover:
				colors[s.FavoriteColor]++
			case ExposureBuyer, CategoryFatigue, LearningShopper:
				categories[s.FavoriteCategory]++
			}
		}
		return colors, categories
	}

	colors, categories := favorites()
	if len(colors) < 2 || len(categories) < 2 {
		t.Fatalf("before the change the favourites should vary: colours %v, categories %v", colors, categories)
	}

	rng := rand.New(rand.NewPCG(1, 1))
	slates := make([]int32, 16*3)
	out := NewStepResult(16)
	ended := 0
	for step := 0; step < 40; step++ {
		stepRandom(t, env, rng, slates, out)
		for _, d := range out.Done {
			if d && env.Clock() > 32 {
				ended++
			}
		}
		if env.Clock() < 32 {
			continue
		}
		colors, categories = favorites()
		for c := range colors {
			if c != red {
				t.Fatalf("clock %d: a brand_lover favours colour %d; want red (%d)", env.Clock(), c, red)
			}
		}
		for c := range categories {
			if c != tops {
				t.Fatalf("clock %d: a shopper favours category %d; want Tops (%d)", env.Clock(), c, tops)
			}
		}
	}
	if ended < 16 {
		t.Errorf("only %d sessions ended after the change; want new shoppers drawn after it", ended)
	}
}

// TestPriceChange checks that a price change sets the new prices and z-scores of the
// category's items exactly at its step, leaves the other items alone, and that a purchase
// earns the new price under the revenue reward.
func TestPriceChange(t *testing.T) {
	cat := testCatalog(t, 200)
	dresses := slices.Index(cat.Categories, "Dresses")
	env, err := NewVecEnv(cat, Config{Persona: ValueSeeker, Reward: RewardRevenue, Drift: "price=Dresses*0.5@20"}, 10, 3)
	if err != nil {
		t.Fatal(err)
	}
	st := newItemStats(cat)
	stepOnce(t, env, []int32{0, 1, 2})
	if !slices.Equal(env.Prices, st.price) {
		t.Fatal("prices changed before the step")
	}
	stepOnce(t, env, []int32{0, 1, 2})
	for i, it := range cat.Items {
		want := it.Price
		if cat.CategoryOf[i] == dresses {
			want *= 0.5
			checkClose(t, "price_z of "+it.ID, env.stats.priceZ[i], st.priceZ[i]+math.Log(0.5)/st.logPriceScale.sd)
			checkClose(t, "value_z of "+it.ID, env.stats.valueZ[i], st.valueZ[i]-math.Log(0.5)/st.logValueScale.sd)
		} else if env.stats.priceZ[i] != st.priceZ[i] || env.stats.valueZ[i] != st.valueZ[i] {
			t.Errorf("item %s outside Dresses changed its z-scores", it.ID)
		}
		if env.Prices[i] != want {
			t.Errorf("price of %s = %g; want %g", it.ID, env.Prices[i], want)
		}
	}

	// Every purchase of a dress earns half its catalog price.
	var dress int32 = -1
	for i := range cat.Items {
		if cat.CategoryOf[i] == dresses {
			dress = int32(i)
			break
		}
	}
	others := []int32{}
	for i := range cat.Items {
		if cat.CategoryOf[i] != dresses && len(others) < 2 {
			others = append(others, int32(i))
		}
	}
	purchases := 0
	for range 300 {
		out := stepOnce(t, env, []int32{dress, others[0], others[1]})
		for i, bought := range out.Bought {
			if !bought || out.Click[i] != 0 {
				continue
			}
			purchases++
			if want := cat.Items[dress].Price * 0.5; out.Reward[i] != want {
				t.Fatalf("a purchase of the dress earned %g; want the new price %g", out.Reward[i], want)
			}
		}
	}
	if purchases == 0 {
		t.Error("no purchase of the dress in 300 steps; the test checks nothing")
	}
}

// TestRemovedItemsAreNeverClicked removes three items at shopper-step 1000 and checks that
// from then on they are never clicked and their exposure stops counting, and that adding
// them back restores them.
func TestRemovedItemsAreNeverClicked(t *testing.T) {
	cat := testCatalog(t, 50)
	ids := cat.Items[0].ID + "+" + cat.Items[1].ID + "+" + cat.Items[2].ID
	const n = 200
	env := driftEnv(t, cat, CheapBlue, "remove="+ids+"@1000,add="+ids+"@3000", n)
	slate := []int32{0, 1, 2}
	clicks := 0
	for env.Clock() < 4000 {
		available := env.Available[0]
		exposure := slices.Clone(env.Exposure)
		out := stepOnce(t, env, slate)
		wantAvailable := env.Clock()-n < 1000 || env.Clock()-n >= 3000
		if available != wantAvailable {
			t.Fatalf("clock %d: item 0 available %v; want %v", env.Clock()-n, available, wantAvailable)
		}
		for i := range n {
			if out.Click[i] >= 0 {
				clicks++
				if !available {
					t.Fatalf("clock %d: session %d clicked removed item at position %d", env.Clock()-n, i, out.Click[i])
				}
			}
			if !available && !out.Done[i] && env.Exposure[i*cat.Len()] != exposure[i*cat.Len()] {
				t.Fatalf("clock %d: the exposure of a removed item changed", env.Clock()-n)
			}
		}
	}
	if clicks == 0 {
		t.Error("no clicks while the items were available; the test checks nothing")
	}
}

// TestAddedItemsStartUnavailable checks that an item whose first change adds it is
// unavailable until then, and that one removed first starts available.
func TestAddedItemsStartUnavailable(t *testing.T) {
	cat := testCatalog(t, 50)
	a, b := cat.Items[0].ID, cat.Items[1].ID
	env := driftEnv(t, cat, CheapBlue, "add="+a+"@20,remove="+b+"@10,add="+b+"@30", 10)
	check := func(want0, want1 bool) {
		t.Helper()
		if env.Available[0] != want0 || env.Available[1] != want1 {
			t.Errorf("clock %d: available %v, %v; want %v, %v", env.Clock(), env.Available[0], env.Available[1], want0, want1)
		}
	}
	check(false, true)
	stepOnce(t, env, []int32{2, 3, 4})
	check(false, false) // clock 10
	stepOnce(t, env, []int32{2, 3, 4})
	check(true, false) // clock 20
	stepOnce(t, env, []int32{2, 3, 4})
	check(true, true) // clock 30
	for j := 2; j < cat.Len(); j++ {
		if !env.Available[j] {
			t.Errorf("item %d is unavailable; no change names it", j)
		}
	}
}

func TestCategoryAvailability(t *testing.T) {
	cat := testCatalog(t, 50)
	shoes := slices.Index(cat.Categories, "Shoes")
	env := driftEnv(t, cat, CheapBlue, "remove_category=Shoes@5,add_category=Shoes@10", 5)
	for _, want := range []bool{true, false, true} {
		for j := range cat.Items {
			if got := env.Available[j]; cat.CategoryOf[j] == shoes && got != want || cat.CategoryOf[j] != shoes && !got {
				t.Fatalf("clock %d: item %d (%s) available %v", env.Clock(), j, cat.Items[j].Category, got)
			}
		}
		stepOnce(t, env, []int32{0, 1, 2})
	}
}

func TestSetClock(t *testing.T) {
	cat := testCatalog(t, 50)
	env := driftEnv(t, cat, CheapBlue, "remove="+cat.Items[0].ID+"@1000", 4)
	if err := env.SetClock(999); err != nil {
		t.Fatal(err)
	}
	if !env.Available[0] {
		t.Error("item removed at clock 999, before its step 1000")
	}
	if err := env.SetClock(1000); err != nil {
		t.Fatal(err)
	}
	if env.Available[0] {
		t.Error("item still available at clock 1000")
	}
	err := env.SetClock(10)
	if want := "simenv: cannot set the clock back from shopper-step 1000 to 10; the clock only moves forward"; err == nil || err.Error() != want {
		t.Errorf("SetClock(10) = %v; want %q", err, want)
	}
	stepOnce(t, env, []int32{1, 2, 3})
	if env.Clock() != 1004 {
		t.Errorf("clock after a step = %d; want 1004", env.Clock())
	}
}

// TestFreezeDrift checks that a VecEnv built with FreezeDrift starts in the shop that the
// original schedule sets at the given clock, and stays there.
func TestFreezeDrift(t *testing.T) {
	cat := testCatalog(t, 50)
	a, b, c := cat.Items[0].ID, cat.Items[1].ID, cat.Items[2].ID
	shoes := slices.Index(cat.Categories, "Shoes")
	// a starts available, is removed at 20 and added back at 40. b is removed at 60 and
	// added back at 70, c is removed at 80, and the shoes start unavailable until 45.
	schedule := "add=" + a + "@40,remove=" + a + "@20,favorite_color=red@30,price=Tops*2@10,price=Tops*0.5@50," +
		"remove=" + b + "@60,add=" + b + "@70,add_category=Shoes@45,remove=" + c + "@80"
	for _, clock := range []int64{0, 10, 25, 44, 45, 50, 65, 100} {
		frozen, err := FreezeDrift(schedule, clock, cat)
		if err != nil {
			t.Fatal(err)
		}
		ran := driftEnv(t, cat, CheapBlue, schedule, 10)
		if err := ran.SetClock(clock); err != nil {
			t.Fatal(err)
		}
		started := driftEnv(t, cat, CheapBlue, frozen, 10)
		if !slices.Equal(ran.Available, started.Available) || !slices.Equal(ran.Prices, started.Prices) ||
			!slices.Equal(ran.stats.blue, started.stats.blue) || !slices.Equal(ran.stats.priceZ, started.stats.priceZ) ||
			!slices.Equal(ran.stats.valueZ, started.stats.valueZ) {
			t.Errorf("clock %d: the shop built from %q differs from the one the schedule sets", clock, frozen)
		}
		// The frozen shop never changes again.
		before := slices.Clone(started.Available)
		if err := started.SetClock(1 << 40); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(before, started.Available) {
			t.Errorf("clock %d: the frozen shop changed later", clock)
		}
		if clock == 44 {
			for j, avail := range started.Available {
				if cat.CategoryOf[j] == shoes && avail {
					t.Errorf("clock 44: shoe %d is available before the category is added", j)
				}
			}
		}
	}
	frozen, err := FreezeDrift(schedule, 50, cat)
	if err != nil {
		t.Fatal(err)
	}
	if want := "price=Tops*2@0,favorite_color=red@0,price=Tops*0.5@0"; !strings.HasPrefix(frozen, want) {
		t.Errorf("FreezeDrift = %q; want it to start with %q", frozen, want)
	}
	if _, err := FreezeDrift("price=Tops@3", 10, cat); err == nil {
		t.Error("FreezeDrift accepted a malformed schedule")
	}
}

func TestFreezeDriftRejectsUnnameableItem(t *testing.T) {
	cat := handCatalog(t, []Item{
		{ID: "x,1", Category: "Tops", Price: 10, Color: "red", Brand: "A", Rating: 4},
		{ID: "y", Category: "Tops", Price: 10, Color: "red", Brand: "A", Rating: 4},
		{ID: "z", Category: "Bags", Price: 10, Color: "red", Brand: "A", Rating: 4},
	})
	_, err := FreezeDrift("remove_category=Tops@5", 10, cat)
	if err == nil || !strings.Contains(err.Error(), `item ID "x,1" is unavailable at shopper-step 10, but a drift schedule cannot name an ID with a comma`) {
		t.Errorf("error %v; want one naming item x,1", err)
	}
	if got, err := FreezeDrift("remove_category=Tops@5", 4, cat); err != nil || got != "" {
		t.Errorf("FreezeDrift before the removal = %q, %v; want the empty schedule", got, err)
	}
}

// TestStepAllocatesNothingWithDrift steps through every kind of change and checks that
// applying them allocates nothing either.
func TestStepAllocatesNothingWithDrift(t *testing.T) {
	cat := testCatalog(t, 200)
	drift := "favorite_color=red@640,favorite_category=Tops@1280,price=Dresses*0.8@1920," +
		"remove=" + cat.Items[5].ID + "@2560,add_category=Shoes@3200,remove_category=Bags@3840"
	env, err := NewVecEnv(cat, Config{Persona: "cheap_blue:1,brand_lover:1,exposure_buyer:1", Drift: drift}, 64, 1)
	if err != nil {
		t.Fatal(err)
	}
	slates := make([]int32, 64*3)
	for i := 0; i < 64; i++ {
		copy(slates[i*3:], []int32{int32(i), int32(i + 64), int32(i + 128)})
	}
	out := NewStepResult(64)
	// testing.AllocsPerRun rounds the mean down and runs the function once before it
	// counts, so count the allocations of the whole run directly.
	allocs := mallocsDuring(func() {
		for range 70 {
			if err := env.Step(slates, out); err != nil {
				t.Fatal(err)
			}
		}
	})
	if allocs != 0 {
		t.Errorf("70 steps through every change allocated %d times; want 0", allocs)
	}
	if env.nextDrift != len(env.drift) {
		t.Errorf("%d of %d changes applied; the runs should cover all", env.nextDrift, len(env.drift))
	}
}

// mallocsDuring returns the number of heap allocations that f makes, counted exactly.
func mallocsDuring(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.Mallocs - before.Mallocs
}
