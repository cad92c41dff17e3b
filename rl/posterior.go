package rl

import (
	"math"
	"sort"

	"github.com/simshop/simshop/simenv"
)

// The brand_lover model as docs/simulator.md documents it, with every jittered weight at
// its median: an item's utility is brandLoverBias, plus brandLoverBrand when the item is of
// the favourite brand and brandLoverColor when it is of the favourite colour. The no-click
// utility is 0, and a click ends in a purchase with probability
// sigmoid(brandLoverBuyBias + brandLoverBuyUtility·u).
const (
	brandLoverBias       = -3.4
	brandLoverBrand      = 2.4
	brandLoverColor      = 1.6
	brandLoverBuyBias    = -1.0
	brandLoverBuyUtility = 0.8
)

// posteriorRounds bounds the rounds of the slate search's local improvement. Each round
// tries every replacement of every position, and a round without gain ends the search.
const posteriorRounds = 8

// Posterior is a Bayesian reference recommender for the brand_lover persona. It assumes the
// persona's model with the weights at their medians, and that a shopper's favourite brand
// and colour are those of two catalog items drawn uniformly, but it does not read the
// favourites. Per session it keeps the exact posterior over (favourite brand, favourite
// colour) pairs given the slates shown and the outcome of each: ignored, or clicked with or
// without a purchase. It shows the slate of highest expected immediate reward under that
// posterior. It reads only what the shop lets any recommender observe, so it measures how
// close a recommender that must find the favourites can come to the oracle, which reads them.
//
// The likelihood is that of the multinomial logit, the default choice model, and a returning
// shopper starts again from the prior. On other personas the model is wrong, and the
// recommender is then only a rule among others. A slate costs O(rounds · classes · pairs · K)
// operations, where classes counts the catalog's (brand, colour) pairs that have items and
// pairs is brands × colours: cheap on the generated catalog, slow on one with hundreds of brands.
type Posterior struct {
	catalog *simenv.Catalog
	k       int

	pairBrand []int     // per pair, the favourite brand
	pairColor []int     // per pair, the favourite colour
	prior     []float64 // per pair, P(brand)·P(colour)

	weight [4]float64 // exp(u) by match kind: 0 neither, 1 colour only, 2 brand only, 3 both
	buy    [4]float64 // P(buy | click) by match kind
	reward []float64  // [item*4 + kind], the expected reward of a click on item

	classes [][]int32 // items of each (brand, colour) present, best click reward first

	post       [][]float64 // per session, the posterior over pairs
	lastSlates []int32     // per session, the slate of the last Recommend
	active     []bool      // per session, whether that slate was shown to a running session

	// Scratch of the slate search: per pair, Σ w·r and Σ w over the slate's other items.
	num, den []float64

	// itemWise ranks each item by its expected reward alone in a slate and shows the top
	// ones, as a recommender that scores items one at a time does (see NewItemWisePosterior).
	itemWise bool
	ranked   []scoredItem // scratch of the item-wise ranking
}

// scoredItem is an item with its expected reward under a session's posterior.
type scoredItem struct {
	item  int32
	value float64
}

// NewPosterior returns the Bayesian brand_lover reference for catalog cat, slate size
// slateSize and the reward scheme named by reward ("" for the default).
func NewPosterior(cat *simenv.Catalog, slateSize int, reward string) *Posterior {
	if reward == "" {
		reward = simenv.RewardClickPurchase
	}
	p := &Posterior{catalog: cat, k: slateSize}

	// Prior: brand and colour of two independent uniform items.
	n := float64(cat.Len())
	brandShare := make([]float64, len(cat.Brands))
	colorShare := make([]float64, len(cat.Colors))
	for j := range cat.Items {
		brandShare[cat.BrandOf[j]] += 1 / n
		colorShare[cat.ColorOf[j]] += 1 / n
	}
	for b, pb := range brandShare {
		for c, pc := range colorShare {
			p.pairBrand = append(p.pairBrand, b)
			p.pairColor = append(p.pairColor, c)
			p.prior = append(p.prior, pb*pc)
		}
	}
	p.num = make([]float64, len(p.prior))
	p.den = make([]float64, len(p.prior))

	// Click weights, purchase chances and click rewards by match kind.
	for kind := range p.weight {
		u := brandLoverBias
		if kind&2 != 0 {
			u += brandLoverBrand
		}
		if kind&1 != 0 {
			u += brandLoverColor
		}
		p.weight[kind] = math.Exp(u)
		p.buy[kind] = 1 / (1 + math.Exp(-(brandLoverBuyBias + brandLoverBuyUtility*u)))
	}
	p.reward = make([]float64, 4*cat.Len())
	for j, it := range cat.Items {
		for kind := range p.weight {
			p.reward[4*j+kind] = simenv.ExpectedClickReward(reward, p.buy[kind], it.Price)
		}
	}

	// Items of one brand and colour differ only in their click reward, so the search tries
	// the best one of each class that the slate does not hold yet.
	classOf := map[[2]int]int{}
	for j := range cat.Items {
		key := [2]int{cat.BrandOf[j], cat.ColorOf[j]}
		c, ok := classOf[key]
		if !ok {
			c = len(p.classes)
			classOf[key] = c
			p.classes = append(p.classes, nil)
		}
		p.classes[c] = append(p.classes[c], int32(j))
	}
	for _, items := range p.classes {
		sort.SliceStable(items, func(a, b int) bool {
			return p.reward[4*items[a]+3] > p.reward[4*items[b]+3]
		})
	}
	return p
}

