package rl

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/simshop/simshop/simenv"
)

// LoggingPolicy is a stochastic slate policy with known propensities, for recording logs
// that another learner trains from. It turns the scores s_j of a base policy into
//
//	β(j|s) = (1 − ε)·exp(s_j/τ) / Σ_i exp(s_i/τ) + ε/m
//
// over the m available items, with temperature τ and uniform share ε, and draws a slate of
// K items from β without replacement (Plackett-Luce). The propensity it records for a slate
// item is β(j|s), the probability of drawing j first: the per-item probability that the
// top-K correction of Chen et al. (WSDM 2019) uses, and that REINFORCE records for its own
// slates. The chance that j appears anywhere in the slate is higher.
//
// The base scores are:
//   - random: 0 for every item, so β is uniform whatever τ and ε;
//   - popularity: −rank in the popularity order of the Popularity baseline (0 for the most
//     popular item), so with τ = 1 each rank is e times less likely than the one before;
//   - a trained agent (Scorer): its logits or Q-values.
type LoggingPolicy struct {
	Info LoggingPolicyInfo

	catalog *simenv.Catalog
	k       int
	scorer  Scorer    // nil for random and popularity
	fixed   []float64 // per item, the base score of random and popularity
	rngs    []*rand.Rand

	scores []float64
	probs  []float64
	// Propensities holds, after Recommend, β of each slate position, [session][position].
	Propensities []float64
}

// Scorer is a policy that scores every item for every session of env, row-major
// [session][item]: the DQN and REINFORCE.
type Scorer interface {
	Scores(env *simenv.VecEnv) ([]float32, error)
}

// LoggingBases lists the base policies of a LoggingPolicy that need no checkpoint.
var LoggingBases = []string{"popularity", "random"}

// NewLoggingPolicy returns the logging policy on base, one of LoggingBases or, with scorer
// not nil, any name for the scorer's policy.
func NewLoggingPolicy(info LoggingPolicyInfo, scorer Scorer, cat *simenv.Catalog, slateSize int) (*LoggingPolicy, error) {
	if !(info.Temperature > 0) || math.IsInf(info.Temperature, 1) {
		return nil, fmt.Errorf("rl: logging temperature %v (--temperature) is invalid; use a positive number such as 1", info.Temperature)
	}
	if !(info.Epsilon >= 0 && info.Epsilon <= 1) {
		return nil, fmt.Errorf("rl: logging uniform share %v (--epsilon) is invalid; use a number from 0 to 1, such as 0.1", info.Epsilon)
	}
	p := &LoggingPolicy{Info: info, catalog: cat, k: slateSize, scorer: scorer,
		scores: make([]float64, cat.Len()), probs: make([]float64, cat.Len())}
	if scorer == nil {
		p.fixed = make([]float64, cat.Len())
		switch info.Base {
		case "random":
		case "popularity":
			for rank, item := range popularityOrder(cat) {
				p.fixed[item] = -float64(rank)
			}
		default:
			return nil, fmt.Errorf("rl: unknown logging policy %q; use popularity, random or a checkpoint file", info.Base)
		}
	}
	return p, nil
}

func (p *LoggingPolicy) Name() string {
	return fmt.Sprintf("logging:%s(t=%g,eps=%g)", p.Info.Base, p.Info.Temperature, p.Info.Epsilon)
}

// StartSession seeds session i's stream of slate draws.
func (p *LoggingPolicy) StartSession(i int, seed uint64) {
	for len(p.rngs) <= i {
		p.rngs = append(p.rngs, rand.New(rand.NewPCG(uint64(len(p.rngs)), domainPolicy)))
	}
	p.rngs[i] = rand.New(rand.NewPCG(seed, domainPolicy))
}

// Recommend draws each session's slate from β and records its propensities.
func (p *LoggingPolicy) Recommend(env *simenv.VecEnv, slates []int32) error {
	n, m := env.NumSessions(), p.catalog.Len()
	var z []float32
	if p.scorer != nil {
		var err error
		if z, err = p.scorer.Scores(env); err != nil {
			return err
		}
	}
	p.Propensities = slices.Grow(p.Propensities[:0], n*p.k)[:n*p.k]
	for i := 0; i < n; i++ {
		if i >= len(p.rngs) {
			p.StartSession(i, uint64(i))
		}
		if z != nil {
			for j, s := range z[i*m : (i+1)*m] {
				p.scores[j] = float64(s)
			}
		} else {
			copy(p.scores, p.fixed)
		}
		p.probabilities(env.Available)
		slate := slates[i*p.k : (i+1)*p.k]
		samplePlackettLuce(p.rngs[i], p.probs, slate)
		for a, item := range slate {
			if p.probs[item] == 0 {
				// A bug-free β is 0 only where exp(s/τ) underflows, which the settings cause.
				return fmt.Errorf("slate position %d has item %d, whose logging propensity is 0, because exp(s/τ) underflows at temperature %g with uniform share ε = %g, "+
					"and a learner cannot weight a slate item by 1/0; raise --temperature, or --epsilon above 0 to give every item at least ε/%d",
					a, item, p.Info.Temperature, p.Info.Epsilon, m)
			}
			p.Propensities[i*p.k+a] = p.probs[item]
		}
	}
	return nil
}

// probabilities sets p.probs to β over the available items from p.scores.
func (p *LoggingPolicy) probabilities(available []bool) {
	top, count := math.Inf(-1), 0
	for j, s := range p.scores {
		if available[j] {
			top = max(top, s/p.Info.Temperature)
			count++
		}
	}
	sum := 0.0
	for j, s := range p.scores {
		p.probs[j] = 0
		if available[j] {
			p.probs[j] = math.Exp(s/p.Info.Temperature - top)
			sum += p.probs[j]
		}
	}
	for j := range p.probs {
		if available[j] {
			p.probs[j] = (1-p.Info.Epsilon)*p.probs[j]/sum + p.Info.Epsilon/float64(count)
		}
	}
}

