package recsim

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestClusterMeans(t *testing.T) {
	m := ClusterMeans()
	// np.linspace(-3, 0, 14) then np.linspace(0, 3, 6).
	for i := 0; i < 14; i++ {
		want := -3 + 3*float64(i)/13
		if math.Abs(m[i]-want) > 1e-12 {
			t.Errorf("cluster %d: mean %v, want %v", i, m[i], want)
		}
	}
	for i, want := range []float64{0, 0.6, 1.2, 1.8, 2.4, 3} {
		if math.Abs(m[14+i]-want) > 1e-12 {
			t.Errorf("cluster %d: mean %v, want %v", 14+i, m[14+i], want)
		}
	}
	if m[13] != 0 || m[14] != 0 {
		t.Errorf("clusters 13 and 14 have means %v and %v; RecSim gives both 0", m[13], m[14])
	}
}

func TestInterestStep(t *testing.T) {
	for _, c := range []struct{ x, want float64 }{
		{0, 0.3}, {1, 0}, {-1, 0}, {0.5, 0.15}, {-0.4, 0.18},
	} {
		if got := InterestStep(c.x); math.Abs(got-c.want) > 1e-15 {
			t.Errorf("InterestStep(%v) = %v, want %v", c.x, got, c.want)
		}
	}
}

// newStateEnv returns one session of cfg whose user has interests u and budget, and whose
// candidates have the given clusters and qualities.
func newStateEnv(t *testing.T, cfg Config, u []float64, budget float64, clusters []int32, quality []float64, seed uint64) *VecEnv {
	t.Helper()
	e, err := NewVecEnv(cfg, 1, seed)
	if err != nil {
		t.Fatal(err)
	}
	e.ResetSession(0, seed)
	copy(e.Interests(0), u)
	e.budget[0] = budget
	copy(e.cluster, clusters)
	copy(e.quality, quality)
	return e
}

func TestChoiceProbsHandComputed(t *testing.T) {
	cfg := Config{Candidates: 3, Slate: 2, Resample: true}
	u := make([]float64, Topics)
	u[4], u[7], u[9] = 0.5, -0.2, 1
	e := newStateEnv(t, cfg, u, TimeBudget, []int32{4, 7, 9}, []float64{0, 0, 0}, 1)

	// Scores: 0.5+1 = 1.5 and -0.2+1 = 0.8; no click: 1+1 = 2; total 4.3.
	p := make([]float64, 3)
	e.ChoiceProbs(0, []int32{0, 1}, p)
	for k, want := range []float64{1.5 / 4.3, 0.8 / 4.3, 2 / 4.3} {
		if math.Abs(p[k]-want) > 1e-15 {
			t.Errorf("slate {0, 1}: probability %d is %v, want %v", k, p[k], want)
		}
	}
	// Scores 2 and 1.5 with no click 2: total 5.5.
	e.ChoiceProbs(0, []int32{2, 0}, p)
	for k, want := range []float64{2 / 5.5, 1.5 / 5.5, 2 / 5.5} {
		if math.Abs(p[k]-want) > 1e-15 {
			t.Errorf("slate {2, 0}: probability %d is %v, want %v", k, p[k], want)
		}
	}
}

