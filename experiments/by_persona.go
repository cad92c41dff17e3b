package experiments

import (
	"fmt"
	"math"
	"slices"

	"github.com/simshop/simshop/rl"
	"github.com/simshop/simshop/simenv"
)

// byPersonaUnits counts one unit per evaluated recommender and one per training run.
func byPersonaUnits(opt Options) int {
	refs := len(rl.BaselineNames) + 1
	return len(opt.Catalogs) * len(opt.personas()) * (refs + 2*len(Agents))
}

// evaluatePersonas trains every agent on every persona of cat and evaluates it with the
// baselines and the oracle. The results are grouped by persona, in the order of
// opt.personas(), with the baselines first, then the oracle, then the agents.
func evaluatePersonas(opt *Options, cat Catalog) ([][]rl.Result, error) {
	var all [][]rl.Result
	for _, persona := range opt.personas() {
		shop := simenv.Config{Persona: persona}.WithDefaults()
		if err := shop.Validate(cat.Catalog); err != nil {
			return nil, err
		}
		refs, err := referenceRecommenders(cat.Catalog, shop)
		if err != nil {
			return nil, err
		}
		var results []rl.Result
		for _, rec := range refs {
			res, err := evaluate(opt, rec, cat.Catalog, shop, opt.Budget.Episodes)
			if err != nil {
				return nil, err
			}
			results = append(results, res)
			opt.tick()
		}
		for _, a := range Agents {
			l, err := a.New(cat.Catalog, shop, opt.Budget, opt.Seed)
			if err != nil {
				return nil, err
			}
			err = l.TrainUntil(opt.context(), opt.Budget.TrainSteps)
			l.Close()
			if err != nil {
				return nil, fmt.Errorf("experiments: train %s on %s: %w", a.Name, persona, err)
			}
			opt.tick()
			res, err := evaluate(opt, named{l.Policy(), a.Name}, cat.Catalog, shop, opt.Budget.Episodes)
			if err != nil {
				return nil, err
			}
			results = append(results, res)
			opt.tick()
		}
		all = append(all, results)
	}
	return all, nil
}

// bestBaseline returns the index in results of the baseline of highest reward per step.
func bestBaseline(results []rl.Result) int {
	best := -1
	for i, r := range results {
		if !slices.Contains(rl.BaselineNames, r.Recommender) {
			continue
		}
		if best < 0 || r.RewardPerStep > results[best].RewardPerStep {
			best = i
		}
	}
	return best
}

// significance returns "▲" when the estimate x ± ciX is significantly above y ± ciY at the
// 5 % level, "▼" when significantly below, and "" otherwise. The test is the two-sided
// z-test of the difference with the standard errors ci/1.96 added in quadrature, which
// treats the two evaluations as independent. They share their shoppers' seeds, so the
// test is conservative when the two results are positively correlated.
func significance(x, ciX, y, ciY float64) string {
	se := math.Hypot(ciX, ciY) / 1.96
	if se == 0 {
		return ""
	}
	switch z := (x - y) / se; {
	case z > 1.96:
		return "▲"
	case z < -1.96:
		return "▼"
	}
	return ""
}

