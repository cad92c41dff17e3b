package rl

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/simshop/simshop/checkpoints"
	"github.com/simshop/simshop/nn"
	"github.com/simshop/simshop/replay"
	"github.com/simshop/simshop/simenv"
)

// RunInfo contains the run settings and metrics that a checkpoint records besides the agent.
type RunInfo struct {
	Shop     simenv.Config
	Seed     uint64
	Sessions int
	Metrics  map[string]float64

	// Env, when not nil, is the training env; its state and the agent's pending transitions
	// are saved, so that a resumed run continues exactly. SaveReplay also saves the replay
	// buffer, which exact resume needs too.
	Env        *simenv.VecEnv
	SaveReplay bool
}

// Checkpoint returns the checkpoint of d: its graph and weights, the metadata to use it
// alone, and the training state to continue. The replay buffer is not stored.
func (d *DQN) Checkpoint(run RunInfo) (*checkpoints.File, error) {
	agentConfig, err := msgpack.Marshal(d.Config)
	if err != nil {
		return nil, fmt.Errorf("rl: encode DQN config: %w", err)
	}
	encoding, err := msgpack.Marshal(d.Encoding)
	if err != nil {
		return nil, fmt.Errorf("rl: encode feature encoding: %w", err)
	}
	rngState, err := d.pcg.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("rl: encode random stream: %w", err)
	}
	f := &checkpoints.File{
		Graph: checkpoints.GraphOf(d.Online),
		Metadata: checkpoints.Metadata{
			Agent:       d.Name(),
			AgentConfig: agentConfig,
			Encoding:    encoding,
			Shop:        run.Shop.WithDefaults(),
			Catalog: checkpoints.Catalog{
				Source:      d.catalog.Source,
				Fingerprint: d.catalog.Fingerprint(),
				Items:       d.catalog.Items,
			},
			Seed:     run.Seed,
			Sessions: run.Sessions,
			Metrics:  run.Metrics,
		},
		Training: checkpoints.Training{
			EnvSteps: d.EnvSteps,
			Episodes: d.Episodes,
			Updates:  d.Updates,
			Epsilon:  d.Config.Epsilon(d.EnvSteps),
			Target:   checkpoints.ParamsTensors(d.Target),
			AdamStep: d.Adam.Step,
			AdamM:    checkpoints.SlicesTensors(d.Online, d.Adam.M),
			AdamV:    checkpoints.SlicesTensors(d.Online, d.Adam.V),
			RNG:      map[string][]byte{"agent": rngState},
		},
	}
	if err := d.saveResumeState(f, run); err != nil {
		return nil, err
	}
	f.Stamp(time.Now())
	return f, nil
}

// saveResumeState adds to f what exact resume needs beyond the weights and the optimizer:
// the env's state, the pending transitions, the last loss and, if asked, the replay buffer.
func (d *DQN) saveResumeState(f *checkpoints.File, run RunInfo) error {
	t := &f.Training
	t.LastLoss = d.LastLoss
	if run.Env != nil && d.pending != nil && len(d.pending) == run.Env.NumSessions() {
		state, err := run.Env.State()
		if err != nil {
			return err
		}
		t.Env = &state
		flat := make([]float32, 0, len(d.pending)*d.recordWidth())
		for _, rec := range d.pending {
			flat = append(flat, rec...)
		}
		pending := checkpoints.NewTensor("pending", []int{len(d.pending), d.recordWidth()}, flat)
		t.Pending = &pending
		t.Waiting = append([]bool(nil), d.waiting...)
	}
	if run.SaveReplay && d.buffer != nil {
		data, terminal, size, cursor := d.buffer.Contents()
		flags := make([]byte, len(terminal))
		for i, v := range terminal {
			if v {
				flags[i] = 1
			}
		}
		t.Replay = &checkpoints.Replay{
			Capacity: d.buffer.Cap(), Width: d.buffer.Width(), Size: size, Cursor: cursor,
			Data:     checkpoints.NewTensor("replay", []int{d.buffer.Cap(), d.buffer.Width()}, data),
			Terminal: flags,
		}
		t.ReplayStored = true
	}
	return nil
}

