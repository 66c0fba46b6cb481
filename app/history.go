package app

import (
	"context"
	"fmt"
	"time"

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
	r, err := history.NewRollup(history.RollupOptions{
		Store:      m.db,
		Clock:      m.clock,
		Logger:     m.log.With("component", "rollup"),
		Registerer: m.reg,
	})
	if err != nil {
		return fmt.Errorf("readings roll-up: %w", err)
	}
	h.rollup, h.recorder, h.charts = r, r, r
	return nil
}

// runHistory runs the roll-up, which writes to the store: with the rest of
// the work (app.work), so that a standby writes nothing. It first has the
// meters count on from the registers saved, by this monitor before a
// restart or by the one a standby takes over from, without holding up the
// first message: readings wait for them (history.Rollup.Hold). At a million
// households they are 3 to 4 CPU-seconds, a second of the restart
// (docs/performance.md, "Restart, ninth round").
func (m *Monitor) runHistory() {
	r := m.hist.rollup
	if r == nil {
		return
	}
	r.Hold()
	m.parts.run("history", func(ctx context.Context) error {
		start := time.Now()
		if err := r.LoadRegisters(ctx); err != nil {
			if ctx.Err() != nil {
				return nil // stopped first: what was held is left out of the charts
			}
			return err
		}
		m.log.Info("meter registers loaded; the roll-up counts on", "took", time.Since(start).Round(time.Millisecond))
		return r.Run(ctx)
	})
}

// Reading records a reading whose effect is stored (dispatch.History).
func (h *historyParts) Reading(r rules.Reading) { h.recorder.Reading(r) }

// Forget erases a deleted household's history: the roll-up's sums, or its
// points in InfluxDB once what was queued for it is written.
func (h *historyParts) Forget(ctx context.Context, householdID string) error {
	if h.rollup != nil {
		return h.rollup.Forget(ctx, householdID)
	}
	if h.influx != nil {
		return h.influx.DeleteHousehold(ctx, householdID)
	}
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
	if h := &m.hist; h.influx != nil {
		if err := h.influx.Close(); err != nil {
			m.log.Error("readings history: points lost at shutdown", "err", err)
		}
	}
}
