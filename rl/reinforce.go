package rl

// REINFORCE slate recommender: the likelihood-ratio policy gradient of Williams, "Simple
// statistical gradient-following algorithms for connectionist reinforcement learning"
// (Machine Learning 8, 1992), with the top-K off-policy correction of Chen, Beutel,
// Covington, Jain, Belletti and Chi, "Top-K Off-Policy Correction for a REINFORCE
// Recommender System" (WSDM 2019).
//
// The policy is a softmax over item scores, π(i|s) = exp(z_i) / Σ_j exp(z_j), where z_i is
// the output of an MLP on the (session, item) feature row and the items the shop cannot
// show are left out. A slate is K items drawn from π without replacement (Plackett-Luce);
// evaluation shows the K items of highest score.
//
// For each state s_t of a finished session and each item a of its slate, the update uses
//
//	G_t(a) = r_t(a) + γ·G_{t+1}      returns-to-go, where r_t(a) is the step's reward if the
//	                                 shopper clicked a and 0 otherwise, and G_{t+1} is the
//	                                 discounted reward of the slates after s_t
//	A_t(a) = G_t(a) − b(s_t)         advantage over a learned baseline b
//	ρ      = min(π(a|s_t)/β(a|s_t), c)   importance ratio to the behaviour policy β, capped at c
//	λ_K    = K·(1 − π(a|s_t))^(K−1)  top-K correction: the derivative of the chance
//	                                 1 − (1 − π)^K that a appears among K draws, over that of π
//
// and takes an Adam step on the loss
//
//	L = −(1/B) Σ_t [ Σ_{a∈slate_t} ρ·λ_K·A_t(a)·log π(a|s_t) + η·H(π(·|s_t)) ]
//
// with ρ, λ_K and A_t held constant, η the entropy coefficient and B the states per update.
// The baseline is an MLP on the session features, trained by squared loss toward the mean
// of G_t(a) over the slate.
//
// β is the policy that chose the slate. In Train it is this agent's own policy when it
// acted: updates use whole sessions, so a state may be some updates old when it is learned
// from, and ρ corrects that. In TrainFromLog it is the logging policy of a slate log, whose
// propensities the log records (see LoggingPolicy), and the agent never acts. For a log
// without propensities, a behaviour model estimates β (see behaviourModel).
//
// Departures from the papers:
//   - Every item of a slate is a logged action with its own reward, so shown items that were
//     not clicked are pushed down. Chen et al. train on the one item a user interacted with.
//   - Chen et al. estimate the behaviour policy of logged data with a second head on the
//     policy's state representation. Here β is recorded with each slate, by the agent or in
//     the log, and only a log without propensities has it estimated, by a network of its own.
//   - β(a|s) is the probability of drawing a first, the same per-item probability as π(a|s)
//     in ρ and λ_K. It is not the higher probability that a appears anywhere in a slate
//     drawn without replacement.
//   - NoImportanceRatio sets ρ = 1 and TopKCorrection false sets λ_K = 1, for ablations.

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/simshop/simshop/nn"
	"github.com/simshop/simshop/simenv"
)

// Reinforce is the slate recommender. Its exported fields are the state a checkpoint stores.
type Reinforce struct {
	Config       ReinforceConfig
	Encoding     Encoding
	Policy       *nn.Params[float32]
	Baseline     *nn.Params[float32]
	Adam         *nn.Adam[float32] // of Policy
	BaselineAdam *nn.Adam[float32]

	// Counters.
	EnvSteps int64 // shopper-steps seen in training
	Episodes int64 // training sessions finished
	Updates  int64 // gradient updates applied

	// Greedy switches sampling and learning off, for evaluation.
	Greedy bool

	// LastLoss is the policy loss of the most recent update.
	LastLoss float64

	pcg     *rand.PCG // slate sampling
	rng     *rand.Rand
	catalog *simenv.Catalog
	encoder *Encoder
	k       int // slate size
	width   int // features per row

	act      *nn.Forward[float32]         // scores sessions × items rows
	actors   map[int]*nn.Forward[float32] // acting graphs by session count
	backprop *nn.Backprop[float32]        // the policy and its gradient on BatchStates × items rows
	baseline *nn.Trainer[float32]         // the baseline on BatchStates rows

	trainEnv  *simenv.VecEnv
	cursor    *logCursor       // position in the slate log of TrainFromLog
	behaviour *behaviourModel  // estimate of β, for a slate log without propensities
	resume    *reinforceResume // simulator state and rollouts loaded from a checkpoint, for RestoreEnv
	current   []*stateRecord   // per session, the state whose outcome Observe records
	running   [][]*stateRecord // per session, the states of the running session
	ready     []*stateRecord   // states of finished sessions, oldest first
	free      []*stateRecord

	top      []int32
	logits   []float64 // scratch of one state: scores, log-probabilities, loss gradient
	logProbs []float64
	grad     []float64
	weights  []float64
	values   []float32 // the baseline's value of each state of a batch
}

