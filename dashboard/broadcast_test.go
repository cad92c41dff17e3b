package dashboard

import (
	"context"
	"testing"
	"time"
)

func TestBroadcasterDeliversInOrder(t *testing.T) {
	b := NewBroadcaster[int]()
	b.Publish(0, 1)
	sub := b.Subscribe(0)
	defer sub.Cancel()
	rows, first, ok := sub.Next(context.Background())
	if !ok || first != 0 || len(rows) != 2 || rows[1] != 1 {
		t.Fatalf("Next = %v, %d, %v; want [0 1] from 0", rows, first, ok)
	}
	go func() {
		time.Sleep(10 * time.Millisecond)
		b.Publish(2)
	}()
	rows, first, ok = sub.Next(context.Background())
	if !ok || first != 2 || len(rows) != 1 || rows[0] != 2 {
		t.Fatalf("Next after Publish = %v, %d, %v; want [2] from 2", rows, first, ok)
	}
}

// TestPublishNeverWaitsForSubscribers checks that Publish returns at once while a
// subscriber reads nothing, and that the subscriber then gets every row in one batch.
func TestPublishNeverWaitsForSubscribers(t *testing.T) {
	b := NewBroadcaster[int]()
	stuck := b.Subscribe(0)
	defer stuck.Cancel()
	done := make(chan struct{})
	go func() {
		for i := range 10_000 {
			b.Publish(i)
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Publish blocked on a subscriber that reads nothing")
	}
	rows, first, ok := stuck.Next(context.Background())
	if !ok || first != 0 || len(rows) != 10_000 {
		t.Fatalf("Next = %d rows from %d, %v; want all 10000 from 0", len(rows), first, ok)
	}
}

func TestBroadcasterKeepsMaxHistory(t *testing.T) {
	b := NewBroadcaster[int]()
	for i := range maxHistory + 5 {
		b.Publish(i)
	}
	rows, end := b.Since(0)
	if end != maxHistory+5 || len(rows) != maxHistory || rows[0] != 5 {
		t.Fatalf("Since(0) = %d rows from %d, end %d; want %d rows from 5, end %d", len(rows), rows[0], end, maxHistory, maxHistory+5)
	}
}

func TestCloseEndsSubscriptions(t *testing.T) {
	b := NewBroadcaster[int]()
	sub := b.Subscribe(0)
	go func() {
		time.Sleep(10 * time.Millisecond)
		b.Close()
	}()
	if _, _, ok := sub.Next(context.Background()); ok {
		t.Fatal("Next after Close returned ok")
	}
	sub.Cancel() // after Close, Cancel is a no-op
	if n := b.Subscribers(); n != 0 {
		t.Errorf("subscribers after Close = %d; want 0", n)
	}
	late := b.Subscribe(0)
	if _, _, ok := late.Next(context.Background()); ok {
		t.Error("Next on a subscription made after Close returned ok")
	}
	b.Publish(1)
	if rows, _ := b.Since(0); len(rows) != 0 {
		t.Errorf("rows published after Close were kept: %v", rows)
	}
}
