package tasks_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/clock"
	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
	"github.com/eldersafe/eldersafe/store"
	"github.com/eldersafe/eldersafe/tasks"
)

var shanghai = func() *time.Location {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		panic(err)
	}
	return loc
}()

// routineOf lists the routine visits of a household, earliest due first.
func (e *env) routineOf(t *testing.T, household string) []tasks.Task {
	t.Helper()
	list, err := e.db.Tasks(context.Background(), tasks.Filter{HouseholdID: household, Kind: rules.RoutineVisit})
	must(t, err)
	slices.SortFunc(list, func(a, b tasks.Task) int { return a.DueAt.Compare(*b.DueAt) })
	return list
}

// TestScheduleRoutine: the month's visits, pro rata from the clock's now,
// spread evenly, assigned as visits are, scheduled once however often it
// runs (a restart included), and a new month's in full on its first day.
func TestScheduleRoutine(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, envOptions{})
	must(t, e.db.SetCareLevel(ctx, hhNoWorker, registry.CareDependent))

	// t0 is 2025-03-10 09:12 in Shanghai: 21.6 of March's 31 days are left.
	n, err := e.svc.ScheduleRoutine(ctx)
	must(t, err)
	if n != 2+6 {
		t.Fatalf("scheduled %d, want 2 (self_care: ⌈2 × 21.6/31⌉) + 6 (dependent: ⌈8 × 21.6/31⌉)", n)
	}
	for name, svc := range map[string]*tasks.Service{"again": e.svc, "after a restart": e.newService(t, envOptions{})} {
		if n, err := svc.ScheduleRoutine(ctx); err != nil || n != 0 {
			t.Errorf("%s: scheduled %d (%v), want none", name, n, err)
		}
	}
	if n, err := e.svc.ScheduleRoutineFor(ctx, hhMain); err != nil || n != 0 {
		t.Errorf("ScheduleRoutineFor a household scheduled: %d (%v), want none", n, err)
	}
	left := time.Date(2025, 4, 1, 0, 0, 0, 0, shanghai).Sub(t0)
	h1 := e.routineOf(t, hhMain)
	for i, want := range []time.Time{t0.Add(left / 4), t0.Add(3 * left / 4)} {
		task := h1[i]
		if task.Rule != rules.RuleRoutineVisit || task.Severity != rules.Low || task.State != tasks.Open ||
			task.AssigneeID != ownerID || !task.DueAt.Equal(want) || !task.AckDueAt.Equal(want.Add(tasks.RoutineGrace)) {
			t.Errorf("visit %d: %+v, due %v; want open, low, for %s, due %v, acknowledged by 3 days later", i, task, task.DueAt, ownerID, want)
		}
	}
	if h2 := e.routineOf(t, hhNoWorker); len(h2) != 6 || h2[0].AssigneeID != "" {
		t.Errorf("h2 (no grid worker): %d visits, first assigned to %q; want 6, unassigned", len(h2), h2[0].AssigneeID)
	}
	if ns := e.allNotices(t); len(ns) != 0 {
		t.Errorf("scheduling sent %d notices, want none: a visit on the list is no alarm", len(ns))
	}

	// April begins at midnight in Shanghai: two visits each, in the middles of its halves.
	april := time.Date(2025, 4, 1, 0, 0, 0, 0, shanghai)
	e.clk.Advance(april)
	n, err = e.svc.ScheduleRoutine(ctx)
	must(t, err)
	if n != 2+8 {
		t.Fatalf("April: scheduled %d, want 10", n)
	}
	var due []time.Time
	for _, task := range e.routineOf(t, hhMain)[2:] {
		due = append(due, task.DueAt.In(shanghai))
	}
	if want := []time.Time{april.Add(7*24*time.Hour + 12*time.Hour), april.Add(22*24*time.Hour + 12*time.Hour)}; !slices.EqualFunc(due, want, time.Time.Equal) {
		t.Errorf("April's visits due %v, want %v", due, want)
	}
}

