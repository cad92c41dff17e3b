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

	priceZ []float64 // z-score of ln(price)
	valueZ []float64 // z-score of ln(rating/price)
	ageZ   []float64 // z-score of ln(1 + release age in days)
	blue   []bool
	price  []float64 // in the catalog's currency

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
		blue:          make([]bool, n),
		price:         make([]float64, n),
		category:      c.CategoryOf,
		brand:         c.BrandOf,
		color:         c.ColorOf,
	}
	logPrice := make([]float64, n)
	logValue := make([]float64, n)
	logAge := make([]float64, n)
	for i, it := range c.Items {
		logPrice[i] = math.Log(it.Price)
		logValue[i] = math.Log(it.Rating / it.Price)
		logAge[i] = math.Log1p(it.AgeDays)
		st.blue[i] = it.Color == "blue"
		st.price[i] = it.Price
	}
	standardize(st.priceZ, logPrice)
	standardize(st.valueZ, logValue)
	standardize(st.ageZ, logAge)
	st.medianPrice = medianOf(slices.Clone(st.price))
	return st
}

// standardize writes (x - mean) / sd into dst. When the spread is zero, or so small against
// the mean that it is only the rounding of the mean (equal values whose sum rounds), it
// writes zeros, because equal values would otherwise all become +1 or all -1.
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
		if sd <= 1e-12*math.Abs(mean) || sd == 0 {
			dst[i] = 0
			continue
		}
		dst[i] = (v - mean) / sd
	}
}
