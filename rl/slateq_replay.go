package rl

import (
	"fmt"
	"math/rand/v2"

	"github.com/simshop/simshop/simenv/recsim"
)

// slateReplay is a ring buffer of SlateQ transitions, stored as parallel arrays. Clusters
// are stored as bytes, since recsim.Topics is below 256.
type slateReplay struct {
	capacity, candidates, slate int
	width                       int // features per state
	size, cursor                int

	user      []float32 // [capacity·width] state before the step
	next      []float32 // [capacity·width] state after the step
	cands     []uint8   // [capacity·candidates] candidate clusters before the step
	nextCands []uint8   // [capacity·candidates] candidate clusters after the step
	shown     []uint8   // [capacity·slate] clusters of the slate shown
	click     []int16   // slate position clicked, or -1
	reward    []float32 // watch time, in minutes
	done      []bool
}

func newSlateReplay(capacity, width, candidates, slate int) (*slateReplay, error) {
	if recsim.Topics > 256 || slate > 1<<15 {
		return nil, fmt.Errorf("rl: SlateQ replay cannot store %d topics or slates of %d", recsim.Topics, slate)
	}
	return &slateReplay{
		capacity: capacity, candidates: candidates, slate: slate, width: width,
		user: make([]float32, capacity*width), next: make([]float32, capacity*width),
		cands: make([]uint8, capacity*candidates), nextCands: make([]uint8, capacity*candidates),
		shown: make([]uint8, capacity*slate), click: make([]int16, capacity),
		reward: make([]float32, capacity), done: make([]bool, capacity),
	}, nil
}

// add stores one transition, overwriting the oldest when the buffer is full.
func (r *slateReplay) add(user []float32, cands []int32, slate []int32, click int32, reward float64, done bool, next []float32, nextCands []int32) {
	i := r.cursor
	copy(r.user[i*r.width:(i+1)*r.width], user)
	copy(r.next[i*r.width:(i+1)*r.width], next)
	for j := range r.candidates {
		r.cands[i*r.candidates+j] = uint8(cands[j])
		r.nextCands[i*r.candidates+j] = uint8(nextCands[j])
	}
	for a, j := range slate {
		r.shown[i*r.slate+a] = uint8(cands[j])
	}
	r.click[i] = int16(click)
	r.reward[i] = float32(reward)
	r.done[i] = done
	r.cursor = (r.cursor + 1) % r.capacity
	r.size = min(r.size+1, r.capacity)
}

// sample writes len(dst) indices drawn uniformly with replacement from the stored ones.
func (r *slateReplay) sample(rng *rand.Rand, dst []int) {
	for b := range dst {
		dst[b] = rng.IntN(r.size)
	}
}

func (r *slateReplay) userOf(i int) []float32 { return r.user[i*r.width : (i+1)*r.width] }
func (r *slateReplay) nextOf(i int) []float32 { return r.next[i*r.width : (i+1)*r.width] }
func (r *slateReplay) candsOf(i int) []uint8  { return r.cands[i*r.candidates : (i+1)*r.candidates] }
func (r *slateReplay) nextCandsOf(i int) []uint8 {
	return r.nextCands[i*r.candidates : (i+1)*r.candidates]
}
func (r *slateReplay) shownOf(i int) []uint8 { return r.shown[i*r.slate : (i+1)*r.slate] }
