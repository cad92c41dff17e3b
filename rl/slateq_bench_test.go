package rl

import (
	"context"
	"fmt"
	"testing"

	"github.com/simshop/simshop/simenv/recsim"
)

// BenchmarkSlateQUpdate times one SlateQ update with the default configuration (batches of
// 128, two hidden layers of 64) on a replay buffer filled by 20,000 random user-steps.
func BenchmarkSlateQUpdate(b *testing.B) {
	for _, candidates := range []int{10, 50} {
		b.Run(fmt.Sprintf("candidates=%d", candidates), func(b *testing.B) {
			cfg := DefaultSlateQConfig()
			cfg.LearningStarts = 1 << 30 // fill the buffer without updating
			cfg.EpsilonSteps = 0
			cfg.EpsilonEnd = 1
			scenario := recsim.DefaultConfig()
			scenario.Candidates = candidates
			a, err := NewSlateQ(cfg, scenario, 1)
			if err != nil {
				b.Fatal(err)
			}
			env, err := recsim.NewVecEnv(scenario, 32, 1)
			if err != nil {
				b.Fatal(err)
			}
			if err := a.Train(context.Background(), env, 1, TrainOptions{Steps: 20_000}); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if _, err := a.Update(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "updates/s")
		})
	}
}
