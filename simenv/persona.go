package simenv

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
)

// A persona is a family of shoppers that share one utility function. Every shopper draws
// its own parameters around the persona's defaults (see jitter), so two shoppers of one
// persona react a little differently to the same slate.
//
// Utilities are in logit units: the chance that a shopper clicks item i of a slate S is
//
//	P(i | S) = exp(u_i) / (exp(u_0) + Σ_{j∈S} exp(u_j))
//
// where u_0 is the persona's no-click utility (a multinomial logit with an outside option,
// McFadden 1974). A click then ends in a purchase with probability BuyProbability.
//
// All item terms use catalog-standardised attributes (see itemStats): the z-score of the
// log price, the z-score of the log of rating per unit of price, and indicator features.
// Standardising keeps one set of default weights meaningful for catalogs of any price range.

// Persona names. docs/simulator.md gives every persona's utility with its reasons.
const (
	CheapBlue       = "cheap_blue"
	ExposureBuyer   = "exposure_buyer"
	ValueSeeker     = "value_seeker"
	BrandLover      = "brand_lover"
	RandomChooser   = "random_chooser"
	FreshnessSeeker = "freshness_seeker"
	CategoryFatigue = "category_fatigue"
	BudgetBuyer     = "budget_buyer"
	LearningShopper = "learning_shopper"
	ImpulseBuyer    = "impulse_buyer"
)

// PersonaNames lists the built-in personas in a stable order.
var PersonaNames = []string{
	CheapBlue, ExposureBuyer, ValueSeeker,
	BrandLover, RandomChooser, FreshnessSeeker, CategoryFatigue, BudgetBuyer, LearningShopper,
	ImpulseBuyer,
}

// CheckPersona returns an error naming the valid personas when name is not one of them.
func CheckPersona(name string) error {
	for _, p := range PersonaNames {
		if p == name {
			return nil
		}
	}
	return fmt.Errorf("simenv: unknown persona %q; valid personas: %s", name, strings.Join(PersonaNames, ", "))
}

// Shopper contains one simulated shopper's hidden parameters. Recommenders have no access
// to it except through the oracle API.
type Shopper struct {
	Persona string

	// Utility weights, in logits per unit of the attribute.
	NoClick        float64 // u_0, the utility of clicking nothing
	Bias           float64 // base utility of any item
	PriceWeight    float64 // per standard deviation of log price (positive: prefers cheap)
	BlueWeight     float64 // added when the item is blue
	ValueWeight    float64 // per standard deviation of log(rating/price)
	CategoryWeight float64 // added when the item is in FavoriteCategory
	ExposureWeight float64 // per unit of ln(1 + times the item was shown before)

	// FavoriteCategory is an index into Catalog.Categories, or -1 for none.
	FavoriteCategory int

	// Brand and colour loyalty: BrandWeight is added when the item's brand is FavoriteBrand
	// and ColorWeight when its colour is FavoriteColor. The favourites are indices into
	// Catalog.Brands and Catalog.Colors, or -1 for none.
	BrandWeight   float64
	ColorWeight   float64
	FavoriteBrand int
	FavoriteColor int

	// FreshnessWeight is subtracted per standard deviation of ln(1 + release age in days),
	// so a positive weight prefers recently released items.
	FreshnessWeight float64

	// Category fatigue: the utility of an item falls by FatigueWeight per unit of the
	// shopper's fatigue with the item's category. Fatigue rises by 1 for each item of the
	// category in a slate and is multiplied by FatigueDecay, in (0, 1), after every slate.
	// A FatigueDecay of 0 means the shopper does not tire.
	FatigueWeight float64
	FatigueDecay  float64

	// Budget is the shopper's starting budget in the catalog's currency, or 0 for none. A
	// shopper with a budget never buys an item priced above what remains of it, and the
	// utility of such an item falls by OverBudgetWeight.
	Budget           float64
	OverBudgetWeight float64

	// NoiseScale is the scale of the centred Gumbel noise added to every item's utility,
	// drawn afresh per item and slate; 0 means none.
	NoiseScale float64

	// Learning from outcomes (Learns true). A click on item i reveals the satisfaction
	// s = ValueWeight·value_z + taste + SatisfactionNoise·N(0, 1), where taste is
	// FavoriteTaste for FavoriteCategory and OtherTaste for every other category. The
	// shopper does not know its tastes at first: its click utility adds, per category, the
	// mean of s − ValueWeight·value_z over its clicks in that category, shrunk towards 0 as
	// if PriorClicks clicks had found 0. Its trust in the recommender moves by
	// TrustRate·(s − Aspiration − trust) per click, and its no-click utility is
	// NoClick − TrustWeight·trust.
	Learns            bool
	FavoriteTaste     float64
	OtherTaste        float64
	SatisfactionNoise float64
	Aspiration        float64
	TrustRate         float64
	TrustWeight       float64
	PriorClicks       float64

	// Purchase: P(buy | click on i) = sigmoid(BuyBias + BuyUtility·u_i + BuyExposure·e_i),
	// where e_i counts earlier showings of item i to this shopper. A shopper that learns uses
	// its satisfaction s in place of u_i.
	BuyBias     float64
	BuyUtility  float64
	BuyExposure float64

	// Regret: after a purchase of item i, the shopper leaves the shop with probability
	// sigmoid(RegretBias − RegretWeight·rating_z), where rating_z is the z-score of the
	// item's rating over the catalog. A RegretWeight of 0 means that no purchase makes the
	// shopper leave.
	RegretBias   float64
	RegretWeight float64

	// Patience is the number of ignored slates in a row after which the shopper leaves.
	Patience int
}

