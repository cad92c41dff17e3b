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
	norm := math.Sqrt(sumSquares(grads))
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
		start := 0
		if p32, ok := any(param.Data).([]float32); ok {
			// float32 steps run 8 values at a time in float32 arithmetic where the CPU can.
			start = adamStep32(p32, any(g).([]float32), any(m).([]float32), any(v).([]float32),
				float32(scale), float32(b1), float32(b2), float32(alpha), float32(a.Epsilon))
		}
		for i := start; i < len(param.Data); i++ {
			gi := g[i] * T(scale)
			m[i] = b1*m[i] + (1-b1)*gi
			v[i] = b2*v[i] + (1-b2)*gi*gi
			param.Data[i] -= T(alpha * float64(m[i]) / (math.Sqrt(float64(v[i])) + a.Epsilon))
		}
	}
	return norm
}

// sumSquares returns the sum of the squares of every gradient, accumulated in float64 over
// four independent sums so that the additions overlap.
func sumSquares[T Float](grads [][]T) float64 {
	var s [4]float64
	for _, g := range grads {
		i := 0
		for ; i+4 <= len(g); i += 4 {
			a, b, c, d := float64(g[i]), float64(g[i+1]), float64(g[i+2]), float64(g[i+3])
			s[0] += a * a
			s[1] += b * b
			s[2] += c * c
			s[3] += d * d
		}
		for ; i < len(g); i++ {
			s[0] += float64(g[i]) * float64(g[i])
		}
	}
	return (s[0] + s[1]) + (s[2] + s[3])
}
