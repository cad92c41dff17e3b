package experiments

import (
	"fmt"
	"math"
	"path/filepath"
	"sort"

	"github.com/simshop/simshop/rl"
	"github.com/simshop/simshop/simenv"
)

// probe wraps a recommender and counts what it shows to sessions that are still running:
// items, categories, colours and price bands, and the mean Q-value of the shown items when
// the recommender is a DQN. REINFORCE's item scores are logits, not values, so they are not
// averaged.
type probe struct {
	rl.Recommender
	cat   *simenv.Catalog
	bands []int // price band of each item: 0 cheap, 1 middle, 2 expensive

	items, category, color []float64
	band                   [3]float64
	qSum, qCount           float64
}

// priceBandNames name the thirds of the catalog by price.
var priceBandNames = []string{"cheap third", "middle third", "expensive third"}

func newProbe(rec rl.Recommender, cat *simenv.Catalog) *probe {
	return &probe{Recommender: rec, cat: cat, bands: priceBands(cat),
		items: make([]float64, cat.Len()), category: make([]float64, len(cat.Categories)), color: make([]float64, len(cat.Colors))}
}

// priceBands splits the catalog's items into thirds by price; ties go to the lower band.
func priceBands(cat *simenv.Catalog) []int {
	prices := make([]float64, cat.Len())
	for i, it := range cat.Items {
		prices[i] = it.Price
	}
	sorted := append([]float64(nil), prices...)
	sort.Float64s(sorted)
	low, high := sorted[len(sorted)/3], sorted[2*len(sorted)/3]
	bands := make([]int, len(prices))
	for i, p := range prices {
		switch {
		case p <= low:
			bands[i] = 0
		case p <= high:
			bands[i] = 1
		default:
			bands[i] = 2
		}
	}
	return bands
}

func (p *probe) Recommend(env *simenv.VecEnv, slates []int32) error {
	if err := p.Recommender.Recommend(env, slates); err != nil {
		return err
	}
	var q []float32
	if d, ok := p.Recommender.(*rl.DQN); ok {
		var err error
		if q, err = d.Scores(env); err != nil {
			return err
		}
	}
	n, m := env.NumSessions(), p.cat.Len()
	k := len(slates) / n
	for s := range n {
		if env.SessionDone(s) {
			continue
		}
		for _, item := range slates[s*k : (s+1)*k] {
			p.items[item]++
			p.category[p.cat.CategoryOf[item]]++
			p.color[p.cat.ColorOf[item]]++
			p.band[p.bands[item]]++
			if q != nil {
				p.qSum += float64(q[s*m+int(item)])
				p.qCount++
			}
		}
	}
	return nil
}

func (p *probe) Learn(out *simenv.StepResult) {
	if l, ok := p.Recommender.(rl.OnlineLearner); ok {
		l.Learn(out)
	}
}

// shares returns counts divided by their sum.
func shares(counts []float64) []float64 {
	var sum float64
	for _, c := range counts {
		sum += c
	}
	out := make([]float64, len(counts))
	for i, c := range counts {
		if sum > 0 {
			out[i] = c / sum
		}
	}
	return out
}

// totalVariation returns ½·Σ|p_i − q_i|, the total variation distance of two
// distributions: 0 when equal, 1 when disjoint.
func totalVariation(p, q []float64) float64 {
	var d float64
	for i := range p {
		d += math.Abs(p[i] - q[i])
	}
	return d / 2
}

// behaviourUnits counts, per catalog and persona, one unit per training segment and per
// measured checkpoint, and one for the oracle.
func behaviourUnits(opt Options) int {
	c := opt.Budget.Checkpoints
	return len(opt.Catalogs) * len(opt.personas()) * (1 + len(Agents)*(c+c+1))
}

// checkpointSteps returns the shopper-steps at which a run of b is measured: 0 and
// Checkpoints evenly spaced steps up to TrainSteps.
func checkpointSteps(b Budget) []int64 {
	c := max(1, b.Checkpoints)
	steps := []int64{0}
	for k := 1; k <= c; k++ {
		steps = append(steps, b.TrainSteps*int64(k)/int64(c))
	}
	return steps
}

// snapshot holds the shares and figures that a probe measured at one checkpoint.
type snapshot struct {
	step                   int64
	category, color, band  []float64 // shares
	items                  []float64 // shares
	meanQ                  float64   // NaN when the agent does not score items
	rewardPerStep, rewardC float64
}

func snapshotOf(p *probe, step int64, res rl.Result) snapshot {
	s := snapshot{step: step, category: shares(p.category), color: shares(p.color), band: shares(p.band[:]),
		items: shares(p.items), meanQ: math.NaN(), rewardPerStep: res.RewardPerStep, rewardC: res.RewardPerStepCI95}
	if p.qCount > 0 {
		s.meanQ = p.qSum / p.qCount
	}
	return s
}

