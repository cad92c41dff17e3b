// Package rl holds SimShop's recommenders: baselines that follow fixed rules and agents
// that learn from reward, together with the evaluation that compares them.
package rl

import (
	"fmt"
	"strings"

	"github.com/simshop/simshop/simenv"
)

// Recommender chooses the slates of a VecEnv's sessions from what the shop can observe:
// the catalog and each session's exported history. It has no access to the shoppers.
type Recommender interface {
	// Name identifies the recommender in reports, e.g. "popularity" or "dqn".
	Name() string
	// StartSession marks the start of a new episode in session i, whose randomness is
	// seeded by seed.
	StartSession(i int, seed uint64)
	// Recommend writes Config.SlateSize distinct item indices per session into slates.
	Recommend(env *simenv.VecEnv, slates []int32) error
}

// OnlineLearner is a Recommender that learns while it is evaluated, such as a bandit.
// Evaluate calls Learn after every step with the outcome of the slates just shown.
type OnlineLearner interface {
	Recommender
	Learn(out *simenv.StepResult)
}

// BaselineNames lists the recommenders that do not use reinforcement learning: rule-based
// ones and the LinUCB contextual bandit.
var BaselineNames = []string{"random", "popularity", "filtered", "linucb"}

// ReferenceNames lists the recommenders that NewBaseline also builds but that compare runs
// only on request, because they are written for one persona: the Bayesian brand_lover
// reference, choosing whole slates or items one at a time.
var ReferenceNames = []string{"posterior", "posterior-itemwise"}

// NewBaseline returns the baseline of the given name for catalog cat and the shop's slate
// size and session length, or an error naming the valid ones.
func NewBaseline(name string, cat *simenv.Catalog, shop simenv.Config, sessions int) (Recommender, error) {
	shop = shop.WithDefaults()
	switch name {
	case "random":
		return NewRandom(cat, shop.SlateSize, sessions), nil
	case "popularity":
		return NewPopularity(cat, shop.SlateSize), nil
	case "filtered":
		return NewFiltered(cat, shop.SlateSize, sessions), nil
	case "linucb":
		return NewLinUCB(cat, shop.SlateSize, shop.MaxSteps), nil
	case "posterior":
		return NewPosterior(cat, shop.SlateSize, shop.Reward), nil
	case "posterior-itemwise":
		return NewItemWisePosterior(cat, shop.SlateSize, shop.Reward), nil
	}
	valid := append(append([]string(nil), BaselineNames...), ReferenceNames...)
	return nil, fmt.Errorf("rl: unknown baseline %q; valid baselines: %s", name, strings.Join(valid, ", "))
}

// splitmix64 is one step of the SplitMix64 generator (Steele, Lea and Flood, OOPSLA 2014),
// used to derive independent seeds from one user seed.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// Seed domains keep the streams of training, evaluation and the learner apart, so that
// evaluation episodes never replay a training shopper for the same user seed.
const (
	domainTrainEnv uint64 = 0x7261696e // "rain"
	domainEvalEnv  uint64 = 0x6576616c // "eval"
	domainAgent    uint64 = 0x6167656e // "agen"
	domainPolicy   uint64 = 0x706f6c69 // "poli"
	domainLogEnv   uint64 = 0x6c6f6773 // "logs"
)

// DeriveSeed returns the seed of one stream domain for a user seed.
func DeriveSeed(seed, domain uint64) uint64 { return splitmix64(seed ^ splitmix64(domain)) }
