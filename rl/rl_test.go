package rl

import (
	"context"
	"math"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/simshop/simshop/checkpoints"
	"github.com/simshop/simshop/simenv"
)

func generated(t *testing.T, n int) *simenv.Catalog {
	t.Helper()
	c, err := simenv.Generate(n, 1)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestTopK(t *testing.T) {
	scores := []float32{0.5, 3, -1, 3, 2, 7, 0}
	dst := make([]int32, 4)
	topK(scores, dst)
	want := []int32{5, 1, 3, 4} // ties keep the lower index first
	for i := range want {
		if dst[i] != want[i] {
			t.Fatalf("topK = %v, want %v", dst, want)
		}
	}
}

func TestPopularityShowsMostPopular(t *testing.T) {
	cat := generated(t, 100)
	p := NewPopularity(cat, 3)
	env, _ := simenv.NewVecEnv(cat, simenv.Config{Persona: simenv.CheapBlue}, 2, 1)
	slates := make([]int32, 6)
	if err := p.Recommend(env, slates); err != nil {
		t.Fatal(err)
	}
	maxPop := 0.0
	for _, it := range cat.Items {
		maxPop = math.Max(maxPop, it.Popularity)
	}
	if got := cat.Items[slates[0]].Popularity; got != maxPop {
		t.Errorf("first item has popularity %g, want the maximum %g", got, maxPop)
	}
	for a := 1; a < 3; a++ {
		if cat.Items[slates[a]].Popularity > cat.Items[slates[a-1]].Popularity {
			t.Errorf("slate %v is not in descending popularity", slates[:3])
		}
	}
	if slates[3] != slates[0] {
		t.Errorf("sessions got different slates: %v", slates)
	}
}

func TestFilteredFollowsClicks(t *testing.T) {
	cat := generated(t, 200)
	env, _ := simenv.NewVecEnv(cat, simenv.Config{Persona: simenv.CheapBlue}, 1, 1)
	f := NewFiltered(cat, 3, 1)
	// Pretend the session clicked the least popular item: its category and colour lead now.
	order := popularityOrder(cat)
	clicked := order[len(order)-1]
	env.ItemClicks[clicked] = 1
	env.Exposure[clicked] = 1
	slate := make([]int32, 3)
	if err := f.Recommend(env, slate); err != nil {
		t.Fatal(err)
	}
	want := cat.Items[clicked]
	first := cat.Items[slate[0]]
	if first.Category != want.Category || first.Color != want.Color {
		t.Errorf("first item is %s %s, want the clicked item's %s %s", first.Color, first.Category, want.Color, want.Category)
	}
}

func TestRandomSlatesDistinct(t *testing.T) {
	cat := generated(t, 5)
	r := NewRandom(cat, 3, 4)
	env, _ := simenv.NewVecEnv(cat, simenv.Config{Persona: simenv.CheapBlue}, 4, 1)
	slates := make([]int32, 12)
	out := simenv.NewStepResult(4)
	for step := 0; step < 200; step++ {
		if err := r.Recommend(env, slates); err != nil {
			t.Fatal(err)
		}
		if err := env.Step(slates, out); err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
	}
}

func TestEvaluateIndependentOfSessions(t *testing.T) {
	cat := generated(t, 60)
	shop := simenv.Config{Persona: simenv.ValueSeeker}
	var results []Result
	for _, sessions := range []int{1, 7, 50} {
		res, err := Evaluate(NewRandom(cat, 3, sessions), cat, shop, EvalOptions{Episodes: 50, Seed: 3, Sessions: sessions})
		if err != nil {
			t.Fatal(err)
		}
		results = append(results, res)
	}
	for _, r := range results[1:] {
		if r != results[0] {
			t.Errorf("results differ with the number of sessions:\n%+v\n%+v", results[0], r)
		}
	}
}

func TestSummarizeIntervals(t *testing.T) {
	r := summarize("x", "p", []float64{1, 3}, []float64{2, 2}, []float64{1, 1}, []float64{0, 1})
	// Returns 1 and 3: mean 2, sample sd sqrt(2), half-width 1.96·sqrt(2)/sqrt(2) = 1.96.
	if r.ReturnMean != 2 || math.Abs(r.ReturnCI95-1.96) > 1e-12 {
		t.Errorf("return %g ± %g, want 2 ± 1.96", r.ReturnMean, r.ReturnCI95)
	}
	// Reward per step 4/4 = 1; residuals 1-2 = -1 and 3-2 = 1 give sd sqrt(2), so the
	// half-width is 1.96·sqrt(2)/2/sqrt(2) = 0.98.
	if r.RewardPerStep != 1 || math.Abs(r.RewardPerStepCI95-0.98) > 1e-12 {
		t.Errorf("reward per step %g ± %g, want 1 ± 0.98", r.RewardPerStep, r.RewardPerStepCI95)
	}
	if r.CTR != 0.5 || r.PurchaseRate != 0.25 || r.SessionLength != 2 {
		t.Errorf("ctr %g, purchase rate %g, session length %g; want 0.5, 0.25, 2", r.CTR, r.PurchaseRate, r.SessionLength)
	}
}

// smallConfig trains quickly on small catalogs.
func smallConfig() DQNConfig {
	cfg := DefaultDQNConfig()
	cfg.Hidden = []int{32}
	cfg.LearningStarts = 256
	cfg.BatchSize = 32
	cfg.EpsilonSteps = 3000
	return cfg
}

func trainSmall(t *testing.T, cat *simenv.Catalog, shop simenv.Config, seed uint64, steps int64) *DQN {
	t.Helper()
	return trainWith(t, smallConfig(), cat, shop, seed, steps)
}

func trainWith(t *testing.T, cfg DQNConfig, cat *simenv.Catalog, shop simenv.Config, seed uint64, steps int64) *DQN {
	t.Helper()
	d, err := NewDQN(cfg, cat, shop, seed)
	if err != nil {
		t.Fatal(err)
	}
	env, err := simenv.NewVecEnv(cat, shop, 8, TrainSeed(seed, 0))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Train(context.Background(), env, TrainOptions{Steps: steps}); err != nil {
		t.Fatal(err)
	}
	return d
}

func TestDQNLearnsCheapBlue(t *testing.T) {
	cat := generated(t, 60)
	shop := simenv.Config{Persona: simenv.CheapBlue}
	d := trainSmall(t, cat, shop, 1, 8000)
	d.Greedy = true
	opt := EvalOptions{Episodes: 300, Seed: 2, Sessions: 32}
	dqn, err := Evaluate(d, cat, shop, opt)
	if err != nil {
		t.Fatal(err)
	}
	random, err := Evaluate(NewRandom(cat, 3, 32), cat, shop, opt)
	if err != nil {
		t.Fatal(err)
	}
	popular, err := Evaluate(NewPopularity(cat, 3), cat, shop, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("reward per step: dqn %.3f±%.3f, random %.3f±%.3f, popularity %.3f±%.3f",
		dqn.RewardPerStep, dqn.RewardPerStepCI95, random.RewardPerStep, random.RewardPerStepCI95, popular.RewardPerStep, popular.RewardPerStepCI95)
	for _, base := range []Result{random, popular} {
		if dqn.RewardPerStep-dqn.RewardPerStepCI95 <= base.RewardPerStep+base.RewardPerStepCI95 {
			t.Errorf("dqn reward per step %.3f±%.3f does not beat %s %.3f±%.3f",
				dqn.RewardPerStep, dqn.RewardPerStepCI95, base.Recommender, base.RewardPerStep, base.RewardPerStepCI95)
		}
	}
}

func TestDQNTrainingDeterministic(t *testing.T) {
	cat := generated(t, 30)
	shop := simenv.Config{Persona: simenv.ValueSeeker}
	a := trainSmall(t, cat, shop, 5, 1500)
	b := trainSmall(t, cat, shop, 5, 1500)
	c := trainSmall(t, cat, shop, 6, 1500)
	same, differ := true, false
	for i, pt := range a.Online.Tensors {
		for j, v := range pt.Data {
			same = same && v == b.Online.Tensors[i].Data[j]
			differ = differ || v != c.Online.Tensors[i].Data[j]
		}
	}
	if !same {
		t.Error("two runs with seed 5 trained different weights")
	}
	if !differ {
		t.Error("seeds 5 and 6 trained identical weights")
	}
	if a.Updates == 0 || a.Updates != b.Updates || a.Episodes != b.Episodes {
		t.Errorf("counters: updates %d and %d, episodes %d and %d", a.Updates, b.Updates, a.Episodes, b.Episodes)
	}
}

func TestCheckpointRoundTrip(t *testing.T) {
	cat := generated(t, 30)
	shop := simenv.Config{Persona: simenv.ExposureBuyer}
	d := trainSmall(t, cat, shop, 7, 1200)
	path := filepath.Join(t.TempDir(), "model.msgpack")
	f, err := d.Checkpoint(RunInfo{Shop: shop, Seed: 7, Sessions: 8})
	if err != nil {
		t.Fatal(err)
	}
	if err := checkpoints.Save(path, f); err != nil {
		t.Fatal(err)
	}
	loaded, err := checkpoints.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	e, lcat, err := LoadDQN(loaded, nil)
	if err != nil {
		t.Fatal(err)
	}
	if lcat.Fingerprint() != cat.Fingerprint() {
		t.Error("embedded catalog differs from the training catalog")
	}
	if e.EnvSteps != d.EnvSteps || e.Updates != d.Updates || e.Episodes != d.Episodes || e.Adam.Step != d.Adam.Step {
		t.Errorf("counters: got steps %d updates %d episodes %d adam %d, want %d %d %d %d",
			e.EnvSteps, e.Updates, e.Episodes, e.Adam.Step, d.EnvSteps, d.Updates, d.Episodes, d.Adam.Step)
	}
	compareTensors(t, "online", d.Online.Tensors[0].Data, e.Online.Tensors[0].Data)
	compareTensors(t, "target", d.Target.Tensors[2].Data, e.Target.Tensors[2].Data)
	compareTensors(t, "adam m", d.Adam.M[1], e.Adam.M[1])
	compareTensors(t, "adam v", d.Adam.V[3], e.Adam.V[3])
	if d.rng.Uint64() != e.rng.Uint64() {
		t.Error("the agent's random stream did not resume where it was saved")
	}

	// The loaded model scores sessions exactly as the original does.
	env, _ := simenv.NewVecEnv(cat, shop, 2, 1)
	q1, err := d.Scores(env)
	if err != nil {
		t.Fatal(err)
	}
	q1 = append([]float32(nil), q1...)
	q2, err := e.Scores(env)
	if err != nil {
		t.Fatal(err)
	}
	compareTensors(t, "scores", q1, q2)
}

func compareTensors(t *testing.T, what string, a, b []float32) {
	t.Helper()
	if len(a) != len(b) {
		t.Fatalf("%s: lengths %d and %d", what, len(a), len(b))
	}
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("%s[%d] = %g after loading, want %g", what, i, b[i], a[i])
		}
	}
}

