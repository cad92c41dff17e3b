// Command simshop-train trains, evaluates and compares slate recommenders on SimShop's
// simulated shoppers.
//
//	simshop-train train --persona cheap_blue --steps 60000 --out runs/cheap_blue
//	simshop-train eval --model runs/cheap_blue/checkpoints/latest.msgpack --episodes 500
//	simshop-train compare --model runs/cheap_blue/checkpoints/latest.msgpack --persona cheap_blue
//
// Results go to stdout; logs go to stderr.
package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/simshop/simshop/simenv"
)

func main() {
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, nil)))
	if err := newApp().Run(os.Args); err != nil {
		fmt.Fprintln(os.Stderr, "simshop-train:", err)
		var exit cli.ExitCoder
		if errors.As(err, &exit) {
			os.Exit(exit.ExitCode())
		}
		os.Exit(1)
	}
}

// interrupted returns the error of a command stopped by SIGINT or SIGTERM, with the exit
// status 130 that shells use for an interrupted program.
func interrupted(message string) error { return cli.Exit(message, 130) }

// noArguments rejects positional arguments, which urfave/cli would otherwise take as the end
// of the flags, silently ignoring every flag after them.
func noArguments(c *cli.Context) error {
	if c.Args().Len() > 0 {
		return fmt.Errorf("unexpected argument %q: %s takes only flags, such as --steps 2000; check for a missing -- or a value with spaces",
			c.Args().First(), c.Command.Name)
	}
	return nil
}

func newApp() *cli.App {
	app := &cli.App{
		Name:  "simshop-train",
		Usage: "train, evaluate and compare slate recommenders on simulated shoppers",
		Commands: []*cli.Command{
			withConfig(trainCommand()),
			withConfig(evalCommand()),
			withConfig(compareCommand()),
			withConfig(inspectCommand()),
			withConfig(exportCommand()),
			withConfig(experimentCommand()),
			withConfig(logCommand()),
			withConfig(dashboardCommand()),
		},
		// Errors are printed once, by main.
		ExitErrHandler: func(*cli.Context, error) {},
	}
	shortUsageErrors(app.Commands, app.Name)
	return app
}

// shortUsageErrors makes a flag value that fails to parse, such as --steps abc, an error that
// names the command's help, in place of the whole help text followed by the error.
func shortUsageErrors(commands []*cli.Command, parent string) {
	for _, c := range commands {
		name := parent + " " + c.Name
		c.OnUsageError = func(_ *cli.Context, err error, _ bool) error {
			return fmt.Errorf("%w; run %s --help for the flags and their values", err, name)
		}
		shortUsageErrors(c.Subcommands, name)
	}
}

// catalogFlags select the catalog: a CSV file, or a generated one.
func catalogFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "catalog", Usage: "catalog CSV `FILE` (columns item_id, category, price, color, brand; optional name, popularity, rating, release_age_days)"},
		&cli.IntFlag{Name: "items", Usage: "size of the generated catalog, in items, when no --catalog is given", Value: simenv.DefaultCatalogSize},
		&cli.Uint64Flag{Name: "catalog-seed", Usage: "seed of the generated catalog", Value: 1},
	}
}

// shopFlags set the simulated shop.
func shopFlags(personaUsage string) []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "persona", Usage: personaUsage},
		&cli.StringFlag{Name: "reward", Usage: "reward scheme: " + strings.Join(simenv.RewardNames, ", "), Value: simenv.RewardClickPurchase},
		&cli.IntFlag{Name: "max-steps", Usage: "maximum session length, in slates", Value: simenv.DefaultMaxSteps},
		&cli.Float64Flag{Name: "budget", Usage: "median budget, in median catalog prices, of every shopper whose persona has none (log-normal spread 0.3); a shopper never buys above what remains of its budget; 0 gives budgets to budget_buyer alone"},
		&cli.Float64Flag{Name: "return-prob", Usage: "probability, from 0 to 1, that a shopper whose session ends comes back for the next session with its memory"},
		&cli.StringFlag{Name: "choice-model", Usage: "how a shopper chooses from a slate: " + strings.Join(simenv.ChoiceModelNames, ", "), DefaultText: simenv.ChoiceMNL},
	}
}

// driftFlag schedules changes of the shop during training.
func driftFlag() cli.Flag {
	return &cli.StringFlag{Name: "drift", Usage: "changes of the shop at given shopper-steps, as comma-separated CHANGE@STEP entries such as " +
		"favorite_color=red@30000,price=Dresses*0.8@50000; changes: " + strings.Join(simenv.DriftNames, ", ") + " (see docs/simulator.md)"}
}

// populationUsage describes the --persona value: a persona or a weighted mix of personas.
var populationUsage = "shopper persona, or a weighted mix such as cheap_blue:0.5,value_seeker:0.5; personas: " +
	strings.Join(simenv.PersonaNames, ", ")

// maxGeneratedItems bounds --items. Each session keeps three counters per item, so a
// million items already take 12 MB per simulated session.
const maxGeneratedItems = 1_000_000

// loadCatalog returns the catalog the flags select, or nil when neither --catalog nor
// --items was set and allowNone is true.
func loadCatalog(c *cli.Context, allowNone bool) (*simenv.Catalog, error) {
	if c.IsSet("catalog") && c.IsSet("items") {
		return nil, fmt.Errorf("--catalog and --items both given; use --catalog FILE for a CSV catalog or --items N for a generated one")
	}
	if path := c.String("catalog"); path != "" {
		return simenv.LoadCSV(path)
	}
	if allowNone && !c.IsSet("items") && !c.IsSet("catalog-seed") {
		return nil, nil
	}
	n := c.Int("items")
	if n < simenv.DefaultSlateSize {
		return nil, fmt.Errorf("--items %d is too small; a catalog needs at least %d items, one per slate position", n, simenv.DefaultSlateSize)
	}
	if n > maxGeneratedItems {
		return nil, fmt.Errorf("--items %d is too large; generate at most %d items, or load a catalog file with --catalog", n, maxGeneratedItems)
	}
	return simenv.Generate(n, c.Uint64("catalog-seed"))
}

// checkPositive returns an error naming the first of the integer flags whose value is
// below 1.
func checkPositive(c *cli.Context, flags ...string) error {
	for _, f := range flags {
		if v := c.Int(f); v < 1 {
			return fmt.Errorf("--%s %d is invalid; use a whole number of at least 1", f, v)
		}
	}
	return nil
}
