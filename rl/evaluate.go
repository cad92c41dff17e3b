package rl

import (
	"context"
	"fmt"
	"math"

	"github.com/simshop/simshop/simenv"
)

// Result holds the evaluation figures of one recommender on one persona. Rates are per
// slate shown; an episode is one shopper's session.
type Result struct {
	Recommender       string  `json:"recommender" msgpack:"recommender"`
	Persona           string  `json:"persona" msgpack:"persona"`
	Episodes          int     `json:"episodes" msgpack:"episodes"`
	CTR               float64 `json:"ctr" msgpack:"ctr"` // clicks per slate shown
	CTRCI95           float64 `json:"ctr_ci95" msgpack:"ctr_ci95"`
	PurchaseRate      float64 `json:"purchase_rate" msgpack:"purchase_rate"` // purchases per slate shown
	PurchaseRateCI95  float64 `json:"purchase_rate_ci95" msgpack:"purchase_rate_ci95"`
	RewardPerStep     float64 `json:"reward_per_step" msgpack:"reward_per_step"`
	RewardPerStepCI95 float64 `json:"reward_per_step_ci95" msgpack:"reward_per_step_ci95"`
	ReturnMean        float64 `json:"return_mean" msgpack:"return_mean"`
	ReturnCI95        float64 `json:"return_ci95" msgpack:"return_ci95"`       // half-width of the 95 % interval
	SessionLength     float64 `json:"session_length" msgpack:"session_length"` // slates per session
	Coverage          float64 `json:"coverage" msgpack:"coverage"`             // share of catalog items shown at least once
	Diversity         float64 `json:"diversity" msgpack:"diversity"`           // mean share of item pairs in a slate that differ in category
}

// EvalOptions sets up an evaluation.
type EvalOptions struct {
	Episodes int    // shopper sessions to play
	Seed     uint64 // user seed; episode e is seeded from (Seed, e) in the evaluation domain
	Sessions int    // sessions stepped together; results do not depend on it unless shoppers return

	// Context, when not nil, stops the evaluation early with its error once it is done.
	Context context.Context
}

// EpisodeSeed returns the seed pair of evaluation episode e for a user seed. Training
// draws its sessions from another domain, so the two never share a shopper.
func EpisodeSeed(seed uint64, e int) (uint64, uint64) {
	return DeriveSeed(seed, domainEvalEnv), uint64(e)
}