func TestLoadRejectsOtherCatalog(t *testing.T) {
	cat := generated(t, 30)
	shop := simenv.Config{Persona: simenv.CheapBlue}
	d, err := NewDQN(smallConfig(), cat, shop, 1)
	if err != nil {
		t.Fatal(err)
	}
	f, err := d.Checkpoint(RunInfo{Shop: shop, Seed: 1, Sessions: 1})
	if err != nil {
		t.Fatal(err)
	}
	other := generated(t, 31)
	if _, _, err := LoadDQN(f, other); err == nil {
		t.Error("loading with another catalog gave no error")
	}
}

func TestEncodingWidthMatchesRows(t *testing.T) {
	cat := generated(t, 40)
	enc := NewEncoding(cat, 30)
	e := NewEncoder(enc, cat)
	env, _ := simenv.NewVecEnv(cat, simenv.Config{Persona: simenv.CheapBlue}, 1, 1)
	rows := make([]float32, cat.Len()*e.Width())
	e.EncodeSession(env, 0, rows)
	for item := range cat.Items {
		row := rows[item*e.Width() : (item+1)*e.Width()]
		ones := 0
		for _, v := range row[:len(enc.Categories)+1] {
			if v == 1 {
				ones++
			}
		}
		if ones != 1 {
			t.Fatalf("item %d: category one-hot has %d ones", item, ones)
		}
	}
	// After a click on item 5, its category's click share is 1 for items of that category.
	env.ItemClicks[5], env.Exposure[5] = 1, 1
	e.EncodeSession(env, 0, rows)
	fit := e.history + historyFeatures
	for item := range cat.Items {
		share := rows[item*e.Width()+fit]
		same := cat.CategoryOf[item] == cat.CategoryOf[5]
		if (share == 1) != same {
			t.Errorf("item %d (same category %v) has category click share %g", item, same, share)
		}
	}
	one := make([]float32, e.Width())
	e.EncodeItems(env, 0, []int32{5}, one)
	compareTensors(t, "EncodeItems row", rows[5*e.Width():6*e.Width()], one)
}

