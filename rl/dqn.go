package rl

// DQN slate recommender: deep Q-learning (Mnih et al., "Human-level control through deep
// reinforcement learning", Nature 2015) with double-DQN targets (van Hasselt, Guez and
// Silver, AAAI 2016), applied to slates by item-wise decomposition.
//
// The network scores one (session, item) pair at a time: Q(s, i) is the value of showing
// item i in session state s. A slate A is the K items of highest Q, and its value is the sum
// Q(s, A) = Σ_{i∈A} Q(s, i). Each shown item is trained toward
//
//	y_i = r_i + γ · (1/K) · Σ_{j∈A'} Q_target(s', j)
//
// where r_i is the step's reward if the shopper clicked item i and 0 otherwise, and A' is the
// greedy next slate chosen by the online network. Summed over the slate, the targets give
// r + γ·Q_target(s', A'), the usual one-step target of the slate.
//
// Departures from the papers, each for speed on large catalogs:
//   - The bootstrap maximum runs over Candidates items per next state, the online network's
//     top items when the agent acted there, instead of the whole catalog. The replay buffer
//     stores those items' features, so an update never encodes the catalog again.
//   - Exploration is per slate position: each position shows a uniformly random item with
//     probability ε, instead of the whole slate being random.
//
// A stored row is compact: the item's index and the features that depend on the session.
// The item's own features are the same in every session, so an update copies them from
// the encoder's table. The rebuilt rows equal the rows that the agent scored.

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"

	"github.com/simshop/simshop/nn"
	"github.com/simshop/simshop/replay"
	"github.com/simshop/simshop/simenv"
)

// DQN is the slate recommender. Its exported fields are the state a checkpoint stores.
type DQN struct {
	Config   DQNConfig
	Encoding Encoding
	Online   *nn.Params[float32]
	Target   *nn.Params[float32]
	Adam     *nn.Adam[float32]

	// Counters.
	EnvSteps int64 // shopper-steps seen in training
	Episodes int64 // training sessions finished
	Updates  int64 // gradient updates applied

	// Greedy switches exploration and learning off, for evaluation.
	Greedy bool

	// ScoreWorkers is the number of goroutines over which Train spreads the encoding and
	// scoring of its sessions. 0 means GOMAXPROCS in the default build, whose kernels
	// score every row alone, so that the results are the same for any number. With
	// OpenBLAS (nn.BLAS "openblas") the rounding of a row depends on the split, so there
	// 0 means 1 and a run is repeatable only with the same ScoreWorkers.
	ScoreWorkers int

	// LastLoss is the loss of the most recent update.
	LastLoss float64

	pcg     *rand.PCG // exploration and replay sampling
	rng     *rand.Rand
	catalog *simenv.Catalog
	encoder *Encoder
	k       int // slate size
	width   int // features per row
	rowSize int // float32 values per stored row: compactRowSize, or width in the full layout

	act     *nn.Forward[float32]         // scores sessions × items rows
	pool    *scorePool                   // scoring goroutines while Train runs
	actors  map[int]*nn.Forward[float32] // acting graphs by session count
	trainer *nn.Trainer[float32]         // BatchSize × K rows
	nextQ   *nn.Forward[float32]         // online network on BatchSize × Candidates rows
	nextQT  *nn.Forward[float32]         // target network on the same rows

	buffer   *replay.Buffer
	trainEnv *simenv.VecEnv // the env of the last Train call
	resume   *resumeState   // simulator state loaded from a checkpoint, for RestoreEnv
	pending  [][]float32    // per session, the transition waiting for its next state
	waiting  []bool         // per session, whether pending holds a transition
	top      []int32        // scratch: ranked items of one session
	batch    []int
}

// NewDQN returns an untrained agent for catalog cat and slate size k, its weights and
// every random stream seeded from seed.
func NewDQN(cfg DQNConfig, cat *simenv.Catalog, shop simenv.Config, seed uint64) (*DQN, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	shop = shop.WithDefaults()
	if cfg.Candidates < shop.SlateSize {
		return nil, fmt.Errorf("rl: %d next-state candidates is fewer than the slate size %d; use at least %d",
			cfg.Candidates, shop.SlateSize, shop.SlateSize)
	}
	enc := NewEncoding(cat, shop.MaxSteps)
	enc.BrandFeatures = true
	spec := nn.Spec{Inputs: enc.Width(), Hidden: append([]int(nil), cfg.Hidden...), Outputs: 1, Activation: "relu"}
	online, err := nn.NewParams[float32](spec, rand.New(rand.NewPCG(DeriveSeed(seed, domainAgent), 1)))
	if err != nil {
		return nil, err
	}
	d := &DQN{
		Config:   cfg,
		Encoding: enc,
		Online:   online,
		Target:   online.Clone(),
		Adam:     nn.NewAdam(online, cfg.LearningRate),
		pcg:      rand.NewPCG(DeriveSeed(seed, domainAgent), 2),
	}
	d.Adam.MaxGradNorm = cfg.MaxGradNorm
	if err := d.attach(cat, shop.SlateSize); err != nil {
		return nil, err
	}
	return d, nil
}

