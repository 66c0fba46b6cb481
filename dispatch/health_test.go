package dispatch_test

import (
	"context"
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/rules"
)

// A home whose every welfare sensor fell silent gets one unmonitored task,
// however long it stays so.
func TestUnmonitoredTask(t *testing.T) {
	e := newEnv(t) // h1's PIR registered at t0, silent since
	e.run(t)
	ctx := context.Background()
	for _, at := range []time.Duration{2 * time.Hour, 4 * time.Hour, 8 * time.Hour, 30 * time.Hour} {
		durable, err := e.d.Advance(ctx, t0.Add(at))
		if err != nil {
			t.Fatal(err)
		}
		if !closedWithin(durable, 5*time.Second) {
			t.Fatalf("advance to %v not durable", at)
		}
		want := 1
		if at < 3*time.Hour {
			want = 0
		}
		if got := e.tasksOf(t, rules.RuleUnmonitored); len(got) != want {
			t.Fatalf("after %v: %d unmonitored tasks, want %d", at, len(got), want)
		}
	}
	task := e.tasksOf(t, rules.RuleUnmonitored)[0]
	if task.Severity != rules.High || task.Kind != rules.Maintenance || !task.OpenedAt.Equal(t0.Add(4*time.Hour)) {
		t.Errorf("task %+v", task)
	}
	if m := e.d.Monitoring("h1"); m.State != rules.MonitoringUnmonitored || len(m.StaleSignals) != 1 || m.StaleSignals[0] != "motion" {
		t.Errorf("monitoring %+v", m)
	}
}