// LogOptions sets up RecordLog.
type LogOptions struct {
	Sessions int    // complete sessions to record
	Seed     uint64 // session e is seeded from LogEpisodeSeed(Seed, e)
	Parallel int    // sessions stepped together; the log does not depend on it
	Context  context.Context
}

// LogEpisodeSeed returns the seed pair of logged session e. Logs draw their shoppers from
// their own domain, apart from training and evaluation.
func LogEpisodeSeed(seed uint64, e int) (uint64, uint64) {
	return DeriveSeed(seed, domainLogEnv), uint64(e)
}

// RecordLog plays opt.Sessions complete sessions of policy on the shop over catalog cat and
// returns their log, sessions in the order of their seeds. The shop may have neither drift
// nor returning shoppers, whose effects a log does not record.
func RecordLog(policy *LoggingPolicy, cat *simenv.Catalog, shop simenv.Config, opt LogOptions) (*SlateLog, error) {
	shop = shop.WithDefaults()
	if shop.Drift != "" || shop.ReturnProb != 0 {
		// NOTE: logs do not record the availability of items at each step or which shopper
		// returns, so the features of such shops cannot be rebuilt from them.
		return nil, fmt.Errorf("rl: logs support neither drift nor returning shoppers; leave --drift and --return-prob out")
	}
	if opt.Sessions < 1 {
		return nil, fmt.Errorf("rl: %d logged sessions is invalid; use at least 1", opt.Sessions)
	}
	n := min(max(opt.Parallel, 1), opt.Sessions)
	env, err := simenv.NewVecEnv(cat, shop, n, 0)
	if err != nil {
		return nil, err
	}
	env.AutoReset = false
	k := shop.SlateSize
	sessions := make([]LoggedSession, opt.Sessions)
	episodeOf := make([]int, n)
	next, active := 0, 0
	start := func(slot int) error {
		s1, s2 := LogEpisodeSeed(opt.Seed, next)
		if err := env.ResetSession(slot, s1, s2); err != nil {
			return err
		}
		policy.StartSession(slot, splitmix64(s1^s2))
		episodeOf[slot] = next
		next++
		active++
		return nil
	}
	for slot := range n {
		if err := start(slot); err != nil {
			return nil, err
		}
	}
	slates := make([]int32, n*k)
	out := simenv.NewStepResult(n)
	running := make([]bool, n)
	for active > 0 {
		if opt.Context != nil {
			if err := opt.Context.Err(); err != nil {
				return nil, err
			}
		}
		if err := policy.Recommend(env, slates); err != nil {
			return nil, fmt.Errorf("rl: %s: %w", policy.Name(), err)
		}
		for slot := range n {
			running[slot] = !env.SessionDone(slot)
		}
		if err := env.Step(slates, out); err != nil {
			return nil, err
		}
		for slot := range n {
			if !running[slot] {
				continue
			}
			s := &sessions[episodeOf[slot]]
			s.Slates = append(s.Slates, slates[slot*k:(slot+1)*k]...)
			s.Propensities = append(s.Propensities, policy.Propensities[slot*k:(slot+1)*k]...)
			s.Clicks = append(s.Clicks, out.Click[slot])
			s.Purchases = append(s.Purchases, out.Bought[slot])
			s.Rewards = append(s.Rewards, out.Reward[slot])
			if !out.Done[slot] {
				continue
			}
			active--
			if next < opt.Sessions {
				if err := start(slot); err != nil {
					return nil, err
				}
			}
		}
	}

	l := &SlateLog{
		Magic:   SlateLogMagic,
		Version: SlateLogVersion,
		Created: time.Now().UTC().Format(time.RFC3339),
		Catalog: LogCatalog{Source: cat.Source, Items: cat.Len(), Fingerprint: cat.Fingerprint()},
		Shop:    shop,
		Policy:  policy.Info,
		Seed:    opt.Seed,
	}
	for _, s := range sessions {
		l.append(s)
	}
	if err := l.Validate(cat); err != nil {
		return nil, fmt.Errorf("rl: the recorded log is invalid, which is a bug: %w", err)
	}
	return l, nil
}

// SessionReplay rebuilds the observable history of one logged session, slate by slate, as
// a VecEnv counts it. Every slate item counts as exposed, because logs contain no
// unavailable items. A click counts for the clicked item and ends a run of ignored slates,
// and a purchase counts for the clicked item.
type SessionReplay struct {
	view SessionView
}

// NewSessionReplay returns a replay for a catalog of m items.
func NewSessionReplay(m int) *SessionReplay {
	return &SessionReplay{view: SessionView{
		Exposure: make([]int32, m), Clicks: make([]int32, m), Purchases: make([]int32, m), Visit: 1,
	}}
}

// Reset starts the history of a new shopper.
func (r *SessionReplay) Reset() {
	clear(r.view.Exposure)
	clear(r.view.Clicks)
	clear(r.view.Purchases)
	r.view.Step, r.view.IgnoredRun, r.view.Visit = 0, 0, 1
}

// Apply adds one logged slate and its outcome to the history.
func (r *SessionReplay) Apply(slate []int32, click int32, bought bool) {
	v := &r.view
	if click >= 0 {
		item := slate[click]
		v.Clicks[item]++
		if bought {
			v.Purchases[item]++
		}
		v.IgnoredRun = 0
	} else {
		v.IgnoredRun++
	}
	for _, item := range slate {
		v.Exposure[item]++
	}
	v.Step++
}

// View returns the history so far. It changes with the next Apply or Reset.
func (r *SessionReplay) View() *SessionView { return &r.view }
