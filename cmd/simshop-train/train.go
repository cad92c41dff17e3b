package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/simshop/simshop/checkpoints"
	"github.com/simshop/simshop/rl"
	"github.com/simshop/simshop/simenv"
)

// hyperparameterFlags are the DQN settings; a resumed run takes them from its checkpoint.
var hyperparameterFlags = []string{"hidden", "gamma", "lr", "batch-size", "replay-capacity", "learning-starts", "target-update", "epsilon-steps"}

func trainCommand() *cli.Command {
	def := rl.DefaultDQNConfig()
	flags := []cli.Flag{
		&cli.StringFlag{Name: "agent", Usage: "learning agent: dqn or reinforce", Value: "dqn"},
		&cli.Int64Flag{Name: "steps", Usage: "train until this many shopper-steps (slates shown) in total", Value: 60_000},
		&cli.IntFlag{Name: "envs", Usage: fmt.Sprintf("shopping sessions simulated in parallel; %d by default with --scenario %s", recsimTrainSessions, scenarioRecSim), Value: 16},
		&cli.Uint64Flag{Name: "seed", Usage: "seed of every random stream of the run", Value: 1},
		&cli.StringFlag{Name: "out", Usage: "run `DIR`, required; the checkpoint goes to DIR/checkpoints/latest.msgpack"},
		&cli.StringFlag{Name: "resume", Usage: "continue training from checkpoint `FILE`"},
		&cli.StringFlag{Name: "from-log", Usage: "REINFORCE: learn only from the slates of slate log `FILE` (see the log command), off-policy, instead of acting in the shop; --steps counts logged slates"},
		&cli.BoolFlag{Name: "force", Usage: "replace the run in --out, deleting its checkpoints and metrics"},
		&cli.BoolFlag{Name: "save-replay", Usage: "store the replay buffer, or REINFORCE's states not yet learned from, in each checkpoint (about 4 bytes per feature value held), so that a resumed run matches an uninterrupted one bit for bit"},
		&cli.Int64Flag{Name: "save-every", Usage: "shopper-steps between checkpoint saves", Value: 10_000},
		&cli.Int64Flag{Name: "log-every", Usage: "shopper-steps between progress lines", Value: 5_000},
		&cli.IntFlag{Name: "eval-episodes", Usage: "evaluation sessions after training", Value: 500},
		&cli.StringFlag{Name: "hidden", Usage: "hidden layer widths, comma separated", Value: joinInts(def.Hidden)},
		&cli.Float64Flag{Name: "gamma", Usage: "discount per slate, in [0, 1) for the DQN and [0, 1] for REINFORCE", Value: def.Gamma},
		&cli.Float64Flag{Name: "lr", Usage: "Adam learning rate", Value: def.LearningRate},
		&cli.IntFlag{Name: "batch-size", Usage: "transitions per update", Value: def.BatchSize},
		&cli.IntFlag{Name: "replay-capacity", Usage: "transitions kept in the replay buffer", Value: def.ReplayCapacity},
		&cli.IntFlag{Name: "learning-starts", Usage: "transitions stored before the first update", Value: def.LearningStarts},
		&cli.IntFlag{Name: "target-update", Usage: "DQN: updates between hard copies to the target network, used with --tau 0; setting it alone selects hard copies", Value: def.TargetUpdate},
		&cli.Int64Flag{Name: "epsilon-steps", Usage: "shopper-steps over which exploration decays from 1 to 0.05", Value: def.EpsilonSteps},
	}
	flags = append(flags, agentFlags()...)
	flags = append(flags, shopFlags(populationUsage)...)
	flags = append(flags, driftFlag())
	flags = append(flags, catalogFlags()...)
	flags = append(flags, keepFlags()...)
	flags = append(flags, bestFlags()...)
	flags = append(flags, scenarioFlags()...)
	flags = append(flags, dashboardFlag())
	return &cli.Command{
		Name:   "train",
		Usage:  "train a DQN or REINFORCE slate recommender and write its checkpoint",
		Flags:  flags,
		Action: runTrain,
	}
}

// run is one training run as the command line set it up.
type run struct {
	agent    rl.Agent
	catalog  *simenv.Catalog
	shop     simenv.Config
	seed     uint64
	sessions int
}

