package experiments

import (
	"fmt"

	"github.com/simshop/simshop/rl"
	"github.com/simshop/simshop/simenv"
)

// The results study is the page of measured results: every agent of Agents against the
// baselines and the oracle on each persona, with learning curves.

func resultsUnits(opt Options) int {
	refs := len(rl.BaselineNames) + 1
	points := len(learningSteps(opt.Budget))
	return len(opt.Catalogs) * len(opt.personas()) * (refs + len(Agents)*(2*points-1))
}

// learningSteps returns the shopper-steps at which a learning curve is measured:
// max(2, Points)+1 evenly spaced steps from 0 to TrainSteps.
func learningSteps(b Budget) []int64 {
	points := int64(max(2, b.Points))
	var steps []int64
	for k := range points + 1 {
		steps = append(steps, b.TrainSteps*k/points)
	}
	return steps
}

// curveEpisodes is the number of evaluation sessions at each point of a learning curve
// before the last, a fifth of the final evaluation's, so that the curve costs about as
// much as the final evaluation per four points.
func curveEpisodes(b Budget) int { return max(2, b.Episodes/5) }

func runResults(opt Options) (*Report, error) {
	r, err := NewReport(opt.Out)
	if err != nil {
		return nil, err
	}
	r.Para("Every learning agent (%s) trained on each persona for %d shopper-steps, against the baselines and the myopic oracle, which reads the shoppers' true utilities. "+
		"Each row is evaluated on %d sessions whose shoppers training never met; rates are per slate shown, with the half-width of their 95 %% intervals (delta method). "+
		"▲ and ▼ mark a result significantly above or below the best baseline of the persona, marked • (two-sided z-test at the 5 %% level). "+
		"The learning curves evaluate the greedy policy at %d points of training on %d sessions each, and the final point on %d.",
		agentNames(), opt.Budget.TrainSteps, opt.Budget.Episodes, len(learningSteps(opt.Budget)), curveEpisodes(opt.Budget), opt.Budget.Episodes)
	for _, cat := range opt.Catalogs {
		if err := resultsSection(&opt, r, cat); err != nil {
			return nil, err
		}
	}
	return r, nil
}

