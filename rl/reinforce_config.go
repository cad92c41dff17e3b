package rl

import (
	"fmt"
	"math"
)

// ReinforceConfig holds the hyperparameters of the REINFORCE slate recommender. Counts of
// steps are shopper-steps: one slate shown to one session.
type ReinforceConfig struct {
	// Networks.
	Hidden         []int `msgpack:"hidden" json:"hidden"`                   // hidden layer widths of the item-scoring policy MLP
	BaselineHidden []int `msgpack:"baseline_hidden" json:"baseline_hidden"` // hidden layer widths of the baseline MLP over session features

	// Learning.
	Gamma                float64 `msgpack:"gamma" json:"gamma"`                                   // discount per slate in the returns-to-go
	LearningRate         float64 `msgpack:"learning_rate" json:"learning_rate"`                   // Adam step size of the policy
	BaselineLearningRate float64 `msgpack:"baseline_learning_rate" json:"baseline_learning_rate"` // Adam step size of the baseline
	MaxGradNorm          float64 `msgpack:"max_grad_norm" json:"max_grad_norm"`                   // L2 clip of each update's gradient; 0 disables
	BatchStates          int     `msgpack:"batch_states" json:"batch_states"`                     // states (slates shown) per update, from finished sessions
	EntropyCoef          float64 `msgpack:"entropy_coef" json:"entropy_coef"`                     // weight of the policy's entropy in the loss

	// Off-policy correction.
	TopKCorrection bool    `msgpack:"top_k_correction" json:"top_k_correction"` // multiply by λ_K = K(1-π)^(K-1)
	MaxWeight      float64 `msgpack:"max_weight" json:"max_weight"`             // cap of the importance ratio π/β
	// NoImportanceRatio sets ρ = 1 in place of min(π/β, MaxWeight), for ablations.
	// Checkpoints saved before it existed decode as false.
	NoImportanceRatio bool `msgpack:"no_importance_ratio,omitempty" json:"no_importance_ratio,omitempty"`

	// Learning-rate schedule of the policy, by shopper-step.
	LRSchedule string  `msgpack:"lr_schedule,omitempty" json:"lr_schedule,omitempty"` // constant, linear or cosine
	LRFinal    float64 `msgpack:"lr_final,omitempty" json:"lr_final,omitempty"`       // learning rate from LRSteps on
	LRSteps    int64   `msgpack:"lr_steps,omitempty" json:"lr_steps,omitempty"`       // shopper-steps of decay
}

// DefaultReinforceConfig returns the defaults used by `train --agent reinforce`.
func DefaultReinforceConfig() ReinforceConfig {
	return ReinforceConfig{
		Hidden:         []int{64, 64},
		BaselineHidden: []int{32},
		// The same short horizon as the DQN's: the personas reward what a slate shows now.
		Gamma:                0.5,
		LearningRate:         1e-3,
		BaselineLearningRate: 1e-3,
		MaxGradNorm:          10,
		// 256 states of a 200-item catalog are 51,200 scored rows per update.
		BatchStates:    256,
		EntropyCoef:    0.01,
		TopKCorrection: true,
		// Chen et al. cap the ratio to bound the variance. With an update after every batch,
		// the acting policy is at most a few updates old, so the ratio stays near 1.
		MaxWeight: 10,
	}
}

// Validate reports the first invalid field.
func (c ReinforceConfig) Validate() error {
	for _, layers := range [][]int{c.Hidden, c.BaselineHidden} {
		if len(layers) == 0 || len(layers) > maxHiddenLayers {
			return fmt.Errorf("rl: REINFORCE networks need 1 to %d hidden layers, got %d", maxHiddenLayers, len(layers))
		}
		for _, w := range layers {
			if w < 1 || w > maxHiddenWidth {
				return fmt.Errorf("rl: hidden layer width %d is invalid; use 1 to %d units", w, maxHiddenWidth)
			}
		}
	}
	switch {
	case !(c.Gamma >= 0 && c.Gamma <= 1):
		return fmt.Errorf("rl: discount %g is invalid; use a value in [0, 1]", c.Gamma)
	case !(c.LearningRate > 0) || math.IsInf(c.LearningRate, 1):
		return fmt.Errorf("rl: learning rate %g is invalid; use a positive value such as 0.001", c.LearningRate)
	case !(c.BaselineLearningRate > 0) || math.IsInf(c.BaselineLearningRate, 1):
		return fmt.Errorf("rl: baseline learning rate %g is invalid; use a positive value such as 0.001", c.BaselineLearningRate)
	case !(c.MaxGradNorm >= 0):
		return fmt.Errorf("rl: gradient-norm clip %g is invalid; use 0 to disable it or a positive value", c.MaxGradNorm)
	case c.BatchStates < 1 || c.BatchStates > maxBatchSize:
		return fmt.Errorf("rl: %d states per update (--batch-states) is invalid; use 1 to %d", c.BatchStates, maxBatchSize)
	case !(c.EntropyCoef >= 0) || math.IsInf(c.EntropyCoef, 1):
		return fmt.Errorf("rl: entropy coefficient %g is invalid; use 0 or a small positive value such as 0.01", c.EntropyCoef)
	case !(c.MaxWeight >= 1) || math.IsInf(c.MaxWeight, 1):
		return fmt.Errorf("rl: importance-weight cap %g (--max-weight) is invalid; use a finite value of at least 1, such as 10", c.MaxWeight)
	}
	return validateSchedule(c.LRSchedule, c.LRFinal, c.LRSteps)
}

// LearningRateAt returns the policy's Adam step size after step shopper-steps.
func (c ReinforceConfig) LearningRateAt(step int64) float64 {
	return scheduleAt(c.LRSchedule, c.LearningRate, c.LRFinal, c.LRSteps, step)
}
