package rl

import (
	"context"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/simshop/simshop/checkpoints"
	"github.com/simshop/simshop/nn"
	"github.com/simshop/simshop/simenv/recsim"
)

func TestBestSlateMatchesExhaustive(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 500 {
		n := 2 + rng.IntN(8)
		k := 1 + rng.IntN(min(n, 3))
		v, q := make([]float64, n), make([]float64, n)
		for j := range n {
			v[j] = 0.01 + rng.Float64()*2
			q[j] = rng.NormFloat64() * 3
		}
		vNull, qNull := 0.1+rng.Float64(), rng.NormFloat64()*3
		dst := make([]int32, k)
		got := bestSlate(v, q, vNull, qNull, dst, make([]float64, n))
		if math.Abs(got-slateValue(v, q, vNull, qNull, dst)) > 1e-12 {
			t.Fatalf("trial %d: returned value %v is not the value of slate %v", trial, got, dst)
		}
		want := exhaustiveBest(v, q, vNull, qNull, k)
		if got < want-1e-9 {
			t.Errorf("trial %d (n=%d, k=%d): bestSlate found %v, exhaustive search %v", trial, n, k, got, want)
		}
	}
}

// exhaustiveBest returns the largest slateValue over every set of k positions.
func exhaustiveBest(v, q []float64, vNull, qNull float64, k int) float64 {
	best := math.Inf(-1)
	slate := make([]int32, k)
	var walk func(from, depth int)
	walk = func(from, depth int) {
		if depth == k {
			best = max(best, slateValue(v, q, vNull, qNull, slate))
			return
		}
		for j := from; j < len(v); j++ {
			slate[depth] = int32(j)
			walk(j+1, depth+1)
		}
	}
	walk(0, 0)
	return best
}

func TestChoiceGradientMatchesFiniteDifferences(t *testing.T) {
	m, err := NewChoiceModel(false, 0.01)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range m.Params.Tensors[0].Data {
		m.Params.Tensors[0].Data[i] = float32(0.3 + 0.4*rng.Float64())
	}
	m.Params.Tensors[1].Data[0] = 0.6
	var obs []choiceObservation
	for range 8 {
		u := make([]float32, recsim.Topics)
		for c := range u {
			u[c] = float32(2*rng.Float64() - 1)
		}
		shown := []uint8{uint8(rng.IntN(recsim.Topics)), uint8(rng.IntN(recsim.Topics))}
		obs = append(obs, choiceObservation{user: u, shown: shown, click: rng.IntN(3) - 1})
	}
	m.negLogLikelihood(obs)
	analytic := [][]float32{append([]float32(nil), m.grads[0]...), append([]float32(nil), m.grads[1]...)}
	const h = 1e-3
	for k, p := range m.Params.Tensors {
		for i := range p.Data {
			orig := p.Data[i]
			p.Data[i] = orig + h
			up := m.negLogLikelihood(obs)
			p.Data[i] = orig - h
			down := m.negLogLikelihood(obs)
			p.Data[i] = orig
			numeric := (up - down) / (2 * h)
			if math.Abs(numeric-float64(analytic[k][i])) > 1e-3*(1+math.Abs(numeric)) {
				t.Errorf("%s[%d]: analytic gradient %v, finite difference %v", p.Name, i, analytic[k][i], numeric)
			}
		}
	}
}

