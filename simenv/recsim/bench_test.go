package recsim

import (
	"fmt"
	"testing"
)

// BenchmarkStep steps 256 sessions of RecSim's scenario with random slates, resetting each
// session when its budget runs out; a user-step is one slate shown to one session.
func BenchmarkStep(b *testing.B) {
	for _, candidates := range []int{10, 50} {
		b.Run(fmt.Sprintf("candidates=%d", candidates), func(b *testing.B) {
			const n = 256
			cfg := DefaultConfig()
			cfg.Candidates = candidates
			env, err := NewVecEnv(cfg, n, 1)
			if err != nil {
				b.Fatal(err)
			}
			pol := NewRandom(cfg, n)
			out := NewStepResult(n)
			slates := make([]int32, n*cfg.Slate)
			seed := uint64(0)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				for i := range n {
					if env.Done(i) {
						seed++
						env.ResetSession(i, seed)
						pol.StartSession(i, seed)
					}
				}
				_ = pol.Recommend(env, slates)
				if err := env.Step(slates, out); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)*n/b.Elapsed().Seconds(), "user-steps/s")
		})
	}
}