// loadResumeState restores the replay buffer and keeps the env state and the pending
// transitions of f for RestoreEnv.
func (d *DQN) loadResumeState(f *checkpoints.File) error {
	t := f.Training
	d.LastLoss = t.LastLoss
	if t.ReplayStored {
		r := t.Replay
		// Earlier versions stored full feature rows; such a buffer keeps its layout.
		if r == nil || r.Capacity != d.Config.ReplayCapacity || !d.useLayout(r.Width) || len(r.Terminal) != r.Capacity {
			return fmt.Errorf("replay buffer is missing or does not match a capacity of %d transitions of %d values (%d in the full-row layout of earlier versions)",
				d.Config.ReplayCapacity, d.recordWidthFor(d.compactRowSize()), d.recordWidthFor(d.width))
		}
		buffer, err := replay.New(r.Capacity, r.Width)
		if err != nil {
			return err
		}
		data := make([]float32, r.Capacity*r.Width)
		if err := r.Data.Floats(data); err != nil {
			return fmt.Errorf("replay buffer: %w", err)
		}
		terminal := make([]bool, r.Capacity)
		for i, v := range r.Terminal {
			terminal[i] = v == 1
		}
		if err := buffer.Restore(data, terminal, r.Size, r.Cursor); err != nil {
			return err
		}
		d.buffer = buffer
	}
	if t.Env == nil {
		return nil
	}
	n := len(t.Env.Sessions)
	if t.Pending == nil || len(t.Waiting) != n {
		return fmt.Errorf("the simulator state of %d sessions comes without its pending transitions", n)
	}
	if !t.ReplayStored && len(t.Pending.Shape) == 2 {
		d.useLayout(t.Pending.Shape[1])
	}
	pending := make([]float32, n*d.recordWidth())
	if err := t.Pending.Floats(pending); err != nil {
		return fmt.Errorf("pending transitions: %w", err)
	}
	d.resume = &resumeState{env: t.Env, pending: pending, waiting: t.Waiting}
	return nil
}

// resumeState is the saved simulator state and pending transitions that RestoreEnv applies.
type resumeState struct {
	env     *simenv.State
	pending []float32
	waiting []bool
}

// RestoreEnv gives env, a new env of the run's catalog, shop and session count, the state
// saved with the agent, and the agent its pending transitions in that env, so that
// training continues exactly as if it had not stopped. It reports false, and changes
// nothing, when the checkpoint holds no simulator state.
func (d *DQN) RestoreEnv(env *simenv.VecEnv) (bool, error) {
	if d.resume == nil {
		return false, nil
	}
	if err := env.SetState(*d.resume.env); err != nil {
		return false, err
	}
	d.ensurePending(env.NumSessions())
	w := d.recordWidth()
	for i := range d.pending {
		copy(d.pending[i], d.resume.pending[i*w:(i+1)*w])
	}
	copy(d.waiting, d.resume.waiting)
	d.trainEnv = env
	d.resume = nil
	return true, nil
}

// loadAgentMetadata checks that f holds an agent of the given name, decodes its
// hyperparameters into cfg and returns its feature encoding and catalog (cat, or the embedded
// one when cat is nil), after checking the shop and the graph's width against them. noun
// and scorer name the agent in errors, such as "a DQN" and "a DQN scores".
func loadAgentMetadata(f *checkpoints.File, cat *simenv.Catalog, agent, noun, scorer string, cfg interface{ Validate() error }) (Encoding, *simenv.Catalog, error) {
	var enc Encoding
	meta := f.Metadata
	if meta.Agent != agent {
		return enc, nil, fmt.Errorf("the file contains a %q agent, not %s", meta.Agent, noun)
	}
	cat, err := checkpointCatalog(meta, cat)
	if err != nil {
		return enc, nil, err
	}

	if err := msgpack.Unmarshal(meta.AgentConfig, cfg); err != nil {
		return enc, nil, fmt.Errorf("agent config: %w", err)
	}
	if err := cfg.Validate(); err != nil {
		return enc, nil, fmt.Errorf("agent config: %w", err)
	}
	if err := msgpack.Unmarshal(meta.Encoding, &enc); err != nil {
		return enc, nil, fmt.Errorf("feature encoding: %w", err)
	}
	if enc.MaxSteps < 1 || len(enc.Colors) == 0 {
		return enc, nil, fmt.Errorf("feature encoding is incomplete: %d colours, maximum session length %d", len(enc.Colors), enc.MaxSteps)
	}
	if err := meta.Shop.WithDefaults().Validate(cat); err != nil {
		return enc, nil, fmt.Errorf("shop settings: %w", err)
	}
	spec := f.Graph.Spec
	if spec.Inputs != enc.Width() || spec.Outputs != 1 {
		return enc, nil, fmt.Errorf("graph takes %d inputs and gives %d outputs, but the encoding has %d features and %s with 1 output",
			spec.Inputs, spec.Outputs, enc.Width(), scorer)
	}
	return enc, cat, nil
}

