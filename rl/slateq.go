package rl

import (
	"fmt"
	"math/rand/v2"

	"github.com/simshop/simshop/nn"
	"github.com/simshop/simshop/simenv/recsim"
)

// This file is the SlateQ agent of Ie et al., "SlateQ: A Tractable Decomposition for
// Reinforcement Learning with Recommendation Sets" (IJCAI 2019, arXiv:1905.12767), on
// RecSim's interest-evolution scenario. SlateQ learns the long-term value Q(s, i) of the
// user consuming item i in state s, and values a slate A by the user's choice among its
// items and the null item ⊥ (no click):
//
//	Q(s, A) = Σ_{i ∈ A ∪ {⊥}} P(i | s, A) · Q(s, i)
//
// Each observed transition (s, A, i, r, s'), where i is the consumed item, updates Q(s, i)
// towards the target
//
//	y = r + γ · max_{A'} Σ_{j ∈ A' ∪ {⊥}} P(j | s', A') · Q_target(s', j)
//
// which bootstraps from the next state's slate value. The max over slates is solved exactly
// (bestSlate). Where this departs from the paper or from RecSim's implementation:
//
//   - P(i | s, A) is a proportional choice model learned from the observed clicks
//     (ChoiceModel); RecSim's agent reads the true model. SlateQConfig.TrueChoice restores it.
//   - The null item is part of every slate, with its own learned Q(s, ⊥), as in the paper.
//     RecSim's agent leaves it out of the slate value and trains only on clicked steps.
//   - SlateQConfig.Target = SlateQTargetCurrent reproduces RecSim's and RLlib's target, in
//     which the target network scores the current state's user and documents while the
//     choice probabilities come from the next state.
//   - With SlateQConfig.History, the state adds to RecSim's user observation the episode's
//     sums of what the responses reveal, which determine the hidden time budget.
//   - A document observation is one of recsim.Topics one-hot vectors, so Q(s, ·) is
//     computed once per cluster and per state (Topics + 1 rows with ⊥) and read by cluster.

// itemRows is the number of Q-network rows per state: one per cluster, then ⊥.
const itemRows = recsim.Topics + 1

// slateQHistoryFeatures is the number of response sums that SlateQConfig.History adds to the
// state: minutes watched, minutes watched times quality (both per 200 minutes), and steps
// without a click (per 100 steps).
const slateQHistoryFeatures = 3

// A Q-network row is the state (the user's interests, then the response sums when
// SlateQConfig.History is set), a one-hot of the document's cluster, and a flag for ⊥.

// SlateQ is the agent: its networks, its optimizer, its choice model and its replay buffer.
type SlateQ struct {
	Config   SlateQConfig
	Scenario recsim.Config

	Online *nn.Params[float32] // Q(s, i)
	Target *nn.Params[float32] // Q_target(s, i), copied from Online every TargetUpdate updates
	Adam   *nn.Adam[float32]
	Choice *ChoiceModel

	EnvSteps int64 // user-steps taken in training
	Episodes int64 // training episodes finished
	Updates  int64
	LastLoss float64

	pcg rand.PCG
	rng *rand.Rand

	stateWidth int // features per state
	inputs     int // features per Q-network row: stateWidth + Topics + 1

	buffer    *slateReplay
	trainer   *nn.Trainer[float32] // BatchSize rows of Online
	bootstrap *nn.Forward[float32] // BatchSize·itemRows rows of Target
	actor     *nn.Forward[float32] // sessions·itemRows rows of Online, built by Train

	batch     []int
	choiceObs []choiceObservation
	v, q, key []float64 // per candidate: choice score, Q-value, slate-search key
	perm      []int32   // scratch of Candidates positions for random slates
	state32   []float32 // state of each acting session, as network input
}

