package simenv

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// Defaults of Config.
const (
	DefaultSlateSize = 3
	DefaultMaxSteps  = 30
)

// Config sets up the shop that a VecEnv simulates.
type Config struct {
	// Persona is the population of shoppers in the form ParsePopulation reads: one of
	// PersonaNames, such as "cheap_blue", or a weighted mix such as
	// "cheap_blue:0.5,value_seeker:0.5".
	Persona   string
	Reward    string // one of RewardNames; empty means RewardClickPurchase
	SlateSize int    // products per slate; 0 means DefaultSlateSize
	MaxSteps  int    // slates per session at most; 0 means DefaultMaxSteps

	// ReturnProb is the probability, in [0, 1], that the shopper of a session that ends
	// comes back for the next session of its slot, with its memory; 0 means never.
	ReturnProb float64

	// ChoiceModel is the name of the model by which a shopper chooses from a slate, one of
	// ChoiceModelNames. Empty means ChoiceMNL. An empty value is left out of checkpoints,
	// so that their files stay as they were before the field existed.
	ChoiceModel string `msgpack:",omitempty"`

	// Drift schedules changes of the shop at shopper-steps of the VecEnv's clock, in the
	// form ParseDrift reads; empty means none.
	Drift string `msgpack:",omitempty"`

	// Budget gives every shopper whose persona has no budget of its own one of Budget
	// times the catalog's median price, times a log-normal factor of spread 0.3, drawn
	// from the session's stream. Such a shopper never buys an item priced above what
	// remains of its budget, the item's utility falls by 2.5, and each purchase spends the
	// price, as for budget_buyer. 0 means that only budget_buyer has a budget, and leaves
	// the streams of the other personas as they were before the field existed.
	Budget float64 `msgpack:",omitempty"`
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
	if _, err := ParsePopulation(c.Persona); err != nil {
		return err
	}
	if math.IsNaN(c.Budget) || math.IsInf(c.Budget, 0) || c.Budget < 0 {
		return fmt.Errorf("simenv: budget %v is invalid; use a number of median prices above 0, such as 3, or 0 for budgets of budget_buyer alone", c.Budget)
	}
	if math.IsNaN(c.ReturnProb) || c.ReturnProb < 0 || c.ReturnProb > 1 {
		return fmt.Errorf("simenv: return probability %v is invalid; use a number from 0 (shoppers never return) to 1 (they always return)", c.ReturnProb)
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
	if err := CheckChoiceModel(c.ChoiceModel); err != nil {
		return err
	}
	if err := CheckSlateSize(cat, c.SlateSize); err != nil {
		return err
	}
	_, _, err := resolveDrift(c.Drift, cat)
	return err
}

// session is the hidden and observable state of one shopper's visit. The per-category
// memory of the shopper lives in VecEnv's arrays.
type session struct {
	pcg       *rand.PCG
	rng       *rand.Rand
	shopper   Shopper
	done      bool
	returning bool  // set when the session ended: its shopper comes back for the next session
	visit     int32 // 1 for a shopper's first session, 2 for its first return, and so on

	step       int32 // slates shown so far
	ignoredRun int32 // ignored slates in a row
	clicks     int32
	purchases  int32
	ret        float64 // reward so far

	// Hidden memory that a returning shopper keeps.
	trust  float64 // trust in the recommender, for a shopper that learns
	budget float64 // remaining budget in the catalog's currency, for a shopper with one
}

// VecEnv steps N shopping sessions together. Session i draws all its randomness (the
// shopper, clicks and purchases) from its own PCG stream, so its course depends only on its
// seed and on the slates it is shown, never on the other sessions or on goroutine timing.
//
// The observable history of each session, the part a real shop logs, is exported as
// row-major [session][item] counters. The shoppers themselves stay hidden.
//
// When Config.ReturnProb is above 0, the shopper of a session that ends may come back for
// the next session of the same slot. A returning shopper keeps its parameters and its memory
// (fatigue, remaining budget, what it has learned, trust), and the shop recognises it: the
// counters Exposure, ItemClicks and ItemPurchases carry over, and SessionVisit counts its
// visits. The per-session figures (step, clicks, ignored slates, reward) start again.
type VecEnv struct {
	Catalog *Catalog
	Config  Config

	// AutoReset starts the next session on the same stream as soon as a session ends, with a
	// new shopper or the returning one (see Config.ReturnProb). It is true after NewVecEnv.
	// With it false a finished session stays done, and Step ignores its slate, until
	// ResetSession.
	AutoReset bool

	// Exposure counts, per session and item, the slates that showed the item to the
	// session's shopper, over all its visits.
	Exposure []int32
	// ItemClicks and ItemPurchases count, per session and item, the shopper's clicks and
	// purchases of the item, over all its visits.
	ItemClicks    []int32
	ItemPurchases []int32

	// Available reports, per item, whether the shop can show it. Every item is available
	// unless Config.Drift adds or removes items. Step skips an unavailable item of a slate,
	// so the shopper cannot click it and its exposure does not count the showing.
	Available []bool
	// Prices holds the current price of each item, in the catalog's currency: the catalog's
	// price, changed by the price changes of Config.Drift. Purchases, revenue rewards and
	// budgets use it.
	Prices []float64

	// Workers is the number of goroutines that Step spreads the sessions over; 0 and 1 mean
	// that Step runs on the caller's goroutine alone. The results are the same for any
	// value, because each session draws from its own stream and each goroutine has its own
	// scratch space. Step starts Workers−1 goroutines on first use and keeps them for later
	// calls, and Close stops them. An idle worker polls for the next call for 50 µs before
	// it parks, which costs CPU time when the caller does much else between its calls.
	//
	// NOTE: Step itself allocates nothing, but when a parked worker waits, the Go runtime
	// may allocate the record of the wait if its cache of such records is empty. That is
	// rare: 2000 steps of 64 sessions on 4 workers made one such allocation, and
	// TestParallelStepAllocatesNothing allows at most one per 100 steps.
	Workers int

	population Population
	stats      itemStats
	sessions   []session
	choice     choiceModel
	theta      []float64 // examination probability per slate position, for ChoicePosition

	// Hidden per-category memory of each session's shopper, row-major [session][category].
	fatigue     []float64
	tasteSum    []float64
	tasteClicks []float64

	// Drift: the clock in shopper-steps, the events in the order they take effect, and the
	// next one due. favoriteColor and favoriteCategory hold, per persona of PersonaNames,
	// the favourite that drift has set, or -1; favoritesDrifted reports whether any is set.
	clock            int64
	drift            []driftEvent
	nextDrift        int
	favoriteColor    []int
	favoriteCategory []int
	favoritesDrifted bool

	scratch []stepScratch // one per goroutine of Step
	pool    *stepPool     // worker goroutines, when Workers is above 1
}

// stepScratch is the working memory that one goroutine of Step writes.
type stepScratch struct {
	utility []float64 // per slate position
	prob    []float64 // click probability per slate position
	exp     expMemo
}

func newStepScratch(slateSize int) stepScratch {
	sc := stepScratch{utility: make([]float64, slateSize), prob: make([]float64, slateSize)}
	sc.exp.reset()
	return sc
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

// checkLen returns an error unless every slice of r has n entries.
func (r *StepResult) checkLen(n int) error {
	if r == nil {
		return fmt.Errorf("simenv: the step result is nil; allocate one with NewStepResult(%d)", n)
	}
	lengths := []int{len(r.Reward), len(r.Click), len(r.Bought), len(r.Done),
		len(r.EpisodeReturn), len(r.EpisodeSteps), len(r.EpisodeClicks), len(r.EpisodePurchases)}
	for _, l := range lengths {
		if l != n {
			return fmt.Errorf("simenv: the step result has a slice of %d entries for %d sessions; allocate it with NewStepResult(%d)", l, n, n)
		}
	}
	return nil
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
	population, err := ParsePopulation(cfg.Persona)
	if err != nil {
		return nil, err
	}
	choice, err := parseChoiceModel(cfg.ChoiceModel)
	if err != nil {
		return nil, err
	}
	drift, unavailable, err := resolveDrift(cfg.Drift, cat)
	if err != nil {
		return nil, err
	}

	m, c := cat.Len(), len(cat.Categories)
	e := &VecEnv{
		Catalog:          cat,
		Config:           cfg,
		AutoReset:        true,
		Exposure:         make([]int32, n*m),
		ItemClicks:       make([]int32, n*m),
		ItemPurchases:    make([]int32, n*m),
		Available:        make([]bool, m),
		population:       population,
		stats:            newItemStats(cat),
		sessions:         make([]session, n),
		choice:           choice,
		theta:            make([]float64, cfg.SlateSize),
		fatigue:          make([]float64, n*c),
		tasteSum:         make([]float64, n*c),
		tasteClicks:      make([]float64, n*c),
		drift:            drift,
		favoriteColor:    slices.Repeat([]int{-1}, len(PersonaNames)),
		favoriteCategory: slices.Repeat([]int{-1}, len(PersonaNames)),
		scratch:          []stepScratch{newStepScratch(cfg.SlateSize)},
	}
	e.Prices = e.stats.price

	// Items that the schedule adds later start unavailable, and changes due at 0 hold
	// before the first step.
	for j := range e.Available {
		e.Available[j] = !unavailable[j]
	}
	for k := range e.theta {
		e.theta[k] = ExaminationProbability(k)
	}
	for i := range e.sessions {
		if err := e.ResetSession(i, seed, uint64(i)); err != nil {
			return nil, err
		}
	}
	e.applyDueDrift()
	return e, nil
}

// NumSessions returns N.
func (e *VecEnv) NumSessions() int { return len(e.sessions) }

// ResetSession reseeds session i with the stream (seed1, seed2) and starts its next
// session. Evaluation uses it to give every episode its own seed. The next session has a new
// shopper drawn from the new stream, unless session i has ended and its shopper chose to
// return (see Config.ReturnProb). Then the same shopper comes back with its memory.
//
// NOTE: with ReturnProb above 0, the shopper of an episode depends on the episode that
// ended before it in slot i. A caller that assigns episodes to slots in order of finishing,
// as rl.Evaluate does, thus gets results that depend on the number of slots.
func (e *VecEnv) ResetSession(i int, seed1, seed2 uint64) error {
	s := &e.sessions[i]
	s.pcg = rand.NewPCG(seed1, seed2)
	s.rng = rand.New(s.pcg)
	if s.done && s.returning {
		e.returnShopper(i)
		return nil
	}
	return e.newShopper(i)
}

// newShopper clears session i's history and memory and draws its next shopper from its
// stream: first the persona from the population, then the persona's parameters.
func (e *VecEnv) newShopper(i int) error {
	s := &e.sessions[i]
	persona := e.population.Personas[e.population.Sample(s.rng)]
	*s = session{pcg: s.pcg, rng: s.rng, visit: 1}
	if err := drawShopperInto(&s.shopper, persona, &e.stats, s.rng); err != nil {
		return err
	}
	if e.Config.Budget > 0 && s.shopper.Budget == 0 {
		s.shopper.giveBudget(e.Config.Budget, &e.stats, s.rng)
	}
	s.budget = s.shopper.Budget
	if e.favoritesDrifted {
		e.applyFavorites(&s.shopper)
	}
	m, c := e.Catalog.Len(), len(e.Catalog.Categories)
	clear(e.Exposure[i*m : (i+1)*m])
	clear(e.ItemClicks[i*m : (i+1)*m])
	clear(e.ItemPurchases[i*m : (i+1)*m])
	clear(e.fatigue[i*c : (i+1)*c])
	clear(e.tasteSum[i*c : (i+1)*c])
	clear(e.tasteClicks[i*c : (i+1)*c])
	return nil
}

// returnShopper starts the next visit of session i's shopper: the per-session figures start
// again, and the shopper, its memory and the item counters stay.
func (e *VecEnv) returnShopper(i int) {
	s := &e.sessions[i]
	s.done, s.returning = false, false
	s.visit++
	s.step, s.ignoredRun, s.clicks, s.purchases, s.ret = 0, 0, 0, 0, 0
}

// memoryOf returns the view of session i's memory that utilities read.
func (e *VecEnv) memoryOf(i int) memory {
	c := len(e.Catalog.Categories)
	return memory{
		fatigue:     e.fatigue[i*c : (i+1)*c],
		tasteSum:    e.tasteSum[i*c : (i+1)*c],
		tasteClicks: e.tasteClicks[i*c : (i+1)*c],
		budget:      e.sessions[i].budget,
	}
}

// SessionStep returns the number of slates session i has been shown.
func (e *VecEnv) SessionStep(i int) int { return int(e.sessions[i].step) }

// IgnoredRun returns how many slates in a row session i has ignored.
func (e *VecEnv) IgnoredRun(i int) int { return int(e.sessions[i].ignoredRun) }

// SessionClicks returns the clicks of session i so far.
func (e *VecEnv) SessionClicks(i int) int { return int(e.sessions[i].clicks) }

// SessionDone reports whether session i has ended and waits for ResetSession.
func (e *VecEnv) SessionDone(i int) bool { return e.sessions[i].done }

// SessionVisit returns which visit of its shopper session i is: 1 for a new shopper, and one
// more for each time the shopper came back (see Config.ReturnProb). A shop recognises a
// returning customer, so a recommender may read it.
func (e *VecEnv) SessionVisit(i int) int { return int(e.sessions[i].visit) }

// Step shows slates[i*K:(i+1)*K] to session i, for K = Config.SlateSize, and writes each
// session's reaction into out. Then it advances the clock by NumSessions and applies the
// drift changes due by then. It allocates nothing, apart from the first call with Workers
// above 1, which starts the workers (see Workers). It returns an error, and changes no
// session, when out does not have one entry per session, or a slate names an item outside
// the catalog or repeats an item. A slate may name unavailable items; see Available.
func (e *VecEnv) Step(slates []int32, out *StepResult) error {
	k := e.Config.SlateSize
	m := int32(e.Catalog.Len())
	n := len(e.sessions)
	if len(slates) != n*k {
		return fmt.Errorf("simenv: got %d slate entries for %d sessions of slate size %d; want %d",
			len(slates), n, k, n*k)
	}
	if err := out.checkLen(n); err != nil {
		return err
	}
	if err := checkSlates(slates, k, m); err != nil {
		return err
	}

	if shards := e.shards(); shards > 1 {
		e.stepParallel(slates, out, shards)
	} else {
		e.stepChunk(0, 1, 0, slates, out)
	}
	e.clock += int64(n)
	e.applyDueDrift()
	return nil
}

// checkSlates returns an error naming the first slate of size k that shows an item outside
// a catalog of m items or shows an item twice. Slates of 3, the default, take a path
// without inner loops, because the check runs for every session of every step.
func checkSlates(slates []int32, k int, m int32) error {
	if k == 3 {
		um := uint32(m)
		for i := 0; i+2 < len(slates); i += 3 {
			a, b, c := slates[i], slates[i+1], slates[i+2]
			if uint32(a) >= um || uint32(b) >= um || uint32(c) >= um || a == b || a == c || b == c {
				return slateError(slates[i:i+3], i/3, m)
			}
		}
		return nil
	}
	for i := 0; i+k <= len(slates); i += k {
		if err := slateError(slates[i:i+k], i/k, m); err != nil {
			return err
		}
	}
	return nil
}

// slateError returns the error of session i's slate, or nil when the slate is valid.
func slateError(slate []int32, i int, m int32) error {
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
	return nil
}

// stepSession plays one slate for session i, using the scratch space sc.
func (e *VecEnv) stepSession(i int, slate []int32, out *StepResult, sc *stepScratch) {
	s := &e.sessions[i]
	out.Reward[i], out.Click[i], out.Bought[i], out.Done[i] = 0, -1, false, false
	if s.done {
		return
	}
	m := e.Catalog.Len()
	exposure := e.Exposure[i*m : (i+1)*m]
	shopper := &s.shopper
	var mem memory
	if shopper.hasMemory() {
		mem = e.memoryOf(i)
	}

	// React: the shopper clicks one item or none by the choice model, then may buy. The
	// noise of random_chooser is drawn for every position, available or not, so that the
	// stream does not depend on availability.
	for a, item := range slate {
		u := shopper.utility(&e.stats, int(item), exposure[item], &mem)
		if shopper.NoiseScale != 0 {
			u += shopper.NoiseScale * gumbelNoise(s.rng)
		}
		if !e.Available[item] {
			u = math.Inf(-1)
		}
		sc.utility[a] = u
	}
	noClick := shopper.noClickUtility(s.trust)
	var click int32
	if e.choice == choiceMNL {
		click = sc.sampleLogit(noClick, uniform(s.pcg))
	} else {
		choiceProbabilities(e.choice, sc.prob, sc.utility, noClick, e.theta)
		click = sampleClick(sc.prob, uniform(s.pcg))
	}
	bought, regretted := false, false
	price := 0.0
	if click >= 0 {
		item := slate[click]
		price = e.stats.price[item]
		var pBuy float64
		if shopper.Learns {
			pBuy = sigmoid(shopper.BuyBias + shopper.BuyUtility*e.learnFromClick(i, int(item)))
		} else {
			pBuy = shopper.buyProbability(sc.utility[click], exposure[item])
		}
		if shopper.Budget > 0 && price > s.budget {
			pBuy = 0
		}
		bought = uniform(s.pcg) < pBuy
		if bought && shopper.Budget > 0 {
			s.budget -= price
		}
		e.ItemClicks[i*m+int(item)]++
		if bought {
			e.ItemPurchases[i*m+int(item)]++
			// The draw is made only for a shopper that can regret, so that the streams of
			// the other personas are the same as before regret existed.
			if shopper.RegretWeight != 0 {
				pLeave := sigmoid(shopper.RegretBias - shopper.RegretWeight*e.stats.ratingZ[item])
				regretted = uniform(s.pcg) < pLeave
			}
		}
	}
	for _, item := range slate {
		if e.Available[item] {
			exposure[item]++
		}
	}
	if shopper.FatigueDecay != 0 {
		// Older slates count geometrically less; this slate's items count fully.
		for c := range mem.fatigue {
			mem.fatigue[c] *= shopper.FatigueDecay
		}
		for _, item := range slate {
			if e.Available[item] {
				mem.fatigue[e.stats.category[item]]++
			}
		}
	}

	// Account: reward, counters, and the end of the session by regret, patience or length.
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
	if !regretted && s.ignoredRun < int32(shopper.Patience) && s.step < int32(e.Config.MaxSteps) {
		return
	}
	out.Done[i] = true
	out.EpisodeReturn[i], out.EpisodeSteps[i] = s.ret, s.step
	out.EpisodeClicks[i], out.EpisodePurchases[i] = s.clicks, s.purchases
	s.done = true

	// The return draw is skipped when shoppers never return, so that a run without returns
	// draws the same numbers as before the option existed.
	if e.Config.ReturnProb > 0 {
		s.returning = s.rng.Float64() < e.Config.ReturnProb
	}
	if !e.AutoReset {
		return
	}
	if s.returning {
		e.returnShopper(i)
		return
	}
	// newShopper fails only on an unknown persona, which NewVecEnv has already rejected.
	_ = e.newShopper(i)
}

// sampleLogit returns the slate position that the multinomial logit over sc.utility
// clicks for the uniform draw r, or -1 for no click. It walks the unnormalised weights
// exp(u − max) against r·z, where z is their sum with the no-click weight, instead of
// dividing each weight by z as sampleClick does on ClickProbabilities. The two pick the
// same outcome except for draws within a rounding error of a boundary. The exponentials
// come from the scratch space's memo, whose lookup is written out in the loop because the
// compiler does not inline expMemo.exp.
func (sc *stepScratch) sampleLogit(noClick, r float64) int32 {
	m := noClick
	for _, v := range sc.utility {
		m = max(m, v)
	}
	memo := &sc.exp
	z := memo.exp(noClick - m)
	for k, v := range sc.utility {
		x := v - m
		bits := math.Float64bits(x)
		slot := expMemoSlot(bits)
		w := memo.value[slot]
		if memo.key[slot] != bits {
			w = memo.miss(x, bits, slot)
		}
		sc.prob[k] = w
		z += w
	}
	t := r * z
	for a, w := range sc.prob {
		if t < w {
			return int32(a)
		}
		t -= w
	}
	return -1
}

// learnFromClick draws the satisfaction of session i's learning shopper with the clicked
// item, updates its taste estimate for the item's category and its trust, and returns the
// satisfaction.
func (e *VecEnv) learnFromClick(i, item int) float64 {
	s := &e.sessions[i]
	shopper := &s.shopper
	satisfaction := shopper.meanSatisfaction(&e.stats, item) + shopper.SatisfactionNoise*s.rng.NormFloat64()

	// The taste estimate learns only what the shopper could not see before the click.
	c := len(e.Catalog.Categories)
	category := e.stats.category[item]
	e.tasteSum[i*c+category] += satisfaction - shopper.ValueWeight*e.stats.valueZ[item]
	e.tasteClicks[i*c+category]++

	// Trust is an exponential moving average of how far satisfaction exceeds the aspiration.
	s.trust += shopper.TrustRate * (satisfaction - shopper.Aspiration - s.trust)
	return satisfaction
}

// OracleShopper returns the hidden shopper of session i. It exists for reference policies
// and tests that must know the truth; a recommender that calls it is cheating.
func (e *VecEnv) OracleShopper(i int) Shopper { return e.sessions[i].shopper }

// ShopperMemory is a copy of the hidden memory of a session's shopper.
type ShopperMemory struct {
	Trust           float64   // trust in the recommender of a shopper that learns, else 0
	RemainingBudget float64   // in the catalog's currency, for a shopper with a budget, else 0
	Fatigue         []float64 // per category of Catalog.Categories
	TasteEstimate   []float64 // per category, the learned satisfaction beyond what is seen
	TasteClicks     []float64 // per category, the clicks the estimate learned from
}

// OracleMemory returns a copy of the hidden memory of session i's shopper. Like
// OracleShopper, it is for reference policies and tests.
func (e *VecEnv) OracleMemory(i int) ShopperMemory {
	s := &e.sessions[i]
	mem := e.memoryOf(i)
	out := ShopperMemory{
		Trust:           s.trust,
		RemainingBudget: s.budget,
		Fatigue:         append([]float64(nil), mem.fatigue...),
		TasteEstimate:   make([]float64, len(mem.tasteSum)),
		TasteClicks:     append([]float64(nil), mem.tasteClicks...),
	}
	if s.shopper.Learns {
		for c := range out.TasteEstimate {
			out.TasteEstimate[c] = s.shopper.tasteEstimate(&mem, c)
		}
	}
	return out
}

// OracleUtility returns the utility, without noise, that session i's shopper would give the
// item now if it knew its own tastes. For learning_shopper that is its bias plus the mean
// satisfaction of a click on the item, which its click utility approaches as it learns. For
// every other persona it is the click utility itself, given its memory. Like
// OracleShopper, it is for reference policies and tests.
func (e *VecEnv) OracleUtility(i, item int) float64 {
	m := e.Catalog.Len()
	mem := e.memoryOf(i)
	return e.sessions[i].shopper.trueUtility(&e.stats, item, e.Exposure[i*m+item], &mem)
}
