package rl

import (
	"fmt"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/simshop/simshop/checkpoints"
	"github.com/simshop/simshop/simenv/recsim"
)

// ScenarioRecSimIEV names RecSim's interest-evolution scenario in checkpoints and on the
// command line.
const ScenarioRecSimIEV = "recsim-iev"

// SlateQEncoding is the metadata a SlateQ checkpoint needs besides its Q-network: the
// scenario it was trained on and the learned choice model.
type SlateQEncoding struct {
	Scenario      string    `msgpack:"scenario"` // ScenarioRecSimIEV
	Candidates    int       `msgpack:"candidates"`
	Slate         int       `msgpack:"slate"`
	Resample      bool      `msgpack:"resample_docs"`
	Quirks        bool      `msgpack:"recsim_quirks"`
	ChoiceWeights []float32 `msgpack:"choice_weights"` // ChoiceModel.Weights
}

// Checkpoint returns the checkpoint of a: its Q-network, the metadata to use it alone, and
// the target network and optimizer state. The replay buffer and the random streams are not
// stored, so a SlateQ checkpoint cannot resume training exactly.
func (a *SlateQ) Checkpoint(seed uint64, sessions int, metrics map[string]float64) (*checkpoints.File, error) {
	agentConfig, err := msgpack.Marshal(a.Config)
	if err != nil {
		return nil, fmt.Errorf("rl: encode SlateQ config: %w", err)
	}
	encoding, err := msgpack.Marshal(SlateQEncoding{
		Scenario: ScenarioRecSimIEV, Candidates: a.Scenario.Candidates, Slate: a.Scenario.Slate,
		Resample: a.Scenario.Resample, Quirks: a.Scenario.Quirks, ChoiceWeights: a.Choice.Weights(),
	})
	if err != nil {
		return nil, fmt.Errorf("rl: encode SlateQ scenario: %w", err)
	}
	f := &checkpoints.File{
		Graph: checkpoints.GraphOf(a.Online),
		Metadata: checkpoints.Metadata{
			Agent:       a.Name(),
			AgentConfig: agentConfig,
			Encoding:    encoding,
			Seed:        seed,
			Sessions:    sessions,
			Metrics:     metrics,
		},
		Training: checkpoints.Training{
			EnvSteps: a.EnvSteps,
			Episodes: a.Episodes,
			Updates:  a.Updates,
			Epsilon:  a.Config.Epsilon(a.EnvSteps),
			Target:   checkpoints.ParamsTensors(a.Target),
			AdamStep: a.Adam.Step,
			AdamM:    checkpoints.SlicesTensors(a.Online, a.Adam.M),
			AdamV:    checkpoints.SlicesTensors(a.Online, a.Adam.V),
			LastLoss: a.LastLoss,
		},
	}
	f.Stamp(time.Now())
	return f, nil
}

// LoadSlateQ rebuilds a SlateQ agent from a checkpoint that SlateQ.Checkpoint wrote,
// ready to evaluate.
func LoadSlateQ(f *checkpoints.File) (*SlateQ, error) {
	if f.Metadata.Agent != "slateq" {
		return nil, fmt.Errorf("rl: the checkpoint contains a %q agent, not slateq; evaluate it without --scenario %s and apart from SlateQ checkpoints",
			f.Metadata.Agent, ScenarioRecSimIEV)
	}
	var cfg SlateQConfig
	if err := msgpack.Unmarshal(f.Metadata.AgentConfig, &cfg); err != nil {
		return nil, fmt.Errorf("rl: decode SlateQ config: %w", err)
	}
	var enc SlateQEncoding
	if err := msgpack.Unmarshal(f.Metadata.Encoding, &enc); err != nil {
		return nil, fmt.Errorf("rl: decode SlateQ scenario: %w", err)
	}
	if enc.Scenario != ScenarioRecSimIEV {
		return nil, fmt.Errorf("rl: SlateQ checkpoint is for scenario %q; this build knows only %q", enc.Scenario, ScenarioRecSimIEV)
	}
	scenario := recsim.Config{Candidates: enc.Candidates, Slate: enc.Slate, Resample: enc.Resample, Quirks: enc.Quirks}
	a, err := NewSlateQ(cfg, scenario, f.Metadata.Seed)
	if err != nil {
		return nil, fmt.Errorf("rl: checkpoint settings: %w", err)
	}
	if f.Graph.Spec.Inputs != a.Online.Spec.Inputs || len(f.Graph.Spec.Hidden) != len(a.Online.Spec.Hidden) {
		return nil, fmt.Errorf("rl: checkpoint network %+v does not match its SlateQ config %+v", f.Graph.Spec, a.Online.Spec)
	}
	if err := checkpoints.FillSlices(a.Online, f.Graph.Initializers, dataOf(a.Online), "initializers"); err != nil {
		return nil, err
	}
	if err := checkpoints.FillSlices(a.Online, f.Training.Target, dataOf(a.Target), "training.target"); err != nil {
		return nil, err
	}
	if err := a.Choice.SetWeights(enc.ChoiceWeights); err != nil {
		return nil, err
	}
	a.EnvSteps, a.Episodes, a.Updates, a.LastLoss = f.Training.EnvSteps, f.Training.Episodes, f.Training.Updates, f.Training.LastLoss
	return a, nil
}
