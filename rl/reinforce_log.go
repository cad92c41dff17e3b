package rl

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
)

// logCursor is the position of a run that learns from a slate log.
type logCursor struct {
	log    *SlateLog
	order  []int // the sessions of the current pass, in the order they are learned from
	next   int   // index into order of the next session
	replay *SessionReplay
}

// TrainFromLog learns from the sessions of log, which a logging policy chose, without
// acting, until r.EnvSteps reaches opt.Steps or ctx is cancelled. EnvSteps and Episodes
// count the logged slates and sessions learned from. The run passes over the log again
// and again, each pass in an order shuffled by the agent's random stream.
//
// For each logged slate it rebuilds the features that the agent would have seen live
// from the slates, clicks and purchases logged before it (see SessionReplay), and records
// the state with the logged propensities as β. Update then weights each item's gradient by
// ρ = min(π/β, MaxWeight) and λ_K as in on-policy training. For a log without
// propensities, β is estimated by a behaviour model fitted to the logged slates (see
// behaviourModel). log must have been validated
// against the agent's catalog, and must come from a shop of the agent's slate size.
//
// NOTE: checkpoints do not store the position in the log, so a resumed run would not
// continue the same pass. The command line therefore rejects --resume with --from-log.
func (r *Reinforce) TrainFromLog(ctx context.Context, log *SlateLog, opt TrainOptions) error {
	if log.Shop.SlateSize != r.k {
		return fmt.Errorf("rl: the log's slates have %d items, but the agent was built for %d", log.Shop.SlateSize, r.k)
	}
	if len(log.starts) != log.NumSessions() {
		return fmt.Errorf("rl: the log is not validated; read it with ReadSlateLog")
	}
	if r.cursor == nil || r.cursor.log != log {
		r.cursor = &logCursor{log: log, replay: NewSessionReplay(r.catalog.Len())}
	}
	if !log.HasPropensities() && r.behaviour == nil {
		var err error
		if r.behaviour, err = r.newBehaviourModel(rand.New(rand.NewPCG(r.rng.Uint64(), 3))); err != nil {
			return err
		}
	}
	c := r.cursor
	r.Greedy = false
	window := newProgressWindow(r.EnvSteps)
	for r.EnvSteps < opt.Steps {
		if err := ctx.Err(); err != nil {
			return err
		}
		if c.next == len(c.order) {
			c.order = r.rng.Perm(log.NumSessions())
			c.next = 0
		}
		session := log.Session(c.order[c.next])
		c.next++
		r.learnSession(c.replay, session)
		window.addSession(session)
		if err := r.updateWhileReady(); err != nil {
			return err
		}
		r.reportIfDue(&window, opt)
	}
	return nil
}

// learnSession turns the slates of one logged session into states ready for an update.
func (r *Reinforce) learnSession(replay *SessionReplay, s LoggedSession) {
	k := r.k
	replay.Reset()
	states := make([]*stateRecord, len(s.Clicks))
	for t := range s.Clicks {
		rec := r.newRecord()
		r.encoder.EncodeView(replay.View(), rec.features)
		for j := range rec.available {
			rec.available[j] = true
		}
		slate := s.Slates[t*k : (t+1)*k]
		copy(rec.slate, slate)
		if s.Propensities != nil {
			copy(rec.behaviour, s.Propensities[t*k:(t+1)*k])
		} else {
			for a := range rec.behaviour {
				rec.behaviour[a] = math.NaN() // estimated in Update
			}
		}
		clear(rec.reward)
		if c := s.Clicks[t]; c >= 0 {
			rec.reward[c] = s.Rewards[t]
		}
		states[t] = rec
		replay.Apply(slate, s.Clicks[t], s.Purchases[t])
	}
	r.computeReturns(states)
	r.ready = append(r.ready, states...)
	r.Episodes++
	r.EnvSteps += int64(len(states))
}

// addSession counts the clicks, purchases and return of one logged session.
func (w *progressWindow) addSession(s LoggedSession) {
	for t, c := range s.Clicks {
		if c >= 0 {
			w.clicks++
		}
		if s.Purchases[t] {
			w.purchases++
		}
		w.returns += s.Rewards[t]
	}
	w.episodes++
	w.steps += float64(len(s.Clicks))
}
