package nn

import "math"

// Adam is the optimizer of Kingma and Ba, "Adam: A Method for Stochastic Optimization"
// (ICLR 2015), Algorithm 1, written over Params slices so that its moments and step count
// are plain data that a checkpoint can store. Its zero value is not usable; call NewAdam.
type Adam[T Float] struct {
	LearningRate float64
	Beta1, Beta2 float64
	Epsilon      float64
	// MaxGradNorm rescales the whole gradient to this L2 norm when it is larger; 0 disables it.
	MaxGradNorm float64

	Step int64 // updates applied so far
	M, V [][]T // first and second moment estimates, one slice per Params tensor
}

// NewAdam returns an optimizer for p with the paper's default β1 = 0.9, β2 = 0.999 and
// ε = 1e-8.
func NewAdam[T Float](p *Params[T], learningRate float64) *Adam[T] {
	a := &Adam[T]{LearningRate: learningRate, Beta1: 0.9, Beta2: 0.999, Epsilon: 1e-8}
	for _, t := range p.Tensors {
		a.M = append(a.M, make([]T, len(t.Data)))
		a.V = append(a.V, make([]T, len(t.Data)))
	}
	return a
}

// Update applies one Adam step to p with gradients grads, which are aligned with
// p.Tensors. It returns the gradient's L2 norm before clipping.
func (a *Adam[T]) Update(p *Params[T], grads [][]T) float64 {
	var sq float64
	for _, g := range grads {
		for _, v := range g {
			sq += float64(v) * float64(v)
		}
	}
	norm := math.Sqrt(sq)
	scale := 1.0
	if a.MaxGradNorm > 0 && norm > a.MaxGradNorm {
		scale = a.MaxGradNorm / norm
	}

	a.Step++
	// Fold the bias corrections into the step size, as in the paper's final paragraph of
	// section 2: α_t = α·sqrt(1-β2^t)/(1-β1^t).
	t := float64(a.Step)
	alpha := a.LearningRate * math.Sqrt(1-math.Pow(a.Beta2, t)) / (1 - math.Pow(a.Beta1, t))
	b1, b2 := T(a.Beta1), T(a.Beta2)
	for k, param := range p.Tensors {
		m, v, g := a.M[k], a.V[k], grads[k]
		for i := range param.Data {
			gi := g[i] * T(scale)
			m[i] = b1*m[i] + (1-b1)*gi
			v[i] = b2*v[i] + (1-b2)*gi*gi
			param.Data[i] -= T(alpha * float64(m[i]) / (math.Sqrt(float64(v[i])) + a.Epsilon))
		}
	}
	return norm
}
