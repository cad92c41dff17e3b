package recsim

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Policy chooses the slates of a VecEnv's running sessions from what RecSim observes: the
// users' interests and the candidates' clusters.
type Policy interface {
	// Name identifies the policy in reports.
	Name() string
	// StartSession marks the start of an episode in session i, whose randomness is seeded
	// by seed.
	StartSession(i int, seed uint64)
	// Recommend writes Slate distinct candidate positions for every session into slates.
	// Entries of sessions that are done are ignored.
	Recommend(env *VecEnv, slates []int32) error
}

// PolicyNames lists the reference policies NewPolicy builds.
var PolicyNames = []string{"random", "greedy"}

// NewPolicy returns the reference policy of the given name for n sessions of cfg.
func NewPolicy(name string, cfg Config, n int) (Policy, error) {
	switch name {
	case "random":
		return NewRandom(cfg, n), nil
	case "greedy":
		return NewGreedy(cfg), nil
	}
	return nil, fmt.Errorf("recsim: unknown policy %q; valid policies: random, greedy", name)
}

// Random shows Slate candidates drawn uniformly without replacement, RecSim's
// RandomAgent.
type Random struct {
	pcg  []rand.PCG
	rng  []*rand.Rand
	perm []int32 // scratch of Candidates positions
}

// NewRandom returns a random policy for n sessions of cfg.
func NewRandom(cfg Config, n int) *Random {
	r := &Random{pcg: make([]rand.PCG, n), rng: make([]*rand.Rand, n), perm: make([]int32, cfg.Candidates)}
	for i := range r.rng {
		r.rng[i] = rand.New(&r.pcg[i])
	}
	return r
}

// Name returns "random".
func (r *Random) Name() string { return "random" }

// StartSession seeds session i's stream.
func (r *Random) StartSession(i int, seed uint64) { r.pcg[i].Seed(seed, ^seed) }

// Recommend draws each running session's slate by a partial Fisher-Yates shuffle.
func (r *Random) Recommend(env *VecEnv, slates []int32) error {
	k := env.cfg.Slate
	for i := range env.NumSessions() {
		if env.done[i] {
			continue
		}
		for j := range r.perm {
			r.perm[j] = int32(j)
		}
		for a := range k {
			b := a + r.rng[i].IntN(len(r.perm)-a)
			r.perm[a], r.perm[b] = r.perm[b], r.perm[a]
		}
		copy(slates[i*k:(i+1)*k], r.perm[:k])
	}
	return nil
}

// Greedy shows the Slate candidates with the highest click probability under the true
// choice model, that is the highest interest in their cluster: the myopic policy that
// maximizes the chance of a click at every step. Ties go to the lower position.
type Greedy struct{ k int }

// NewGreedy returns the myopic greedy policy for cfg.
func NewGreedy(cfg Config) *Greedy { return &Greedy{k: cfg.Slate} }

// Name returns "greedy".
func (g *Greedy) Name() string { return "greedy" }

// StartSession does nothing: the greedy policy is deterministic.
func (g *Greedy) StartSession(int, uint64) {}

// Recommend picks, for each running session, the top Slate candidates by interest.
func (g *Greedy) Recommend(env *VecEnv, slates []int32) error {
	for i := range env.NumSessions() {
		if env.done[i] {
			continue
		}
		TopK(env.Interests(i), env.Candidates(i), slates[i*g.k:(i+1)*g.k])
	}
	return nil
}

// TopK writes into dst the len(dst) candidate positions whose clusters have the highest
// interest in u, highest first, ties to the lower position.
func TopK(u []float64, clusters []int32, dst []int32) {
	for a := range dst {
		best := int32(-1)
		for j := range clusters {
			taken := false
			for _, d := range dst[:a] {
				if d == int32(j) {
					taken = true
					break
				}
			}
			if !taken && (best < 0 || u[clusters[j]] > u[clusters[best]]) {
				best = int32(j)
			}
		}
		dst[a] = best
	}
}

// Summary describes the returns of evaluated episodes.
type Summary struct {
	Policy   string  `json:"policy"`
	Episodes int     `json:"episodes"`
	Mean     float64 `json:"return_mean"`     // mean return: minutes watched per episode
	Stdev    float64 `json:"return_stdev"`    // sample standard deviation of the return
	CI95     float64 `json:"return_ci95"`     // half-width of the normal 95 % interval of Mean
	Steps    float64 `json:"session_length"`  // mean episode length, in slates
	Clicks   float64 `json:"clicks"`          // mean clicks per episode
	Quality  float64 `json:"clicked_quality"` // mean quality of the clicked documents
}

// Seed domains of evaluation episodes.
const (
	domainEpisode uint64 = 0x65706973 // "epis"
	domainPolicy  uint64 = 0x706f6c69 // "poli"
)

// Evaluate runs episodes episodes of cfg with policy over sessions parallel sessions and
// summarizes their returns. Episode e's user and documents are seeded by seed and e alone,
// so every policy meets the same users for the same seed.
func Evaluate(cfg Config, policy Policy, episodes, sessions int, seed uint64) (Summary, error) {
	if episodes < 1 {
		return Summary{}, fmt.Errorf("recsim: %d evaluation episodes is invalid; use at least 1", episodes)
	}
	sessions = min(sessions, episodes)
	env, err := NewVecEnv(cfg, sessions, seed)
	if err != nil {
		return Summary{}, err
	}
	out := NewStepResult(sessions)
	slates := make([]int32, sessions*cfg.Slate)
	returns := make([]float64, sessions)
	clicks := make([]int, sessions)
	active := make([]bool, sessions)
	var sum, sumSq, steps, allClicks, quality float64
	started, finished := 0, 0
	start := func(i int) {
		s := DeriveSeed(seed, domainEpisode+uint64(started)<<32)
		env.ResetSession(i, s)
		policy.StartSession(i, DeriveSeed(s, domainPolicy))
		returns[i], clicks[i], active[i] = 0, 0, true
		started++
	}
	for i := range sessions {
		start(i)
	}
	for finished < episodes {
		if err := policy.Recommend(env, slates); err != nil {
			return Summary{}, err
		}
		if err := env.Step(slates, out); err != nil {
			return Summary{}, fmt.Errorf("recsim: policy %s: %w", policy.Name(), err)
		}
		for i := range sessions {
			if !active[i] {
				continue
			}
			returns[i] += out.Reward[i]
			if out.Click[i] >= 0 {
				clicks[i]++
				quality += out.Quality[i]
			}
			if !out.Done[i] {
				continue
			}
			sum += returns[i]
			sumSq += returns[i] * returns[i]
			steps += float64(env.steps[i])
			allClicks += float64(clicks[i])
			finished++
			if started < episodes {
				start(i)
			} else {
				active[i] = false
			}
		}
	}
	n := float64(episodes)
	mean := sum / n
	variance := 0.0
	if episodes > 1 {
		variance = max(sumSq-n*mean*mean, 0) / (n - 1)
	}
	s := Summary{Policy: policy.Name(), Episodes: episodes, Mean: mean, Stdev: math.Sqrt(variance),
		Steps: steps / n, Clicks: allClicks / n}
	s.CI95 = 1.959964 * s.Stdev / math.Sqrt(n)
	if allClicks > 0 {
		s.Quality = quality / allClicks
	}
	return s, nil
}
