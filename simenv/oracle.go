package simenv

import "math"

// OracleClickValues writes, for session i and every catalog item j, the logit weight
// weight[j] = exp(u_j) of clicking j and the expected reward clickReward[j] of a click on j
// under the shop's reward scheme, from the shopper's hidden parameters and memory. It
// returns the no-click weight exp(u_0). The expected immediate reward of a slate S is then
//
//	Σ_{j∈S} weight[j]·clickReward[j] / (noClick + Σ_{j∈S} weight[j]).
//
// The formula is that of the multinomial logit, the default ChoiceModel. Under another
// choice model, pass ln(weight[j]) as the utilities and ln(noClick) as the no-click utility
// to ChoiceProbabilities, whose result depends only on their differences. The expected
// reward of a slate is then Σ_k P(k)·clickReward[slate[k]].
//
// An unavailable item (see Available) gets the weight 0. Like OracleShopper, it is for
// reference policies and tests. Two effects are averaged rather than sampled:
// random_chooser's per-step utility noise is left out, and a learning shopper's purchase
// uses its mean satisfaction with the item.
func (e *VecEnv) OracleClickValues(i int, weight, clickReward []float64) (noClick float64) {
	s := &e.sessions[i]
	shopper := &s.shopper
	m := e.Catalog.Len()
	mem := e.memoryOf(i)
	for j := 0; j < m; j++ {
		exposure := e.Exposure[i*m+j]
		u := shopper.utility(&e.stats, j, exposure, &mem)
		pBuy := shopper.buyProbability(u, exposure)
		if shopper.Learns {
			pBuy = sigmoid(shopper.BuyBias + shopper.BuyUtility*shopper.meanSatisfaction(&e.stats, j))
		}
		price := e.stats.price[j]
		if shopper.Budget > 0 && price > s.budget {
			pBuy = 0
		}
		weight[j] = math.Exp(u)
		if !e.Available[j] {
			weight[j] = 0
		}
		clickReward[j] = expectedReward(e.Config.Reward, pBuy, price)
	}
	return math.Exp(shopper.noClickUtility(s.trust))
}

// expectedReward returns the mean reward of a click that ends in a purchase with
// probability pBuy, for an item of the given price.
func expectedReward(scheme string, pBuy, price float64) float64 {
	return (1-pBuy)*reward(scheme, true, false, price) + pBuy*reward(scheme, true, true, price)
}