// TestChoiceSampler checks the drawn clicks against the proportional model's probabilities
// with a chi-squared test of 2 degrees of freedom.
func TestChoiceSampler(t *testing.T) {
	cfg := Config{Candidates: 2, Slate: 2, Resample: false}
	u := make([]float64, Topics)
	u[3], u[5] = 0.5, -0.2
	want := []float64{1.5 / 4.3, 0.8 / 4.3, 2 / 4.3}
	counts := make([]float64, 3)
	const draws = 30000
	e := newStateEnv(t, cfg, u, TimeBudget, []int32{3, 5}, []float64{0, 0}, 7)
	out := NewStepResult(1)
	for range draws {
		copy(e.Interests(0), u)
		e.budget[0] = TimeBudget
		if err := e.Step([]int32{0, 1}, out); err != nil {
			t.Fatal(err)
		}
		if out.Click[0] < 0 {
			counts[2]++
		} else {
			counts[out.Click[0]]++
		}
	}
	chi2 := 0.0
	for k := range counts {
		expected := want[k] * draws
		chi2 += (counts[k] - expected) * (counts[k] - expected) / expected
	}
	// 13.82 is the 0.999 quantile of chi-squared with 2 degrees of freedom.
	if chi2 > 13.82 {
		t.Errorf("click counts %v over %d draws: chi-squared %.2f > 13.82 against probabilities %v", counts, draws, chi2, want)
	}
}

// responseDraws returns the first n uniforms that session 0 draws for its responses after
// ResetSession(0, seed).
func responseDraws(seed uint64, n int) []float64 {
	r := rand.New(rand.NewPCG(DeriveSeed(seed, domainResponse), seed))
	d := make([]float64, n)
	for i := range d {
		d[i] = r.Float64()
	}
	return d
}

func TestClickUpdatesInterestAndBudget(t *testing.T) {
	cfg := Config{Candidates: 2, Slate: 1, Resample: false}
	for seed := uint64(1); seed <= 40; seed++ {
		u := make([]float64, Topics)
		u[6] = 0.4
		e := newStateEnv(t, cfg, u, 150, []int32{6, 2}, []float64{2, 0}, seed)
		draws := responseDraws(seed, 2)

		// Score 1.4 against no click 2: a click when the first uniform·3.4 < 1.4.
		clicked := draws[0]*3.4 < 1.4
		out := NewStepResult(1)
		if err := e.Step([]int32{0}, out); err != nil {
			t.Fatal(err)
		}
		if !clicked {
			if out.Click[0] != -1 || out.Reward[0] != 0 {
				t.Fatalf("seed %d: got click %d reward %v, want no click", seed, out.Click[0], out.Reward[0])
			}
			if got := e.budget[0]; got != 149.5 {
				t.Errorf("seed %d: budget after no click %v, want 149.5", seed, got)
			}
			if got := e.Interests(0)[6]; got != 0.4 {
				t.Errorf("seed %d: interest changed to %v without a click", seed, got)
			}
			continue
		}
		if out.Click[0] != 0 || out.Reward[0] != 4 || out.Cluster[0] != 6 || out.Quality[0] != 2 {
			t.Fatalf("seed %d: got click %d reward %v cluster %d quality %v, want 0, 4, 6, 2",
				seed, out.Click[0], out.Reward[0], out.Cluster[0], out.Quality[0])
		}
		// Step 0.3·(1 - 0.4)·(1 - 0.4) = 0.108, positive when the second uniform < 0.7.
		want := 0.4 - 0.108
		if draws[1] < 0.7 {
			want = 0.4 + 0.108
		}
		if got := e.Interests(0)[6]; math.Abs(got-want) > 1e-12 {
			t.Errorf("seed %d: interest %v, want %v", seed, got, want)
		}
		// 150 - 4 + (0.9/3.4)·4·2.
		if got, want := e.budget[0], 146+0.9/3.4*8; math.Abs(got-want) > 1e-12 {
			t.Errorf("seed %d: budget %v, want %v", seed, got, want)
		}
		for k, x := range e.Interests(0) {
			if k != 6 && x != 0 {
				t.Errorf("seed %d: interest %d changed to %v", seed, k, x)
			}
		}
	}
}