func resultsSection(opt *Options, r *Report, cat Catalog) error {
	r.Heading(2, fmt.Sprintf("Catalog: %s (%d items, `%s`)", cat.Name, cat.Catalog.Len(), cat.Flags))
	var rows, data [][]string
	var panels [][]Series
	var labels []string
	for _, persona := range opt.personas() {
		shop := simenv.Config{Persona: persona}.WithDefaults()
		refs, err := referenceRecommenders(cat.Catalog, shop)
		if err != nil {
			return err
		}
		var results []rl.Result
		for _, rec := range refs {
			res, err := evaluate(opt, rec, cat.Catalog, shop, opt.Budget.Episodes)
			if err != nil {
				return err
			}
			results = append(results, res)
			opt.tick()
		}
		var curves []Series
		for _, a := range Agents {
			res, curve, err := learningCurve(opt, a, cat.Catalog, shop)
			if err != nil {
				return err
			}
			results = append(results, res)
			curves = append(curves, curve)
		}

		best := bestBaseline(results)
		for i, res := range results {
			b := results[best]
			marks := []string{
				significance(res.RewardPerStep, res.RewardPerStepCI95, b.RewardPerStep, b.RewardPerStepCI95),
				significance(res.CTR, res.CTRCI95, b.CTR, b.CTRCI95),
				significance(res.PurchaseRate, res.PurchaseRateCI95, b.PurchaseRate, b.PurchaseRateCI95),
			}
			if i == best {
				marks = []string{"•", "•", "•"}
			}
			rows = append(rows, []string{"`" + persona + "`", "`" + res.Recommender + "`",
				fmt.Sprintf("%.3f ± %.3f %s", res.RewardPerStep, res.RewardPerStepCI95, marks[0]),
				fmt.Sprintf("%.3f ± %.3f %s", res.CTR, res.CTRCI95, marks[1]),
				fmt.Sprintf("%.3f ± %.3f %s", res.PurchaseRate, res.PurchaseRateCI95, marks[2]),
				fmt.Sprintf("%.2f ± %.2f", res.ReturnMean, res.ReturnCI95),
				fmt.Sprintf("%.1f", res.SessionLength), fmt.Sprintf("%.3f", res.Coverage), fmt.Sprintf("%.3f", res.Diversity)})
			data = append(data, []string{res.Persona, res.Recommender, formatFloat(res.RewardPerStep), formatFloat(res.RewardPerStepCI95),
				formatFloat(res.CTR), formatFloat(res.CTRCI95), formatFloat(res.PurchaseRate), formatFloat(res.PurchaseRateCI95),
				formatFloat(res.ReturnMean), formatFloat(res.ReturnCI95), formatFloat(res.SessionLength),
				formatFloat(res.Coverage), formatFloat(res.Diversity), fmt.Sprint(res.Episodes)})
		}

		// The curves, with the oracle and the best baseline as flat references.
		end := float64(opt.Budget.TrainSteps)
		oracle := results[len(rl.BaselineNames)]
		panel := append(curves,
			Series{Name: "best baseline: " + results[best].Recommender, X: []float64{0, end},
				Y: []float64{results[best].RewardPerStep, results[best].RewardPerStep}},
			Series{Name: "oracle", X: []float64{0, end}, Y: []float64{oracle.RewardPerStep, oracle.RewardPerStep}, Marker: true})
		panels = append(panels, panel)
		labels = append(labels, persona+": reward/step")
	}
	if err := r.Panels("learning_curves_"+cat.Name, fmt.Sprintf("Learning curves, %s catalog: greedy reward per slate shown", cat.Name),
		"training shopper-steps", labels, panels); err != nil {
		return err
	}
	r.Para("%s", "The best baseline and the oracle (dotted) do not train; they are drawn flat at their final evaluation.")
	r.Table([]string{"persona", "recommender", "reward/step", "CTR", "purchase rate", "return", "session length", "coverage", "diversity"}, "llrrrrrrr", rows)
	return r.CSV("results_"+cat.Name, "Every figure of this table",
		[]string{"persona", "recommender", "reward_per_step", "reward_per_step_ci95", "ctr", "ctr_ci95", "purchase_rate", "purchase_rate_ci95",
			"return_mean", "return_ci95", "session_length", "coverage", "diversity", "episodes"}, data)
}

// learningCurve trains agent a on shop, evaluating its greedy policy at learningSteps, and
// returns the final evaluation and the curve.
func learningCurve(opt *Options, a Agent, cat *simenv.Catalog, shop simenv.Config) (rl.Result, Series, error) {
	l, err := a.New(cat, shop, opt.Budget, opt.Seed)
	if err != nil {
		return rl.Result{}, Series{}, err
	}
	defer l.Close()
	curve := Series{Name: a.Name}
	steps := learningSteps(opt.Budget)
	var res rl.Result
	for i, step := range steps {
		if step > 0 {
			if err := l.TrainUntil(opt.context(), step); err != nil {
				return rl.Result{}, Series{}, fmt.Errorf("experiments: train %s on %s: %w", a.Name, shop.Persona, err)
			}
			opt.tick()
		}
		episodes := curveEpisodes(opt.Budget)
		if i == len(steps)-1 {
			episodes = opt.Budget.Episodes
		}
		if res, err = evaluate(opt, named{l.Policy(), a.Name}, cat, shop, episodes); err != nil {
			return rl.Result{}, Series{}, err
		}
		curve.X, curve.Y, curve.Err = append(curve.X, float64(step)), append(curve.Y, res.RewardPerStep), append(curve.Err, res.RewardPerStepCI95)
		opt.tick()
	}
	return res, curve, nil
}
