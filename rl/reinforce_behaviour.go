package rl

import (
	"math"
	"math/rand/v2"

	"github.com/simshop/simshop/nn"
)

// behaviourModel estimates the logging policy of a slate log without propensities, as the
// behaviour head of Chen et al. (WSDM 2019) does: a softmax over items, β̂(a|s), fitted by
// maximum likelihood to the logged slates. Each update first reads β̂ of the batch's slate
// items, held constant as β in ρ, and then takes an Adam step on the negative
// log-likelihood of the slates as Plackett-Luce draws, in their logged order,
//
//	L_β = −(1/B) Σ_t Σ_k [ log β̂(a_k|s_t) − log(1 − Σ_{i<k} β̂(a_i|s_t)) ]
//
// whose minimum over all softmax policies is the logging policy's first-draw probability,
// the propensity that a log records. A softmax fitted to the items of each slate as
// independent labels would estimate how often an item is shown, divided by K, instead.
//
// Chen et al. put the head on the policy's state representation and stop its gradient
// there. Here it is an MLP of its own, of the policy's shape, on the same feature rows.
//
// NOTE: checkpoints do not store the model, so it exists only during a run from a log.
type behaviourModel struct {
	params   *nn.Params[float32]
	adam     *nn.Adam[float32]
	backprop *nn.Backprop[float32]
}

// newBehaviourModel returns an untrained behaviour model, its weights drawn from rng.
func (r *Reinforce) newBehaviourModel(rng *rand.Rand) (*behaviourModel, error) {
	spec := r.Policy.Spec
	spec.Hidden = append([]int(nil), spec.Hidden...)
	params, err := nn.NewParams[float32](spec, rng)
	if err != nil {
		return nil, err
	}
	backprop, err := nn.NewBackprop(params, r.Config.BatchStates*r.catalog.Len())
	if err != nil {
		return nil, err
	}
	adam := nn.NewAdam(params, r.Config.LearningRate)
	adam.MaxGradNorm = r.Config.MaxGradNorm
	return &behaviourModel{params: params, adam: adam, backprop: backprop}, nil
}

// estimateBehaviour sets every unknown β (NaN) of batch to β̂ and takes one
// maximum-likelihood step of the behaviour model.
func (r *Reinforce) estimateBehaviour(batch []*stateRecord) {
	model := r.behaviour
	m, w, n := r.catalog.Len(), r.width, len(batch)
	in := model.backprop.Input()
	for b, rec := range batch {
		copy(in[b*m*w:(b+1)*m*w], rec.features)
	}
	model.backprop.RunForward()
	z := model.backprop.Output()
	upstream := model.backprop.Upstream()
	for b, rec := range batch {
		for j, s := range z[b*m : (b+1)*m] {
			r.logits[j] = float64(s)
			if !rec.available[j] {
				r.logits[j] = math.Inf(-1)
			}
		}
		nn.LogSoftmax(r.logProbs, r.logits)
		for a, item := range rec.slate {
			if math.IsNaN(rec.behaviour[a]) {
				rec.behaviour[a] = math.Exp(r.logProbs[item])
			}
		}
		plackettLuceLoss(r.logProbs, rec.slate, r.grad)
		for j, g := range r.grad {
			upstream[b*m+j] = float32(g / float64(n))
		}
	}
	model.backprop.RunBackward()
	model.adam.Update(model.params, model.backprop.Grads)
}

// plackettLuceLoss returns the negative log-probability of drawing slate, in its order,
// from the softmax of log-probabilities logProbs without replacement,
//
//	L = −Σ_k [ log p(a_k) − log(1 − S_k) ],  S_k = Σ_{i<k} p(a_i),
//
// and writes into grad its gradient with respect to the logits,
//
//	∂L/∂z_j = Σ_k (p_j − [j = a_k]) − Σ_k p_j·([j drawn before k] − S_k)/(1 − S_k),
//
// which is 0 for an item of probability 0. The slate's items must have probability above 0.
func plackettLuceLoss(logProbs []float64, slate []int32, grad []float64) float64 {
	loss, drawn := 0.0, 0.0 // drawn is S_k
	var coefficient float64 // Σ_k S_k/(1 − S_k) so far, for every item
	for j := range grad {
		grad[j] = 0
	}
	for k, item := range slate {
		loss -= logProbs[item] - math.Log1p(-drawn)
		coefficient += drawn / (1 - drawn)
		// Each item drawn before position k gets −p_j/(1 − S_k).
		for _, earlier := range slate[:k] {
			grad[earlier] -= math.Exp(logProbs[earlier]) / (1 - drawn)
		}
		grad[item]--
		drawn += math.Exp(logProbs[item])
	}
	for j, lp := range logProbs {
		if math.IsInf(lp, -1) {
			grad[j] = 0
			continue
		}
		grad[j] += math.Exp(lp) * (float64(len(slate)) + coefficient)
	}
	return loss
}
