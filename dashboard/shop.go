package dashboard

import (
	"fmt"
	"math"
	"sort"
	"sync"
	"time"

	"github.com/simshop/simshop/rl"
	"github.com/simshop/simshop/simenv"
)

// Limits of one live shop.
const (
	// maxStepsPerRequest bounds the slates one step request plays, so that a request
	// takes milliseconds even with the oracle on a large catalog.
	maxStepsPerRequest = 50
	// keptReturns is the number of finished sessions whose returns a shop reports.
	keptReturns = 200
	// explainedItems is the number of top-scored items an explanation lists.
	explainedItems = 8
)

// ShopRequest starts a live shop: one simulated shopper session at a time, shown the
// slates of one recommender.
type ShopRequest struct {
	Persona     string `json:"persona"`     // a persona or a population such as cheap_blue:0.5,value_seeker:0.5
	Recommender string `json:"recommender"` // a baseline, "oracle", or "checkpoint:NAME" for RUN/checkpoints/NAME.msgpack
	Seed        uint64 `json:"seed"`        // the shoppers are those of evaluation episodes 0, 1, ... of eval --seed
	ChoiceModel string `json:"choice_model,omitempty"`
	Reward      string `json:"reward,omitempty"`
}

// shop is one live shop. Its methods are safe for concurrent use.
type shop struct {
	mu       sync.Mutex
	id       string
	request  ShopRequest
	catalog  *simenv.Catalog
	env      *simenv.VecEnv
	rec      rl.Recommender
	learner  rl.OnlineLearner
	agent    rl.Agent   // the checkpoint's agent, or nil
	linucb   *rl.LinUCB // the LinUCB baseline, or nil
	oracle   bool
	lastUsed time.Time

	slate  []int32
	out    *simenv.StepResult
	weight []float64 // scratch of the simulator's click values, per item
	reward []float64

	episode  int // evaluation episode of the current session
	needNew  bool
	totals   ShopTotals
	returns  []float64
	lastStep int64
}

// ShopTotals are the running figures of a live shop over all its slates.
type ShopTotals struct {
	Steps         int64     `json:"steps"`
	Clicks        int64     `json:"clicks"`
	Purchases     int64     `json:"purchases"`
	Reward        float64   `json:"reward"`
	CTR           float64   `json:"ctr"`             // clicks per slate
	PurchaseRate  float64   `json:"purchase_rate"`   // purchases per slate
	RewardPerStep float64   `json:"reward_per_step"` // reward per slate
	Sessions      int       `json:"sessions"`        // finished sessions
	ReturnMean    float64   `json:"return_mean"`     // mean return of the finished sessions; 0 before the first
	Returns       []float64 `json:"returns"`         // returns of the last finished sessions, oldest first
}

// CardView is one recommended product and the shopper's reaction to it.
type CardView struct {
	Item       int     `json:"item"`
	ID         string  `json:"id"`
	Name       string  `json:"name"`
	Category   string  `json:"category"`
	Price      float64 `json:"price"` // current price, after any price drift
	Color      string  `json:"color"`
	Brand      string  `json:"brand"`
	Popularity float64 `json:"popularity"`
	Rating     float64 `json:"rating"`
	Reaction   string  `json:"reaction"`   // "ignored", "clicked" or "bought"
	ClickProb  float64 `json:"click_prob"` // the simulator's click probability before the step
	Exposure   int32   `json:"exposure"`   // times shown to this shopper, this slate included
}

// StateView is the simulator's view of the session after a slate: the shopper's hidden
// state, which no recommender observes.
type StateView struct {
	Persona      string        `json:"persona"`
	Visit        int           `json:"visit"`
	SessionStep  int           `json:"session_step"`
	MaxSteps     int           `json:"max_steps"`
	IgnoredRun   int           `json:"ignored_run"` // slates ignored in a row
	Patience     int           `json:"patience"`    // ignored slates in a row after which the shopper leaves
	ItemsSeen    int           `json:"items_seen"`  // distinct items shown to the shopper
	TopExposure  []CountView   `json:"top_exposure"`
	Fatigue      []FatigueView `json:"fatigue,omitempty"` // for shoppers that tire of categories
	Budget       float64       `json:"budget,omitempty"`  // remaining, for shoppers with a budget
	HasBudget    bool          `json:"has_budget"`
	Trust        float64       `json:"trust,omitempty"` // for shoppers that learn
	Learns       bool          `json:"learns"`
	SessionDone  bool          `json:"session_done"`
	SessionClick int           `json:"session_clicks"`
}

// CountView is an item with a count.
type CountView struct {
	Name  string `json:"name"`
	Count int32  `json:"count"`
}

// FatigueView is the shopper's fatigue with one category.
type FatigueView struct {
	Category string  `json:"category"`
	Fatigue  float64 `json:"fatigue"`
}

// ExplainView is the reason for a slate: the recommender's scores of its top items, or a
// note on its rule when it has no scores.
type ExplainView struct {
	Kind  string      `json:"kind"` // the meaning of Score, such as "Q-value"; empty without scores
	Note  string      `json:"note"`
	Items []ScoreView `json:"items,omitempty"`
}