func runTrain(c *cli.Context) error {
	if err := noArguments(c); err != nil {
		return err
	}
	if handled, err := runIfRecSim(c, runTrainRecSim); handled {
		return err
	}
	if c.String("out") == "" {
		return fmt.Errorf("--out DIR is required: the run folder for checkpoints and metrics, such as --out runs/cheap_blue")
	}
	if a := c.String("agent"); !slices.Contains(rl.AgentNames, a) {
		return fmt.Errorf("--agent %q is not available; use one of %s", a, strings.Join(rl.AgentNames, ", "))
	}
	if err := checkPositive(c, "envs", "eval-episodes", "max-steps"); err != nil {
		return err
	}
	for _, f := range []string{"steps", "save-every", "log-every"} {
		if v := c.Int64(f); v < 1 {
			return fmt.Errorf("--%s %d is invalid; use a whole number of at least 1", f, v)
		}
	}
	var r *run
	var err error
	switch {
	case c.IsSet("from-log"):
		r, err = newLogRun(c)
	case c.IsSet("resume"):
		r, err = resumeRun(c)
	default:
		r, err = newRun(c)
	}
	if err != nil {
		return err
	}
	total := c.Int64("steps")
	if total <= r.agent.TrainedSteps() {
		return fmt.Errorf("--steps %d is not beyond the checkpoint's %d shopper-steps; pass a larger total to continue training", total, r.agent.TrainedSteps())
	}

	out := c.String("out")
	// Every flag is checked before --force may delete the earlier run.
	if err := checkKeepFlags(c); err != nil {
		return err
	}
	if err := checkBestFlags(c); err != nil {
		return err
	}
	if !c.IsSet("resume") {
		if err := claimRunFolder(out, c.Bool("force")); err != nil {
			return err
		}
	}
	keeper, err := newKeeper(c, out, r.agent.TrainedSteps())
	if err != nil {
		return err
	}
	ckptPath := keeper.latestPath()
	best, err := newBestKeeper(c, out, r.agent.TrainedSteps(), c.IsSet("resume"))
	if err != nil {
		return err
	}
	defer best.close()
	metrics, err := openMetrics(filepath.Join(out, "metrics.csv"))
	if err != nil {
		return err
	}
	defer metrics.close()
	stopDashboard, err := startTrainDashboard(c, out, r.catalog)
	if err != nil {
		return err
	}
	defer stopDashboard()

	env, err := simenv.NewVecEnv(r.catalog, r.shop, r.sessions, rl.TrainSeed(r.seed, r.agent.TrainedSteps()))
	if err != nil {
		return err
	}
	// A resumed run continues the simulator exactly when the checkpoint contains its state.
	// From an older checkpoint it continues at least the drift schedule.
	restored, err := r.agent.RestoreEnv(env)
	if err != nil {
		return fmt.Errorf("resume the simulator: %w", err)
	}
	if !restored {
		if err := env.SetClock(r.agent.TrainedSteps()); err != nil {
			return err
		}
	}
	slog.Info("training", "persona", r.shop.Persona, "catalog", r.catalog.Source, "items", r.catalog.Len(),
		"from_step", r.agent.TrainedSteps(), "to_step", total, "sessions", r.sessions, "seed", r.seed)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The learning curve is redrawn at a save at most every plotInterval, and after the
	// final evaluation, so that frequent saves (--save-seconds) do not pay for drawing.
	var plotted time.Time
	save := func(m map[string]float64) error {
		f, err := r.agent.Checkpoint(rl.RunInfo{Shop: r.shop, Seed: r.seed, Sessions: r.sessions, Metrics: m,
			Env: env, SaveReplay: c.Bool("save-replay")})
		if err != nil {
			return err
		}
		if err := keeper.save(f, r.agent.TrainedSteps()); err != nil {
			return err
		}
		if m == nil && time.Since(plotted) < plotInterval {
			return nil
		}
		plotted = time.Now()
		if err := writeLearningCurve(out); err != nil {
			slog.Warn("learning curve not drawn", "out", out, "err", err)
		}
		return nil
	}
	bar := newProgress("train", "steps", r.agent.TrainedSteps(), total)
	progress := func(p rl.TrainProgress) {
		if bar.terminal() {
			bar.set(p.EnvSteps)
		} else {
			slog.Info("progress", "step", p.EnvSteps, "episodes", p.Episodes, "updates", p.Updates,
				"epsilon", round(p.Epsilon, 3), "loss", round(p.Loss, 4), "return", round(p.ReturnMean, 2),
				"ctr", round(p.CTR, 3), "steps_per_s", round(p.StepsPerSecond, 0))
		}
		metrics.write(p)
	}
	for r.agent.TrainedSteps() < total {
		saveAt := min(total, (r.agent.TrainedSteps()/c.Int64("save-every")+1)*c.Int64("save-every"))
		untilSave, cancel := keeper.untilNextSave(ctx)
		err := r.agent.Train(untilSave, env, rl.TrainOptions{Steps: best.stopAt(saveAt), Every: c.Int64("log-every"), Progress: progress})
		saveDue := r.agent.TrainedSteps() >= saveAt || untilSave.Err() != nil // a --save-every step, --save-seconds or a signal
		cancel()
		if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
			return err
		}
		if ctx.Err() == nil && best.due(r.agent.TrainedSteps(), total) {
			if err := best.evaluate(ctx, r, agentModelName(r.agent.Name(), ckptPath)); err != nil && !errors.Is(err, context.Canceled) {
				return err
			}
		}
		if saveDue || ctx.Err() != nil {
			if serr := save(nil); serr != nil {
				return serr
			}
		}
		if ctx.Err() != nil && c.String("from-log") != "" {
			return interrupted(fmt.Sprintf("training from the log stopped by a signal at logged slate %d, and the checkpoint is saved. "+
				"A from-log run cannot be resumed, because the checkpoint does not store the position in the log. "+
				"Evaluate the checkpoint with\n  %s eval --model %s --seed %d\n"+
				"or train it further on-policy, in the shop rather than from the log, with\n  %s train --resume %s --out %s --steps %d",
				r.agent.TrainedSteps(), os.Args[0], ckptPath, r.seed, os.Args[0], ckptPath, out, total))
		}
		if ctx.Err() != nil {
			// A resumed run saves its replay buffer only when asked again.
			replay := ""
			if c.Bool("save-replay") {
				replay = " --save-replay"
			}
			return interrupted(fmt.Sprintf("training stopped by a signal at shopper-step %d, and the checkpoint is saved. Continue with\n  %s train --resume %s --out %s --steps %d%s",
				r.agent.TrainedSteps(), os.Args[0], ckptPath, out, total, replay))
		}
	}

	bar.finish()

	// Evaluate the greedy policy on episodes seeded apart from training.
	r.agent.SetGreedy(true)
	slog.Info("evaluating", "episodes", c.Int("eval-episodes"), "seed", r.seed)
	shop, err := r.shopNow()
	if err != nil {
		return err
	}
	res, err := rl.Evaluate(namedRecommender{r.agent, agentModelName(r.agent.Name(), ckptPath)}, r.catalog, shop,
		rl.EvalOptions{Episodes: c.Int("eval-episodes"), Seed: r.seed, Sessions: evalSessions, Context: ctx})
	if errors.Is(err, context.Canceled) {
		return interrupted(fmt.Sprintf("evaluation stopped by a signal; the trained checkpoint is saved at %s. Evaluate it with\n  %s eval --model %s --seed %d",
			ckptPath, os.Args[0], ckptPath, r.seed))
	}
	if err != nil {
		return err
	}
	if err := save(resultMetrics(res)); err != nil {
		return err
	}
	if err := best.record(r, res); err != nil {
		return err
	}
	printTable(os.Stdout, []rl.Result{res})
	fmt.Fprintf(os.Stdout, "evaluated with --seed %d --episodes %d\ncheckpoint: %s\n", r.seed, res.Episodes, ckptPath)
	return nil
}

