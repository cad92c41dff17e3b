package recsim

import (
	"fmt"
	"math/rand/v2"
)

// Config sets up the scenario.
type Config struct {
	Candidates int  // documents in each session's candidate set
	Slate      int  // documents per slate, at most Candidates
	Resample   bool // draw a new candidate set at every step and at every reset, as RecSim does by default
	// Quirks reproduces the places where RecSim's behaviour rests on an accident of its code
	// rather than on its documented intent; docs/recsim-iev.md lists them.
	Quirks bool
}

// DefaultConfig returns the scenario of RecSim's and RLlib's SlateQ examples: 10
// candidates, slates of 2, candidates resampled at every step.
func DefaultConfig() Config {
	return Config{Candidates: DefaultCandidates, Slate: DefaultSlate, Resample: true}
}

// Upper bounds that keep a mistyped flag from asking for huge buffers.
const (
	maxCandidates = 1 << 12
	maxSessions   = 1 << 20
)

// Validate reports the first field of c that cannot set up a scenario.
func (c Config) Validate() error {
	switch {
	case c.Candidates < 1 || c.Candidates > maxCandidates:
		return fmt.Errorf("recsim: %d candidates is invalid; use 1 to %d documents", c.Candidates, maxCandidates)
	case c.Slate < 1 || c.Slate > c.Candidates:
		return fmt.Errorf("recsim: slate size %d is invalid with %d candidates; use 1 to %d documents", c.Slate, c.Candidates, c.Candidates)
	}
	return nil
}

// StepResult receives the responses of one step of a VecEnv, one entry per session. A
// session that was already done before the step gets Click -1, Reward 0 and Done true.
type StepResult struct {
	Reward  []float64 // watch time of the clicked document, in minutes
	Click   []int32   // slate position of the clicked document, or -1 for no click
	Cluster []int32   // cluster of the clicked document, or -1
	Quality []float64 // quality of the clicked document, or 0
	Done    []bool    // the user's time budget has run out
}

// NewStepResult allocates a StepResult for n sessions.
func NewStepResult(n int) *StepResult {
	return &StepResult{
		Reward:  make([]float64, n),
		Click:   make([]int32, n),
		Cluster: make([]int32, n),
		Quality: make([]float64, n),
		Done:    make([]bool, n),
	}
}

// VecEnv simulates n independent sessions of the interest-evolution environment. Each
// session is one RecSim SingleUserEnvironment: a user, its candidate set and its streams.
// A VecEnv is not safe for concurrent use; Step allocates nothing.
type VecEnv struct {
	cfg   Config
	means [Topics]float64

	interests []float64 // [n·Topics], each in [-1, 1]
	budget    []float64 // remaining time budget, in minutes
	cluster   []int32   // [n·Candidates] cluster of each candidate document
	quality   []float64 // [n·Candidates] quality of each candidate document
	done      []bool
	steps     []int32 // steps taken in the current episode

	// Sums over the current episode of what the responses reveal: minutes watched, minutes
	// watched times the quality of the document watched, and steps without a click.
	watched, qualityWatched []float64
	skipped                 []int32

	// Streams of each session: user sampling, document sampling, and the user's responses
	// (choices and the direction of interest updates).
	userRNG, docRNG, responseRNG []*rand.Rand
	userPCG, docPCG, responsePCG []rand.PCG // the sources of the streams above

	// shared replaces every responseRNG under Quirks: RecSim draws choices and interest
	// updates from numpy's global random state, one stream for every user in the process.
	shared *rand.Rand

	scores []float64 // scratch: proportional scores of a slate and of no click
}

// Seed domains of a session's streams.
const (
	domainUser     uint64 = 0x75736572 // "user"
	domainDocs     uint64 = 0x646f6373 // "docs"
	domainResponse uint64 = 0x72657370 // "resp"
	domainShared   uint64 = 0x73686172 // "shar"
)

// splitmix64 is one step of the SplitMix64 generator (Steele, Lea and Flood, OOPSLA 2014).
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// DeriveSeed returns the seed of stream domain for seed.
func DeriveSeed(seed, domain uint64) uint64 { return splitmix64(seed ^ splitmix64(domain)) }

