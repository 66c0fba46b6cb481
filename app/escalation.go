package app

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Task deadlines: tasks.Service.Escalate runs at every wall-clock tick
// (runTimers) or, under the event clock, after every move of the clock
// (handle, advance), so a simulation escalates at the same event times
// however fast it runs.

// newAckOverdue registers eldersafe_task_ack_overdue_total and returns what
// the tasks service calls for each task nobody acknowledged in time.
func newAckOverdue(reg prometheus.Registerer) func() {
	return promauto.With(reg).NewCounter(prometheus.CounterOpts{
		Name: "eldersafe_task_ack_overdue_total",
		Help: "Tasks that escalated because nobody acknowledged them by their acknowledgement deadline.",
	}).Inc
}

// escalate escalates the tasks whose deadlines the clock has passed. A
// failure is logged, not returned: the reading or tick that moved the clock
// is handled all the same, and the next tick tries again.
func (m *Monitor) escalate(ctx context.Context) {
	if _, err := m.tasks.Escalate(ctx); err != nil {
		m.log.Error("escalate overdue tasks", "err", err)
	}
}