// TestScheduleRoutineForMany: households registered together are
// scheduled together, one listed twice once; one that cannot be (not
// registered) is named in the error and costs the others nothing.
func TestScheduleRoutineForMany(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, envOptions{})
	must(t, e.db.SetCareLevel(ctx, hhNoWorker, registry.CareDependent))
	n, err := e.svc.ScheduleRoutineFor(ctx, hhMain, "h404", hhNoWorker)
	if err == nil || !strings.Contains(err.Error(), "h404") {
		t.Errorf("error %v, want one naming h404", err)
	}
	if n != 2+6 || len(e.routineOf(t, hhMain)) != 2 || len(e.routineOf(t, hhNoWorker)) != 6 {
		t.Errorf("scheduled %d: %d for h1, %d for h2; want 2 and 6", n, len(e.routineOf(t, hhMain)), len(e.routineOf(t, hhNoWorker)))
	}
	if n, err := e.svc.ScheduleRoutineFor(ctx, hhMain, hhNoWorker); err != nil || n != 0 {
		t.Errorf("again: scheduled %d (%v), want none", n, err)
	}
	if n, err := e.svc.ScheduleRoutineFor(ctx); err != nil || n != 0 {
		t.Errorf("no household: scheduled %d (%v), want none", n, err)
	}
	must(t, e.db.CreateHousehold(ctx, registry.Household{ID: "h3", Name: "Twice", Address: "3 Road", GridID: gridMain}))
	if n, err := e.svc.ScheduleRoutineFor(ctx, "h3", "h3"); err != nil || n != 2 || len(e.routineOf(t, "h3")) != 2 {
		t.Errorf("a household listed twice: scheduled %d (%v), %d stored; want 2", n, err, len(e.routineOf(t, "h3")))
	}
}

// TestRoutineVisit: checked in from open, resolved visited or not_home
// (another visit within 3 days); the family hears only of the resolution;
// overdue by 3 days it escalates without counting as an unacknowledged
// alarm; the report counts by months of the monitor's time zone.
func TestRoutineVisit(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, envOptions{})
	_, err := e.svc.ScheduleRoutine(ctx)
	must(t, err)
	h1 := e.routineOf(t, hhMain)
	first, second := h1[0].ID, h1[1].ID

	e.clk.Advance(*h1[0].DueAt)
	for _, c := range []struct {
		name, id, outcome, want string
	}{
		{"visit outcome on a routine visit", first, "safe", "invalid"},
		{"unknown outcome", first, "asleep", "invalid"},
		{"before check-in", first, tasks.OutcomeVisited, "transition"},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := e.task(t, c.id)
			_, err := e.svc.Resolve(ctx, c.id, ownerID, c.outcome, "")
			wantError(t, err, c.want)
			assertUnchanged(t, before, e.task(t, c.id))
		})
	}
	if _, err := e.svc.CheckIn(ctx, first, otherID, nil, nil); err != nil {
		t.Fatalf("check in from open, by another worker of the grid: %v", err)
	}
	done, err := e.svc.Resolve(ctx, first, otherID, tasks.OutcomeVisited, "tea and a chat")
	must(t, err)
	if done.State != tasks.Resolved || done.AssigneeID != otherID || done.AckedAt == nil {
		t.Errorf("visited: %+v", done)
	}
	var roles []string
	for _, n := range e.notices(t, first) {
		roles = append(roles, n.Role+" "+n.Event)
		if n.Lang == "en" && !strings.Contains(n.Message, "from the community office called in.") {
			t.Errorf("the family's notice says %q", n.Message)
		}
	}
	if len(roles) == 0 || slices.ContainsFunc(roles, func(r string) bool { return r != tasks.RecipientFamily+" "+tasks.NoticeResolved }) {
		t.Errorf("notices of a routine visit: %v; want the family's resolved only", roles)
	}
	// The family's rating is the worker's who called, though the SLA rows,
	// which measure alarms, leave the visit out.
	_, err = e.svc.Rate(ctx, first, "fam-1", 5, "")
	must(t, err)
	sla, err := e.svc.SLA(ctx, tasks.SLAQuery{})
	must(t, err)
	jsonEq(t, sla, `[]`)
	workers, err := e.svc.SLAWorkers(ctx, tasks.SLAQuery{})
	must(t, err)
	jsonEq(t, workers, `[{"worker_id":"w2","grid_id":"g1","rating_avg":5,"ratings":1}]`)

	// Nobody home just before midnight on 28 March: the next visit is due
	// on 1 April in Shanghai, still 31 March in UTC.
	e.clk.Advance(time.Date(2025, 3, 29, 0, 30, 0, 0, shanghai))
	_, err = e.svc.CheckIn(ctx, second, ownerID, nil, nil)
	must(t, err)
	missed, err := e.svc.Resolve(ctx, second, ownerID, tasks.OutcomeNotHome, "")
	must(t, err)
	retryID, _ := lastEntry(t, missed).Data["next_task_id"].(string)
	retry := e.task(t, retryID)
	if retry.Kind != rules.RoutineVisit || retry.AssigneeID != ownerID || !retry.DueAt.Equal(e.clk.Now().Add(tasks.RoutineGrace)) {
		t.Errorf("visit after not_home: %+v; want one for %s due in 3 days", retry, ownerID)
	}

	// h2's first visit (no grid worker) is overdue by more than 3 days.
	n, err := e.svc.Escalate(ctx)
	must(t, err)
	h2 := e.routineOf(t, hhNoWorker)
	if n != 1 || e.task(t, h2[0].ID).State != tasks.Escalated || e.ackOverdue.Load() != 0 {
		t.Errorf("escalated %d, h2's first visit %s, ack overdue counted %d; want 1, escalated, 0", n, e.task(t, h2[0].ID).State, e.ackOverdue.Load())
	}
	for _, ns := range e.notices(t, h2[0].ID) {
		if ns.Role == tasks.RecipientFamily {
			t.Errorf("the family was told of an overdue routine visit: %+v", ns)
		}
	}

	utc, err := tasks.NewService(tasks.Options{Store: e.db, Clock: e.clk, Composer: mustTemplates(t), Wall: clock.Wall{}, Location: time.UTC})
	must(t, err)
	pct := func(f float64) *float64 { return &f }
	for _, c := range []struct {
		name  string
		svc   *tasks.Service
		month string
		want  []tasks.RoutineRow
	}{
		{"March", e.svc, "2025-03", []tasks.RoutineRow{
			{GridID: gridMain, Households: 1, Due: 1, Done: 1, CoveragePct: pct(100)},
			{GridID: gridNoStaf, Households: 1, Due: 2, Overdue: 2, CoveragePct: pct(0)},
		}},
		{"April", e.svc, "2025-04", []tasks.RoutineRow{
			{GridID: gridMain, Households: 1, Due: 1, CoveragePct: pct(0)},
			{GridID: gridNoStaf, Households: 1},
		}},
		{"March in UTC", utc, "2025-03", []tasks.RoutineRow{
			{GridID: gridMain, Households: 1, Due: 2, Done: 1, CoveragePct: pct(50)},
			{GridID: gridNoStaf, Households: 1, Due: 2, Overdue: 2, CoveragePct: pct(0)},
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			rows, month, err := c.svc.RoutineReport(ctx, c.month)
			must(t, err)
			if month != c.month || len(rows) != len(c.want) {
				t.Fatalf("%s: %+v", month, rows)
			}
			for i, r := range rows {
				w := c.want[i]
				if r.GridID != w.GridID || r.Households != w.Households || r.Due != w.Due || r.Done != w.Done || r.Overdue != w.Overdue ||
					(r.CoveragePct == nil) != (w.CoveragePct == nil) || (r.CoveragePct != nil && *r.CoveragePct != *w.CoveragePct) {
					t.Errorf("row %d: %+v (coverage %v), want %+v (coverage %v)", i, r, r.CoveragePct, w, w.CoveragePct)
				}
			}
		})
	}
	if _, _, err := e.svc.RoutineReport(ctx, "2025-13"); err == nil {
		t.Error("month 2025-13 accepted")
	}
}