func TestChoiceModelLearnsRecSimModel(t *testing.T) {
	m, err := NewChoiceModel(false, 0.002)
	if err != nil {
		t.Fatal(err)
	}
	truth, err := NewChoiceModel(true, 0.01)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	batch := make([]choiceObservation, 64)
	for range 3000 {
		for b := range batch {
			u := make([]float32, recsim.Topics)
			for c := range u {
				u[c] = float32(2*rng.Float64() - 1)
			}
			shown := []uint8{uint8(rng.IntN(recsim.Topics)), uint8(rng.IntN(recsim.Topics))}
			v0, v1 := truth.Score(u, shown[0]), truth.Score(u, shown[1])
			draw := rng.Float64() * (1 + v0 + v1)
			click := -1
			if draw < v0 {
				click = 0
			} else if draw < v0+v1 {
				click = 1
			}
			batch[b] = choiceObservation{user: u, shown: shown, click: click}
		}
		m.Learn(batch)
	}
	// The learned score must be close to RecSim's (u[c] + 1)/2 over the interest range.
	for c := range uint8(recsim.Topics) {
		for _, x := range []float32{-0.8, 0, 0.8} {
			u := make([]float32, recsim.Topics)
			u[c] = x
			if got, want := m.Score(u, c), truth.Score(u, c); math.Abs(got-want) > 0.1 {
				t.Errorf("cluster %d interest %v: learned score %.3f, RecSim's %.3f", c, x, got, want)
			}
		}
	}
}

// linearSlateQ returns an agent for 3 candidates and slates of 2 whose online and target
// networks both compute Q(row) = Σ_k w[k]·row[k] exactly: the hidden layer passes each input
// through relu(x) and relu(-x), and the output layer adds them back with weights w and -w.
func linearSlateQ(t *testing.T, target string, w []float32) *SlateQ {
	t.Helper()
	cfg := DefaultSlateQConfig()
	inputs := 2*recsim.Topics + 1
	cfg.Hidden = []int{2 * inputs}
	cfg.Gamma = 0.9
	cfg.TrueChoice = true
	cfg.History = false
	cfg.BatchSize, cfg.ReplayCapacity, cfg.LearningStarts = 1, 1, 1
	cfg.Target = target
	a, err := NewSlateQ(cfg, recsim.Config{Candidates: 3, Slate: 2, Resample: true}, 1)
	if err != nil {
		t.Fatal(err)
	}
	set := func(p *nn.Params[float32]) {
		w0, b0, w1, b1 := p.Tensors[0].Data, p.Tensors[1].Data, p.Tensors[2].Data, p.Tensors[3].Data
		clear(w0)
		clear(b0)
		clear(b1)
		for k := range inputs {
			w0[k*2*inputs+2*k] = 1
			w0[k*2*inputs+2*k+1] = -1
			w1[2*k] = w[k]
			w1[2*k+1] = -w[k]
		}
	}
	set(a.Online)
	set(a.Target)
	if a.buffer, err = newSlateReplay(1, recsim.Topics, 3, 2); err != nil {
		t.Fatal(err)
	}
	return a
}

