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
			Flags:  experimentFlags(s),
			Action: func(c *cli.Context) error { return runExperiment(c, s.Name) },
		})
	}
	return &cli.Command{
		Name:        "experiment",
		Usage:       "run a study and write its report, plots and data: " + strings.Join(experiments.StudyNames(), ", "),
		Subcommands: studies,
	}
}

func experimentFlags(s experiments.Study) []cli.Flag {
	budget := experiments.Budgets[s.DefaultBudget]
	flags := []cli.Flag{
		&cli.StringFlag{Name: "out", Usage: "report `DIR`, required; the report is DIR/report.md"},
		&cli.BoolFlag{Name: "force", Usage: "replace the report in --out once the new one is complete"},
		&cli.StringFlag{Name: "work", Usage: "`DIR` for the checkpoints the study saves (default: runs/experiments/" + s.Name + ")"},
		&cli.StringFlag{Name: "budget", Usage: "size of the study: " + strings.Join(experiments.BudgetNames(), ", "), Value: s.DefaultBudget},
		&cli.Int64Flag{Name: "train-steps", Usage: "shopper-steps of each training run", DefaultText: fmt.Sprintf("the budget's, %d with --budget %s", budget.TrainSteps, budget.Name)},
		&cli.IntFlag{Name: "episodes", Usage: "evaluation sessions per recommender and persona", DefaultText: fmt.Sprintf("the budget's, %d with --budget %s", budget.Episodes, budget.Name)},
		&cli.Uint64Flag{Name: "seed", Usage: "seed of every training and evaluation stream", Value: 1},
	}
	if !s.FixedPersonas {
		flags = append(flags, &cli.StringSliceFlag{Name: "persona", Usage: "persona of the study; repeat for several (default: every persona)"})
	}
	return append(flags,
		&cli.StringSliceFlag{Name: "catalog", Usage: "catalog CSV `FILE` to run on besides the generated catalog; repeat for several"},
		&cli.IntFlag{Name: "items", Usage: "size of the generated catalog, in items", Value: simenv.DefaultCatalogSize},
		&cli.Uint64Flag{Name: "catalog-seed", Usage: "seed of the generated catalogs", Value: 1},
	)
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
	var changed []string
	if c.IsSet("train-steps") {
		budget.TrainSteps = c.Int64("train-steps")
		changed = append(changed, fmt.Sprintf("--train-steps %d", budget.TrainSteps))
	}
	if c.IsSet("episodes") {
		budget.Episodes = c.Int("episodes")
		changed = append(changed, fmt.Sprintf("--episodes %d", budget.Episodes))
	}
	if len(changed) > 0 {
		budget.Name += ", with " + strings.Join(changed, " and ")
	}
	if budget.TrainSteps < int64(2*budget.Sessions) {
		return fmt.Errorf("--train-steps %d is too small; use at least %d, two steps of the %d parallel sessions", budget.TrainSteps, 2*budget.Sessions, budget.Sessions)
	}
	if budget.Episodes < 2 {
		return fmt.Errorf("--episodes %d is too small; use at least 2, so that results have intervals", budget.Episodes)
	}
	work := c.String("work")
	if work == "" {
		work = filepath.Join("runs", "experiments", name)
	}
	if err := checkReportFolders(out, work, c.Bool("force")); err != nil {
		return err
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

	// Catch signals before the draft folder exists, so that an interrupt always removes it.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	// The study writes into a new folder beside --out, which replaces --out only once the
	// report is complete, so a failed or interrupted run leaves the earlier report intact.
	parent, base := filepath.Split(filepath.Clean(out))
	if parent == "" {
		parent = "."
	}
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("create the parent folder of --out %s: %w", out, err)
	}
	draft, err := os.MkdirTemp(parent, "."+base+".draft-")
	if err != nil {
		return fmt.Errorf("create a draft folder beside --out %s: %w", out, err)
	}
	// MkdirTemp makes the folder private, and the draft becomes the report folder.
	if err := os.Chmod(draft, 0o755); err != nil {
		return fmt.Errorf("set the mode of the draft folder %s: %w", draft, err)
	}
	keepDraft := false
	defer func() {
		if !keepDraft {
			os.RemoveAll(draft)
		}
	}()

	var bar *progress
	opt := experiments.Options{
		Catalogs: catalogs, Budget: budget, Personas: c.StringSlice("persona"), Seed: c.Uint64("seed"), CatalogSeed: c.Uint64("catalog-seed"),
		Out: draft, Work: work, Command: commandLine(), Context: ctx,
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
	if err := replaceFolder(draft, out); err != nil {
		keepDraft = true
		return err
	}
	fmt.Fprintln(os.Stdout, filepath.Join(out, filepath.Base(path)))
	return nil
}

// checkReportFolders rejects an --out or --work that is a file, and an --out that holds files
// unless force is set.
func checkReportFolders(out, work string, force bool) error {
	for _, dir := range []struct{ flag, path string }{{"--out", out}, {"--work", work}} {
		if info, err := os.Stat(dir.path); err == nil && !info.IsDir() {
			return fmt.Errorf("%s %s is a file; give a folder, which the study creates if it is missing", dir.flag, dir.path)
		}
	}
	entries, err := os.ReadDir(out)
	if err != nil || len(entries) == 0 || force {
		return nil
	}
	return fmt.Errorf("--out %s already contains files; choose another --out, or pass --force to replace the folder once the new report is complete", out)
}

// replaceFolder moves the folder draft to out, replacing what out held. Both steps are
// renames, so out holds the whole earlier report or the whole new one, and is missing only
// between the two renames.
func replaceFolder(draft, out string) error {
	old := ""
	if _, err := os.Stat(out); err == nil {
		old = draft + ".old"
		if err := os.Rename(out, old); err != nil {
			return fmt.Errorf("replace --out %s: %w; the new report is in %s", out, err, draft)
		}
	}
	if err := os.Rename(draft, out); err != nil {
		if old != "" {
			err = errors.Join(err, os.Rename(old, out))
		}
		return fmt.Errorf("replace --out %s: %w; the new report is in %s", out, err, draft)
	}
	if old != "" {
		if err := os.RemoveAll(old); err != nil {
			slog.Warn("failed to remove the earlier report", "folder", old, "err", err)
		}
	}
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
