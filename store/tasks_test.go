package store_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/clock"
	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
	"github.com/eldersafe/eldersafe/store"
	"github.com/eldersafe/eldersafe/tasks"
)

func newNotice(id, taskID string, next time.Time) tasks.Notice {
	return tasks.Notice{
		ID: id, TaskID: taskID, Event: tasks.NoticeOpened, HouseholdID: "h1", Rule: rules.RuleFall, Severity: string(rules.Critical),
		Channel: registry.ChannelPush, Role: tasks.RecipientFamily, Recipient: "Daughter", Address: "https://push.example/d",
		Lang: "en", Title: "Fall", Message: "A fall was detected", OpenedAt: t0, CreatedAt: next,
		Status: tasks.NoticePending, NextAttemptAt: next,
	}
}

func TestUpdate_AllOrNothing(t *testing.T) {
	ctx := context.Background()
	boom := errors.New("boom")

	// write does everything a task change may do, then fails with fail (or panics when fail is nil).
	write := func(tx tasks.Tx, id string) error {
		if err := tx.InsertTask(ctx, newTask(id, "h1", rules.RuleFall, t0)); err != nil {
			return err
		}
		if err := tx.AddEvidence(ctx, id, rules.Evidence{At: t0, Summary: "fall"}); err != nil {
			return err
		}
		if err := tx.AddTimeline(ctx, id, tasks.TimelineEntry{At: t0, Actor: tasks.ActorSystem, Type: tasks.EntryOpened}); err != nil {
			return err
		}
		return tx.Enqueue(ctx, newNotice("n-"+id, id, t0))
	}

	t.Run("ErrorRollsBack", func(t *testing.T) {
		db := newDB(t)
		seed(t, db)
		err := db.Update(ctx, func(tx tasks.Tx) error {
			if err := write(tx, "t1"); err != nil {
				t.Fatalf("write: %v", err)
			}
			return fmt.Errorf("later step: %w", boom)
		})
		if !errors.Is(err, boom) {
			t.Fatalf("Update = %v, want fn's error", err)
		}
		assertNoTask(t, db, "t1")
	})
	t.Run("PanicRollsBack", func(t *testing.T) {
		db := newDB(t)
		seed(t, db)
		func() {
			defer func() {
				if recover() == nil {
					t.Fatal("no panic")
				}
			}()
			_ = db.Update(ctx, func(tx tasks.Tx) error {
				if err := write(tx, "t1"); err != nil {
					t.Fatalf("write: %v", err)
				}
				panic("boom")
			})
		}()
		assertNoTask(t, db, "t1")
		// The writer connection is usable again.
		must(t, db.Update(ctx, func(tx tasks.Tx) error { return write(tx, "t2") }))
	})
	t.Run("Commits", func(t *testing.T) {
		db := newDB(t)
		seed(t, db)
		must(t, db.Update(ctx, func(tx tasks.Tx) error { return write(tx, "t1") }))
		got, err := db.Task(ctx, "t1")
		must(t, err)
		if len(got.Evidence) != 1 || len(got.Timeline) != 1 {
			t.Errorf("task = %+v, want one evidence and one timeline entry", got)
		}
		if ns, err := db.Notifications(ctx, "t1"); err != nil || len(ns) != 1 {
			t.Errorf("Notifications = %v, %v; want one", ns, err)
		}
	})
	t.Run("CancelledContext", func(t *testing.T) {
		db := newDB(t)
		seed(t, db)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		called := false
		err := db.Update(cctx, func(tx tasks.Tx) error { called = true; return nil })
		if err == nil || called {
			t.Errorf("Update with a cancelled context = %v (fn called: %v), want an error before fn", err, called)
		}
	})
}

func assertNoTask(t *testing.T, db *store.DB, id string) {
	t.Helper()
	ctx := context.Background()
	if _, err := db.Task(ctx, id); !errors.Is(err, tasks.ErrNotFound) {
		t.Errorf("Task(%s) after rollback: %v, want ErrNotFound", id, err)
	}
	if list, err := db.Tasks(ctx, tasks.Filter{}); err != nil || len(list) != 0 {
		t.Errorf("Tasks after rollback = %v, %v; want none", list, err)
	}
	if ns, err := db.Notifications(ctx, id); err != nil || len(ns) != 0 {
		t.Errorf("Notifications after rollback = %v, %v; want none", ns, err)
	}
	if ns, err := db.DueNotices(ctx, t0.Add(time.Hour), 0); err != nil || len(ns) != 0 {
		t.Errorf("DueNotices after rollback = %v, %v; want none", ns, err)
	}
}

