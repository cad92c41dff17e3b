package benchmarks

import (
	"context"
	"testing"

	"github.com/simshop/simshop/rl"
	"github.com/simshop/simshop/simenv"
)

// BenchmarkReinforceTrain reports shopper-steps per second of REINFORCE training at the
// default settings: 16 sessions, 200 items, an update per 256 states of finished sessions.
// Each state costs a forward pass over every item when acting, and a forward pass and a
// backward pass over every item when learned from.
func BenchmarkReinforceTrain(b *testing.B) {
	cat := catalog(b, 200)
	shop := simenv.Config{Persona: simenv.CheapBlue}
	r, err := rl.NewReinforce(rl.DefaultReinforceConfig(), cat, shop, 1)
	if err != nil {
		b.Fatal(err)
	}
	env, err := simenv.NewVecEnv(cat, shop, 16, rl.TrainSeed(1, 0))
	if err != nil {
		b.Fatal(err)
	}
	// Warm up until updates run, so that the timed steps include them.
	if err := r.Train(context.Background(), env, rl.TrainOptions{Steps: 2000}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	start, updates := r.EnvSteps, r.Updates
	if err := r.Train(context.Background(), env, rl.TrainOptions{Steps: start + int64(b.N)*16}); err != nil {
		b.Fatal(err)
	}
	sec := b.Elapsed().Seconds()
	b.ReportMetric(float64(r.EnvSteps-start)/sec, "shopper-steps/s")
	b.ReportMetric(float64(r.Updates-updates)/sec, "updates/s")
}
