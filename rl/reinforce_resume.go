package rl

import (
	"fmt"

	"github.com/simshop/simshop/checkpoints"
	"github.com/simshop/simshop/simenv"
)

// saveRollouts adds to f, when run requests exact resume, the simulator's state and every
// state not yet learned from: the ready queue, then each running session's states.
func (r *Reinforce) saveRollouts(f *checkpoints.File, run RunInfo) error {
	if run.Env == nil || !run.SaveReplay || len(r.running) != run.Env.NumSessions() || run.Env != r.trainEnv {
		return nil
	}
	state, err := run.Env.State()
	if err != nil {
		return err
	}
	f.Training.Env = &state

	var records []*stateRecord
	var sessions []int
	for _, rec := range r.ready {
		records = append(records, rec)
		sessions = append(sessions, -1)
	}
	for i, states := range r.running {
		for _, rec := range states {
			records = append(records, rec)
			sessions = append(sessions, i)
		}
	}
	m := r.catalog.Len()
	rows := m * r.width
	out := &checkpoints.Rollouts{Session: sessions, Slots: r.k, Available: make([]byte, len(records)*m)}
	features := make([]float32, 0, len(records)*rows)
	for s, rec := range records {
		features = append(features, rec.features...)
		for j, ok := range rec.available {
			if ok {
				out.Available[s*m+j] = 1
			}
		}
		out.Slates = append(out.Slates, rec.slate...)
		out.Behaviour = append(out.Behaviour, rec.behaviour...)
		out.Reward = append(out.Reward, rec.reward...)
		out.Return = append(out.Return, rec.ret...)
	}
	out.Features = checkpoints.NewTensor("rollout_features", []int{len(records), rows}, features)
	f.Training.Rollouts = out
	return nil
}

// loadRollouts checks and keeps the simulator state and the states of f for RestoreEnv.
func (r *Reinforce) loadRollouts(f *checkpoints.File) error {
	t := f.Training
	if t.Rollouts == nil {
		return nil
	}
	if t.Env == nil {
		return fmt.Errorf("the REINFORCE rollouts come without the simulator state; the file is corrupted")
	}
	ro := t.Rollouts
	n, m, k := len(ro.Session), r.catalog.Len(), r.k
	sessions := len(t.Env.Sessions)
	if ro.Slots != k || len(ro.Available) != n*m || len(ro.Slates) != n*k || len(ro.Behaviour) != n*k ||
		len(ro.Reward) != n*k || len(ro.Return) != n*k {
		return fmt.Errorf("the REINFORCE rollouts of %d states do not match %d items and a slate of %d", n, m, k)
	}
	features := make([]float32, n*m*r.width)
	if err := ro.Features.Floats(features); err != nil {
		return fmt.Errorf("rollouts: %w", err)
	}

	// Rebuild each state record and put it back in the ready queue or its session.
	resume := &reinforceResume{env: t.Env, running: make([][]*stateRecord, sessions)}
	for s, session := range ro.Session {
		if session < -1 || session >= sessions {
			return fmt.Errorf("rollout state %d belongs to session %d of %d", s, session, sessions)
		}
		for a := 0; a < k; a++ {
			if item := ro.Slates[s*k+a]; item < 0 || int(item) >= m {
				return fmt.Errorf("rollout state %d shows item %d of a %d-item catalog", s, item, m)
			}
		}
		rec := r.newRecord()
		copy(rec.features, features[s*m*r.width:(s+1)*m*r.width])
		for j := range rec.available {
			rec.available[j] = ro.Available[s*m+j] == 1
		}
		copy(rec.slate, ro.Slates[s*k:(s+1)*k])
		copy(rec.behaviour, ro.Behaviour[s*k:(s+1)*k])
		copy(rec.reward, ro.Reward[s*k:(s+1)*k])
		copy(rec.ret, ro.Return[s*k:(s+1)*k])
		if session < 0 {
			resume.ready = append(resume.ready, rec)
		} else {
			resume.running[session] = append(resume.running[session], rec)
		}
	}
	r.resume = resume
	return nil
}

// reinforceResume is the saved simulator state and rollouts that RestoreEnv applies.
type reinforceResume struct {
	env     *simenv.State
	ready   []*stateRecord
	running [][]*stateRecord
}

// RestoreEnv gives env, a new env of the run's catalog, shop and session count, the state
// saved with the agent, and the agent its states not yet learned from, so that training
// continues exactly as if it had not stopped. It reports false, and changes nothing, when
// the checkpoint holds no simulator state; a resumed run then starts new sessions.
func (r *Reinforce) RestoreEnv(env *simenv.VecEnv) (bool, error) {
	if r.resume == nil {
		return false, nil
	}
	if len(r.resume.running) != env.NumSessions() {
		return false, fmt.Errorf("the checkpoint contains %d sessions, but the env has %d; restore into an env of %d sessions", len(r.resume.running), env.NumSessions(), len(r.resume.running))
	}
	if err := env.SetState(*r.resume.env); err != nil {
		return false, err
	}
	r.ready = r.resume.ready
	r.running = r.resume.running
	r.current = make([]*stateRecord, env.NumSessions())
	r.trainEnv = env
	r.resume = nil
	return true, nil
}