// TestReschedule: a routine visit moved to another day is due then, and
// escalates 3 days after the new day, not the old; one escalated waits
// again; the report counts it once, in its new month; moves to the past,
// too far ahead or to an earlier month, of another's visit, of an alarm's
// task, of one on site or closed are refused and change nothing.
func TestReschedule(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, envOptions{})
	_, err := e.svc.ScheduleRoutine(ctx)
	must(t, err)
	h1 := e.routineOf(t, hhMain)
	first, second := h1[0].ID, h1[1].ID
	oldDue := *h1[0].DueAt
	fall := e.openFall(t)

	refuse := func(t *testing.T, id string, due time.Time, worker, want string) {
		t.Helper()
		before := e.task(t, id)
		_, err := e.svc.Reschedule(ctx, id, due, "", "office", worker)
		wantError(t, err, want)
		assertUnchanged(t, before, e.task(t, id))
	}
	for _, c := range []struct {
		name, id string
		due      time.Time
		worker   string
		want     string
	}{
		{"to the past", first, t0.Add(-time.Minute), "", "invalid"},
		{"more than 31 days ahead", first, t0.Add(tasks.RescheduleAhead + time.Second), "", "invalid"},
		{"another worker's visit", first, t0.Add(24 * time.Hour), otherID, "transition"},
		{"a visit nobody has, by a worker", e.routineOf(t, hhNoWorker)[0].ID, t0.Add(24 * time.Hour), ownerID, "transition"},
		{"an alarm's task", fall, t0.Add(24 * time.Hour), "", "transition"},
	} {
		t.Run(c.name, func(t *testing.T) { refuse(t, c.id, c.due, c.worker, c.want) })
	}

	// The worker puts their visit off by 4 days past its day.
	newDue := oldDue.Add(4 * 24 * time.Hour)
	moved, err := e.svc.Reschedule(ctx, first, newDue, "in hospital until Tuesday", ownerID, ownerID)
	must(t, err)
	timeEq(t, "due_at", moved.DueAt, newDue)
	if !moved.AckDueAt.Equal(newDue.Add(tasks.RoutineGrace)) || !moved.ResolveDueAt.Equal(newDue.Add(tasks.RoutineGrace)) || moved.State != tasks.Open {
		t.Errorf("moved: %+v; want open, deadlines 3 days after %v", moved, newDue)
	}
	if last := lastEntry(t, moved); last.Type != tasks.EntryRescheduled || last.Actor != ownerID ||
		last.Data["due_at"] != newDue.UTC().Format(time.RFC3339) || last.Data["from_due_at"] != oldDue.UTC().Format(time.RFC3339) ||
		last.Data["reason"] != "in hospital until Tuesday" {
		t.Errorf("timeline entry %+v", last)
	}
	again, err := e.svc.Reschedule(ctx, first, newDue, "", ownerID, ownerID)
	must(t, err)
	if len(again.Timeline) != len(moved.Timeline) {
		t.Errorf("moving a visit to its own day again recorded %v", lastEntry(t, again))
	}

	escalatesAt := func(at time.Time, want tasks.State) {
		t.Helper()
		e.clk.Advance(at)
		_, err := e.svc.Escalate(ctx)
		must(t, err)
		if got := e.task(t, first).State; got != want {
			t.Fatalf("at %v the visit is %s, want %s", at, got, want)
		}
	}
	escalatesAt(oldDue.Add(tasks.RoutineGrace), tasks.Open)
	escalatesAt(newDue.Add(tasks.RoutineGrace-time.Second), tasks.Open)
	escalatesAt(newDue.Add(tasks.RoutineGrace), tasks.Escalated)
	if msg := lastEntry(t, e.task(t, first)).Message; !strings.Contains(msg, newDue.Format(time.RFC3339)) {
		t.Errorf("escalation %q does not name the new day", msg)
	}

	// The supervisor gives the escalated visit a day: it waits, and escalates again 3 days after it.
	nextDue := e.clk.Now().Add(24 * time.Hour)
	back, err := e.svc.Reschedule(ctx, first, nextDue, "", superID, "")
	must(t, err)
	if back.State != tasks.Open {
		t.Errorf("escalated visit rescheduled: %s, want open", back.State)
	}
	escalatesAt(nextDue.Add(tasks.RoutineGrace-time.Second), tasks.Open)
	escalatesAt(nextDue.Add(tasks.RoutineGrace), tasks.Escalated)

	// Into April, and not back into March; counted once, in April.
	april := time.Date(2025, 4, 5, 10, 0, 0, 0, shanghai)
	_, err = e.svc.Reschedule(ctx, second, april, "", "office", "")
	must(t, err)
	refuse(t, second, time.Date(2025, 3, 31, 10, 0, 0, 0, shanghai), "", "invalid")
	for month, due := range map[string]int{"2025-03": 1, "2025-04": 1} {
		rows, _, err := e.svc.RoutineReport(ctx, month)
		must(t, err)
		if rows[0].GridID != gridMain || rows[0].Due != due {
			t.Errorf("%s: %+v, want %d due in %s", month, rows[0], due, gridMain)
		}
	}

	_, err = e.svc.CheckIn(ctx, second, ownerID, nil, nil)
	must(t, err)
	refuse(t, second, april.Add(24*time.Hour), "", "transition")
	_, err = e.svc.Resolve(ctx, second, ownerID, tasks.OutcomeVisited, "")
	must(t, err)
	refuse(t, second, april.Add(24*time.Hour), "", "transition")
}

