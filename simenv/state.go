package simenv

import (
	"fmt"
	"math/rand/v2"
)

// SessionState is the complete state of one session: its random stream, its shopper and
// the shopper's visit. With the VecEnv arrays in State, it lets a run continue exactly.
type SessionState struct {
	RNG        []byte  `msgpack:"rng"` // math/rand/v2 PCG state, from PCG.MarshalBinary
	Shopper    Shopper `msgpack:"shopper"`
	Done       bool    `msgpack:"done"`
	Returning  bool    `msgpack:"returning"`
	Visit      int32   `msgpack:"visit"`
	Step       int32   `msgpack:"step"`
	IgnoredRun int32   `msgpack:"ignored_run"`
	Clicks     int32   `msgpack:"clicks"`
	Purchases  int32   `msgpack:"purchases"`
	Return     float64 `msgpack:"return"`
	Trust      float64 `msgpack:"trust"`
	Budget     float64 `msgpack:"budget"`
}

// State is a snapshot of everything a VecEnv changes while it steps: the drift clock, every
// session, and the per-item and per-category counters. The catalog and Config are not in
// it; SetState needs an env built from the same ones.
type State struct {
	Clock         int64          `msgpack:"clock"`
	Sessions      []SessionState `msgpack:"sessions"`
	Exposure      []int32        `msgpack:"exposure"`
	ItemClicks    []int32        `msgpack:"item_clicks"`
	ItemPurchases []int32        `msgpack:"item_purchases"`
	Fatigue       []float64      `msgpack:"fatigue"`
	TasteSum      []float64      `msgpack:"taste_sum"`
	TasteClicks   []float64      `msgpack:"taste_clicks"`
}

// State returns a copy of the env's state.
func (e *VecEnv) State() (State, error) {
	s := State{
		Clock:         e.clock,
		Exposure:      append([]int32(nil), e.Exposure...),
		ItemClicks:    append([]int32(nil), e.ItemClicks...),
		ItemPurchases: append([]int32(nil), e.ItemPurchases...),
		Fatigue:       append([]float64(nil), e.fatigue...),
		TasteSum:      append([]float64(nil), e.tasteSum...),
		TasteClicks:   append([]float64(nil), e.tasteClicks...),
	}
	for i := range e.sessions {
		ss := &e.sessions[i]
		rng, err := ss.pcg.MarshalBinary()
		if err != nil {
			return State{}, fmt.Errorf("simenv: session %d random stream: %w", i, err)
		}
		s.Sessions = append(s.Sessions, SessionState{
			RNG: rng, Shopper: ss.shopper, Done: ss.done, Returning: ss.returning, Visit: ss.visit,
			Step: ss.step, IgnoredRun: ss.ignoredRun, Clicks: ss.clicks, Purchases: ss.purchases,
			Return: ss.ret, Trust: ss.trust, Budget: ss.budget,
		})
	}
	return s, nil
}

// SetState restores a snapshot taken by State from an env with the same catalog, Config
// and number of sessions. The env's clock must not be past the snapshot's: SetState moves
// it forward, applying the drift due on the way, then overwrites every session.
func (e *VecEnv) SetState(s State) error {
	m, c := e.Catalog.Len(), len(e.Catalog.Categories)
	n := len(e.sessions)
	switch {
	case len(s.Sessions) != n:
		return fmt.Errorf("simenv: state has %d sessions, the env %d; resume with the same number of sessions", len(s.Sessions), n)
	case len(s.Exposure) != n*m || len(s.ItemClicks) != n*m || len(s.ItemPurchases) != n*m:
		return fmt.Errorf("simenv: state counters do not match %d sessions of %d items", n, m)
	case len(s.Fatigue) != n*c || len(s.TasteSum) != n*c || len(s.TasteClicks) != n*c:
		return fmt.Errorf("simenv: state memory does not match %d sessions of %d categories", n, c)
	}
	pcgs := make([]*rand.PCG, n)
	for i, ss := range s.Sessions {
		pcgs[i] = rand.NewPCG(0, 0)
		if err := pcgs[i].UnmarshalBinary(ss.RNG); err != nil {
			return fmt.Errorf("simenv: session %d random stream: %w", i, err)
		}
	}
	if err := e.SetClock(s.Clock); err != nil {
		return err
	}
	for i, ss := range s.Sessions {
		e.sessions[i] = session{
			pcg: pcgs[i], rng: rand.New(pcgs[i]), shopper: ss.Shopper, done: ss.Done, returning: ss.Returning,
			visit: ss.Visit, step: ss.Step, ignoredRun: ss.IgnoredRun, clicks: ss.Clicks, purchases: ss.Purchases,
			ret: ss.Return, trust: ss.Trust, budget: ss.Budget,
		}
	}
	copy(e.Exposure, s.Exposure)
	copy(e.ItemClicks, s.ItemClicks)
	copy(e.ItemPurchases, s.ItemPurchases)
	copy(e.fatigue, s.Fatigue)
	copy(e.tasteSum, s.TasteSum)
	copy(e.tasteClicks, s.TasteClicks)
	return nil
}
