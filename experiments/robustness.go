package experiments

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/simshop/simshop/rl"
	"github.com/simshop/simshop/simenv"
)

// sweepSizes are the sizes, in items, of the generated catalogs of the catalog-size sweep.
var sweepSizes = []int{100, 200, 300, 1000}

// robustnessPersona is the persona of the robustness study. It has a favourite colour,
// which the preference shift changes.
const robustnessPersona = simenv.CheapBlue

func robustnessUnits(opt Options) int {
	refs := len(rl.BaselineNames) + 1
	sweep := (len(sweepSizes) + len(realCatalogs(opt))) * (refs + 2*len(Agents))
	// Per run with a change, an agent trains up to each evaluation step but the first and
	// is evaluated at each, and once more before the change: 2·len(curveSteps) units.
	perChange := 2*refs + len(Agents)*2*len(curveSteps(opt.Budget))
	drift := len(opt.Catalogs) * (1 + 2*perChange)
	return sweep + drift
}

// realCatalogs returns the catalogs of opt that were not generated.
func realCatalogs(opt Options) []Catalog {
	var out []Catalog
	for _, c := range opt.Catalogs {
		if !c.Generated {
			out = append(out, c)
		}
	}
	return out
}

func runRobustness(opt Options) (*Report, error) {
	r, err := NewReport(opt.Out)
	if err != nil {
		return nil, err
	}
	r.Heading(1, "Robustness")
	r.Para("How the recommenders cope when the catalog or the shoppers change, on persona `%s`. The first part trains and evaluates on catalogs of different sizes; the second changes the shop in the middle of a training run.", robustnessPersona)
	if err := sizeSweep(&opt, r); err != nil {
		return nil, err
	}
	r.Heading(2, "Changes in the middle of a run")
	r.Para("Each agent trains for %d shopper-steps, and the shop changes at step %d: in one run the persona's favourite colour moves, in the other the category that the oracle shows the persona most is removed from the catalog. "+
		"At %d evenly spaced steps the agent's greedy policy is evaluated on %d sessions in the shop as it is at that step; at the change it is evaluated both before and after. "+
		"The baselines and the oracle do not train, so each is evaluated once in the shop before the change and once after; their lines are flat on either side of the change, and LinUCB learns afresh within each evaluation.",
		opt.Budget.TrainSteps, changeStep(opt.Budget), max(2, opt.Budget.Points)+1, opt.Budget.Episodes)
	r.Para("*Level before* is the reward per step just before the change. *Recovery* is the number of shopper-steps after the change until the reward per step first comes back to the lower end of the 95 %% interval of the level before, measured at the evaluation points, so it is rounded up to the next point; \"none\" means not within the run. " +
		"*Lost reward* adds, over the shopper-steps from the change to the end of the run, how far the reward per step falls below the level before (trapezoidal rule between evaluation points); it is in reward units, as if every slate of the run had been shown by the greedy policy.")
	for _, cat := range opt.Catalogs {
		if err := changeSection(&opt, r, cat); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// sizeSweep trains and evaluates on generated catalogs of sweepSizes items and on every
// catalog file.
func sizeSweep(opt *Options, r *Report) error {
	var cats []Catalog
	for _, n := range sweepSizes {
		cat, err := simenv.Generate(n, opt.CatalogSeed)
		if err != nil {
			return err
		}
		cats = append(cats, Catalog{Name: fmt.Sprintf("%d items", n), Flags: fmt.Sprintf("--items %d --catalog-seed %d", n, opt.CatalogSeed), Catalog: cat, Generated: true})
	}
	for _, c := range realCatalogs(*opt) {
		c.Name = fmt.Sprintf("%s (%d items)", c.Name, c.Catalog.Len())
		cats = append(cats, c)
	}
	shop := simenv.Config{Persona: robustnessPersona}.WithDefaults()
	var all [][]rl.Result
	for _, cat := range cats {
		recs, err := referenceRecommenders(cat.Catalog, shop)
		if err != nil {
			return err
		}
		var results []rl.Result
		for _, rec := range recs {
			res, err := evaluate(opt, rec, cat.Catalog, shop, opt.Budget.Episodes)
			if err != nil {
				return err
			}
			results = append(results, res)
			opt.tick()
		}
		for _, a := range Agents {
			l, err := a.New(cat.Catalog, shop, opt.Budget, opt.Seed)
			if err != nil {
				return err
			}
			err = l.TrainUntil(opt.context(), opt.Budget.TrainSteps)
			l.Close()
			if err != nil {
				return fmt.Errorf("experiments: train %s on %s: %w", a.Name, cat.Name, err)
			}
			opt.tick()
			res, err := evaluate(opt, named{l.Policy(), a.Name}, cat.Catalog, shop, opt.Budget.Episodes)
			if err != nil {
				return err
			}
			results = append(results, res)
			opt.tick()
		}
		all = append(all, results)
	}

	r.Heading(2, "Catalog size")
	sizes := make([]string, len(sweepSizes))
	for i, n := range sweepSizes {
		sizes[i] = fmt.Sprint(n)
	}
	files := ""
	if len(opt.Catalogs) > 1 {
		files = ", and each catalog file given"
	}
	r.Para("Generated catalogs of %s and %s items (catalog seed %d)%s. Each agent trains for %d shopper-steps on each catalog; every recommender is evaluated on %d sessions.",
		strings.Join(sizes[:len(sizes)-1], ", "), sizes[len(sizes)-1], opt.CatalogSeed, files, opt.Budget.TrainSteps, opt.Budget.Episodes)
	groups := make([]string, len(cats))
	for i, c := range cats {
		groups[i] = c.Name
	}
	series := make([]Series, len(all[0]))
	var rows, data [][]string
	for i, res := range all[0] {
		series[i] = Series{Name: res.Recommender}
	}
	for j, results := range all {
		for i, res := range results {
			series[i].Y = append(series[i].Y, res.RewardPerStep)
			series[i].Err = append(series[i].Err, res.RewardPerStepCI95)
			rows = append(rows, []string{cats[j].Name, "`" + res.Recommender + "`", fmt.Sprintf("%.3f ± %.3f", res.RewardPerStep, res.RewardPerStepCI95),
				fmt.Sprintf("%.3f ± %.3f", res.CTR, res.CTRCI95), fmt.Sprintf("%.3f ± %.3f", res.PurchaseRate, res.PurchaseRateCI95), fmt.Sprintf("%.3f", res.Coverage)})
			data = append(data, []string{cats[j].Name, cats[j].Flags, res.Recommender, formatFloat(res.RewardPerStep), formatFloat(res.RewardPerStepCI95),
				formatFloat(res.CTR), formatFloat(res.CTRCI95), formatFloat(res.PurchaseRate), formatFloat(res.PurchaseRateCI95), formatFloat(res.Coverage)})
		}
	}
	if err := r.Dots("catalog_size", fmt.Sprintf("Reward per step by catalog, %s, with 95%% intervals", robustnessPersona),
		"reward per slate shown", groups, series); err != nil {
		return err
	}
	r.Table([]string{"catalog", "recommender", "reward/step", "CTR", "purchase rate", "coverage"}, "llrrrr", rows)
	return r.CSV("catalog_size_results", "Every figure of the sweep",
		[]string{"catalog", "flags", "recommender", "reward_per_step", "reward_per_step_ci95", "ctr", "ctr_ci95", "purchase_rate", "purchase_rate_ci95", "coverage"}, data)
}

// curveSteps returns the shopper-steps, in increasing order, at which an agent is
// evaluated over a run with a change: max(2, Points)+1 evenly spaced steps from 0 to
// TrainSteps, and the step of the change.
func curveSteps(b Budget) []int64 {
	points := int64(max(2, b.Points))
	steps := map[int64]bool{changeStep(b): true}
	for k := range points + 1 {
		steps[b.TrainSteps*k/points] = true
	}
	var order []int64
	for s := range steps {
		order = append(order, s)
	}
	sort.Slice(order, func(i, j int) bool { return order[i] < order[j] })
	return order
}

// changeStep returns the shopper-step of the change in the middle of a run of b.
func changeStep(b Budget) int64 {
	return simenv.DriftEffectiveStep(b.TrainSteps/2, b.Sessions)
}

// change is a scheduled change of the shop in the middle of a run.
type change struct {
	name     string // for headings and file names
	schedule string // drift schedule
}

// changesFor returns the preference shift and the catalog change of the robustness study
// on cat: the favourite colour moves from blue to the catalog's most common other colour,
// and the category that the oracle shows the persona most is removed.
func changesFor(opt *Options, cat *simenv.Catalog, shop simenv.Config) ([]change, error) {
	at := changeStep(opt.Budget)
	counts := make([]int, len(cat.Colors))
	for _, c := range cat.ColorOf {
		counts[c]++
	}
	color := -1
	for c, n := range counts {
		if cat.Colors[c] != "blue" && (color < 0 || n > counts[color]) {
			color = c
		}
	}
	oracle, err := measure(opt, rl.NewOracle(cat, shop.SlateSize), cat, shop, 0)
	if err != nil {
		return nil, err
	}
	opt.tick()
	top := 0
	for c, s := range oracle.category {
		if s > oracle.category[top] {
			top = c
		}
	}
	return []change{
		{name: "preference shift", schedule: fmt.Sprintf("favorite_color=%s@%d", cat.Colors[color], at)},
		{name: "catalog change", schedule: fmt.Sprintf("remove_category=%s@%d", cat.Categories[top], at)},
	}, nil
}

// curve is a recommender's reward per step over a run with a change.
type curve struct {
	name         string
	steps        []float64
	reward, ci95 []float64
	before       float64 // level just before the change
	beforeCI     float64
}

// afterChange returns the index of the first point of c in the shop after the change at
// step at: the last point at that step.
func (c curve) afterChange(at float64) int {
	idx := len(c.steps) - 1
	for i, x := range c.steps {
		if x == at {
			idx = i
		}
	}
	return idx
}

// recovery returns the shopper-steps from the change at step at until c first reaches the
// lower end of its level before, or -1, and the reward lost after the change.
func (c curve) recovery(at float64) (steps float64, lost float64) {
	steps = -1
	threshold := c.before - c.beforeCI
	for i := c.afterChange(at); i < len(c.steps); i++ {
		x := c.steps[i]
		if steps < 0 && c.reward[i] >= threshold {
			steps = x - at
		}
		if i+1 < len(c.steps) && c.steps[i+1] > x {
			gap0 := max(0, c.before-c.reward[i])
			gap1 := max(0, c.before-c.reward[i+1])
			lost += (gap0 + gap1) / 2 * (c.steps[i+1] - x)
		}
	}
	return steps, lost
}

func changeSection(opt *Options, r *Report, cat Catalog) error {
	shop := simenv.Config{Persona: robustnessPersona}.WithDefaults()
	changes, err := changesFor(opt, cat.Catalog, shop)
	if err != nil {
		return err
	}
	at := changeStep(opt.Budget)
	for ci, ch := range changes {
		shop := shop
		shop.Drift = ch.schedule
		if err := shop.Validate(cat.Catalog); err != nil {
			return err
		}
		if err := simenv.CheckDrift(ch.schedule, opt.Budget.TrainSteps, opt.Budget.Sessions); err != nil {
			return err
		}
		shopAt := func(step int64) (simenv.Config, error) {
			s := shop
			var err error
			s.Drift, err = simenv.FreezeDrift(shop.Drift, step, cat.Catalog)
			return s, err
		}
		beforeShop, err := shopAt(at - 1)
		if err != nil {
			return err
		}
		afterShop, err := shopAt(at)
		if err != nil {
			return err
		}

		var curves []curve
		for _, a := range Agents {
			c, err := agentCurve(opt, a, cat.Catalog, shop, at, shopAt, beforeShop)
			if err != nil {
				return err
			}
			curves = append(curves, c)
		}
		refs, err := referenceRecommenders(cat.Catalog, shop)
		if err != nil {
			return err
		}
		for _, rec := range refs {
			before, err := evaluate(opt, rec, cat.Catalog, beforeShop, opt.Budget.Episodes)
			if err != nil {
				return err
			}
			opt.tick()
			rec2, err := freshCopy(rec, cat.Catalog, shop)
			if err != nil {
				return err
			}
			after, err := evaluate(opt, rec2, cat.Catalog, afterShop, opt.Budget.Episodes)
			if err != nil {
				return err
			}
			opt.tick()
			end := float64(opt.Budget.TrainSteps)
			curves = append(curves, curve{name: rec.Name(), steps: []float64{0, float64(at), float64(at), end},
				reward:   []float64{before.RewardPerStep, before.RewardPerStep, after.RewardPerStep, after.RewardPerStep},
				ci95:     []float64{before.RewardPerStepCI95, before.RewardPerStepCI95, after.RewardPerStepCI95, after.RewardPerStepCI95},
				before:   before.RewardPerStep,
				beforeCI: before.RewardPerStepCI95})
		}
		if err := changeReport(r, cat, ch, at, curves, ci); err != nil {
			return err
		}
	}
	return nil
}

// freshCopy returns a new recommender of rec's kind, so that LinUCB starts its evaluation
// after the change without what it learnt before it.
func freshCopy(rec rl.Recommender, cat *simenv.Catalog, shop simenv.Config) (rl.Recommender, error) {
	if rec.Name() == "oracle" {
		return rl.NewOracle(cat, shop.WithDefaults().SlateSize), nil
	}
	return rl.NewBaseline(rec.Name(), cat, shop, evalSessions)
}

// agentCurve trains agent a through the change, evaluating it at evenly spaced points in
// the shop of that point, and once more at the change in the shop just before it.
func agentCurve(opt *Options, a Agent, cat *simenv.Catalog, shop simenv.Config, at int64,
	shopAt func(int64) (simenv.Config, error), beforeShop simenv.Config) (curve, error) {
	l, err := a.New(cat, shop, opt.Budget, opt.Seed)
	if err != nil {
		return curve{}, err
	}
	defer l.Close()
	order := curveSteps(opt.Budget)

	c := curve{name: a.Name, before: math.NaN()}
	for _, step := range order {
		if step > 0 {
			if err := l.TrainUntil(opt.context(), step); err != nil {
				return curve{}, fmt.Errorf("experiments: train %s: %w", a.Name, err)
			}
			opt.tick()
		}
		if step == at {
			res, err := evaluate(opt, named{l.Policy(), a.Name}, cat, beforeShop, opt.Budget.Episodes)
			if err != nil {
				return curve{}, err
			}
			c.steps, c.reward, c.ci95 = append(c.steps, float64(step)), append(c.reward, res.RewardPerStep), append(c.ci95, res.RewardPerStepCI95)
			c.before, c.beforeCI = res.RewardPerStep, res.RewardPerStepCI95
			opt.tick()
		}
		s, err := shopAt(step)
		if err != nil {
			return curve{}, err
		}
		res, err := evaluate(opt, named{l.Policy(), a.Name}, cat, s, opt.Budget.Episodes)
		if err != nil {
			return curve{}, err
		}
		c.steps, c.reward, c.ci95 = append(c.steps, float64(step)), append(c.reward, res.RewardPerStep), append(c.ci95, res.RewardPerStepCI95)
		opt.tick()
	}
	return c, nil
}

func changeReport(r *Report, cat Catalog, ch change, at int64, curves []curve, index int) error {
	r.Heading(3, fmt.Sprintf("%s, %s catalog (%d items)", capitalize(ch.name), cat.Name, cat.Catalog.Len()))
	r.Para("Drift schedule `--drift %s` on `%s`.", ch.schedule, cat.Flags)
	var series []Series
	var rows, data [][]string
	for _, c := range curves {
		series = append(series, Series{Name: c.name, X: c.steps, Y: c.reward, Err: c.ci95})
		rec, lost := c.recovery(float64(at))
		recText := "none"
		if rec >= 0 {
			recText = fmt.Sprintf("%.0f", rec)
		}
		afterIdx := c.afterChange(float64(at))
		rows = append(rows, []string{"`" + c.name + "`", fmt.Sprintf("%.3f ± %.3f", c.before, c.beforeCI),
			fmt.Sprintf("%.3f ± %.3f", c.reward[afterIdx], c.ci95[afterIdx]),
			fmt.Sprintf("%.3f ± %.3f", c.reward[len(c.reward)-1], c.ci95[len(c.ci95)-1]), recText, fmt.Sprintf("%.0f", lost)})
		for i := range c.steps {
			phase := "after"
			if c.steps[i] < float64(at) || (c.steps[i] == float64(at) && i < afterIdx) {
				phase = "before"
			}
			data = append(data, []string{c.name, formatFloat(c.steps[i]), phase, formatFloat(c.reward[i]), formatFloat(c.ci95[i])})
		}
	}
	name := fmt.Sprintf("change_%d_%s", index+1, cat.Name)
	top := 0.0
	for _, c := range curves {
		for _, v := range c.reward {
			top = max(top, v)
		}
	}
	series = append(series, Series{Name: fmt.Sprintf("change at step %d", at), X: []float64{float64(at), float64(at)}, Y: []float64{0, top}, Marker: true})
	if err := r.Lines(name, fmt.Sprintf("%s at step %d, %s catalog", capitalize(ch.name), at, cat.Name),
		"training shopper-steps", "reward per slate shown", series); err != nil {
		return err
	}
	r.Table([]string{"recommender", "level before", "just after", "end of run", "recovery (shopper-steps)", "lost reward"}, "lrrrrr", rows)
	return r.CSV(name+"_points", "Every evaluation point", []string{"recommender", "env_steps", "phase", "reward_per_step", "reward_per_step_ci95"}, data)
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}
