package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/simshop/simshop/checkpoints"
	"github.com/simshop/simshop/rl"
	"github.com/simshop/simshop/simenv"
)

func logCommand() *cli.Command {
	flags := []cli.Flag{
		&cli.StringFlag{Name: "policy", Usage: "logging policy `NAME`, " + strings.Join(rl.LoggingBases, " or ") + ", or the checkpoint FILE of a DQN or REINFORCE model", Value: "popularity"},
		&cli.Float64Flag{Name: "temperature", Usage: "temperature τ of the softmax over the policy's scores; popularity scores are −rank", Value: 1},
		&cli.Float64Flag{Name: "epsilon", Usage: "share ε, from 0 to 1, of a uniform choice mixed into each item's probability", Value: 0.1},
		&cli.IntFlag{Name: "sessions", Usage: "complete sessions to log", Value: 2000},
		&cli.Uint64Flag{Name: "seed", Usage: "seed of the logged shoppers and of the policy's draws; the shoppers differ from those of training and evaluation with the same seed", Value: 1},
		&cli.StringFlag{Name: "out", Usage: "slate log `FILE` to write, required; it must not exist unless --force is set"},
		&cli.BoolFlag{Name: "force", Usage: "replace the --out file if it exists"},
		&cli.BoolFlag{Name: "propensities", Usage: "record the propensities; false leaves them out, as in the logs of a shop that did not keep them, and train --from-log then estimates them", Value: true},
		&cli.IntFlag{Name: "eval-episodes", Usage: "evaluation sessions of the logging policy after logging, with the seeds of compare --seed 1; 0 skips it", Value: 500},
	}
	// Logs support only shoppers who never return, so --return-prob is hidden, and runLog
	// rejects any value but 0 with the reason.
	for _, f := range shopFlags(populationUsage) {
		if rp, ok := f.(*cli.Float64Flag); ok && rp.Name == "return-prob" {
			rp.Hidden = true
		}
		flags = append(flags, f)
	}
	flags = append(flags, catalogFlags()...)
	return &cli.Command{
		Name:   "log",
		Usage:  "record the slates of a stochastic logging policy, with their propensities, for train --from-log",
		Flags:  flags,
		Action: runLog,
	}
}

