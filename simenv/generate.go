package simenv

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
)

// The generator draws a summer clothing shop on the scale of the real marketplace catalog
// that agents are later run on. Prices range from a few euros to a few tens of euros, ratings
// lie near 3.8 out of 5, and popularity spans several orders of magnitude.
//
// Each item is drawn independently, in this order:
//
//   - Category: from categorySpecs with the listed weights (shares of the catalog).
//   - Brand: uniformly from brandSpecs. The brand's quality tier sets a price multiplier and a
//     rating mean (tierSpecs).
//   - Colour: from colorSpecs with the listed weights. Blue has weight 0.11, so a catalog of
//     200 items holds about 22 blue items, and fewer than 5 with a probability of about
//     1.4e-6 (binomial distribution).
//   - Price in EUR: median(category) * multiplier(tier) * exp(sigma(category) * Z) with Z
//     standard normal, which is a log-normal law. The price is rounded to cents and is at
//     least minGeneratedPrice.
//   - Rating: mean(tier) + ratingNoise * Z, clipped to [1, 5] and rounded to 0.01.
//   - Popularity (number of ratings): floor(exp(ln(popularityMedian) +
//     popularityPerStar * (rating - 3.8) + popularitySigma * Z)). This is log-normal, so the
//     mean is well above the median, and better-rated items tend to be more popular.
//   - Product noun: uniformly from the category's nouns, used only in the name.
//
// After all items, the release age in days is drawn for each item in catalog order from a
// second stream of the same seed, as floor(meanReleaseAgeDays * E) with E standard
// exponential. Ages are therefore whole days with a mean of about 120 and a median of about
// 83, and about 6 % of the items are less than a week old. A shop adds items at a steady rate
// and an item's chance of still being listed falls with its age, which makes an exponential
// law a simple fit. The second stream leaves every other field as it was before release ages
// existed.

// DefaultCatalogSize is the number of items the command line generates when no catalog file
// is given.
const DefaultCatalogSize = 200

// generatorStream is the PCG stream constant of Generate, so a seed gives the same catalog
// on every run and platform.
const generatorStream = 0x53696d53686f70 // "SimShop" in ASCII

// releaseAgeStream is the PCG stream constant of the release ages that Generate draws.
const releaseAgeStream = 0x52656c65617365 // "Release" in ASCII

// meanReleaseAgeDays is the mean release age of generated items, in days.
const meanReleaseAgeDays = 120

// Price, rating and popularity parameters of the generator.
const (
	minGeneratedPrice = 0.50 // EUR, floor after rounding to cents
	ratingNoise       = 0.45 // stars, standard deviation around the tier mean
	popularityMedian  = 200  // ratings, median popularity of an item rated 3.8
	popularityPerStar = 1.0  // increase of ln(popularity) per star of rating
	popularitySigma   = 1.5  // standard deviation of ln(popularity) at a fixed rating
)

// categorySpec describes one generated category: its share of the catalog, the log-normal
// price law for a mid-tier brand, and the product nouns used in item names.
type categorySpec struct {
	name   string
	weight float64  // share of items
	median float64  // EUR, median price for a mid-tier brand
	sigma  float64  // standard deviation of ln(price)
	nouns  []string // product nouns for names, e.g. "Maxi Dress"
}

var categorySpecs = []categorySpec{
	{"Tops", 0.26, 8, 0.45, []string{"T-Shirt", "Blouse", "Tank Top", "Crop Top", "Shirt"}},
	{"Dresses", 0.24, 11, 0.50, []string{"Dress", "Maxi Dress", "Sundress", "Wrap Dress"}},
	{"Bottoms", 0.14, 9, 0.45, []string{"Shorts", "Skirt", "Linen Trousers", "Denim Shorts"}},
	{"Swimwear", 0.12, 10, 0.40, []string{"Bikini", "Swimsuit", "Swim Shorts", "Cover-Up"}},
	{"Shoes", 0.07, 14, 0.50, []string{"Sandals", "Sneakers", "Espadrilles", "Flip-Flops"}},
	{"Bags", 0.05, 12, 0.55, []string{"Tote Bag", "Beach Bag", "Crossbody Bag", "Straw Bag"}},
	{"Accessories", 0.07, 5, 0.60, []string{"Sunglasses", "Sun Hat", "Scarf", "Belt", "Cap"}},
	{"Outerwear", 0.05, 15, 0.45, []string{"Denim Jacket", "Cardigan", "Kimono", "Windbreaker"}},
}

// colorSpec is one colour word with its share of generated items.
type colorSpec struct {
	name   string
	weight float64
}

// colorSpecs uses the normalised colour words of the real catalog. The weights roughly follow
// that catalog's shares of known colours, and sum to 1.
var colorSpecs = []colorSpec{
	{"black", 0.20}, {"white", 0.16}, {"blue", 0.11}, {"red", 0.09}, {"green", 0.08},
	{"pink", 0.07}, {"yellow", 0.06}, {"grey", 0.06}, {"multi", 0.05}, {"purple", 0.04},
	{"beige", 0.025}, {"orange", 0.025}, {"brown", 0.015}, {"silver", 0.0075}, {"gold", 0.0075},
}

