package rl

import (
	"fmt"
	"math"
)

// DQNConfig holds the hyperparameters of the DQN slate recommender. Counts of steps are
// shopper-steps: one slate shown to one session.
type DQNConfig struct {
	// Network.
	Hidden []int `msgpack:"hidden" json:"hidden"` // hidden layer widths of the item-scoring MLP

	// Learning.
	Gamma          float64 `msgpack:"gamma" json:"gamma"`                     // discount per slate
	LearningRate   float64 `msgpack:"learning_rate" json:"learning_rate"`     // Adam step size
	MaxGradNorm    float64 `msgpack:"max_grad_norm" json:"max_grad_norm"`     // L2 clip of each update's gradient; 0 disables
	BatchSize      int     `msgpack:"batch_size" json:"batch_size"`           // transitions per update
	ReplayCapacity int     `msgpack:"replay_capacity" json:"replay_capacity"` // transitions kept
	LearningStarts int     `msgpack:"learning_starts" json:"learning_starts"` // transitions stored before the first update
	UpdateEvery    int     `msgpack:"update_every" json:"update_every"`       // vectorized steps between updates
	TargetUpdate   int     `msgpack:"target_update" json:"target_update"`     // updates between copies of the online weights to the target network
	Candidates     int     `msgpack:"candidates" json:"candidates"`           // next-state items stored per transition for the bootstrap target
	// Tau, when above 0, moves the target network toward the online one after every update,
	// θ' ← τ·θ + (1-τ)·θ' (Polyak averaging), in place of the hard copy every TargetUpdate
	// updates. Files saved before the field existed decode as 0.
	Tau float64 `msgpack:"tau,omitempty" json:"tau,omitempty"`

	// Learning-rate schedule, by shopper-step; files saved before it existed decode as constant.
	LRSchedule string  `msgpack:"lr_schedule,omitempty" json:"lr_schedule,omitempty"` // constant, linear or cosine
	LRFinal    float64 `msgpack:"lr_final,omitempty" json:"lr_final,omitempty"`       // learning rate from LRSteps on
	LRSteps    int64   `msgpack:"lr_steps,omitempty" json:"lr_steps,omitempty"`       // shopper-steps of decay

	// Exploration.
	EpsilonStart float64 `msgpack:"epsilon_start" json:"epsilon_start"` // chance that a slate position shows a random item, at step 0
	EpsilonEnd   float64 `msgpack:"epsilon_end" json:"epsilon_end"`     // the same chance after EpsilonSteps
	EpsilonSteps int64   `msgpack:"epsilon_steps" json:"epsilon_steps"` // shopper-steps of linear decay
}

// DefaultDQNConfig returns the defaults, sized so that the default training run of
// 60,000 shopper-steps explores for half of it and makes about 3,700 updates.
func DefaultDQNConfig() DQNConfig {
	return DQNConfig{
		Hidden: []int{64, 64},
		// A horizon of about five slates, with the target network averaged (Tau). On
		// impulse_buyer, where a purchase that disappoints ends the session, the mean return
		// was 47.3 and 48.9 for seeds 1 and 2, against 14.9 and 14.0 with the earlier 0.5
		// and hard copies; 0.7 stayed myopic (16.1 and 15.1). On exposure_buyer it fell from
		// 45.8 and 45.0 to 36.8 and 40.8, less than with 0.9 (31.9 and 40.8). The reward per
		// slate of cheap_blue, value_seeker and brand_lover stayed within the 95 % intervals
		// of the earlier runs (60,000 steps, 500 evaluation sessions).
		Gamma:          0.8,
		LearningRate:   5e-4,
		MaxGradNorm:    10,
		BatchSize:      64,
		ReplayCapacity: 50_000,
		LearningStarts: 1_000,
		UpdateEvery:    1,
		TargetUpdate:   250,
		Candidates:     6,
		EpsilonStart:   1.0,
		EpsilonEnd:     0.05,
		EpsilonSteps:   30_000,
		Tau:            0.01,
	}
}

// Upper bounds of DQNConfig, far above any useful setting. They keep a mistyped flag or a
// crafted checkpoint from asking for buffers that cannot be allocated.
const (
	maxHiddenWidth    = 1 << 14 // units per layer
	maxHiddenLayers   = 64
	maxBatchSize      = 1 << 16 // transitions
	maxReplayCapacity = 1 << 26 // transitions
	maxCandidates     = 1 << 10 // items per transition
)

