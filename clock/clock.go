// Package clock is the time the monitor runs on: the wall clock in production,
// or the event clock, which follows the newest event time seen, for simulation
// at accelerated speed and for tests.
package clock

import (
	"sync"
	"time"
)

// Clock tells the time.
type Clock interface{ Now() time.Time }

// Func adapts a function to a Clock, e.g. a test's fixed time.
type Func func() time.Time

func (f Func) Now() time.Time { return f() }

// Wall is the real time.
type Wall struct{}

func (Wall) Now() time.Time { return time.Now() }

// Event is a clock moved only by events: now is the newest time it was advanced
// to, it never goes backwards, and before the first advance it has not started.
// It is safe for concurrent use.
type Event struct {
	mu  sync.Mutex
	now time.Time
}

// NewEvent returns an event clock at start; a zero start means not started.
func NewEvent(start time.Time) *Event {
	return &Event{now: start.UTC()}
}

// Now is the newest time the clock was advanced to, zero before the first.
func (e *Event) Now() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.now
}

// Started reports whether the clock has been advanced at least once.
func (e *Event) Started() bool { return !e.Now().IsZero() }

// Advance moves the clock to t if t is later, and reports whether it moved.
func (e *Event) Advance(t time.Time) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !t.After(e.now) {
		return false
	}
	e.now = t.UTC()
	return true
}
