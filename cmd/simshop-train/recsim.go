package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/simshop/simshop/checkpoints"
	"github.com/simshop/simshop/rl"
	"github.com/simshop/simshop/simenv/recsim"
)

// Scenarios that --scenario selects.
const (
	scenarioShop   = "shop"
	scenarioRecSim = rl.ScenarioRecSimIEV
)

// recsimOnlyFlags apply to --scenario recsim-iev alone.
var recsimOnlyFlags = []string{"candidates", "slate", "resample-docs", "recsim-quirks", "slateq-target", "true-choice", "history"}

// scenarioFlags select the simulated environment and set RecSim's scenario.
func scenarioFlags() []cli.Flag {
	def := rl.DefaultSlateQConfig()
	return []cli.Flag{
		&cli.StringFlag{Name: "scenario", Usage: "environment: shop (SimShop's shoppers) or recsim-iev (RecSim's interest-evolution environment)", Value: scenarioShop},
		&cli.IntFlag{Name: "candidates", Usage: "recsim-iev: documents in the candidate set at each step", Value: recsim.DefaultCandidates},
		&cli.IntFlag{Name: "slate", Usage: "recsim-iev: documents per slate", Value: recsim.DefaultSlate},
		&cli.BoolFlag{Name: "resample-docs", Usage: "recsim-iev: draw a new candidate set at every step; --resample-docs=false keeps one set per session", Value: true},
		&cli.BoolFlag{Name: "recsim-quirks", Usage: "recsim-iev: reproduce RecSim's random-state quirks (docs/recsim-iev.md lists them)"},
		&cli.StringFlag{Name: "slateq-target", Usage: "recsim-iev: SlateQ bootstraps from the next state (next) or, as RecSim and RLlib do, the current one (current)", Value: def.Target},
		&cli.BoolFlag{Name: "true-choice", Usage: "recsim-iev: give SlateQ RecSim's choice model instead of learning one from clicks"},
		&cli.BoolFlag{Name: "history", Usage: "recsim-iev: add the episode's watch time, quality-weighted watch time and skipped steps to SlateQ's state", Value: def.History},
	}
}

// isRecSim reports whether the command runs RecSim's scenario, and rejects an unknown
// --scenario or RecSim's flags with the shop. Without --scenario, a SlateQ checkpoint in
// --model selects RecSim's scenario, the only one SlateQ runs on.
func isRecSim(c *cli.Context) (bool, error) {
	if !c.IsSet("scenario") && modelIsSlateQ(c) {
		return true, nil
	}
	switch s := c.String("scenario"); s {
	case scenarioRecSim:
		return true, nil
	case scenarioShop:
		for _, f := range recsimOnlyFlags {
			if c.IsSet(f) {
				return false, fmt.Errorf("--%s applies only to --scenario %s", f, scenarioRecSim)
			}
		}
		return false, nil
	default:
		return false, fmt.Errorf("--scenario %q is unknown; use %s or %s", s, scenarioShop, scenarioRecSim)
	}
}

// modelIsSlateQ reports whether the first --model checkpoint holds a SlateQ agent. A file
// that cannot be read is left to the shop's loader, which reports the problem.
func modelIsSlateQ(c *cli.Context) bool {
	path := c.String("model")
	if paths := c.StringSlice("model"); len(paths) > 0 {
		path = paths[0]
	}
	if path == "" {
		return false
	}
	f, _, err := checkpoints.LoadSummary(path)
	return err == nil && f.Metadata.Agent == "slateq"
}

// recsimScenario returns the scenario the flags set, starting from base.
func recsimScenario(c *cli.Context, base recsim.Config) (recsim.Config, error) {
	if c.IsSet("candidates") {
		base.Candidates = c.Int("candidates")
	}
	if c.IsSet("slate") {
		base.Slate = c.Int("slate")
	}
	if c.IsSet("resample-docs") {
		base.Resample = c.Bool("resample-docs")
	}
	if c.IsSet("recsim-quirks") {
		base.Quirks = c.Bool("recsim-quirks")
	}
	if err := base.Validate(); err != nil {
		return base, fmt.Errorf("%w (set with --candidates and --slate)", err)
	}
	return base, nil
}

