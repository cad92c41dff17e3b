package rl

import (
	"fmt"
	"math"
)

// SlateQ targets: which state the bootstrapped slate value reads.
const (
	// SlateQTargetNext bootstraps from the next state's slate value, as the SlateQ update
	// of Ie et al. (IJCAI 2019) states it.
	SlateQTargetNext = "next"
	// SlateQTargetCurrent reproduces RecSim's and RLlib's SlateQ: the target network scores
	// the current state's user and documents, while the choice probabilities come from the
	// next state.
	SlateQTargetCurrent = "current"
)

// SlateQConfig holds the hyperparameters of the SlateQ agent. Steps are user-steps: one
// slate shown to one session.
type SlateQConfig struct {
	// Network.
	Hidden []int `msgpack:"hidden" json:"hidden"` // hidden layer widths of the item Q-network
	// History adds to the state the episode's sums of what the responses reveal (minutes
	// watched, minutes watched times quality, steps without a click), from which the hidden
	// time budget follows.
	History bool `msgpack:"history" json:"history"`

	// Learning.
	Gamma          float64 `msgpack:"gamma" json:"gamma"`                     // discount per slate
	RewardScale    float64 `msgpack:"reward_scale" json:"reward_scale"`       // reward units per minute watched
	LearningRate   float64 `msgpack:"learning_rate" json:"learning_rate"`     // Adam step size of the Q-network
	MaxGradNorm    float64 `msgpack:"max_grad_norm" json:"max_grad_norm"`     // L2 clip of each update's gradient; 0 disables
	BatchSize      int     `msgpack:"batch_size" json:"batch_size"`           // transitions per update
	ReplayCapacity int     `msgpack:"replay_capacity" json:"replay_capacity"` // transitions kept
	LearningStarts int     `msgpack:"learning_starts" json:"learning_starts"` // transitions stored before the first update
	TargetUpdate   int     `msgpack:"target_update" json:"target_update"`     // updates between copies of the online weights to the target network
	Target         string  `msgpack:"target" json:"target"`                   // SlateQTargetNext or SlateQTargetCurrent

	// Choice model.
	TrueChoice         bool    `msgpack:"true_choice" json:"true_choice"`                   // use RecSim's choice model instead of learning one
	ChoiceLearningRate float64 `msgpack:"choice_learning_rate" json:"choice_learning_rate"` // Adam step size of the learned choice model

	// Exploration.
	EpsilonStart float64 `msgpack:"epsilon_start" json:"epsilon_start"` // chance of a uniformly random slate at step 0
	EpsilonEnd   float64 `msgpack:"epsilon_end" json:"epsilon_end"`     // the same chance after EpsilonSteps
	EpsilonSteps int64   `msgpack:"epsilon_steps" json:"epsilon_steps"` // user-steps of linear decay
}

// DefaultSlateQConfig returns the defaults, set for training runs of up to 1,000,000
// user-steps on the interest-evolution scenario.
func DefaultSlateQConfig() SlateQConfig {
	return SlateQConfig{
		Hidden: []int{64, 64},
		// With the response sums, Q can follow the hidden budget, which nutritious documents
		// restore: after 1,000,000 steps the return rose from 177 to 257 on 10 candidates
		// and from 181 to 442 on 50 (docs/results.md).
		History: true,
		// A session lasts 60 to 200 slates, and the value of a nutritious document lies in
		// the budget it saves for later slates, so the discount must reach far ahead.
		Gamma: 0.99,
		// Q-values in videos watched rather than minutes: a video lasts 4 minutes.
		RewardScale:        0.25,
		LearningRate:       1e-3,
		MaxGradNorm:        10,
		BatchSize:          128,
		ReplayCapacity:     200_000,
		LearningStarts:     10_000,
		TargetUpdate:       100,
		Target:             SlateQTargetNext,
		ChoiceLearningRate: 2e-3,
		EpsilonStart:       1.0,
		EpsilonEnd:         0.01,
		EpsilonSteps:       100_000,
	}
}

// Validate reports the first invalid field.
func (c SlateQConfig) Validate() error {
	for _, w := range c.Hidden {
		if w < 1 || w > maxHiddenWidth {
			return fmt.Errorf("rl: hidden layer width %d is invalid; use 1 to %d units", w, maxHiddenWidth)
		}
	}
	switch {
	case len(c.Hidden) == 0 || len(c.Hidden) > maxHiddenLayers:
		return fmt.Errorf("rl: SlateQ needs 1 to %d hidden layers, got %d", maxHiddenLayers, len(c.Hidden))
	case !(c.Gamma >= 0 && c.Gamma < 1):
		return fmt.Errorf("rl: discount %g is invalid; use a value in [0, 1)", c.Gamma)
	case !(c.RewardScale > 0) || math.IsInf(c.RewardScale, 1):
		return fmt.Errorf("rl: reward scale %g is invalid; use a positive value such as 0.25", c.RewardScale)
	case !(c.LearningRate > 0) || math.IsInf(c.LearningRate, 1):
		return fmt.Errorf("rl: learning rate %g is invalid; use a positive value such as 0.001", c.LearningRate)
	case !(c.ChoiceLearningRate > 0) || math.IsInf(c.ChoiceLearningRate, 1):
		return fmt.Errorf("rl: choice-model learning rate %g is invalid; use a positive value such as 0.002", c.ChoiceLearningRate)
	case c.BatchSize < 1 || c.BatchSize > maxBatchSize:
		return fmt.Errorf("rl: batch size %d is invalid; use 1 to %d", c.BatchSize, maxBatchSize)
	case c.ReplayCapacity < c.BatchSize || c.ReplayCapacity > maxReplayCapacity:
		return fmt.Errorf("rl: replay capacity %d is invalid; use the batch size %d to %d transitions", c.ReplayCapacity, c.BatchSize, maxReplayCapacity)
	case c.LearningStarts < 1:
		return fmt.Errorf("rl: learning starts at %d transitions; use at least 1", c.LearningStarts)
	case c.TargetUpdate < 1:
		return fmt.Errorf("rl: target update every %d updates is invalid; use at least 1", c.TargetUpdate)
	case c.Target != SlateQTargetNext && c.Target != SlateQTargetCurrent:
		return fmt.Errorf("rl: SlateQ target %q is unknown; use %q or %q", c.Target, SlateQTargetNext, SlateQTargetCurrent)
	case !(c.MaxGradNorm >= 0):
		return fmt.Errorf("rl: gradient-norm clip %g is invalid; use 0 to disable it or a positive value", c.MaxGradNorm)
	case !(c.EpsilonStart >= 0 && c.EpsilonStart <= 1 && c.EpsilonEnd >= 0 && c.EpsilonEnd <= 1):
		return fmt.Errorf("rl: epsilon must stay in [0, 1], got start %g and end %g", c.EpsilonStart, c.EpsilonEnd)
	case c.EpsilonSteps < 0:
		return fmt.Errorf("rl: epsilon decay of %d steps is invalid; use 0 or more", c.EpsilonSteps)
	}
	return nil
}

// Epsilon returns the exploration rate after step user-steps: linear from EpsilonStart to
// EpsilonEnd over EpsilonSteps, then constant.
func (c SlateQConfig) Epsilon(step int64) float64 {
	if step >= c.EpsilonSteps || c.EpsilonSteps == 0 {
		return c.EpsilonEnd
	}
	f := float64(step) / float64(c.EpsilonSteps)
	return c.EpsilonStart + f*(c.EpsilonEnd-c.EpsilonStart)
}