func TestDQNTrainingSameAcrossGOMAXPROCS(t *testing.T) {
	cat := generated(t, 120)
	shop := simenv.Config{Persona: simenv.CheapBlue}
	prev := runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(prev)
	one := trainSmall(t, cat, shop, 9, 1200)
	runtime.GOMAXPROCS(4)
	four := trainSmall(t, cat, shop, 9, 1200)
	for i, pt := range one.Online.Tensors {
		compareTensors(t, pt.Name, pt.Data, four.Online.Tensors[i].Data)
	}
}

func TestDQNTrainingInChunksEqualsStraight(t *testing.T) {
	cat := generated(t, 40)
	shop := simenv.Config{Persona: simenv.ValueSeeker}
	straight := trainSmall(t, cat, shop, 4, 1600)

	chunked, err := NewDQN(smallConfig(), cat, shop, 4)
	if err != nil {
		t.Fatal(err)
	}
	env, _ := simenv.NewVecEnv(cat, shop, 8, TrainSeed(4, 0))
	for _, until := range []int64{304, 800, 1200, 1600} {
		if err := chunked.Train(context.Background(), env, TrainOptions{Steps: until}); err != nil {
			t.Fatal(err)
		}
	}
	if chunked.Updates != straight.Updates {
		t.Errorf("chunked run made %d updates, straight run %d", chunked.Updates, straight.Updates)
	}
	for i, pt := range straight.Online.Tensors {
		compareTensors(t, pt.Name, pt.Data, chunked.Online.Tensors[i].Data)
	}
}

