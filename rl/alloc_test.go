package rl

import (
	"context"
	"testing"

	"github.com/simshop/simshop/simenv"
)

// TestDQNHotPathsAllocateNothing checks that, once training runs, choosing slates (greedy
// and exploring, on one goroutine and on two), observing a step and a gradient update
// allocate nothing per call.
func TestDQNHotPathsAllocateNothing(t *testing.T) {
	cat := generated(t, 50)
	shop := simenv.Config{Persona: simenv.CheapBlue}
	d, err := NewDQN(smallConfig(), cat, shop, 3)
	if err != nil {
		t.Fatal(err)
	}
	env, err := simenv.NewVecEnv(cat, shop, 8, TrainSeed(3, 0))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Train(context.Background(), env, TrainOptions{Steps: 400}); err != nil {
		t.Fatal(err)
	}
	slates := make([]int32, env.NumSessions()*3)
	out := simenv.NewStepResult(env.NumSessions())

	if n := testing.AllocsPerRun(20, func() {
		if err := d.Recommend(env, slates); err != nil {
			t.Fatal(err)
		}
		if err := env.Step(slates, out); err != nil {
			t.Fatal(err)
		}
		d.Observe(out)
	}); n != 0 {
		t.Errorf("exploring Recommend, Step and Observe: %g allocations per call, want 0", n)
	}
	if n := testing.AllocsPerRun(20, func() {
		if ok, err := d.Update(); err != nil || !ok {
			t.Fatalf("update: ok %v, err %v", ok, err)
		}
	}); n != 0 {
		t.Errorf("Update: %g allocations per call, want 0", n)
	}
	d.ScoreWorkers = 2
	stop := d.startScoring(env)
	if n := testing.AllocsPerRun(20, func() {
		if err := d.Recommend(env, slates); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("Recommend on 2 scoring goroutines: %g allocations per call, want 0", n)
	}
	stop()
	d.Greedy = true
	if n := testing.AllocsPerRun(20, func() {
		if err := d.Recommend(env, slates); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("greedy Recommend: %g allocations per call, want 0", n)
	}
}
