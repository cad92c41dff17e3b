package rl

import (
	"math/rand/v2"
	"sort"

	"github.com/simshop/simshop/simenv"
)

// NOTE: Random, Popularity and Filtered ignore VecEnv.Available, so after a drift removes
// items they may still show them; the env then skips those positions.

// Random shows K distinct items drawn uniformly, from a stream per session.
type Random struct {
	items int
	k     int
	rngs  []*rand.Rand
}

// NewRandom returns a random recommender for the given number of sessions.
func NewRandom(cat *simenv.Catalog, slateSize, sessions int) *Random {
	r := &Random{items: cat.Len(), k: slateSize}
	r.grow(sessions)
	return r
}

func (r *Random) Name() string { return "random" }

func (r *Random) StartSession(i int, seed uint64) {
	r.grow(i + 1)
	r.rngs[i] = rand.New(rand.NewPCG(seed, domainPolicy))
}

func (r *Random) Recommend(env *simenv.VecEnv, slates []int32) error {
	r.grow(env.NumSessions())
	for i := 0; i < env.NumSessions(); i++ {
		sampleDistinct(r.rngs[i], r.items, slates[i*r.k:(i+1)*r.k])
	}
	return nil
}

// grow adds streams so that sessions 0 to n-1 have one each; session i's first stream is
// seeded by i.
func (r *Random) grow(n int) {
	for i := len(r.rngs); i < n; i++ {
		r.rngs = append(r.rngs, rand.New(rand.NewPCG(uint64(i), domainPolicy)))
	}
}

// sampleDistinct fills dst with distinct uniform indices in [0, n) by rejection, which is
// fast while len(dst) is much smaller than n.
func sampleDistinct(rng *rand.Rand, n int, dst []int32) {
	for a := range dst {
	draw:
		for {
			v := int32(rng.IntN(n))
			for _, prev := range dst[:a] {
				if prev == v {
					continue draw
				}
			}
			dst[a] = v
			break
		}
	}
}

// popularityOrder returns the item indices sorted by popularity, most popular first, with
// ties broken by higher rating, then by index.
func popularityOrder(cat *simenv.Catalog) []int32 {
	order := make([]int32, cat.Len())
	for i := range order {
		order[i] = int32(i)
	}
	sort.SliceStable(order, func(a, b int) bool {
		x, y := cat.Items[order[a]], cat.Items[order[b]]
		if x.Popularity != y.Popularity {
			return x.Popularity > y.Popularity
		}
		return x.Rating > y.Rating
	})
	return order
}

// Popularity shows every session the K most popular items.
type Popularity struct {
	top []int32
}

// NewPopularity returns the popularity baseline for catalog cat.
func NewPopularity(cat *simenv.Catalog, slateSize int) *Popularity {
	return &Popularity{top: popularityOrder(cat)[:slateSize]}
}

func (p *Popularity) Name() string                    { return "popularity" }
func (p *Popularity) StartSession(i int, seed uint64) {}

func (p *Popularity) Recommend(env *simenv.VecEnv, slates []int32) error {
	for i := 0; i < env.NumSessions(); i++ {
		copy(slates[i*len(p.top):], p.top)
	}
	return nil
}

// Filtered ranks items by popularity after filtering them by what the session's clicks
// revealed. It fills the slate in tiers: items that share both the category and the colour
// of a clicked item, then items that share the category, then any item. These tiers skip
// items the session has ignored at least twice (shown twice or more, never clicked). A
// last tier admits them, so that a slate can always be filled.
type Filtered struct {
	catalog *simenv.Catalog
	k       int
	order   []int32
	// Per-call scratch: the categories and colours the session clicked.
	clickedCategory []bool
	clickedColor    []bool
}

// NewFiltered returns the rule-based filter baseline.
func NewFiltered(cat *simenv.Catalog, slateSize, sessions int) *Filtered {
	return &Filtered{
		catalog:         cat,
		k:               slateSize,
		order:           popularityOrder(cat),
		clickedCategory: make([]bool, len(cat.Categories)),
		clickedColor:    make([]bool, len(cat.Colors)),
	}
}

func (f *Filtered) Name() string                    { return "filtered" }
func (f *Filtered) StartSession(i int, seed uint64) {}

func (f *Filtered) Recommend(env *simenv.VecEnv, slates []int32) error {
	m := f.catalog.Len()
	for i := 0; i < env.NumSessions(); i++ {
		clear(f.clickedCategory)
		clear(f.clickedColor)
		clicks := env.ItemClicks[i*m : (i+1)*m]
		exposure := env.Exposure[i*m : (i+1)*m]
		for item, c := range clicks {
			if c > 0 {
				f.clickedCategory[f.catalog.CategoryOf[item]] = true
				f.clickedColor[f.catalog.ColorOf[item]] = true
			}
		}
		slate := slates[i*f.k : (i+1)*f.k]
		n := 0
		for tier := 0; tier < 4 && n < f.k; tier++ {
			for _, item := range f.order {
				if n == f.k {
					break
				}
				if exposure[item] >= 2 && clicks[item] == 0 && tier < 3 {
					continue
				}
				catOK := f.clickedCategory[f.catalog.CategoryOf[item]]
				colOK := f.clickedColor[f.catalog.ColorOf[item]]
				if (tier == 0 && !(catOK && colOK)) || (tier == 1 && !catOK) || contains(slate[:n], item) {
					continue
				}
				slate[n] = item
				n++
			}
		}
	}
	return nil
}

func contains(s []int32, v int32) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
