package main

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/simshop/simshop/checkpoints"
	"github.com/simshop/simshop/rl"
	"github.com/simshop/simshop/simenv"
)

func evalFlags() []cli.Flag {
	return []cli.Flag{
		&cli.IntFlag{Name: "episodes", Usage: "evaluation sessions per recommender and persona", Value: 500},
		&cli.Uint64Flag{Name: "seed", Usage: "evaluation seed; training with the same --seed never meets these shoppers", Value: 1},
		&cli.IntFlag{Name: "envs", Usage: "sessions simulated together; results do not depend on it unless --return-prob is above 0", Value: evalSessions},
		&cli.BoolFlag{Name: "json", Usage: "print one JSON array instead of a table"},
	}
}

func evalCommand() *cli.Command {
	flags := []cli.Flag{
		&cli.StringFlag{Name: "model", Usage: "checkpoint `FILE` to evaluate, required"},
	}
	flags = append(flags, evalFlags()...)
	for _, f := range shopFlags(populationUsage) {
		// The shop settings default to the model's, which only the checkpoint records.
		switch f := f.(type) {
		case *cli.StringFlag:
			f.DefaultText = "the model's"
		case *cli.IntFlag:
			f.DefaultText = "the model's"
		case *cli.Float64Flag:
			f.DefaultText = "the model's"
		}
		flags = append(flags, f)
	}
	flags = append(flags, catalogFlags()...)
	flags = append(flags, scenarioFlags()...)
	return &cli.Command{
		Name:   "eval",
		Usage:  "evaluate a trained model; the checkpoint alone is enough",
		Flags:  flags,
		Action: runEval,
	}
}

func compareCommand() *cli.Command {
	flags := []cli.Flag{
		&cli.StringSliceFlag{Name: "model", Usage: "checkpoint `FILE` to compare with the baselines; repeat for several"},
		&cli.StringSliceFlag{Name: "reference", Usage: "also evaluate the reference recommender `NAME`, written for one persona; repeat for several (posterior: Bayesian over brand_lover's favourites; posterior-itemwise: the same, scoring items one at a time)"},
		&cli.BoolFlag{Name: "each-persona", Usage: "evaluate each persona of a mixed population separately, such as the personas a model trained on a mix must tell apart"},
	}
	flags = append(flags, evalFlags()...)
	flags = append(flags, shopFlags(populationUsage+"; or all, for each persona in turn")...)
	flags = append(flags, catalogFlags()...)
	flags = append(flags, scenarioFlags()...)
	return &cli.Command{
		Name:   "compare",
		Usage:  "evaluate the baselines and the given models side by side",
		Flags:  flags,
		Action: runCompare,
	}
}

// model is a loaded checkpoint, named for reports.
type model struct {
	name  string
	agent rl.Agent
	shop  simenv.Config
}

// namedRecommender reports a recommender under another name.
type namedRecommender struct {
	rl.Recommender
	name string
}

func (n namedRecommender) Name() string { return n.name }

// loadModel loads a checkpoint for evaluation. cat may be nil to use the embedded catalog.
func loadModel(path string, cat *simenv.Catalog) (*model, *simenv.Catalog, error) {
	f, err := checkpoints.Load(path)
	if err != nil {
		return nil, nil, err
	}
	agent, cat, err := rl.LoadAgent(f, cat)
	if err != nil {
		return nil, nil, fmt.Errorf("load model %s: %w", path, err)
	}
	agent.SetGreedy(true)
	return &model{name: agentModelName(f.Metadata.Agent, path), agent: agent, shop: f.Metadata.Shop}, cat, nil
}

// modelName names a model in reports: "dqn:RUN" for RUN/checkpoints/latest.msgpack,
// "dqn:RUN/NAME" for another RUN/checkpoints/NAME.msgpack such as best.msgpack, otherwise
// "dqn:" and the file name without its extension.
func modelName(path string) string {
	dir := filepath.Dir(path)
	name := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	if filepath.Base(dir) == "checkpoints" {
		run := filepath.Base(filepath.Dir(dir))
		if name == "latest" {
			return "dqn:" + run
		}
		return "dqn:" + run + "/" + name
	}
	return "dqn:" + name
}