// jitter multiplies v by exp(σ·N(0,1)), a log-normal factor with median 1, so that a
// weight keeps its sign and varies by about ±σ·100 % between shoppers.
func jitter(rng *rand.Rand, v, sigma float64) float64 {
	return v * math.Exp(sigma*rng.NormFloat64())
}

// jitterSigma is the log-scale spread of every jittered weight.
const jitterSigma = 0.15

// NewShopper draws a shopper of the named persona for catalog cat from rng. It standardises
// the catalog's attributes first, which takes O(items · log items) time; VecEnv keeps them
// and draws its shoppers without that cost.
func NewShopper(persona string, cat *Catalog, rng *rand.Rand) (Shopper, error) {
	st := newItemStats(cat)
	return drawShopper(persona, &st, rng)
}

// drawShopper draws a shopper of the named persona from rng for the catalog described by st.
// It allocates nothing.
func drawShopper(persona string, st *itemStats, rng *rand.Rand) (Shopper, error) {
	var s Shopper
	if err := drawShopperInto(&s, persona, st, rng); err != nil {
		return Shopper{}, err
	}
	return s, nil
}

// drawShopperInto is drawShopper writing into *s, which saves VecEnv a copy of the
// Shopper per new session.
func drawShopperInto(s *Shopper, persona string, st *itemStats, rng *rand.Rand) error {
	*s = Shopper{Persona: persona, FavoriteCategory: -1, FavoriteBrand: -1, FavoriteColor: -1}
	numCategories := st.numCategories
	switch persona {
	case CheapBlue:
		// Clicks what is blue and cheap. A blue item one standard deviation below the mean
		// ln price has utility 0.2, above the no-click utility 0. A slate of three such items
		// is clicked about 80 % of the time, and a random slate about 25 % of the time.
		s.Bias = -3.2
		s.BlueWeight = jitter(rng, 2.2, jitterSigma)
		s.PriceWeight = jitter(rng, 1.2, jitterSigma)
		s.BuyBias = jitter(rng, -1.0, jitterSigma)
		s.BuyUtility = 0.8
		s.Patience = 3 + rng.IntN(2)
	case ExposureBuyer:
		// Ignores an item at first and is won over by repetition. A new item of its
		// favourite category has utility -0.6 and any other new item -3.6, against the
		// no-click utility 0. Each showing raises the item's utility by
		// ExposureWeight·ln(1+e) and its purchase log-odds by BuyExposure per earlier
		// showing e. A clicked item is rarely bought on first sight (about 2 %). Once it has
		// been shown six times, about 40 % of clicks on a favourite-category item end in a
		// purchase.
		s.Bias = -3.6
		s.CategoryWeight = jitter(rng, 3.0, jitterSigma)
		s.ExposureWeight = jitter(rng, 0.5, jitterSigma)
		s.FavoriteCategory = rng.IntN(max(1, numCategories))
		s.BuyBias = jitter(rng, -3.5, jitterSigma)
		s.BuyUtility = 0.5
		s.BuyExposure = jitter(rng, 0.5, jitterSigma)
		s.Patience = 4 + rng.IntN(3)
	case ValueSeeker:
		// Chooses by rating per unit of price. An item two standard deviations better in
		// value than the catalog's mean has utility -0.6. A slate of three such items is
		// clicked about 60 % of the time, and a random slate about 25 % of the time.
		s.Bias = -3.0
		s.ValueWeight = jitter(rng, 1.2, jitterSigma)
		s.BuyBias = jitter(rng, -1.0, jitterSigma)
		s.BuyUtility = 0.8
		s.Patience = 3 + rng.IntN(2)
	case BrandLover:
		// Loyal to one brand and one colour, drawn per shopper as the brand and the colour
		// of uniformly drawn catalog items, so each is chosen with probability proportional
		// to its number of items. An item of both has utility 0.6, so a slate of three is
		// clicked about 85 % of the time. An item of the brand alone has utility -1.0, of the
		// colour alone -1.8, and any other item -3.4.
		s.Bias = -3.4
		s.BrandWeight = jitter(rng, 2.4, jitterSigma)
		s.ColorWeight = jitter(rng, 1.6, jitterSigma)
		s.FavoriteBrand = st.brand[rng.IntN(st.numItems)]
		s.FavoriteColor = st.color[rng.IntN(st.numItems)]
		s.BuyBias = jitter(rng, -1.0, jitterSigma)
		s.BuyUtility = 0.8
		s.Patience = 3 + rng.IntN(2)
	case RandomChooser:
		// Mostly noise: every item has the same utility -2.2 plus centred Gumbel noise of
		// scale 1, drawn afresh per item and slate. No item is better than another on
		// average, so no recommender does better than random except by chance. A slate is
		// clicked about 35 % of the time whatever it shows. The parameters are not jittered,
		// so that every shopper of this persona is the same control.
		s.Bias = -2.2
		s.NoiseScale = 1
		s.BuyBias = -1.0
		s.BuyUtility = 0.8
		s.Patience = 3 + rng.IntN(2)
	case FreshnessSeeker:
		// Prefers recently released items. The utility falls by FreshnessWeight per standard
		// deviation of ln(1 + age in days): the logarithm makes a week matter more for new
		// items than for old ones. On the generated catalog an item released today has
		// utility about 1.0 and one released a week ago about -1.0, so a slate of three
		// week-old items is clicked about half of the time. A random slate is clicked about
		// 20 % of the time.
		s.Bias = -3.0
		s.FreshnessWeight = jitter(rng, 1.2, jitterSigma)
		s.BuyBias = jitter(rng, -1.0, jitterSigma)
		s.BuyUtility = 0.8
		s.Patience = 3 + rng.IntN(2)
	case CategoryFatigue:
		// Likes one category, drawn uniformly, and good value, but tires of a category it
		// keeps being shown. Fatigue with a category rises by 1 per item of it in a slate and
		// falls by the factor 0.6 per slate, a half-life of about 1.4 slates. Slates full of
		// the favourite category drive its fatigue towards 3/(1 - 0.6) = 7.5, which lowers
		// its utility by 3 and makes it no better than any other category; one favourite
		// item per slate keeps the fatigue near 2.5 and the favourite's utility near -1.4.
		s.Bias = -3.2
		s.CategoryWeight = jitter(rng, 2.8, jitterSigma)
		s.ValueWeight = jitter(rng, 0.8, jitterSigma)
		s.FatigueWeight = jitter(rng, 0.4, jitterSigma)
		s.FatigueDecay = 0.6
		s.FavoriteCategory = rng.IntN(max(1, numCategories))
		s.BuyBias = jitter(rng, -1.0, jitterSigma)
		s.BuyUtility = 0.8
		s.Patience = 3 + rng.IntN(2)
	case BudgetBuyer:
		// Chooses by value within a budget. The budget is budgetMedianPrices times the
		// catalog's median price, times a log-normal factor of spread 0.3, so that it buys
		// about three typical items in any currency. It never buys an item priced above the
		// remaining budget, and such an item's utility falls by 2.5, because a shopper who
		// filters by price rarely opens what it cannot afford. Each purchase lowers the
		// remaining budget by the item's price.
		s.Bias = -2.8
		s.ValueWeight = jitter(rng, 1.0, jitterSigma)
		s.giveBudget(budgetMedianPrices, st, rng)
		s.BuyBias = jitter(rng, -1.0, jitterSigma)
		s.BuyUtility = 0.8
		s.Patience = 3 + rng.IntN(2)
	case LearningShopper:
		// Learns from its own clicks (see the Learns fields of Shopper). Its satisfaction
		// with an item is ValueWeight·value_z plus a taste of 1.5 for its favourite category,
		// drawn uniformly, and -1.0 for any other. At first it perceives only the value and
		// expects every category to be as good as 0, so a new item has click utility
		// -3.0 + ValueWeight·value_z. Each click reveals its satisfaction, which teaches it
		// its taste for the category and moves its trust. With an aspiration of 1, a click
		// on an item of the favourite category and of value_z above -0.5 raises trust on
		// average, and a click on any other item of value_z below 2 lowers it. Each unit of
		// trust lowers the no-click utility by 0.5, so a recommender that keeps showing
		// satisfying items gains clicks over the shopper's visits, and one that shows
		// disappointing items loses them.
		s.Learns = true
		s.Bias = -3.0
		s.ValueWeight = jitter(rng, 1.0, jitterSigma)
		s.FavoriteTaste = jitter(rng, 1.5, jitterSigma)
		s.OtherTaste = jitter(rng, -1.0, jitterSigma)
		s.FavoriteCategory = rng.IntN(max(1, numCategories))
		s.SatisfactionNoise = 0.5
		s.Aspiration = 1.0
		s.TrustRate = 0.1
		s.TrustWeight = 0.5
		s.PriorClicks = 2
		s.BuyBias = jitter(rng, -1.5, jitterSigma)
		s.BuyUtility = 0.8
		s.Patience = 3 + rng.IntN(2)
	case ImpulseBuyer:
		// Clicks and buys cheap items on impulse, and judges a purchase afterwards: a poorly
		// rated item disappoints it, and a disappointed shopper leaves the shop. An item one
		// standard deviation below the catalog's mean ln price has utility -1.4, and one two
		// below has 0.2. After buying an item rated one standard deviation below the mean,
		// the shopper leaves with probability 0.82; at the mean rating, 0.27; one standard
		// deviation above, 0.03. Cheap items tend to be rated lower, so the slate of highest
		// immediate reward ends sessions early, and a recommender that plans ahead gives up a
		// little of the price appeal for ratings that keep the shopper in the shop.
		s.Bias = -3.0
		s.PriceWeight = jitter(rng, 1.6, jitterSigma)
		s.BuyBias = jitter(rng, -0.5, jitterSigma)
		s.BuyUtility = 0.8
		s.RegretBias = -1.0
		s.RegretWeight = jitter(rng, 2.5, jitterSigma)
		s.Patience = 3 + rng.IntN(2)
	default:
		return CheckPersona(persona)
	}
	return nil
}

