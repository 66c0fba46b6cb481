package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/eldersafe/eldersafe/ingest"
	"github.com/eldersafe/eldersafe/tasks"
)

// A simulation may drive the monitor in process (the trust report runs a
// month of a thousand households this way): messages go straight to ingest's
// pipeline, the entry the broker's workers use, without MQTT round-trips, and
// the caller watches what happens to tasks.

// errNotSimulation refuses in-process delivery outside a simulation: it
// bypasses the broker's authentication.
var errNotSimulation = errors.New("in-process delivery is only for a simulation on the event clock (clock: event, --simulation)")

// Deliver hands one message to ingest as the broker would: a device's message
// or a clock tick on {prefix}/sim/clock. It returns once the message is
// applied and its tasks are stored; the channel closes once the rules' state
// it changed is stored too. A rejected message returns an *ingest.RejectError
// and changes nothing.
func (m *Monitor) Deliver(ctx context.Context, topic string, payload []byte) (<-chan struct{}, error) {
	if !m.cfg.Simulation || !m.decide.EventClock() {
		return nil, errNotSimulation
	}
	if topic != m.intake.ClockTopic() {
		return m.pipeline.Ingest(ctx, topic, payload)
	}
	ts, err := ingest.DecodeTick(payload, m.decide.FutureBound())
	if err != nil {
		return nil, err
	}
	durable, err := m.decide.Advance(ctx, ts)
	if err != nil {
		return nil, fmt.Errorf("tick: %w", err)
	}
	return durable, nil
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

// AnswerCheck answers a task's check in process, as a family contact's
// answer link or a resident's wristband would: the trust report's simulated
// families and residents answer this way. Only in a simulation.
func (m *Monitor) AnswerCheck(ctx context.Context, taskID string, req tasks.AnswerRequest) (tasks.Task, error) {
	if !m.cfg.Simulation || !m.decide.EventClock() {
		return tasks.Task{}, errNotSimulation
	}
	return m.tasks.AnswerCheck(ctx, taskID, req)
}
