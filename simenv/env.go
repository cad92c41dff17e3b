package simenv

import (
	"fmt"
	"math/rand/v2"
)

// Defaults of Config.
const (
	DefaultSlateSize = 3
	DefaultMaxSteps  = 30
)

// Config sets up the shop that a VecEnv simulates.
type Config struct {
	Persona   string // one of PersonaNames
	Reward    string // one of RewardNames; empty means RewardClickPurchase
	SlateSize int    // products per slate; 0 means DefaultSlateSize
	MaxSteps  int    // slates per session at most; 0 means DefaultMaxSteps
}

// WithDefaults returns c with its zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	if c.Reward == "" {
		c.Reward = RewardClickPurchase
	}
	if c.SlateSize == 0 {
		c.SlateSize = DefaultSlateSize
	}
	if c.MaxSteps == 0 {
		c.MaxSteps = DefaultMaxSteps
	}
	return c
}

// Validate checks c against the catalog cat.
func (c Config) Validate(cat *Catalog) error {
	if err := CheckPersona(c.Persona); err != nil {
		return err
	}
	if err := CheckReward(c.Reward); err != nil {
		return err
	}
	if c.SlateSize < 1 {
		return fmt.Errorf("simenv: slate size %d is invalid; use at least 1", c.SlateSize)
	}
	if c.MaxSteps < 1 {
		return fmt.Errorf("simenv: maximum session length %d is invalid; use at least 1 step", c.MaxSteps)
	}
	return CheckSlateSize(cat, c.SlateSize)
}

// session is the hidden and observable state of one shopper's visit.
type session struct {
	pcg     *rand.PCG
	rng     *rand.Rand
	shopper Shopper
	done    bool

	step       int32 // slates shown so far
	ignoredRun int32 // ignored slates in a row
	clicks     int32
	purchases  int32
	ret        float64 // reward so far
}

// VecEnv steps N shopping sessions together. Session i draws all its randomness (the
// shopper, clicks and purchases) from its own PCG stream, so its course depends only on its
// seed and on the slates it is shown, never on the other sessions or on goroutine timing.
//
// The observable history of each session, the part a real shop logs, is exported as
// row-major [session][item] counters. The shoppers themselves stay hidden.
type VecEnv struct {
	Catalog *Catalog
	Config  Config

	// AutoReset starts a new session with a new shopper from the same stream as soon as a
	// session ends. It is true after NewVecEnv. With it false a finished session stays done,
	// and Step ignores its slate, until ResetSession.
	AutoReset bool

	// Exposure counts, per session and item, the slates of the session that showed the item.
	Exposure []int32
	// ItemClicks and ItemPurchases count, per session and item, its clicks and purchases.
	ItemClicks    []int32
	ItemPurchases []int32

	stats    itemStats
	sessions []session
	utility  []float64 // scratch, one per slate position
	prob     []float64
}

// StepResult receives what Step observed, one entry per session. Allocate it once with
// NewStepResult and reuse it.
type StepResult struct {
	Reward []float64
	Click  []int32 // slate position clicked, or -1 when the slate was ignored
	Bought []bool
	Done   []bool

	// The figures of the episode that just ended; valid where Done is true.
	EpisodeReturn    []float64
	EpisodeSteps     []int32
	EpisodeClicks    []int32
	EpisodePurchases []int32
}

// NewStepResult allocates a StepResult for n sessions.
func NewStepResult(n int) *StepResult {
	return &StepResult{
		Reward: make([]float64, n), Click: make([]int32, n), Bought: make([]bool, n), Done: make([]bool, n),
		EpisodeReturn: make([]float64, n), EpisodeSteps: make([]int32, n),
		EpisodeClicks: make([]int32, n), EpisodePurchases: make([]int32, n),
	}
}

