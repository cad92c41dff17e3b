package rl

import (
	"context"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/simshop/simshop/checkpoints"
	"github.com/simshop/simshop/nn"
	"github.com/simshop/simshop/simenv"
)

// TestPolicyLossGradient checks policyLoss's gradient with respect to the logits, through
// the log-softmax, against central finite differences in float64, with a masked item and
// an entropy bonus.
func TestPolicyLossGradient(t *testing.T) {
	logits := []float64{0.3, -1.2, math.Inf(-1), 2.0, 0.7, -0.4}
	slate := []int32{3, 0, 5}
	w := []float64{1.5, -0.7, 2.2}
	const eta = 0.05
	lossAt := func(z []float64) (float64, []float64) {
		logp := make([]float64, len(z))
		grad := make([]float64, len(z))
		nn.LogSoftmax(logp, z)
		return policyLoss(logp, slate, w, eta, grad), grad
	}
	_, analytic := lossAt(logits)
	const eps = 1e-6
	for j := range logits {
		if math.IsInf(logits[j], -1) {
			if analytic[j] != 0 {
				t.Errorf("masked item %d: gradient %g, want 0", j, analytic[j])
			}
			continue
		}
		up, down := append([]float64(nil), logits...), append([]float64(nil), logits...)
		up[j] += eps
		down[j] -= eps
		lu, _ := lossAt(up)
		ld, _ := lossAt(down)
		numeric := (lu - ld) / (2 * eps)
		if math.Abs(numeric-analytic[j]) > 1e-7 {
			t.Errorf("logit %d: analytic gradient %.10g, finite difference %.10g", j, analytic[j], numeric)
		}
	}
}

// TestPolicyLossAnalyticExample works one state by hand. Logits (0, ln 2, ln 3) give
// π = (1/6, 2/6, 3/6). With item 2 in the slate at weight 1 and no entropy bonus,
// L = −ln(1/2) and ∂L/∂z = π − e_2 = (1/6, 1/3, −1/2). The top-K weight of item 2 in a
// slate of 3 is 3·(1 − 1/2)² = 0.75.
func TestPolicyLossAnalyticExample(t *testing.T) {
	logits := []float64{0, math.Log(2), math.Log(3)}
	logp := make([]float64, 3)
	grad := make([]float64, 3)
	nn.LogSoftmax(logp, logits)
	loss := policyLoss(logp, []int32{2}, []float64{1}, 0, grad)
	if want := math.Log(2); math.Abs(loss-want) > 1e-15 {
		t.Errorf("loss %.17g, want ln 2 = %.17g", loss, want)
	}
	for j, want := range []float64{1.0 / 6, 1.0 / 3, -0.5} {
		if math.Abs(grad[j]-want) > 1e-15 {
			t.Errorf("gradient %d: %.17g, want %.17g", j, grad[j], want)
		}
	}
	pi := math.Exp(logp[2])
	if lambda := 3 * math.Pow(1-pi, 2); math.Abs(lambda-0.75) > 1e-15 {
		t.Errorf("top-K weight %.17g, want 0.75", lambda)
	}
}

// TestPlackettLuceChiSquared draws ordered pairs from four items and compares their counts
// with the Plackett-Luce probabilities p_i·p_j/(1 − p_i) by Pearson's chi-squared test.
func TestPlackettLuceChiSquared(t *testing.T) {
	probs := []float64{0.1, 0.2, 0.3, 0.4}
	const draws = 40_000
	rng := rand.New(rand.NewPCG(21, 22))
	counts := map[[2]int32]float64{}
	slate := make([]int32, 2)
	for n := 0; n < draws; n++ {
		samplePlackettLuce(rng, probs, slate)
		if slate[0] == slate[1] {
			t.Fatalf("draw %d repeats item %d", n, slate[0])
		}
		counts[[2]int32{slate[0], slate[1]}]++
	}
	chi2 := 0.0
	for i := range probs {
		for j := range probs {
			if i == j {
				continue
			}
			expected := draws * probs[i] * probs[j] / (1 - probs[i])
			d := counts[[2]int32{int32(i), int32(j)}] - expected
			chi2 += d * d / expected
		}
	}
	// 12 ordered pairs give 11 degrees of freedom; 31.26 is the 0.999 quantile.
	if chi2 > 31.26 {
		t.Errorf("chi-squared %.2f over 11 degrees of freedom exceeds 31.26 (p < 0.001); counts %v", chi2, counts)
	}
}

func TestPlackettLuceSkipsZeroProbability(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	slate := make([]int32, 2)
	for n := 0; n < 1000; n++ {
		samplePlackettLuce(rng, []float64{0, 0.5, 0, 0.5}, slate)
		for _, item := range slate {
			if item == 0 || item == 2 {
				t.Fatalf("drew item %d of probability 0", item)
			}
		}
	}
	// With one item of positive probability, the second draw takes the lowest free index.
	samplePlackettLuce(rng, []float64{0, 0, 1}, slate)
	if slate[0] != 2 || slate[1] != 0 {
		t.Errorf("slate %v, want [2 0]", slate)
	}
}

