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

// Persona names.
const (
	CheapBlue     = "cheap_blue"
	ExposureBuyer = "exposure_buyer"
	ValueSeeker   = "value_seeker"
)

// PersonaNames lists the built-in personas in a stable order.
var PersonaNames = []string{CheapBlue, ExposureBuyer, ValueSeeker}

// CheckPersona returns an error naming the valid personas when name is not one of them.
func CheckPersona(name string) error {
	for _, p := range PersonaNames {
		if p == name {
			return nil
		}
	}
	return fmt.Errorf("simenv: unknown persona %q; valid personas: %s", name, strings.Join(PersonaNames, ", "))
}

// Shopper holds one simulated shopper's hidden parameters. The recommender never sees it.
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

	// Purchase: P(buy | click on i) = sigmoid(BuyBias + BuyUtility·u_i + BuyExposure·e_i),
	// where e_i counts earlier showings of item i in this session.
	BuyBias     float64
	BuyUtility  float64
	BuyExposure float64

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

// NewShopper draws a shopper of the named persona from rng. numCategories is the size of
// the catalog's category list, used by personas with a favourite category.
func NewShopper(persona string, numCategories int, rng *rand.Rand) (Shopper, error) {
	s := Shopper{Persona: persona, FavoriteCategory: -1}
	switch persona {
	case CheapBlue:
		// Clicks what is blue and cheap. A blue item one standard deviation below the mean
		// ln price has utility 0.2, above the no-click utility 0, so a slate of three such
		// items is clicked about 80 % of the time; a random slate about 25 % of the time.
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
		// showing e, so an item is rarely bought on first sight (about 2 %) but often once
		// it has been shown six times (about 40 % of clicks on a favourite-category item).
		s.Bias = -3.6
		s.CategoryWeight = jitter(rng, 3.0, jitterSigma)
		s.ExposureWeight = jitter(rng, 0.5, jitterSigma)
		s.FavoriteCategory = rng.IntN(max(1, numCategories))
		s.BuyBias = jitter(rng, -3.5, jitterSigma)
		s.BuyUtility = 0.5
		s.BuyExposure = jitter(rng, 0.5, jitterSigma)
		s.Patience = 4 + rng.IntN(3)
	case ValueSeeker:
		// Chooses by rating per unit of price: an item two standard deviations better in
		// value than the catalog's mean has utility -0.6, so a slate of three such items is
		// clicked about 60 % of the time; a random slate about 25 % of the time.
		s.Bias = -3.0
		s.ValueWeight = jitter(rng, 1.2, jitterSigma)
		s.BuyBias = jitter(rng, -1.0, jitterSigma)
		s.BuyUtility = 0.8
		s.Patience = 3 + rng.IntN(2)
	default:
		return Shopper{}, CheckPersona(persona)
	}
	return s, nil
}

// itemStats holds the catalog-standardised attributes that utilities read, one per item.
type itemStats struct {
	priceZ []float64 // z-score of ln(price)
	valueZ []float64 // z-score of ln(rating/price)
	blue   []bool
}

func newItemStats(c *Catalog) itemStats {
	n := c.Len()
	st := itemStats{priceZ: make([]float64, n), valueZ: make([]float64, n), blue: make([]bool, n)}
	logPrice := make([]float64, n)
	logValue := make([]float64, n)
	for i, it := range c.Items {
		logPrice[i] = math.Log(it.Price)
		logValue[i] = math.Log(it.Rating / it.Price)
		st.blue[i] = it.Color == "blue"
	}
	standardize(st.priceZ, logPrice)
	standardize(st.valueZ, logValue)
	return st
}

// standardize writes (x - mean) / sd into dst; with a zero spread it writes zeros.
func standardize(dst, x []float64) {
	var mean float64
	for _, v := range x {
		mean += v
	}
	mean /= float64(len(x))
	var ss float64
	for _, v := range x {
		ss += (v - mean) * (v - mean)
	}
	sd := math.Sqrt(ss / float64(len(x)))
	for i, v := range x {
		if sd == 0 {
			dst[i] = 0
			continue
		}
		dst[i] = (v - mean) / sd
	}
}

// Utility returns the shopper's utility for item i of the catalog described by st, given
// that the item was shown exposure times before in this session.
func (s *Shopper) utility(st *itemStats, category []int, i int, exposure int32) float64 {
	u := s.Bias
	u -= s.PriceWeight * st.priceZ[i]
	u += s.ValueWeight * st.valueZ[i]
	if st.blue[i] {
		u += s.BlueWeight
	}
	if s.FavoriteCategory >= 0 && category[i] == s.FavoriteCategory {
		u += s.CategoryWeight
	}
	if s.ExposureWeight != 0 && exposure > 0 {
		u += s.ExposureWeight * math.Log1p(float64(exposure))
	}
	return u
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
