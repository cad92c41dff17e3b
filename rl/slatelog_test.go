package rl

import (
	"bytes"
	"context"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/simshop/simshop/checkpoints"
	"github.com/simshop/simshop/nn"
	"github.com/simshop/simshop/simenv"
)

// recordTestLog records a small log of a stochastic popularity policy on cheap_blue.
func recordTestLog(t *testing.T, cat *simenv.Catalog, sessions int, seed uint64) *SlateLog {
	t.Helper()
	shop := simenv.Config{Persona: simenv.CheapBlue}.WithDefaults()
	policy, err := NewLoggingPolicy(LoggingPolicyInfo{Base: "popularity", Temperature: 2, Epsilon: 0.2}, nil, cat, shop.SlateSize)
	if err != nil {
		t.Fatal(err)
	}
	l, err := RecordLog(policy, cat, shop, LogOptions{Sessions: sessions, Seed: seed, Parallel: 4})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func writeTestLog(t *testing.T, l *SlateLog) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "log.msgpack")
	if err := WriteSlateLog(path, l); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestSlateLogRoundTrip(t *testing.T) {
	cat := generated(t, 30)
	l := recordTestLog(t, cat, 12, 5)
	path := writeTestLog(t, l)
	got, err := ReadSlateLog(path, cat)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, l) {
		t.Errorf("the log read back differs from the log written:\n got %+v\nwant %+v", got, l)
	}
	if got.NumSessions() != 12 {
		t.Errorf("%d sessions, want 12", got.NumSessions())
	}

	l.Propensities = nil
	got, err = ReadSlateLog(writeTestLog(t, l), cat)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, l) || got.HasPropensities() || got.Session(0).Propensities != nil {
		t.Errorf("a log without propensities read back as %+v", got)
	}
}

// TestSlateLogIndependentOfParallel checks that a log depends on its seed alone, not on
// the number of sessions stepped together.
func TestSlateLogIndependentOfParallel(t *testing.T) {
	cat := generated(t, 30)
	shop := simenv.Config{Persona: simenv.CheapBlue}.WithDefaults()
	var logs []*SlateLog
	for _, parallel := range []int{1, 5} {
		policy, err := NewLoggingPolicy(LoggingPolicyInfo{Base: "random", Temperature: 1}, nil, cat, shop.SlateSize)
		if err != nil {
			t.Fatal(err)
		}
		l, err := RecordLog(policy, cat, shop, LogOptions{Sessions: 9, Seed: 3, Parallel: parallel})
		if err != nil {
			t.Fatal(err)
		}
		l.Created = ""
		logs = append(logs, l)
	}
	if !reflect.DeepEqual(logs[0], logs[1]) {
		t.Errorf("the logs of 1 and 5 parallel sessions differ")
	}
	for _, p := range logs[0].Propensities {
		if p != 1.0/30 {
			t.Fatalf("random policy propensity %v, want 1/30", p)
		}
	}
}

