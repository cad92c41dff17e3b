package checkpoints_test

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/simshop/simshop/checkpoints"
	"github.com/simshop/simshop/nn"
	"github.com/simshop/simshop/rl"
	"github.com/simshop/simshop/simenv"
)

// trainedDQN trains a DQN with one hidden layer of 8 units for steps shopper-steps on a
// generated catalog of items items, and returns the agent and its checkpoint. With steps
// 0 the agent is untrained.
func trainedDQN(t testing.TB, items int, steps int64) (*rl.DQN, *checkpoints.File) {
	t.Helper()
	cat, err := simenv.Generate(items, 7)
	if err != nil {
		t.Fatal(err)
	}
	shop := simenv.Config{Persona: simenv.CheapBlue}.WithDefaults()
	cfg := rl.DefaultDQNConfig()
	cfg.Hidden = []int{8}
	cfg.BatchSize, cfg.LearningStarts, cfg.ReplayCapacity = 8, 32, 1000
	agent, err := rl.NewDQN(cfg, cat, shop, 3)
	if err != nil {
		t.Fatal(err)
	}
	if steps > 0 {
		env, err := simenv.NewVecEnv(cat, shop, 4, rl.TrainSeed(3, 0))
		if err != nil {
			t.Fatal(err)
		}
		if err := agent.Train(context.Background(), env, rl.TrainOptions{Steps: steps}); err != nil {
			t.Fatal(err)
		}
		if agent.Updates == 0 {
			t.Fatalf("training for %d steps made no update", steps)
		}
	}
	f, err := agent.Checkpoint(rl.RunInfo{Shop: shop, Seed: 3, Sessions: 4, Metrics: map[string]float64{"ctr": 0.5}})
	if err != nil {
		t.Fatal(err)
	}
	return agent, f
}

// mlpFile returns a checkpoint that contains only a graph: a network of spec with weights
// drawn from seed and biases set to small distinct values, so that a wrong bias shows.
func mlpFile(t testing.TB, spec nn.Spec, seed uint64) (*nn.Params[float32], *checkpoints.File) {
	t.Helper()
	p, err := nn.NewParams[float32](spec, rand.New(rand.NewPCG(seed, seed)))
	if err != nil {
		t.Fatal(err)
	}
	for l := 1; l < len(p.Tensors); l += 2 {
		for i := range p.Tensors[l].Data {
			p.Tensors[l].Data[i] = 0.01 * float32(i+l)
		}
	}
	f := &checkpoints.File{Graph: checkpoints.GraphOf(p)}
	f.Stamp(time.Date(2026, 2, 3, 4, 5, 6, 0, time.UTC))
	return p, f
}
