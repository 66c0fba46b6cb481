package app

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/eldersafe/eldersafe/rules"
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
	if err == nil {
		// Every series, zeros included, so a dashboard sees "none open" rather than "no data".
		for _, sev := range rules.Severities {
			for _, kind := range []rules.TaskKind{rules.Visit, rules.Maintenance} {
				n := counts[[2]string{string(sev), string(kind)}]
				ch <- prometheus.MustNewConstMetric(tasksOpenDesc, prometheus.GaugeValue, float64(n), string(sev), string(kind))
			}
		}
	}
	households, _, err := c.db.Counts(ctx)
	if err != nil {
		c.log.Error("collect households", "err", err)
		return
	}
	ch <- prometheus.MustNewConstMetric(householdsDesc, prometheus.GaugeValue, float64(households))
}