func TestLinUCBInverseStaysExact(t *testing.T) {
	cat := generated(t, 30)
	l := NewLinUCB(cat, 3, 30)
	d := l.d
	a := make([]float64, d*d) // A = I + Σ x xᵀ, built directly
	for i := 0; i < d; i++ {
		a[i*d+i] = 1
	}
	env, _ := simenv.NewVecEnv(cat, simenv.Config{Persona: simenv.CheapBlue}, 1, 1)
	l.encoder.EncodeSession(env, 0, l.rows)
	for item := 0; item < 12; item++ {
		row := l.rows[item*d : (item+1)*d]
		l.update(row, float64(item%3))
		for r := 0; r < d; r++ {
			for c := 0; c < d; c++ {
				a[r*d+c] += float64(row[r]) * float64(row[c])
			}
		}
	}
	// A⁻¹·A must be the identity.
	for r := 0; r < d; r++ {
		for c := 0; c < d; c++ {
			s := 0.0
			for j := 0; j < d; j++ {
				s += l.inverse[r*d+j] * a[j*d+c]
			}
			want := 0.0
			if r == c {
				want = 1
			}
			if math.Abs(s-want) > 1e-9 {
				t.Fatalf("(A⁻¹A)[%d][%d] = %g, want %g", r, c, s, want)
			}
		}
	}
}