// attach prepares the agent's encoder and training graphs for catalog cat.
func (d *DQN) attach(cat *simenv.Catalog, k int) error {
	d.rng = rand.New(d.pcg)
	d.catalog = cat
	d.encoder = NewEncoder(d.Encoding, cat)
	d.k = k
	d.width = d.Encoding.Width()
	if cat.Len() > maxCompactItems {
		return fmt.Errorf("rl: the catalog has %d items; the DQN stores item indices as float32 and supports at most %d", cat.Len(), maxCompactItems)
	}
	d.rowSize = d.compactRowSize()
	var err error
	if d.trainer, err = nn.NewTrainer(d.Online, d.Config.BatchSize*k, nn.LossHuber); err != nil {
		return err
	}
	rows := d.Config.BatchSize * d.Config.Candidates
	if d.nextQ, err = nn.NewForward(d.Online, rows); err != nil {
		return err
	}
	if d.nextQT, err = nn.NewForward(d.Target, rows); err != nil {
		return err
	}
	d.batch = make([]int, d.Config.BatchSize)
	return nil
}

func (d *DQN) Name() string { return "dqn" }

// StartSession is a no-op: the greedy policy needs no per-session randomness.
func (d *DQN) StartSession(i int, seed uint64) {}

// maxCompactItems is the largest catalog whose item indices float32 holds exactly.
const maxCompactItems = 1 << 24

// recordWidth returns the float32 values of one stored transition: the slate's K stored
// rows, K per-item rewards and Candidates stored rows of the next state.
func (d *DQN) recordWidth() int { return d.recordWidthFor(d.rowSize) }

func (d *DQN) recordWidthFor(rowSize int) int {
	return d.k*rowSize + d.k + d.Config.Candidates*rowSize
}

// compactRowSize returns the values of a compact stored row: the item's index, then the
// features from the encoder's history offset on, which depend on the session.
func (d *DQN) compactRowSize() int { return 1 + d.width - d.encoder.history }

// useLayout selects the stored-row layout that matches a saved record width: compact, or
// the full feature rows that earlier versions stored. It reports whether either matches.
func (d *DQN) useLayout(recordWidth int) bool {
	for _, size := range []int{d.compactRowSize(), d.width} {
		if d.recordWidthFor(size) == recordWidth {
			d.rowSize = size
			return true
		}
	}
	return false
}

// packRow stores the feature row of item into dst, which holds rowSize values.
func (d *DQN) packRow(dst []float32, item int32, row []float32) {
	if d.rowSize == d.width {
		copy(dst, row)
		return
	}
	dst[0] = float32(item)
	copy(dst[1:], row[d.encoder.history:])
}

// unpackRow rebuilds into dst, which holds width values, the feature row stored in src.
func (d *DQN) unpackRow(dst, src []float32) {
	if d.rowSize == d.width {
		copy(dst, src)
		return
	}
	h := d.encoder.history
	item := int(src[0])
	copy(dst[:h], d.encoder.static[item*d.width:item*d.width+h])
	copy(dst[h:], src[1:])
}

// RecordWidth returns the float32 values of one transition in the agent's replay buffer.
func (d *DQN) RecordWidth() int { return d.recordWidth() }

// ensureActor sizes the acting graph for n sessions. It keeps one graph per session count,
// so that evaluating with another count does not rebuild the training graph.
func (d *DQN) ensureActor(n int) error {
	if d.actors == nil {
		d.actors = map[int]*nn.Forward[float32]{}
	}
	if d.actors[n] == nil {
		act, err := nn.NewForward(d.Online, n*d.catalog.Len())
		if err != nil {
			return err
		}
		d.actors[n] = act
	}
	d.act = d.actors[n]
	if need := max(d.k, d.Config.Candidates); len(d.top) != need {
		d.top = make([]int32, need)
	}
	return nil
}

// ensurePending sizes the per-session transitions of training for n sessions, keeping
// them when the size is unchanged.
func (d *DQN) ensurePending(n int) {
	if len(d.pending) == n {
		return
	}
	d.pending = make([][]float32, n)
	for i := range d.pending {
		d.pending[i] = make([]float32, d.recordWidth())
	}
	d.waiting = make([]bool, n)
}

