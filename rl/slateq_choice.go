package rl

import (
	"fmt"
	"math"

	"github.com/simshop/simshop/nn"
	"github.com/simshop/simshop/simenv/recsim"
)

// minChoiceScore is the floor of a learned document score, which keeps every choice
// probability positive. The no-click score is 1.
const minChoiceScore = 1e-3

// choiceFeatures is the width of the choice model's input: the user's interest in the
// document's cluster at the cluster's index, and a one-hot of the cluster.
const choiceFeatures = 2 * recsim.Topics

// ChoiceModel is a multinomial proportional choice model whose document scores are
// learned from observed responses. A document of cluster c shown to a user with interests u
// gets the score v(u, c) = max(minChoiceScore, w[c]·u[c] + w[Topics+c] + b), the no-click
// option gets 1, and the user picks each option of a slate with probability proportional to
// its score. RecSim's MultinomialProportionalChoiceModel is the member w[c] = 1/2,
// w[Topics+c] = 0, b = 1/2 (its scores u[c] + 1 and 2, divided by 2), so the family
// contains the truth. The weights are trained by maximum likelihood with Adam.
type ChoiceModel struct {
	// True replaces the learned scores by RecSim's own, (u[c] + 1)/2.
	True bool
	// Params is a linear network of choiceFeatures inputs and one output: w and b.
	Params *nn.Params[float32]
	Adam   *nn.Adam[float32]

	grads [][]float32
}

// NewChoiceModel returns a learned choice model that starts with every score at 1, so that
// every option of a slate is equally likely, or RecSim's model if useTrue is set.
func NewChoiceModel(useTrue bool, learningRate float64) (*ChoiceModel, error) {
	spec := nn.Spec{Inputs: choiceFeatures, Outputs: 1, Activation: "relu"}
	p := &nn.Params[float32]{Spec: spec, Tensors: []*nn.Param[float32]{
		{Name: "layer0/weight", Shape: [2]int{choiceFeatures, 1}, Data: make([]float32, choiceFeatures)},
		{Name: "layer0/bias", Shape: [2]int{1, 1}, Data: []float32{1}},
	}}
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	m := &ChoiceModel{True: useTrue, Params: p, Adam: nn.NewAdam(p, learningRate)}
	m.grads = [][]float32{make([]float32, choiceFeatures), make([]float32, 1)}
	return m, nil
}

// Score returns v(u, c), the unnormalized score of a document of cluster c for a user with
// interests u, relative to the no-click score 1.
func (m *ChoiceModel) Score(u []float32, c uint8) float64 {
	if m.True {
		return (float64(u[c]) - recsim.MinNormalizer) / recsim.NoClickScore
	}
	return max(m.linear(u, c), minChoiceScore)
}

// linear returns w[c]·u[c] + w[Topics+c] + b, the score before its floor.
func (m *ChoiceModel) linear(u []float32, c uint8) float64 {
	w := m.Params.Tensors[0].Data
	b := m.Params.Tensors[1].Data[0]
	return float64(w[c])*float64(u[c]) + float64(w[recsim.Topics+int(c)]) + float64(b)
}

// choiceObservation is one observed response: the user's interests, the clusters of the
// slate shown, and the slate position clicked or -1 for no click.
type choiceObservation struct {
	user  []float32
	shown []uint8
	click int
}

// NegLogLikelihood returns the mean over obs of -log P(response | user, slate) and writes its
// gradient with respect to w and b into m.grads. For one observation with scores v_j and
// clicked position k, the loss is -log v_k + log(1 + Σ_j v_j), the -log v_k term absent for
// no click, and a score at its floor contributes no gradient.
func (m *ChoiceModel) negLogLikelihood(obs []choiceObservation) float64 {
	gw, gb := m.grads[0], m.grads[1]
	clear(gw)
	clear(gb)
	loss := 0.0
	scale := 1 / float64(len(obs))
	for _, o := range obs {
		total := 1.0
		for _, c := range o.shown {
			total += m.Score(o.user, c)
		}
		loss += math.Log(total)
		for _, c := range o.shown {
			if m.linear(o.user, c) > minChoiceScore {
				d := scale / total
				gw[c] += float32(d * float64(o.user[c]))
				gw[recsim.Topics+int(c)] += float32(d)
				gb[0] += float32(d)
			}
		}
		if o.click < 0 {
			continue
		}
		c := o.shown[o.click]
		v := m.Score(o.user, c)
		loss -= math.Log(v)
		if m.linear(o.user, c) > minChoiceScore {
			d := scale / v
			gw[c] -= float32(d * float64(o.user[c]))
			gw[recsim.Topics+int(c)] -= float32(d)
			gb[0] -= float32(d)
		}
	}
	return loss * scale
}

// Learn takes one Adam step on the negative log-likelihood of obs and returns the loss
// before the step. It does nothing for the true model.
func (m *ChoiceModel) Learn(obs []choiceObservation) float64 {
	if m.True || len(obs) == 0 {
		return 0
	}
	loss := m.negLogLikelihood(obs)
	m.Adam.Update(m.Params, m.grads)
	return loss
}

// Weights returns w and b as one slice, w first, for checkpoints.
func (m *ChoiceModel) Weights() []float32 {
	return append(append([]float32(nil), m.Params.Tensors[0].Data...), m.Params.Tensors[1].Data...)
}

// SetWeights loads w and b from a slice that Weights returned.
func (m *ChoiceModel) SetWeights(w []float32) error {
	if len(w) != choiceFeatures+1 {
		return fmt.Errorf("rl: choice model has %d weights, want %d; the checkpoint was written by another version", len(w), choiceFeatures+1)
	}
	for _, x := range w {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return fmt.Errorf("rl: choice model weight %v is not finite; the checkpoint is damaged", x)
		}
	}
	copy(m.Params.Tensors[0].Data, w[:choiceFeatures])
	m.Params.Tensors[1].Data[0] = w[choiceFeatures]
	return nil
}
