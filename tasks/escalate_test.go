package tasks_test

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
	"github.com/eldersafe/eldersafe/tasks"
)

// escalate runs Escalate and fails the test on an error.
func (e *env) escalate(t *testing.T) int {
	t.Helper()
	n, err := e.svc.Escalate(context.Background())
	if err != nil {
		t.Fatalf("Escalate: %v", err)
	}
	return n
}

// TestEscalate_AckDeadline: an open task escalates when its severity's
// acknowledgement deadline passes, not a millisecond before, and only once.
func TestEscalate_AckDeadline(t *testing.T) {
	for _, tc := range []struct {
		rule string
		sev  rules.Severity
		wait time.Duration
	}{
		{rules.RuleFall, rules.Critical, 5 * time.Minute},
		{rules.RuleWaterNoUse, rules.High, 30 * time.Minute},
		{rules.RuleNoExit, rules.Medium, 4 * time.Hour},
		{rules.RuleManual, rules.Low, 24 * time.Hour},
	} {
		t.Run(string(tc.sev), func(t *testing.T) {
			t.Parallel()
			e, rec := newRecordingEnv(t, envOptions{})
			task, _ := e.raise(t, alert(hhMain, tc.rule, tc.sev, rules.Visit, t0, "what the rule saw"))
			calls := e.notified.Load()

			e.advance(tc.wait - time.Millisecond)
			if n := e.escalate(t); n != 0 || e.task(t, task.ID).State != tasks.Open {
				t.Fatalf("a millisecond early: Escalate = %d, task %s; want nothing", n, e.task(t, task.ID).State)
			}
			now := e.advance(time.Millisecond)
			if n := e.escalate(t); n != 1 {
				t.Fatalf("at the deadline: Escalate = %d, want 1", n)
			}
			got := e.task(t, task.ID)
			if got.State != tasks.Escalated || got.EscalatedAt == nil || !got.EscalatedAt.Equal(now) || got.AssigneeID != ownerID {
				t.Errorf("task %s escalated at %v owned by %q; want escalated at %v, still %s's", got.State, got.EscalatedAt, got.AssigneeID, now, ownerID)
			}
			want := tasks.TimelineEntry{At: now, Actor: tasks.ActorSystem, Type: tasks.EntryEscalated,
				Message: "not acknowledged by " + now.Format(time.RFC3339) + "; escalated to Li Ming, Zhao Supervisor",
				Data:    map[string]any{"deadline": "ack", "due_at": now.Format(time.RFC3339Nano), "escalated_to": []any{otherID, superID}}}
			if e := lastEntry(t, got); !reflect.DeepEqual(e, want) {
				t.Errorf("entry\n got %+v\nwant %+v", e, want)
			}
			// The assignee, the backup worker, the supervisor and the family.
			wantKeys := withLang(append([]noticeKey{ownerNotice, otherNotice, superNotice}, familyNotices...)...)
			if g := keysOf(e.noticesOf(t, task.ID, tasks.NoticeEscalated)); !slices.Equal(g, wantKeys) {
				t.Errorf("escalation notices\n got %v\nwant %v", g, wantKeys)
			}
			for _, m := range rec.of(tasks.NoticeEscalated) {
				if !slices.Equal(m.EscalatedTo, []string{"Li Ming", "Zhao Supervisor"}) || m.Assignee != "Wang Fang" {
					t.Errorf("escalation message to %s: escalated to %v, assignee %q", m.Role, m.EscalatedTo, m.Assignee)
				}
			}
			if e.notified.Load() != calls+1 || e.ackOverdue.Load() != 1 {
				t.Errorf("deliveries %d, AckOverdue %d times; want once each", e.notified.Load()-calls, e.ackOverdue.Load())
			}

			// Every later tick finds nothing to do.
			before := e.task(t, task.ID)
			for range 3 {
				e.advance(time.Hour)
				if n := e.escalate(t); n != 0 {
					t.Errorf("a later tick escalated %d tasks, want none", n)
				}
			}
			assertUnchanged(t, before, e.task(t, task.ID))
			if e.ackOverdue.Load() != 1 {
				t.Errorf("AckOverdue called %d times, want once", e.ackOverdue.Load())
			}
		})
	}
}

