package app_test

import (
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/app"
	"github.com/eldersafe/eldersafe/app/apptest"
)

// staffedHousehold provisions grid g1 with its primary worker w1, backup
// worker w2 and supervisor s1, each on their own push endpoint, and household
// h1 with a family contact on push and a wristband; it returns the
// wristband's secret.
func (m *monitor) staffedHousehold(w1, w2, s1, family *pushServer) string {
	m.t.Helper()
	m.MustCall("POST", "/api/v1/grids", map[string]any{"id": "g1", "name": "Grid 1", "backup_worker_id": "w2", "supervisor_id": "s1"}, 201, nil)
	for _, w := range []struct {
		id, role string
		push     *pushServer
	}{{"w1", "grid_worker", w1}, {"w2", "grid_worker", w2}, {"s1", "supervisor", s1}} {
		m.MustCall("POST", "/api/v1/workers", map[string]any{"id": w.id, "name": "Worker " + w.id, "phone": "+8613800000001",
			"grid_ids": []string{"g1"}, "role": w.role, "push_url": w.push.URL}, 201, nil)
	}
	m.MustCall("POST", "/api/v1/households", map[string]any{"id": "h1", "name": "Li Guiying", "address": "Room 401", "grid_id": "g1",
		"contacts": []map[string]any{{"name": "Li Wei", "relation": "son", "push_url": family.URL, "channels": []string{"push"}}}}, 201, nil)
	var dev struct {
		Secret string `json:"secret"`
	}
	m.MustCall("POST", "/api/v1/devices", map[string]any{"id": "wb-1", "kind": "wristband", "household_id": "h1"}, 201, &dev)
	return dev.Secret
}

func (m *monitor) task(id string) task {
	m.t.Helper()
	var out task
	m.MustCall("GET", "/api/v1/tasks/"+id, nil, 200, &out)
	return out
}

// TestEscalationUnderEventClock: deadlines pass as event time moves, by a
// tick or by a device message, and escalate at once, counted in /metrics.
func TestEscalationUnderEventClock(t *testing.T) {
	m := startMonitor(t, "", func(c *app.Config) { c.Clock, c.Simulation = app.ClockEvent, true })
	w1, w2, s1, family := newPushServer(t), newPushServer(t), newPushServer(t), newPushServer(t)
	secret := m.staffedHousehold(w1, w2, s1, family)
	start := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	tick := func(at time.Time) {
		t.Helper()
		m.MustCall("POST", "/api/v1/clock", map[string]any{"ts": at.Format(time.RFC3339)}, 200, nil)
	}
	tick(start)

	var opened task
	m.MustCall("POST", "/api/v1/tasks", map[string]any{"household_id": "h1", "reason": "she phoned: chest pain", "severity": "critical"}, 201, &opened)
	tick(start.Add(5*time.Minute - time.Second))
	if st := m.task(opened.ID).State; st != "open" {
		t.Fatalf("before the deadline: %s", st)
	}
	// The tick is answered once the escalation is stored.
	tick(start.Add(5 * time.Minute))
	if st := m.task(opened.ID).State; st != "escalated" {
		t.Fatalf("at the deadline: %s, want escalated", st)
	}
	if n := m.Metric("eldersafe_task_ack_overdue_total"); n != 1 {
		t.Errorf("eldersafe_task_ack_overdue_total = %v, want 1", n)
	}
	apptest.Eventually(t, "backup worker and supervisor reached", func() bool {
		return len(w2.requests()) == 1 && len(s1.requests()) == 1
	})
	apptest.Eventually(t, "assignee and family told twice (opened, escalated)", func() bool {
		return len(w1.requests()) == 2 && len(family.requests()) == 2
	})

	// Acknowledged but nobody on site: a device message past resolve_due_at
	// (72 h) moves the clock and escalates the task again. Ticks bring the
	// clock near it: a device moves it at most clock_max_jump.
	m.MustCall("POST", "/api/v1/tasks/"+opened.ID+"/ack", map[string]any{"worker_id": "w2"}, 200, nil)
	tick(start.Add(71*time.Hour + 30*time.Minute))
	if st := m.task(opened.ID).State; st != "acknowledged" {
		t.Fatalf("before the resolve deadline: %s", st)
	}
	band := m.Device("wb-1", secret)
	apptest.Publish(t, band, "eldersafe/v1/devices/wb-1/telemetry", map[string]any{"ts": start.Add(72*time.Hour + time.Minute).Format(time.RFC3339), "battery_pct": 80})
	apptest.Eventually(t, "escalated for the resolve deadline", func() bool { return m.task(opened.ID).State == "escalated" })
	if n := m.Metric("eldersafe_task_ack_overdue_total"); n != 1 {
		t.Errorf("eldersafe_task_ack_overdue_total = %v after a resolve deadline, want still 1", n)
	}
}

// TestEscalationUnderWallClock: the timers escalate a task whose deadline
// passes in real time.
func TestEscalationUnderWallClock(t *testing.T) {
	m := startMonitor(t, "", func(c *app.Config) { c.Tasks.AckDeadline.Critical = time.Second })
	w1, w2, s1, family := newPushServer(t), newPushServer(t), newPushServer(t), newPushServer(t)
	m.staffedHousehold(w1, w2, s1, family)
	var opened task
	m.MustCall("POST", "/api/v1/tasks", map[string]any{"household_id": "h1", "reason": "she phoned: chest pain", "severity": "critical"}, 201, &opened)
	apptest.Eventually(t, "escalated by the timers", func() bool { return m.task(opened.ID).State == "escalated" })
	apptest.Eventually(t, "counted", func() bool { return m.Metric("eldersafe_task_ack_overdue_total") == 1 })
	apptest.Eventually(t, "backup worker reached", func() bool { return len(w2.requests()) == 1 })
}
