package simenv

import (
	"runtime"
	"sync/atomic"
	"time"
)

// Parallel stepping. A Step with Workers above 1 splits the sessions into chunks that the
// caller's goroutine and Workers−1 persistent worker goroutines claim one at a time from an
// atomic counter. Each session draws only from its own stream and writes only its own rows.
// Each goroutine has its own scratch space. So a session's result does not depend on which
// goroutine steps it, and the results are the same for any number of workers and any
// GOMAXPROCS.
//
// Waking a parked goroutine takes microseconds, as long as a whole Step of a few hundred
// sessions. So a worker spins for a while after a call before it parks, the caller steps
// chunks itself from the start instead of waiting for the workers, and the caller spins
// rather than parks while the last chunks finish. A call therefore never waits for a
// worker that has not woken up: it takes the chunks that the worker would have taken.

// workerSpin is how long an idle worker polls for the next call before it parks. It
// covers the gap between the Step calls of a loop that only steps, and costs at most this
// much CPU time per call and worker when the caller does more between its calls.
const workerSpin = 50 * time.Microsecond

// chunksPerShard is the number of chunks per goroutine. More chunks balance the load of
// late or slow goroutines better; each claim costs one atomic addition.
const chunksPerShard = 4

// stepPool is the worker goroutines of one VecEnv and the state of the call in progress.
type stepPool struct {
	workers  int           // goroutines that step chunks, the caller's among them
	call     atomic.Uint64 // number of calls started; a change wakes idle workers to claim
	finished atomic.Int64  // chunks of the current call that are done

	// next counts claims up from −chunks: a claim that returns c < 0 owns chunk
	// chunks + c, and one that returns c >= 0 finds no chunk left. It is 0 or more between
	// calls, so that a failed claim reads nothing else.
	next     atomic.Int64
	sleeping []atomic.Bool   // per worker goroutine: parked, or about to park
	wake     []chan struct{} // per worker goroutine: a token wakes it; capacity 1
	stopped  atomic.Bool

	// The call in progress. The caller writes these before it sets next, and the workers
	// read them only after a successful claim, which the caller waits for before the call
	// ends. They are cleared after the call, so that the pool does not keep its VecEnv
	// reachable between calls.
	env    *VecEnv
	slates []int32
	out    *StepResult
	chunks int64
}

func newStepPool(workers int) *stepPool {
	p := &stepPool{
		workers:  workers,
		sleeping: make([]atomic.Bool, workers),
		wake:     make([]chan struct{}, workers),
	}
	for w := 1; w < workers; w++ {
		p.wake[w] = make(chan struct{}, 1)
		go p.work(w)
	}
	return p
}

// work is the loop of worker goroutine w: wait for a call, step chunks until none is
// left, repeat until the pool stops.
func (p *stepPool) work(w int) {
	seen := uint64(0)
	for {
		seen = p.waitForCall(w, seen)
		if p.stopped.Load() {
			return
		}
		p.stepChunks(w)
	}
}

// waitForCall returns the call count once it differs from seen, spinning for workerSpin
// and then parking on worker w's wake channel. It returns early when the pool stops.
func (p *stepPool) waitForCall(w int, seen uint64) uint64 {
	start := time.Now()
	for spins := 0; ; spins++ {
		if call := p.call.Load(); call != seen || p.stopped.Load() {
			return call
		}
		if spins%64 == 63 {
			// Let the caller run when there are fewer threads than goroutines.
			runtime.Gosched()
			if time.Since(start) < workerSpin {
				continue
			}
			// Announce the park, then check once more: a call that started before the
			// announcement is seen here, and one that starts after it sends a token.
			p.sleeping[w].Store(true)
			if call := p.call.Load(); call != seen || p.stopped.Load() {
				p.sleeping[w].Store(false)
				return call
			}
			<-p.wake[w]
			start = time.Now()
		}
	}
}

// stepChunks claims chunks of the current call and steps them with goroutine w's scratch
// space until no chunk is left.
func (p *stepPool) stepChunks(w int) {
	for {
		c := p.next.Add(1) - 1
		if c >= 0 {
			return
		}
		p.env.stepChunk(int(p.chunks+c), int(p.chunks), w, p.slates, p.out)
		p.finished.Add(1)
	}
}

// run steps every session of e in chunks on the pool's goroutines and returns when all
// are done.
func (p *stepPool) run(e *VecEnv, slates []int32, out *StepResult) {
	p.env, p.slates, p.out = e, slates, out
	p.chunks = int64(min(len(e.sessions), p.workers*chunksPerShard))
	p.finished.Store(0)
	p.next.Store(-p.chunks)
	p.call.Add(1)
	for w := 1; w < p.workers; w++ {
		if p.sleeping[w].CompareAndSwap(true, false) {
			select {
			case p.wake[w] <- struct{}{}:
			default: // a token from an earlier wake-up is still there
			}
		}
	}

	p.stepChunks(0)
	for spins := 0; p.finished.Load() != p.chunks; spins++ {
		if spins%64 == 63 {
			runtime.Gosched()
		}
	}
	p.env, p.slates, p.out = nil, nil, nil
}

// stop ends the worker goroutines. It may be called more than once.
func (p *stepPool) stop() {
	if p.stopped.Swap(true) {
		return
	}
	for w := 1; w < p.workers; w++ {
		select {
		case p.wake[w] <- struct{}{}:
		default:
		}
	}
}

// shards returns the number of goroutines that Step uses: Workers, at least 1 and at most
// one per session.
func (e *VecEnv) shards() int {
	return max(1, min(e.Workers, len(e.sessions)))
}

// stepChunk plays the slates of chunk c of chunks, the sessions from c·N/chunks up to
// (c+1)·N/chunks, with the scratch space of goroutine w.
func (e *VecEnv) stepChunk(c, chunks, w int, slates []int32, out *StepResult) {
	n, k := len(e.sessions), e.Config.SlateSize
	sc := &e.scratch[w]
	for i := c * n / chunks; i < (c+1)*n/chunks; i++ {
		e.stepSession(i, slates[i*k:(i+1)*k], out, sc)
	}
}

// stepParallel plays the checked slates on shards goroutines, the caller's among them.
func (e *VecEnv) stepParallel(slates []int32, out *StepResult, shards int) {
	e.ensurePool(shards)
	e.pool.run(e, slates, out)
}

// ensurePool makes sure that a pool of shards goroutines and scratch space for each
// exist, replacing a pool of another size.
func (e *VecEnv) ensurePool(shards int) {
	for len(e.scratch) < shards {
		e.scratch = append(e.scratch, newStepScratch(e.Config.SlateSize))
	}
	if e.pool != nil && e.pool.workers == shards {
		return
	}
	if e.pool != nil {
		e.pool.stop()
	}
	e.pool = newStepPool(shards)
	runtime.AddCleanup(e, (*stepPool).stop, e.pool)
}

// Close stops the worker goroutines that Step started for Workers above 1. The VecEnv stays
// usable: a later parallel Step starts new ones. Close is optional, because the workers of
// a VecEnv that is no longer reachable stop by themselves once the garbage collector has
// collected it.
func (e *VecEnv) Close() {
	if e.pool != nil {
		e.pool.stop()
		e.pool = nil
	}
}