func smallReinforceConfig() ReinforceConfig {
	cfg := DefaultReinforceConfig()
	cfg.Hidden = []int{16}
	cfg.BaselineHidden = []int{8}
	cfg.BatchStates = 32
	return cfg
}

func trainReinforce(t *testing.T, cat *simenv.Catalog, shop simenv.Config, seed uint64, steps int64) *Reinforce {
	t.Helper()
	r, err := NewReinforce(smallReinforceConfig(), cat, shop, seed)
	if err != nil {
		t.Fatal(err)
	}
	env, err := simenv.NewVecEnv(cat, shop, 8, TrainSeed(seed, 0))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Train(context.Background(), env, TrainOptions{Steps: steps}); err != nil {
		t.Fatal(err)
	}
	return r
}

// TestReinforceSeededRun pins a tiny run's figures: any change to sampling, returns,
// weights or the update shows here.
func TestReinforceSeededRun(t *testing.T) {
	cat := generated(t, 30)
	shop := simenv.Config{Persona: simenv.CheapBlue}
	r := trainReinforce(t, cat, shop, 7, 800)
	again := trainReinforce(t, cat, shop, 7, 800)
	if r.Updates != again.Updates || r.LastLoss != again.LastLoss {
		t.Fatalf("two runs of seed 7 differ: updates %d and %d, loss %g and %g", r.Updates, again.Updates, r.LastLoss, again.LastLoss)
	}
	compareTensors(t, "policy layer0/weight", r.Policy.Tensors[0].Data, again.Policy.Tensors[0].Data)
	const (
		wantEpisodes = 94
		wantUpdates  = 23
		wantWeight   = float32(-0.146245122)
	)
	// The loss sums float32 products, whose last bits depend on the matrix kernel.
	wantLoss := map[string]float64{"avx2": 9.6984280573573294, "go": 9.6984274165964521}
	if r.Episodes != wantEpisodes || r.Updates != wantUpdates {
		t.Errorf("episodes %d, updates %d; want %d, %d", r.Episodes, r.Updates, wantEpisodes, wantUpdates)
	}
	if want, ok := wantLoss[nn.Kernel()]; !ok {
		t.Logf("no pinned loss for the %s kernel; last loss %.17g", nn.Kernel(), r.LastLoss)
	} else if r.LastLoss != want {
		t.Errorf("last loss %.17g with the %s kernel, want %.17g", r.LastLoss, nn.Kernel(), want)
	}
	if got := r.Policy.Tensors[0].Data[0]; got != wantWeight {
		t.Errorf("first policy weight %.9g, want %.9g", got, wantWeight)
	}
}

func TestReinforceSameAcrossGOMAXPROCS(t *testing.T) {
	cat := generated(t, 30)
	shop := simenv.Config{Persona: "cheap_blue:0.5,brand_lover:0.5"}
	var runs []*Reinforce
	for _, procs := range []int{1, 2} {
		prev := runtime.GOMAXPROCS(procs)
		runs = append(runs, trainReinforce(t, cat, shop, 11, 600))
		runtime.GOMAXPROCS(prev)
	}
	if runs[0].Updates != runs[1].Updates || runs[0].LastLoss != runs[1].LastLoss {
		t.Errorf("GOMAXPROCS 1: updates %d, loss %g; GOMAXPROCS 2: %d, %g", runs[0].Updates, runs[0].LastLoss, runs[1].Updates, runs[1].LastLoss)
	}
	for i, pt := range runs[0].Policy.Tensors {
		compareTensors(t, pt.Name, pt.Data, runs[1].Policy.Tensors[i].Data)
	}
}

// TestReinforceImprovesOnCheapBlue checks that a short run's greedy policy earns far more
// per step than random slates.
func TestReinforceImprovesOnCheapBlue(t *testing.T) {
	if testing.Short() {
		t.Skip("trains for a few seconds")
	}
	cat := generated(t, 40)
	shop := simenv.Config{Persona: simenv.CheapBlue}
	trained := trainReinforce(t, cat, shop, 3, 6000)
	trained.Greedy = true
	opt := EvalOptions{Episodes: 200, Seed: 3, Sessions: 16}
	got, err := Evaluate(trained, cat, shop, opt)
	if err != nil {
		t.Fatal(err)
	}
	random, err := Evaluate(NewRandom(cat, 3, 16), cat, shop, opt)
	if err != nil {
		t.Fatal(err)
	}
	if got.RewardPerStep < 3*random.RewardPerStep {
		t.Errorf("reward per step %.3f after training, random slates %.3f; want at least three times as much", got.RewardPerStep, random.RewardPerStep)
	}
}

