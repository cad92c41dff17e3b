// Package replay stores past transitions for off-policy learning.
package replay

import (
	"fmt"
	"math/rand/v2"
)

// Buffer is a fixed-capacity ring of transitions. Each transition is a record of Width
// float32 values, whose layout the learner chooses, and a terminal flag. When the buffer
// is full, Add overwrites the oldest transition. Add and Sample allocate nothing.
type Buffer struct {
	width    int
	capacity int
	size     int // transitions stored, at most capacity
	cursor   int // index that the next Add writes
	data     []float32
	terminal []bool
}

// New allocates a buffer of capacity transitions of width float32 values each.
func New(capacity, width int) (*Buffer, error) {
	if capacity < 1 {
		return nil, fmt.Errorf("replay: capacity %d is invalid; use at least 1 transition", capacity)
	}
	if width < 1 {
		return nil, fmt.Errorf("replay: record width %d is invalid; use at least 1 value", width)
	}
	return &Buffer{
		width:    width,
		capacity: capacity,
		data:     make([]float32, capacity*width),
		terminal: make([]bool, capacity),
	}, nil
}

// Len returns the number of stored transitions.
func (b *Buffer) Len() int { return b.size }

// Cap returns the capacity in transitions.
func (b *Buffer) Cap() int { return b.capacity }

// Width returns the number of float32 values per transition.
func (b *Buffer) Width() int { return b.width }

// Bytes returns the memory that the buffer's storage takes: Width float32 values and a
// one-byte terminal flag for every transition of its capacity.
func (b *Buffer) Bytes() int64 { return BytesFor(b.capacity, b.width) }

// BytesFor returns what Bytes would return for a buffer of capacity transitions of width
// values, without allocating it.
func BytesFor(capacity, width int) int64 { return int64(capacity) * (4*int64(width) + 1) }

// Cursor returns the index that the next Add overwrites.
func (b *Buffer) Cursor() int { return b.cursor }

// Add copies record, which must have Width values, into the buffer and returns its index.
func (b *Buffer) Add(record []float32, terminal bool) int {
	if len(record) != b.width {
		panic(fmt.Sprintf("replay: record has %d values, buffer width is %d", len(record), b.width))
	}
	i := b.cursor
	copy(b.data[i*b.width:(i+1)*b.width], record)
	b.terminal[i] = terminal
	b.cursor = (b.cursor + 1) % b.capacity
	b.size = min(b.size+1, b.capacity)
	return i
}

// Record returns the stored values of transition i; the slice aliases the buffer.
func (b *Buffer) Record(i int) []float32 { return b.data[i*b.width : (i+1)*b.width] }

// Terminal reports whether transition i ended its episode.
func (b *Buffer) Terminal(i int) bool { return b.terminal[i] }

// Sample writes len(dst) indices of stored transitions, drawn uniformly with replacement
// from rng, into dst. It panics if the buffer is empty.
func (b *Buffer) Sample(rng *rand.Rand, dst []int) {
	if b.size == 0 {
		panic("replay: Sample from an empty buffer")
	}
	for k := range dst {
		dst[k] = rng.IntN(b.size)
	}
}

// Contents returns the buffer's backing arrays and position, for saving: data holds Cap
// records of Width values, terminal Cap flags. The slices alias the buffer.
func (b *Buffer) Contents() (data []float32, terminal []bool, size, cursor int) {
	return b.data, b.terminal, b.size, b.cursor
}

// Restore overwrites the buffer with saved contents of the same capacity and width.
func (b *Buffer) Restore(data []float32, terminal []bool, size, cursor int) error {
	switch {
	case len(data) != len(b.data) || len(terminal) != len(b.terminal):
		return fmt.Errorf("replay: saved buffer has %d values and %d flags, this buffer %d and %d; restore into a buffer of the same capacity and width",
			len(data), len(terminal), len(b.data), len(b.terminal))
	case size < 0 || size > b.capacity || cursor < 0 || cursor >= b.capacity:
		return fmt.Errorf("replay: saved size %d or cursor %d is outside a capacity of %d", size, cursor, b.capacity)
	}
	copy(b.data, data)
	copy(b.terminal, terminal)
	b.size, b.cursor = size, cursor
	return nil
}