// NewVecEnv returns n sessions of scenario cfg. seed fixes the stream shared under Quirks
// and, when cfg.Resample is false, each session's fixed candidate set. Every session is
// done until ResetSession starts it.
func NewVecEnv(cfg Config, n int, seed uint64) (*VecEnv, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if n < 1 || n > maxSessions {
		return nil, fmt.Errorf("recsim: %d sessions is invalid; use 1 to %d", n, maxSessions)
	}
	e := &VecEnv{
		cfg:            cfg,
		means:          ClusterMeans(),
		interests:      make([]float64, n*Topics),
		budget:         make([]float64, n),
		cluster:        make([]int32, n*cfg.Candidates),
		quality:        make([]float64, n*cfg.Candidates),
		done:           make([]bool, n),
		steps:          make([]int32, n),
		watched:        make([]float64, n),
		skipped:        make([]int32, n),
		qualityWatched: make([]float64, n),
		userRNG:        make([]*rand.Rand, n),
		docRNG:         make([]*rand.Rand, n),
		responseRNG:    make([]*rand.Rand, n),
		userPCG:        make([]rand.PCG, n),
		docPCG:         make([]rand.PCG, n),
		responsePCG:    make([]rand.PCG, n),
		scores:         make([]float64, cfg.Slate+1),
		shared:         rand.New(rand.NewPCG(DeriveSeed(seed, domainShared), seed)),
	}
	for i := range n {
		e.userRNG[i] = rand.New(&e.userPCG[i])
		e.docRNG[i] = rand.New(&e.docPCG[i])
		e.responseRNG[i] = rand.New(&e.responsePCG[i])
		e.done[i] = true
		if !cfg.Resample {
			// RecSim samples the candidate set once, when the environment is built, and
			// keeps it for every episode.
			s := DeriveSeed(seed, uint64(i)+1)
			e.docPCG[i].Seed(DeriveSeed(s, domainDocs), s)
			e.sampleDocuments(i)
		}
	}
	return e, nil
}

// Config returns the scenario.
func (e *VecEnv) Config() Config { return e.cfg }

// NumSessions returns the number of sessions.
func (e *VecEnv) NumSessions() int { return len(e.budget) }

// ResetSession starts a new episode in session i with a new user drawn from seed: interests
// uniform in [-1, 1] and the full TimeBudget. With Resample it also draws a new candidate
// set, as RecSim's reset does.
func (e *VecEnv) ResetSession(i int, seed uint64) {
	userSeed := DeriveSeed(seed, domainUser)
	e.userPCG[i].Seed(userSeed, seed)
	if e.cfg.Quirks {
		// RecSim seeds its user sampler and its document sampler with the same seed, so
		// both draw from one sequence of numbers.
		e.docPCG[i].Seed(userSeed, seed)
	} else if e.cfg.Resample {
		e.docPCG[i].Seed(DeriveSeed(seed, domainDocs), seed)
	}
	e.responsePCG[i].Seed(DeriveSeed(seed, domainResponse), seed)

	u := e.Interests(i)
	for k := range u {
		u[k] = -1 + 2*e.userRNG[i].Float64()
	}
	e.budget[i] = TimeBudget
	e.done[i] = false
	e.steps[i] = 0
	e.watched[i], e.qualityWatched[i], e.skipped[i] = 0, 0, 0
	if e.cfg.Resample {
		e.sampleDocuments(i)
	}
}

// sampleDocuments draws the candidate set of session i: each document's cluster uniformly
// from the Topics clusters and its quality from N(mean of the cluster, QualityStdev²).
func (e *VecEnv) sampleDocuments(i int) {
	rng := e.docRNG[i]
	c := e.cfg.Candidates
	for j := i * c; j < (i+1)*c; j++ {
		k := rng.IntN(Topics)
		e.cluster[j] = int32(k)
		e.quality[j] = e.means[k] + QualityStdev*rng.NormFloat64()
	}
}

// Interests returns the Topics interests of session i's user, RecSim's user observation.
// The slice aliases the simulator's state and changes with each step.
func (e *VecEnv) Interests(i int) []float64 { return e.interests[i*Topics : (i+1)*Topics] }

// Candidates returns the cluster of each candidate document of session i, RecSim's
// document observation (a one-hot vector of the cluster). The slice aliases the state.
func (e *VecEnv) Candidates(i int) []int32 {
	c := e.cfg.Candidates
	return e.cluster[i*c : (i+1)*c]
}

// OracleQuality returns the quality of candidate j of session i, which RecSim reveals only
// in the response to a slate that shows it.
func (e *VecEnv) OracleQuality(i, j int) float64 { return e.quality[i*e.cfg.Candidates+j] }

// OracleBudget returns the remaining time budget of session i, which RecSim hides.
func (e *VecEnv) OracleBudget(i int) float64 { return e.budget[i] }

// Done reports whether session i's episode has ended.
func (e *VecEnv) Done(i int) bool { return e.done[i] }

// History returns the sums over session i's episode of what RecSim's responses reveal:
// minutes watched, minutes watched times the quality of each document watched, and steps
// without a click. An agent can compute them from the observations alone.
func (e *VecEnv) History(i int) (watched, qualityWatched float64, skipped int) {
	return e.watched[i], e.qualityWatched[i], int(e.skipped[i])
}

// SessionStep returns the steps taken in session i's current episode.
func (e *VecEnv) SessionStep(i int) int { return int(e.steps[i]) }

// Score returns the unnormalized score of the proportional choice model for a document of
// cluster c shown to a user with interests u: the dot product of u with the document's
// one-hot features, minus MinNormalizer.
func Score(u []float64, c int32) float64 { return u[c] - MinNormalizer }