func TestLinUCBLearnsCheapBlue(t *testing.T) {
	cat := generated(t, 60)
	shop := simenv.Config{Persona: simenv.CheapBlue}
	opt := EvalOptions{Episodes: 300, Seed: 2, Sessions: 16}
	bandit, err := Evaluate(NewLinUCB(cat, 3, 30), cat, shop, opt)
	if err != nil {
		t.Fatal(err)
	}
	random, err := Evaluate(NewRandom(cat, 3, 16), cat, shop, opt)
	if err != nil {
		t.Fatal(err)
	}
	if bandit.RewardPerStep-bandit.RewardPerStepCI95 <= random.RewardPerStep+random.RewardPerStepCI95 {
		t.Errorf("linucb reward per step %.3f±%.3f does not beat random %.3f±%.3f",
			bandit.RewardPerStep, bandit.RewardPerStepCI95, random.RewardPerStep, random.RewardPerStepCI95)
	}
}

func TestEvaluateCoverageAndDiversity(t *testing.T) {
	cat := generated(t, 50)
	shop := simenv.Config{Persona: simenv.ValueSeeker}
	pop := NewPopularity(cat, 3)
	res, err := Evaluate(pop, cat, shop, EvalOptions{Episodes: 40, Seed: 1, Sessions: 8})
	if err != nil {
		t.Fatal(err)
	}
	if want := 3.0 / 50; res.Coverage != want {
		t.Errorf("popularity coverage %g, want %g", res.Coverage, want)
	}
	different := 0.0
	top := pop.top
	for a := range top {
		for b := 0; b < a; b++ {
			if cat.CategoryOf[top[a]] != cat.CategoryOf[top[b]] {
				different++
			}
		}
	}
	if want := different / 3; res.Diversity != want {
		t.Errorf("popularity diversity %g, want %g", res.Diversity, want)
	}
	random, err := Evaluate(NewRandom(cat, 3, 8), cat, shop, EvalOptions{Episodes: 200, Seed: 1, Sessions: 8})
	if err != nil {
		t.Fatal(err)
	}
	if random.Coverage < 0.9 {
		t.Errorf("random coverage %g after 200 sessions of a 50-item catalog, want nearly 1", random.Coverage)
	}
}

func TestOracleFindsBestSlate(t *testing.T) {
	cat := generated(t, 12) // small enough that the candidates are the whole catalog
	for _, persona := range []string{simenv.CheapBlue, simenv.ExposureBuyer, simenv.ValueSeeker} {
		env, _ := simenv.NewVecEnv(cat, simenv.Config{Persona: persona}, 1, 3)
		o := NewOracle(cat, 3)
		slate := make([]int32, 3)
		if err := o.Recommend(env, slate); err != nil {
			t.Fatal(err)
		}
		weight, reward := make([]float64, 12), make([]float64, 12)
		noClick := env.OracleClickValues(0, weight, reward)
		value := func(s []int32) float64 {
			num, den := 0.0, noClick
			for _, j := range s {
				num += weight[j] * reward[j]
				den += weight[j]
			}
			return num / den
		}
		best := 0.0
		for a := int32(0); a < 12; a++ {
			for b := a + 1; b < 12; b++ {
				for c := b + 1; c < 12; c++ {
					best = math.Max(best, value([]int32{a, b, c}))
				}
			}
		}
		if got := value(slate); math.Abs(got-best) > 1e-12*best {
			t.Errorf("%s: oracle slate %v has expected reward %g, the best slate %g", persona, slate, got, best)
		}
	}
}

