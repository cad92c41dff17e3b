package rl

import (
	"context"
	"testing"

	"github.com/simshop/simshop/simenv"
)

// BenchmarkReinforceUpdate times one REINFORCE update at the default configuration on the
// generated 200-item catalog: the policy's forward pass over every item of 256 states, the
// baseline's step, and the policy's backward pass over the same rows. Every
// iteration learns from the same batch of states.
func BenchmarkReinforceUpdate(b *testing.B) {
	cat, err := simenv.Generate(200, 1)
	if err != nil {
		b.Fatal(err)
	}
	shop := simenv.Config{Persona: simenv.CheapBlue}
	r, err := NewReinforce(DefaultReinforceConfig(), cat, shop, 1)
	if err != nil {
		b.Fatal(err)
	}
	env, err := simenv.NewVecEnv(cat, shop, 16, TrainSeed(1, 0))
	if err != nil {
		b.Fatal(err)
	}
	// Train a little, then keep acting without updates until a batch of states is ready.
	if err := r.Train(context.Background(), env, TrainOptions{Steps: 1000}); err != nil {
		b.Fatal(err)
	}
	slates := make([]int32, env.NumSessions()*r.k)
	out := simenv.NewStepResult(env.NumSessions())
	for len(r.ready) < r.Config.BatchStates {
		if err := r.Recommend(env, slates); err != nil {
			b.Fatal(err)
		}
		if err := env.Step(slates, out); err != nil {
			b.Fatal(err)
		}
		r.Observe(out)
	}
	batch := append([]*stateRecord(nil), r.ready[:r.Config.BatchStates]...)

	// A forward pass costs 2 FLOPs per multiply-accumulate, and the backward pass about twice
	// the forward pass, as in BenchmarkDQNUpdate.
	rows := float64(r.Config.BatchStates * cat.Len())
	flops := 2 * 3 * rows * float64(r.Policy.Spec.MACsPerRow())
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		r.ready = append(r.ready[:0], batch...)
		r.free = r.free[:0]
		if ok, err := r.Update(); err != nil || !ok {
			b.Fatalf("update: ok %v, err %v", ok, err)
		}
	}
	sec := b.Elapsed().Seconds()
	b.ReportMetric(float64(b.N)/sec, "updates/s")
	b.ReportMetric(float64(b.N)*flops/sec/1e9, "GFLOP/s")
}