// ScoreView is one item's score in an explanation.
type ScoreView struct {
	Name    string  `json:"name"`
	Score   float64 `json:"score"`
	InSlate bool    `json:"in_slate"`
}

// StepView is one slate of a live shop and its outcome.
type StepView struct {
	Step          int64       `json:"step"`    // slates shown by this shop, this one included
	Episode       int         `json:"episode"` // evaluation episode of the session
	Cards         []CardView  `json:"cards"`
	Reward        float64     `json:"reward"`
	Done          bool        `json:"done"`
	EpisodeReturn float64     `json:"episode_return"` // valid when Done
	State         StateView   `json:"state"`
	Explain       ExplainView `json:"explain"`
	Totals        ShopTotals  `json:"totals"`
}

// itemScorer is an agent that scores every item for every session, as the DQN and
// REINFORCE do.
type itemScorer interface {
	Scores(env *simenv.VecEnv) ([]float32, error)
}

// newShop starts a live shop on catalog cat with recommender rec. agent is rec when it is a
// loaded checkpoint, else nil.
func newShop(id string, req ShopRequest, cat *simenv.Catalog, cfg simenv.Config, rec rl.Recommender, agent rl.Agent) (*shop, error) {
	env, err := simenv.NewVecEnv(cat, cfg, 1, 0)
	if err != nil {
		return nil, err
	}
	env.AutoReset = false
	s := &shop{
		id: id, request: req, catalog: cat, env: env, rec: rec, agent: agent,
		slate:   make([]int32, env.Config.SlateSize),
		out:     simenv.NewStepResult(1),
		weight:  make([]float64, cat.Len()),
		reward:  make([]float64, cat.Len()),
		episode: -1, needNew: true, lastUsed: time.Now(),
	}
	s.learner, _ = rec.(rl.OnlineLearner)
	s.linucb, _ = rec.(*rl.LinUCB)
	_, s.oracle = rec.(*rl.Oracle)
	return s, nil
}

// step plays n slates and returns what each showed.
func (s *shop) step(n int) ([]StepView, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastUsed = time.Now()
	views := make([]StepView, 0, n)
	for range n {
		v, err := s.stepOnce()
		if err != nil {
			return views, err
		}
		views = append(views, v)
	}
	return views, nil
}

func (s *shop) stepOnce() (StepView, error) {
	// A finished session gives way to the next evaluation episode's shopper.
	if s.needNew {
		s.episode++
		s1, s2 := rl.EpisodeSeed(s.request.Seed, s.episode)
		if err := s.env.ResetSession(0, s1, s2); err != nil {
			return StepView{}, err
		}
		s.rec.StartSession(0, s1^s2)
		s.needNew = false
	}

	// Choose the slate, keeping the scores behind it.
	var explain ExplainView
	var qValues []float32
	if sc, ok := s.agent.(itemScorer); ok {
		q, err := sc.Scores(s.env)
		if err != nil {
			return StepView{}, err
		}
		qValues = append([]float32(nil), q...)
		for j, ok := range s.env.Available {
			if !ok {
				qValues[j] = float32(math.Inf(-1)) // explain leaves out what the shop cannot show
			}
		}
	}
	if err := s.rec.Recommend(s.env, s.slate); err != nil {
		return StepView{}, fmt.Errorf("%s: %w", s.rec.Name(), err)
	}

	// The simulator's click probabilities for the slate, read before the shopper reacts.
	noClick := s.env.OracleClickValues(0, s.weight, s.reward)
	utilities := make([]float64, len(s.slate))
	for a, item := range s.slate {
		utilities[a] = math.Log(s.weight[item])
	}
	clickProb := make([]float64, len(s.slate))
	if _, err := simenv.ChoiceProbabilities(s.env.Config.ChoiceModel, clickProb, utilities, math.Log(noClick)); err != nil {
		return StepView{}, err
	}
	switch {
	case qValues != nil && s.agent.Name() == "reinforce":
		explain = s.explain("policy logit", "the checkpoint's policy logit per item; played greedily, it shows the items of highest logit", qValues)
	case qValues != nil:
		explain = s.explain("Q-value", "the checkpoint's estimate of the discounted return of showing each item now", qValues)
	case s.linucb != nil:
		explain = s.explain("upper confidence bound", "LinUCB's θᵀx + α·√(xᵀA⁻¹x) per item; it learns from every slate it shows", s.linucb.LastBounds())
	case s.oracle:
		expected := make([]float32, len(s.weight))
		for j, w := range s.weight {
			expected[j] = float32(w * s.reward[j] / (noClick + w))
		}
		explain = s.explain("expected reward alone", "simulator's view: the expected reward of showing each item on its own; the oracle searches slates of the best candidates", expected)
	default:
		explain = ExplainView{Note: baselineNote(s.rec.Name())}
	}

	// Show the slate.
	if err := s.env.Step(s.slate, s.out); err != nil {
		return StepView{}, fmt.Errorf("%s chose an invalid slate: %w", s.rec.Name(), err)
	}
	if s.learner != nil {
		s.learner.Learn(s.out)
	}
	s.lastStep++
	v := StepView{Step: s.lastStep, Episode: s.episode, Reward: s.out.Reward[0], Done: s.out.Done[0], Explain: explain}
	for a, item := range s.slate {
		it := s.catalog.Items[item]
		reaction := "ignored"
		if int(s.out.Click[0]) == a {
			reaction = "clicked"
			if s.out.Bought[0] {
				reaction = "bought"
			}
		}
		v.Cards = append(v.Cards, CardView{
			Item: int(item), ID: it.ID, Name: it.Name, Category: it.Category, Price: s.env.Prices[item],
			Color: it.Color, Brand: it.Brand, Popularity: it.Popularity, Rating: it.Rating,
			Reaction: reaction, ClickProb: clickProb[a], Exposure: s.env.Exposure[item],
		})
	}
	v.State = s.state()

	// Running figures.
	t := &s.totals
	t.Steps++
	t.Reward += s.out.Reward[0]
	if s.out.Click[0] >= 0 {
		t.Clicks++
	}
	if s.out.Bought[0] {
		t.Purchases++
	}
	if v.Done {
		v.EpisodeReturn = s.out.EpisodeReturn[0]
		s.returns = append(s.returns, v.EpisodeReturn)
		t.Sessions++
		t.ReturnMean += (v.EpisodeReturn - t.ReturnMean) / float64(t.Sessions)
		s.needNew = true
	}
	if len(s.returns) > keptReturns {
		s.returns = s.returns[len(s.returns)-keptReturns:]
	}
	t.CTR = float64(t.Clicks) / float64(t.Steps)
	t.PurchaseRate = float64(t.Purchases) / float64(t.Steps)
	t.RewardPerStep = t.Reward / float64(t.Steps)
	v.Totals = *t
	v.Totals.Returns = append([]float64{}, s.returns...)
	return v, nil
}

