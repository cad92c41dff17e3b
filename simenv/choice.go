package simenv

import (
	"fmt"
	"math"
	"strings"
)

// Choice models. A choice model turns the utilities u_k of the items at slate positions
// k = 0, 1, ... and the no-click utility u_0 into the probability of a click at each
// position. Every model clicks at most one item per slate, and the purchase step after a
// click is the same for all of them.
const (
	// ChoiceMNL is the multinomial logit with a no-click option (McFadden 1974):
	// P(k) = exp(u_k) / (exp(u_0) + Σ_j exp(u_j)). Slate order does not matter.
	ChoiceMNL = "mnl"

	// ChoiceCascade is the cascade model of Craswell, Zoeter, Taylor and Ramsey, "An
	// experimental comparison of click position-bias models", WSDM 2008. The shopper
	// examines the positions top-down and clicks the item at position k with its attraction
	// a_k, else moves on to position k+1, so P(k) = a_k · Π_{j<k} (1 − a_j).
	ChoiceCascade = "cascade"

	// ChoicePosition is a position-based model. The shopper examines position k with
	// probability θ_k = ExaminationProbability(k), independently of the other positions,
	// and is attracted by an examined item with probability a_k. It clicks the first item
	// in position order that it both examines and is attracted by, so
	// P(k) = θ_k·a_k · Π_{j<k} (1 − θ_j·a_j).
	ChoicePosition = "position"
)

// ChoiceModelNames lists the choice models; the first is the default.
var ChoiceModelNames = []string{ChoiceMNL, ChoiceCascade, ChoicePosition}

// CheckChoiceModel returns an error naming the valid choice models when name is not one of
// them. The empty name means ChoiceMNL.
func CheckChoiceModel(name string) error {
	_, err := parseChoiceModel(name)
	return err
}

// choiceModel is a choice model as Step dispatches on it.
type choiceModel int

const (
	choiceMNL choiceModel = iota
	choiceCascade
	choicePosition
)

func parseChoiceModel(name string) (choiceModel, error) {
	switch name {
	case "", ChoiceMNL:
		return choiceMNL, nil
	case ChoiceCascade:
		return choiceCascade, nil
	case ChoicePosition:
		return choicePosition, nil
	}
	return 0, fmt.Errorf("simenv: unknown choice model %q; valid models: %s", name, strings.Join(ChoiceModelNames, ", "))
}

// Attraction returns the probability a = sigmoid(u − noClick) that an examined item of
// utility u attracts a click under the cascade and position-based models. It equals the
// multinomial-logit click probability of a slate that shows the item alone, so the three
// models agree on slates of one item, and an item as good as not clicking attracts half
// of the time. An item of utility −Inf, such as one that is unavailable, has attraction 0.
func Attraction(u, noClick float64) float64 {
	return 1 / (1 + math.Exp(noClick-u))
}

// ExaminationProbability returns θ_k = 1 / log2(k + 2), the probability that a shopper under
// the position-based model examines slate position k (0-based). It is the position discount
// of discounted cumulative gain (Järvelin and Kekäläinen, "Cumulated gain-based evaluation
// of IR techniques", ACM TOIS 2002): 1, 0.631 and 0.5 for the first three positions, falling
// slowly for any slate size. It returns 0 for a negative k.
func ExaminationProbability(k int) float64 {
	if k < 0 {
		return 0
	}
	return 1 / math.Log2(float64(k+2))
}

// CascadeProbabilities writes into dst the cascade-model probabilities of a click at each
// slate position given the utilities u in position order, and returns the probability of
// no click, Π_k (1 − a_k) with a_k = Attraction(u[k], noClick). dst and u must have the same
// length.
func CascadeProbabilities(dst, u []float64, noClick float64) float64 {
	reach := 1.0 // probability that the shopper examines position k
	for k, v := range u {
		// With x = exp(noClick − u), a = 1/(1 + x) and 1 − a = x/(1 + x); computing 1 − a
		// this way keeps its relative precision when a is close to 1.
		x := math.Exp(noClick - v)
		dst[k] = reach / (1 + x)
		if math.IsInf(x, 1) {
			continue // never attracted: the shopper moves on with the same probability
		}
		reach *= x / (1 + x)
	}
	return reach
}

// PositionProbabilities writes into dst the position-based-model probabilities of a click
// at each slate position given the utilities u in position order, and returns the
// probability of no click, Π_k (1 − θ_k·a_k) with θ_k = ExaminationProbability(k) and
// a_k = Attraction(u[k], noClick). dst and u must have the same length.
func PositionProbabilities(dst, u []float64, noClick float64) float64 {
	return positionProbabilities(dst, u, noClick, nil)
}

// positionProbabilities is PositionProbabilities with the examination probabilities taken
// from theta when it is not nil, so that Step does not recompute the logarithms.
func positionProbabilities(dst, u []float64, noClick float64, theta []float64) float64 {
	none := 1.0 // probability that no earlier position was clicked
	for k, v := range u {
		examine := 0.0
		if theta != nil {
			examine = theta[k]
		} else {
			examine = ExaminationProbability(k)
		}
		p := examine * Attraction(v, noClick)
		dst[k] = none * p
		none *= 1 - p
	}
	return none
}

// ChoiceProbabilities writes into dst the probabilities of a click at each slate position
// under the named choice model, one of ChoiceModelNames or empty for ChoiceMNL. It reads
// the utilities u in position order and the no-click utility noClick, and returns the
// probability of no click. dst and u must have the same length.
func ChoiceProbabilities(model string, dst, u []float64, noClick float64) (float64, error) {
	m, err := parseChoiceModel(model)
	if err != nil {
		return 0, err
	}
	return choiceProbabilities(m, dst, u, noClick, nil), nil
}

func choiceProbabilities(m choiceModel, dst, u []float64, noClick float64, theta []float64) float64 {
	switch m {
	case choiceCascade:
		return CascadeProbabilities(dst, u, noClick)
	case choicePosition:
		return positionProbabilities(dst, u, noClick, theta)
	}
	return ClickProbabilities(dst, u, noClick)
}

// sampleClick returns the slate position whose click probability interval in prob holds r,
// a uniform draw from [0, 1), or -1 for no click. prob sums to at most 1.
func sampleClick(prob []float64, r float64) int32 {
	for a, p := range prob {
		if r < p {
			return int32(a)
		}
		r -= p
	}
	return -1
}
