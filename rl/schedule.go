package rl

import (
	"fmt"
	"math"
)

// Learning-rate schedules. A schedule is a function of the shopper-step alone, so a run
// resumed from a checkpoint, which restores the step count, continues it where it stopped.
const (
	ScheduleConstant = "constant" // the start value throughout
	ScheduleLinear   = "linear"   // straight from the start value to the final value
	ScheduleCosine   = "cosine"   // half a cosine period from the start value to the final value, without restarts
)

// ScheduleNames lists the learning-rate schedules.
var ScheduleNames = []string{ScheduleConstant, ScheduleLinear, ScheduleCosine}

// scheduleAt returns the value of schedule kind after step shopper-steps: start at step 0,
// final from step steps on. An empty kind is constant, as in checkpoints saved before
// schedules existed.
func scheduleAt(kind string, start, final float64, steps, step int64) float64 {
	if kind == "" || kind == ScheduleConstant || steps <= 0 {
		return start
	}
	f := min(1, float64(max(step, 0))/float64(steps))
	switch kind {
	case ScheduleCosine:
		return final + (start-final)*(1+math.Cos(math.Pi*f))/2
	default: // ScheduleLinear
		return start + f*(final-start)
	}
}

// validateSchedule reports an unknown schedule kind or a final learning rate that is not
// positive.
func validateSchedule(kind string, final float64, steps int64) error {
	switch kind {
	case "", ScheduleConstant:
		return nil
	case ScheduleLinear, ScheduleCosine:
	default:
		return fmt.Errorf("rl: unknown learning-rate schedule %q; use constant, linear or cosine", kind)
	}
	if !(final > 0) || math.IsInf(final, 1) {
		return fmt.Errorf("rl: final learning rate %g of the %s schedule is invalid; use a positive value such as 1e-4", final, kind)
	}
	if steps < 1 {
		return fmt.Errorf("rl: the %s learning-rate schedule runs over %d shopper-steps; use at least 1", kind, steps)
	}
	return nil
}