// Evaluate plays opt.Episodes complete sessions of rec on the shop cfg over catalog cat and
// returns the figures. Each episode has its own seed, which StartSession passes to rec.
// The result thus depends on the seed but not on opt.Sessions, as long as rec chooses each
// session's slate from that session alone.
func Evaluate(rec Recommender, cat *simenv.Catalog, cfg simenv.Config, opt EvalOptions) (Result, error) {
	if opt.Episodes < 1 {
		return Result{}, fmt.Errorf("rl: %d evaluation episodes is invalid; use at least 1", opt.Episodes)
	}
	n := min(max(opt.Sessions, 1), opt.Episodes)
	env, err := simenv.NewVecEnv(cat, cfg, n, 0)
	if err != nil {
		return Result{}, err
	}
	env.AutoReset = false
	k := env.Config.SlateSize
	slates := make([]int32, n*k)
	out := simenv.NewStepResult(n)

	// Figures are stored by episode number and summed in that order, so that floating-point
	// rounding does not depend on which episodes happen to finish first.
	returns := make([]float64, opt.Episodes)
	steps := make([]float64, opt.Episodes)
	clicks := make([]float64, opt.Episodes)
	purchases := make([]float64, opt.Episodes)
	episodeOf := make([]int, n) // per slot
	shown := make([]bool, cat.Len())
	var pairs, differentPairs float64
	learner, _ := rec.(OnlineLearner)
	next := 0
	active := 0
	start := func(slot int) error {
		s1, s2 := EpisodeSeed(opt.Seed, next)
		if err := env.ResetSession(slot, s1, s2); err != nil {
			return err
		}
		rec.StartSession(slot, splitmix64(s1^s2))
		episodeOf[slot] = next
		next++
		active++
		return nil
	}
	for slot := 0; slot < n; slot++ {
		if err := start(slot); err != nil {
			return Result{}, err
		}
	}
	for active > 0 {
		if opt.Context != nil {
			if err := opt.Context.Err(); err != nil {
				return Result{}, err
			}
		}
		if err := rec.Recommend(env, slates); err != nil {
			return Result{}, fmt.Errorf("rl: %s: %w", rec.Name(), err)
		}
		if err := env.Step(slates, out); err != nil {
			return Result{}, fmt.Errorf("rl: %s chose an invalid slate: %w", rec.Name(), err)
		}
		if learner != nil {
			learner.Learn(out)
		}
		for slot := 0; slot < n; slot++ {
			if env.SessionDone(slot) && !out.Done[slot] {
				continue // a finished session waiting for the end of the evaluation
			}
			slate := slates[slot*k : (slot+1)*k]
			for a, item := range slate {
				shown[item] = true
				for _, other := range slate[:a] {
					pairs++
					if cat.CategoryOf[item] != cat.CategoryOf[other] {
						differentPairs++
					}
				}
			}
		}
		for slot := 0; slot < n; slot++ {
			if !out.Done[slot] {
				continue
			}
			e := episodeOf[slot]
			returns[e] = out.EpisodeReturn[slot]
			steps[e] = float64(out.EpisodeSteps[slot])
			clicks[e] = float64(out.EpisodeClicks[slot])
			purchases[e] = float64(out.EpisodePurchases[slot])
			active--
			if next < opt.Episodes {
				if err := start(slot); err != nil {
					return Result{}, err
				}
			}
		}
	}
	res := summarize(rec.Name(), cfg.Persona, returns, steps, clicks, purchases)
	covered := 0
	for _, s := range shown {
		if s {
			covered++
		}
	}
	res.Coverage = float64(covered) / float64(cat.Len())
	if pairs > 0 {
		res.Diversity = differentPairs / pairs
	}
	return res, nil
}

// summarize computes a Result from per-episode returns and lengths. The interval of the
// mean return is the normal one, mean ± 1.96·sd/√n. Reward per step, CTR and purchase rate
// are ratio estimators such as Σreturn/Σsteps, and their intervals come from the delta
// method: the standard error of Σx/Σsteps = R is sd(x_e − R·steps_e) / (mean(steps)·√n).
func summarize(name, persona string, returns, steps, clicks, purchases []float64) Result {
	n := float64(len(returns))
	var sumR, sumS float64
	for e := range returns {
		sumR += returns[e]
		sumS += steps[e]
	}
	meanR := sumR / n
	var ssR float64
	for e := range returns {
		ssR += (returns[e] - meanR) * (returns[e] - meanR)
	}
	var ciR float64
	if n > 1 {
		ciR = 1.96 * math.Sqrt(ssR/(n-1)) / math.Sqrt(n)
	}
	reward, rewardCI := ratioEstimate(returns, steps)
	ctr, ctrCI := ratioEstimate(clicks, steps)
	buys, buysCI := ratioEstimate(purchases, steps)
	return Result{
		Recommender:       name,
		Persona:           persona,
		Episodes:          len(returns),
		CTR:               ctr,
		CTRCI95:           ctrCI,
		PurchaseRate:      buys,
		PurchaseRateCI95:  buysCI,
		RewardPerStep:     reward,
		RewardPerStepCI95: rewardCI,
		ReturnMean:        meanR,
		ReturnCI95:        ciR,
		SessionLength:     sumS / n,
	}
}

// ratioEstimate returns Σx/Σsteps and the half-width of its 95 % interval by the delta
// method, or 0 for the half-width of a single episode.
func ratioEstimate(x, steps []float64) (ratio, ci95 float64) {
	n := float64(len(x))
	var sumX, sumS float64
	for e := range x {
		sumX += x[e]
		sumS += steps[e]
	}
	ratio = sumX / sumS
	if n < 2 {
		return ratio, 0
	}
	var ss float64
	for e := range x {
		d := x[e] - ratio*steps[e]
		ss += d * d
	}
	return ratio, 1.96 * math.Sqrt(ss/(n-1)) / (sumS / n) / math.Sqrt(n)
}
