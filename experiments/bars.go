package experiments

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/simshop/simshop/rl"
	"github.com/simshop/simshop/simenv"
)

// The bars study measures the targets that the learning agents must reach, each as the
// ratio of an agent's figure to a reference's on the same evaluation sessions.

// barMix is the population of the mixed-population bar, a quarter of each of mixPersonas.
// They have no favourite brand, colour or category of their own, so the bar measures
// whether one model distinguishes the personas.
const barMix = "cheap_blue:0.25,value_seeker:0.25,freshness_seeker:0.25,budget_buyer:0.25"

var mixPersonas = []string{simenv.CheapBlue, simenv.ValueSeeker, simenv.FreshnessSeeker, simenv.BudgetBuyer}

// barPersonas are the personas of the per-persona bars on the generated catalog.
var barPersonas = []string{simenv.CheapBlue, simenv.ValueSeeker, simenv.BrandLover}

// barTrainLimit is the longest wall time that a training run of a bar may take.
const barTrainLimit = 5 * time.Minute

// metricReward and metricReturn name the figure that a bar compares.
const (
	metricReward = "reward/step"
	metricReturn = "return"
)

// barSpec is one bar: the agent, trained on train over Options.Catalogs[catalog] and
// evaluated on eval, must reach at least need times the reference's metric.
type barSpec struct {
	agent     string
	catalog   int
	train     string // a persona or a population
	eval      string // a persona
	reference string // "oracle" or a baseline name
	metric    string
	need      float64
}

// trainKey names a training run.
func (b barSpec) trainKey() string { return fmt.Sprintf("%s|%d|%s", b.agent, b.catalog, b.train) }

// modelKey names the evaluation of the bar's trained model.
func (b barSpec) modelKey() string { return b.trainKey() + "|" + b.eval }

// referenceKey names the evaluation of the bar's reference.
func (b barSpec) referenceKey() string {
	return fmt.Sprintf("%d|%s|%s", b.catalog, b.eval, b.reference)
}

// barSpecs returns the bars in report order. The catalogs after the first, the generated
// one, each get the bars of cheap_blue.
func barSpecs(opt Options) []barSpec {
	var bars []barSpec
	for _, p := range barPersonas {
		bars = append(bars,
			barSpec{"dqn", 0, p, p, "oracle", metricReward, 0.9},
			barSpec{"dqn", 0, p, p, "popularity", metricReward, 1.2})
	}
	for c := 1; c < len(opt.Catalogs); c++ {
		bars = append(bars,
			barSpec{"dqn", c, simenv.CheapBlue, simenv.CheapBlue, "oracle", metricReward, 0.9},
			barSpec{"dqn", c, simenv.CheapBlue, simenv.CheapBlue, "popularity", metricReward, 1.2})
	}
	bars = append(bars, barSpec{"dqn", 0, simenv.ImpulseBuyer, simenv.ImpulseBuyer, "oracle", metricReturn, 1.05})
	for _, p := range barPersonas {
		bars = append(bars, barSpec{"reinforce", 0, p, p, "popularity", metricReward, 1.2})
	}
	for _, p := range mixPersonas {
		bars = append(bars, barSpec{"dqn", 0, barMix, p, "oracle", metricReward, 0.8})
	}
	return bars
}

// barRun is a trained agent, the wall and CPU time its training took, and its checkpoint.
type barRun struct {
	learner   Learner
	policy    rl.Recommender
	wall, cpu time.Duration
	label     string
	path      string // the checkpoint file, written once every bar is measured
}

// barUnits counts one unit per training run and one per evaluation.
func barUnits(opt Options) int {
	runs, evals, refs := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, b := range barSpecs(opt) {
		runs[b.trainKey()] = true
		evals[b.modelKey()] = true
		refs[b.referenceKey()] = true
	}
	return len(runs) + len(evals) + len(refs) + 2 // and the two posteriors on brand_lover
}

