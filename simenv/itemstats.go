package simenv

import (
	"math"
	"slices"
)

// itemStats holds, per item, the catalog-standardised attributes and the indices that
// utilities read, and the catalog figures that shopper draws need. Standardising keeps one
// set of default weights meaningful for catalogs of any price range or age range.
type itemStats struct {
	numItems      int
	numCategories int
	medianPrice   float64 // in the catalog's currency

	priceZ  []float64 // z-score of ln(price)
	valueZ  []float64 // z-score of ln(rating/price)
	ageZ    []float64 // z-score of ln(1 + release age in days)
	ratingZ []float64 // z-score of the rating
	price   []float64 // in the catalog's currency

	// blue marks the items of the colour that cheap_blue's BlueWeight rewards: blue, unless
	// drift has changed the favourite colour.
	blue []bool

	// The standardisations of ln(price) and ln(rating/price) over the catalog as loaded.
	// A price change keeps them, so that it moves the z-scores of the changed items only.
	logPriceScale zScale
	logValueScale zScale

	// Per item, indices into Catalog.Categories, Catalog.Brands and Catalog.Colors.
	category []int
	brand    []int
	color    []int
}

func newItemStats(c *Catalog) itemStats {
	n := c.Len()
	st := itemStats{
		numItems:      n,
		numCategories: len(c.Categories),
		priceZ:        make([]float64, n),
		valueZ:        make([]float64, n),
		ageZ:          make([]float64, n),
		ratingZ:       make([]float64, n),
		blue:          make([]bool, n),
		price:         make([]float64, n),
		category:      c.CategoryOf,
		brand:         c.BrandOf,
		color:         c.ColorOf,
	}
	logPrice := make([]float64, n)
	logValue := make([]float64, n)
	logAge := make([]float64, n)
	rating := make([]float64, n)
	for i, it := range c.Items {
		logPrice[i] = math.Log(it.Price)
		logValue[i] = math.Log(it.Rating / it.Price)
		logAge[i] = math.Log1p(it.AgeDays)
		rating[i] = it.Rating
		st.blue[i] = it.Color == "blue"
		st.price[i] = it.Price
	}
	st.logPriceScale = standardize(st.priceZ, logPrice)
	st.logValueScale = standardize(st.valueZ, logValue)
	standardize(st.ageZ, logAge)
	standardize(st.ratingZ, rating)
	st.medianPrice = medianOf(slices.Clone(st.price))
	return st
}

// setPrice changes the price of item i to price, in the catalog's currency, and updates its
// z-scores of ln(price) and ln(rating/price) on the catalog's original scales.
func (st *itemStats) setPrice(i int, price, rating float64) {
	st.price[i] = price
	st.priceZ[i] = st.logPriceScale.z(math.Log(price))
	st.valueZ[i] = st.logValueScale.z(math.Log(rating / price))
}

// zScale is the mean and standard deviation of a standardisation. A zero sd means that
// every value maps to 0.
type zScale struct{ mean, sd float64 }

// z returns (v - mean) / sd, or 0 when sd is 0.
func (s zScale) z(v float64) float64 {
	if s.sd == 0 {
		return 0
	}
	return (v - s.mean) / s.sd
}

// standardize writes (x - mean) / sd into dst and returns the scale. The spread may be
// zero, or so small against the mean that it is only the rounding of the mean (equal values
// whose sum rounds). Then it writes zeros and returns a zero sd, because equal values would
// otherwise all become +1 or all -1.
func standardize(dst, x []float64) zScale {
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
	if sd <= 1e-12*math.Abs(mean) || sd == 0 {
		clear(dst)
		return zScale{mean: mean}
	}
	for i, v := range x {
		dst[i] = (v - mean) / sd
	}
	return zScale{mean: mean, sd: sd}
}