// budgetMedianPrices is a budget_buyer's median budget in units of the catalog's median
// price, and budgetSigma the log-scale spread of budgets between shoppers.
const (
	budgetMedianPrices = 3.0
	budgetSigma        = 0.3
)

// overBudgetWeight is the fall in utility of an item priced above the remaining budget.
const overBudgetWeight = 2.5

// giveBudget draws the shopper's budget: medianPrices times the catalog's median price,
// times a log-normal factor of spread budgetSigma.
func (s *Shopper) giveBudget(medianPrices float64, st *itemStats, rng *rand.Rand) {
	s.OverBudgetWeight = overBudgetWeight
	s.Budget = medianPrices * st.medianPrice * math.Exp(budgetSigma*rng.NormFloat64())
}

// eulerGamma is the Euler-Mascheroni constant, the mean of the standard Gumbel distribution.
const eulerGamma = 0.5772156649015329

// gumbelNoise returns a draw of the standard Gumbel distribution minus its mean, so that the
// noise has mean 0. With E standard exponential, -ln(E) is standard Gumbel, and rand's
// ExpFloat64 never returns 0, so the draw is finite.
func gumbelNoise(rng *rand.Rand) float64 {
	return -math.Log(rng.ExpFloat64()) - eulerGamma
}

// memory is a view of the session state that a shopper's utility reads: what the shopper
// remembers beyond the observable counters. The slices are per category of the catalog.
type memory struct {
	fatigue     []float64 // fatigue per category
	tasteSum    []float64 // per category, Σ (s − ValueWeight·value_z) over clicks
	tasteClicks []float64 // per category, number of clicks
	budget      float64   // remaining budget in the catalog's currency
}

