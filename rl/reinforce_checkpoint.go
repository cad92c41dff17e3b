package rl

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/simshop/simshop/checkpoints"
	"github.com/simshop/simshop/nn"
	"github.com/simshop/simshop/simenv"
)

// Checkpoint returns the checkpoint of r: the policy's graph and weights, the metadata to
// use it alone, and the baseline, Adam states, counters and random stream to continue
// training. With run.Env and run.SaveReplay it also stores the simulator's state and the
// states not yet learned from, so that a resumed run continues exactly.
func (r *Reinforce) Checkpoint(run RunInfo) (*checkpoints.File, error) {
	agentConfig, err := msgpack.Marshal(r.Config)
	if err != nil {
		return nil, fmt.Errorf("rl: encode REINFORCE config: %w", err)
	}
	encoding, err := msgpack.Marshal(r.Encoding)
	if err != nil {
		return nil, fmt.Errorf("rl: encode feature encoding: %w", err)
	}
	rngState, err := r.pcg.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("rl: encode random stream: %w", err)
	}
	f := &checkpoints.File{
		Graph: checkpoints.GraphOf(r.Policy),
		Metadata: checkpoints.Metadata{
			Agent:       r.Name(),
			AgentConfig: agentConfig,
			Encoding:    encoding,
			Shop:        run.Shop.WithDefaults(),
			Catalog: checkpoints.Catalog{
				Source:      r.catalog.Source,
				Fingerprint: r.catalog.Fingerprint(),
				Items:       r.catalog.Items,
			},
			Seed:     run.Seed,
			Sessions: run.Sessions,
			Metrics:  run.Metrics,
		},
		Training: checkpoints.Training{
			EnvSteps: r.EnvSteps,
			Episodes: r.Episodes,
			Updates:  r.Updates,
			AdamStep: r.Adam.Step,
			AdamM:    checkpoints.SlicesTensors(r.Policy, r.Adam.M),
			AdamV:    checkpoints.SlicesTensors(r.Policy, r.Adam.V),
			RNG:      map[string][]byte{"agent": rngState},
			LastLoss: r.LastLoss,
			Baseline: &checkpoints.Network{
				Spec:     r.Baseline.Spec,
				Weights:  checkpoints.ParamsTensors(r.Baseline),
				AdamStep: r.BaselineAdam.Step,
				AdamM:    checkpoints.SlicesTensors(r.Baseline, r.BaselineAdam.M),
				AdamV:    checkpoints.SlicesTensors(r.Baseline, r.BaselineAdam.V),
			},
		},
	}
	if err := r.saveRollouts(f, run); err != nil {
		return nil, err
	}
	f.Stamp(time.Now())
	return f, nil
}

// LoadReinforce restores the agent stored in f. With cat nil it uses the catalog embedded
// in the file; otherwise cat must be the catalog the model was trained on. It returns the
// agent and the catalog it is attached to.
func LoadReinforce(f *checkpoints.File, cat *simenv.Catalog) (*Reinforce, *simenv.Catalog, error) {
	r := &Reinforce{}
	enc, cat, err := loadAgentMetadata(f, cat, "reinforce", "a REINFORCE one", "a REINFORCE policy scores", &r.Config)
	if err != nil {
		return nil, nil, err
	}
	r.Encoding = enc
	spec := f.Graph.Spec
	t := f.Training
	if t.Baseline == nil {
		return nil, nil, fmt.Errorf("the baseline network is missing from the training state")
	}
	if bs := t.Baseline.Spec; bs.Inputs != sessionFeatures || bs.Outputs != 1 {
		return nil, nil, fmt.Errorf("baseline network takes %d inputs and gives %d outputs; it must take the %d session features and give 1 output",
			bs.Inputs, bs.Outputs, sessionFeatures)
	}
	// The weights are overwritten below, so any stream will do for the allocation.
	if r.Policy, err = nn.NewParams[float32](spec, rand.New(rand.NewPCG(0, 0))); err != nil {
		return nil, nil, fmt.Errorf("graph: %w", err)
	}
	if r.Baseline, err = nn.NewParams[float32](t.Baseline.Spec, rand.New(rand.NewPCG(0, 0))); err != nil {
		return nil, nil, fmt.Errorf("baseline network: %w", err)
	}
	r.Adam = nn.NewAdam(r.Policy, r.Config.LearningRate)
	r.Adam.MaxGradNorm = r.Config.MaxGradNorm
	r.Adam.Step = t.AdamStep
	r.BaselineAdam = nn.NewAdam(r.Baseline, r.Config.BaselineLearningRate)
	r.BaselineAdam.MaxGradNorm = r.Config.MaxGradNorm
	r.BaselineAdam.Step = t.Baseline.AdamStep
	fills := []struct {
		p       *nn.Params[float32]
		tensors []checkpoints.Tensor
		dst     [][]float32
		what    string
	}{
		{r.Policy, f.Graph.Initializers, dataOf(r.Policy), "initializers"},
		{r.Policy, t.AdamM, r.Adam.M, "Adam first moments"},
		{r.Policy, t.AdamV, r.Adam.V, "Adam second moments"},
		{r.Baseline, t.Baseline.Weights, dataOf(r.Baseline), "baseline weights"},
		{r.Baseline, t.Baseline.AdamM, r.BaselineAdam.M, "baseline Adam first moments"},
		{r.Baseline, t.Baseline.AdamV, r.BaselineAdam.V, "baseline Adam second moments"},
	}
	for _, fill := range fills {
		if err := checkpoints.FillSlices(fill.p, fill.tensors, fill.dst, fill.what); err != nil {
			return nil, nil, err
		}
	}
	r.EnvSteps, r.Episodes, r.Updates, r.LastLoss = t.EnvSteps, t.Episodes, t.Updates, t.LastLoss
	if r.EnvSteps < 0 || r.Episodes < 0 || r.Updates < 0 || r.Adam.Step < 0 || r.BaselineAdam.Step < 0 {
		return nil, nil, fmt.Errorf("training counters are negative: steps %d, episodes %d, updates %d", r.EnvSteps, r.Episodes, r.Updates)
	}
	r.pcg = rand.NewPCG(0, 0)
	if err := r.pcg.UnmarshalBinary(t.RNG["agent"]); err != nil {
		return nil, nil, fmt.Errorf("random stream %q: %w", "agent", err)
	}
	if err := r.attach(cat, f.Metadata.Shop.WithDefaults().SlateSize); err != nil {
		return nil, nil, err
	}
	if err := r.loadRollouts(f); err != nil {
		return nil, nil, err
	}
	return r, cat, nil
}