// NewSlateQ returns an untrained agent for scenario, its weights drawn from seed.
func NewSlateQ(cfg SlateQConfig, scenario recsim.Config, seed uint64) (*SlateQ, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := scenario.Validate(); err != nil {
		return nil, err
	}
	stateWidth := recsim.Topics
	if cfg.History {
		stateWidth += slateQHistoryFeatures
	}
	spec := nn.Spec{Inputs: stateWidth + recsim.Topics + 1, Hidden: append([]int(nil), cfg.Hidden...), Outputs: 1, Activation: "relu"}
	s := DeriveSeed(seed, domainAgent)
	online, err := nn.NewParams[float32](spec, rand.New(rand.NewPCG(s, ^s)))
	if err != nil {
		return nil, err
	}
	choice, err := NewChoiceModel(cfg.TrueChoice, cfg.ChoiceLearningRate)
	if err != nil {
		return nil, err
	}
	a := &SlateQ{Config: cfg, Scenario: scenario, Online: online, Target: online.Clone(),
		Adam: nn.NewAdam(online, cfg.LearningRate), Choice: choice,
		stateWidth: stateWidth, inputs: spec.Inputs}
	a.Adam.MaxGradNorm = cfg.MaxGradNorm
	a.pcg.Seed(DeriveSeed(seed, domainPolicy), s)
	a.rng = rand.New(&a.pcg)
	if err := a.build(); err != nil {
		return nil, err
	}
	return a, nil
}

// build allocates the graphs and scratch that depend on the configuration.
func (a *SlateQ) build() error {
	var err error
	b := a.Config.BatchSize
	if a.trainer, err = nn.NewTrainer(a.Online, b, nn.LossHuber); err != nil {
		return err
	}
	if a.bootstrap, err = nn.NewForward(a.Target, b*itemRows); err != nil {
		return err
	}
	a.batch = make([]int, b)
	a.choiceObs = make([]choiceObservation, b)
	a.scratch(a.Scenario.Candidates)
	return nil
}

// scratch returns the scratch of bestSlate and randomSlate for c candidates, growing it if
// needed. Evaluation may show the agent more candidates than it was trained with.
func (a *SlateQ) scratch(c int) (v, q, key []float64, perm []int32) {
	if len(a.v) < c {
		a.v, a.q, a.key = make([]float64, c), make([]float64, c), make([]float64, c)
		a.perm = make([]int32, c)
	}
	return a.v[:c], a.q[:c], a.key[:c], a.perm[:c]
}

// Update takes one gradient step of SlateQ on a batch drawn from the replay buffer and
// returns the Q-network's loss before the step.
func (a *SlateQ) Update() (float64, error) {
	cfg, buf := a.Config, a.buffer
	if buf == nil || buf.size == 0 {
		return 0, fmt.Errorf("rl: SlateQ update needs stored transitions")
	}
	current := cfg.Target == SlateQTargetCurrent

	// Sample a batch of transitions (s, A, i, r, s').
	buf.sample(a.rng, a.batch)

	// Learn the choice model P(i | s, A) from the batch's observed responses.
	for b, t := range a.batch {
		a.choiceObs[b] = choiceObservation{user: buf.userOf(t), shown: buf.shownOf(t), click: int(buf.click[t])}
	}
	a.Choice.Learn(a.choiceObs)

	// Score every item of the bootstrap state with the target network: s', or s under
	// SlateQTargetCurrent.
	in := a.bootstrap.Input()
	for b, t := range a.batch {
		u := buf.nextOf(t)
		if current {
			u = buf.userOf(t)
		}
		a.writeItemRows(in[b*itemRows*a.inputs:(b+1)*itemRows*a.inputs], u)
	}
	qTarget, err := a.bootstrap.Run()
	if err != nil {
		return 0, err
	}

	// Target y = r + γ·max_{A'} Σ_{j ∈ A' ∪ {⊥}} P(j | s', A')·Q_target(s', j), with
	// y = r when the episode ended. P comes from s' in both modes, as in RecSim.
	target := a.trainer.Target()
	v, q, key, perm := a.scratch(a.Scenario.Candidates)
	for b, t := range a.batch {
		y := cfg.RewardScale * float64(buf.reward[t])
		if !buf.done[t] {
			next, nextCands := buf.nextOf(t), buf.nextCandsOf(t)
			qCands := nextCands
			if current {
				qCands = buf.candsOf(t)
			}
			rows := qTarget[b*itemRows : (b+1)*itemRows]
			for j := range nextCands {
				v[j] = a.Choice.Score(next, nextCands[j])
				q[j] = float64(rows[qCands[j]])
			}
			slate := perm[:a.Scenario.Slate]
			y += cfg.Gamma * bestSlate(v, q, 1, float64(rows[recsim.Topics]), slate, key)
		}
		target[b] = float32(y)
	}

	// Regress Q(s, i) of the consumed item, the clicked document or ⊥, on y.
	tin := a.trainer.Input()
	for b, t := range a.batch {
		item := recsim.Topics
		if c := buf.click[t]; c >= 0 {
			item = int(buf.shownOf(t)[c])
		}
		writeItemRow(tin[b*a.inputs:(b+1)*a.inputs], buf.userOf(t), item)
	}
	loss, err := a.trainer.Run()
	if err != nil {
		return 0, err
	}
	a.Adam.Update(a.Online, a.trainer.Grads)
	a.Updates++

	// Refresh the target network.
	if a.Updates%int64(cfg.TargetUpdate) == 0 {
		a.Target.CopyFrom(a.Online)
	}
	a.LastLoss = float64(loss)
	return float64(loss), nil
}