func TestReinforceCheckpointRoundTrip(t *testing.T) {
	cat := generated(t, 30)
	shop := simenv.Config{Persona: simenv.ValueSeeker}
	r := trainReinforce(t, cat, shop, 9, 600)
	f, err := r.Checkpoint(RunInfo{Shop: shop, Seed: 9, Sessions: 8})
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
	agent, _, err := LoadAgent(decoded, nil)
	if err != nil {
		t.Fatal(err)
	}
	loaded, ok := agent.(*Reinforce)
	if !ok {
		t.Fatalf("LoadAgent returned a %T, want *Reinforce", agent)
	}
	if loaded.EnvSteps != r.EnvSteps || loaded.Updates != r.Updates || loaded.Episodes != r.Episodes || loaded.Adam.Step != r.Adam.Step {
		t.Errorf("counters: steps %d, updates %d, episodes %d, Adam step %d; want %d, %d, %d, %d",
			loaded.EnvSteps, loaded.Updates, loaded.Episodes, loaded.Adam.Step, r.EnvSteps, r.Updates, r.Episodes, r.Adam.Step)
	}
	if loaded.Config.BatchStates != r.Config.BatchStates || loaded.Config.EntropyCoef != r.Config.EntropyCoef {
		t.Errorf("config %+v, want %+v", loaded.Config, r.Config)
	}
	for i, pt := range r.Policy.Tensors {
		compareTensors(t, pt.Name, pt.Data, loaded.Policy.Tensors[i].Data)
		compareTensors(t, "adam m "+pt.Name, r.Adam.M[i], loaded.Adam.M[i])
		compareTensors(t, "adam v "+pt.Name, r.Adam.V[i], loaded.Adam.V[i])
	}
	for i, pt := range r.Baseline.Tensors {
		compareTensors(t, "baseline "+pt.Name, pt.Data, loaded.Baseline.Tensors[i].Data)
		compareTensors(t, "baseline adam m "+pt.Name, r.BaselineAdam.M[i], loaded.BaselineAdam.M[i])
	}
	want, _ := r.pcg.MarshalBinary()
	got, _ := loaded.pcg.MarshalBinary()
	if string(got) != string(want) {
		t.Error("the random stream differs after loading")
	}
	r.Greedy, loaded.Greedy = true, true
	opt := EvalOptions{Episodes: 50, Seed: 2, Sessions: 8}
	a, err := Evaluate(r, cat, shop, opt)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Evaluate(loaded, cat, shop, opt)
	if err != nil {
		t.Fatal(err)
	}
	if a != b {
		t.Errorf("evaluation after loading %+v, before %+v", b, a)
	}

	decoded.Training.Baseline = nil
	if _, _, err := LoadReinforce(decoded, nil); err == nil {
		t.Error("a checkpoint without its baseline loaded")
	}
}

func TestPolicyLossFiniteAtLargeLogits(t *testing.T) {
	logp := make([]float64, 4)
	nn.LogSoftmax(logp, []float64{1000, 1003, 998, -1000})
	grad := make([]float64, 4)
	loss := policyLoss(logp, []int32{3, 0}, []float64{2, -1}, 0.01, grad)
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		t.Fatalf("loss %g at logits near 1e3, want a finite value", loss)
	}
	sum := 0.0
	for j, g := range grad {
		if math.IsNaN(g) || math.IsInf(g, 0) {
			t.Errorf("gradient %d is %g at logits near 1e3", j, g)
		}
		sum += g
	}
	// A softmax's logit gradients sum to 0, whatever the weights.
	if math.Abs(sum) > 1e-9 {
		t.Errorf("logit gradients sum to %g, want 0", sum)
	}
}

func TestPolicyLossZeroWeightOfMaskedItem(t *testing.T) {
	logp := make([]float64, 3)
	nn.LogSoftmax(logp, []float64{math.Inf(-1), 0, 1})
	grad := make([]float64, 3)
	loss := policyLoss(logp, []int32{1, 0}, []float64{1, 0}, 0.01, grad)
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		t.Fatalf("loss %g with a masked item of weight 0 in the slate, want a finite value", loss)
	}
	for j, g := range grad {
		if math.IsNaN(g) || math.IsInf(g, 0) {
			t.Errorf("gradient %d is %g", j, g)
		}
	}
}

func TestReinforceRecommendOutsideTrain(t *testing.T) {
	cat := generated(t, 20)
	shop := simenv.Config{Persona: simenv.CheapBlue}
	r, err := NewReinforce(smallReinforceConfig(), cat, shop, 1)
	if err != nil {
		t.Fatal(err)
	}
	env, _ := simenv.NewVecEnv(cat, shop, 2, 1)
	if err := r.Recommend(env, make([]int32, 2*3)); err == nil {
		t.Error("a non-greedy Recommend outside Train returned no error")
	}
}