// countingStore is the real store, counting its transactions.
type countingStore struct {
	*store.DB
	updates int
}

func (s *countingStore) Update(ctx context.Context, fn func(tasks.Tx) error) error {
	s.updates++
	return s.DB.Update(ctx, fn)
}

// TestScheduleRoutineBatches: the month's pass writes at most 50
// households' visits a transaction, since it runs while devices speak and a
// fall's writes wait for the transaction under way; households registered
// together (an import's) are scheduled 500 to a transaction.
func TestScheduleRoutineBatches(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, envOptions{})
	ids := []string{hhMain, hhNoWorker}
	for i := range 118 {
		id := fmt.Sprintf("hb%03d", i)
		must(t, e.db.CreateHousehold(ctx, registry.Household{ID: id, Name: "Batch " + id, Address: "1 Batch Road", GridID: gridMain}))
		ids = append(ids, id)
	}
	counting := &countingStore{DB: e.db}
	e.svc = e.newService(t, envOptions{store: counting})

	n, err := e.svc.ScheduleRoutine(ctx)
	must(t, err)
	if n != 120*2 || counting.updates != 3 {
		t.Errorf("the month's pass: %d visits in %d transactions, want 240 in 3", n, counting.updates)
	}

	e.clk.Advance(time.Date(2025, 4, 1, 0, 0, 0, 0, shanghai))
	counting.updates = 0
	n, err = e.svc.ScheduleRoutineFor(ctx, ids...)
	must(t, err)
	if n != 120*2 || counting.updates != 1 {
		t.Errorf("registered together: %d visits in %d transactions, want 240 in 1", n, counting.updates)
	}
}
