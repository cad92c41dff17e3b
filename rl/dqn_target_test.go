package rl

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/simshop/simshop/nn"
	"github.com/simshop/simshop/replay"
	"github.com/simshop/simshop/simenv"
)

// TestDQNDoubleTarget checks the double-DQN target of one stored transition: the online
// network selects the next slate among the candidates and the target network evaluates it,
// y_i = r_i + γ·mean_{j∈A'} Q_target(s', j).
func TestDQNDoubleTarget(t *testing.T) {
	cat := generated(t, 20)
	cfg := smallConfig()
	cfg.BatchSize, cfg.ReplayCapacity, cfg.LearningStarts = 1, 1, 1
	d, err := NewDQN(cfg, cat, simenv.Config{Persona: simenv.CheapBlue}, 4)
	if err != nil {
		t.Fatal(err)
	}
	// A target network with other weights, so that the two networks rank the candidates
	// differently.
	other, err := nn.NewParams[float32](d.Online.Spec, rand.New(rand.NewPCG(40, 41)))
	if err != nil {
		t.Fatal(err)
	}
	d.Target.CopyFrom(other)

	// A record of random session features in the replay layout: K stored rows, K rewards
	// and Candidates stored rows, each stored row led by a valid item index.
	rng := rand.New(rand.NewPCG(5, 6))
	rec := make([]float32, d.recordWidth())
	for i := range rec {
		rec[i] = float32(rng.NormFloat64())
	}
	rewardsAt := d.k * d.rowSize
	for r := 0; r < d.k+cfg.Candidates; r++ {
		offset := r * d.rowSize
		if r >= d.k {
			offset += d.k
		}
		rec[offset] = float32(rng.IntN(cat.Len()))
	}
	rewards := rec[rewardsAt : rewardsAt+d.k]
	rewards[0], rewards[1], rewards[2] = 2, 0, 0
	if d.buffer, err = replay.New(1, d.recordWidth()); err != nil {
		t.Fatal(err)
	}
	d.buffer.Add(rec, false)
	d.top = make([]int32, cfg.Candidates) // sized by ensureActor when the agent acts

	// The expected target, computed with separate forward graphs on the rebuilt rows.
	stored := rec[rewardsAt+d.k:]
	next := make([]float32, cfg.Candidates*d.width)
	for c := 0; c < cfg.Candidates; c++ {
		d.unpackRow(next[c*d.width:(c+1)*d.width], stored[c*d.rowSize:(c+1)*d.rowSize])
	}
	qOf := func(p *nn.Params[float32]) []float32 {
		f, err := nn.NewForward(p, cfg.Candidates)
		if err != nil {
			t.Fatal(err)
		}
		copy(f.Input(), next)
		q, err := f.Run()
		if err != nil {
			t.Fatal(err)
		}
		return append([]float32(nil), q...)
	}
	qOnline, qTarget := qOf(d.Online), qOf(d.Target)
	byOnline, byTarget := make([]int32, d.k), make([]int32, d.k)
	topK(qOnline, byOnline)
	topK(qTarget, byTarget)
	slices.Sort(byOnline)
	slices.Sort(byTarget)
	if slices.Equal(byOnline, byTarget) {
		t.Fatalf("setup: both networks pick candidates %v, so the test cannot tell double DQN from DQN", byOnline)
	}
	mean := 0.0
	for _, c := range byOnline {
		mean += float64(qTarget[c])
	}
	mean /= float64(d.k)

	if updated, err := d.Update(); err != nil || !updated {
		t.Fatalf("Update: updated %v, error %v", updated, err)
	}
	for a := 0; a < d.k; a++ {
		want := float64(rewards[a]) + cfg.Gamma*mean
		if got := float64(d.trainer.Target()[a]); math.Abs(got-want) > 1e-5 {
			t.Errorf("target of slate item %d: %.7g, want %.7g", a, got, want)
		}
	}
}