// TestReinforceResumeIsExact trains to k, saves with the simulator state and rollouts
// through the real encoder and decoder, resumes in a new env, and checks that the run
// matches one that never stopped.
func TestReinforceResumeIsExact(t *testing.T) {
	cat := generated(t, 30)
	shop := simenv.Config{Persona: "cheap_blue:0.5,value_seeker:0.5", ReturnProb: 0.3}
	const total = 1200
	straight := trainReinforce(t, cat, shop, 13, total)
	for _, k := range []int64{200, 600} {
		first, err := NewReinforce(smallReinforceConfig(), cat, shop, 13)
		if err != nil {
			t.Fatal(err)
		}
		env, _ := simenv.NewVecEnv(cat, shop, 8, TrainSeed(13, 0))
		if err := first.Train(context.Background(), env, TrainOptions{Steps: k}); err != nil {
			t.Fatal(err)
		}
		f, err := first.Checkpoint(RunInfo{Shop: shop, Seed: 13, Sessions: 8, Env: env, SaveReplay: true})
		if err != nil {
			t.Fatal(err)
		}
		if f.Training.Rollouts == nil || len(f.Training.Rollouts.Session) == 0 {
			t.Fatalf("resume at %d: the checkpoint holds no rollouts", k)
		}
		data, err := msgpack.Marshal(f)
		if err != nil {
			t.Fatal(err)
		}
		decoded, err := checkpoints.Decode(data)
		if err != nil {
			t.Fatal(err)
		}
		second, embedded, err := LoadReinforce(decoded, nil)
		if err != nil {
			t.Fatal(err)
		}
		env2, _ := simenv.NewVecEnv(embedded, shop, 8, 12345) // every stream comes from the checkpoint
		if restored, err := second.RestoreEnv(env2); err != nil || !restored {
			t.Fatalf("RestoreEnv: restored %v, error %v", restored, err)
		}
		if err := second.Train(context.Background(), env2, TrainOptions{Steps: total}); err != nil {
			t.Fatal(err)
		}
		if second.Updates != straight.Updates || second.Episodes != straight.Episodes || second.LastLoss != straight.LastLoss {
			t.Errorf("resume at %d: updates %d, episodes %d, loss %g; straight %d, %d, %g",
				k, second.Updates, second.Episodes, second.LastLoss, straight.Updates, straight.Episodes, straight.LastLoss)
		}
		for i, pt := range straight.Policy.Tensors {
			compareTensors(t, pt.Name, pt.Data, second.Policy.Tensors[i].Data)
			compareTensors(t, "adam m "+pt.Name, straight.Adam.M[i], second.Adam.M[i])
		}
		for i, pt := range straight.Baseline.Tensors {
			compareTensors(t, "baseline "+pt.Name, pt.Data, second.Baseline.Tensors[i].Data)
		}
	}

	// Without SaveReplay the checkpoint stores no simulator state, and RestoreEnv reports it.
	f, err := straight.Checkpoint(RunInfo{Shop: shop, Seed: 13, Sessions: 8, Env: straight.trainEnv})
	if err != nil {
		t.Fatal(err)
	}
	if f.Training.Env != nil || f.Training.Rollouts != nil {
		t.Error("a checkpoint without SaveReplay stores the simulator state or rollouts")
	}
}

// TestReinforceReportsPurchases checks that training progress counts the purchases of
// REINFORCE's slates, which metrics.csv and the dashboard plot.
func TestReinforceReportsPurchases(t *testing.T) {
	cat := generated(t, 30)
	shop := simenv.Config{Persona: simenv.CheapBlue}
	r, err := NewReinforce(smallReinforceConfig(), cat, shop, 7)
	if err != nil {
		t.Fatal(err)
	}
	env, err := simenv.NewVecEnv(cat, shop, 8, TrainSeed(7, 0))
	if err != nil {
		t.Fatal(err)
	}
	var reports []TrainProgress
	opt := TrainOptions{Steps: 800, Every: 200, Progress: func(p TrainProgress) { reports = append(reports, p) }}
	if err := r.Train(context.Background(), env, opt); err != nil {
		t.Fatal(err)
	}
	purchases := 0.0
	for _, p := range reports {
		if p.PurchaseRate < 0 || p.PurchaseRate > p.CTR {
			t.Errorf("step %d: purchase rate %g outside [0, CTR %g]", p.EnvSteps, p.PurchaseRate, p.CTR)
		}
		purchases += p.PurchaseRate
	}
	if len(reports) != 4 || purchases == 0 {
		t.Errorf("%d reports with purchase rates summing to %g; want 4 reports and some purchases of cheap_blue", len(reports), purchases)
	}
}
