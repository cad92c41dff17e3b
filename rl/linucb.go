package rl

// LinUCB: the contextual bandit of Li, Chu, Langford and Schapire, "A Contextual-Bandit
// Approach to Personalized News Article Recommendation" (WWW 2010), Algorithm 1 with one
// shared linear model for all items, so that what it learns on one item carries over to
// items with similar features. Each item's context is its feature row for the session (the
// DQN's encoding), and its payoff is the reward of the step if the shopper clicked it, else 0.
// It learns online, across sessions, from every slate it shows.

import (
	"math"

	"github.com/simshop/simshop/simenv"
)

// DefaultLinUCBAlpha is the width of the confidence bonus in standard deviations; Li et al.
// use values near 1 and report that the results change little around it.
const DefaultLinUCBAlpha = 1.0

// LinUCB recommends the K items with the highest upper confidence bound
// θᵀx + α·sqrt(xᵀA⁻¹x), where A = I + Σ x xᵀ and θ = A⁻¹ Σ r x over the items shown so far.
type LinUCB struct {
	Alpha   float64
	catalog *simenv.Catalog
	encoder *Encoder
	k       int
	d       int

	inverse []float64 // A⁻¹, d×d row-major, kept by Sherman-Morrison updates
	b       []float64 // Σ r x
	theta   []float64 // A⁻¹ b

	rows   []float32 // one session's feature rows, items × d
	scores []float32
	top    []int32
	x, ax  []float64 // scratch
	shown  []float32 // per session, the K feature rows of the last slate
}

// NewLinUCB returns an untrained LinUCB recommender for catalog cat.
func NewLinUCB(cat *simenv.Catalog, slateSize, maxSteps int) *LinUCB {
	enc := NewEncoder(NewEncoding(cat, maxSteps), cat)
	d := enc.Width()
	l := &LinUCB{
		Alpha:   DefaultLinUCBAlpha,
		catalog: cat,
		encoder: enc,
		k:       slateSize,
		d:       d,
		inverse: make([]float64, d*d),
		b:       make([]float64, d),
		theta:   make([]float64, d),
		rows:    make([]float32, cat.Len()*d),
		scores:  make([]float32, cat.Len()),
		top:     make([]int32, slateSize),
		x:       make([]float64, d),
		ax:      make([]float64, d),
	}
	for i := 0; i < d; i++ {
		l.inverse[i*d+i] = 1
	}
	return l
}

func (l *LinUCB) Name() string                    { return "linucb" }
func (l *LinUCB) StartSession(i int, seed uint64) {}

// Recommend shows each session the K items of highest upper confidence bound.
func (l *LinUCB) Recommend(env *simenv.VecEnv, slates []int32) error {
	n := env.NumSessions()
	if len(l.shown) != n*l.k*l.d {
		l.shown = make([]float32, n*l.k*l.d)
	}
	for i := 0; i < n; i++ {
		l.encoder.EncodeSession(env, i, l.rows)
		for item := range l.scores {
			l.scores[item] = float32(l.bound(l.rows[item*l.d : (item+1)*l.d]))
		}
		maskUnavailable(env, l.scores)
		topK(l.scores, l.top)
		copy(slates[i*l.k:(i+1)*l.k], l.top)
		for a, item := range l.top {
			copy(l.shown[(i*l.k+a)*l.d:(i*l.k+a+1)*l.d], l.rows[int(item)*l.d:(int(item)+1)*l.d])
		}
	}
	return nil
}

// LastBounds returns the upper confidence bound of every catalog item for the last session
// of the last Recommend call, with unavailable items at −Inf. The slice is reused by the
// next call.
func (l *LinUCB) LastBounds() []float32 { return l.scores }

// bound returns θᵀx + α·sqrt(xᵀA⁻¹x) for the feature row x.
func (l *LinUCB) bound(row []float32) float64 {
	for j, v := range row {
		l.x[j] = float64(v)
	}
	mean := 0.0
	for j, v := range l.x {
		mean += l.theta[j] * v
	}
	variance := 0.0
	for r := 0; r < l.d; r++ {
		if l.x[r] == 0 {
			continue
		}
		s := 0.0
		for c, v := range l.inverse[r*l.d : (r+1)*l.d] {
			s += v * l.x[c]
		}
		variance += l.x[r] * s
	}
	return mean + l.Alpha*math.Sqrt(math.Max(variance, 0))
}

// Learn updates the model with the outcome of the slates of the last Recommend: every shown
// item is one observation, with payoff equal to the step's reward if it was clicked.
func (l *LinUCB) Learn(out *simenv.StepResult) {
	for i := range out.Click {
		for a := 0; a < l.k; a++ {
			payoff := 0.0
			if int(out.Click[i]) == a {
				payoff = out.Reward[i]
			}
			l.update(l.shown[(i*l.k+a)*l.d:(i*l.k+a+1)*l.d], payoff)
		}
	}
}

// update adds x xᵀ to A through the Sherman-Morrison formula
// (A + x xᵀ)⁻¹ = A⁻¹ − (A⁻¹x)(A⁻¹x)ᵀ / (1 + xᵀA⁻¹x), adds r·x to b and recomputes θ.
func (l *LinUCB) update(row []float32, payoff float64) {
	d := l.d
	for j, v := range row {
		l.x[j] = float64(v)
	}
	denominator := 1.0
	for r := 0; r < d; r++ {
		s := 0.0
		for c, v := range l.inverse[r*d : (r+1)*d] {
			s += v * l.x[c]
		}
		l.ax[r] = s
		denominator += l.x[r] * s
	}
	for r := 0; r < d; r++ {
		f := l.ax[r] / denominator
		if f == 0 {
			continue
		}
		row := l.inverse[r*d : (r+1)*d]
		for c := range row {
			row[c] -= f * l.ax[c]
		}
	}
	for j, v := range l.x {
		l.b[j] += payoff * v
	}
	for r := 0; r < d; r++ {
		s := 0.0
		for c, v := range l.inverse[r*d : (r+1)*d] {
			s += v * l.b[c]
		}
		l.theta[r] = s
	}
}