// newRun sets up a fresh run from the flags.
func newRun(c *cli.Context) (*run, error) {
	if !c.IsSet("persona") {
		return nil, fmt.Errorf("--persona is required for a new run; choose one of %s, or a weighted mix such as cheap_blue:0.5,value_seeker:0.5", strings.Join(simenv.PersonaNames, ", "))
	}
	cat, err := loadCatalog(c, false)
	if err != nil {
		return nil, err
	}
	shop := simenv.Config{
		Persona:     c.String("persona"),
		Reward:      c.String("reward"),
		MaxSteps:    c.Int("max-steps"),
		ReturnProb:  c.Float64("return-prob"),
		Budget:      c.Float64("budget"),
		ChoiceModel: c.String("choice-model"),
		Drift:       c.String("drift"),
	}.WithDefaults()
	if err := shop.Validate(cat); err != nil {
		return nil, err
	}
	if err := simenv.CheckDrift(shop.Drift, c.Int64("steps"), c.Int("envs")); err != nil {
		return nil, err
	}
	seed := c.Uint64("seed")
	if c.String("agent") == "reinforce" {
		return newReinforceRun(c, cat, shop, seed)
	}
	for _, f := range []string{"batch-states", "entropy-coef", "top-k-correction", "max-weight", "importance-ratio"} {
		if c.IsSet(f) {
			return nil, fmt.Errorf("--%s sets a REINFORCE hyperparameter, which the DQN does not use; add --agent reinforce or leave it out", f)
		}
	}
	cfg := rl.DefaultDQNConfig()
	if cfg.Hidden, err = parseInts(c.String("hidden")); err != nil {
		return nil, fmt.Errorf("--hidden %q: %w", c.String("hidden"), err)
	}
	cfg.Gamma, cfg.LearningRate = c.Float64("gamma"), c.Float64("lr")
	cfg.BatchSize, cfg.ReplayCapacity = c.Int("batch-size"), c.Int("replay-capacity")
	cfg.LearningStarts, cfg.TargetUpdate = c.Int("learning-starts"), c.Int("target-update")
	cfg.EpsilonSteps = c.Int64("epsilon-steps")
	if err := scheduleFlags(c, &cfg); err != nil {
		return nil, err
	}
	agent, err := rl.NewDQN(cfg, cat, shop, seed)
	if err != nil {
		return nil, err
	}
	return &run{agent: agent, catalog: cat, shop: shop, seed: seed, sessions: c.Int("envs")}, nil
}