// TestSlateQTargetTwoSteps checks the bootstrap target of one transition of a two-step
// example against values computed by hand. Q(row) = u[3] + 2·[cluster 3] + 5·[cluster 7] +
// [cluster 9] + 3·[⊥]; the user's interests are u[3] = 0.5 before the step and u[3] = 0.6,
// u[7] = -0.4, u[9] = 0.2 after it; the candidates are clusters 9, 3, 7 before and 7, 9, 3
// after; γ = 0.9 and the reward is 4 minutes, 1 video at scale 0.25.
//
// Next state: Q(s', 7) = 5.6, Q(s', 9) = 1.6, Q(s', 3) = 2.6, Q(s', ⊥) = 3.6, with RecSim's
// scores (u + 1)/2 = 0.3, 0.6, 0.8 against 1 for no click. The slates {7, 9}, {7, 3}, {9, 3}
// are worth 6.24/1.9, 7.36/2.1 and 6.64/2.4, so y = 1 + 0.9·7.36/2.1.
//
// Current state, as RecSim and RLlib compute it: the positions' Q-values come from s and
// its candidates, Q(s, 9) = 1.5, Q(s, 3) = 2.5, Q(s, 7) = 5.5, Q(s, ⊥) = 3.5, while the
// scores 0.3, 0.6, 0.8 come from s'. The position pairs {0, 1}, {0, 2}, {1, 2} are worth
// 5.45/1.9, 8.35/2.1 and 9.4/2.4, so y = 1 + 0.9·8.35/2.1.
func TestSlateQTargetTwoSteps(t *testing.T) {
	inputs := 2*recsim.Topics + 1
	w := make([]float32, inputs)
	w[3] = 1
	w[recsim.Topics+3], w[recsim.Topics+7], w[recsim.Topics+9] = 2, 5, 1
	w[2*recsim.Topics] = 3

	before := make([]float32, recsim.Topics)
	before[3] = 0.5
	after := make([]float32, recsim.Topics)
	after[3], after[7], after[9] = 0.6, -0.4, 0.2

	for _, c := range []struct {
		target string
		want   float64
	}{
		{SlateQTargetNext, 1 + 0.9*7.36/2.1},
		{SlateQTargetCurrent, 1 + 0.9*8.35/2.1},
	} {
		a := linearSlateQ(t, c.target, w)
		// Step 1: the slate shows positions 1 and 2 (clusters 3 and 7); the user clicks
		// position 1, cluster 7, and watches 4 minutes.
		a.buffer.add(before, []int32{9, 3, 7}, []int32{1, 2}, 1, 4, false, after, []int32{7, 9, 3})
		if _, err := a.Update(); err != nil {
			t.Fatal(err)
		}
		if got := float64(a.trainer.Target()[0]); math.Abs(got-c.want) > 1e-5 {
			t.Errorf("%s target: got %v, want %v", c.target, got, c.want)
		}
		// The regression row is the clicked item, cluster 7, in the state before the step.
		row := a.trainer.Input()[:inputs]
		if row[3] != 0.5 || row[recsim.Topics+7] != 1 || row[2*recsim.Topics] != 0 {
			t.Errorf("%s: regression row %v is not cluster 7 in the state before the step", c.target, row)
		}

		// Step 2 ends the episode: y is the reward alone, here no click and no reward.
		a.buffer.add(after, []int32{7, 9, 3}, []int32{0, 1}, -1, 0, true, after, []int32{7, 9, 3})
		if _, err := a.Update(); err != nil {
			t.Fatal(err)
		}
		if got := a.trainer.Target()[0]; got != 0 {
			t.Errorf("%s terminal target: got %v, want 0", c.target, got)
		}
		row = a.trainer.Input()[:inputs]
		if row[2*recsim.Topics] != 1 || row[recsim.Topics+7] != 0 {
			t.Errorf("%s: regression row of a step without a click is not ⊥: %v", c.target, row)
		}
	}
}

func TestSlateQTrainDeterministic(t *testing.T) {
	run := func() (*SlateQ, recsim.Summary) {
		cfg := DefaultSlateQConfig()
		cfg.Hidden = []int{16}
		cfg.BatchSize, cfg.LearningStarts, cfg.EpsilonSteps = 16, 200, 1000
		cfg.History = true
		scenario := recsim.DefaultConfig()
		a, err := NewSlateQ(cfg, scenario, 3)
		if err != nil {
			t.Fatal(err)
		}
		env, err := recsim.NewVecEnv(scenario, 4, 3)
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Train(context.Background(), env, 3, TrainOptions{Steps: 2000}); err != nil {
			t.Fatal(err)
		}
		pol, err := NewSlateQPolicy(a, 4)
		if err != nil {
			t.Fatal(err)
		}
		s, err := recsim.Evaluate(scenario, pol, 20, 4, 9)
		if err != nil {
			t.Fatal(err)
		}
		return a, s
	}
	a, sa := run()
	// The second run uses one OS thread: results must not depend on GOMAXPROCS.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	b, sb := run()
	if a.Updates == 0 || a.Updates != b.Updates || a.Episodes != b.Episodes {
		t.Fatalf("updates %d and %d, episodes %d and %d", a.Updates, b.Updates, a.Episodes, b.Episodes)
	}
	for k, p := range a.Online.Tensors {
		for i, x := range p.Data {
			if x != b.Online.Tensors[k].Data[i] {
				t.Fatalf("%s[%d]: %v and %v after identical runs", p.Name, i, x, b.Online.Tensors[k].Data[i])
			}
		}
	}
	if sa != sb {
		t.Errorf("evaluations differ: %+v and %+v", sa, sb)
	}
}