func runBars(opt Options) (*Report, error) {
	r, err := NewReport(opt.Out)
	if err != nil {
		return nil, err
	}
	if !opt.Catalogs[0].Generated {
		return nil, fmt.Errorf("experiments: the bars study needs the generated catalog as the first catalog, not %q; put it first, as the experiment command does", opt.Catalogs[0].Name)
	}
	bars := barSpecs(opt)
	runs := map[string]*barRun{}
	results := map[string]rl.Result{} // keyed by evaluation
	var order []string                // training runs in the order they ran

	for _, b := range bars {
		cat := opt.Catalogs[b.catalog]
		if runs[b.trainKey()] == nil {
			run, err := trainBarRun(&opt, b, cat)
			if err != nil {
				return nil, err
			}
			runs[b.trainKey()] = run
			order = append(order, b.trainKey())
		}
		shop := simenv.Config{Persona: b.eval}.WithDefaults()
		if _, ok := results[b.modelKey()]; !ok {
			res, err := evaluate(&opt, runs[b.trainKey()].policy, cat.Catalog, shop, opt.Budget.Episodes)
			if err != nil {
				return nil, err
			}
			results[b.modelKey()] = res
			opt.tick()
		}
		if _, ok := results[b.referenceKey()]; !ok {
			ref, err := barReference(b.reference, cat.Catalog, shop)
			if err != nil {
				return nil, err
			}
			res, err := evaluate(&opt, ref, cat.Catalog, shop, opt.Budget.Episodes)
			if err != nil {
				return nil, err
			}
			results[b.referenceKey()] = res
			opt.tick()
		}
	}

	// The Bayesian reference that reads no favourites, as the ceiling of brand_lover's bar.
	brandShop := simenv.Config{Persona: simenv.BrandLover}.WithDefaults()
	gen := opt.Catalogs[0].Catalog
	posterior, err := evaluate(&opt, rl.NewPosterior(gen, brandShop.SlateSize, brandShop.Reward), gen, brandShop, opt.Budget.Episodes)
	if err != nil {
		return nil, err
	}
	opt.tick()
	itemWise, err := evaluate(&opt, rl.NewItemWisePosterior(gen, brandShop.SlateSize, brandShop.Reward), gen, brandShop, opt.Budget.Episodes)
	if err != nil {
		return nil, err
	}
	opt.tick()

	r.Heading(1, "Bars")
	r.Para("Each bar compares a learning agent, trained with the default hyperparameters for %d shopper-steps, with a reference on the same %d evaluation sessions, whose shoppers training never met. "+
		"The figure is the reward per slate shown or the mean session return, with the half-width of its 95 %% interval. "+
		"The ratio's interval adds the two relative half-widths in quadrature, which treats the two evaluations as independent. "+
		"A bar is met when the ratio itself is at least the bar.",
		opt.Budget.TrainSteps, opt.Budget.Episodes)

	var rows, data [][]string
	var groups []string
	measured := Series{Name: "model / oracle"}
	needed := Series{Name: "bar", Reference: true}
	met := 0
	var unplotted []string // bars whose oracle figure is 0, so their ratio has no point to plot
	for _, b := range bars {
		run := runs[b.trainKey()]
		model := results[b.modelKey()]
		ref := results[b.referenceKey()]
		m, mci := barFigure(model, b.metric)
		x, xci := barFigure(ref, b.metric)
		ratio, ratioCI := ratioInterval(m, mci, x, xci)
		ok := ratio >= b.need
		if ok {
			met++
		}
		setting := fmt.Sprintf("`%s`, %s catalog", b.eval, opt.Catalogs[b.catalog].Name)
		if b.train != b.eval {
			setting = fmt.Sprintf("`%s` of the mix, %s catalog", b.eval, opt.Catalogs[b.catalog].Name)
		}
		rows = append(rows, []string{
			fmt.Sprintf("%s ≥ %.2f × %s", b.agent, b.need, b.reference), setting, b.metric,
			fmt.Sprintf("%.3f ± %.3f", m, mci), fmt.Sprintf("%.3f ± %.3f", x, xci),
			fmt.Sprintf("%.3f ± %.3f", ratio, ratioCI), yesNo(ok)})
		data = append(data, []string{b.agent, run.label, b.eval, opt.Catalogs[b.catalog].Name, b.reference, b.metric,
			formatFloat(m), formatFloat(mci), formatFloat(x), formatFloat(xci), formatFloat(ratio), formatFloat(ratioCI),
			formatFloat(b.need), fmt.Sprint(ok)})
		// The plot shows the bars against the oracle, whose ratios lie near 1. The bars
		// against popularity, at ratios of 1.5 to 25, would flatten them.
		if b.reference != "oracle" {
			continue
		}
		group := b.agent + " " + b.eval
		if b.train != b.eval {
			group += " (mix)"
		}
		if b.catalog > 0 {
			group += ", " + opt.Catalogs[b.catalog].Name
		}
		if math.IsInf(ratio, 0) || math.IsNaN(ratio) {
			unplotted = append(unplotted, group)
			continue
		}
		if math.IsNaN(ratioCI) {
			ratioCI = 0
		}
		groups = append(groups, group)
		measured.Y, measured.Err = append(measured.Y, ratio), append(measured.Err, ratioCI)
		needed.Y = append(needed.Y, b.need)
	}
	r.Para("%d of %d bars met.", met, len(bars))
	r.Table([]string{"bar", "evaluated on", "figure", "model", "reference", "model / reference", "met"}, "lllrrrl", rows)
	if err := r.CSV("bars", "Every bar, with its figures", []string{"agent", "trained_on", "persona", "catalog", "reference", "metric",
		"model", "model_ci95", "reference_value", "reference_ci95", "ratio", "ratio_ci95", "bar", "met"}, data); err != nil {
		return nil, err
	}
	if err := r.Dots("ratios", "Bars against the oracle: the model's figure over the oracle's, with its 95% interval, and the bar",
		"model / oracle", groups, []Series{measured, needed}); err != nil {
		return nil, err
	}
	if len(unplotted) > 0 {
		r.Para("The plot leaves out %s, because the oracle's figure is 0.", strings.Join(unplotted, ", "))
	}

	brandBar := barSpec{agent: "dqn", train: simenv.BrandLover, eval: simenv.BrandLover, reference: "oracle"}
	oracle, brandDQN := results[brandBar.referenceKey()], results[brandBar.modelKey()]
	r.Para("On `brand_lover` every shopper has a favourite brand and colour that only the oracle reads. "+
		"The `posterior` reference keeps the exact Bayesian posterior over them from the session's slates and clicks, under the persona's documented model, and shows the slate of highest expected reward. "+
		"It reaches %.3f ± %.3f per slate, %.2f times the oracle's %.3f, so a bar above that ratio asks more than the clicks of a session tell. "+
		"With the same posterior, `posterior-itemwise` shows the items of highest expected reward each alone, as a recommender that scores items one at a time does. "+
		"It reaches %.3f ± %.3f (%.2f times the oracle), against the DQN's %.3f.",
		posterior.RewardPerStep, posterior.RewardPerStepCI95, posterior.RewardPerStep/oracle.RewardPerStep, oracle.RewardPerStep,
		itemWise.RewardPerStep, itemWise.RewardPerStepCI95, itemWise.RewardPerStep/oracle.RewardPerStep, brandDQN.RewardPerStep)

	// Save the models only now, so that a failed or interrupted study leaves the models of
	// the last complete one in place.
	for _, key := range order {
		run := runs[key]
		if err := os.MkdirAll(filepath.Dir(run.path), 0o755); err != nil {
			return nil, fmt.Errorf("experiments: create checkpoint folder: %w", err)
		}
		if err := run.learner.Save(run.path); err != nil {
			return nil, err
		}
	}

	r.Heading(2, "Training runs")
	var timeRows [][]string
	for _, key := range order {
		run := runs[key]
		timeRows = append(timeRows, []string{run.label, fmt.Sprintf("%.1f s", run.wall.Seconds()),
			fmt.Sprintf("%.1f s", run.cpu.Seconds()), yesNo(run.wall <= barTrainLimit)})
	}
	r.Para("Each training run must end within %.0f minutes of wall time on 2 cores. CPU time is the user plus system time of the whole process during the run. "+
		"The mix is `%s`. Each model is saved as `%s`, which `compare --model` and `eval --model` read.",
		barTrainLimit.Minutes(), barMix, filepath.Join(opt.Work, "CATALOG", "AGENT_PERSONA.msgpack"))
	r.Table([]string{"run", "wall time", "CPU time", fmt.Sprintf("within %.0f minutes", barTrainLimit.Minutes())}, "lrrl", timeRows)
	return r, nil
}