// measure evaluates rec on shop with a probe and returns its snapshot.
func measure(opt *Options, rec rl.Recommender, cat *simenv.Catalog, shop simenv.Config, step int64) (snapshot, error) {
	p := newProbe(rec, cat)
	res, err := evaluate(opt, named{p, rec.Name()}, cat, shop, opt.Budget.Episodes)
	if err != nil {
		return snapshot{}, err
	}
	return snapshotOf(p, step, res), nil
}

// trainCheckpoints trains agent a on shop, saving a checkpoint at each of steps under dir,
// and returns the checkpoint paths.
func trainCheckpoints(opt *Options, a Agent, cat *simenv.Catalog, shop simenv.Config, steps []int64, dir string) ([]string, error) {
	l, err := a.New(cat, shop, opt.Budget, opt.Seed)
	if err != nil {
		return nil, err
	}
	defer l.Close()
	var paths []string
	for _, step := range steps {
		if step > 0 {
			if err := l.TrainUntil(opt.context(), step); err != nil {
				return nil, fmt.Errorf("experiments: train %s on %s: %w", a.Name, shop.Persona, err)
			}
			opt.tick()
		}
		path := filepath.Join(dir, fmt.Sprintf("step-%d.msgpack", step))
		if err := l.Save(path); err != nil {
			return nil, err
		}
		paths = append(paths, path)
	}
	return paths, nil
}

func runBehaviour(opt Options) (*Report, error) {
	r, err := NewReport(opt.Out)
	if err != nil {
		return nil, err
	}
	steps := checkpointSteps(opt.Budget)
	r.Heading(1, "Behaviour over training")
	r.Para("How each learning agent's recommendations change while it trains. Each agent is trained on one persona and saved at %d checkpoints, from its initial weights to the end of training; each checkpoint is then loaded and its greedy policy evaluated on %d sessions whose shoppers training never met. "+
		"The plots show which categories, colours and price bands it shows, as shares of all items shown, against what the persona truly prefers: the shares in the slates of the oracle, which reads the shoppers' true utilities and shows the slate of highest expected reward. "+
		"Price bands are the thirds of the catalog by price. For readability each panel draws the three values the oracle shows most and groups the rest as \"other\"; the CSV files hold every value.",
		len(steps), opt.Budget.Episodes)
	for _, cat := range opt.Catalogs {
		if err := behaviourSection(&opt, r, cat, steps); err != nil {
			return nil, err
		}
	}
	return r, nil
}

func behaviourSection(opt *Options, r *Report, cat Catalog, steps []int64) error {
	r.Heading(2, fmt.Sprintf("Catalog: %s (%d items, `%s`)", cat.Name, cat.Catalog.Len(), cat.Flags))
	type run struct {
		persona, agent string
		snaps          []snapshot
	}
	var runs []run
	for _, persona := range opt.personas() {
		shop := simenv.Config{Persona: persona}.WithDefaults()
		oracle, err := measure(opt, rl.NewOracle(cat.Catalog, shop.SlateSize), cat.Catalog, shop, 0)
		if err != nil {
			return err
		}
		opt.tick()
		for _, a := range Agents {
			dir := filepath.Join(opt.Work, cat.Name, persona, a.Name)
			paths, err := trainCheckpoints(opt, a, cat.Catalog, shop, steps, dir)
			if err != nil {
				return err
			}
			var snaps []snapshot
			for i, path := range paths {
				policy, err := a.Load(path, cat.Catalog)
				if err != nil {
					return err
				}
				s, err := measure(opt, policy, cat.Catalog, shop, steps[i])
				if err != nil {
					return err
				}
				snaps = append(snaps, s)
				opt.tick()
			}
			runs = append(runs, run{persona: persona, agent: a.Name, snaps: snaps})
			name := fmt.Sprintf("shares_%s_%s_%s", cat.Name, persona, a.Name)
			title := fmt.Sprintf("%s on %s, %s catalog: share of items shown", a.Name, persona, cat.Name)
			if err := sharePanels(r, name, title, cat.Catalog, snaps, oracle); err != nil {
				return err
			}
		}
	}

	r.Heading(3, "Values, reward and slate drift")
	var reward, meanQ, drift []Series
	var rows [][]string
	for _, run := range runs {
		label := run.agent + " on " + run.persona
		rs := Series{Name: label}
		qs := Series{Name: label}
		ds := Series{Name: label}
		for i, s := range run.snaps {
			rs.X, rs.Y, rs.Err = append(rs.X, float64(s.step)), append(rs.Y, s.rewardPerStep), append(rs.Err, s.rewardC)
			if !math.IsNaN(s.meanQ) {
				qs.X, qs.Y = append(qs.X, float64(s.step)), append(qs.Y, s.meanQ)
			}
			d := math.NaN()
			if i > 0 {
				d = totalVariation(run.snaps[i-1].items, s.items)
				ds.X, ds.Y = append(ds.X, float64(s.step)), append(ds.Y, d)
			}
			rows = append(rows, []string{run.persona, run.agent, fmt.Sprint(s.step), formatFloat(s.rewardPerStep), formatFloat(s.rewardC), formatFloat(s.meanQ), formatFloat(d)})
		}
		reward, drift = append(reward, rs), append(drift, ds)
		if len(qs.X) > 0 {
			meanQ = append(meanQ, qs)
		}
	}
	if err := r.Lines("reward_"+cat.Name, fmt.Sprintf("Reward per step at each checkpoint, %s catalog", cat.Name),
		"training shopper-steps", "reward per slate shown", reward); err != nil {
		return err
	}
	if len(meanQ) > 0 {
		if err := r.Lines("mean_q_"+cat.Name, fmt.Sprintf("Mean Q-value of the items shown, %s catalog", cat.Name),
			"training shopper-steps", "mean Q(s, item) (reward units)", meanQ); err != nil {
			return err
		}
		r.Para("The mean Q-value is the network's estimate for the items it shows, averaged over every slate of the evaluation. Its rise tracks the value the agent expects; a value far above the measured return per slate would signal overestimation.")
	}
	if err := r.Lines("slate_drift_"+cat.Name, fmt.Sprintf("Slate drift between checkpoints, %s catalog", cat.Name),
		"training shopper-steps", "total variation distance", drift); err != nil {
		return err
	}
	r.Para("Slate drift at a checkpoint is the total variation distance between the item distributions shown at that checkpoint and at the one before: ½·Σ|p_i − q_i| over items, 0 for the same mix of items and 1 for disjoint ones. It falls as the policy settles.")
	return r.CSV("checkpoints_"+cat.Name, "Reward, mean Q-value and slate drift at every checkpoint",
		[]string{"persona", "agent", "env_steps", "reward_per_step", "reward_per_step_ci95", "mean_q", "slate_drift"}, rows)
}

