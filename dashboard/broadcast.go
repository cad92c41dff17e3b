package dashboard

import (
	"context"
	"sync"
)

// maxHistory bounds the rows a Broadcaster keeps. A training run logs a row every
// --log-every shopper-steps, so 100,000 rows cover 500 million steps at the default of
// 5,000; beyond that the oldest rows are dropped.
const maxHistory = 100_000

// Broadcaster keeps the rows of one stream, such as a training run's metrics, and wakes
// every subscriber when rows arrive. Publish never blocks on a subscriber: each holds a
// wake-up channel of capacity 1, so wake-ups that arrive while a subscriber is still busy
// coalesce into one, and the subscriber then reads every row it has not seen. Many viewers
// thus share one stream, and a slow viewer delays only itself.
//
// The zero value is not usable; create one with NewBroadcaster.
type Broadcaster[T any] struct {
	mu      sync.Mutex
	rows    []T
	dropped int // rows removed from the front of rows to respect maxHistory
	subs    map[chan struct{}]struct{}
	closed  bool
}

// NewBroadcaster returns an empty, open Broadcaster.
func NewBroadcaster[T any]() *Broadcaster[T] {
	return &Broadcaster[T]{subs: map[chan struct{}]struct{}{}}
}

// Publish appends rows and wakes every subscriber. It takes a short lock and never waits
// for a subscriber. Rows published after Close are discarded.
func (b *Broadcaster[T]) Publish(rows ...T) {
	if len(rows) == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	b.rows = append(b.rows, rows...)
	if over := len(b.rows) - maxHistory; over > 0 {
		b.rows = append(b.rows[:0], b.rows[over:]...)
		b.dropped += over
	}
	for wake := range b.subs {
		select {
		case wake <- struct{}{}:
		default: // a wake-up is already pending
		}
	}
}

// Since returns a copy of the rows with sequence numbers from next on and the sequence
// number after the last of them. Sequence numbers count every row ever published, from 0,
// so a client that resumes with its last number misses nothing still kept.
func (b *Broadcaster[T]) Since(next int) ([]T, int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	end := b.dropped + len(b.rows)
	if next < b.dropped {
		next = b.dropped
	}
	if next >= end {
		return nil, end
	}
	return append([]T(nil), b.rows[next-b.dropped:]...), end
}

// Subscribers returns the number of subscribers.
func (b *Broadcaster[T]) Subscribers() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.subs)
}

// Close wakes every subscriber for the last time; Wait then returns false.
func (b *Broadcaster[T]) Close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	b.closed = true
	for wake := range b.subs {
		close(wake)
		delete(b.subs, wake)
	}
}

// Subscription is one viewer's place in a Broadcaster's stream.
type Subscription[T any] struct {
	b    *Broadcaster[T]
	wake chan struct{}
	next int
}

// Subscribe returns a subscription that starts at sequence number from. Call Cancel when
// the viewer leaves.
func (b *Broadcaster[T]) Subscribe(from int) *Subscription[T] {
	s := &Subscription[T]{b: b, wake: make(chan struct{}, 1), next: from}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		close(s.wake)
	} else {
		b.subs[s.wake] = struct{}{}
	}
	return s
}

// Next returns the rows not yet returned, waiting for some until ctx is done or the
// Broadcaster is closed. first is the sequence number of rows[0]. ok is false when no rows
// remain and none will come.
func (s *Subscription[T]) Next(ctx context.Context) (rows []T, first int, ok bool) {
	for {
		from := s.next
		rows, s.next = s.b.Since(from)
		if len(rows) > 0 {
			return rows, s.next - len(rows), true
		}
		select {
		case <-ctx.Done():
			return nil, s.next, false
		case _, open := <-s.wake:
			if !open {
				rows, s.next = s.b.Since(s.next)
				return rows, s.next - len(rows), len(rows) > 0
			}
		}
	}
}

// Cancel removes the subscription from its Broadcaster.
func (s *Subscription[T]) Cancel() {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	if _, ok := s.b.subs[s.wake]; ok {
		delete(s.b.subs, s.wake)
		close(s.wake)
	}
}