// TestReplayFeaturesMatchLiveEnv plays every logged session again in a live VecEnv, from
// its seed and its logged slates. Before each slate, the features rebuilt from the logged
// events must equal, bit for bit, those that the encoder reads from the live env.
func TestReplayFeaturesMatchLiveEnv(t *testing.T) {
	cat := generated(t, 40)
	l := recordTestLog(t, cat, 25, 9)
	enc := NewEncoding(cat, l.Shop.MaxSteps)
	enc.BrandFeatures = true
	encoder := NewEncoder(enc, cat)
	w, m, k := enc.Width(), cat.Len(), l.Shop.SlateSize
	live, rebuilt := make([]float32, m*w), make([]float32, m*w)
	env, err := simenv.NewVecEnv(cat, l.Shop, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	env.AutoReset = false
	out := simenv.NewStepResult(1)
	replay := NewSessionReplay(m)

	clicks := 0
	for e := range l.NumSessions() {
		s := l.Session(e)
		s1, s2 := LogEpisodeSeed(l.Seed, e)
		if err := env.ResetSession(0, s1, s2); err != nil {
			t.Fatal(err)
		}
		replay.Reset()
		for step := range s.Clicks {
			encoder.EncodeSession(env, 0, live)
			encoder.EncodeView(replay.View(), rebuilt)
			for j := range live {
				if math.Float32bits(live[j]) != math.Float32bits(rebuilt[j]) {
					t.Fatalf("session %d, slate %d, item %d, feature %d: live %v, rebuilt %v", e, step, j/w, j%w, live[j], rebuilt[j])
				}
			}

			slate := s.Slates[step*k : (step+1)*k]
			if err := env.Step(slate, out); err != nil {
				t.Fatal(err)
			}
			if out.Click[0] != s.Clicks[step] || out.Bought[0] != s.Purchases[step] || out.Reward[0] != s.Rewards[step] {
				t.Fatalf("session %d, slate %d: live click %d, purchase %v, reward %v; logged %d, %v, %v",
					e, step, out.Click[0], out.Bought[0], out.Reward[0], s.Clicks[step], s.Purchases[step], s.Rewards[step])
			}
			if out.Done[0] != (step == len(s.Clicks)-1) {
				t.Fatalf("session %d, slate %d of %d: live session done %v", e, step, len(s.Clicks), out.Done[0])
			}
			if s.Clicks[step] >= 0 {
				clicks++
			}
			replay.Apply(slate, s.Clicks[step], s.Purchases[step])
		}
	}
	if clicks == 0 {
		t.Fatal("the log has no clicks, so the click features were never compared")
	}
}

// TestOffPolicyWeightByHand works one logged state by hand. Logits (0, ln 2, ln 3) give
// π = (1/6, 1/3, 1/2). The logging policy showed the slate [2, 0] of K = 2 with
// propensities β = (1/4, 1/100), returns G = (1, 2) and baseline 0.5, so A = (0.5, 1.5):
//
//	item 2: ρ = min(0.5/0.25, 10) = 2,   λ_K = 2·(1 − 1/2) = 1,   w = 2·1·0.5 = 1
//	item 0: ρ = min(16.67, 10) = 10,     λ_K = 2·(1 − 1/6) = 5/3, w = 10·5/3·1.5 = 25
//
// and ∂L/∂z_j = π_j·Σw − w_j = (26/6 − 25, 26/3, 13 − 1) = (−62/3, 26/3, 12).
func TestOffPolicyWeightByHand(t *testing.T) {
	cfg := DefaultReinforceConfig()
	cfg.MaxWeight = 10
	cfg.TopKCorrection = true
	logits := []float64{0, math.Log(2), math.Log(3)}
	logp, grad := make([]float64, 3), make([]float64, 3)
	nn.LogSoftmax(logp, logits)
	slate := []int32{2, 0}
	beta := []float64{0.25, 0.01}
	advantage := []float64{0.5, 1.5}
	weights := make([]float64, 2)
	for a, item := range slate {
		weights[a] = cfg.offPolicyWeight(math.Exp(logp[item]), beta[a], advantage[a], 2)
	}
	for a, want := range []float64{1, 25} {
		if math.Abs(weights[a]-want) > 1e-12 {
			t.Errorf("weight of slate position %d: %.15g, want %g", a, weights[a], want)
		}
	}
	loss := policyLoss(logp, slate, weights, 0, grad)
	if want := math.Log(2) + 25*math.Log(6); math.Abs(loss-want) > 1e-12 {
		t.Errorf("loss %.15g, want ln 2 + 25 ln 6 = %.15g", loss, want)
	}
	for j, want := range []float64{-62.0 / 3, 26.0 / 3, 12} {
		if math.Abs(grad[j]-want) > 1e-12 {
			t.Errorf("gradient of logit %d: %.15g, want %.15g", j, grad[j], want)
		}
	}

	// Without ρ and λ_K the weights are the advantages; without ρ alone, λ_K·A.
	cfg.NoImportanceRatio = true
	if w := cfg.offPolicyWeight(1.0/6, 0.01, 1.5, 2); math.Abs(w-2.5) > 1e-12 {
		t.Errorf("weight without ρ: %.15g, want 5/3·1.5 = 2.5", w)
	}
	cfg.TopKCorrection = false
	if w := cfg.offPolicyWeight(1.0/6, 0.01, 1.5, 2); w != 1.5 {
		t.Errorf("weight without ρ and λ_K: %.15g, want 1.5", w)
	}
}

// TestUpdateUsesLoggedPropensities checks that an update from one logged state sends the
// network the gradient ∂L/∂z_j = (π_j·Σw − w_j)/B with w = ρ·λ_K·A of the logged β.
func TestUpdateUsesLoggedPropensities(t *testing.T) {
	cat := generated(t, 6)
	shop := simenv.Config{Persona: simenv.CheapBlue, SlateSize: 2}
	cfg := smallReinforceConfig()
	cfg.BatchStates = 1
	cfg.EntropyCoef = 0
	cfg.MaxWeight = 3
	r, err := NewReinforce(cfg, cat, shop, 4)
	if err != nil {
		t.Fatal(err)
	}
	rec := r.newRecord()
	v := NewSessionReplay(cat.Len())
	r.encoder.EncodeView(v.View(), rec.features)
	for j := range rec.available {
		rec.available[j] = true
	}
	copy(rec.slate, []int32{4, 1})
	copy(rec.behaviour, []float64{0.5, 0.02})
	copy(rec.ret, []float64{2, -1})
	r.ready = append(r.ready, rec)
	if ok, err := r.Update(); err != nil || !ok {
		t.Fatalf("update: %v, %v", ok, err)
	}

	z := r.backprop.Output()
	logits := make([]float64, cat.Len())
	for j := range logits {
		logits[j] = float64(z[j])
	}
	logp := make([]float64, cat.Len())
	nn.LogSoftmax(logp, logits)
	b := float64(r.values[0])
	var w [2]float64
	for a, item := range rec.slate {
		pi := math.Exp(logp[item])
		w[a] = min(pi/rec.behaviour[a], 3) * 2 * (1 - pi) * (rec.ret[a] - b)
	}
	upstream := r.backprop.Upstream()
	for j := range logits {
		want := math.Exp(logp[j]) * (w[0] + w[1])
		for a, item := range rec.slate {
			if int(item) == j {
				want -= w[a]
			}
		}
		if math.Abs(float64(upstream[j])-want) > 1e-5*max(1, math.Abs(want)) {
			t.Errorf("∂L/∂z of item %d: %.7g, want %.7g", j, upstream[j], want)
		}
	}
}

func trainFromTestLog(t *testing.T, l *SlateLog, cat *simenv.Catalog, seed uint64, steps int64) *Reinforce {
	t.Helper()
	r, err := NewReinforce(smallReinforceConfig(), cat, l.Shop, seed)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.TrainFromLog(context.Background(), l, TrainOptions{Steps: steps}); err != nil {
		t.Fatal(err)
	}
	return r
}

// TestTrainFromLogSeededRun pins a tiny run from a log: any change to the log, the rebuilt
// features, the weights or the update shows here.
func TestTrainFromLogSeededRun(t *testing.T) {
	cat := generated(t, 30)
	l := recordTestLog(t, cat, 40, 2)
	r := trainFromTestLog(t, l, cat, 7, 600)
	again := trainFromTestLog(t, l, cat, 7, 600)
	if r.Updates != again.Updates || r.LastLoss != again.LastLoss {
		t.Fatalf("two runs of seed 7 differ: updates %d and %d, loss %g and %g", r.Updates, again.Updates, r.LastLoss, again.LastLoss)
	}
	compareTensors(t, "policy layer0/weight", r.Policy.Tensors[0].Data, again.Policy.Tensors[0].Data)
	const (
		wantSteps    = 603
		wantEpisodes = 79
		wantUpdates  = 18
		wantWeight   = float32(-0.144453868)
	)
	// The loss sums float32 products, whose last bits depend on the matrix kernel.
	wantLoss := map[string]float64{"avx2": 0.6798063925386244, "go": 0.67980626676881173}
	if r.EnvSteps != wantSteps || r.Episodes != wantEpisodes || r.Updates != wantUpdates {
		t.Errorf("steps %d, episodes %d, updates %d; want %d, %d, %d", r.EnvSteps, r.Episodes, r.Updates, wantSteps, wantEpisodes, wantUpdates)
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

// TestTrainFromLogImprovesOnLogger checks that REINFORCE learned from a stochastic
// popularity log earns more per step than the popularity baseline on cheap_blue.
func TestTrainFromLogImprovesOnLogger(t *testing.T) {
	cat := generated(t, 40)
	l := recordTestLog(t, cat, 300, 1)
	r := trainFromTestLog(t, l, cat, 1, 8000)
	r.Greedy = true
	learned, err := Evaluate(r, cat, l.Shop, EvalOptions{Episodes: 100, Seed: 1, Sessions: 16})
	if err != nil {
		t.Fatal(err)
	}
	popular, err := Evaluate(NewPopularity(cat, 3), cat, l.Shop, EvalOptions{Episodes: 100, Seed: 1, Sessions: 16})
	if err != nil {
		t.Fatal(err)
	}
	if learned.RewardPerStep < 2*popular.RewardPerStep {
		t.Errorf("reward per step %.3f from the log, popularity %.3f; want at least twice popularity's", learned.RewardPerStep, popular.RewardPerStep)
	}
}

func TestReadSlateLogRejectsBadInput(t *testing.T) {
	cat := generated(t, 30)
	l := recordTestLog(t, cat, 6, 1)
	data, err := msgpack.Marshal(l)
	if err != nil {
		t.Fatal(err)
	}
	reencode := func(change func(*SlateLog)) []byte {
		var c SlateLog
		if err := msgpack.Unmarshal(data, &c); err != nil {
			t.Fatal(err)
		}
		change(&c)
		b, err := msgpack.Marshal(&c)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	// A map of one key "lengths" whose array declares 2^32-1 elements in 5 bytes.
	huge := append([]byte{0x81, 0xa7}, "lengths"...)
	huge = append(huge, 0xdd, 0xff, 0xff, 0xff, 0xff)
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"truncated", data[:len(data)-7], "truncated or corrupted"},
		{"empty", nil, "not a SimShop slate log"},
		{"not msgpack", []byte("item_id,category\n"), "not a SimShop slate log"},
		{"wrong magic", reencode(func(c *SlateLog) { c.Magic = "simshop-checkpoint" }), "not a SimShop slate log"},
		{"wrong version", reencode(func(c *SlateLog) { c.Version = 2 }), "format version 2"},
		{"huge array", huge, "only 0 bytes remain"},
		{"trailing bytes", append(bytes.Clone(data), 0xc0), "follow the end"},
		{"propensity 0", reencode(func(c *SlateLog) { c.Propensities[4] = 0 }), "propensity 0 is invalid"},
		{"click outside slate", reencode(func(c *SlateLog) { c.Clicks[1] = 3 }), "click position 3 is invalid"},
		{"item outside catalog", reencode(func(c *SlateLog) { c.Slates[2] = 30 }), "item 30 is outside the catalog"},
		{"missing rewards", reencode(func(c *SlateLog) { c.Rewards = c.Rewards[:1] }), "1 rewards"},
		{"some propensities", reencode(func(c *SlateLog) { c.Propensities = c.Propensities[:3] }), "as many propensities or none"},
		{"empty session", reencode(func(c *SlateLog) { c.Lengths[0] = 0 }), "has 0 slates"},
		{"purchase without click", reencode(func(c *SlateLog) {
			for s, click := range c.Clicks {
				if click < 0 {
					c.Purchases[s] = true
					return
				}
			}
			t.Fatal("the log has no slate without a click")
		}), "purchase without a click is invalid"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "log.msgpack")
			if err := os.WriteFile(path, tc.data, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := ReadSlateLog(path, cat)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}

	t.Run("wrong catalog", func(t *testing.T) {
		path := writeTestLog(t, l)
		_, err := ReadSlateLog(path, generated(t, 31))
		if err == nil || !strings.Contains(err.Error(), "pass the catalog flags") {
			t.Errorf("error %v, want one naming the catalog flags", err)
		}
	})
}

// FuzzDecodeSlateLog checks that no input makes decoding or validating a slate log panic.
// The seed corpus is a valid log and its truncations; `go test -fuzz FuzzDecodeSlateLog`
// mutates them further.
func FuzzDecodeSlateLog(f *testing.F) {
	cat, err := simenv.Generate(30, 1)
	if err != nil {
		f.Fatal(err)
	}
	shop := simenv.Config{Persona: simenv.CheapBlue}.WithDefaults()
	policy, err := NewLoggingPolicy(LoggingPolicyInfo{Base: "popularity", Temperature: 1, Epsilon: 0.1}, nil, cat, shop.SlateSize)
	if err != nil {
		f.Fatal(err)
	}
	l, err := RecordLog(policy, cat, shop, LogOptions{Sessions: 3, Seed: 1})
	if err != nil {
		f.Fatal(err)
	}
	data, err := msgpack.Marshal(l)
	if err != nil {
		f.Fatal(err)
	}
	for _, n := range []int{len(data), len(data) / 2, 40, 1} {
		f.Add(data[:n])
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		decoded, err := DecodeSlateLog(data)
		if err != nil {
			return
		}
		if err := decoded.Validate(cat); err != nil {
			return
		}
		for s := range decoded.NumSessions() {
			decoded.Session(s)
		}
	})
}

// TestBehaviourModelRecoversLogger fits the behaviour model to a popularity log without
// propensities and checks its estimate on a fresh session against the logger's β. With
// τ = 1 and ε = 0.1 over 30 items, the most popular item has
// β = 0.9·(1 − e⁻¹)/(1 − e⁻³⁰) + 0.1/30 = 0.5723, and the second one e⁻¹ times that share
// of the softmax, plus 0.1/30: 0.2126.
func TestBehaviourModelRecoversLogger(t *testing.T) {
	cat := generated(t, 30)
	shop := simenv.Config{Persona: simenv.CheapBlue}.WithDefaults()
	policy, err := NewLoggingPolicy(LoggingPolicyInfo{Base: "popularity", Temperature: 1, Epsilon: 0.1}, nil, cat, shop.SlateSize)
	if err != nil {
		t.Fatal(err)
	}
	l, err := RecordLog(policy, cat, shop, LogOptions{Sessions: 400, Seed: 4})
	if err != nil {
		t.Fatal(err)
	}
	l.Propensities = nil
	r := trainFromTestLog(t, l, cat, 5, 40000)
	if r.behaviour == nil {
		t.Fatal("a log without propensities trained no behaviour model")
	}

	m := cat.Len()
	fwd, err := nn.NewForward(r.behaviour.params, m)
	if err != nil {
		t.Fatal(err)
	}
	r.encoder.EncodeView(NewSessionReplay(m).View(), fwd.Input())
	z, err := fwd.Run()
	if err != nil {
		t.Fatal(err)
	}
	logits, logp := make([]float64, m), make([]float64, m)
	for j, v := range z {
		logits[j] = float64(v)
	}
	nn.LogSoftmax(logp, logits)
	order := popularityOrder(cat)
	for rank, want := range []float64{0.5723, 0.2126} {
		got := math.Exp(logp[order[rank]])
		t.Logf("estimated β of the item of popularity rank %d: %.4f, logger's %.4f", rank, got, want)
		if math.Abs(got-want) > 0.03 {
			t.Errorf("estimated β of the item of popularity rank %d: %.4f, want %.4f ± 0.03", rank, got, want)
		}
	}
}

// TestTrainWithoutPropensitiesSeededRun pins a tiny run from a log without propensities.
func TestTrainWithoutPropensitiesSeededRun(t *testing.T) {
	cat := generated(t, 30)
	l := recordTestLog(t, cat, 40, 2)
	l.Propensities = nil
	r := trainFromTestLog(t, l, cat, 7, 600)
	again := trainFromTestLog(t, l, cat, 7, 600)
	if r.LastLoss != again.LastLoss {
		t.Fatalf("two runs of seed 7 differ: loss %g and %g", r.LastLoss, again.LastLoss)
	}
	compareTensors(t, "policy layer0/weight", r.Policy.Tensors[0].Data, again.Policy.Tensors[0].Data)
	compareTensors(t, "behaviour layer0/weight", r.behaviour.params.Tensors[0].Data, again.behaviour.params.Tensors[0].Data)
	const wantWeight = float32(-0.157107741)
	// The loss sums float32 products, whose last bits depend on the matrix kernel.
	wantLoss := map[string]float64{"avx2": -3.395981277569124, "go": -3.3959812834284859}
	if r.Updates != 19 {
		t.Errorf("updates %d, want 19", r.Updates)
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

// TestPlackettLuceLossGradient checks plackettLuceLoss's gradient with respect to the
// logits against central finite differences, with a masked item, and its value against
// the probability of the ordered draw written out.
func TestPlackettLuceLossGradient(t *testing.T) {
	logits := []float64{0.3, -1.2, math.Inf(-1), 2.0, 0.7}
	slate := []int32{3, 0, 4}
	lossAt := func(z []float64) (float64, []float64) {
		logp, grad := make([]float64, len(z)), make([]float64, len(z))
		nn.LogSoftmax(logp, z)
		return plackettLuceLoss(logp, slate, grad), grad
	}
	loss, analytic := lossAt(logits)

	p := make([]float64, len(logits))
	nn.LogSoftmax(p, logits)
	for j := range p {
		p[j] = math.Exp(p[j])
	}
	draw := p[3] * p[0] / (1 - p[3]) * p[4] / (1 - p[3] - p[0])
	if want := -math.Log(draw); math.Abs(loss-want) > 1e-12 {
		t.Errorf("loss %.15g, want −ln P(3, 0, 4) = %.15g", loss, want)
	}

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
		if numeric := (lu - ld) / (2 * eps); math.Abs(numeric-analytic[j]) > 1e-7 {
			t.Errorf("logit %d: analytic gradient %.10g, finite difference %.10g", j, analytic[j], numeric)
		}
	}
}

// TestMaxLogSessionsBound checks that MaxLogSessions sessions of the maximum length fit
// the reader's element limit and that one session more does not.
func TestMaxLogSessionsBound(t *testing.T) {
	for _, tc := range []struct{ slateSize, maxSteps int }{{3, 30}, {1, 1}, {5, 200}, {3, 3728270}} {
		perSession := 1 + tc.maxSteps*(2*tc.slateSize+3)
		limit := MaxLogSessions(tc.slateSize, tc.maxSteps)
		if limit < 1 {
			t.Errorf("MaxLogSessions(%d, %d) = %d, want at least 1", tc.slateSize, tc.maxSteps, limit)
		}
		if limit*perSession > MaxSlateLogElements {
			t.Errorf("MaxLogSessions(%d, %d) = %d sessions of %d elements exceed the limit %d",
				tc.slateSize, tc.maxSteps, limit, perSession, MaxSlateLogElements)
		}
		if (limit+1)*perSession <= MaxSlateLogElements {
			t.Errorf("MaxLogSessions(%d, %d) = %d, but %d sessions of %d elements fit the limit %d",
				tc.slateSize, tc.maxSteps, limit, limit+1, perSession, MaxSlateLogElements)
		}
	}
	if got := MaxLogSessions(3, 3728271); got != 0 {
		t.Errorf("MaxLogSessions(3, 3728271) = %d, want 0 because one session exceeds the limit", got)
	}
}

// TestSlateLogArrayElements checks the count behind MaxLogSessions against the encoding:
// a log of S sessions and T slates of K items declares S + T·(2K+3) array elements.
func TestSlateLogArrayElements(t *testing.T) {
	const k = 3
	l := &SlateLog{Magic: SlateLogMagic, Version: SlateLogVersion, Shop: simenv.Config{SlateSize: k, MaxSteps: 4}}
	l.append(LoggedSession{Slates: []int32{0, 1, 2, 3, 4, 5}, Propensities: []float64{.1, .1, .1, .1, .1, .1},
		Clicks: []int32{-1, 0}, Purchases: []bool{false, true}, Rewards: []float64{0, 1}})
	l.append(LoggedSession{Slates: []int32{0, 1, 2}, Propensities: []float64{.1, .1, .1},
		Clicks: []int32{2}, Purchases: []bool{false}, Rewards: []float64{0.5}})
	data, err := msgpack.Marshal(l)
	if err != nil {
		t.Fatal(err)
	}
	elements := uint64(2 + 3*(2*k+3))
	if err := checkpoints.CheckMsgpack(data, elements); err != nil {
		t.Errorf("a log of %d elements fails a limit of %d: %v", elements, elements, err)
	}
	if err := checkpoints.CheckMsgpack(data, elements-1); err == nil {
		t.Errorf("a log of %d elements passes a limit of %d, so the count misses an array", elements, elements-1)
	}
}
