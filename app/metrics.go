package app

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/eldersafe/eldersafe/rules"
	"github.com/eldersafe/eldersafe/store"
	"github.com/eldersafe/eldersafe/tasks"
)

// newAckOverdue registers eldersafe_task_ack_overdue_total and returns what
// the tasks service calls for each task nobody acknowledged in time.
func newAckOverdue(reg prometheus.Registerer) func() {
	return promauto.With(reg).NewCounter(prometheus.CounterOpts{
		Name: "eldersafe_task_ack_overdue_total",
		Help: "Tasks that escalated because nobody acknowledged them by their acknowledgement deadline.",
	}).Inc
}

// storeCollector reads gauges that the store knows at scrape time, so they are
// right after a restart without any bookkeeping.
type storeCollector struct {
	db  *store.DB
	log *slog.Logger
}

var (
	tasksOpenDesc     = prometheus.NewDesc("eldersafe_tasks_open", "Tasks not yet resolved or cancelled, by severity and kind.", []string{"severity", "kind"}, nil)
	householdsDesc    = prometheus.NewDesc("eldersafe_households", "Registered households.", nil, nil)
	outboxPendingDesc = prometheus.NewDesc("eldersafe_outbox_pending",
		"Notices in the outbox not yet sent or failed: due, waiting for a retry, or held for quiet hours.", nil, nil)
	outboxDueDesc = prometheus.NewDesc("eldersafe_outbox_oldest_due_seconds",
		"Wall seconds the longest-waiting due notice has been due; 0 when none is due.", nil, nil)
)

func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- tasksOpenDesc
	ch <- householdsDesc
	ch <- outboxPendingDesc
	ch <- outboxDueDesc
}

func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	counts, err := c.db.OpenTaskCounts(ctx)
	if err != nil {
		c.log.Error("collect open tasks", "err", err)
	}
	if err == nil {
		// Every series, zeros included, so a dashboard sees "none open" rather than "no data".
		for _, sev := range rules.Severities {
			for _, kind := range tasks.Kinds {
				n := counts[[2]string{string(sev), string(kind)}]
				ch <- prometheus.MustNewConstMetric(tasksOpenDesc, prometheus.GaugeValue, float64(n), string(sev), string(kind))
			}
		}
	}
	now := time.Now()
	if pending, oldest, err := c.db.OutboxBacklog(ctx, now); err != nil {
		c.log.Error("collect outbox backlog", "err", err)
	} else {
		due := 0.0
		if !oldest.IsZero() {
			due = max(0, now.Sub(oldest).Seconds())
		}
		ch <- prometheus.MustNewConstMetric(outboxPendingDesc, prometheus.GaugeValue, float64(pending))
		ch <- prometheus.MustNewConstMetric(outboxDueDesc, prometheus.GaugeValue, due)
	}
	households, _, err := c.db.Counts(ctx)
	if err != nil {
		c.log.Error("collect households", "err", err)
		return
	}
	ch <- prometheus.MustNewConstMetric(householdsDesc, prometheus.GaugeValue, float64(households))
}
