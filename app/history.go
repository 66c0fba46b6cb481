package app

import (
	"context"
	"fmt"

	"github.com/eldersafe/eldersafe/history"
	"github.com/eldersafe/eldersafe/history/influx"
	"github.com/eldersafe/eldersafe/rules"
	"github.com/eldersafe/eldersafe/tasks"
)

// historyParts is the readings history (docs/operations.md#readings-history):
// InfluxDB when influxdb.url is set, else the store's hourly roll-up.
type historyParts struct {
	recorder history.Recorder
	charts   history.Charts
	influx   *influx.Writer  // nil without InfluxDB
	rollup   *history.Rollup // nil with InfluxDB

	stopRollup context.CancelFunc
	rollupDone chan struct{}
}

// startHistory sets the history up. It must run before ingest and the task
// service start, which feed it.
func (m *Monitor) startHistory(ctx context.Context) error {
	h := &m.hist
	if c := m.cfg.InfluxDB; c.URL != "" {
		w, err := influx.New(influx.Options{
			URL:        c.URL,
			Token:      c.Token,
			Org:        c.Org,
			Bucket:     c.Bucket,
			Logger:     m.log.With("component", "influxdb"),
			Registerer: m.reg,
		})
		if err != nil {
			return err
		}
		h.influx, h.recorder, h.charts = w, w, w
		m.log.Info("readings history goes to InfluxDB", "url", c.URL, "bucket", c.Bucket)
		return nil
	}
	r, err := history.NewRollup(ctx, history.RollupOptions{
		Store:      m.db,
		Now:        m.clock.Now,
		Logger:     m.log.With("component", "rollup"),
		Registerer: m.reg,
	})
	if err != nil {
		return fmt.Errorf("readings roll-up: %w", err)
	}
	h.rollup, h.recorder, h.charts = r, r, r
	h.rollupDone = m.goRun(&h.stopRollup, r.Run)
	return nil
}

// accept is ingest's Handle: it applies a reading and, once its effect is
// stored, records it in the history. A reading whose handling failed comes
// again and is recorded then.
func (m *Monitor) accept(ctx context.Context, r rules.Reading) error {
	// Held until the reading is recorded: a household deleted meanwhile is
	// forgotten after it (forget.go), and one deleted before is not touched.
	m.forget.mu.RLock()
	defer m.forget.mu.RUnlock()
	if m.forget.deleted(r.HouseholdID) {
		return nil
	}
	if err := m.handle(ctx, r); err != nil {
		return err
	}
	m.hist.recorder.Reading(r)
	return nil
}

// taskChanged is the task service's Changed: it records the change in the
// history. It never blocks.
func (m *Monitor) taskChanged(t tasks.Task, event string) {
	m.hist.recorder.TaskChanged(history.TaskEvent{
		At:          m.clock.Now(),
		TaskID:      t.ID,
		HouseholdID: t.HouseholdID,
		Rule:        t.Rule,
		Severity:    string(t.Severity),
		Kind:        string(t.Kind),
		Event:       event,
		State:       string(t.State),
		AssigneeID:  t.AssigneeID,
		Outcome:     t.Outcome,
	})
}

// closeHistory writes what the history still holds: the roll-up's last sums,
// or InfluxDB's queue and the client's buffer (within a time limit). It runs
// in Close once ingest, the timers and the API have stopped, before the
// store closes. InfluxDB failing to take the last points is logged, not
// returned: it must not make a clean stop look like a failure.
func (m *Monitor) closeHistory() {
	h := &m.hist
	stop(h.stopRollup, h.rollupDone)
	if h.influx != nil {
		if err := h.influx.Close(); err != nil {
			m.log.Error("readings history: points lost at shutdown", "err", err)
		}
	}
}