func TestOracleBeatsRandomAndPopularity(t *testing.T) {
	cat := generated(t, 200)
	for _, persona := range []string{simenv.CheapBlue, simenv.ValueSeeker, simenv.BrandLover} {
		shop := simenv.Config{Persona: persona}
		opt := EvalOptions{Episodes: 300, Seed: 4, Sessions: 16}
		oracle, err := Evaluate(NewOracle(cat, 3), cat, shop, opt)
		if err != nil {
			t.Fatal(err)
		}
		for _, base := range []Recommender{NewRandom(cat, 3, 16), NewPopularity(cat, 3)} {
			res, err := Evaluate(base, cat, shop, opt)
			if err != nil {
				t.Fatal(err)
			}
			if oracle.RewardPerStep < res.RewardPerStep {
				t.Errorf("%s: oracle reward per step %.3f is below %s's %.3f", persona, oracle.RewardPerStep, res.Recommender, res.RewardPerStep)
			}
		}
	}
}

func TestDQNConfigRejectsHugeSizes(t *testing.T) {
	cases := map[string]func(*DQNConfig){
		"batch":     func(c *DQNConfig) { c.BatchSize = 1 << 40 },
		"replay":    func(c *DQNConfig) { c.ReplayCapacity = 1 << 40 },
		"hidden":    func(c *DQNConfig) { c.Hidden = []int{1 << 40} },
		"layers":    func(c *DQNConfig) { c.Hidden = make([]int, 1000) },
		"nan gamma": func(c *DQNConfig) { c.Gamma = math.NaN() },
	}
	for name, edit := range cases {
		cfg := DefaultDQNConfig()
		edit(&cfg)
		if err := cfg.Validate(); err == nil {
			t.Errorf("%s: Validate accepted %+v", name, cfg)
		}
	}
}

func TestRecommendersSkipUnavailableItems(t *testing.T) {
	cat := generated(t, 40)
	shop := simenv.Config{Persona: simenv.CheapBlue}
	env, _ := simenv.NewVecEnv(cat, shop, 4, 1)
	d, err := NewDQN(smallConfig(), cat, shop, 1)
	if err != nil {
		t.Fatal(err)
	}
	d.Greedy = true
	recs := []Recommender{d, NewLinUCB(cat, 3, 30), NewOracle(cat, 3), NewPosterior(cat, 3, "")}
	slates := make([]int32, 12)
	for _, rec := range recs {
		// Make the recommender's first choices unavailable, then ask again.
		if err := rec.Recommend(env, slates); err != nil {
			t.Fatal(err)
		}
		for j := range env.Available {
			env.Available[j] = true
		}
		for _, item := range slates {
			env.Available[item] = false
		}
		if err := rec.Recommend(env, slates); err != nil {
			t.Fatal(err)
		}
		for _, item := range slates {
			if !env.Available[item] {
				t.Errorf("%s showed unavailable item %d", rec.Name(), item)
			}
		}
	}
}

// resumeAt trains for k shopper-steps, saves a checkpoint through the real encoder and
// decoder, loads it into a new agent and env, and trains on to total.
func resumeAt(t *testing.T, cat *simenv.Catalog, shop simenv.Config, seed uint64, k, total int64, saveReplay bool) *DQN {
	t.Helper()
	return resumeWith(t, smallConfig(), cat, shop, seed, k, total, saveReplay)
}

// resumeWith is resumeAt for the agent configuration cfg.
func resumeWith(t *testing.T, cfg DQNConfig, cat *simenv.Catalog, shop simenv.Config, seed uint64, k, total int64, saveReplay bool) *DQN {
	t.Helper()
	return resumeAtLayout(t, cfg, cat, shop, seed, k, total, saveReplay, false)
}