func (p *Posterior) Name() string {
	if p.itemWise {
		return "posterior-itemwise"
	}
	return "posterior"
}

// NewItemWisePosterior returns the Bayesian brand_lover reference with NewPosterior's
// posterior. It shows the K items of highest expected reward, each scored alone in a slate,
// in place of the best slate, as a DQN or any recommender that scores items one at a time
// does. The gap between the two references measures what choosing the slate as a whole is
// worth.
func NewItemWisePosterior(cat *simenv.Catalog, slateSize int, reward string) *Posterior {
	p := NewPosterior(cat, slateSize, reward)
	p.itemWise = true
	return p
}

// StartSession resets session i's posterior to the prior.
func (p *Posterior) StartSession(i int, seed uint64) {
	p.grow(i + 1)
	copy(p.post[i], p.prior)
	p.active[i] = false
}

// grow adds sessions, each starting from the prior, so that sessions 0 to n-1 exist.
func (p *Posterior) grow(n int) {
	for len(p.post) < n {
		p.post = append(p.post, append([]float64(nil), p.prior...))
		p.active = append(p.active, false)
		p.lastSlates = append(p.lastSlates, make([]int32, p.k)...)
	}
}

// Posterior returns session i's current posterior over (favourite brand, favourite colour)
// pairs, indexed brand·len(Colors) + colour. The slice is the recommender's own.
func (p *Posterior) Posterior(i int) []float64 { return p.post[i] }

// Recommend shows each session the slate of highest expected reward that the search finds.
func (p *Posterior) Recommend(env *simenv.VecEnv, slates []int32) error {
	p.grow(env.NumSessions())
	for i := 0; i < env.NumSessions(); i++ {
		slate := slates[i*p.k : (i+1)*p.k]
		p.choose(p.post[i], env.Available, slate)
		copy(p.lastSlates[i*p.k:(i+1)*p.k], slate)
		p.active[i] = !env.SessionDone(i)
	}
	return nil
}

// Learn conditions the posterior of every running session on the outcome of its last slate.
func (p *Posterior) Learn(out *simenv.StepResult) {
	for i := range p.active {
		if i >= len(out.Click) || !p.active[i] {
			continue
		}
		p.update(p.post[i], p.lastSlates[i*p.k:(i+1)*p.k], int(out.Click[i]), out.Bought[i])
	}
}

// kind returns the match kind of item j under pair q: 2 when the brand is the pair's, plus
// 1 when the colour is.
func (p *Posterior) kind(j int32, q int) int {
	kind := 0
	if p.catalog.BrandOf[j] == p.pairBrand[q] {
		kind = 2
	}
	if p.catalog.ColorOf[j] == p.pairColor[q] {
		kind++
	}
	return kind
}

// update multiplies post by the likelihood of the outcome of slate and normalises it. The
// shopper clicked position click (or nothing when it is -1) and bought the item if bought.
// Under the multinomial logit the likelihood of pair q is 1/(1 + Σ w) for an ignored slate
// and w_click/(1 + Σ w) times P(buy) or 1 − P(buy) for a click.
func (p *Posterior) update(post []float64, slate []int32, click int, bought bool) {
	total := 0.0
	for q, prob := range post {
		if prob == 0 {
			continue
		}
		sum := 1.0
		for _, j := range slate {
			sum += p.weight[p.kind(j, q)]
		}
		likelihood := 1 / sum
		if click >= 0 {
			kind := p.kind(slate[click], q)
			likelihood *= p.weight[kind]
			if bought {
				likelihood *= p.buy[kind]
			} else {
				likelihood *= 1 - p.buy[kind]
			}
		}
		post[q] = prob * likelihood
		total += post[q]
	}
	for q := range post {
		post[q] /= total
	}
}