// trainBarRun trains the agent of bar b on cat and reports one unit of work.
func trainBarRun(opt *Options, b barSpec, cat Catalog) (*barRun, error) {
	i := slices.IndexFunc(Agents, func(a Agent) bool { return a.Name == b.agent })
	if i < 0 {
		return nil, fmt.Errorf("experiments: bar names unknown agent %q", b.agent)
	}
	shop := simenv.Config{Persona: b.train}.WithDefaults()
	l, err := Agents[i].New(cat.Catalog, shop, opt.Budget, opt.Seed)
	if err != nil {
		return nil, err
	}
	defer l.Close()
	start, cpuStart := time.Now(), cpuTime()
	if err := l.TrainUntil(opt.context(), opt.Budget.TrainSteps); err != nil {
		return nil, fmt.Errorf("experiments: train %s on %s: %w", b.agent, b.train, err)
	}
	trainedOn, file := "`"+b.train+"`", b.train
	if b.train == barMix {
		trainedOn, file = "the mix", "mix"
	}
	run := &barRun{learner: l, policy: named{l.Policy(), b.agent}, wall: time.Since(start), cpu: cpuTime() - cpuStart,
		label: fmt.Sprintf("%s on %s, %s catalog", b.agent, trainedOn, cat.Name),
		path:  filepath.Join(opt.Work, cat.Name, b.agent+"_"+file+".msgpack")}
	opt.tick()
	return run, nil
}

// barReference returns the reference recommender of a bar.
func barReference(name string, cat *simenv.Catalog, shop simenv.Config) (rl.Recommender, error) {
	if name == "oracle" {
		return rl.NewOracle(cat, shop.SlateSize), nil
	}
	return rl.NewBaseline(name, cat, shop, evalSessions)
}

// barFigure returns the figure of res that metric names, with its interval half-width.
func barFigure(res rl.Result, metric string) (float64, float64) {
	if metric == metricReturn {
		return res.ReturnMean, res.ReturnCI95
	}
	return res.RewardPerStep, res.RewardPerStepCI95
}

// ratioInterval returns m/x and the half-width of its 95 % interval by the delta method,
// from the half-widths mci and xci of two independent estimates. When m or x is 0, the
// half-width is NaN, and a reference of 0 gives an infinite ratio, or NaN when m is 0 too.
func ratioInterval(m, mci, x, xci float64) (float64, float64) {
	ratio := m / x
	if x == 0 || m == 0 {
		return ratio, math.NaN()
	}
	return ratio, math.Abs(ratio) * math.Hypot(mci/m, xci/x)
}

func yesNo(ok bool) string {
	if ok {
		return "yes"
	}
	return "**no**"
}
