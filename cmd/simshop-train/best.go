package main

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strconv"

	"github.com/urfave/cli/v2"

	"github.com/simshop/simshop/checkpoints"
	"github.com/simshop/simshop/rl"
)

// bestFlags set the evaluations during training that keep the best model.
func bestFlags() []cli.Flag {
	return []cli.Flag{
		&cli.Int64Flag{Name: "eval-every", Usage: "shopper-steps between greedy evaluations during training; each is logged, appended to DIR/evals.csv, " +
			"and saved as DIR/checkpoints/best.msgpack when its reward per step is the best so far; 0 disables them"},
		&cli.IntFlag{Name: "eval-every-episodes", Usage: "evaluation sessions of each --eval-every evaluation", Value: 100},
	}
}

// evalsHeader is the header of evals.csv. reward_per_step_ci95 is the half-width of the
// 95% confidence interval of reward_per_step, and episodes is the number of evaluation
// sessions.
var evalsHeader = []string{"env_steps", "reward_per_step", "reward_per_step_ci95", "ctr", "purchase_rate", "return_mean", "episodes"}

// bestKeeper runs the evaluations of --eval-every, records them in RUN/evals.csv and
// keeps the model with the highest reward per step in RUN/checkpoints/best.msgpack.
type bestKeeper struct {
	every    int64 // shopper-steps between evaluations; 0 disables them
	episodes int   // evaluation sessions per evaluation
	csvPath  string
	bestPath string

	next    int64   // the shopper-step at or after which the next evaluation is due
	best    float64 // reward per step of best.msgpack; -Inf before the first evaluation
	evalCSV *os.File
	writer  *csv.Writer
}

// newBestKeeper checks the flags of bestFlags for a run in folder out that starts at
// shopper-step start. A resumed run keeps the best model of its earlier part, so it reads
// the reward per step of best.msgpack. A fresh run replaces that file at its first
// evaluation. It creates no file; evals.csv is opened at the first evaluation.
func newBestKeeper(c *cli.Context, out string, start int64, resumed bool) (*bestKeeper, error) {
	b := &bestKeeper{
		every:    c.Int64("eval-every"),
		episodes: c.Int("eval-every-episodes"),
		csvPath:  filepath.Join(out, "evals.csv"),
		bestPath: filepath.Join(out, "checkpoints", "best.msgpack"),
		best:     math.Inf(-1),
	}
	if err := checkBestFlags(c); err != nil {
		return nil, err
	}
	if b.every == 0 {
		return b, nil
	}
	b.next = (start/b.every + 1) * b.every
	if !resumed {
		return b, nil
	}
	f, err := checkpoints.Load(b.bestPath)
	if errors.Is(err, fs.ErrNotExist) {
		return b, nil
	}
	if err != nil {
		slog.Warn("cannot read the best model so far; the next evaluation replaces it", "file", b.bestPath, "err", err)
		return b, nil
	}
	if v, ok := f.Metadata.Metrics["reward_per_step"]; ok && !math.IsNaN(v) {
		b.best = v
		slog.Info("best model so far", "file", b.bestPath, "step", f.Training.EnvSteps, "reward_per_step", round(v, 4))
	}
	return b, nil
}

// stopAt returns the shopper-step at which training must pause next, given that the next
// save is due at save.
func (b *bestKeeper) stopAt(save int64) int64 {
	if b.every == 0 {
		return save
	}
	return min(save, b.next)
}

// due reports whether an evaluation is due at shopper-step step, which is before the end
// of training at total. The final evaluation of the run covers step total.
func (b *bestKeeper) due(step, total int64) bool {
	return b.every > 0 && step >= b.next && step < total
}

// evaluate runs a greedy evaluation of r's agent at its current step with the run's seed
// and records it with record. The agent is greedy during the evaluation only. The
// evaluation steps r.sessions sessions together, as training does, so the agent's
// per-session buffers keep their size and training goes on as if no evaluation had run.
func (b *bestKeeper) evaluate(ctx context.Context, r *run, name string) error {
	step := r.agent.TrainedSteps()
	b.next = (step/b.every + 1) * b.every
	shop, err := r.shopNow()
	if err != nil {
		return err
	}
	r.agent.SetGreedy(true)
	res, err := rl.Evaluate(namedRecommender{r.agent, name}, r.catalog, shop,
		rl.EvalOptions{Episodes: b.episodes, Seed: r.seed, Sessions: r.sessions, Context: ctx})
	r.agent.SetGreedy(false)
	if err != nil {
		return err
	}
	return b.record(r, res)
}

// record logs the evaluation res of r's agent at its current step, appends it to
// evals.csv, and saves the agent to best.msgpack if its reward per step beats the best so
// far. It does nothing when --eval-every is 0.
func (b *bestKeeper) record(r *run, res rl.Result) error {
	if b.every == 0 {
		return nil
	}
	step := r.agent.TrainedSteps()
	improved := res.RewardPerStep > b.best
	slog.Info("evaluation", "step", step, "episodes", res.Episodes, "reward_per_step", round(res.RewardPerStep, 4),
		"ci95", round(res.RewardPerStepCI95, 4), "ctr", round(res.CTR, 3), "purchase_rate", round(res.PurchaseRate, 3),
		"return", round(res.ReturnMean, 2), "best", improved)
	if err := b.appendRow(step, res); err != nil {
		return err
	}
	if !improved {
		return nil
	}
	f, err := r.agent.Checkpoint(rl.RunInfo{Shop: r.shop, Seed: r.seed, Sessions: r.sessions, Metrics: resultMetrics(res)})
	if err != nil {
		return err
	}
	if err := checkpoints.Save(b.bestPath, f); err != nil {
		return err
	}
	b.best = res.RewardPerStep
	return nil
}

// appendRow appends one evaluation to evals.csv, writing the header to a new file. Floats
// are written with full precision, so they parse back to the values in best.msgpack.
func (b *bestKeeper) appendRow(step int64, res rl.Result) error {
	if b.evalCSV == nil {
		f, err := os.OpenFile(b.csvPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			return fmt.Errorf("open the evaluation log: %w", err) // the error names the file
		}
		b.evalCSV, b.writer = f, csv.NewWriter(f)
		if st, err := f.Stat(); err == nil && st.Size() == 0 {
			b.writer.Write(evalsHeader)
		}
	}
	exact := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	b.writer.Write([]string{
		strconv.FormatInt(step, 10), exact(res.RewardPerStep), exact(res.RewardPerStepCI95), exact(res.CTR),
		exact(res.PurchaseRate), exact(res.ReturnMean), strconv.Itoa(res.Episodes),
	})
	b.writer.Flush()
	if err := b.writer.Error(); err != nil {
		return fmt.Errorf("write %s: %w", b.csvPath, err)
	}
	return nil
}

func (b *bestKeeper) close() {
	if b.evalCSV != nil {
		b.evalCSV.Close()
	}
}

// checkBestFlags validates --eval-every and --eval-every-episodes.
func checkBestFlags(c *cli.Context) error {
	if every := c.Int64("eval-every"); every < 0 {
		return fmt.Errorf("--eval-every %d is invalid; use 0 to disable evaluations during training, or the shopper-steps between them (at least 1)", every)
	}
	if episodes := c.Int("eval-every-episodes"); episodes < 1 {
		return fmt.Errorf("--eval-every-episodes %d is invalid; use a whole number of at least 1", episodes)
	}
	return nil
}