// resumeAtLayout is resumeWith with the first run storing the full feature rows of earlier
// versions when full is set.
func resumeAtLayout(t *testing.T, cfg DQNConfig, cat *simenv.Catalog, shop simenv.Config, seed uint64, k, total int64, saveReplay, full bool) *DQN {
	t.Helper()
	first, err := NewDQN(cfg, cat, shop, seed)
	if err != nil {
		t.Fatal(err)
	}
	if full && !first.useLayout(first.recordWidthFor(first.width)) {
		t.Fatal("the full-row layout was not accepted")
	}
	env, _ := simenv.NewVecEnv(cat, shop, 8, TrainSeed(seed, 0))
	if err := first.Train(context.Background(), env, TrainOptions{Steps: k}); err != nil {
		t.Fatal(err)
	}
	f, err := first.Checkpoint(RunInfo{Shop: shop, Seed: seed, Sessions: 8, Env: env, SaveReplay: saveReplay})
	if err != nil {
		t.Fatal(err)
	}
	data, err := msgpack.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	decoded, err := checkpoints.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	second, embedded, err := LoadDQN(decoded, nil)
	if err != nil {
		t.Fatal(err)
	}
	env2, _ := simenv.NewVecEnv(embedded, shop, 8, 12345) // every stream comes from the checkpoint
	restored, err := second.RestoreEnv(env2)
	if err != nil || !restored {
		t.Fatalf("RestoreEnv: restored %v, error %v", restored, err)
	}
	if err := second.Train(context.Background(), env2, TrainOptions{Steps: total}); err != nil {
		t.Fatal(err)
	}
	return second
}

func TestResumeIsExact(t *testing.T) {
	cat := generated(t, 40)
	shop := simenv.Config{Persona: "exposure_buyer:0.5,learning_shopper:0.5", ReturnProb: 0.3}
	const total = 1600
	for _, procs := range []int{1, 2} {
		prev := runtime.GOMAXPROCS(procs)
		straight := trainSmall(t, cat, shop, 3, total)
		// 304 stops mid-episode for most sessions and before learning starts; 808 and 1208
		// stop after updates have begun.
		for _, k := range []int64{304, 808, 1208} {
			resumed := resumeAt(t, cat, shop, 3, k, total, true)
			if resumed.Updates != straight.Updates || resumed.Episodes != straight.Episodes || resumed.LastLoss != straight.LastLoss {
				t.Errorf("GOMAXPROCS %d, resume at %d: updates %d, episodes %d, loss %g; straight %d, %d, %g",
					procs, k, resumed.Updates, resumed.Episodes, resumed.LastLoss, straight.Updates, straight.Episodes, straight.LastLoss)
			}
			for i, pt := range straight.Online.Tensors {
				compareTensors(t, pt.Name, pt.Data, resumed.Online.Tensors[i].Data)
				compareTensors(t, "target "+pt.Name, straight.Target.Tensors[i].Data, resumed.Target.Tensors[i].Data)
				compareTensors(t, "adam m "+pt.Name, straight.Adam.M[i], resumed.Adam.M[i])
				compareTensors(t, "adam v "+pt.Name, straight.Adam.V[i], resumed.Adam.V[i])
			}
			want, _ := straight.pcg.MarshalBinary()
			got, _ := resumed.pcg.MarshalBinary()
			if string(got) != string(want) {
				t.Errorf("GOMAXPROCS %d, resume at %d: the agent's random stream diverged", procs, k)
			}
		}
		runtime.GOMAXPROCS(prev)
	}
}

func TestResumeWithoutReplayRefillsFirst(t *testing.T) {
	cat := generated(t, 40)
	shop := simenv.Config{Persona: simenv.CheapBlue}
	// Saved at 808, after updates began; without the buffer, the next update waits until
	// LearningStarts (256) new transitions are stored, 32 steps of 8 sessions.
	resumed := resumeAt(t, cat, shop, 3, 808, 808+8*31, false)
	before := resumed.Updates
	if resumed.buffer.Len() >= resumed.Config.LearningStarts {
		t.Fatalf("buffer holds %d transitions after resuming without it; want fewer than %d", resumed.buffer.Len(), resumed.Config.LearningStarts)
	}
	env := resumed.trainEnv
	if err := resumed.Train(context.Background(), env, TrainOptions{Steps: 808 + 8*40}); err != nil {
		t.Fatal(err)
	}
	if resumed.Updates <= before {
		t.Errorf("no update after refilling the buffer: updates %d, before %d", resumed.Updates, before)
	}
	straightAt := trainSmall(t, cat, shop, 3, 808)
	if before != straightAt.Updates {
		t.Errorf("updates during the refill: %d, want the %d of the saved run", before, straightAt.Updates)
	}
}
