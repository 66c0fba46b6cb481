package store_test

import (
	"context"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
	"github.com/eldersafe/eldersafe/tasks"
)

func ptrTime(t time.Time) *time.Time { return &t }

// TestDueForEscalation: open tasks past ack_due_at and acknowledged ones past
// resolve_due_at that have not escalated since, earliest deadline first.
func TestDueForEscalation(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	seed(t, db)
	now := t0.Add(100 * time.Hour)
	task := func(id string, st tasks.State, ackDue, resolveDue time.Duration, escalated *time.Time) tasks.Task {
		x := newTask(id, "h1", "r-"+id, t0)
		x.State, x.AckDueAt, x.ResolveDueAt, x.EscalatedAt = st, now.Add(ackDue), now.Add(resolveDue), escalated
		return x
	}
	for _, x := range []tasks.Task{
		task("open-due", tasks.Open, -time.Hour, time.Hour, nil),
		task("open-at-now", tasks.Open, 0, time.Hour, nil),
		task("open-not-yet", tasks.Open, time.Millisecond, time.Hour, nil),
		task("acked-due", tasks.Acknowledged, -2*time.Hour, -30*time.Minute, nil),
		// Escalated for its ack deadline, then acknowledged: the resolve deadline is new.
		task("acked-escalated-before", tasks.Acknowledged, -3*time.Hour, -10*time.Minute, ptrTime(now.Add(-3*time.Hour))),
		// Already escalated for its resolve deadline, then acknowledged again.
		task("acked-escalated-after", tasks.Acknowledged, -3*time.Hour, -time.Hour, ptrTime(now.Add(-time.Hour))),
		task("acked-not-yet", tasks.Acknowledged, -time.Hour, time.Minute, nil),
		task("onsite-past", tasks.OnSite, -time.Hour, -time.Minute, nil),
		task("escalated", tasks.Escalated, -time.Hour, -time.Minute, ptrTime(now.Add(-time.Hour))),
		task("resolved", tasks.Resolved, -time.Hour, -time.Minute, nil),
		task("cancelled", tasks.Cancelled, -time.Hour, -time.Minute, nil),
	} {
		insertTask(t, db, x)
	}
	ids := func(list []tasks.Task) []string {
		out := []string{}
		for _, x := range list {
			out = append(out, x.ID)
		}
		return out
	}
	for _, tc := range []struct {
		name  string
		limit int
		want  []string
	}{
		// By deadline: open-due's ack (−1 h), acked-due's resolve (−30 min), ...
		{"All", 0, []string{"open-due", "acked-due", "acked-escalated-before", "open-at-now"}},
		{"Limit", 2, []string{"open-due", "acked-due"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := db.DueForEscalation(ctx, now, tc.limit)
			must(t, err)
			if !slices.Equal(ids(got), tc.want) {
				t.Errorf("DueForEscalation = %v, want %v", ids(got), tc.want)
			}
		})
	}
	got, err := db.DueForEscalation(ctx, now, 1)
	must(t, err)
	want := task("open-due", tasks.Open, -time.Hour, time.Hour, nil)
	if len(got) != 1 || !reflect.DeepEqual(got[0], want) {
		t.Errorf("DueForEscalation returned %+v, want the whole task %+v", got, want)
	}
}

