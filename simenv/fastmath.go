package simenv

import (
	"math"
	"math/rand/v2"
)

// expMemo caches recent results of math.Exp by argument, so that the step does not
// recompute the exponential of a utility it has just seen. Many utilities repeat exactly:
// every exposure_buyer shopper gives every new item outside its favourite category the
// utility −3.6, and a recommender that shows the same good items again repeats their
// utilities. A hit returns the value math.Exp returned for the same argument, so results
// are bit-identical to calling math.Exp.
//
// The table is direct-mapped and holds one argument per slot; a new argument replaces the
// old one. The zero value is not ready: call reset first.
type expMemo struct {
	key   [expMemoSize]uint64 // math.Float64bits of the argument
	value [expMemoSize]float64
}

// expMemoSize is the number of slots, a power of 2. 1,024 slots take 16 KiB, which stays in
// the L1 cache next to the step's other data, and hold the distinct utilities of a few
// hundred sessions' shoppers: with 256 slots, 256 sessions evicted each other's entries.
const expMemoSize = 1 << expMemoBits

const expMemoBits = 10

// expMemoEmpty marks an empty slot: a NaN bit pattern that no utility difference produces,
// because the step never computes the exponential of NaN.
const expMemoEmpty = 0x7ff8_dead_beef_0001

func (c *expMemo) reset() {
	for i := range c.key {
		c.key[i] = expMemoEmpty
	}
}

// exp returns math.Exp(x).
func (c *expMemo) exp(x float64) float64 {
	bits := math.Float64bits(x)
	slot := expMemoSlot(bits)
	if c.key[slot] != bits {
		return c.miss(x, bits, slot)
	}
	return c.value[slot]
}

// expMemoSlot returns the slot of an argument by Fibonacci hashing: the top expMemoBits
// bits of the product mix all bits of the argument.
func expMemoSlot(bits uint64) uint32 {
	return uint32((bits * 0x9e37_79b9_7f4a_7c15) >> (64 - expMemoBits))
}

// miss computes math.Exp(x) and stores it in slot.
func (c *expMemo) miss(x float64, bits uint64, slot uint32) float64 {
	v := math.Exp(x)
	c.key[slot], c.value[slot] = bits, v
	return v
}

// log1pTableSize is the number of exposure counts whose ln(1 + e) is tabulated. A shopper
// is shown at most MaxSteps slates per visit, so counts beyond the table come only from
// long runs of returning shoppers, which fall back to math.Log1p.
const log1pTableSize = 64

// log1pTable holds math.Log1p(e) for e = 0, 1, ..., log1pTableSize−1, the exact values that
// math.Log1p returns.
var log1pTable = func() (t [log1pTableSize]float64) {
	for e := range t {
		t[e] = math.Log1p(float64(e))
	}
	return t
}()

// log1pCount returns math.Log1p(float64(e)) for a count e >= 0.
func log1pCount(e int32) float64 {
	if uint32(e) < log1pTableSize {
		return log1pTable[e]
	}
	return math.Log1p(float64(e))
}

// uniform returns the next float64 in [0, 1) of pcg, the value that rand.New(pcg).Float64()
// returns, without the call through the rand.Source interface.
func uniform(pcg *rand.PCG) float64 {
	return float64(pcg.Uint64()<<11>>11) / (1 << 53)
}