func TestTx_OpenTaskFor(t *testing.T) {
	ctx := context.Background()
	for _, state := range tasks.States {
		t.Run(string(state), func(t *testing.T) {
			db := newDB(t)
			seed(t, db)
			task := newTask("t1", "h1", rules.RuleWaterNoUse, t0)
			task.State = state
			insertTask(t, db, task)
			must(t, db.Update(ctx, func(tx tasks.Tx) error {
				got, found, err := tx.OpenTaskFor(ctx, "h1", rules.RuleWaterNoUse)
				if err != nil {
					return err
				}
				if found != !state.Closed() {
					t.Errorf("found = %v for a %s task", found, state)
				}
				if found && got.ID != "t1" {
					t.Errorf("found task %s, want t1", got.ID)
				}
				// Other households and rules never match.
				for _, hr := range [][2]string{{"h2", rules.RuleWaterNoUse}, {"h1", rules.RuleNoMotion}} {
					if _, found, err := tx.OpenTaskFor(ctx, hr[0], hr[1]); err != nil || found {
						t.Errorf("OpenTaskFor(%s, %s) = %v, %v", hr[0], hr[1], found, err)
					}
				}
				return nil
			}))
		})
	}

	t.Run("AfterResolve", func(t *testing.T) {
		db := newDB(t)
		seed(t, db)
		insertTask(t, db, newTask("t1", "h1", rules.RuleFall, t0))
		must(t, db.Update(ctx, func(tx tasks.Tx) error {
			task, err := tx.Task(ctx, "t1")
			if err != nil {
				return err
			}
			closed := t0.Add(time.Hour)
			task.State, task.ClosedAt, task.Outcome = tasks.Resolved, &closed, "safe"
			return tx.UpdateTask(ctx, task)
		}))
		insertTask(t, db, newTask("t2", "h1", rules.RuleFall, t0.Add(2*time.Hour)))
		must(t, db.Update(ctx, func(tx tasks.Tx) error {
			got, found, err := tx.OpenTaskFor(ctx, "h1", rules.RuleFall)
			if err != nil || !found || got.ID != "t2" {
				t.Errorf("OpenTaskFor = %s, %v, %v; want t2", got.ID, found, err)
			}
			return err
		}))
	})
}