// sharePanels adds a figure of three panels, category, colour and price band, with the
// agent's shares over training as solid lines and the oracle's as dashed lines.
func sharePanels(r *Report, name, title string, cat *simenv.Catalog, snaps []snapshot, oracle snapshot) error {
	attrs := []struct {
		label  string
		values []string
		get    func(snapshot) []float64
	}{
		{"category share", cat.Categories, func(s snapshot) []float64 { return s.category }},
		{"colour share", cat.Colors, func(s snapshot) []float64 { return s.color }},
		{"price band share", priceBandNames, func(s snapshot) []float64 { return s.band }},
	}
	var panels [][]Series
	var labels []string
	for _, attr := range attrs {
		truth := attr.get(oracle)
		order := make([]int, len(truth))
		for i := range order {
			order[i] = i
		}
		sort.SliceStable(order, func(a, b int) bool { return truth[order[a]] > truth[order[b]] })
		shown := order[:min(3, len(order))]
		var series, refs []Series
		for _, v := range shown {
			s := Series{Name: attr.values[v]}
			for _, snap := range snaps {
				s.X, s.Y = append(s.X, float64(snap.step)), append(s.Y, attr.get(snap)[v])
			}
			series = append(series, s)
			refs = append(refs, Series{Name: attr.values[v] + " (oracle)", Reference: true, X: []float64{s.X[0], s.X[len(s.X)-1]}, Y: []float64{truth[v], truth[v]}})
		}
		if len(order) > len(shown) {
			s := Series{Name: "other"}
			var rest float64
			for _, v := range order[len(shown):] {
				rest += truth[v]
			}
			for _, snap := range snaps {
				var sum float64
				for _, v := range order[len(shown):] {
					sum += attr.get(snap)[v]
				}
				s.X, s.Y = append(s.X, float64(snap.step)), append(s.Y, sum)
			}
			series = append(series, s)
			refs = append(refs, Series{Name: "other (oracle)", Reference: true, X: []float64{s.X[0], s.X[len(s.X)-1]}, Y: []float64{rest, rest}})
		}
		panels = append(panels, append(series, refs...))
		labels = append(labels, attr.label)
	}
	if err := r.Panels(name, title, "training shopper-steps", labels, panels); err != nil {
		return err
	}

	// Every value of every attribute, which the panels group.
	var rows [][]string
	for _, attr := range attrs {
		for v, value := range attr.values {
			rows = append(rows, []string{attr.label, value, "oracle", formatFloat(attr.get(oracle)[v])})
			for _, snap := range snaps {
				rows = append(rows, []string{attr.label, value, fmt.Sprint(snap.step), formatFloat(attr.get(snap)[v])})
			}
		}
	}
	return r.CSV(name+"_all", "Shares of every category, colour and price band", []string{"attribute", "value", "env_steps", "share"}, rows)
}
