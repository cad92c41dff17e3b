package rl

import (
	"context"
	"math"
	"time"

	"github.com/simshop/simshop/replay"
	"github.com/simshop/simshop/simenv"
)

// TrainProgress is a snapshot of a training run, passed to TrainOptions.Progress.
type TrainProgress struct {
	EnvSteps       int64
	Episodes       int64
	Updates        int64
	Epsilon        float64
	Loss           float64 // of the latest update; NaN before the first update
	ReturnMean     float64 // mean return of the episodes finished since the last report; NaN if none finished
	CTR            float64 // clicks per slate since the last report
	PurchaseRate   float64 // purchases per slate since the last report
	StepsPerSecond float64 // shopper-steps per second of wall time since the last report
}

// TrainOptions sets how long a training run goes and how it reports.
type TrainOptions struct {
	Steps    int64 // train until EnvSteps reaches this many shopper-steps
	Every    int64 // shopper-steps between Progress calls; 0 means never
	Progress func(TrainProgress)
}

// Train runs the agent on env, which it owns for the duration, until d.EnvSteps reaches
// opt.Steps or ctx is cancelled. A cancelled run stops after the current update, with the
// agent in a consistent state that can be saved, and returns ctx.Err().
func (d *DQN) Train(ctx context.Context, env *simenv.VecEnv, opt TrainOptions) error {
	if d.buffer == nil {
		var err error
		if d.buffer, err = replay.New(d.Config.ReplayCapacity, d.recordWidth()); err != nil {
			return err
		}
	}
	if err := d.ensureActor(env.NumSessions()); err != nil {
		return err
	}
	d.ensurePending(env.NumSessions())
	if env != d.trainEnv {
		// The sessions of another env have no pending transitions here.
		clear(d.waiting)
		d.trainEnv = env
	}
	d.Greedy = false
	defer d.startScoring(env)()
	slates := make([]int32, env.NumSessions()*d.k)
	out := simenv.NewStepResult(env.NumSessions())

	var window struct {
		returns, episodes, clicks, purchases, steps float64
		start                                       time.Time
		from                                        int64
	}
	window.start, window.from = time.Now(), d.EnvSteps
	for d.EnvSteps < opt.Steps {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := d.Recommend(env, slates); err != nil {
			return err
		}
		if err := env.Step(slates, out); err != nil {
			return err
		}
		d.Observe(out)
		vectorStep := d.EnvSteps / int64(env.NumSessions())
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
		if vectorStep%int64(d.Config.UpdateEvery) == 0 {
			if _, err := d.Update(); err != nil {
				return err
			}
		}
		if opt.Every > 0 && opt.Progress != nil && (d.EnvSteps-window.from >= opt.Every || d.EnvSteps >= opt.Steps) {
			p := TrainProgress{
				EnvSteps: d.EnvSteps, Episodes: d.Episodes, Updates: d.Updates,
				Epsilon: d.Config.Epsilon(d.EnvSteps), Loss: d.LastLoss, ReturnMean: math.NaN(),
				CTR:            window.clicks / window.steps,
				PurchaseRate:   window.purchases / window.steps,
				StepsPerSecond: float64(d.EnvSteps-window.from) / time.Since(window.start).Seconds(),
			}
			if d.Updates == 0 {
				p.Loss = math.NaN()
			}
			if window.episodes > 0 {
				p.ReturnMean = window.returns / window.episodes
			}
			opt.Progress(p)
			window.returns, window.episodes, window.clicks, window.purchases, window.steps = 0, 0, 0, 0, 0
			window.start, window.from = time.Now(), d.EnvSteps
		}
	}
	return nil
}

// TrainSeed returns the seed pair of training session i for a user seed and the shopper-step
// at which the environment starts, so that a resumed run meets new shoppers.
func TrainSeed(seed uint64, startStep int64) uint64 {
	return DeriveSeed(seed^splitmix64(uint64(startStep)), domainTrainEnv)
}