// Validate reports the first invalid field.
func (c DQNConfig) Validate() error {
	for _, w := range c.Hidden {
		if w < 1 || w > maxHiddenWidth {
			return fmt.Errorf("rl: hidden layer width %d is invalid; use 1 to %d units", w, maxHiddenWidth)
		}
	}
	switch {
	case len(c.Hidden) == 0 || len(c.Hidden) > maxHiddenLayers:
		return fmt.Errorf("rl: DQN needs 1 to %d hidden layers, got %d", maxHiddenLayers, len(c.Hidden))
	case c.BatchSize > maxBatchSize:
		return fmt.Errorf("rl: batch size %d is too large; use at most %d", c.BatchSize, maxBatchSize)
	case c.ReplayCapacity > maxReplayCapacity:
		return fmt.Errorf("rl: replay capacity %d is too large; use at most %d transitions", c.ReplayCapacity, maxReplayCapacity)
	case c.Candidates > maxCandidates:
		return fmt.Errorf("rl: %d next-state candidates is too many; use at most %d", c.Candidates, maxCandidates)
	case !(c.Gamma >= 0 && c.Gamma < 1): // also rejects NaN
		return fmt.Errorf("rl: discount %g is invalid; use a value in [0, 1)", c.Gamma)
	case !(c.LearningRate > 0) || math.IsInf(c.LearningRate, 1):
		return fmt.Errorf("rl: learning rate %g is invalid; use a positive value such as 0.001", c.LearningRate)
	case c.BatchSize < 1:
		return fmt.Errorf("rl: batch size %d is invalid; use at least 1", c.BatchSize)
	case c.ReplayCapacity < c.BatchSize:
		return fmt.Errorf("rl: replay capacity %d is smaller than the batch size %d", c.ReplayCapacity, c.BatchSize)
	case c.LearningStarts < 1:
		return fmt.Errorf("rl: learning starts at %d transitions; use at least 1", c.LearningStarts)
	case c.UpdateEvery < 1:
		return fmt.Errorf("rl: an update every %d vectorized steps is invalid; use at least 1", c.UpdateEvery)
	case c.TargetUpdate < 1:
		return fmt.Errorf("rl: a target-network copy every %d updates is invalid; use at least 1", c.TargetUpdate)
	case c.Candidates < 1:
		return fmt.Errorf("rl: %d next-state candidates is invalid; use at least the slate size", c.Candidates)
	case !(c.MaxGradNorm >= 0):
		return fmt.Errorf("rl: gradient-norm clip %g is invalid; use 0 to disable it or a positive value", c.MaxGradNorm)
	case !(c.EpsilonStart >= 0 && c.EpsilonStart <= 1 && c.EpsilonEnd >= 0 && c.EpsilonEnd <= 1):
		return fmt.Errorf("rl: epsilon must stay in [0, 1], got start %g and end %g", c.EpsilonStart, c.EpsilonEnd)
	case c.EpsilonSteps < 0:
		return fmt.Errorf("rl: epsilon decay of %d steps is invalid; use 0 or more", c.EpsilonSteps)
	case !(c.Tau >= 0 && c.Tau <= 1):
		return fmt.Errorf("rl: Polyak rate tau %g is invalid; use 0 for hard target copies or a value in (0, 1] such as 0.01", c.Tau)
	}
	return validateSchedule(c.LRSchedule, c.LRFinal, c.LRSteps)
}

// LearningRateAt returns Adam's step size after step shopper-steps.
func (c DQNConfig) LearningRateAt(step int64) float64 {
	return scheduleAt(c.LRSchedule, c.LearningRate, c.LRFinal, c.LRSteps, step)
}

// Epsilon returns the exploration rate after step shopper-steps: linear from EpsilonStart
// to EpsilonEnd over EpsilonSteps, then constant.
func (c DQNConfig) Epsilon(step int64) float64 {
	if step >= c.EpsilonSteps || c.EpsilonSteps == 0 {
		return c.EpsilonEnd
	}
	f := float64(step) / float64(c.EpsilonSteps)
	return c.EpsilonStart + f*(c.EpsilonEnd-c.EpsilonStart)
}
