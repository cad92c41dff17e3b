package rl

import (
	"context"
	"math"
	"time"

	"github.com/simshop/simshop/simenv"
)

// Train runs the agent on env, which it owns for the duration, until r.EnvSteps reaches
// opt.Steps or ctx is cancelled. It updates whenever BatchStates states of finished
// sessions are ready. A cancelled run stops after the current update and returns ctx.Err().
func (r *Reinforce) Train(ctx context.Context, env *simenv.VecEnv, opt TrainOptions) error {
	if err := r.ensureActor(env.NumSessions()); err != nil {
		return err
	}
	if env != r.trainEnv || len(r.current) != env.NumSessions() {
		// The states of another env's running sessions cannot be finished here.
		for _, states := range r.running {
			r.free = append(r.free, states...)
		}
		r.current = make([]*stateRecord, env.NumSessions())
		r.running = make([][]*stateRecord, env.NumSessions())
		r.trainEnv = env
	}
	r.Greedy = false
	slates := make([]int32, env.NumSessions()*r.k)
	out := simenv.NewStepResult(env.NumSessions())

	var window struct {
		returns, episodes, clicks, purchases, steps float64
		start                                       time.Time
		from                                        int64
	}
	window.start, window.from = time.Now(), r.EnvSteps
	for r.EnvSteps < opt.Steps {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := r.Recommend(env, slates); err != nil {
			return err
		}
		if err := env.Step(slates, out); err != nil {
			return err
		}
		r.Observe(out)
		for i, done := range out.Done {
			if out.Click[i] >= 0 {
				window.clicks++
			}
			if out.Bought[i] {
				window.purchases++
			}
			if done {
				window.returns += out.EpisodeReturn[i]
				window.episodes++
			}
		}
		window.steps += float64(len(out.Done))
		for {
			updated, err := r.Update()
			if err != nil {
				return err
			}
			if !updated {
				break
			}
		}
		if opt.Every > 0 && opt.Progress != nil && (r.EnvSteps-window.from >= opt.Every || r.EnvSteps >= opt.Steps) {
			p := TrainProgress{
				EnvSteps: r.EnvSteps, Episodes: r.Episodes, Updates: r.Updates,
				Loss: r.LastLoss, ReturnMean: math.NaN(), CTR: window.clicks / window.steps,
				PurchaseRate:   window.purchases / window.steps,
				StepsPerSecond: float64(r.EnvSteps-window.from) / time.Since(window.start).Seconds(),
			}
			if r.Updates == 0 {
				p.Loss = math.NaN()
			}
			if window.episodes > 0 {
				p.ReturnMean = window.returns / window.episodes
			}
			opt.Progress(p)
			window.returns, window.episodes, window.clicks, window.purchases, window.steps = 0, 0, 0, 0, 0
			window.start, window.from = time.Now(), r.EnvSteps
		}
	}
	return nil
}
