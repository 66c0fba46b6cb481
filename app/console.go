package app

import (
	"context"

	"github.com/eldersafe/eldersafe/tasks"
)

// The web console's live updates: every committed task change goes to the
// feed, which fans it out to the open event streams (GET /api/v1/events).

// newFeed creates the task change feed.
func (m *Monitor) newFeed() (*tasks.Feed, error) {
	return tasks.NewFeed(tasks.FeedOptions{
		GridOf: func(ctx context.Context, householdID string) (string, error) {
			h, err := m.db.Household(ctx, householdID)
			return h.GridID, err
		},
		Logger: m.log.With("component", "events"),
	})
}

// changed is the task service's Changed: the history records the change and
// the feed tells the console. Neither blocks.
func (m *Monitor) changed(t tasks.Task, event string) {
	m.taskChanged(t, event)
	m.feed.Publish(t, event)
	if w := m.watch.Load(); w != nil {
		(*w)(t, event, m.clock.Now())
	}
}
