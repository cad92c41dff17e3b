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

	window := newProgressWindow(d.EnvSteps)
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
		window.add(out)
		if vectorStep%int64(d.Config.UpdateEvery) == 0 {
			if _, err := d.Update(); err != nil {
				return err
			}
		}
		if window.due(opt, d.EnvSteps) {
			window.report(opt, TrainProgress{
				EnvSteps: d.EnvSteps, Episodes: d.Episodes, Updates: d.Updates,
				Epsilon: d.Config.Epsilon(d.EnvSteps), Loss: lossOrNaN(d.LastLoss, d.Updates),
			})
		}
	}
	return nil
}

// TrainSeed returns the seed pair of training session i for a user seed and the shopper-step
// at which the environment starts, so that a resumed run meets new shoppers.
func TrainSeed(seed uint64, startStep int64) uint64 {
	return DeriveSeed(seed^splitmix64(uint64(startStep)), domainTrainEnv)
}

// progressWindow sums the outcomes of the shopper-steps since the last progress report.
type progressWindow struct {
	returns, episodes, clicks, purchases, steps float64
	start                                       time.Time
	from                                        int64 // the agent's shopper-steps when the window began
}

func newProgressWindow(from int64) progressWindow {
	return progressWindow{start: time.Now(), from: from}
}

// add counts the clicks, purchases and finished sessions of one vectorized step.
func (w *progressWindow) add(out *simenv.StepResult) {
	for i, done := range out.Done {
		if out.Click[i] >= 0 {
			w.clicks++
		}
		if out.Bought[i] {
			w.purchases++
		}
		if done {
			w.returns += out.EpisodeReturn[i]
			w.episodes++
		}
	}
	w.steps += float64(len(out.Done))
}

// due reports whether a progress report is due at the agent's shopper-step count steps:
// every opt.Every steps and at the end of the run.
func (w *progressWindow) due(opt TrainOptions, steps int64) bool {
	return opt.Every > 0 && opt.Progress != nil && (steps-w.from >= opt.Every || steps >= opt.Steps)
}

// report completes p with the window's CTR, purchase rate, mean return (NaN without a
// finished session) and speed, passes it to opt.Progress and starts the next window.
func (w *progressWindow) report(opt TrainOptions, p TrainProgress) {
	p.CTR = w.clicks / w.steps
	p.PurchaseRate = w.purchases / w.steps
	p.ReturnMean = math.NaN()
	if w.episodes > 0 {
		p.ReturnMean = w.returns / w.episodes
	}
	p.StepsPerSecond = float64(p.EnvSteps-w.from) / time.Since(w.start).Seconds()
	opt.Progress(p)
	*w = newProgressWindow(p.EnvSteps)
}

// lossOrNaN returns the last loss, or NaN before the first update.
func lossOrNaN(loss float64, updates int64) float64 {
	if updates == 0 {
		return math.NaN()
	}
	return loss
}