// evalShop returns the shop settings for persona, a persona or population, taking reward,
// length, return probability, budget and choice model from the flags when they are set, and
// otherwise from fallback.
func evalShop(c *cli.Context, persona string, fallback simenv.Config) simenv.Config {
	shop := fallback
	shop.Persona = persona
	if c.IsSet("reward") || shop.Reward == "" {
		shop.Reward = c.String("reward")
	}
	if c.IsSet("max-steps") || shop.MaxSteps == 0 {
		shop.MaxSteps = c.Int("max-steps")
	}
	if c.IsSet("return-prob") {
		shop.ReturnProb = c.Float64("return-prob")
	}
	if c.IsSet("budget") {
		shop.Budget = c.Float64("budget")
	}
	if c.IsSet("choice-model") {
		shop.ChoiceModel = c.String("choice-model")
	}
	return shop.WithDefaults()
}

func runEval(c *cli.Context) error {
	if err := noArguments(c); err != nil {
		return err
	}
	if handled, err := runIfRecSim(c, runEvalRecSim); handled {
		return err
	}
	if c.String("model") == "" {
		return fmt.Errorf("--model FILE is required: the checkpoint to evaluate, such as --model runs/cheap_blue/checkpoints/latest.msgpack")
	}
	if err := checkPositive(c, "episodes", "envs", "max-steps"); err != nil {
		return err
	}
	cat, err := loadCatalog(c, true)
	if err != nil {
		return err
	}
	m, cat, err := loadModel(c.String("model"), cat)
	if err != nil {
		return err
	}
	persona := m.shop.Persona
	if c.IsSet("persona") {
		persona = c.String("persona")
	}
	shop := evalShop(c, persona, m.shop)
	if err := shop.Validate(cat); err != nil {
		return err
	}
	// A model trained under drift is evaluated in the shop of its last training step.
	if shop.Drift, err = simenv.FreezeDrift(shop.Drift, m.agent.TrainedSteps(), cat); err != nil {
		return err
	}
	res, err := rl.Evaluate(namedRecommender{m.agent, m.name}, cat, shop, evalOptions(c))
	if err != nil {
		return err
	}
	return report(c, []rl.Result{res})
}

func runCompare(c *cli.Context) error {
	if err := noArguments(c); err != nil {
		return err
	}
	if handled, err := runIfRecSim(c, runCompareRecSim); handled {
		return err
	}
	if err := checkPositive(c, "episodes", "envs", "max-steps"); err != nil {
		return err
	}
	cat, err := loadCatalog(c, true)
	if err != nil {
		return err
	}
	var models []*model
	for _, path := range c.StringSlice("model") {
		m, mcat, err := loadModel(path, cat)
		if err != nil {
			return err
		}
		cat = mcat // later models must match the first one's catalog
		models = append(models, m)
	}
	if cat == nil {
		if cat, err = simenv.Generate(c.Int("items"), c.Uint64("catalog-seed")); err != nil {
			return err
		}
	}

	personas := []string{c.String("persona")}
	switch {
	case !c.IsSet("persona") && len(models) > 0:
		personas = []string{models[0].shop.Persona}
	case !c.IsSet("persona"), c.String("persona") == "all":
		personas = simenv.PersonaNames
	}
	if c.Bool("each-persona") {
		if personas, err = splitPopulations(personas); err != nil {
			return err
		}
	}
	warnFlatAges(cat, personas)
	var results []rl.Result
	baselines := rl.BaselineNames
	for _, name := range c.StringSlice("reference") {
		if !slices.Contains(rl.ReferenceNames, name) {
			return fmt.Errorf("--reference %q is unknown; valid references: %s", name, strings.Join(rl.ReferenceNames, ", "))
		}
		baselines = append(slices.Clone(baselines), name)
	}
	if err := checkReferenceShop(c.StringSlice("reference"), personas, c.String("choice-model")); err != nil {
		return err
	}
	bar := newProgress("compare", "evaluations", 0, int64(len(personas)*(len(baselines)+1+len(models))))
	defer bar.finish()
	for _, persona := range personas {
		shop := evalShop(c, persona, simenv.Config{})
		if err := shop.Validate(cat); err != nil {
			return err
		}
		var recs []rl.Recommender
		for _, name := range baselines {
			b, err := rl.NewBaseline(name, cat, shop, c.Int("envs"))
			if err != nil {
				return err
			}
			recs = append(recs, b)
		}
		recs = append(recs, rl.NewOracle(cat, shop.SlateSize))
		for _, m := range models {
			if m.shop.Persona != persona && !(c.Bool("each-persona") && inPopulation(m.shop.Persona, persona)) {
				slog.Warn("model evaluated on a persona it was not trained on", "model", m.name, "trained_on", m.shop.Persona, "persona", persona)
			}
			if diff := shopDifference(m.shop.WithDefaults(), shop); diff != "" {
				slog.Warn("model evaluated in a shop other than its training shop; pass the training values to compare, or use eval, which defaults to them",
					"model", m.name, "differences", diff)
			}
			recs = append(recs, namedRecommender{m.agent, m.name})
		}
		for _, rec := range recs {
			res, err := rl.Evaluate(rec, cat, shop, evalOptions(c))
			if err != nil {
				return err
			}
			results = append(results, res)
			bar.set(int64(len(results)))
		}
	}
	return report(c, results)
}