// tasteEstimate returns the learned satisfaction of category c beyond what the shopper
// perceives of an item: the mean over its clicks in c, shrunk towards 0 by PriorClicks.
func (s *Shopper) tasteEstimate(mem *memory, c int) float64 {
	return mem.tasteSum[c] / (mem.tasteClicks[c] + s.PriorClicks)
}

// hasMemory reports whether the shopper's utility reads its memory: fatigue, budget or
// taste estimates.
func (s *Shopper) hasMemory() bool {
	return s.FatigueDecay != 0 || s.Budget > 0 || s.Learns
}

// utility returns the shopper's utility, without noise, for item i of the catalog described
// by st, given that the shopper was shown the item exposure times before and remembers mem.
func (s *Shopper) utility(st *itemStats, i int, exposure int32, mem *memory) float64 {
	u := s.Bias
	u -= s.PriceWeight * st.priceZ[i]
	u += s.ValueWeight * st.valueZ[i]
	if st.blue[i] {
		u += s.BlueWeight
	}
	c := st.category[i]
	if s.FavoriteCategory >= 0 && c == s.FavoriteCategory {
		u += s.CategoryWeight
	}
	if s.ExposureWeight != 0 && exposure > 0 {
		u += s.ExposureWeight * log1pCount(exposure)
	}

	// Terms of the later personas. Each is skipped when its weight is unset, so the
	// utilities of the first three personas are computed exactly as before.
	if s.FavoriteBrand >= 0 && st.brand[i] == s.FavoriteBrand {
		u += s.BrandWeight
	}
	if s.FavoriteColor >= 0 && st.color[i] == s.FavoriteColor {
		u += s.ColorWeight
	}
	if s.FreshnessWeight != 0 {
		u -= s.FreshnessWeight * st.ageZ[i]
	}
	if s.FatigueDecay != 0 {
		u -= s.FatigueWeight * mem.fatigue[c]
	}
	if s.Budget > 0 && st.price[i] > mem.budget {
		u -= s.OverBudgetWeight
	}
	if s.Learns {
		u += s.tasteEstimate(mem, c)
	}
	return u
}