func TestLastClickWatchesRemainingBudget(t *testing.T) {
	cfg := Config{Candidates: 1, Slate: 1, Resample: false}
	u := make([]float64, Topics)
	u[0] = 1 // score 2 against 2: a click when the uniform < 0.5
	for seed := uint64(1); ; seed++ {
		if responseDraws(seed, 1)[0] >= 0.5 {
			continue
		}
		e := newStateEnv(t, cfg, u, 3, []int32{0}, []float64{-1}, seed)
		out := NewStepResult(1)
		if err := e.Step([]int32{0}, out); err != nil {
			t.Fatal(err)
		}
		if out.Reward[0] != 3 {
			t.Errorf("reward %v, want the remaining budget 3", out.Reward[0])
		}
		// 3 - 3 + (0.9/3.4)·3·(-1) < 0 ends the episode.
		if got, want := e.budget[0], -0.9/3.4*3; math.Abs(got-want) > 1e-12 || !out.Done[0] {
			t.Errorf("budget %v done %v, want %v and done", got, out.Done[0], want)
		}
		return
	}
}

func TestStepRejectsBadSlates(t *testing.T) {
	e, err := NewVecEnv(DefaultConfig(), 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	e.ResetSession(0, 1)
	e.ResetSession(1, 2)
	out := NewStepResult(2)
	for _, slates := range [][]int32{{0, 1, 2, 2}, {0, 1, 2, 10}, {-1, 0, 1, 2}, {0, 1, 2}} {
		before := e.budget[1]
		if err := e.Step(slates, out); err == nil {
			t.Errorf("Step(%v) succeeded, want an error", slates)
		}
		if e.budget[1] != before {
			t.Errorf("Step(%v) changed a budget before failing", slates)
		}
	}
	if _, err := NewVecEnv(Config{Candidates: 2, Slate: 3}, 1, 1); err == nil {
		t.Error("a slate larger than the candidate set was accepted")
	}
}

func TestStepAllocatesNothing(t *testing.T) {
	for _, quirks := range []bool{false, true} {
		cfg := DefaultConfig()
		cfg.Quirks = quirks
		e, err := NewVecEnv(cfg, 16, 1)
		if err != nil {
			t.Fatal(err)
		}
		pol := NewRandom(cfg, 16)
		out := NewStepResult(16)
		slates := make([]int32, 16*cfg.Slate)
		seed := uint64(0)
		allocs := testing.AllocsPerRun(200, func() {
			for i := range 16 {
				if e.Done(i) {
					seed++
					e.ResetSession(i, seed)
					pol.StartSession(i, seed)
				}
			}
			_ = pol.Recommend(e, slates)
			_ = e.Step(slates, out)
		})
		if allocs != 0 {
			t.Errorf("quirks %v: %v allocations per step, want 0", quirks, allocs)
		}
	}
}

func TestEvaluateDeterministic(t *testing.T) {
	cfg := DefaultConfig()
	a, err := Evaluate(cfg, NewGreedy(cfg), 300, 1, 5)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Evaluate(cfg, NewGreedy(cfg), 300, 13, 5)
	if err != nil {
		t.Fatal(err)
	}
	// Episode e depends on the seed and e alone, so the session count only reorders a sum.
	if math.Abs(a.Mean-b.Mean) > 1e-9 || a.Steps != b.Steps || a.Clicks != b.Clicks {
		t.Errorf("1 session: %+v; 13 sessions: %+v", a, b)
	}
	c, err := Evaluate(cfg, NewGreedy(cfg), 300, 13, 5)
	if err != nil {
		t.Fatal(err)
	}
	if c != b {
		t.Errorf("same seed gave %+v then %+v", b, c)
	}
	d, err := Evaluate(cfg, NewGreedy(cfg), 300, 13, 6)
	if err != nil {
		t.Fatal(err)
	}
	if d.Mean == b.Mean {
		t.Errorf("seeds 5 and 6 gave the same mean %v", d.Mean)
	}
}

func TestQuirksDeterministic(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Quirks = true
	a, err := Evaluate(cfg, NewRandom(cfg, 8), 200, 8, 3)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Evaluate(cfg, NewRandom(cfg, 8), 200, 8, 3)
	if err != nil {
		t.Fatal(err)
	}
	if a != b {
		t.Errorf("same seed gave %+v then %+v", a, b)
	}
}

func TestGreedyPicksHighestInterest(t *testing.T) {
	u := make([]float64, Topics)
	u[1], u[2], u[3], u[4] = 0.2, 0.9, -0.5, 0.9
	dst := make([]int32, 3)
	TopK(u, []int32{3, 1, 4, 2, 3}, dst)
	if want := []int32{2, 3, 1}; dst[0] != want[0] || dst[1] != want[1] || dst[2] != want[2] {
		t.Errorf("TopK = %v, want %v", dst, want)
	}
}

func TestQuirksShareSamplerSeed(t *testing.T) {
	const seed = 21
	for _, quirks := range []bool{false, true} {
		cfg := DefaultConfig()
		cfg.Quirks = quirks
		e, err := NewVecEnv(cfg, 1, 1)
		if err != nil {
			t.Fatal(err)
		}
		e.ResetSession(0, seed)

		// The user's interests are the user stream's first Topics uniforms.
		user := rand.New(rand.NewPCG(DeriveSeed(seed, domainUser), seed))
		for k, x := range e.Interests(0) {
			if want := -1 + 2*user.Float64(); x != want {
				t.Fatalf("quirks %v: interest %d is %v, want %v", quirks, k, x, want)
			}
		}

		// Under the quirks, the document stream restarts the user stream's sequence.
		same := rand.New(rand.NewPCG(DeriveSeed(seed, domainUser), seed))
		matches := 0
		for _, c := range e.Candidates(0) {
			if int(c) == same.IntN(Topics) {
				matches++
			}
			same.NormFloat64()
		}
		if quirks && matches != cfg.Candidates {
			t.Errorf("quirks: %d of %d candidate clusters follow the user stream's seed", matches, cfg.Candidates)
		}
		if !quirks && matches == cfg.Candidates {
			t.Errorf("without quirks, the candidates follow the user stream's seed")
		}
	}
}

func TestQuirksShareResponseStream(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Quirks = true
	one, err := Evaluate(cfg, NewGreedy(cfg), 200, 1, 5)
	if err != nil {
		t.Fatal(err)
	}
	many, err := Evaluate(cfg, NewGreedy(cfg), 200, 13, 5)
	if err != nil {
		t.Fatal(err)
	}
	// One stream serves every session, so a user's draws depend on the other sessions.
	if one.Mean == many.Mean {
		t.Errorf("quirks: 1 and 13 sessions gave the same mean %v", one.Mean)
	}
}

func TestFixedCandidatesWithoutResampling(t *testing.T) {
	cfg := Config{Candidates: 5, Slate: 2, Resample: false}
	e, err := NewVecEnv(cfg, 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	first := append([]int32(nil), e.Candidates(0)...)
	out := NewStepResult(2)
	for episode := range 3 {
		e.ResetSession(0, uint64(episode))
		e.ResetSession(1, uint64(episode)+100)
		for range 20 {
			if err := e.Step([]int32{0, 1, 2, 3}, out); err != nil {
				t.Fatal(err)
			}
			for j, c := range e.Candidates(0) {
				if c != first[j] {
					t.Fatalf("episode %d: candidate %d changed from cluster %d to %d", episode, j, first[j], c)
				}
			}
		}
	}
	resampled, err := NewVecEnv(Config{Candidates: 5, Slate: 2, Resample: true}, 1, 3)
	if err != nil {
		t.Fatal(err)
	}
	resampled.ResetSession(0, 1)
	before := append([]int32(nil), resampled.Candidates(0)...)
	if err := resampled.Step([]int32{0, 1}, NewStepResult(1)); err != nil {
		t.Fatal(err)
	}
	changed := false
	for j, c := range resampled.Candidates(0) {
		changed = changed || c != before[j]
	}
	if !changed {
		t.Error("with resampling, the candidate set stayed the same after a step")
	}
}