// shopNow returns the shop in which to evaluate r's agent: the run's shop, with its drift
// schedule frozen at the agent's current shopper-step.
func (r *run) shopNow() (simenv.Config, error) {
	shop := r.shop
	var err error
	shop.Drift, err = simenv.FreezeDrift(r.shop.Drift, r.agent.TrainedSteps(), r.catalog)
	return shop, err
}

// resumeRun restores a run from --resume; the checkpoint fixes everything but the length of
// the run and where it is written.
func resumeRun(c *cli.Context) (*run, error) {
	fixed := append([]string{"persona", "reward", "max-steps", "return-prob", "budget", "choice-model", "drift", "seed", "envs", "agent"}, hyperparameterFlags...)
	for _, f := range append(fixed, agentHyperparameterFlags...) {
		if c.IsSet(f) {
			return nil, fmt.Errorf("--%s cannot change a resumed run: the checkpoint fixes it; leave --%s out, or start a new run without --resume", f, f)
		}
	}
	path := c.String("resume")
	f, err := checkpoints.Load(path)
	if err != nil {
		return nil, err
	}
	var cat *simenv.Catalog
	if c.IsSet("catalog") || c.IsSet("items") {
		if cat, err = loadCatalog(c, false); err != nil {
			return nil, err
		}
	}
	agent, cat, err := rl.LoadAgent(f, cat)
	if err != nil {
		return nil, fmt.Errorf("resume from %s: %w", path, err)
	}
	m := f.Metadata
	slog.Info("resuming", "checkpoint", path, "agent", m.Agent, "step", agent.TrainedSteps(), "updates", f.Training.Updates, "epsilon", round(f.Training.Epsilon, 3))
	return &run{agent: agent, catalog: cat, shop: m.Shop, seed: m.Seed, sessions: max(1, m.Sessions)}, nil
}

// evalSessions is the number of sessions evaluation steps together; results do not depend on it.
const evalSessions = 32