// stateRecord is one slate shown in training, with what the update needs to learn from it.
type stateRecord struct {
	features  []float32 // items × width rows, as encoded when the slate was chosen
	available []bool    // the items the shop could show
	slate     []int32
	behaviour []float64 // β(a|s) of each slate item
	reward    []float64 // r_t(a) of each slate item
	ret       []float64 // G_t(a) of each slate item, set when the session ends
}

// NewReinforce returns an untrained agent for catalog cat and the shop's slate size, its
// weights and random stream seeded from seed.
func NewReinforce(cfg ReinforceConfig, cat *simenv.Catalog, shop simenv.Config, seed uint64) (*Reinforce, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	shop = shop.WithDefaults()
	enc := NewEncoding(cat, shop.MaxSteps)
	enc.BrandFeatures = true
	initRNG := rand.New(rand.NewPCG(DeriveSeed(seed, domainAgent), 1))
	policy, err := nn.NewParams[float32](nn.Spec{Inputs: enc.Width(), Hidden: append([]int(nil), cfg.Hidden...), Outputs: 1, Activation: "relu"}, initRNG)
	if err != nil {
		return nil, err
	}
	baseline, err := nn.NewParams[float32](nn.Spec{Inputs: sessionFeatures, Hidden: append([]int(nil), cfg.BaselineHidden...), Outputs: 1, Activation: "relu"}, initRNG)
	if err != nil {
		return nil, err
	}
	r := &Reinforce{
		Config:       cfg,
		Encoding:     enc,
		Policy:       policy,
		Baseline:     baseline,
		Adam:         nn.NewAdam(policy, cfg.LearningRate),
		BaselineAdam: nn.NewAdam(baseline, cfg.BaselineLearningRate),
		pcg:          rand.NewPCG(DeriveSeed(seed, domainAgent), 2),
	}
	r.Adam.MaxGradNorm = cfg.MaxGradNorm
	r.BaselineAdam.MaxGradNorm = cfg.MaxGradNorm
	if err := r.attach(cat, shop.SlateSize); err != nil {
		return nil, err
	}
	return r, nil
}

// attach prepares the encoder and the update graphs for catalog cat.
func (r *Reinforce) attach(cat *simenv.Catalog, k int) error {
	r.rng = rand.New(r.pcg)
	r.catalog = cat
	r.encoder = NewEncoder(r.Encoding, cat)
	r.k = k
	r.width = r.Encoding.Width()
	rows := r.Config.BatchStates * cat.Len()
	var err error
	if r.backprop, err = nn.NewBackprop(r.Policy, rows); err != nil {
		return err
	}
	if r.baseline, err = nn.NewTrainer(r.Baseline, r.Config.BatchStates, nn.LossSquared); err != nil {
		return err
	}
	m := cat.Len()
	r.top = make([]int32, k)
	r.logits, r.logProbs, r.grad = make([]float64, m), make([]float64, m), make([]float64, m)
	r.weights = make([]float64, k)
	r.values = make([]float32, r.Config.BatchStates)
	return nil
}

func (r *Reinforce) Name() string { return "reinforce" }

// StartSession is a no-op: slates are sampled from the agent's own stream in training,
// and evaluation is greedy.
func (r *Reinforce) StartSession(i int, seed uint64) {}

// ensureActor sizes the acting graph for n sessions, keeping one graph per session count.
func (r *Reinforce) ensureActor(n int) error {
	if r.actors == nil {
		r.actors = map[int]*nn.Forward[float32]{}
	}
	if r.actors[n] == nil {
		act, err := nn.NewForward(r.Policy, n*r.catalog.Len())
		if err != nil {
			return err
		}
		r.actors[n] = act
	}
	r.act = r.actors[n]
	return nil
}

// Scores encodes every session of env and returns the policy's logits for all sessions and
// items, row-major [session][item]. The slice is reused by the next call.
func (r *Reinforce) Scores(env *simenv.VecEnv) ([]float32, error) {
	if err := r.ensureActor(env.NumSessions()); err != nil {
		return nil, err
	}
	m := r.catalog.Len()
	in := r.act.Input()
	for i := 0; i < env.NumSessions(); i++ {
		r.encoder.EncodeSession(env, i, in[i*m*r.width:(i+1)*m*r.width])
	}
	return r.act.Run()
}