// explain lists the explainedItems items of highest score, marking those in the slate.
func (s *shop) explain(kind, note string, scores []float32) ExplainView {
	order := make([]int, 0, len(scores))
	for j, v := range scores {
		if !math.IsInf(float64(v), 0) && !math.IsNaN(float64(v)) {
			order = append(order, j)
		}
	}
	sort.SliceStable(order, func(a, b int) bool { return scores[order[a]] > scores[order[b]] })
	view := ExplainView{Kind: kind, Note: note}
	for _, j := range order[:min(explainedItems, len(order))] {
		view.Items = append(view.Items, ScoreView{Name: itemLabel(s.catalog.Items[j]), Score: float64(scores[j]), InSlate: containsItem(s.slate, j)})
	}
	return view
}

// baselineNote describes how a rule-based baseline chose its slate.
func baselineNote(name string) string {
	switch name {
	case "random":
		return "random shows 3 distinct items drawn uniformly; it has no scores"
	case "popularity":
		return "popularity shows every shopper the items with the most ratings"
	case "filtered":
		return "filtered keeps items of the category and colour the session clicked, skips items ignored twice, then ranks by popularity"
	}
	return name + " gives no scores"
}

// state returns the simulator's view of the session.
func (s *shop) state() StateView {
	shopper := s.env.OracleShopper(0)
	mem := s.env.OracleMemory(0)
	m := s.catalog.Len()
	v := StateView{
		Persona: shopper.Persona, Visit: s.env.SessionVisit(0),
		SessionStep: s.env.SessionStep(0), MaxSteps: s.env.Config.MaxSteps,
		IgnoredRun: s.env.IgnoredRun(0), Patience: shopper.Patience,
		SessionDone: s.env.SessionDone(0), SessionClick: s.env.SessionClicks(0),
		Learns: shopper.Learns, Trust: mem.Trust,
		HasBudget: shopper.Budget > 0, Budget: mem.RemainingBudget,
	}
	var seen []int
	for j, e := range s.env.Exposure[:m] {
		if e > 0 {
			seen = append(seen, j)
		}
	}
	v.ItemsSeen = len(seen)
	sort.SliceStable(seen, func(a, b int) bool { return s.env.Exposure[seen[a]] > s.env.Exposure[seen[b]] })
	for _, j := range seen[:min(5, len(seen))] {
		v.TopExposure = append(v.TopExposure, CountView{Name: itemLabel(s.catalog.Items[j]), Count: s.env.Exposure[j]})
	}
	if shopper.FatigueDecay > 0 {
		for c, f := range mem.Fatigue {
			if f > 0.005 {
				v.Fatigue = append(v.Fatigue, FatigueView{Category: s.catalog.Categories[c], Fatigue: f})
			}
		}
		sort.SliceStable(v.Fatigue, func(a, b int) bool { return v.Fatigue[a].Fatigue > v.Fatigue[b].Fatigue })
	}
	return v
}

// itemLabel returns an item's name, or its category and ID when it has none.
func itemLabel(it simenv.Item) string {
	if it.Name != "" {
		return it.Name
	}
	return it.Category + " " + it.ID
}

func containsItem(slate []int32, item int) bool {
	for _, v := range slate {
		if int(v) == item {
			return true
		}
	}
	return false
}