// TestEscalate_ResolveDeadline: an acknowledged task nobody reached escalates
// at resolve_due_at, once; it does not count as an overdue acknowledgement.
func TestEscalate_ResolveDeadline(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, envOptions{})
	id := e.into(t, tasks.Acknowledged)
	acked := e.task(t, id).AckedAt
	due := e.task(t, id).ResolveDueAt

	e.clk.Advance(due.Add(-time.Second))
	if n := e.escalate(t); n != 0 {
		t.Fatalf("before resolve_due_at: Escalate = %d", n)
	}
	e.clk.Advance(due)
	if n := e.escalate(t); n != 1 {
		t.Fatalf("at resolve_due_at: Escalate = %d, want 1", n)
	}
	got := e.task(t, id)
	if entry := lastEntry(t, got); got.State != tasks.Escalated || entry.Data["deadline"] != tasks.DeadlineResolve ||
		entry.Message != "nobody on site by "+due.Format(time.RFC3339)+"; escalated to Li Ming, Zhao Supervisor" {
		t.Errorf("task %s, entry %+v; want escalated for the resolve deadline", got.State, entry)
	}
	if e.ackOverdue.Load() != 0 {
		t.Errorf("AckOverdue called %d times for a resolve deadline", e.ackOverdue.Load())
	}

	// The backup worker takes it; it is acknowledged again, past the deadline,
	// and must not escalate at every tick from now on.
	e.advance(time.Minute)
	if _, err := e.svc.Ack(ctx, id, otherID); err != nil {
		t.Fatal(err)
	}
	e.advance(time.Hour)
	if n := e.escalate(t); n != 0 {
		t.Errorf("after the re-acknowledgement: Escalate = %d, want 0", n)
	}
	if got := e.task(t, id); got.State != tasks.Acknowledged || got.AssigneeID != otherID || !got.AckedAt.Equal(*acked) {
		t.Errorf("task %s owned by %s, acked %v; want acknowledged by %s, first acknowledgement %v kept", got.State, got.AssigneeID, got.AckedAt, otherID, acked)
	}
}

// TestEscalate_BothDeadlines: a task that missed its acknowledgement and,
// once acknowledged, its resolution escalates for each, and then no more.
func TestEscalate_BothDeadlines(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, envOptions{})
	id := e.openFall(t)
	e.advance(10 * time.Minute)
	if n := e.escalate(t); n != 1 {
		t.Fatalf("ack deadline: Escalate = %d", n)
	}
	if _, err := e.svc.Ack(ctx, id, ownerID); err != nil {
		t.Fatal(err)
	}
	e.advance(72 * time.Hour)
	if n := e.escalate(t); n != 1 {
		t.Fatalf("resolve deadline: Escalate = %d", n)
	}
	if _, err := e.svc.Ack(ctx, id, ownerID); err != nil {
		t.Fatal(err)
	}
	e.advance(time.Hour)
	if n := e.escalate(t); n != 0 {
		t.Errorf("third tick: Escalate = %d, want 0", n)
	}
	var deadlines []any
	for _, entry := range e.task(t, id).Timeline {
		if entry.Type == tasks.EntryEscalated {
			deadlines = append(deadlines, entry.Data["deadline"])
		}
	}
	if !reflect.DeepEqual(deadlines, []any{"ack", "resolve"}) {
		t.Errorf("escalations for %v, want [ack resolve]", deadlines)
	}
	if e.ackOverdue.Load() != 1 {
		t.Errorf("AckOverdue called %d times, want once", e.ackOverdue.Load())
	}
}

// TestEscalate_AfterRestart: deadlines live in the store, so a service
// started afresh (after a restart) escalates what the last one left.
func TestEscalate_AfterRestart(t *testing.T) {
	e := newEnv(t, envOptions{})
	id := e.openFall(t)
	e.advance(time.Hour)
	e.svc = e.newService(t, envOptions{})
	if n := e.escalate(t); n != 1 || e.task(t, id).State != tasks.Escalated {
		t.Errorf("after a restart: Escalate = %d, task %s", n, e.task(t, id).State)
	}
}

// TestEscalate_Reach: whom an escalation reaches when the grid is short of people.
func TestEscalate_Reach(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		grid    registry.Grid
		want    []any // escalated_to
		notices []noticeKey
	}{
		{"SupervisorOnly", registry.Grid{Name: "x", SupervisorID: superID}, []any{superID}, []noticeKey{superNotice}},
		{"BackupIsSupervisor", registry.Grid{Name: "x", SupervisorID: superID, BackupWorkerID: superID}, []any{superID}, []noticeKey{superNotice}},
		{"UnregisteredBackup", registry.Grid{Name: "x", SupervisorID: superID, BackupWorkerID: "ghost"}, []any{superID}, []noticeKey{superNotice}},
		{"Nobody", registry.Grid{Name: "x"}, []any{}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOptions{})
			tc.grid.ID = "g9"
			must(t, e.db.CreateGrid(ctx, tc.grid))
			must(t, e.db.CreateHousehold(ctx, registry.Household{ID: "h9", Name: "Sun Li", Address: "9 Lane", GridID: "g9", Contacts: contacts[:1]}))
			task, _ := e.raise(t, alert("h9", rules.RuleFall, rules.Critical, rules.Visit, t0, "fall"))
			if task.AssigneeID != "" {
				t.Fatalf("assignee %q: the grid has no grid worker", task.AssigneeID)
			}
			e.advance(time.Hour)
			if n := e.escalate(t); n != 1 {
				t.Fatalf("Escalate = %d, want 1", n)
			}
			got := e.task(t, task.ID)
			if entry := lastEntry(t, got); !reflect.DeepEqual(entry.Data["escalated_to"], tc.want) {
				t.Errorf("escalated to %v, want %v", entry.Data["escalated_to"], tc.want)
			}
			// The family always hears of it.
			want := withLang(append(tc.notices, familyNotices[:2]...)...)
			if g := keysOf(e.noticesOf(t, task.ID, tasks.NoticeEscalated)); !slices.Equal(g, want) {
				t.Errorf("escalation notices\n got %v\nwant %v", g, want)
			}
		})
	}
}