// act writes a slate for every running session of env: with probability epsilon a uniformly
// random one, else the slate that maximizes Q(s, A) under the learned choice model. fwd
// must have env.NumSessions()·itemRows rows of the online network. The network scores
// clusters, not candidate positions, so env may have other candidate and slate counts than
// the scenario a was trained on, as when eval overrides them.
func (a *SlateQ) act(env *recsim.VecEnv, fwd *nn.Forward[float32], slates []int32, epsilon float64) error {
	n, k, w := env.NumSessions(), env.Config().Slate, a.stateWidth
	v, q, key, perm := a.scratch(env.Config().Candidates)
	if len(a.state32) != n*w {
		a.state32 = make([]float32, n*w)
	}
	in := fwd.Input()
	for i := range n {
		u := a.state32[i*w : (i+1)*w]
		a.observe(env, i, u)
		a.writeItemRows(in[i*itemRows*a.inputs:(i+1)*itemRows*a.inputs], u)
	}
	out, err := fwd.Run()
	if err != nil {
		return err
	}
	for i := range n {
		if env.Done(i) {
			continue
		}
		dst := slates[i*k : (i+1)*k]
		if epsilon > 0 && a.rng.Float64() < epsilon {
			a.randomSlate(dst, perm)
			continue
		}
		u := a.state32[i*w : (i+1)*w]
		rows := out[i*itemRows : (i+1)*itemRows]
		for j, c := range env.Candidates(i) {
			v[j] = a.Choice.Score(u, uint8(c))
			q[j] = float64(rows[c])
		}
		bestSlate(v, q, 1, float64(rows[recsim.Topics]), dst, key)
	}
	return nil
}

// randomSlate writes len(dst) distinct positions among len(perm) candidates drawn
// uniformly, using perm as scratch.
func (a *SlateQ) randomSlate(dst, perm []int32) {
	for j := range perm {
		perm[j] = int32(j)
	}
	for x := range dst {
		y := x + a.rng.IntN(len(perm)-x)
		perm[x], perm[y] = perm[y], perm[x]
		dst[x] = perm[x]
	}
}

// observe writes the state of session i into dst: the user's interests, RecSim's user
// observation, then with SlateQConfig.History the sums of the episode's responses.
func (a *SlateQ) observe(env *recsim.VecEnv, i int, dst []float32) {
	for c, x := range env.Interests(i) {
		dst[c] = float32(x)
	}
	if a.Config.History {
		watched, quality, skipped := env.History(i)
		dst[recsim.Topics] = float32(watched / 200)
		dst[recsim.Topics+1] = float32(quality / 200)
		dst[recsim.Topics+2] = float32(float64(skipped) / 100)
	}
}

// writeItemRows writes the itemRows rows of state: one per cluster, then ⊥.
func (a *SlateQ) writeItemRows(dst []float32, state []float32) {
	for item := range itemRows {
		writeItemRow(dst[item*a.inputs:(item+1)*a.inputs], state, item)
	}
}

// writeItemRow writes the row of item (a cluster, or recsim.Topics for ⊥) for state.
func writeItemRow(dst []float32, state []float32, item int) {
	w := len(state)
	copy(dst[:w], state)
	clear(dst[w:])
	dst[w+item] = 1 // the ⊥ flag follows the Topics one-hot positions
}