// shopOnlyFlags have no meaning in RecSim's scenario.
var shopOnlyFlags = []string{"persona", "reward", "max-steps", "budget", "return-prob", "choice-model", "drift",
	"catalog", "items", "catalog-seed", "each-persona"}

// shopTrainFlags are the flags of train that SlateQ training does not read: the DQN's and
// REINFORCE's options, the schedules, the step checkpoints and the dashboard.
var shopTrainFlags = []string{"save-replay", "save-every", "save-seconds", "keep", "eval-every", "eval-every-episodes",
	"lr-schedule", "lr-final", "lr-steps", "tau", "batch-states", "entropy-coef", "top-k-correction", "max-weight", "dashboard"}

// slateQTrainingFlags set how SlateQ trains; a checkpoint records them, so eval and compare
// take them from there.
var slateQTrainingFlags = []string{"slateq-target", "true-choice", "history"}

func rejectShopFlags(c *cli.Context) error {
	for _, f := range shopOnlyFlags {
		if c.IsSet(f) {
			return fmt.Errorf("--%s does not apply to --scenario %s; leave it out", f, scenarioRecSim)
		}
	}
	if c.Command.Name == "train" {
		for _, f := range shopTrainFlags {
			if c.IsSet(f) {
				return fmt.Errorf("--%s is not available with --scenario %s, whose SlateQ training does not read it; leave it out", f, scenarioRecSim)
			}
		}
		return nil
	}
	for _, f := range slateQTrainingFlags {
		if c.IsSet(f) {
			return fmt.Errorf("--%s applies to train only: a SlateQ checkpoint records it; leave it out", f)
		}
	}
	if c.IsSet("reference") {
		return fmt.Errorf("--reference adds a reference for SimShop's personas, which --scenario %s does not have; leave it out", scenarioRecSim)
	}
	return nil
}

// slateQConfig returns SlateQ's defaults with the hyperparameter flags that were set.
func slateQConfig(c *cli.Context) (rl.SlateQConfig, error) {
	cfg := rl.DefaultSlateQConfig()
	if c.IsSet("hidden") {
		h, err := parseInts(c.String("hidden"))
		if err != nil {
			return cfg, fmt.Errorf("--hidden: %w", err)
		}
		cfg.Hidden = h
	}
	if c.IsSet("gamma") {
		cfg.Gamma = c.Float64("gamma")
	}
	if c.IsSet("lr") {
		cfg.LearningRate = c.Float64("lr")
	}
	if c.IsSet("batch-size") {
		cfg.BatchSize = c.Int("batch-size")
	}
	if c.IsSet("replay-capacity") {
		cfg.ReplayCapacity = c.Int("replay-capacity")
	}
	if c.IsSet("learning-starts") {
		cfg.LearningStarts = c.Int("learning-starts")
	}
	if c.IsSet("target-update") {
		cfg.TargetUpdate = c.Int("target-update")
	}
	if c.IsSet("epsilon-steps") {
		cfg.EpsilonSteps = c.Int64("epsilon-steps")
	}
	cfg.Target = c.String("slateq-target")
	cfg.TrueChoice = c.Bool("true-choice")
	if c.IsSet("history") {
		cfg.History = c.Bool("history")
	}
	return cfg, cfg.Validate()
}

// recsimTrainSessions is the default of --envs for RecSim's scenario: more sessions per
// update than the shop's 16, since each SlateQ update draws 128 transitions.
const recsimTrainSessions = 32

