package rl

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/simshop/simshop/nn"
	"github.com/simshop/simshop/simenv/recsim"
)

// Name returns "slateq".
func (a *SlateQ) Name() string { return "slateq" }

// TrainSlateQ runs the agent on env, which it owns for the duration, until a.EnvSteps
// reaches opt.Steps or ctx is cancelled. Episode e of the run meets the user that seed and e
// fix. A cancelled run stops after the current update and returns ctx.Err().
func (a *SlateQ) Train(ctx context.Context, env *recsim.VecEnv, seed uint64, opt TrainOptions) error {
	if env.Config() != a.Scenario {
		return fmt.Errorf("rl: SlateQ was built for scenario %+v, not %+v", a.Scenario, env.Config())
	}
	cfg := a.Config
	n, k, nc := env.NumSessions(), a.Scenario.Slate, a.Scenario.Candidates
	if a.buffer == nil {
		var err error
		if a.buffer, err = newSlateReplay(cfg.ReplayCapacity, a.stateWidth, nc, k); err != nil {
			return err
		}
	}
	var err error
	if a.actor, err = nn.NewForward(a.Online, n*itemRows); err != nil {
		return err
	}
	trainSeed := DeriveSeed(seed, domainTrainEnv)
	started := a.Episodes
	slates := make([]int32, n*k)
	out := recsim.NewStepResult(n)
	w := a.stateWidth
	prevState := make([]float32, n*w)
	nextState := make([]float32, w)
	prevCands := make([]int32, n*nc)
	returns := make([]float64, n)
	for i := range n {
		env.ResetSession(i, recsim.DeriveSeed(trainSeed, uint64(started)))
		started++
	}

	var window struct {
		returns, episodes, clicks, steps float64
		start                            time.Time
	}
	window.start = time.Now()
	nextReport := a.EnvSteps + opt.Every
	for a.EnvSteps < opt.Steps {
		if err := ctx.Err(); err != nil {
			return err
		}

		// Act, remembering the state each slate was chosen in.
		for i := range n {
			a.observe(env, i, prevState[i*w:(i+1)*w])
			copy(prevCands[i*nc:(i+1)*nc], env.Candidates(i))
		}
		if err := a.act(env, a.actor, slates, cfg.Epsilon(a.EnvSteps)); err != nil {
			return err
		}
		if err := env.Step(slates, out); err != nil {
			return err
		}

		// Store the transitions and start new episodes where the budget ran out.
		for i := range n {
			a.observe(env, i, nextState)
			a.buffer.add(prevState[i*w:(i+1)*w], prevCands[i*nc:(i+1)*nc],
				slates[i*k:(i+1)*k], out.Click[i], out.Reward[i], out.Done[i], nextState, env.Candidates(i))
			returns[i] += out.Reward[i]
			if out.Click[i] >= 0 {
				window.clicks++
			}
			if out.Done[i] {
				a.Episodes++
				window.returns += returns[i]
				window.episodes++
				returns[i] = 0
				env.ResetSession(i, recsim.DeriveSeed(trainSeed, uint64(started)))
				started++
			}
		}
		a.EnvSteps += int64(n)
		window.steps += float64(n)

		// Learn.
		if a.buffer.size >= cfg.LearningStarts {
			if _, err := a.Update(); err != nil {
				return err
			}
		}

		if opt.Progress != nil && opt.Every > 0 && a.EnvSteps >= nextReport {
			p := TrainProgress{EnvSteps: a.EnvSteps, Episodes: a.Episodes, Updates: a.Updates,
				Epsilon: cfg.Epsilon(a.EnvSteps), Loss: math.NaN(), ReturnMean: math.NaN(),
				CTR:            window.clicks / window.steps,
				StepsPerSecond: window.steps / time.Since(window.start).Seconds()}
			if a.Updates > 0 {
				p.Loss = a.LastLoss
			}
			if window.episodes > 0 {
				p.ReturnMean = window.returns / window.episodes
			}
			opt.Progress(p)
			window.returns, window.episodes, window.clicks, window.steps = 0, 0, 0, 0
			window.start = time.Now()
			nextReport = a.EnvSteps + opt.Every
		}
	}
	return nil
}

// SlateQPolicy evaluates a SlateQ agent greedily as a recsim.Policy.
type SlateQPolicy struct {
	agent *SlateQ
	fwd   *nn.Forward[float32]
}

// NewSlateQPolicy returns the greedy policy of a, sized for n sessions. Recommend resizes
// it for a VecEnv of another size.
func NewSlateQPolicy(a *SlateQ, n int) (*SlateQPolicy, error) {
	fwd, err := nn.NewForward(a.Online, n*itemRows)
	if err != nil {
		return nil, err
	}
	return &SlateQPolicy{agent: a, fwd: fwd}, nil
}

// Name returns "slateq".
func (p *SlateQPolicy) Name() string { return "slateq" }

// StartSession does nothing: the greedy policy draws no random numbers.
func (p *SlateQPolicy) StartSession(int, uint64) {}

// Recommend writes the slate that maximizes Q(s, A) for every running session.
func (p *SlateQPolicy) Recommend(env *recsim.VecEnv, slates []int32) error {
	if p.fwd.Rows() != env.NumSessions()*itemRows {
		fwd, err := nn.NewForward(p.agent.Online, env.NumSessions()*itemRows)
		if err != nil {
			return err
		}
		p.fwd = fwd
	}
	return p.agent.act(env, p.fwd, slates, 0)
}