func TestSlateQCheckpointRoundTrip(t *testing.T) {
	cfg := DefaultSlateQConfig()
	cfg.Hidden = []int{8}
	cfg.History = true
	scenario := recsim.Config{Candidates: 5, Slate: 2, Resample: true, Quirks: true}
	a, err := NewSlateQ(cfg, scenario, 4)
	if err != nil {
		t.Fatal(err)
	}
	a.Choice.Params.Tensors[0].Data[3] = 0.7
	a.EnvSteps = 1234
	f, err := a.Checkpoint(4, 8, map[string]float64{"return_mean": 1})
	if err != nil {
		t.Fatal(err)
	}
	path := t.TempDir() + "/slateq.msgpack"
	if err := checkpoints.Save(path, f); err != nil {
		t.Fatal(err)
	}
	g, err := checkpoints.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := LoadSlateQ(g)
	if err != nil {
		t.Fatal(err)
	}
	if b.Scenario != scenario || !b.Config.History || b.EnvSteps != 1234 {
		t.Errorf("loaded scenario %+v, history %v, steps %d", b.Scenario, b.Config.History, b.EnvSteps)
	}
	for k, p := range a.Online.Tensors {
		for i, x := range p.Data {
			if b.Online.Tensors[k].Data[i] != x || b.Target.Tensors[k].Data[i] != a.Target.Tensors[k].Data[i] {
				t.Fatalf("%s[%d] differs after loading", p.Name, i)
			}
		}
	}
	if got := b.Choice.Weights(); got[3] != 0.7 {
		t.Errorf("choice weight 3 is %v after loading, want 0.7", got[3])
	}

	f.Metadata.Agent = "dqn"
	if _, err := LoadSlateQ(f); err == nil {
		t.Error("a DQN checkpoint loaded as SlateQ")
	}
}

// TestSlateQEvaluatesOtherScenarios checks that a SlateQ agent plays greedily on more or
// fewer candidates and on other slate sizes than it was built for, as eval --candidates
// and --slate ask, exactly as an agent with the same weights built for that scenario.
func TestSlateQEvaluatesOtherScenarios(t *testing.T) {
	cfg := DefaultSlateQConfig()
	cfg.Hidden = []int{8}
	trained := recsim.DefaultConfig()
	evaluate := func(a *SlateQ, scenario recsim.Config) recsim.Summary {
		t.Helper()
		pol, err := NewSlateQPolicy(a, 4)
		if err != nil {
			t.Fatal(err)
		}
		s, err := recsim.Evaluate(scenario, pol, 8, 4, 5)
		if err != nil {
			t.Fatalf("candidates %d, slate %d: %v", scenario.Candidates, scenario.Slate, err)
		}
		return s
	}
	a, err := NewSlateQ(cfg, trained, 2)
	if err != nil {
		t.Fatal(err)
	}
	before := evaluate(a, trained)
	for _, c := range [][2]int{{50, 2}, {5, 2}, {10, 3}, {10, 1}} {
		other := trained
		other.Candidates, other.Slate = c[0], c[1]
		native, err := NewSlateQ(cfg, other, 2)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := evaluate(a, other), evaluate(native, other); got != want {
			t.Errorf("candidates %d, slate %d: agent built for %d and %d gives %+v, one built for it %+v",
				c[0], c[1], trained.Candidates, trained.Slate, got, want)
		}
	}
	if after := evaluate(a, trained); after != before {
		t.Errorf("on its own scenario after the others: %+v, before them %+v", after, before)
	}
}