// shopDifference lists the settings, other than the persona and drift, in which the shop
// of a comparison differs from a model's training shop, such as "budget 0.5 -> 0".
func shopDifference(trained, compared simenv.Config) string {
	var diffs []string
	add := func(name string, was, is any) {
		if was != is {
			diffs = append(diffs, fmt.Sprintf("%s %v -> %v", name, was, is))
		}
	}
	add("reward", trained.Reward, compared.Reward)
	add("max-steps", trained.MaxSteps, compared.MaxSteps)
	add("budget", trained.Budget, compared.Budget)
	add("return-prob", trained.ReturnProb, compared.ReturnProb)
	add("choice-model", trained.ChoiceModel, compared.ChoiceModel)
	return strings.Join(diffs, ", ")
}

func evalOptions(c *cli.Context) rl.EvalOptions {
	return rl.EvalOptions{Episodes: c.Int("episodes"), Seed: c.Uint64("seed"), Sessions: c.Int("envs")}
}

// report prints results as JSON or as a table.
func report(c *cli.Context, results []rl.Result) error {
	if c.Bool("json") {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(results)
	}
	printTable(os.Stdout, results)
	return nil
}

// splitPopulations returns the personas of the given populations, each once, in order.
func splitPopulations(populations []string) ([]string, error) {
	var personas []string
	for _, p := range populations {
		pop, err := simenv.ParsePopulation(p)
		if err != nil {
			return nil, err
		}
		for i, name := range pop.Personas {
			if pop.Shares[i] > 0 && !slices.Contains(personas, name) {
				personas = append(personas, name)
			}
		}
	}
	return personas, nil
}

// inPopulation reports whether persona has a share above 0 in population.
func inPopulation(population, persona string) bool {
	pop, err := simenv.ParsePopulation(population)
	if err != nil {
		return false
	}
	i := slices.Index(pop.Personas, persona)
	return i >= 0 && pop.Shares[i] > 0
}

// warnFlatAges logs when freshness_seeker shops a catalog whose items all have the same
// release age, such as a file without release_age_days. It prefers no item there, so every
// recommender ties on it.
func warnFlatAges(cat *simenv.Catalog, personas []string) {
	for _, p := range personas {
		if !inPopulation(p, simenv.FreshnessSeeker) {
			continue
		}
		for _, it := range cat.Items[1:] {
			if it.AgeDays != cat.Items[0].AgeDays {
				return
			}
		}
		slog.Warn("every item of the catalog has the same release age, so freshness_seeker prefers none of them and every recommender ties on it",
			"catalog", cat.Source)
		return
	}
}

// checkReferenceShop rejects a reference recommender in a shop it does not model: both
// posterior references assume brand_lover's utility and the multinomial logit, so elsewhere
// their figures would mean nothing.
func checkReferenceShop(references, personas []string, choiceModel string) error {
	for _, name := range references {
		for _, p := range personas {
			if p != simenv.BrandLover {
				return fmt.Errorf("--reference %s models brand_lover alone, but this comparison covers persona %q; use --persona brand_lover", name, p)
			}
		}
		if choiceModel != "" && choiceModel != simenv.ChoiceMNL {
			return fmt.Errorf("--reference %s assumes the multinomial logit, and --choice-model is %s; leave --choice-model out", name, choiceModel)
		}
	}
	return nil
}
