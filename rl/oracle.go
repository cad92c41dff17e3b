package rl

import (
	"sort"

	"github.com/simshop/simshop/simenv"
)

// oracleCandidates is the number of items the oracle considers, chosen by their expected
// reward alone and by their weighted reward. The oracle then tries every slate of those:
// 20 candidates give C(20, 3) = 1,140 slates of 3, a few milliseconds per session.
const oracleCandidates = 20

// Oracle is a myopic reference, not a recommender: it reads each shopper's true utilities
// through simenv's oracle API and shows the slate of highest expected immediate reward.
// It is a ceiling for policies that plan one step ahead. A policy that plans further can
// beat it where showing an item now pays later, as with exposure_buyer.
type Oracle struct {
	k         int
	weight    []float64
	reward    []float64
	candidate []int32
	best      []int32
	trial     []int32
}

// NewOracle returns the myopic oracle for catalog cat.
func NewOracle(cat *simenv.Catalog, slateSize int) *Oracle {
	return &Oracle{
		k:      slateSize,
		weight: make([]float64, cat.Len()),
		reward: make([]float64, cat.Len()),
		best:   make([]int32, slateSize),
		trial:  make([]int32, slateSize),
	}
}

func (o *Oracle) Name() string                    { return "oracle" }
func (o *Oracle) StartSession(i int, seed uint64) {}

// Recommend shows each session the slate of highest expected immediate reward among the
// slates made of candidate items.
func (o *Oracle) Recommend(env *simenv.VecEnv, slates []int32) error {
	for i := 0; i < env.NumSessions(); i++ {
		noClick := env.OracleClickValues(i, o.weight, o.reward)
		for j, ok := range env.Available {
			if !ok {
				// An unavailable item can never be clicked; ranking it last keeps it out of
				// the candidates while enough other items remain.
				o.weight[j], o.reward[j] = 0, -1
			}
		}
		o.pickCandidates()
		bestValue := -1.0
		o.search(0, 0, 0, 0, noClick, &bestValue)
		copy(slates[i*o.k:(i+1)*o.k], o.best)
	}
	return nil
}

// pickCandidates keeps the items of highest click reward and of highest weight·reward.
// The optimal slate under the multinomial logit uses items that are good on one of the two:
// a high-reward item raises the numerator, a heavily weighted one also takes clicks from
// the no-click option.
func (o *Oracle) pickCandidates() {
	n := len(o.weight)
	order := make([]int32, n)
	for j := range order {
		order[j] = int32(j)
	}
	limit := min(n, oracleCandidates)
	seen := map[int32]bool{}
	o.candidate = o.candidate[:0]
	for _, key := range []func(int32) float64{
		func(j int32) float64 { return o.weight[j] * o.reward[j] },
		func(j int32) float64 { return o.reward[j] },
	} {
		sort.SliceStable(order, func(a, b int) bool { return key(order[a]) > key(order[b]) })
		for _, j := range order[:limit/2+limit%2] {
			if !seen[j] {
				seen[j] = true
				o.candidate = append(o.candidate, j)
			}
		}
	}
	for _, j := range order { // top up when the two lists overlapped or the catalog is small
		if len(o.candidate) >= max(limit, o.k) {
			break
		}
		if !seen[j] {
			seen[j] = true
			o.candidate = append(o.candidate, j)
		}
	}
}

// search tries every slate of o.k candidates from index start on, keeping the best in o.best.
func (o *Oracle) search(position, start int, weightSum, rewardSum, noClick float64, best *float64) {
	if position == o.k {
		if value := rewardSum / (noClick + weightSum); value > *best {
			*best = value
			copy(o.best, o.trial)
		}
		return
	}
	for c := start; c <= len(o.candidate)-(o.k-position); c++ {
		j := o.candidate[c]
		o.trial[position] = j
		o.search(position+1, c+1, weightSum+o.weight[j], rewardSum+o.weight[j]*o.reward[j], noClick, best)
	}
}
