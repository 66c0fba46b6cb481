package store

import (
	"context"
	"slices"
	"sync"
)

// writeQueue orders the write transactions waiting for SQLite's one writer
// connection: those of an alarm (tasks.Urgent) go before the others, which
// keep their order. database/sql hands a freed connection to a waiter
// drawn at random, so an alarm's task waited behind any of the rules'
// group commits of thousands of states, the readings roll-up, the outbox
// and the audit (docs/performance.md, "Sixteenth round").
type writeQueue struct {
	mu     sync.Mutex
	busy   bool
	urgent []chan struct{}
	normal []chan struct{}
}

// enter waits for the writer's turn; the caller calls leave once its
// transaction is over. It fails only when ctx ends first.
func (q *writeQueue) enter(ctx context.Context, urgent bool) error {
	q.mu.Lock()
	if !q.busy {
		q.busy = true
		q.mu.Unlock()
		return nil
	}
	turn := make(chan struct{})
	if urgent {
		q.urgent = append(q.urgent, turn)
	} else {
		q.normal = append(q.normal, turn)
	}
	q.mu.Unlock()
	select {
	case <-turn:
		return nil
	case <-ctx.Done():
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	select {
	case <-turn:
		// Given the turn as ctx ended: pass it on.
		q.next()
	default:
		mine := func(w chan struct{}) bool { return w == turn }
		q.urgent = slices.DeleteFunc(q.urgent, mine)
		q.normal = slices.DeleteFunc(q.normal, mine)
	}
	return ctx.Err()
}

// leave gives the writer to the next in line.
func (q *writeQueue) leave() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.next()
}

func (q *writeQueue) next() {
	var turn chan struct{}
	switch {
	case len(q.urgent) > 0:
		turn, q.urgent = q.urgent[0], q.urgent[1:]
	case len(q.normal) > 0:
		turn, q.normal = q.normal[0], q.normal[1:]
	default:
		q.busy = false
		return
	}
	close(turn)
}