// runTrainRecSim trains SlateQ on RecSim's scenario and writes DIR/checkpoints/latest.msgpack.
func runTrainRecSim(c *cli.Context) error {
	if c.IsSet("resume") {
		return fmt.Errorf("--resume is not available with --scenario %s: SlateQ checkpoints keep no replay buffer or random streams; start a new run", scenarioRecSim)
	}
	if a := c.String("agent"); c.IsSet("agent") && a != "slateq" {
		return fmt.Errorf("--agent %q is not available with --scenario %s; leave it out to train slateq", a, scenarioRecSim)
	}
	if err := rejectShopFlags(c); err != nil {
		return err
	}
	if c.String("out") == "" {
		return fmt.Errorf("--out DIR is required: the run folder for the checkpoint, such as --out runs/recsim")
	}
	if err := checkPositive(c, "envs", "eval-episodes"); err != nil {
		return err
	}
	for _, f := range []string{"steps", "log-every"} {
		if v := c.Int64(f); v < 1 {
			return fmt.Errorf("--%s %d is invalid; use a whole number of at least 1", f, v)
		}
	}
	scenario, err := recsimScenario(c, recsim.DefaultConfig())
	if err != nil {
		return err
	}
	cfg, err := slateQConfig(c)
	if err != nil {
		return err
	}
	sessions := recsimTrainSessions
	if c.IsSet("envs") {
		sessions = c.Int("envs")
	}
	seed := c.Uint64("seed")
	agent, err := rl.NewSlateQ(cfg, scenario, seed)
	if err != nil {
		return err
	}
	env, err := recsim.NewVecEnv(scenario, sessions, rl.DeriveSeed(seed, 1))
	if err != nil {
		return err
	}
	out := c.String("out")
	path := filepath.Join(out, "checkpoints", "latest.msgpack")
	if _, err := os.Stat(path); err == nil && !c.Bool("force") {
		return fmt.Errorf("--out %s already contains a run (%s), which SlateQ cannot resume; choose another --out, or pass --force to replace it", out, path)
	}
	if err := claimRunFolder(out, c.Bool("force")); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(out, "checkpoints"), 0o755); err != nil {
		return fmt.Errorf("create the run folder: %w", err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	slog.Info("training slateq", "scenario", scenarioRecSim, "candidates", scenario.Candidates, "slate", scenario.Slate,
		"resample_docs", scenario.Resample, "recsim_quirks", scenario.Quirks, "target", cfg.Target,
		"true_choice", cfg.TrueChoice, "history", cfg.History, "steps", c.Int64("steps"), "envs", sessions, "seed", seed)
	trainErr := agent.Train(ctx, env, seed, rl.TrainOptions{Steps: c.Int64("steps"), Every: c.Int64("log-every"),
		Progress: func(p rl.TrainProgress) {
			slog.Info("progress", "step", p.EnvSteps, "episodes", p.Episodes, "updates", p.Updates, "epsilon", round(p.Epsilon, 3),
				"loss", round(p.Loss, 5), "return", round(p.ReturnMean, 2), "ctr", round(p.CTR, 3), "steps_per_s", round(p.StepsPerSecond, 0))
		}})
	if trainErr != nil && !errors.Is(trainErr, context.Canceled) {
		return trainErr
	}
	if err := saveSlateQ(path, agent, seed, sessions, nil); err != nil {
		return err
	}
	if trainErr != nil {
		return interrupted(fmt.Sprintf("training stopped by a signal at step %d; the checkpoint is saved at %s", agent.EnvSteps, path))
	}

	pol, err := rl.NewSlateQPolicy(agent, evalSessions)
	if err != nil {
		return err
	}
	// Name the row after the run folder, as compare names the same model.
	named := namedPolicy{pol, agentModelName("slateq", path)}
	res, err := recsim.Evaluate(scenario, named, c.Int("eval-episodes"), evalSessions, seed)
	if err != nil {
		return err
	}
	metrics := map[string]float64{"return_mean": res.Mean, "return_ci95": res.CI95, "episodes": float64(res.Episodes)}
	if err := saveSlateQ(path, agent, seed, sessions, metrics); err != nil {
		return err
	}
	slog.Info("saved", "checkpoint", path)
	return reportRecSim(c, []recsim.Summary{res})
}

func saveSlateQ(path string, agent *rl.SlateQ, seed uint64, sessions int, metrics map[string]float64) error {
	f, err := agent.Checkpoint(seed, sessions, metrics)
	if err != nil {
		return err
	}
	return checkpoints.Save(path, f)
}

// loadSlateQModel loads a SlateQ checkpoint for evaluation.
func loadSlateQModel(path string) (*rl.SlateQ, error) {
	f, err := checkpoints.Load(path)
	if err != nil {
		return nil, err
	}
	return rl.LoadSlateQ(f)
}

// runEvalRecSim evaluates a SlateQ checkpoint on the scenario it was trained on, or on the
// one the scenario flags set.
func runEvalRecSim(c *cli.Context) error {
	if err := rejectShopFlags(c); err != nil {
		return err
	}
	if c.String("model") == "" {
		return fmt.Errorf("--model FILE is required: the SlateQ checkpoint to evaluate, such as --model runs/recsim/checkpoints/latest.msgpack")
	}
	if err := checkPositive(c, "episodes", "envs"); err != nil {
		return err
	}
	agent, err := loadSlateQModel(c.String("model"))
	if err != nil {
		return err
	}
	scenario, err := recsimScenario(c, agent.Scenario)
	if err != nil {
		return err
	}
	pol, err := rl.NewSlateQPolicy(agent, c.Int("envs"))
	if err != nil {
		return err
	}
	named := namedPolicy{pol, agentModelName("slateq", c.String("model"))}
	res, err := recsim.Evaluate(scenario, named, c.Int("episodes"), c.Int("envs"), c.Uint64("seed"))
	if err != nil {
		return err
	}
	return reportRecSim(c, []recsim.Summary{res})
}

// runCompareRecSim evaluates the reference policies and the given SlateQ checkpoints on
// the same users.
func runCompareRecSim(c *cli.Context) error {
	if err := rejectShopFlags(c); err != nil {
		return err
	}
	if err := checkPositive(c, "episodes", "envs"); err != nil {
		return err
	}
	base := recsim.DefaultConfig()
	var agents []*rl.SlateQ
	var names []string
	for i, path := range c.StringSlice("model") {
		a, err := loadSlateQModel(path)
		if err != nil {
			return err
		}
		if i == 0 {
			base = a.Scenario
		}
		agents = append(agents, a)
		names = append(names, agentModelName("slateq", path))
	}
	scenario, err := recsimScenario(c, base)
	if err != nil {
		return err
	}
	n := c.Int("envs")
	var policies []recsim.Policy
	for _, name := range recsim.PolicyNames {
		p, err := recsim.NewPolicy(name, scenario, n)
		if err != nil {
			return err
		}
		policies = append(policies, p)
	}
	for i, a := range agents {
		p, err := rl.NewSlateQPolicy(a, n)
		if err != nil {
			return err
		}
		policies = append(policies, namedPolicy{p, names[i]})
	}
	var results []recsim.Summary
	for _, p := range policies {
		res, err := recsim.Evaluate(scenario, p, c.Int("episodes"), n, c.Uint64("seed"))
		if err != nil {
			return err
		}
		results = append(results, res)
	}
	return reportRecSim(c, results)
}

// namedPolicy reports a policy under another name.
type namedPolicy struct {
	recsim.Policy
	name string
}

func (p namedPolicy) Name() string { return p.name }

// reportRecSim prints summaries as JSON or as a table.
func reportRecSim(c *cli.Context, results []recsim.Summary) error {
	if c.Bool("json") {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(results)
	}
	printRecSimTable(os.Stdout, results)
	return nil
}

func printRecSimTable(w io.Writer, results []recsim.Summary) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "policy\tepisodes\treturn (minutes)\t±95%\tsession length\tclicks\tclicked quality\t")
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%d\t%.2f\t%.2f\t%.1f\t%.1f\t%.3f\t\n", r.Policy, r.Episodes, r.Mean, r.CI95, r.Steps, r.Clicks, r.Quality)
	}
	tw.Flush()
}

// runIfRecSim runs fn and reports true when the flags select RecSim's scenario, so that
// each command's action can hand that scenario over in one statement.
func runIfRecSim(c *cli.Context, fn cli.ActionFunc) (bool, error) {
	ok, err := isRecSim(c)
	if err != nil {
		return true, err
	}
	if !ok {
		return false, nil
	}
	return true, fn(c)
}