// expected returns the expected reward under post of the slate made of the items whose
// sums are in p.num and p.den plus item j.
func (p *Posterior) expected(post []float64, j int32) float64 {
	v := 0.0
	for q, prob := range post {
		if prob == 0 {
			continue
		}
		kind := p.kind(j, q)
		w := p.weight[kind]
		v += prob * (p.num[q] + w*p.reward[4*int(j)+kind]) / (1 + p.den[q] + w)
	}
	return v
}

// sums sets p.num and p.den to the sums over the items of slate, skipping entries below 0.
func (p *Posterior) sums(post []float64, slate []int32) {
	clear(p.num)
	clear(p.den)
	for _, j := range slate {
		if j < 0 {
			continue
		}
		for q, prob := range post {
			if prob == 0 {
				continue
			}
			kind := p.kind(j, q)
			p.num[q] += p.weight[kind] * p.reward[4*int(j)+kind]
			p.den[q] += p.weight[kind]
		}
	}
}

// bestAddition returns the item, among the best free available item of each class, that
// gives the slate the highest expected reward, with that reward; -1 when no item is free.
// Entries of slate below 0 are free positions.
func (p *Posterior) bestAddition(post []float64, available []bool, slate []int32) (int32, float64) {
	best, bestValue := int32(-1), math.Inf(-1)
	for _, items := range p.classes {
		for _, j := range items {
			if !available[j] || contains(slate, j) {
				continue
			}
			if v := p.expected(post, j); v > bestValue {
				best, bestValue = j, v
			}
			break
		}
	}
	return best, bestValue
}

// choose writes into slate the slate of highest expected reward under post that a greedy
// fill followed by single-position replacements finds.
//
// NOTE: the search is a local one. A test checks it against every slate of small catalogs,
// but it is not proved to find the best slate of every catalog.
func (p *Posterior) choose(post []float64, available []bool, slate []int32) {
	for a := range slate {
		slate[a] = -1
	}
	if p.itemWise {
		p.chooseItemWise(post, available, slate)
		return
	}
	for a := range slate {
		p.sums(post, slate)
		slate[a], _ = p.bestAddition(post, available, slate)
	}
	for round := 0; round < posteriorRounds; round++ {
		improved := false
		for a := range slate {
			old := slate[a]
			if old < 0 {
				continue
			}
			slate[a] = -1
			p.sums(post, slate)
			current := p.expected(post, old)
			j, v := p.bestAddition(post, available, slate)
			if j >= 0 && v > current*(1+1e-12) {
				slate[a] = j
				improved = true
			} else {
				slate[a] = old
			}
		}
		if !improved {
			break
		}
	}

	p.fillUnavailable(slate)
}

// fillUnavailable fills the free positions of slate, those below 0, with distinct
// unavailable items, which the shop skips. Only a shop with fewer available items than
// positions leaves free positions.
func (p *Posterior) fillUnavailable(slate []int32) {
	next := int32(0)
	for a := range slate {
		for slate[a] < 0 {
			if !contains(slate, next) {
				slate[a] = next
			}
			next++
		}
	}
}

// chooseItemWise writes into slate the available items of highest expected reward each
// alone in a slate, ties broken by catalog order, and fills the rest as choose does.
func (p *Posterior) chooseItemWise(post []float64, available []bool, slate []int32) {
	clear(p.num)
	clear(p.den)
	p.ranked = p.ranked[:0]
	for _, items := range p.classes {
		// Within a class the items differ only in their reward, so its first K available
		// items are the only ones of it that can make the slate.
		count := 0
		for _, j := range items {
			if count == p.k {
				break
			}
			if available[j] {
				p.ranked = append(p.ranked, scoredItem{j, p.expected(post, j)})
				count++
			}
		}
	}
	sort.Slice(p.ranked, func(a, b int) bool {
		if p.ranked[a].value != p.ranked[b].value {
			return p.ranked[a].value > p.ranked[b].value
		}
		return p.ranked[a].item < p.ranked[b].item
	})
	for a := range slate {
		if a < len(p.ranked) {
			slate[a] = p.ranked[a].item
		}
	}
	p.fillUnavailable(slate)
}