// NewVecEnv starts n sessions on catalog cat. Session i is seeded with the pair (seed, i).
func NewVecEnv(cat *Catalog, cfg Config, n int, seed uint64) (*VecEnv, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(cat); err != nil {
		return nil, err
	}
	if n < 1 {
		return nil, fmt.Errorf("simenv: %d parallel sessions is invalid; use at least 1", n)
	}
	m := cat.Len()
	e := &VecEnv{
		Catalog:       cat,
		Config:        cfg,
		AutoReset:     true,
		Exposure:      make([]int32, n*m),
		ItemClicks:    make([]int32, n*m),
		ItemPurchases: make([]int32, n*m),
		stats:         newItemStats(cat),
		sessions:      make([]session, n),
		utility:       make([]float64, cfg.SlateSize),
		prob:          make([]float64, cfg.SlateSize),
	}
	for i := range e.sessions {
		if err := e.ResetSession(i, seed, uint64(i)); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// NumSessions returns N.
func (e *VecEnv) NumSessions() int { return len(e.sessions) }

// ResetSession reseeds session i with the stream (seed1, seed2) and starts it with a new
// shopper. Evaluation uses it to give every episode its own seed.
func (e *VecEnv) ResetSession(i int, seed1, seed2 uint64) error {
	s := &e.sessions[i]
	s.pcg = rand.NewPCG(seed1, seed2)
	s.rng = rand.New(s.pcg)
	return e.newShopper(i)
}

// newShopper clears session i's history and draws its next shopper from its stream.
func (e *VecEnv) newShopper(i int) error {
	s := &e.sessions[i]
	shopper, err := NewShopper(e.Config.Persona, len(e.Catalog.Categories), s.rng)
	if err != nil {
		return err
	}
	*s = session{pcg: s.pcg, rng: s.rng, shopper: shopper}
	m := e.Catalog.Len()
	clear(e.Exposure[i*m : (i+1)*m])
	clear(e.ItemClicks[i*m : (i+1)*m])
	clear(e.ItemPurchases[i*m : (i+1)*m])
	return nil
}

// SessionStep returns the number of slates session i has been shown.
func (e *VecEnv) SessionStep(i int) int { return int(e.sessions[i].step) }

// IgnoredRun returns how many slates in a row session i has ignored.
func (e *VecEnv) IgnoredRun(i int) int { return int(e.sessions[i].ignoredRun) }

// SessionClicks returns the clicks of session i so far.
func (e *VecEnv) SessionClicks(i int) int { return int(e.sessions[i].clicks) }

// SessionDone reports whether session i has ended and waits for ResetSession.
func (e *VecEnv) SessionDone(i int) bool { return e.sessions[i].done }

// Step shows slates[i*K:(i+1)*K] to session i, for K = Config.SlateSize, and writes each
// session's reaction into out. It allocates nothing. It returns an error, and changes no
// session, when a slate names an item outside the catalog or repeats an item.
func (e *VecEnv) Step(slates []int32, out *StepResult) error {
	k := e.Config.SlateSize
	m := int32(e.Catalog.Len())
	if len(slates) != len(e.sessions)*k {
		return fmt.Errorf("simenv: got %d slate entries for %d sessions of slate size %d; want %d",
			len(slates), len(e.sessions), k, len(e.sessions)*k)
	}
	for i := range e.sessions {
		slate := slates[i*k : (i+1)*k]
		for a, item := range slate {
			if item < 0 || item >= m {
				return fmt.Errorf("simenv: session %d slate position %d: item %d is outside the catalog of %d items", i, a, item, m)
			}
			for _, other := range slate[:a] {
				if other == item {
					return fmt.Errorf("simenv: session %d slate %v shows item %d twice; slates need distinct items", i, slate, item)
				}
			}
		}
	}
	for i := range e.sessions {
		e.stepSession(i, slates[i*k:(i+1)*k], out)
	}
	return nil
}

// stepSession plays one slate for session i.
func (e *VecEnv) stepSession(i int, slate []int32, out *StepResult) {
	s := &e.sessions[i]
	out.Reward[i], out.Click[i], out.Bought[i], out.Done[i] = 0, -1, false, false
	if s.done {
		return
	}
	m := e.Catalog.Len()
	exposure := e.Exposure[i*m : (i+1)*m]

	// React: the shopper clicks one item or none by the multinomial logit, then may buy.
	for a, item := range slate {
		e.utility[a] = s.shopper.utility(&e.stats, e.Catalog.CategoryOf, int(item), exposure[item])
	}
	ClickProbabilities(e.prob, e.utility, s.shopper.NoClick)
	click := int32(-1)
	r := s.rng.Float64()
	for a, p := range e.prob {
		if r < p {
			click = int32(a)
			break
		}
		r -= p
	}
	bought := false
	price := 0.0
	if click >= 0 {
		item := slate[click]
		price = e.Catalog.Items[item].Price
		bought = s.rng.Float64() < s.shopper.buyProbability(e.utility[click], exposure[item])
		e.ItemClicks[i*m+int(item)]++
		if bought {
			e.ItemPurchases[i*m+int(item)]++
		}
	}
	for _, item := range slate {
		exposure[item]++
	}

	// Account: reward, counters, and the end of the session by patience or length.
	rew := reward(e.Config.Reward, click >= 0, bought, price)
	s.step++
	s.ret += rew
	if click >= 0 {
		s.clicks++
		s.ignoredRun = 0
	} else {
		s.ignoredRun++
	}
	if bought {
		s.purchases++
	}
	out.Reward[i], out.Click[i], out.Bought[i] = rew, click, bought
	if s.ignoredRun < int32(s.shopper.Patience) && s.step < int32(e.Config.MaxSteps) {
		return
	}
	out.Done[i] = true
	out.EpisodeReturn[i], out.EpisodeSteps[i] = s.ret, s.step
	out.EpisodeClicks[i], out.EpisodePurchases[i] = s.clicks, s.purchases
	s.done = true
	if e.AutoReset {
		// NewShopper fails only on an unknown persona, which NewVecEnv has already rejected.
		_ = e.newShopper(i)
	}
}

// OracleShopper returns the hidden shopper of session i. It exists for reference policies
// and tests that must know the truth; a recommender that calls it is cheating.
func (e *VecEnv) OracleShopper(i int) Shopper { return e.sessions[i].shopper }