// Scores encodes every session of env and returns Q(s, i) for all sessions and items,
// row-major [session][item]. The slice is reused by the next call. Inside Train the
// sessions are spread over the scoring goroutines.
func (d *DQN) Scores(env *simenv.VecEnv) ([]float32, error) {
	if err := d.ensureActor(env.NumSessions()); err != nil {
		return nil, err
	}
	if p := d.pool; p != nil && p.env == env && len(p.encoders) > 1 {
		for w := 1; w < len(p.encoders); w++ {
			p.wg.Add(1)
			p.work <- w
		}
		d.scoreChunk(0)
		p.wg.Wait()
		return d.act.Output(), nil
	}
	m := d.catalog.Len()
	in := d.act.Input()
	for i := 0; i < env.NumSessions(); i++ {
		d.encoder.EncodeSession(env, i, in[i*m*d.width:(i+1)*m*d.width])
	}
	return d.act.Run()
}

// scorePool is the goroutines that score the sessions of one env during Train. Worker w
// encodes with its own encoder and scores its share of the sessions, rows computed apart
// with nn.Forward.RunRows; worker 0 is the caller's goroutine.
type scorePool struct {
	env      *simenv.VecEnv
	encoders []*Encoder
	work     chan int
	wg       sync.WaitGroup
}

// startScoring starts the scoring goroutines for env and returns the function that stops
// them. With one worker it starts nothing.
func (d *DQN) startScoring(env *simenv.VecEnv) func() {
	workers := d.ScoreWorkers
	if workers <= 0 {
		workers = 1
		if nn.BLAS == "go" {
			workers = runtime.GOMAXPROCS(0)
		}
	}
	workers = min(workers, env.NumSessions())
	if workers <= 1 {
		return func() {}
	}
	p := &scorePool{env: env, encoders: []*Encoder{d.encoder}, work: make(chan int)}
	for w := 1; w < workers; w++ {
		p.encoders = append(p.encoders, NewEncoder(d.Encoding, d.catalog))
		go func() {
			for w := range p.work {
				d.scoreChunk(w)
				p.wg.Done()
			}
		}()
	}
	d.pool = p
	return func() {
		close(p.work)
		d.pool = nil
	}
}

// scoreChunk encodes and scores worker w's share of the pool's sessions.
func (d *DQN) scoreChunk(w int) {
	p := d.pool
	n, m := p.env.NumSessions(), d.catalog.Len()
	lo, hi := w*n/len(p.encoders), (w+1)*n/len(p.encoders)
	in := d.act.Input()
	for i := lo; i < hi; i++ {
		p.encoders[w].EncodeSession(p.env, i, in[i*m*d.width:(i+1)*m*d.width])
	}
	d.act.RunRows(lo*m, hi*m)
}

// Recommend shows each session its top-K items by Q, with ε-exploration while training.
// While training it also completes each session's pending transition with the features
// of the next state's candidate items and stores it in the replay buffer.
func (d *DQN) Recommend(env *simenv.VecEnv, slates []int32) error {
	q, err := d.Scores(env)
	if err != nil {
		return err
	}
	if !d.Greedy {
		if d.buffer == nil {
			return fmt.Errorf("rl: the DQN explores and learns only inside Train; set Greedy to evaluate it")
		}
		d.ensurePending(env.NumSessions())
	}
	m := d.catalog.Len()
	in := d.act.Input()
	eps := d.Config.Epsilon(d.EnvSteps)
	for i := 0; i < env.NumSessions(); i++ {
		scores := q[i*m : (i+1)*m]
		rows := in[i*m*d.width : (i+1)*m*d.width]
		slate := slates[i*d.k : (i+1)*d.k]

		// Greedy slate and next-state candidates: the top available items by Q.
		maskUnavailable(env, scores)
		n := max(d.k, d.Config.Candidates)
		if d.Greedy {
			n = d.k
		}
		topK(scores, d.top[:n])
		copy(slate, d.top[:d.k])
		if d.Greedy {
			continue
		}
		if d.waiting[i] {
			rec := d.pending[i]
			next := rec[d.k*d.rowSize+d.k:]
			for c, item := range d.top[:d.Config.Candidates] {
				d.packRow(next[c*d.rowSize:(c+1)*d.rowSize], item, rows[int(item)*d.width:(int(item)+1)*d.width])
			}
			d.buffer.Add(rec, false)
			d.waiting[i] = false
		}

		// Explore: each position shows a random item, distinct from the others, with chance ε.
		for a := range slate {
			if d.rng.Float64() >= eps {
				continue
			}
			for {
				item := int32(d.rng.IntN(m))
				if !contains(slate, item) {
					slate[a] = item
					break
				}
			}
		}

		// Remember the slate's feature rows for the transition that Observe completes.
		rec := d.pending[i]
		for a, item := range slate {
			d.packRow(rec[a*d.rowSize:(a+1)*d.rowSize], item, rows[int(item)*d.width:(int(item)+1)*d.width])
		}
	}
	return nil
}