// trueUtility returns the utility the shopper would give item i if it knew its own tastes.
// For a shopper that learns, that is its bias plus the mean satisfaction of a click on i.
// For the others, it is the click utility.
func (s *Shopper) trueUtility(st *itemStats, i int, exposure int32, mem *memory) float64 {
	if !s.Learns {
		return s.utility(st, i, exposure, mem)
	}
	return s.Bias + s.meanSatisfaction(st, i)
}

// meanSatisfaction returns the satisfaction that a learning shopper expects, before noise,
// from a click on item i.
func (s *Shopper) meanSatisfaction(st *itemStats, i int) float64 {
	v := s.ValueWeight * st.valueZ[i]
	if s.FavoriteCategory >= 0 && st.category[i] == s.FavoriteCategory {
		return v + s.FavoriteTaste
	}
	return v + s.OtherTaste
}

// noClickUtility returns u_0 for a shopper whose trust in the recommender is trust.
func (s *Shopper) noClickUtility(trust float64) float64 {
	return s.NoClick - s.TrustWeight*trust
}

// buyProbability returns P(buy | click) for an item of utility u shown exposure times before.
func (s *Shopper) buyProbability(u float64, exposure int32) float64 {
	return sigmoid(s.BuyBias + s.BuyUtility*u + s.BuyExposure*float64(exposure))
}

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// ClickProbabilities writes into dst the multinomial-logit probabilities of clicking each
// slate item given utilities u, and returns the probability of clicking nothing.
// dst and u must have the same length.
func ClickProbabilities(dst, u []float64, noClick float64) float64 {
	// Subtract the maximum before exponentiating so that large utilities cannot overflow.
	m := noClick
	for _, v := range u {
		m = max(m, v)
	}
	z := math.Exp(noClick - m)
	none := z
	for k, v := range u {
		dst[k] = math.Exp(v - m)
		z += dst[k]
	}
	for k := range dst {
		dst[k] /= z
	}
	return none / z
}

// sortedKeys returns the keys of m in sorted order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
