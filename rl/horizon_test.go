package rl

import (
	"math"
	"testing"

	"github.com/simshop/simshop/simenv"
)

// regretPlanner is the myopic oracle with one change: each click is charged the expected
// reward it loses when the shopper buys, regrets and leaves, taken as a fixed value of the
// rest of the session. It reads the same hidden parameters as the oracle. It exists to show
// that on impulse_buyer a recommender that looks past the current slate earns more than the
// myopic oracle.
type regretPlanner struct {
	*Oracle
	ratingZ []float64 // per item, the z-score of its rating over the catalog
	value   float64   // reward that a session still holds, charged when a purchase ends it
}

func (p *regretPlanner) Name() string { return "regret_planner" }

func (p *regretPlanner) Recommend(env *simenv.VecEnv, slates []int32) error {
	for i := 0; i < env.NumSessions(); i++ {
		noClick := env.OracleClickValues(i, p.weight, p.reward)
		s := env.OracleShopper(i)
		for j, r := range p.reward {
			pBuy := (r - 1) / 4 // the click_purchase reward of a click is 1 + 4·P(buy)
			pLeave := 1 / (1 + math.Exp(-(s.RegretBias - s.RegretWeight*p.ratingZ[j])))
			p.reward[j] = r - p.value*pBuy*pLeave
		}
		p.pickCandidates()
		best := math.Inf(-1)
		p.search(0, 0, 0, 0, noClick, &best)
		copy(slates[i*p.k:(i+1)*p.k], p.best)
	}
	return nil
}

// TestImpulseBuyerRewardsPlanning pins the returns of the myopic oracle and of the regret
// planner on impulse_buyer, and checks that the planner's is more than twice the oracle's:
// the slate of highest immediate reward is not the best plan there.
func TestImpulseBuyerRewardsPlanning(t *testing.T) {
	cat, err := simenv.Generate(200, 1)
	if err != nil {
		t.Fatal(err)
	}
	n := float64(cat.Len())
	var mean, variance float64
	for _, it := range cat.Items {
		mean += it.Rating / n
	}
	for _, it := range cat.Items {
		variance += (it.Rating - mean) * (it.Rating - mean) / n
	}
	ratingZ := make([]float64, cat.Len())
	for j, it := range cat.Items {
		ratingZ[j] = (it.Rating - mean) / math.Sqrt(variance)
	}

	shop := simenv.Config{Persona: simenv.ImpulseBuyer}
	opt := EvalOptions{Episodes: 300, Seed: 1, Sessions: 16}
	oracle, err := Evaluate(NewOracle(cat, 3), cat, shop, opt)
	if err != nil {
		t.Fatal(err)
	}
	planner := &regretPlanner{Oracle: NewOracle(cat, 3), ratingZ: ratingZ, value: 5}
	planned, err := Evaluate(planner, cat, shop, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("return: oracle %.3f (%.1f slates), planner %.3f (%.1f slates)",
		oracle.ReturnMean, oracle.SessionLength, planned.ReturnMean, planned.SessionLength)
	if oracle.ReturnMean != 20.99 || planned.ReturnMean != 51.86 {
		t.Errorf("returns %v (oracle) and %v (planner); want 20.99 and 51.86", oracle.ReturnMean, planned.ReturnMean)
	}
	if planned.ReturnMean < 2*oracle.ReturnMean {
		t.Errorf("the planner's return %.2f is below twice the myopic oracle's %.2f", planned.ReturnMean, oracle.ReturnMean)
	}
}
