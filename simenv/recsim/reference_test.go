package recsim

import (
	"math"
	"math/rand/v2"
	"testing"
)

// This file re-derives RecSim's interest-evolution environment independently of VecEnv, in
// the shape of RecSim's own objects. Documents carry full feature vectors, and the user state
// keeps its parameters as fields. The choice model scores by dot products, appends the
// no-click score, shifts and normalizes, and the update loops over the slate's responses.
// The code shares only the exported constants with VecEnv and draws from its own ChaCha8
// stream, so its mean return for random slates is an independent estimate of RecSim's.

type refDoc struct {
	features [Topics]float64
	length   float64
	quality  float64
}

type refUser struct {
	interests                  [Topics]float64
	budget                     float64
	noClickMass, minNormalizer float64
	stepPenalty                float64
	userQuality, docQuality    float64
	updateAlpha                float64
}

type refEnv struct {
	rng        *rand.Rand
	candidates int
	slate      int
	means      [Topics]float64
	user       refUser
	docs       []refDoc

	shown  []refDoc  // scratch: the documents of the slate
	scores []float64 // scratch: the slate's scores and the no-click score
	perm   []int     // scratch: candidate positions for the random slate
}

func (r *refEnv) sampleDoc() refDoc {
	var d refDoc
	c := r.rng.IntN(Topics)
	d.features[c] = 1
	d.length = VideoLength
	d.quality = r.means[c] + QualityStdev*r.rng.NormFloat64()
	return d
}

func (r *refEnv) reset() {
	u := refUser{budget: TimeBudget, noClickMass: NoClickMass, minNormalizer: MinNormalizer,
		stepPenalty: StepPenalty, userQuality: UserQualityFactor, docQuality: DocumentQualityFactor,
		updateAlpha: 0.9 * (1.0 / 3.4)}
	for k := range u.interests {
		u.interests[k] = r.rng.Float64()*2 - 1
	}
	r.user = u
	r.resample()
}

func (r *refEnv) resample() {
	r.docs = r.docs[:0]
	for range r.candidates {
		r.docs = append(r.docs, r.sampleDoc())
	}
}

func dot(a, b [Topics]float64) float64 {
	s := 0.0
	for k := range a {
		s += a[k] * b[k]
	}
	return s
}

// step shows the documents at positions slate and returns the watch time and whether the
// user's budget ran out.
func (r *refEnv) step(slate []int) (float64, bool) {
	u := &r.user
	shown := r.shown[:0]
	for _, j := range slate {
		shown = append(shown, r.docs[j])
	}

	// Proportional choice model: scores, the appended no-click score, then the shift.
	all := r.scores[:0]
	for _, d := range shown {
		all = append(all, dot(u.interests, d.features))
	}
	all = append(all, u.noClickMass)
	sum := 0.0
	for k := range all {
		all[k] -= u.minNormalizer
		sum += all[k]
	}
	draw := r.rng.Float64()
	chosen := -1
	cdf := 0.0
	for k := range all {
		cdf += all[k] / sum
		if draw < cdf {
			chosen = k
			break
		}
	}
	if chosen == len(shown) || chosen < 0 {
		chosen = -1
	}

	reward := 0.0
	if chosen >= 0 {
		d := shown[chosen]
		watch := math.Min(u.budget, d.length)
		reward = watch
		expected := dot(u.interests, d.features) - u.minNormalizer
		var update [Topics]float64
		positive := 0.0
		for k := range update {
			alpha := -AlphaYIntercept/AlphaXIntercept*math.Abs(u.interests[k]) + AlphaYIntercept
			update[k] = alpha * d.features[k] * (d.features[k] - u.interests[k])
			positive += (u.interests[k] + 1) / 2 * d.features[k]
		}
		sign := -1.0
		if r.rng.Float64() < positive {
			sign = 1
		}
		for k := range update {
			u.interests[k] = math.Max(-1, math.Min(1, u.interests[k]+sign*update[k]))
		}
		received := u.userQuality*expected + u.docQuality*d.quality
		u.budget -= watch
		u.budget += u.updateAlpha * watch * received
	} else {
		u.budget -= u.stepPenalty
	}
	done := u.budget <= 0
	r.resample()
	return reward, done
}

// referenceRandomReturn returns the mean and the standard error of the return of episodes
// random-slate episodes of the re-derived environment.
func referenceRandomReturn(candidates, slate, episodes int, seed uint64) (mean, se float64) {
	var key [32]byte
	for i := range 8 {
		key[i] = byte(seed >> (8 * i))
	}
	r := &refEnv{rng: rand.New(rand.NewChaCha8(key)), candidates: candidates, slate: slate, means: ClusterMeans(),
		docs: make([]refDoc, 0, candidates), perm: make([]int, candidates)}
	var sum, sumSq float64
	for range episodes {
		r.reset()
		ret := 0.0
		for {
			// A partial Fisher-Yates shuffle, as numpy.random.choice without replacement.
			for j := range r.perm {
				r.perm[j] = j
			}
			for a := range slate {
				b := a + r.rng.IntN(candidates-a)
				r.perm[a], r.perm[b] = r.perm[b], r.perm[a]
			}
			reward, done := r.step(r.perm[:slate])
			ret += reward
			if done {
				break
			}
		}
		sum += ret
		sumSq += ret * ret
	}
	n := float64(episodes)
	mean = sum / n
	return mean, math.Sqrt((sumSq/n - mean*mean) / (n - 1))
}

// TestRandomMatchesRecSim compares the mean return of random slates over 10,000 episodes of
// VecEnv with the re-derived environment's at 10 and 50 candidates, slates of 2: the
// difference must lie inside its 95 % interval.
func TestRandomMatchesRecSim(t *testing.T) {
	if testing.Short() {
		t.Skip("runs 60,000 episodes; skipped with -short")
	}
	for _, candidates := range []int{10, 50} {
		refMean, refSE := referenceRandomReturn(candidates, 2, 10000, 12+uint64(candidates))
		for _, quirks := range []bool{false, true} {
			cfg := Config{Candidates: candidates, Slate: 2, Resample: true, Quirks: quirks}
			got, err := Evaluate(cfg, NewRandom(cfg, 64), 10000, 64, 11)
			if err != nil {
				t.Fatal(err)
			}
			diff := got.Mean - refMean
			half := 1.959964 * math.Hypot(got.CI95/1.959964, refSE)
			t.Logf("candidates %d quirks %v: VecEnv %.3f ± %.3f, re-derivation %.3f ± %.3f (95 %%)",
				candidates, quirks, got.Mean, got.CI95, refMean, 1.959964*refSE)
			if math.Abs(diff) > half {
				t.Errorf("candidates %d quirks %v: VecEnv mean %.3f differs from the re-derivation's %.3f by %.3f, beyond the 95 %% interval ±%.3f",
					candidates, quirks, got.Mean, refMean, diff, half)
			}
		}
	}
}
