package rl

import (
	"math"
	"testing"

	"github.com/simshop/simshop/simenv"
)

func TestScheduleValues(t *testing.T) {
	cases := []struct {
		kind string
		step int64
		want float64
	}{
		{ScheduleConstant, 500, 1e-3},
		{"", 500, 1e-3},
		{ScheduleLinear, 0, 1e-3},
		{ScheduleLinear, 500, 5.5e-4},
		{ScheduleLinear, 1000, 1e-4},
		{ScheduleLinear, 5000, 1e-4},
		{ScheduleCosine, 0, 1e-3},
		{ScheduleCosine, 250, 1e-4 + 9e-4*(1+math.Cos(math.Pi/4))/2},
		{ScheduleCosine, 500, 5.5e-4},
		{ScheduleCosine, 1000, 1e-4},
	}
	for _, c := range cases {
		if got := scheduleAt(c.kind, 1e-3, 1e-4, 1000, c.step); math.Abs(got-c.want) > 1e-15 {
			t.Errorf("%q at step %d: %.17g, want %.17g", c.kind, c.step, got, c.want)
		}
	}
}

func TestScheduleRejectsBadSettings(t *testing.T) {
	cfg := DefaultDQNConfig()
	for _, change := range []func(*DQNConfig){
		func(c *DQNConfig) { c.LRSchedule = "step" },
		func(c *DQNConfig) { c.LRSchedule, c.LRFinal, c.LRSteps = ScheduleLinear, 0, 1000 },
		func(c *DQNConfig) { c.LRSchedule, c.LRFinal, c.LRSteps = ScheduleCosine, 1e-4, 0 },
		func(c *DQNConfig) { c.Tau = 1.5 },
		func(c *DQNConfig) { c.Tau = math.NaN() },
	} {
		c := cfg
		change(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("config %+v passed validation", c)
		}
	}
}

// TestScheduleResumesByStep trains with a decaying learning rate and Polyak averaging,
// stops, saves and resumes, and checks that the run matches an uninterrupted one: the
// schedule's position comes back with the step count.
func TestScheduleResumesByStep(t *testing.T) {
	cat := generated(t, 40)
	shop := simenv.Config{Persona: simenv.CheapBlue}
	cfg := smallConfig()
	cfg.LRSchedule, cfg.LRFinal, cfg.LRSteps = ScheduleCosine, 1e-5, 1600
	cfg.Tau = 0.01
	const total = 1600
	straight := trainWith(t, cfg, cat, shop, 5, total)
	resumed := resumeWith(t, cfg, cat, shop, 5, 808, total, true)
	if resumed.Updates != straight.Updates || resumed.LastLoss != straight.LastLoss {
		t.Errorf("resumed: updates %d, loss %g; straight %d, %g", resumed.Updates, resumed.LastLoss, straight.Updates, straight.LastLoss)
	}
	if got, want := resumed.Adam.LearningRate, straight.Adam.LearningRate; got != want || got >= cfg.LearningRate {
		t.Errorf("learning rate after resuming %g, straight %g; want equal and below the start %g", got, want, cfg.LearningRate)
	}
	for i, pt := range straight.Online.Tensors {
		compareTensors(t, pt.Name, pt.Data, resumed.Online.Tensors[i].Data)
		compareTensors(t, "target "+pt.Name, straight.Target.Tensors[i].Data, resumed.Target.Tensors[i].Data)
	}
}

// TestPolyakMovesTargetByTau checks θ' ← τ·θ + (1-τ)·θ' on one weight.
func TestPolyakMovesTargetByTau(t *testing.T) {
	cat := generated(t, 20)
	d, err := NewDQN(smallConfig(), cat, simenv.Config{Persona: simenv.CheapBlue}, 1)
	if err != nil {
		t.Fatal(err)
	}
	d.Online.Tensors[0].Data[0] = 1
	d.Target.Tensors[0].Data[0] = 0
	polyak(d.Target, d.Online, 0.25)
	if got := d.Target.Tensors[0].Data[0]; got != 0.25 {
		t.Errorf("target weight %g after one Polyak step of 0.25 from 0 toward 1, want 0.25", got)
	}
}
