package api

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/eldersafe/eldersafe/tasks"
)

// fixedClock is the tasks service's clock in tests.
type fixedClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fixedClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fixedClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// plainComposer writes notices without templates.
type plainComposer struct{}

func (plainComposer) Compose(m tasks.Message) (string, string, error) {
	return m.Task.Rule, m.Event + " " + m.Task.Rule + " at " + m.Household.Name, nil
}

// fakeEventClock records the times it was ticked to; err, when set, is what
// Tick returns.
type fakeEventClock struct {
	mu       sync.Mutex
	advanced []time.Time
	err      error
}

func (c *fakeEventClock) Tick(_ context.Context, ts time.Time) (time.Time, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return time.Time{}, c.err
	}
	c.advanced = append(c.advanced, ts)
	now := ts
	for _, t := range c.advanced {
		if t.After(now) {
			now = t
		}
	}
	return now, nil
}

func (c *fakeEventClock) calls() []time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.advanced)
}