func runLog(c *cli.Context) error {
	if err := noArguments(c); err != nil {
		return err
	}
	out := c.String("out")
	if out == "" {
		return fmt.Errorf("--out FILE is required: the slate log to write, such as --out logs/popularity.msgpack")
	}
	if err := checkLogOut(out, c.Bool("force")); err != nil {
		return err
	}
	if !c.IsSet("persona") {
		return fmt.Errorf("--persona is required; choose one of %s, or a weighted mix such as cheap_blue:0.5,value_seeker:0.5", strings.Join(simenv.PersonaNames, ", "))
	}
	if err := checkPositive(c, "sessions", "max-steps"); err != nil {
		return err
	}
	if c.Int("eval-episodes") < 0 {
		return fmt.Errorf("--eval-episodes %d is invalid; use 0 to skip the evaluation or a positive number", c.Int("eval-episodes"))
	}
	if c.Float64("return-prob") != 0 {
		return fmt.Errorf("--return-prob %g: logs support only shoppers who never return, because they do not record who returns; leave --return-prob out", c.Float64("return-prob"))
	}
	info := rl.LoggingPolicyInfo{Base: c.String("policy"), Temperature: c.Float64("temperature"), Epsilon: c.Float64("epsilon")}
	var cat *simenv.Catalog
	var scorer rl.Scorer
	var err error
	if slices.Contains(rl.LoggingBases, info.Base) {
		if cat, err = loadCatalog(c, false); err != nil {
			return err
		}
	} else {
		if err := checkPolicyFile(info.Base); err != nil {
			return err
		}
		if cat, err = loadCatalog(c, true); err != nil {
			return err
		}
		var m *model
		m, cat, err = loadModel(info.Base, cat)
		if errors.Is(err, checkpoints.ErrSlateLog) {
			return err
		}
		if err != nil {
			return fmt.Errorf("--policy %s was loaded as a checkpoint and failed: %w", info.Base, err)
		}
		if scorer, err = scorerOf(m.agent); err != nil {
			return err
		}
	}
	shop := simenv.Config{
		Persona:     c.String("persona"),
		Reward:      c.String("reward"),
		MaxSteps:    c.Int("max-steps"),
		Budget:      c.Float64("budget"),
		ChoiceModel: c.String("choice-model"),
	}.WithDefaults()
	if err := shop.Validate(cat); err != nil {
		return err
	}
	if err := checkLogSessions(c.Int("sessions"), shop); err != nil {
		return err
	}
	policy, err := rl.NewLoggingPolicy(info, scorer, cat, shop.SlateSize)
	if err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	slog.Info("logging", "policy", policy.Name(), "persona", shop.Persona, "catalog", cat.Source, "items", cat.Len(),
		"sessions", c.Int("sessions"), "seed", c.Uint64("seed"))
	l, err := rl.RecordLog(policy, cat, shop, rl.LogOptions{Sessions: c.Int("sessions"), Seed: c.Uint64("seed"), Parallel: evalSessions, Context: ctx})
	if errors.Is(err, context.Canceled) {
		return interrupted("logging stopped by a signal; nothing was written")
	}
	if err != nil {
		return err
	}
	if !c.Bool("propensities") {
		l.Propensities = nil
	}
	// Logging takes a while, so a file may have appeared at out since the first check.
	if err := checkLogOut(out, c.Bool("force")); err != nil {
		return err
	}
	if err := rl.WriteSlateLog(out, l); err != nil {
		return err
	}
	reward := 0.0
	for _, r := range l.Rewards {
		reward += r
	}
	fmt.Fprintf(os.Stdout, "logged %d sessions, %d slates, reward per slate %.4f, to %s\n",
		l.NumSessions(), l.NumSteps(), reward/float64(l.NumSteps()), out)

	if episodes := c.Int("eval-episodes"); episodes > 0 {
		res, err := rl.Evaluate(policy, cat, shop, rl.EvalOptions{Episodes: episodes, Seed: 1, Sessions: evalSessions, Context: ctx})
		if errors.Is(err, context.Canceled) {
			return interrupted("evaluation stopped by a signal; the log is written")
		}
		if err != nil {
			return err
		}
		printTable(os.Stdout, []rl.Result{res})
		fmt.Fprintf(os.Stdout, "the logging policy evaluated with --seed 1 --episodes %d\n", episodes)
	}
	return nil
}

// checkLogOut rejects an --out path that is a folder, or an existing file unless force is
// set, so that log never replaces a checkpoint or an earlier log by mistake.
func checkLogOut(path string, force bool) error {
	if strings.HasSuffix(path, "/") || strings.HasSuffix(path, string(os.PathSeparator)) {
		return fmt.Errorf("--out %s names a folder; give the path of the slate log file to write, such as --out %s",
			path, filepath.Join(path, "log.msgpack"))
	}
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("--out %s cannot be checked: %w", path, err)
	}
	if st.IsDir() {
		return fmt.Errorf("--out %s is a folder; give the path of the slate log file to write, such as --out %s",
			path, filepath.Join(path, "log.msgpack"))
	}
	if !force {
		return fmt.Errorf("--out %s already exists; choose another path, or add --force to replace it", path)
	}
	return nil
}

// checkLogSessions rejects a --sessions value whose log train --from-log might not read,
// because sessions of the maximum length would exceed the reader's limit on elements.
func checkLogSessions(sessions int, shop simenv.Config) error {
	limit := rl.MaxLogSessions(shop.SlateSize, shop.MaxSteps)
	if limit == 0 {
		maxSteps := (rl.MaxSlateLogElements - 1) / (2*shop.SlateSize + 3)
		return fmt.Errorf("--max-steps %d is too large: one session of %d slates of %d items could exceed the %d array elements that train --from-log reads; "+
			"use --max-steps %d or fewer", shop.MaxSteps, shop.MaxSteps, shop.SlateSize, rl.MaxSlateLogElements, maxSteps)
	}
	if sessions > limit {
		return fmt.Errorf("--sessions %d is too many: sessions of up to %d slates of %d items could exceed the %d array elements that train --from-log reads; "+
			"use --sessions %d or fewer", sessions, shop.MaxSteps, shop.SlateSize, rl.MaxSlateLogElements, limit)
	}
	return nil
}