// NoClickScore is the unnormalized score of not clicking: NoClickMass - MinNormalizer.
const NoClickScore = NoClickMass - MinNormalizer

// ChoiceProbs writes the probability that session i's user clicks each document of slate
// into dst[:len(slate)] and the probability of no click into dst[len(slate)], under RecSim's
// MultinomialProportionalChoiceModel.
func (e *VecEnv) ChoiceProbs(i int, slate []int32, dst []float64) {
	u := e.Interests(i)
	cand := e.Candidates(i)
	total := NoClickScore
	for k, j := range slate {
		dst[k] = Score(u, cand[j])
		total += dst[k]
	}
	dst[len(slate)] = NoClickScore
	for k := range dst[:len(slate)+1] {
		dst[k] /= total
	}
}

// Step shows slates[i·Slate : (i+1)·Slate], positions in the candidate set, to each
// session i that is not done, and writes the responses into out. It returns an error, and
// changes nothing, if a slate of a running session repeats a document or leaves the
// candidate set.
func (e *VecEnv) Step(slates []int32, out *StepResult) error {
	n, k := e.NumSessions(), e.cfg.Slate
	if len(slates) != n*k {
		return fmt.Errorf("recsim: got %d slate entries for %d sessions of slates of %d; want %d", len(slates), n, k, n*k)
	}
	if len(out.Reward) != n || len(out.Click) != n || len(out.Cluster) != n || len(out.Quality) != n || len(out.Done) != n {
		return fmt.Errorf("recsim: step result is sized for another number of sessions than %d; use NewStepResult(%d)", n, n)
	}
	for i := range n {
		if e.done[i] {
			continue
		}
		slate := slates[i*k : (i+1)*k]
		for a, j := range slate {
			if j < 0 || int(j) >= e.cfg.Candidates {
				return fmt.Errorf("recsim: session %d: slate position %d is %d, outside the %d candidates", i, a, j, e.cfg.Candidates)
			}
			for _, other := range slate[:a] {
				if other == j {
					return fmt.Errorf("recsim: session %d: slate shows candidate %d twice", i, j)
				}
			}
		}
	}
	for i := range n {
		e.stepSession(i, slates[i*k:(i+1)*k], out)
	}
	return nil
}

// stepSession runs RecSim's SingleUserEnvironment.step for session i: the user's response,
// the user's state update, the end test, then the optional new candidate set.
func (e *VecEnv) stepSession(i int, slate []int32, out *StepResult) {
	out.Reward[i], out.Click[i], out.Cluster[i], out.Quality[i] = 0, -1, -1, 0
	if e.done[i] {
		out.Done[i] = true
		return
	}
	responses := e.responseRNG[i]
	if e.cfg.Quirks {
		responses = e.shared
	}

	// Choice: the proportional model's scores of the slate and of no click, drawn from
	// as numpy.random.choice draws (the first index whose cumulative mass exceeds a uniform).
	u := e.Interests(i)
	cand := e.Candidates(i)
	total := NoClickScore
	for a, j := range slate {
		e.scores[a] = Score(u, cand[j])
		total += e.scores[a]
	}
	e.scores[len(slate)] = NoClickScore
	draw := responses.Float64() * total
	click := len(slate)
	cum := 0.0
	for a := range e.scores {
		cum += e.scores[a]
		if draw < cum {
			click = a
			break
		}
	}

	if click == len(slate) {
		// No click: the step penalty.
		e.budget[i] -= StepPenalty
		e.skipped[i]++
	} else {
		j := i*e.cfg.Candidates + int(slate[click])
		c := e.cluster[j]
		q := e.quality[j]
		watch := min(e.budget[i], VideoLength)

		// Interest update: only the clicked cluster's interest moves, by
		// alpha(x)·(1 - x), towards 1 with probability (x + 1)/2 and away otherwise.
		x := u[c]
		expectedUtility := x
		if e.cfg.Quirks {
			// RecSim rescores the document with the choice model, whose score is
			// shifted by -MinNormalizer. With UserQualityFactor 0 this has no effect.
			expectedUtility = Score(u, c)
		}
		update := InterestStep(x) * (1 - x)
		if responses.Float64() < (x+1)/2 {
			x += update
		} else {
			x -= update
		}
		u[c] = min(max(x, -1), 1)

		// Budget: spent by watching, restored in proportion to the utility received.
		utility := UserQualityFactor*expectedUtility + DocumentQualityFactor*q
		e.budget[i] -= watch
		e.budget[i] += UserUpdateAlpha * watch * utility

		e.watched[i] += watch
		e.qualityWatched[i] += watch * q
		out.Reward[i] = watch
		out.Click[i] = int32(click)
		out.Cluster[i] = c
		out.Quality[i] = q
	}

	e.steps[i]++
	e.done[i] = e.budget[i] <= 0
	out.Done[i] = e.done[i]
	if e.cfg.Resample {
		e.sampleDocuments(i)
	}
}
