package store_test

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
	"github.com/eldersafe/eldersafe/tasks"
)

func ids(ns []tasks.Notice) []string {
	out := []string{}
	for _, n := range ns {
		out = append(out, n.ID)
	}
	return out
}

func TestOutbox(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	seed(t, db)

	if _, ok, err := db.NextNoticeAt(ctx); err != nil || ok {
		t.Fatalf("NextNoticeAt on an empty outbox = %v, %v", ok, err)
	}

	// n1 due at t0, n2 a minute later, n3 (enqueued last) a minute earlier.
	n1, n2, n3 := newNotice("n1", "t1", t0), newNotice("n2", "t1", t0.Add(time.Minute)), newNotice("n3", "t1", t0.Add(-time.Minute))
	n3.Channel, n3.Address, n3.Role = registry.ChannelLog, "", tasks.RecipientWorker
	must(t, db.Update(ctx, func(tx tasks.Tx) error {
		if err := tx.InsertTask(ctx, newTask("t1", "h1", rules.RuleFall, t0)); err != nil {
			return err
		}
		for _, n := range []tasks.Notice{n1, n2, n3} {
			if err := tx.Enqueue(ctx, n); err != nil {
				return err
			}
		}
		return nil
	}))
	insertTask(t, db, newTask("t2", "h1", rules.RuleSOS, t0))

	due := func(now time.Time, limit int) []string {
		t.Helper()
		ns, err := db.DueNotices(ctx, now, limit)
		must(t, err)
		return ids(ns)
	}
	for _, tt := range []struct {
		name  string
		now   time.Time
		limit int
		want  []string
	}{
		{"NoneYet", t0.Add(-2 * time.Minute), 0, []string{}},
		{"Boundary", t0.Add(-time.Minute), 0, []string{"n3"}},
		{"Two", t0, 0, []string{"n3", "n1"}},
		{"All", t0.Add(time.Hour), 0, []string{"n3", "n1", "n2"}},
		{"Limit", t0.Add(time.Hour), 2, []string{"n3", "n1"}},
	} {
		t.Run("Due"+tt.name, func(t *testing.T) {
			if got := due(tt.now, tt.limit); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("DueNotices(%v, %d) = %v, want %v", tt.now, tt.limit, got, tt.want)
			}
		})
	}
	if next, ok, err := db.NextNoticeAt(ctx); err != nil || !ok || !next.Equal(t0.Add(-time.Minute)) {
		t.Errorf("NextNoticeAt = %v, %v, %v; want %v", next, ok, err, t0.Add(-time.Minute))
	}

	// n3 is sent; n1 fails once and is retried later.
	sent := t0.Add(-time.Minute + 300*time.Millisecond)
	must(t, db.RecordAttempt(ctx, "n3", tasks.Attempt{
		Status: tasks.NoticeSent, Attempts: 1, NextAttemptAt: n3.NextAttemptAt, SentAt: &sent,
		Entry: tasks.TimelineEntry{At: sent, Actor: tasks.ActorSystem, Type: tasks.EntryNotice, Message: "sent to Wang by log", Data: map[string]any{"notice_id": "n3"}},
	}))
	retry := t0.Add(5 * time.Minute)
	must(t, db.RecordAttempt(ctx, "n1", tasks.Attempt{
		Status: tasks.NoticePending, Attempts: 1, NextAttemptAt: retry, LastError: "push: 503",
		Entry: tasks.TimelineEntry{At: t0, Actor: tasks.ActorSystem, Type: tasks.EntryNoticeFailed, Message: "push to Daughter failed, will retry"},
	}))
	// An attempt without a timeline entry updates the notice only.
	must(t, db.RecordAttempt(ctx, "n2", tasks.Attempt{Status: tasks.NoticePending, Attempts: 1, NextAttemptAt: t0.Add(2 * time.Minute)}))

	if got, want := due(t0.Add(4*time.Minute), 0), []string{"n2"}; !reflect.DeepEqual(got, want) {
		t.Errorf("DueNotices after attempts = %v, want %v", got, want)
	}
	if next, ok, err := db.NextNoticeAt(ctx); err != nil || !ok || !next.Equal(t0.Add(2*time.Minute)) {
		t.Errorf("NextNoticeAt after attempts = %v, %v, %v; want %v", next, ok, err, t0.Add(2*time.Minute))
	}

	ns, err := db.Notifications(ctx, "t1")
	must(t, err)
	wantN1, wantN2, wantN3 := n1, n2, n3
	wantN1.Attempts, wantN1.NextAttemptAt, wantN1.LastError = 1, retry, "push: 503"
	wantN2.Attempts, wantN2.NextAttemptAt = 1, t0.Add(2*time.Minute)
	wantN3.Status, wantN3.Attempts, wantN3.SentAt = tasks.NoticeSent, 1, &sent
	if want := []tasks.Notice{wantN1, wantN2, wantN3}; !reflect.DeepEqual(ns, want) {
		t.Errorf("Notifications =\n%+v\nwant\n%+v", ns, want)
	}
	if ns, err := db.Notifications(ctx, "t2"); err != nil || ns == nil || len(ns) != 0 {
		t.Errorf("Notifications of a task without notices = %#v, %v; want an empty list", ns, err)
	}

	task, err := db.Task(ctx, "t1")
	must(t, err)
	var types []string
	for _, e := range task.Timeline {
		types = append(types, e.Type)
	}
	if want := []string{tasks.EntryNotice, tasks.EntryNoticeFailed}; !reflect.DeepEqual(types, want) {
		t.Errorf("timeline types = %v, want %v", types, want)
	}
	if len(task.Timeline) > 0 && !reflect.DeepEqual(task.Timeline[0].Data, map[string]any{"notice_id": "n3"}) {
		t.Errorf("timeline data = %v", task.Timeline[0].Data)
	}

	// n2 fails for good: n1's retry is next; once n1 is sent, nothing is pending.
	must(t, db.RecordAttempt(ctx, "n2", tasks.Attempt{Status: tasks.NoticeFailed, Attempts: 10, NextAttemptAt: t0.Add(2 * time.Minute), LastError: "gave up"}))
	if next, ok, err := db.NextNoticeAt(ctx); err != nil || !ok || !next.Equal(retry) {
		t.Errorf("NextNoticeAt = %v, %v, %v; want %v", next, ok, err, retry)
	}
	must(t, db.RecordAttempt(ctx, "n1", tasks.Attempt{Status: tasks.NoticeSent, Attempts: 2, NextAttemptAt: retry, SentAt: &retry}))
	if _, ok, err := db.NextNoticeAt(ctx); err != nil || ok {
		t.Errorf("NextNoticeAt with nothing pending = %v, %v", ok, err)
	}

	t.Run("Errors", func(t *testing.T) {
		if err := db.RecordAttempt(ctx, "n404", tasks.Attempt{Status: tasks.NoticeSent}); !errors.Is(err, tasks.ErrNotFound) {
			t.Errorf("RecordAttempt(missing) = %v, want ErrNotFound", err)
		}
		if err := db.RecordAttempt(ctx, "n1", tasks.Attempt{Status: "maybe"}); err == nil {
			t.Error("RecordAttempt with an unknown status succeeded")
		}
		err := db.Update(ctx, func(tx tasks.Tx) error { return tx.Enqueue(ctx, newNotice("n1", "t1", t0)) })
		if !errors.Is(err, registry.ErrConflict) {
			t.Errorf("Enqueue of a taken id = %v, want ErrConflict", err)
		}
	})
}

func TestOutbox_EnqueueDefaultsToPending(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	seed(t, db)
	n := newNotice("n1", "t1", t0)
	n.Status = ""
	must(t, db.Update(ctx, func(tx tasks.Tx) error {
		if err := tx.InsertTask(ctx, newTask("t1", "h1", rules.RuleFall, t0)); err != nil {
			return err
		}
		return tx.Enqueue(ctx, n)
	}))
	ns, err := db.DueNotices(ctx, t0, 10)
	must(t, err)
	if len(ns) != 1 || ns[0].Status != tasks.NoticePending {
		t.Errorf("DueNotices = %+v, want n1 pending", ns)
	}
}