// TestSLASamples: tasks opened in [from, to), with their household's grid.
func TestSLASamples(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	seed(t, db)
	must(t, db.CreateGrid(ctx, registry.Grid{ID: "g2", Name: "Grid two"}))
	must(t, db.CreateHousehold(ctx, registry.Household{ID: "h2", Name: "Sun", Address: "2 Road", GridID: "g2"}))
	acked, closed := t0.Add(time.Minute), t0.Add(time.Hour)
	a := newTask("a", "h1", rules.RuleFall, t0)
	a.State, a.AckedAt, a.ClosedAt = tasks.Resolved, &acked, &closed
	b := newTask("b", "h2", rules.RuleFall, t0.Add(time.Hour))
	c := newTask("c", "h1", rules.RuleSOS, t0.Add(2*time.Hour))
	for _, x := range []tasks.Task{a, b, c} {
		insertTask(t, db, x)
	}
	sample := func(x tasks.Task, grid string) tasks.SLASample {
		return tasks.SLASample{GridID: grid, Severity: x.Severity, State: x.State, OpenedAt: x.OpenedAt,
			AckDueAt: x.AckDueAt, ResolveDueAt: x.ResolveDueAt, AckedAt: x.AckedAt, ClosedAt: x.ClosedAt}
	}
	for _, tc := range []struct {
		name     string
		from, to time.Time
		grid     string
		want     []tasks.SLASample
	}{
		{"All", t0, t0.Add(3 * time.Hour), "", []tasks.SLASample{sample(a, "g1"), sample(b, "g2"), sample(c, "g1")}},
		{"HalfOpen", t0, t0.Add(2 * time.Hour), "", []tasks.SLASample{sample(a, "g1"), sample(b, "g2")}},
		{"Grid", t0, t0.Add(3 * time.Hour), "g1", []tasks.SLASample{sample(a, "g1"), sample(c, "g1")}},
		{"None", t0.Add(3 * time.Hour), t0.Add(4 * time.Hour), "", []tasks.SLASample{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := db.SLASamples(ctx, tc.from, tc.to, tc.grid)
			must(t, err)
			slices.SortFunc(got, func(x, y tasks.SLASample) int { return x.OpenedAt.Compare(y.OpenedAt) })
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("SLASamples =\n%+v\nwant\n%+v", got, tc.want)
			}
		})
	}
}

// TestTx_LastNoticeAt: the newest notice of the same key that has not failed.
func TestTx_LastNoticeAt(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	seed(t, db)
	insertTask(t, db, newTask("t1", "h1", rules.RuleFall, t0))
	insertTask(t, db, newTask("t2", "h1", rules.RuleSOS, t0))
	n := func(id string, created time.Time, change func(*tasks.Notice)) tasks.Notice {
		x := newNotice(id, "t1", created)
		x.Event = tasks.NoticeHandover
		if change != nil {
			change(&x)
		}
		return x
	}
	must(t, db.Update(ctx, func(tx tasks.Tx) error {
		for _, x := range []tasks.Notice{
			n("n1", t0, nil),
			n("n2", t0.Add(time.Minute), nil),
			n("failed", t0.Add(2*time.Minute), func(x *tasks.Notice) { x.Status = tasks.NoticeFailed }),
			n("other-event", t0.Add(3*time.Minute), func(x *tasks.Notice) { x.Event = tasks.NoticeOpened }),
			n("other-channel", t0.Add(3*time.Minute), func(x *tasks.Notice) { x.Channel = registry.ChannelLog }),
			n("other-person", t0.Add(3*time.Minute), func(x *tasks.Notice) { x.Recipient = "Son" }),
			n("other-task", t0.Add(3*time.Minute), func(x *tasks.Notice) { x.TaskID = "t2" }),
		} {
			if err := tx.Enqueue(ctx, x); err != nil {
				return err
			}
		}
		return nil
	}))
	key := n("", time.Time{}, nil).Key()
	must(t, db.Update(ctx, func(tx tasks.Tx) error {
		last, ok, err := tx.LastNoticeAt(ctx, key)
		if err != nil || !ok || !last.Equal(t0.Add(time.Minute)) {
			t.Errorf("LastNoticeAt = %v, %v, %v; want %v", last, ok, err, t0.Add(time.Minute))
		}
		key.Address = "https://push.example/elsewhere"
		if _, ok, err := tx.LastNoticeAt(ctx, key); err != nil || ok {
			t.Errorf("LastNoticeAt of an unknown key = %v, %v; want none", ok, err)
		}
		return nil
	}))
}