func resultMetrics(r rl.Result) map[string]float64 {
	return map[string]float64{
		"episodes": float64(r.Episodes), "ctr": r.CTR, "purchase_rate": r.PurchaseRate,
		"reward_per_step": r.RewardPerStep, "reward_per_step_ci95": r.RewardPerStepCI95,
		"return_mean": r.ReturnMean, "return_ci95": r.ReturnCI95, "session_length": r.SessionLength,
	}
}

// metricsFile appends progress rows to a CSV file and, as JSON objects with the same keys,
// to a JSON Lines file beside it.
type metricsFile struct {
	f       *os.File
	w       *csv.Writer
	jsonl   *os.File
	columns int // of the file's header: a file begun before purchase_rate existed keeps its 8 columns
}

// metricsHeader lists the columns of metrics.csv; new columns go at the end, so that readers
// of older files find the columns they know in place.
var metricsHeader = []string{"env_steps", "episodes", "updates", "epsilon", "loss", "return_mean", "ctr", "steps_per_second", "purchase_rate"}

// claimRunFolder checks that a new run may write to the run folder out. A folder that holds
// an earlier run's checkpoint is rejected unless force is set; with force, the earlier run's
// checkpoints and metrics are removed.
func claimRunFolder(out string, force bool) error {
	latest := filepath.Join(out, "checkpoints", "latest.msgpack")
	if _, err := os.Stat(latest); err != nil {
		return nil
	}
	if !force {
		return fmt.Errorf("--out %s already contains a run (%s); continue it with --resume %s, choose another --out, or pass --force to replace it",
			out, latest, latest)
	}
	old, err := filepath.Glob(filepath.Join(out, "checkpoints", "*.msgpack"))
	if err != nil {
		return err
	}
	for _, name := range []string{"metrics.csv", "metrics.jsonl", "evals.csv", learningCurveName + ".png", learningCurveName + ".svg"} {
		old = append(old, filepath.Join(out, name))
	}
	for _, path := range old {
		if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("replace the run in %s: %w", out, err)
		}
	}
	slog.Warn("replacing the earlier run", "out", out)
	return nil
}

func openMetrics(path string) (*metricsFile, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("create run folder: %w", err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open metrics file: %w", err)
	}
	jsonPath := strings.TrimSuffix(path, filepath.Ext(path)) + ".jsonl"
	j, err := os.OpenFile(jsonPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open metrics file: %w", err)
	}
	m := &metricsFile{f: f, w: csv.NewWriter(f), jsonl: j, columns: len(metricsHeader)}
	st, err := f.Stat()
	switch {
	case err == nil && st.Size() == 0:
		m.w.Write(metricsHeader)
		m.w.Flush()
	case err == nil:
		if header, err := csv.NewReader(io.NewSectionReader(f, 0, st.Size())).Read(); err == nil {
			m.columns = min(len(header), len(metricsHeader))
		}
	}
	return m, nil
}

func (m *metricsFile) write(p rl.TrainProgress) {
	row := []string{
		strconv.FormatInt(p.EnvSteps, 10), strconv.FormatInt(p.Episodes, 10), strconv.FormatInt(p.Updates, 10),
		fmtFloat(p.Epsilon), fmtFloat(p.Loss), fmtFloat(p.ReturnMean), fmtFloat(p.CTR), fmtFloat(p.StepsPerSecond),
		fmtFloat(p.PurchaseRate),
	}
	m.w.Write(row[:m.columns])
	m.w.Flush()
	if err := m.w.Error(); err != nil {
		slog.Error("write metrics", "file", m.f.Name(), "err", err)
	}

	// The JSON row holds the CSV row's numbers, with null for NaN, which JSON lacks.
	obj := make(map[string]any, len(row))
	for i, key := range metricsHeader {
		v, err := strconv.ParseFloat(row[i], 64)
		if err != nil || math.IsNaN(v) {
			obj[key] = nil
			continue
		}
		obj[key] = v
	}
	line, err := json.Marshal(obj)
	if err == nil {
		_, err = m.jsonl.Write(append(line, '\n'))
	}
	if err != nil {
		slog.Error("write metrics", "file", m.jsonl.Name(), "err", err)
	}
}

func (m *metricsFile) close() {
	m.f.Close()
	m.jsonl.Close()
}
