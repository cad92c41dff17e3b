package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/simshop/simshop/rl"
	"github.com/simshop/simshop/simenv"
)

// agentFlags are the hyperparameters beyond the DQN's original flags: the learning-rate
// schedule and Polyak averaging, and the settings of REINFORCE.
func agentFlags() []cli.Flag {
	def := rl.DefaultReinforceConfig()
	return []cli.Flag{
		&cli.StringFlag{Name: "lr-schedule", Usage: "learning-rate schedule by shopper-step: " + strings.Join(rl.ScheduleNames, ", "), Value: rl.ScheduleConstant},
		&cli.Float64Flag{Name: "lr-final", Usage: "learning rate at the end of a linear or cosine schedule, which requires it"},
		&cli.Int64Flag{Name: "lr-steps", Usage: "shopper-steps over which a linear or cosine schedule decays; defaults to --steps"},
		&cli.Float64Flag{Name: "tau", Usage: "DQN: Polyak rate of the target network after every update; 0, or --target-update alone, copies it every --target-update updates instead", Value: rl.DefaultDQNConfig().Tau},
		&cli.IntFlag{Name: "batch-states", Usage: "REINFORCE: states (slates shown) per update", Value: def.BatchStates},
		&cli.Float64Flag{Name: "entropy-coef", Usage: "REINFORCE: weight of the policy's entropy bonus", Value: def.EntropyCoef},
		&cli.BoolFlag{Name: "top-k-correction", Usage: "REINFORCE: weight each item's gradient by K(1-π)^(K-1)", Value: def.TopKCorrection},
		&cli.Float64Flag{Name: "max-weight", Usage: "REINFORCE: cap of the importance ratio π/β", Value: def.MaxWeight},
		&cli.BoolFlag{Name: "importance-ratio", Usage: "REINFORCE: weight each item's gradient by the importance ratio min(π/β, --max-weight); false sets it to 1", Value: !def.NoImportanceRatio},
	}
}

// agentHyperparameterFlags are the flags of agentFlags, which a resumed run takes from its
// checkpoint.
var agentHyperparameterFlags = []string{"lr-schedule", "lr-final", "lr-steps", "tau", "batch-states", "entropy-coef", "top-k-correction", "max-weight", "importance-ratio"}

// scheduleFlags sets the learning-rate schedule and Polyak rate of a DQN from the flags.
func scheduleFlags(c *cli.Context, cfg *rl.DQNConfig) error {
	cfg.Tau = c.Float64("tau")
	if c.IsSet("target-update") {
		if c.IsSet("tau") && cfg.Tau != 0 {
			return fmt.Errorf("--target-update applies only with --tau 0, because with --tau %g the target network follows every update; leave one of them out", cfg.Tau)
		}
		// A copy period alone selects periodic copies in place of the default averaging.
		cfg.Tau = 0
	}
	var err error
	if cfg.LRSchedule, cfg.LRFinal, cfg.LRSteps, err = learningRateSchedule(c); err != nil {
		return err
	}
	return cfg.Validate()
}

// learningRateSchedule returns the schedule that the flags set; its length defaults to the
// run's --steps. It rejects --lr-final and --lr-steps without a schedule that reads them, and
// a decaying schedule without --lr-final.
func learningRateSchedule(c *cli.Context) (string, float64, int64, error) {
	schedule := c.String("lr-schedule")
	if schedule == rl.ScheduleConstant {
		for _, f := range []string{"lr-final", "lr-steps"} {
			if c.IsSet(f) {
				return "", 0, 0, fmt.Errorf("--%s applies only to a decaying schedule; add --lr-schedule linear or cosine, or leave --%s out", f, f)
			}
		}
	} else if slices.Contains(rl.ScheduleNames, schedule) && !c.IsSet("lr-final") {
		return "", 0, 0, fmt.Errorf("--lr-schedule %s needs --lr-final, the learning rate at its end, such as --lr-final 1e-4", schedule)
	}
	steps := c.Int64("lr-steps")
	if !c.IsSet("lr-steps") {
		steps = c.Int64("steps")
	}
	return schedule, c.Float64("lr-final"), steps, nil
}

// newReinforceRun sets up a fresh REINFORCE run. The shared flags --hidden, --gamma, --lr and
// --batch-size have DQN defaults, so they change the REINFORCE defaults only when set.
func newReinforceRun(c *cli.Context, cat *simenv.Catalog, shop simenv.Config, seed uint64) (*run, error) {
	for _, f := range []string{"replay-capacity", "learning-starts", "target-update", "epsilon-steps", "tau", "batch-size"} {
		if c.IsSet(f) {
			return nil, fmt.Errorf("--%s sets a DQN hyperparameter, which --agent reinforce does not use; leave it out", f)
		}
	}
	cfg := rl.DefaultReinforceConfig()
	var err error
	if c.IsSet("hidden") {
		if cfg.Hidden, err = parseInts(c.String("hidden")); err != nil {
			return nil, fmt.Errorf("--hidden %q: %w", c.String("hidden"), err)
		}
	}
	if c.IsSet("gamma") {
		cfg.Gamma = c.Float64("gamma")
	}
	if c.IsSet("lr") {
		cfg.LearningRate = c.Float64("lr")
	}
	cfg.BatchStates = c.Int("batch-states")
	cfg.EntropyCoef = c.Float64("entropy-coef")
	cfg.TopKCorrection = c.Bool("top-k-correction")
	cfg.MaxWeight = c.Float64("max-weight")
	cfg.NoImportanceRatio = !c.Bool("importance-ratio")
	if cfg.LRSchedule, cfg.LRFinal, cfg.LRSteps, err = learningRateSchedule(c); err != nil {
		return nil, err
	}
	agent, err := rl.NewReinforce(cfg, cat, shop, seed)
	if err != nil {
		return nil, err
	}
	return &run{agent: agent, catalog: cat, shop: shop, seed: seed, sessions: c.Int("envs")}, nil
}

// agentModelName names a model of the given agent in reports, as modelName does for a DQN:
// "reinforce:RUN" for RUN/checkpoints/latest.msgpack.
func agentModelName(agent, path string) string {
	return agent + strings.TrimPrefix(modelName(path), "dqn")
}
