package experiments

import (
	"context"
	"fmt"

	"github.com/simshop/simshop/checkpoints"
	"github.com/simshop/simshop/rl"
	"github.com/simshop/simshop/simenv"
)

// Agent is a learning agent that the studies train and measure. Adding an agent to Agents
// adds it to every study and to the results page.
type Agent struct {
	Name string
	// New returns an untrained agent for the shop over cat, sized for a run of
	// b.TrainSteps shopper-steps.
	New func(cat *simenv.Catalog, shop simenv.Config, b Budget, seed uint64) (Learner, error)
	// Load returns the greedy policy of a checkpoint that a Learner saved.
	Load func(path string, cat *simenv.Catalog) (rl.Recommender, error)
}

// Learner is an agent in training, with its own training environment.
type Learner interface {
	// TrainUntil trains until the agent has seen steps shopper-steps in total.
	TrainUntil(ctx context.Context, steps int64) error
	// Policy returns the agent's greedy policy for evaluation. It shares the agent's
	// weights and is valid until the next TrainUntil call.
	Policy() rl.Recommender
	// Save writes a checkpoint that Agent.Load reads.
	Save(path string) error
	// Close releases the training environment.
	Close()
}

// Agents lists the learning agents the studies train.
var Agents = []Agent{
	{Name: "dqn", New: newDQNLearner, Load: loadDQN},
	{Name: "reinforce", New: newReinforceLearner, Load: loadReinforce},
}

// dqnLearner trains an rl.DQN with the default hyperparameters, its exploration decaying
// over the first half of the run.
type dqnLearner struct {
	agent    *rl.DQN
	env      *simenv.VecEnv
	shop     simenv.Config
	seed     uint64
	sessions int
}

func newDQNLearner(cat *simenv.Catalog, shop simenv.Config, b Budget, seed uint64) (Learner, error) {
	cfg := rl.DefaultDQNConfig()
	cfg.EpsilonSteps = max(1, b.TrainSteps/2)
	cfg.LearningStarts = min(cfg.LearningStarts, int(b.TrainSteps/4))
	agent, err := rl.NewDQN(cfg, cat, shop, seed)
	if err != nil {
		return nil, err
	}
	env, err := simenv.NewVecEnv(cat, shop, b.Sessions, rl.TrainSeed(seed, 0))
	if err != nil {
		return nil, err
	}
	return &dqnLearner{agent: agent, env: env, shop: shop, seed: seed, sessions: b.Sessions}, nil
}

func (l *dqnLearner) TrainUntil(ctx context.Context, steps int64) error {
	return l.agent.Train(ctx, l.env, rl.TrainOptions{Steps: steps})
}

func (l *dqnLearner) Policy() rl.Recommender {
	l.agent.Greedy = true
	return l.agent
}

func (l *dqnLearner) Save(path string) error {
	f, err := l.agent.Checkpoint(rl.RunInfo{Shop: l.shop, Seed: l.seed, Sessions: l.sessions})
	if err != nil {
		return err
	}
	return checkpoints.Save(path, f)
}

func (l *dqnLearner) Close() { l.env.Close() }

func loadDQN(path string, cat *simenv.Catalog) (rl.Recommender, error) {
	f, err := checkpoints.Load(path)
	if err != nil {
		return nil, err
	}
	agent, _, err := rl.LoadDQN(f, cat)
	if err != nil {
		return nil, fmt.Errorf("experiments: load %s: %w", path, err)
	}
	agent.Greedy = true
	return agent, nil
}

// reinforceLearner trains an rl.Reinforce with the default hyperparameters.
type reinforceLearner struct {
	agent    *rl.Reinforce
	env      *simenv.VecEnv
	shop     simenv.Config
	seed     uint64
	sessions int
}

func newReinforceLearner(cat *simenv.Catalog, shop simenv.Config, b Budget, seed uint64) (Learner, error) {
	agent, err := rl.NewReinforce(rl.DefaultReinforceConfig(), cat, shop, seed)
	if err != nil {
		return nil, err
	}
	env, err := simenv.NewVecEnv(cat, shop, b.Sessions, rl.TrainSeed(seed, 0))
	if err != nil {
		return nil, err
	}
	return &reinforceLearner{agent: agent, env: env, shop: shop, seed: seed, sessions: b.Sessions}, nil
}

func (l *reinforceLearner) TrainUntil(ctx context.Context, steps int64) error {
	return l.agent.Train(ctx, l.env, rl.TrainOptions{Steps: steps})
}

// Policy returns the greedy policy: the slate of the highest item scores.
func (l *reinforceLearner) Policy() rl.Recommender {
	l.agent.Greedy = true
	return l.agent
}

func (l *reinforceLearner) Save(path string) error {
	f, err := l.agent.Checkpoint(rl.RunInfo{Shop: l.shop, Seed: l.seed, Sessions: l.sessions})
	if err != nil {
		return err
	}
	return checkpoints.Save(path, f)
}

func (l *reinforceLearner) Close() { l.env.Close() }

func loadReinforce(path string, cat *simenv.Catalog) (rl.Recommender, error) {
	f, err := checkpoints.Load(path)
	if err != nil {
		return nil, err
	}
	agent, _, err := rl.LoadReinforce(f, cat)
	if err != nil {
		return nil, fmt.Errorf("experiments: load %s: %w", path, err)
	}
	agent.Greedy = true
	return agent, nil
}

// named reports a recommender under another name.
type named struct {
	rl.Recommender
	name string
}

func (n named) Name() string { return n.name }

// Learn passes outcomes on when the recommender learns online, such as LinUCB.
func (n named) Learn(out *simenv.StepResult) {
	if l, ok := n.Recommender.(rl.OnlineLearner); ok {
		l.Learn(out)
	}
}

// referenceRecommenders returns the baselines and the oracle for the shop over cat.
func referenceRecommenders(cat *simenv.Catalog, shop simenv.Config) ([]rl.Recommender, error) {
	var recs []rl.Recommender
	for _, name := range rl.BaselineNames {
		b, err := rl.NewBaseline(name, cat, shop, evalSessions)
		if err != nil {
			return nil, err
		}
		recs = append(recs, b)
	}
	return append(recs, rl.NewOracle(cat, shop.WithDefaults().SlateSize)), nil
}

// evalSessions is the number of sessions evaluation steps together; results do not depend
// on it.
const evalSessions = 32

// evaluate evaluates rec on shop over cat with the study's seed and budget.
func evaluate(opt *Options, rec rl.Recommender, cat *simenv.Catalog, shop simenv.Config, episodes int) (rl.Result, error) {
	return rl.Evaluate(rec, cat, shop, rl.EvalOptions{Episodes: episodes, Seed: opt.Seed, Sessions: evalSessions, Context: opt.context()})
}