// checkPolicyFile returns an error unless path, a --policy value that is not one of
// rl.LoggingBases, names a file. For a recommender's name, the error explains that it is
// not a logging policy.
func checkPolicyFile(path string) error {
	st, err := os.Stat(path)
	valid := strings.Join(rl.LoggingBases, ", ") + ", or the checkpoint FILE of a DQN or REINFORCE model"
	if err == nil && st.IsDir() {
		return fmt.Errorf("--policy %s is a folder; use %s, such as RUN/checkpoints/latest.msgpack", path, valid)
	}
	if err == nil {
		return nil
	}
	recommenders := append(append([]string{"oracle"}, rl.BaselineNames...), rl.ReferenceNames...)
	if slices.Contains(recommenders, path) {
		return fmt.Errorf("--policy %s is a recommender but not a logging policy (the section Logging policies of docs/logged-data.md explains why); use %s",
			path, valid)
	}
	return fmt.Errorf("--policy %s is neither a logging policy nor a checkpoint file (%v); use %s", path, err, valid)
}

// scorerOf returns the item scorer of a trained agent, for a logging policy.
func scorerOf(agent rl.Agent) (rl.Scorer, error) {
	s, ok := agent.(rl.Scorer)
	if !ok {
		return nil, fmt.Errorf("a %s model has no item scores to log with; use a DQN or REINFORCE checkpoint", agent.Name())
	}
	return s, nil
}

// logLearner is a REINFORCE agent whose training learns from a slate log, not from the
// shop it is given. Everything else, checkpoints and evaluation included, is REINFORCE's.
type logLearner struct {
	*rl.Reinforce
	log *rl.SlateLog
}

func (l logLearner) Train(ctx context.Context, _ *simenv.VecEnv, opt rl.TrainOptions) error {
	return l.TrainFromLog(ctx, l.log, opt)
}

// newLogRun sets up a REINFORCE run that learns from the slate log of --from-log. The log
// fixes the shop, so the shop flags are rejected.
func newLogRun(c *cli.Context) (*run, error) {
	path := c.String("from-log")
	if c.String("agent") != "reinforce" {
		return nil, fmt.Errorf("--from-log trains REINFORCE only; add --agent reinforce")
	}
	if c.IsSet("resume") {
		return nil, fmt.Errorf("--from-log starts a new run and cannot continue one; leave --resume out, or resume without --from-log to go on training in the shop")
	}
	for _, f := range []string{"persona", "reward", "max-steps", "return-prob", "budget", "choice-model", "drift"} {
		if c.IsSet(f) {
			return nil, fmt.Errorf("--%s cannot be set with --from-log: the log %s fixes the shop; leave --%s out", f, path, f)
		}
	}
	cat, err := loadCatalog(c, false)
	if err != nil {
		return nil, err
	}
	l, err := rl.ReadSlateLog(path, cat)
	if err != nil {
		return nil, err
	}
	r, err := newReinforceRun(c, cat, l.Shop, c.Uint64("seed"))
	if err != nil {
		return nil, err
	}
	slog.Info("learning from a slate log", "log", path, "policy", l.Policy.Base, "temperature", l.Policy.Temperature,
		"epsilon", l.Policy.Epsilon, "sessions", l.NumSessions(), "slates", l.NumSteps(), "persona", l.Shop.Persona,
		"propensities", l.HasPropensities())
	r.agent = logLearner{Reinforce: r.agent.(*rl.Reinforce), log: l}
	return r, nil
}