func TestTx_OneOpenTaskPerRule(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	seed(t, db)

	// A failed insert does not spoil the rest of the transaction.
	must(t, db.Update(ctx, func(tx tasks.Tx) error {
		if err := tx.InsertTask(ctx, newTask("t1", "h1", rules.RuleFall, t0)); err != nil {
			return err
		}
		err := tx.InsertTask(ctx, newTask("t2", "h1", rules.RuleFall, t0))
		if !errors.Is(err, registry.ErrConflict) {
			t.Errorf("second open fall task: %v, want ErrConflict", err)
		}
		return tx.InsertTask(ctx, newTask("t3", "h1", rules.RuleSOS, t0))
	}))
	if _, err := db.Task(ctx, "t2"); !errors.Is(err, tasks.ErrNotFound) {
		t.Errorf("t2 was stored: %v", err)
	}

	tests := []struct {
		name string
		fn   func(tx tasks.Tx) error
		want error
	}{
		{"DuplicateID", func(tx tasks.Tx) error { return tx.InsertTask(ctx, newTask("t1", "h1", rules.RuleNoExit, t0)) }, registry.ErrConflict},
		{"UnknownHousehold", func(tx tasks.Tx) error { return tx.InsertTask(ctx, newTask("t9", "h404", rules.RuleFall, t0)) }, registry.ErrUnknownReference},
		{"ClosedTaskBesideOpenOne", func(tx tasks.Tx) error {
			task := newTask("t4", "h1", rules.RuleFall, t0)
			task.State = tasks.Cancelled
			return tx.InsertTask(ctx, task)
		}, nil},
		{"ReopenBesideOpenOne", func(tx tasks.Tx) error {
			task, err := tx.Task(ctx, "t4")
			if err != nil {
				return err
			}
			task.State = tasks.Escalated
			return tx.UpdateTask(ctx, task)
		}, registry.ErrConflict},
		{"UpdateMissing", func(tx tasks.Tx) error { return tx.UpdateTask(ctx, newTask("t404", "h1", rules.RuleFall, t0)) }, tasks.ErrNotFound},
		{"EvidenceOfMissingTask", func(tx tasks.Tx) error { return tx.AddEvidence(ctx, "t404", rules.Evidence{At: t0}) }, tasks.ErrNotFound},
		{"TimelineOfMissingTask", func(tx tasks.Tx) error {
			return tx.AddTimeline(ctx, "t404", tasks.TimelineEntry{At: t0, Type: tasks.EntryEvidence})
		}, tasks.ErrNotFound},
		{"NoticeOfMissingTask", func(tx tasks.Tx) error { return tx.Enqueue(ctx, newNotice("n1", "t404", t0)) }, registry.ErrUnknownReference},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := db.Update(ctx, tt.fn)
			if tt.want == nil {
				must(t, err)
				return
			}
			if !errors.Is(err, tt.want) {
				t.Errorf("error = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestTask_RoundTrip(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	seed(t, db)

	shanghai := time.FixedZone("CST", 8*3600)
	escalated, acked, onSite, closed := t0.Add(5*time.Minute), t0.Add(6*time.Minute), t0.Add(20*time.Minute), t0.Add(time.Hour)
	task := newTask("t1", "h1", rules.RuleFall, t0)
	task.Severity, task.State = rules.Critical, tasks.Resolved
	task.AckedAt, task.OnSiteAt, task.ClosedAt, task.EscalatedAt = &acked, &onSite, &closed, &escalated
	task.Outcome, task.Note = "safe", "fine, tripped on a rug"
	evidence := []rules.Evidence{
		{At: t0, DeviceID: "band1", Summary: "fall detected", Values: map[string]any{"lat": 31.2, "lon": 121.5, "event": "fall", "worn": true}},
		{At: t0.Add(time.Second), Summary: "second fall"},
	}
	timeline := []tasks.TimelineEntry{
		{At: t0, Actor: tasks.ActorSystem, Type: tasks.EntryOpened, Message: "fall detected", Data: map[string]any{"assignee_id": "w1", "n": float64(3), "nested": map[string]any{"a": []any{"x"}}}},
		{At: acked, Actor: "w1", Type: tasks.EntryAcknowledged, Message: "Wang acknowledged"},
		{At: closed, Actor: "w1", Type: tasks.EntryResolved, Message: "resolved", Data: map[string]any{"outcome": "safe"}},
	}

	must(t, db.Update(ctx, func(tx tasks.Tx) error {
		// Sub-millisecond digits and other zones are normalised on the way in.
		in := task
		in.OpenedAt = t0.Add(456 * time.Microsecond).In(shanghai)
		if err := tx.InsertTask(ctx, in); err != nil {
			return err
		}
		for _, ev := range evidence {
			if err := tx.AddEvidence(ctx, "t1", ev); err != nil {
				return err
			}
		}
		for _, e := range timeline {
			if err := tx.AddTimeline(ctx, "t1", e); err != nil {
				return err
			}
		}
		return nil
	}))

	got, err := db.Task(ctx, "t1")
	must(t, err)
	want := task
	want.Evidence, want.Timeline = evidence, timeline
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Task =\n%+v\nwant\n%+v", got, want)
	}

	// Inside a transaction, a task comes without evidence and timeline.
	must(t, db.Update(ctx, func(tx tasks.Tx) error {
		got, err := tx.Task(ctx, "t1")
		if err != nil {
			return err
		}
		want := task
		if !reflect.DeepEqual(got, want) {
			t.Errorf("tx.Task =\n%+v\nwant\n%+v", got, want)
		}
		return nil
	}))

	if _, err := db.Task(ctx, "t404"); !errors.Is(err, tasks.ErrNotFound) {
		t.Errorf("Task(missing) = %v, want ErrNotFound", err)
	}
}

func TestTasks_FilterAndOrder(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	seed(t, db)
	must(t, db.CreateGrid(ctx, registry.Grid{ID: "g2", Name: "Grid two"}))
	must(t, db.CreateHousehold(ctx, registry.Household{ID: "h2", Name: "x", Address: "y", GridID: "g2"}))

	type spec struct {
		id, household, rule, assignee string
		state                         tasks.State
		opened                        time.Time
	}
	// Inserted in this order; a and b share opened_at, so b (inserted later) lists first.
	for _, s := range []spec{
		{"a", "h1", rules.RuleFall, "w1", tasks.Resolved, t0},
		{"b", "h1", rules.RuleSOS, "w1", tasks.Open, t0},
		{"c", "h2", rules.RuleFall, "w2", tasks.Open, t0.Add(time.Hour)},
		{"d", "h1", rules.RuleNoExit, "", tasks.Escalated, t0.Add(-time.Hour)},
		{"e", "h2", rules.RuleWaterNoUse, "w1", tasks.Acknowledged, t0.Add(2 * time.Hour)},
	} {
		task := newTask(s.id, s.household, s.rule, s.opened)
		task.AssigneeID, task.State = s.assignee, s.state
		insertTask(t, db, task)
	}

	tests := []struct {
		name   string
		filter tasks.Filter
		want   []string
	}{
		{"All", tasks.Filter{}, []string{"e", "c", "b", "a", "d"}},
		{"State", tasks.Filter{State: tasks.Open}, []string{"c", "b"}},
		{"Household", tasks.Filter{HouseholdID: "h1"}, []string{"b", "a", "d"}},
		{"Rule", tasks.Filter{Rule: rules.RuleFall}, []string{"c", "a"}},
		{"Assignee", tasks.Filter{AssigneeID: "w1"}, []string{"e", "b", "a"}},
		{"Combined", tasks.Filter{HouseholdID: "h1", AssigneeID: "w1", State: tasks.Open}, []string{"b"}},
		{"NoMatch", tasks.Filter{Rule: rules.RuleBatteryLow}, []string{}},
		{"Limit", tasks.Filter{Limit: 2}, []string{"e", "c"}},
		{"NegativeLimit", tasks.Filter{Limit: -1}, []string{"e", "c", "b", "a", "d"}},
		{"Grids", tasks.Filter{GridIDs: []string{"g2", "g9"}}, []string{"e", "c"}},
		{"NoGrids", tasks.Filter{GridIDs: []string{}}, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			list, err := db.Tasks(ctx, tt.filter)
			must(t, err)
			ids := []string{}
			for _, task := range list {
				ids = append(ids, task.ID)
				if task.Evidence != nil || task.Timeline != nil {
					t.Errorf("task %s listed with evidence or timeline", task.ID)
				}
			}
			if !reflect.DeepEqual(ids, tt.want) {
				t.Errorf("Tasks(%+v) = %v, want %v", tt.filter, ids, tt.want)
			}
		})
	}

	counts, err := db.OpenTaskCounts(ctx)
	must(t, err)
	wantCounts := map[[2]string]int{{string(rules.High), string(rules.Visit)}: 4}
	if !reflect.DeepEqual(counts, wantCounts) {
		t.Errorf("OpenTaskCounts = %v, want %v", counts, wantCounts)
	}
}

func TestOpenTaskCounts(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	seed(t, db)
	counts, err := db.OpenTaskCounts(ctx)
	if err != nil || len(counts) != 0 {
		t.Fatalf("OpenTaskCounts on an empty store = %v, %v", counts, err)
	}
	for i, s := range []struct {
		severity rules.Severity
		kind     rules.TaskKind
		state    tasks.State
	}{
		{rules.Critical, rules.Visit, tasks.Open},
		{rules.Critical, rules.Visit, tasks.OnSite},
		{rules.Critical, rules.Visit, tasks.Resolved},
		{rules.Low, rules.Maintenance, tasks.Escalated},
		{rules.Low, rules.Maintenance, tasks.Cancelled},
	} {
		task := newTask(fmt.Sprint("t", i), "h1", fmt.Sprint("rule", i), t0)
		task.Severity, task.Kind, task.State = s.severity, s.kind, s.state
		insertTask(t, db, task)
	}
	counts, err = db.OpenTaskCounts(ctx)
	must(t, err)
	want := map[[2]string]int{{"critical", "visit"}: 2, {"low", "maintenance"}: 1}
	if !reflect.DeepEqual(counts, want) {
		t.Errorf("OpenTaskCounts = %v, want %v", counts, want)
	}

	// The counts follow tasks as they close, reopen and change kind.
	for _, c := range []struct {
		id   string
		edit func(*tasks.Task)
		want map[[2]string]int
	}{
		{"t0", func(task *tasks.Task) { task.State = tasks.Resolved },
			map[[2]string]int{{"critical", "visit"}: 1, {"low", "maintenance"}: 1}},
		{"t3", func(task *tasks.Task) { task.Severity, task.Kind = rules.Critical, rules.Visit },
			map[[2]string]int{{"critical", "visit"}: 2}},
		{"t2", func(task *tasks.Task) { task.State = tasks.Open },
			map[[2]string]int{{"critical", "visit"}: 3}},
		{"t1", func(task *tasks.Task) { task.State = tasks.Cancelled; task.Severity = rules.Low },
			map[[2]string]int{{"critical", "visit"}: 2}},
		// A closed task that changes stays uncounted.
		{"t4", func(task *tasks.Task) { task.Severity = rules.High },
			map[[2]string]int{{"critical", "visit"}: 2}},
	} {
		must(t, db.Update(ctx, func(tx tasks.Tx) error {
			task, err := tx.Task(ctx, c.id)
			if err != nil {
				return err
			}
			c.edit(&task)
			return tx.UpdateTask(ctx, task)
		}))
		counts, err = db.OpenTaskCounts(ctx)
		must(t, err)
		if !reflect.DeepEqual(counts, c.want) {
			t.Errorf("after changing %s: OpenTaskCounts = %v, want %v", c.id, counts, c.want)
		}
	}
}

// TestUpdate_Concurrent runs what tasks.Service.Raise does from many goroutines
// at once, with readers alongside: no SQLITE_BUSY, and exactly one task opens.
func TestUpdate_Concurrent(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	seed(t, db)
	const (
		writers = 8
		each    = 20
	)
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		opened int
		errs   = make(chan error, writers*each+writers)
	)
	for g := range writers {
		wg.Go(func() {
			for i := range each {
				err := db.Update(ctx, func(tx tasks.Tx) error {
					task, found, err := tx.OpenTaskFor(ctx, "h1", rules.RuleWaterNoUse)
					if err != nil {
						return err
					}
					if !found {
						task = newTask(fmt.Sprintf("t-%d-%d", g, i), "h1", rules.RuleWaterNoUse, t0)
						if err := tx.InsertTask(ctx, task); err != nil {
							return err
						}
						mu.Lock()
						opened++
						mu.Unlock()
					}
					if err := tx.AddEvidence(ctx, task.ID, rules.Evidence{At: t0, Summary: fmt.Sprint(g, i)}); err != nil {
						return err
					}
					return tx.Enqueue(ctx, newNotice(fmt.Sprintf("n-%d-%d", g, i), task.ID, t0))
				})
				if err != nil {
					errs <- err
				}
			}
		})
		wg.Go(func() {
			for range each {
				if _, err := db.Tasks(ctx, tasks.Filter{HouseholdID: "h1"}); err != nil {
					errs <- err
				}
				if _, err := db.DueNotices(ctx, t0, 10); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if opened != 1 {
		t.Errorf("%d tasks opened, want 1", opened)
	}
	list, err := db.Tasks(ctx, tasks.Filter{})
	must(t, err)
	if len(list) != 1 {
		t.Fatalf("%d tasks stored, want 1", len(list))
	}
	task, err := db.Task(ctx, list[0].ID)
	must(t, err)
	if len(task.Evidence) != writers*each {
		t.Errorf("%d evidence rows, want %d", len(task.Evidence), writers*each)
	}
	ns, err := db.Notifications(ctx, task.ID)
	must(t, err)
	if len(ns) != writers*each {
		t.Errorf("%d notices, want %d", len(ns), writers*each)
	}
}

// TestUpdate_TwoHandles writes from two DB handles on one file, as two processes
// would: IMMEDIATE transactions and busy_timeout keep them from failing with SQLITE_BUSY.
func TestUpdate_TwoHandles(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	a, b := openDB(t, dir), openDB(t, dir)
	seed(t, a)
	const each = 30
	var wg sync.WaitGroup
	errs := make(chan error, 2*each)
	for h, db := range []*store.DB{a, b} {
		wg.Go(func() {
			for i := range each {
				err := db.Update(ctx, func(tx tasks.Tx) error {
					// Read first, then write: a DEFERRED transaction would fail to upgrade its lock here.
					if _, _, err := tx.OpenTaskFor(ctx, "h1", rules.RuleFall); err != nil {
						return err
					}
					return tx.InsertTask(ctx, newTask(fmt.Sprintf("t-%d-%d", h, i), "h1", fmt.Sprintf("rule-%d-%d", h, i), t0))
				})
				if err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for _, db := range []*store.DB{a, b} {
		if list, err := db.Tasks(ctx, tasks.Filter{}); err != nil || len(list) != 2*each {
			t.Errorf("Tasks = %d, %v; want %d", len(list), err, 2*each)
		}
	}
}

// TestService drives the real tasks.Service on the store.
func TestService(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	seed(t, db)
	must(t, db.CreateWorker(ctx, registry.Worker{ID: "w2", Name: "Backup", GridIDs: []string{"g1"}, Role: registry.RoleGridWorker}))
	now := t0
	svc, err := tasks.NewService(tasks.Options{
		Store:    db,
		Clock:    clockFunc(func() time.Time { return now }),
		Composer: composer{},
		Wall:     clock.Func(func() time.Time { return now }),
	})
	must(t, err)

	alert := rules.Alert{HouseholdID: "h1", Rule: rules.RuleFall, Severity: rules.Critical, Kind: rules.Visit, At: t0,
		Evidence: rules.Evidence{At: t0, DeviceID: "band", Summary: "fall", Values: map[string]any{"lat": 31.0, "lon": 121.0}}}
	task, opened, err := svc.Raise(ctx, alert)
	must(t, err)
	if !opened || task.AssigneeID != "w1" {
		t.Fatalf("Raise = %+v, opened %v; want a new task for w1", task, opened)
	}
	now = now.Add(time.Minute)
	again, opened, err := svc.Raise(ctx, alert)
	must(t, err)
	if opened || again.ID != task.ID {
		t.Errorf("second Raise opened %v (%s), want evidence on %s", opened, again.ID, task.ID)
	}
	got, err := svc.Ack(ctx, task.ID, "w1")
	must(t, err)
	if got.State != tasks.Acknowledged || got.AckedAt == nil || !got.AckedAt.Equal(now) {
		t.Errorf("after Ack: %+v", got)
	}
	if len(got.Evidence) != 2 || len(got.Timeline) != 3 {
		t.Errorf("evidence %d, timeline %d; want 2 and 3", len(got.Evidence), len(got.Timeline))
	}
	if _, err := svc.Resolve(ctx, task.ID, "w1", "safe", ""); !errors.As(err, new(*tasks.TransitionError)) {
		t.Errorf("Resolve before check-in: %v, want a TransitionError", err)
	}
	ns, err := db.Notifications(ctx, task.ID)
	must(t, err)
	// The opening's to the worker and the family, then the family's of the
	// acknowledgement, each with the task's state then.
	if len(ns) != 3 || ns[0].Role != tasks.RecipientWorker || ns[1].Role != tasks.RecipientFamily ||
		ns[2].Event != tasks.NoticeAcknowledged || ns[2].State != string(tasks.Acknowledged) || ns[0].State != string(tasks.Open) {
		t.Errorf("notifications = %+v, want the worker's and the family's opening, then the family's acknowledgement", ns)
	}

	// A link's token, found by its hash only, with its purpose.
	for _, purpose := range []string{tasks.PurposeAnswer, tasks.PurposeRating} {
		tok := tasks.AnswerToken{Hash: tasks.HashToken(purpose + "-token"), TaskID: task.ID, HouseholdID: "h1", Contact: "Daughter", Lang: "en",
			Purpose: purpose, CreatedAt: now}
		must(t, db.Update(ctx, func(tx tasks.Tx) error { return tx.AddAnswerToken(ctx, tok) }))
		if got, err := db.AnswerToken(ctx, tasks.HashToken(purpose+"-token")); err != nil || got != tok {
			t.Errorf("AnswerToken = %+v, %v; want %+v", got, err, tok)
		}
	}
	if _, err := db.AnswerToken(ctx, tasks.HashToken("guess")); !errors.Is(err, registry.ErrNotFound) {
		t.Errorf("AnswerToken of an unknown token: %v, want ErrNotFound", err)
	}
}

type clockFunc func() time.Time

func (f clockFunc) Now() time.Time { return f() }

type composer struct{}

func (composer) Compose(m tasks.Message) (string, string, error) {
	return m.Task.Rule, m.Event + " " + m.Household.Name, nil
}