// TestEscalate_ManyTasks: more tasks than one store batch all escalate in one call.
func TestEscalate_ManyTasks(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, envOptions{})
	const n = 101 // one more than a batch
	must(t, e.db.Update(ctx, func(tx tasks.Tx) error {
		for i := range n {
			// Maintenance in the unstaffed grid: only the supervisor is told.
			err := tx.InsertTask(ctx, tasks.Task{ID: fmt.Sprintf("m%03d", i), HouseholdID: hhNoWorker, Rule: fmt.Sprintf("r%03d", i),
				Severity: rules.Low, Kind: rules.Maintenance, State: tasks.Open, OpenedAt: t0, AckDueAt: t0.Add(time.Hour), ResolveDueAt: t0.Add(72 * time.Hour)})
			if err != nil {
				return err
			}
		}
		return nil
	}))
	e.advance(time.Hour)
	if got := e.escalate(t); got != n {
		t.Errorf("Escalate = %d, want %d", got, n)
	}
	open, err := e.db.Tasks(ctx, tasks.Filter{State: tasks.Open})
	must(t, err)
	if len(open) != 0 || e.ackOverdue.Load() != n {
		t.Errorf("%d tasks still open, AckOverdue called %d times; want 0 and %d", len(open), e.ackOverdue.Load(), n)
	}
}

// dueCounter counts the store's DueForEscalation calls.
type dueCounter struct {
	tasks.Store
	calls atomic.Int32
}

func (c *dueCounter) DueForEscalation(ctx context.Context, now time.Time, limit int) ([]tasks.Task, error) {
	c.calls.Add(1)
	return c.Store.DueForEscalation(ctx, now, limit)
}

// TestEscalate_AsksTheStoreOnlyOnceADeadlinePassed: Escalate, called at
// every move of the clock, leaves the store alone until the earliest
// deadline it knows of passes, and learns each new task's deadline,
// however early it falls.
func TestEscalate_AsksTheStoreOnlyOnceADeadlinePassed(t *testing.T) {
	e := newEnv(t, envOptions{})
	counter := &dueCounter{Store: e.db}
	e.svc = e.newService(t, envOptions{store: counter})
	e.escalate(t) // nothing open: it learns there is no deadline
	asked := counter.calls.Load()
	e.advance(time.Minute)
	if e.escalate(t); counter.calls.Load() != asked {
		t.Errorf("with no task at all, the store was asked again")
	}

	low, _ := e.raise(t, alert(hhMain, rules.RuleBatteryLow, rules.Low, rules.Maintenance, e.clk.Now(), "battery 9%")) // 24 h
	fall := e.openFall(t)                                                                                              // 5 min
	e.escalate(t)                                                                                                      // learns the fall's deadline
	asked = counter.calls.Load()
	for range 4 {
		e.advance(time.Minute)
		if n := e.escalate(t); n != 0 {
			t.Fatalf("%d escalated before any deadline", n)
		}
	}
	if got := counter.calls.Load(); got != asked {
		t.Errorf("the store was asked %d times before any deadline passed", got-asked)
	}
	e.advance(time.Minute)
	if n := e.escalate(t); n != 1 || e.task(t, fall).State != tasks.Escalated {
		t.Fatalf("at the fall's deadline: %d escalated, fall %s", n, e.task(t, fall).State)
	}
	asked = counter.calls.Load()
	e.advance(time.Hour)
	if e.escalate(t); counter.calls.Load() > asked+2 {
		// At most: once to escalate (the gate forgot while the fall
		// escalated), once to find the next deadline.
		t.Errorf("an hour later, with the next deadline a day away, the store was asked %d times", counter.calls.Load()-asked)
	}
	asked = counter.calls.Load()
	e.advance(time.Hour)
	e.escalate(t)
	if counter.calls.Load() != asked {
		t.Errorf("two hours later the store was asked again, with the next deadline a day away")
	}
	e.advance(22 * time.Hour)
	if n := e.escalate(t); n != 1 || e.task(t, low.ID).State != tasks.Escalated {
		t.Errorf("at the battery task's deadline: %d escalated, task %s", n, e.task(t, low.ID).State)
	}
}
