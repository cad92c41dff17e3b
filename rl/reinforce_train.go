package rl

import (
	"context"

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

	window := newProgressWindow(r.EnvSteps)
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
		window.add(out)
		if err := r.updateWhileReady(); err != nil {
			return err
		}
		r.reportIfDue(&window, opt)
	}
	return nil
}

// updateWhileReady takes every update that the finished sessions allow.
func (r *Reinforce) updateWhileReady() error {
	for {
		updated, err := r.Update()
		if err != nil || !updated {
			return err
		}
	}
}

// reportIfDue reports the training progress when the window is due.
func (r *Reinforce) reportIfDue(window *progressWindow, opt TrainOptions) {
	if window.due(opt, r.EnvSteps) {
		window.report(opt, TrainProgress{
			EnvSteps: r.EnvSteps, Episodes: r.Episodes, Updates: r.Updates,
			Loss: lossOrNaN(r.LastLoss, r.Updates),
		})
	}
}
