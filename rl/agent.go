package rl

import (
	"context"
	"fmt"

	"github.com/simshop/simshop/checkpoints"
	"github.com/simshop/simshop/simenv"
)

// Agent is a recommender that learns in training and is saved in a checkpoint: the DQN or
// REINFORCE. The train, eval and compare commands drive every agent through it.
type Agent interface {
	Recommender
	Train(ctx context.Context, env *simenv.VecEnv, opt TrainOptions) error
	Checkpoint(run RunInfo) (*checkpoints.File, error)
	// RestoreEnv gives env the simulator state saved with the agent, if any; see DQN.RestoreEnv.
	RestoreEnv(env *simenv.VecEnv) (bool, error)
	// TrainedSteps returns the shopper-steps seen in training.
	TrainedSteps() int64
	// SetGreedy switches exploration and learning off (true, for evaluation) or on.
	SetGreedy(greedy bool)
}

func (d *DQN) TrainedSteps() int64       { return d.EnvSteps }
func (d *DQN) SetGreedy(greedy bool)     { d.Greedy = greedy }
func (r *Reinforce) TrainedSteps() int64 { return r.EnvSteps }
func (r *Reinforce) SetGreedy(g bool)    { r.Greedy = g }

// AgentNames lists the agents that train with --agent.
var AgentNames = []string{"dqn", "reinforce"}

// LoadAgent restores the agent stored in f, whichever kind it is. With cat nil it uses the
// catalog embedded in the file; otherwise cat must be the catalog the model was trained on.
func LoadAgent(f *checkpoints.File, cat *simenv.Catalog) (Agent, *simenv.Catalog, error) {
	var agent Agent
	var err error
	switch f.Metadata.Agent {
	case "dqn":
		var d *DQN
		d, cat, err = LoadDQN(f, cat)
		agent = d
	case "reinforce":
		var r *Reinforce
		r, cat, err = LoadReinforce(f, cat)
		agent = r
	case "slateq":
		return nil, nil, fmt.Errorf("the file contains a SlateQ agent of --scenario %s, which runs only there: "+
			"evaluate it with eval or compare apart from shop models, and start a new run instead of resuming it", ScenarioRecSimIEV)
	default:
		return nil, nil, fmt.Errorf("the file contains a %q agent; this version loads dqn and reinforce", f.Metadata.Agent)
	}
	if err != nil {
		return nil, nil, err
	}
	return agent, cat, nil
}