func runByPersona(opt Options) (*Report, error) {
	r, err := NewReport(opt.Out)
	if err != nil {
		return nil, err
	}
	r.Heading(1, "Recommenders by persona")
	r.Para("Every recommender against every persona: the rule-based baselines (random, popularity, filtered), the LinUCB bandit, the myopic oracle, which reads the shoppers' true utilities, and the learning agents (%s), each trained on the persona alone for %d shopper-steps. "+
		"A result is the reward per slate shown, averaged over %d evaluation sessions whose shoppers training never met. "+
		"The best baseline of a persona is the one of random, popularity, filtered and linucb with the highest reward per step; it is marked •. "+
		"▲ and ▼ mark a result significantly above or below the best baseline in the same column (two-sided z-test at the 5 %% level on the 95 %% intervals). "+
		"The evaluations share their shoppers' seeds, so the test, which treats them as independent, is conservative.",
		agentNames(), opt.Budget.TrainSteps, opt.Budget.Episodes)
	for _, cat := range opt.Catalogs {
		all, err := evaluatePersonas(&opt, cat)
		if err != nil {
			return nil, err
		}
		if err := byPersonaSection(r, cat, opt.personas(), all); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// byPersonaSection writes the heatmap, the interval plot and the tables of one catalog.
func byPersonaSection(r *Report, cat Catalog, personas []string, all [][]rl.Result) error {
	r.Heading(2, fmt.Sprintf("Catalog: %s (%d items, `%s`)", cat.Name, cat.Catalog.Len(), cat.Flags))
	recs := make([]string, len(all[0]))
	for i, res := range all[0] {
		recs[i] = res.Recommender
	}
	value := make([][]float64, len(recs))
	shade := make([][]float64, len(recs))
	label := make([][]string, len(recs))
	for i := range recs {
		value[i] = make([]float64, len(personas))
		shade[i] = make([]float64, len(personas))
		label[i] = make([]string, len(personas))
	}
	var rows [][]string
	for j, results := range all {
		best := bestBaseline(results)
		top := math.Inf(-1)
		for _, res := range results {
			top = max(top, res.RewardPerStep)
		}
		for i, res := range results {
			value[i][j] = res.RewardPerStep
			shade[i][j] = math.NaN()
			if top > 0 {
				shade[i][j] = max(0, res.RewardPerStep/top)
			}
			b := results[best]
			mark := significance(res.RewardPerStep, res.RewardPerStepCI95, b.RewardPerStep, b.RewardPerStepCI95)
			markCTR := significance(res.CTR, res.CTRCI95, b.CTR, b.CTRCI95)
			markBuy := significance(res.PurchaseRate, res.PurchaseRateCI95, b.PurchaseRate, b.PurchaseRateCI95)
			if i == best {
				mark, markCTR, markBuy = "•", "•", "•"
			}
			label[i][j] = fmt.Sprintf("%.2f%s", res.RewardPerStep, mark)
			rows = append(rows, []string{personas[j], "`" + res.Recommender + "`",
				fmt.Sprintf("%.3f ± %.3f %s", res.RewardPerStep, res.RewardPerStepCI95, mark),
				fmt.Sprintf("%.3f ± %.3f %s", res.CTR, res.CTRCI95, markCTR),
				fmt.Sprintf("%.3f ± %.3f %s", res.PurchaseRate, res.PurchaseRateCI95, markBuy),
				fmt.Sprintf("%.1f", res.SessionLength),
			})
		}
	}
	name := "heatmap_" + cat.Name
	if err := r.Heatmap(name, fmt.Sprintf("Reward per step (reward units per slate shown), %s catalog", cat.Name),
		"persona", "recommender", "share of the column's best", recs, personas, value, shade, label); err != nil {
		return err
	}
	r.Para("%s", "Each cell shows the reward per step; its colour is that value as a share of the best recommender’s for the persona, so columns compare within themselves.")

	series := make([]Series, len(recs))
	for i, rec := range recs {
		series[i] = Series{Name: rec, Y: make([]float64, len(personas)), Err: make([]float64, len(personas))}
		for j := range personas {
			series[i].Y[j] = all[j][i].RewardPerStep
			series[i].Err[j] = all[j][i].RewardPerStepCI95
		}
	}
	if err := r.Dots("reward_"+cat.Name, fmt.Sprintf("Reward per step with 95%% intervals, %s catalog", cat.Name),
		"reward per slate shown", personas, series); err != nil {
		return err
	}

	r.Heading(3, "Table")
	r.Para("Rates are per slate shown, each with the half-width of its 95 %% interval (delta method).")
	r.Table([]string{"persona", "recommender", "reward/step", "CTR", "purchase rate", "session length (slates)"}, "llrrrr", rows)
	var data [][]string
	for _, results := range all {
		for _, res := range results {
			data = append(data, []string{res.Persona, res.Recommender, formatFloat(res.RewardPerStep), formatFloat(res.RewardPerStepCI95),
				formatFloat(res.CTR), formatFloat(res.CTRCI95), formatFloat(res.PurchaseRate), formatFloat(res.PurchaseRateCI95),
				formatFloat(res.ReturnMean), formatFloat(res.ReturnCI95), formatFloat(res.SessionLength),
				formatFloat(res.Coverage), formatFloat(res.Diversity), fmt.Sprint(res.Episodes)})
		}
	}
	return r.CSV("results_"+cat.Name, "Every figure of this table, with return, coverage and diversity",
		[]string{"persona", "recommender", "reward_per_step", "reward_per_step_ci95", "ctr", "ctr_ci95", "purchase_rate", "purchase_rate_ci95",
			"return_mean", "return_ci95", "session_length", "coverage", "diversity", "episodes"}, data)
}

func agentNames() string {
	s := ""
	for i, a := range Agents {
		if i > 0 {
			s += ", "
		}
		s += a.Name
	}
	return s
}