// qualityTier is a brand's quality level.
type qualityTier int

const (
	tierBudget qualityTier = iota
	tierMid
	tierPremium
)

// tierSpecs gives, per quality tier, the price multiplier relative to the category median and
// the mean rating in stars.
var tierSpecs = [...]struct {
	priceMultiplier float64
	ratingMean      float64
}{
	tierBudget:  {0.70, 3.55},
	tierMid:     {1.00, 3.85},
	tierPremium: {1.60, 4.20},
}

// brandSpec is one invented brand name and its quality tier.
type brandSpec struct {
	name string
	tier qualityTier
}

var brandSpecs = []brandSpec{
	{"Kestra", tierBudget}, {"Lumio", tierBudget}, {"Tamsa", tierBudget}, {"Orvik", tierBudget},
	{"Paloo", tierBudget}, {"Zerin", tierBudget}, {"Mavu", tierBudget},
	{"Corla", tierMid}, {"Elvane", tierMid}, {"Harrow Lane", tierMid}, {"Nessa", tierMid},
	{"Quillon", tierMid}, {"Rivo", tierMid}, {"Sabel", tierMid}, {"Tervio", tierMid},
	{"Alvane", tierPremium}, {"Marisol Atelier", tierPremium}, {"Ostra", tierPremium},
	{"Verin", tierPremium}, {"Yssel", tierPremium},
}

// Generate draws a synthetic catalog of n items from seed. The same n and seed give the same
// catalog. Items have IDs "g0001", "g0002", ... and names such as "Blue Maxi Dress (Corla)".
// The distributions are described at the top of this file.
func Generate(n int, seed uint64) (*Catalog, error) {
	if n < 1 {
		return nil, fmt.Errorf("simenv: generate catalog: size %d is less than 1; ask for at least 1 item", n)
	}
	rng := rand.New(rand.NewPCG(seed, generatorStream))

	categoryWeights := make([]float64, len(categorySpecs))
	for i, spec := range categorySpecs {
		categoryWeights[i] = spec.weight
	}
	colorWeights := make([]float64, len(colorSpecs))
	for i, spec := range colorSpecs {
		colorWeights[i] = spec.weight
	}

	items := make([]Item, n)
	for i := range items {
		category := categorySpecs[drawWeighted(rng, categoryWeights)]
		brand := brandSpecs[rng.IntN(len(brandSpecs))]
		tier := tierSpecs[brand.tier]
		color := colorSpecs[drawWeighted(rng, colorWeights)].name

		// Log-normal price around the category median, shifted by the brand's tier.
		price := category.median * tier.priceMultiplier * math.Exp(category.sigma*rng.NormFloat64())
		price = max(math.Round(price*100)/100, minGeneratedPrice)

		// Rating around the tier mean, kept on the 1 to 5 star scale.
		rating := tier.ratingMean + ratingNoise*rng.NormFloat64()
		rating = math.Round(min(max(rating, 1), 5)*100) / 100

		// Log-normal popularity whose log grows with the rating.
		logPopularity := math.Log(popularityMedian) + popularityPerStar*(rating-3.8) +
			popularitySigma*rng.NormFloat64()
		popularity := math.Floor(math.Exp(logPopularity))

		noun := category.nouns[rng.IntN(len(category.nouns))]
		items[i] = Item{
			ID:         fmt.Sprintf("g%04d", i+1),
			Name:       fmt.Sprintf("%s %s (%s)", capitalize(color), noun, brand.name),
			Category:   category.name,
			Price:      price,
			Color:      color,
			Brand:      brand.name,
			Popularity: popularity,
			Rating:     rating,
		}
	}

	// Release ages in whole days, exponential with mean meanReleaseAgeDays.
	ageRNG := rand.New(rand.NewPCG(seed, releaseAgeStream))
	for i := range items {
		items[i].AgeDays = math.Floor(meanReleaseAgeDays * ageRNG.ExpFloat64())
	}
	return NewCatalog(items, fmt.Sprintf("generated: %d items, seed %d", n, seed))
}

// drawWeighted returns index i with probability weights[i] / sum(weights).
func drawWeighted(rng *rand.Rand, weights []float64) int {
	total := 0.0
	for _, w := range weights {
		total += w
	}
	u := rng.Float64() * total
	for i, w := range weights {
		u -= w
		if u < 0 {
			return i
		}
	}
	// Rounding can leave u at a tiny non-negative value after the last weight.
	return len(weights) - 1
}

// capitalize upper-cases the first letter of an ASCII word.
func capitalize(word string) string {
	if word == "" {
		return word
	}
	return strings.ToUpper(word[:1]) + word[1:]
}