// Recommend shows each session its K items of highest score when Greedy, and otherwise a
// slate sampled from the policy, which it records for the update.
func (r *Reinforce) Recommend(env *simenv.VecEnv, slates []int32) error {
	z, err := r.Scores(env)
	if err != nil {
		return err
	}
	if !r.Greedy && len(r.current) != env.NumSessions() {
		return fmt.Errorf("rl: REINFORCE samples and learns only inside Train; set Greedy to evaluate it")
	}
	m := r.catalog.Len()
	in := r.act.Input()
	for i := 0; i < env.NumSessions(); i++ {
		scores := z[i*m : (i+1)*m]
		slate := slates[i*r.k : (i+1)*r.k]
		maskUnavailable(env, scores)
		if r.Greedy {
			topK(scores, r.top)
			copy(slate, r.top)
			continue
		}

		// Sample the slate from π and record it with β(a|s), the probability of each item.
		for j, s := range scores {
			r.logits[j] = float64(s)
		}
		nn.LogSoftmax(r.logProbs, r.logits)
		probs := r.grad // scratch
		for j, lp := range r.logProbs {
			probs[j] = math.Exp(lp)
		}
		samplePlackettLuce(r.rng, probs, slate)
		rec := r.newRecord()
		copy(rec.features, in[i*m*r.width:(i+1)*m*r.width])
		copy(rec.available, env.Available)
		copy(rec.slate, slate)
		for a, item := range slate {
			rec.behaviour[a] = probs[item]
		}
		r.current[i] = rec
	}
	return nil
}

// Observe records the rewards of the slates chosen by the last Recommend. When a session
// ends, its returns-to-go are computed and its states become ready for an update.
func (r *Reinforce) Observe(out *simenv.StepResult) {
	for i, rec := range r.current {
		clear(rec.reward)
		if c := out.Click[i]; c >= 0 {
			rec.reward[c] = out.Reward[i]
		}
		r.running[i] = append(r.running[i], rec)
		r.current[i] = nil
		if out.Done[i] {
			r.finishSession(i)
			r.Episodes++
		}
	}
	r.EnvSteps += int64(len(r.current))
}

// finishSession computes the returns-to-go of session i's states and moves them to the
// ready queue.
func (r *Reinforce) finishSession(i int) {
	states := r.running[i]
	r.computeReturns(states)
	r.ready = append(r.ready, states...)
	r.running[i] = states[:0]
}

// computeReturns sets G_t(a) = r_t(a) + γ·G_{t+1} backward over the states of one session.
func (r *Reinforce) computeReturns(states []*stateRecord) {
	later := 0.0 // G_{t+1}
	for t := len(states) - 1; t >= 0; t-- {
		rec := states[t]
		step := 0.0
		for a, reward := range rec.reward {
			rec.ret[a] = reward + r.Config.Gamma*later
			step += reward
		}
		later = step + r.Config.Gamma*later
	}
}

// Update takes one step on the oldest BatchStates ready states, if there are that many, and
// reports whether it did.
func (r *Reinforce) Update() (bool, error) {
	cfg := r.Config
	n := cfg.BatchStates
	if len(r.ready) < n {
		return false, nil
	}
	batch := r.ready[:n]
	m, w := r.catalog.Len(), r.width

	// Forward pass: the current policy's logits for every item of every state.
	in := r.backprop.Input()
	for b, rec := range batch {
		copy(in[b*m*w:(b+1)*m*w], rec.features)
	}
	r.backprop.RunForward()
	z := r.backprop.Output()

	// Baseline: b(s_t) before its step, then a squared-loss step toward mean_a G_t(a).
	baseIn, baseTarget := r.baseline.Input(), r.baseline.Target()
	session := r.Encoding.sessionOffset()
	for b, rec := range batch {
		copy(baseIn[b*sessionFeatures:(b+1)*sessionFeatures], rec.features[session:session+sessionFeatures])
		mean := 0.0
		for _, g := range rec.ret {
			mean += g
		}
		baseTarget[b] = float32(mean / float64(len(rec.ret)))
	}
	if _, err := r.baseline.Run(); err != nil {
		return false, err
	}
	values := append(r.values[:0], r.baseline.Output()...)
	r.BaselineAdam.Update(r.Baseline, r.baseline.Grads)

	// A log without propensities: β is the behaviour model's estimate.
	if r.behaviour != nil {
		r.estimateBehaviour(batch)
	}

	// Policy gradient: per state, the weights ρ·λ_K·A of the slate's items, then dL/dz.
	upstream := r.backprop.Upstream()
	loss := 0.0
	for b, rec := range batch {
		for j, s := range z[b*m : (b+1)*m] {
			r.logits[j] = float64(s)
			if !rec.available[j] {
				r.logits[j] = math.Inf(-1)
			}
		}
		nn.LogSoftmax(r.logProbs, r.logits)
		for a, item := range rec.slate {
			if rec.behaviour[a] <= 0 {
				// An item of probability 0 fills a slate only when fewer than K items can be
				// shown, so it was not drawn from the policy and teaches it nothing.
				r.weights[a] = 0
				continue
			}
			pi := math.Exp(r.logProbs[item])
			r.weights[a] = cfg.offPolicyWeight(pi, rec.behaviour[a], rec.ret[a]-float64(values[b]), r.k)
		}
		loss += policyLoss(r.logProbs, rec.slate, r.weights, cfg.EntropyCoef, r.grad)
		for j, g := range r.grad {
			upstream[b*m+j] = float32(g / float64(n))
		}
	}

	// Backward pass and Adam step at the scheduled learning rate.
	r.backprop.RunBackward()
	r.Adam.LearningRate = cfg.LearningRateAt(r.EnvSteps)
	r.Adam.Update(r.Policy, r.backprop.Grads)
	r.LastLoss = loss / float64(n)
	r.Updates++

	r.free = append(r.free, batch...)
	r.ready = append(r.ready[:0], r.ready[n:]...)
	return true, nil
}

