package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/simshop/simshop/experiments"
	"github.com/simshop/simshop/simenv"
)

// experimentCommand runs the studies, one subcommand each, so that the study's name comes
// before its flags: experiment robustness --out DIR.
func experimentCommand() *cli.Command {
	var studies []*cli.Command
	for _, s := range experiments.Studies {
		studies = append(studies, &cli.Command{
			Name:   s.Name,
			Usage:  s.Usage,
			Flags:  experimentFlags(),
			Action: func(c *cli.Context) error { return runExperiment(c, s.Name) },
		})
	}
	return &cli.Command{
		Name:        "experiment",
		Usage:       "run a study and write its report, plots and data: " + strings.Join(experiments.StudyNames(), ", "),
		Subcommands: studies,
	}
}

func experimentFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "out", Usage: "report `DIR`, required; the report is DIR/report.md"},
		&cli.StringFlag{Name: "work", Usage: "`DIR` for the checkpoints the study saves (default: runs/experiments/NAME)"},
		&cli.StringFlag{Name: "budget", Usage: "size of the study: " + strings.Join(experiments.BudgetNames(), ", "), Value: "default"},
		&cli.Int64Flag{Name: "train-steps", Usage: "shopper-steps of each training run (default: the budget's)"},
		&cli.IntFlag{Name: "episodes", Usage: "evaluation sessions per recommender and persona (default: the budget's)"},
		&cli.Uint64Flag{Name: "seed", Usage: "seed of every training and evaluation stream", Value: 1},
		&cli.StringSliceFlag{Name: "persona", Usage: "persona of the by-persona and behaviour studies; repeat for several (default: every persona)"},
		&cli.StringSliceFlag{Name: "catalog", Usage: "catalog CSV `FILE` to run on besides the generated catalog; repeat for several"},
		&cli.IntFlag{Name: "items", Usage: "size of the generated catalog, in items", Value: simenv.DefaultCatalogSize},
		&cli.Uint64Flag{Name: "catalog-seed", Usage: "seed of the generated catalogs", Value: 1},
	}
}

func runExperiment(c *cli.Context, name string) error {
	if err := noArguments(c); err != nil {
		return err
	}
	out := c.String("out")
	if out == "" {
		return fmt.Errorf("--out DIR is required: the folder for the report, such as --out docs/experiments/%s", name)
	}
	budget, ok := experiments.Budgets[c.String("budget")]
	if !ok {
		return fmt.Errorf("--budget %q is unknown; use one of %s", c.String("budget"), strings.Join(experiments.BudgetNames(), ", "))
	}
	if c.IsSet("train-steps") {
		budget.TrainSteps = c.Int64("train-steps")
		budget.Name += fmt.Sprintf(" with --train-steps %d", budget.TrainSteps)
	}
	if c.IsSet("episodes") {
		budget.Episodes = c.Int("episodes")
		budget.Name += fmt.Sprintf(" with --episodes %d", budget.Episodes)
	}
	if budget.TrainSteps < int64(2*budget.Sessions) {
		return fmt.Errorf("--train-steps %d is too small; use at least %d, two steps of the %d parallel sessions", budget.TrainSteps, 2*budget.Sessions, budget.Sessions)
	}
	if budget.Episodes < 2 {
		return fmt.Errorf("--episodes %d is too small; use at least 2, so that results have intervals", budget.Episodes)
	}

	n := c.Int("items")
	if n < simenv.DefaultSlateSize || n > maxGeneratedItems {
		return fmt.Errorf("--items %d is invalid; use from %d to %d items", n, simenv.DefaultSlateSize, maxGeneratedItems)
	}
	generated, err := simenv.Generate(n, c.Uint64("catalog-seed"))
	if err != nil {
		return err
	}
	catalogs := []experiments.Catalog{{Name: "generated", Flags: fmt.Sprintf("--items %d --catalog-seed %d", n, c.Uint64("catalog-seed")),
		Catalog: generated, Generated: true}}
	for _, path := range c.StringSlice("catalog") {
		cat, err := simenv.LoadCSV(path)
		if err != nil {
			return err
		}
		catalogs = append(catalogs, experiments.Catalog{Name: strings.TrimSuffix(filepath.Base(path), filepath.Ext(path)),
			Flags: "--catalog " + path, Catalog: cat})
	}

	work := c.String("work")
	if work == "" {
		work = filepath.Join("runs", "experiments", name)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var bar *progress
	opt := experiments.Options{
		Catalogs: catalogs, Budget: budget, Personas: c.StringSlice("persona"), Seed: c.Uint64("seed"), CatalogSeed: c.Uint64("catalog-seed"),
		Out: out, Work: work, Command: commandLine(), Context: ctx,
		Progress: func(done, total int) {
			if bar == nil {
				bar = newProgress(name, "tasks", 0, int64(total))
			}
			bar.set(int64(done))
		},
	}
	slog.Info("experiment", "study", name, "budget", budget.Name, "catalogs", len(catalogs), "seed", opt.Seed, "out", out)
	path, err := experiments.Run(name, opt)
	if bar != nil {
		bar.finish()
	}
	if errors.Is(err, context.Canceled) {
		return interrupted("experiment stopped by a signal; no report was written")
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(os.Stdout, path)
	return nil
}

// commandLine returns the command line of this process, quoted for a POSIX shell where
// needed, with the program as bin/simshop-train.
func commandLine() string {
	parts := []string{"bin/simshop-train"}
	for _, a := range os.Args[1:] {
		if a == "" || strings.ContainsAny(a, " \t'\"$\\*?;&|<>()") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}
