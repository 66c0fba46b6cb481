package app

import (
	"context"
	"errors"
	"time"

	"github.com/eldersafe/eldersafe/tasks"
)

// A simulation may drive the monitor in process (the trust report runs a
// month of a thousand households this way): messages go straight to ingest's
// pipeline, the entry the broker's workers use, without MQTT round-trips, and
// the caller watches what happens to tasks.

// errNotSimulation refuses in-process delivery outside a simulation: it
// bypasses the broker's authentication.
var errNotSimulation = errors.New("in-process delivery is only for a simulation on the event clock (clock: event, --simulation)")

// Deliver hands one message to ingest as the broker would (ingest.Intake's
// Handle): a device's message or a clock tick on {prefix}/sim/clock.
func (m *Monitor) Deliver(ctx context.Context, topic string, payload []byte) (<-chan struct{}, error) {
	if !m.cfg.Simulation || !m.decide.EventClock() {
		return nil, errNotSimulation
	}
	return m.intake.Handle(ctx, topic, payload)
}

// WatchTasks has fn called with every committed change of a task (the
// task after it, the tasks.Change* event, and the monitor's now), as the
// console's feed gets them but without its buffer: fn must not block. Only
// one watcher; nil stops watching.
func (m *Monitor) WatchTasks(fn func(t tasks.Task, event string, now time.Time)) {
	if fn == nil {
		m.watch.Store(nil)
		return
	}
	m.watch.Store(&fn)
}