// offPolicyWeight returns ρ·λ_K·A, the weight of log π(a|s) in the loss, for an item of
// probability pi under the policy and beta under the behaviour policy, advantage A and
// slates of k items:
//
//	ρ = min(pi/beta, MaxWeight), or 1 with NoImportanceRatio
//	λ_K = k·(1 − pi)^(k−1), or 1 without TopKCorrection
func (c ReinforceConfig) offPolicyWeight(pi, beta, advantage float64, k int) float64 {
	ratio := 1.0
	if !c.NoImportanceRatio {
		ratio = math.Min(pi/beta, c.MaxWeight)
	}
	lambda := 1.0
	if c.TopKCorrection {
		lambda = float64(k) * math.Pow(1-pi, float64(k-1))
	}
	return ratio * lambda * advantage
}

// policyLoss returns the loss of one state,
//
//	L = −Σ_a w_a·log π(a) − η·H(π),  H(π) = −Σ_j π_j·log π_j,
//
// for log-probabilities logProbs, slate items slate with weights w held constant, and
// entropy coefficient eta. It writes into grad the gradient with respect to the logits,
//
//	∂L/∂z_j = π_j·Σ_a w_a − w_j·[j ∈ slate] + η·π_j·(log π_j + H),
//
// which is 0 for an item of probability 0 (log-probability −Inf).
func policyLoss(logProbs []float64, slate []int32, w []float64, eta float64, grad []float64) float64 {
	entropy := 0.0
	for _, lp := range logProbs {
		if !math.IsInf(lp, -1) {
			entropy -= math.Exp(lp) * lp
		}
	}
	weightSum, loss := 0.0, -eta*entropy
	for a, item := range slate {
		if w[a] == 0 {
			continue // its log-probability may be -Inf
		}
		weightSum += w[a]
		loss -= w[a] * logProbs[item]
	}
	for j, lp := range logProbs {
		if math.IsInf(lp, -1) {
			grad[j] = 0
			continue
		}
		p := math.Exp(lp)
		grad[j] = p*weightSum + eta*p*(lp+entropy)
	}
	for a, item := range slate {
		grad[item] -= w[a]
	}
	return loss
}

// samplePlackettLuce fills dst with distinct items drawn one after another from probs
// renormalised over the items not yet drawn: the Plackett-Luce model, or sampling without
// replacement. Items of probability 0 are drawn only when no other item is left, lowest
// index first.
func samplePlackettLuce(rng *rand.Rand, probs []float64, dst []int32) {
	for pos := range dst {
		taken := dst[:pos]
		remaining := 0.0
		for j, p := range probs {
			if p > 0 && !contains(taken, int32(j)) {
				remaining += p
			}
		}
		u := rng.Float64() * remaining
		pick := -1
		for j, p := range probs {
			if p <= 0 || contains(taken, int32(j)) {
				continue
			}
			pick = j
			if u -= p; u < 0 {
				break
			}
		}
		for j := 0; pick < 0; j++ {
			if !contains(taken, int32(j)) {
				pick = j
			}
		}
		dst[pos] = int32(pick)
	}
}

// newRecord returns a state record from the free list, or a new one.
func (r *Reinforce) newRecord() *stateRecord {
	if n := len(r.free); n > 0 {
		rec := r.free[n-1]
		r.free = r.free[:n-1]
		return rec
	}
	m := r.catalog.Len()
	return &stateRecord{
		features:  make([]float32, m*r.width),
		available: make([]bool, m),
		slate:     make([]int32, r.k),
		behaviour: make([]float64, r.k),
		reward:    make([]float64, r.k),
		ret:       make([]float64, r.k),
	}
}
