package rl

// slateValue returns the value of the slate at positions slate under a proportional choice
// model: (Σ_j v_j·q_j + vNull·qNull) / (Σ_j v_j + vNull), the expected item value
// Σ_{i ∈ A ∪ {⊥}} P(i | A)·Q(i).
func slateValue(v, q []float64, vNull, qNull float64, slate []int32) float64 {
	num, den := vNull*qNull, vNull
	for _, j := range slate {
		num += v[j] * q[j]
		den += v[j]
	}
	return num / den
}

// bestSlate writes into dst the len(dst) distinct positions that maximize slateValue and
// returns that value. Scores v and vNull must be positive.
//
// The objective is a ratio of two sums over the slate, which Dinkelbach's method for
// fractional programs (1967) solves exactly. For a guess λ, the slate that maximizes
// Σ_j v_j·(q_j - λ) is the top len(dst) positions by v_j·(q_j - λ). The guess is raised to
// that slate's value until it stops rising. Each round costs O(len(v)·len(dst)), and a few
// rounds suffice. RecSim's agent offers exhaustive search, which costs C(len(v), len(dst))
// slates, and the top-K and adaptive greedy heuristics, which are not exact.
func bestSlate(v, q []float64, vNull, qNull float64, dst []int32, key []float64) float64 {
	// Start from the top slate by v·q, the top-K heuristic.
	for j := range v {
		key[j] = v[j] * q[j]
	}
	topPositions(key[:len(v)], dst)
	lambda := slateValue(v, q, vNull, qNull, dst)
	for range 64 {
		for j := range v {
			key[j] = v[j] * (q[j] - lambda)
		}
		topPositions(key[:len(v)], dst)
		next := slateValue(v, q, vNull, qNull, dst)
		if next <= lambda+1e-12*(1+abs(lambda)) {
			break
		}
		lambda = next
	}
	// The last round's slate is worth at least the previous guess, so it is the optimum.
	return slateValue(v, q, vNull, qNull, dst)
}

// topPositions writes into dst the positions of the len(dst) largest keys, largest first,
// ties to the lower position.
func topPositions(key []float64, dst []int32) {
	for a := range dst {
		best := int32(-1)
		for j := range key {
			taken := false
			for _, d := range dst[:a] {
				if d == int32(j) {
					taken = true
					break
				}
			}
			if !taken && (best < 0 || key[j] > key[best]) {
				best = int32(j)
			}
		}
		dst[a] = best
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}