// Observe records the outcome of the slates chosen by the last Recommend. A transition that
// ended its session is stored at once; the others wait for their next state.
func (d *DQN) Observe(out *simenv.StepResult) {
	for i := range d.pending {
		rewards := d.pending[i][d.k*d.rowSize : d.k*d.rowSize+d.k]
		clear(rewards)
		if c := out.Click[i]; c >= 0 {
			rewards[c] = float32(out.Reward[i])
		}
		if out.Done[i] {
			d.buffer.Add(d.pending[i], true)
			d.Episodes++
		} else {
			d.waiting[i] = true
		}
	}
	d.EnvSteps += int64(len(d.pending))
}

// Update samples a batch from the replay buffer and takes one Adam step on the Huber loss
// between Q(s, i) and the double-DQN target y_i. It does nothing until the buffer holds
// LearningStarts transitions, and reports whether it updated.
func (d *DQN) Update() (bool, error) {
	if d.buffer.Len() < d.Config.LearningStarts {
		return false, nil
	}
	cfg := d.Config
	d.buffer.Sample(d.rng, d.batch)

	// Next-state values: select A' by the online network, evaluate it with the target network.
	nextIn, nextInT := d.nextQ.Input(), d.nextQT.Input()
	for b, idx := range d.batch {
		next := d.buffer.Record(idx)[d.k*d.rowSize+d.k:]
		for c := 0; c < cfg.Candidates; c++ {
			row := b*cfg.Candidates + c
			d.unpackRow(nextIn[row*d.width:(row+1)*d.width], next[c*d.rowSize:(c+1)*d.rowSize])
		}
	}
	copy(nextInT, nextIn)
	qOnline, err := d.nextQ.Run()
	if err != nil {
		return false, err
	}
	qTarget, err := d.nextQT.Run()
	if err != nil {
		return false, err
	}

	// Targets y_i = r_i + γ·mean_{j∈A'} Q_target(s', j), without the bootstrap at session end.
	in, target := d.trainer.Input(), d.trainer.Target()
	for b, idx := range d.batch {
		rec := d.buffer.Record(idx)
		for a := 0; a < d.k; a++ {
			row := b*d.k + a
			d.unpackRow(in[row*d.width:(row+1)*d.width], rec[a*d.rowSize:(a+1)*d.rowSize])
		}
		next := 0.0
		if !d.buffer.Terminal(idx) {
			topK(qOnline[b*cfg.Candidates:(b+1)*cfg.Candidates], d.top[:d.k])
			for _, c := range d.top[:d.k] {
				next += float64(qTarget[b*cfg.Candidates+int(c)])
			}
			next /= float64(d.k)
		}
		for a := 0; a < d.k; a++ {
			target[b*d.k+a] = float32(float64(rec[d.k*d.rowSize+a]) + cfg.Gamma*next)
		}
	}

	// Gradient step at the scheduled learning rate, then the target network follows: by
	// Polyak averaging after every update when Tau is set, otherwise by a periodic hard copy.
	loss, err := d.trainer.Run()
	if err != nil {
		return false, err
	}
	d.Adam.LearningRate = cfg.LearningRateAt(d.EnvSteps)
	d.Adam.Update(d.Online, d.trainer.Grads)
	d.LastLoss = float64(loss)
	d.Updates++
	switch {
	case cfg.Tau > 0:
		polyak(d.Target, d.Online, cfg.Tau)
	case d.Updates%int64(cfg.TargetUpdate) == 0:
		d.Target.CopyFrom(d.Online)
	}
	return true, nil
}

// polyak moves every weight of target toward online: θ' ← τ·θ + (1-τ)·θ'.
func polyak(target, online *nn.Params[float32], tau float64) {
	for k, t := range target.Tensors {
		src := online.Tensors[k].Data
		for i := range t.Data {
			t.Data[i] = float32(tau*float64(src[i]) + (1-tau)*float64(t.Data[i]))
		}
	}
}

// maskUnavailable sets the score of every item the shop cannot show now to -Inf, so that
// no ranking picks it while enough available items remain.
func maskUnavailable(env *simenv.VecEnv, scores []float32) {
	for j, ok := range env.Available {
		if !ok {
			scores[j] = float32(math.Inf(-1))
		}
	}
}

// topK writes into dst the indices of the len(dst) largest scores in descending order, ties
// broken by the lower index. It costs O(len(scores)·len(dst)), cheap for slate-sized dst.
func topK(scores []float32, dst []int32) {
	n := 0
	for i, s := range scores {
		if n == len(dst) && s <= scores[dst[n-1]] {
			continue
		}
		pos := min(n, len(dst)-1)
		for pos > 0 && s > scores[dst[pos-1]] {
			dst[pos] = dst[pos-1]
			pos--
		}
		dst[pos] = int32(i)
		if n < len(dst) {
			n++
		}
	}
}