// LoadDQN restores the agent stored in f. With cat nil it uses the catalog embedded in the
// file; otherwise cat must be the catalog the model was trained on. It returns the agent
// and the catalog it is attached to.
func LoadDQN(f *checkpoints.File, cat *simenv.Catalog) (*DQN, *simenv.Catalog, error) {
	d := &DQN{}
	enc, cat, err := loadAgentMetadata(f, cat, "dqn", "a DQN", "a DQN scores", &d.Config)
	if err != nil {
		return nil, nil, err
	}
	d.Encoding = enc
	spec := f.Graph.Spec
	// The weights are overwritten below, so any stream will do for the allocation.
	if d.Online, err = nn.NewParams[float32](spec, rand.New(rand.NewPCG(0, 0))); err != nil {
		return nil, nil, fmt.Errorf("graph: %w", err)
	}
	if err := checkpoints.FillSlices(d.Online, f.Graph.Initializers, dataOf(d.Online), "initializers"); err != nil {
		return nil, nil, err
	}
	d.Target = d.Online.Clone()
	if err := checkpoints.FillSlices(d.Target, f.Training.Target, dataOf(d.Target), "target network"); err != nil {
		return nil, nil, err
	}
	d.Adam = nn.NewAdam(d.Online, d.Config.LearningRate)
	d.Adam.MaxGradNorm = d.Config.MaxGradNorm
	d.Adam.Step = f.Training.AdamStep
	if err := checkpoints.FillSlices(d.Online, f.Training.AdamM, d.Adam.M, "Adam first moments"); err != nil {
		return nil, nil, err
	}
	if err := checkpoints.FillSlices(d.Online, f.Training.AdamV, d.Adam.V, "Adam second moments"); err != nil {
		return nil, nil, err
	}
	d.EnvSteps, d.Episodes, d.Updates = f.Training.EnvSteps, f.Training.Episodes, f.Training.Updates
	if d.EnvSteps < 0 || d.Episodes < 0 || d.Updates < 0 || d.Adam.Step < 0 {
		return nil, nil, fmt.Errorf("training counters are negative: steps %d, episodes %d, updates %d", d.EnvSteps, d.Episodes, d.Updates)
	}
	d.pcg = rand.NewPCG(0, 0)
	if err := d.pcg.UnmarshalBinary(f.Training.RNG["agent"]); err != nil {
		return nil, nil, fmt.Errorf("random stream %q: %w", "agent", err)
	}
	if err := d.attach(cat, f.Metadata.Shop.WithDefaults().SlateSize); err != nil {
		return nil, nil, err
	}
	if err := d.loadResumeState(f); err != nil {
		return nil, nil, err
	}
	return d, cat, nil
}

// checkpointCatalog returns the catalog a loaded model runs on: cat when it is the one the
// model was trained on, the catalog embedded in the file when cat is nil, and an error
// otherwise.
func checkpointCatalog(meta checkpoints.Metadata, cat *simenv.Catalog) (*simenv.Catalog, error) {
	embedded, err := simenv.NewCatalog(meta.Catalog.Items, meta.Catalog.Source)
	if err != nil {
		return nil, fmt.Errorf("embedded catalog: %w", err)
	}
	if got := embedded.Fingerprint(); got != meta.Catalog.Fingerprint {
		return nil, fmt.Errorf("embedded catalog has fingerprint %s, but the file records %s: the file is corrupted", got, meta.Catalog.Fingerprint)
	}
	if cat == nil {
		return embedded, nil
	}
	if got := cat.Fingerprint(); got != meta.Catalog.Fingerprint {
		return nil, fmt.Errorf("the model was trained on catalog %q (fingerprint %.12s), but %q has fingerprint %.12s; pass the training catalog, or leave the catalog out to use the one in the checkpoint",
			meta.Catalog.Source, meta.Catalog.Fingerprint, cat.Source, got)
	}
	return cat, nil
}

func dataOf(p *nn.Params[float32]) [][]float32 {
	out := make([][]float32, len(p.Tensors))
	for i, t := range p.Tensors {
		out[i] = t.Data
	}
	return out
}
