package dispatch_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/dispatch"
	"github.com/eldersafe/eldersafe/rules"
	"github.com/eldersafe/eldersafe/tasks"
	"github.com/eldersafe/eldersafe/testkit"
)

// One device's messages move the event clock at most DefaultMaxJump (1 h)
// past now: a wristband stamping its messages days ahead does not escalate
// other tasks. Its fall still opens a task, stamped now. Ticks, the
// simulator's, move the clock as far as they say.
func TestHandle_EventClockJump(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.run(t)
	now := func() time.Time { return e.d.Now() }
	handle := func(r rules.Reading) {
		t.Helper()
		durable, err := e.d.Handle(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		if !closedWithin(durable, 5*time.Second) {
			t.Fatal("not durable")
		}
	}

	// A fall at t0 opens a task due for acknowledgement within 5 minutes.
	handle(fall(t0))
	opened := e.tasksOf(t, rules.RuleFall)
	if len(opened) != 1 || opened[0].State != tasks.Open {
		t.Fatalf("fall tasks %+v", opened)
	}
	fallTask := func() tasks.Task {
		t.Helper()
		got, err := e.db.Task(ctx, opened[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}

	steps := []struct {
		name    string
		reading rules.Reading
		want    time.Time // now after it
		refused float64   // jumps refused so far
		state   tasks.State
	}{
		{"sixty days ahead", motion(t0.Add(60 * 24 * time.Hour)), t0, 1, tasks.Open},
		{"just past the jump", motion(t0.Add(time.Hour + time.Millisecond)), t0, 2, tasks.Open},
		{"within it", motion(t0.Add(time.Hour)), t0.Add(time.Hour), 2, tasks.Escalated},
	}
	for _, st := range steps {
		handle(st.reading)
		if !now().Equal(st.want) {
			t.Errorf("%s: now %s, want %s", st.name, now(), st.want)
		}
		if got := testkit.MetricValue(t, e.reg, "eldersafe_event_clock_jumps_refused_total"); got != st.refused {
			t.Errorf("%s: %v jumps refused, want %v", st.name, got, st.refused)
		}
		if got := fallTask().State; got != st.state {
			t.Errorf("%s: the fall task is %s, want %s", st.name, got, st.state)
		}
	}

	// A fall stamped days ahead is not lost: it is applied at now.
	handle(fall(t0.Add(10 * 24 * time.Hour)))
	if ev := fallTask().Evidence; len(ev) != 2 || !ev[1].At.Equal(t0.Add(time.Hour)) {
		t.Errorf("the far-ahead fall's evidence %+v, want a second piece stamped %s", ev, t0.Add(time.Hour))
	}

	// The simulator's tick moves the clock any distance (up to 7 days).
	if at, err := e.d.Tick(ctx, t0.Add(3*24*time.Hour)); err != nil || !at.Equal(t0.Add(3*24*time.Hour)) {
		t.Errorf("tick 3 days ahead: now %s, %v", at, err)
	}
	// ... and no further: the refusal says so once, with the now it is held to.
	far := t0.Add(11 * 24 * time.Hour)
	_, err := e.d.Tick(ctx, far)
	if want := "ts 2026-03-13T01:00:00Z is more than 7 days ahead of now (2026-03-05T01:00:00Z)"; !errors.Is(err, dispatch.ErrTooFarAhead) || fmt.Sprint(err) != want {
		t.Errorf("tick 11 days ahead: %v, want %q", err, want)
	}
}
