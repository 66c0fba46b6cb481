package app

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/eldersafe/eldersafe/store"
)

// storeCollector reads gauges that the store knows at scrape time, so they are
// right after a restart without any bookkeeping.
type storeCollector struct {
	db  *store.DB
	log *slog.Logger
}

var (
	tasksOpenDesc  = prometheus.NewDesc("eldersafe_tasks_open", "Tasks not yet resolved or cancelled, by severity and kind.", []string{"severity", "kind"}, nil)
	householdsDesc = prometheus.NewDesc("eldersafe_households", "Registered households.", nil, nil)
)

func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- tasksOpenDesc
	ch <- householdsDesc
}

func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	counts, err := c.db.OpenTaskCounts(ctx)
	if err != nil {
		c.log.Error("collect open tasks", "err", err)
	}
	for k, n := range counts {
		ch <- prometheus.MustNewConstMetric(tasksOpenDesc, prometheus.GaugeValue, float64(n), k[0], k[1])
	}
	households, _, err := c.db.Counts(ctx)
	if err != nil {
		c.log.Error("collect households", "err", err)
		return
	}
	ch <- prometheus.MustNewConstMetric(householdsDesc, prometheus.GaugeValue, float64(households))
}
