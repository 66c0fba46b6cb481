package tasks

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
)

// RoutineGrace is how long a routine visit may be overdue before it
// escalates to the grid's backup worker and supervisor; a not_home visit is
// tried again within it too.
const RoutineGrace = 3 * 24 * time.Hour

// RescheduleAhead is how far ahead of now a routine visit may be moved: a
// month at most, so that a visit put off stays on the worker's list.
const RescheduleAhead = 31 * 24 * time.Hour

// DefaultRoutineVisits are the routine visits a month per care level (CONTRACT.md §13).
func DefaultRoutineVisits() map[registry.CareLevel]int {
	return map[registry.CareLevel]int{registry.CareSelfCare: 2, registry.CareSemi: 4, registry.CareDependent: 8}
}

// RoutineHousehold is what scheduling needs of a household.
type RoutineHousehold struct {
	ID        string
	GridID    string
	CareLevel registry.CareLevel
}

// RoutineSample is what the routine report needs of one routine visit.
type RoutineSample struct {
	GridID  string
	State   State
	Outcome string
	DueAt   time.Time
}

// RoutineRow is how one grid kept up its routine visits in a month.
type RoutineRow struct {
	GridID string `json:"grid_id"`
	// Households is the grid's registered households today.
	Households int `json:"households"`
	// Due counts the routine visits due in the month, but those cancelled
	// and those nobody was home for (another one was scheduled instead).
	Due int `json:"due"`
	// Done counts the visits resolved visited.
	Done int `json:"done"`
	// Overdue counts the visits not closed whose due time has passed.
	Overdue int `json:"overdue"`
	// CoveragePct is 100 × done / due; null when nothing was due.
	CoveragePct *float64 `json:"coverage_pct"`
}

// monthKey is how a month is spelt: YYYY-MM.
const monthKey = "2006-01"

// monthBounds is the month of t in loc: its first instant, the next month's
// first instant, and its key.
func monthBounds(t time.Time, loc *time.Location) (start, end time.Time, key string) {
	l := t.In(loc)
	start = time.Date(l.Year(), l.Month(), 1, 0, 0, 0, 0, loc)
	return start, start.AddDate(0, 1, 0), start.Format(monthKey)
}

// ParseMonth reads YYYY-MM as a month in loc.
func ParseMonth(s string, loc *time.Location) (start, end time.Time, err error) {
	m, err := time.ParseInLocation(monthKey, s, loc)
	if err != nil {
		return time.Time{}, time.Time{}, invalidf("month %q: want YYYY-MM, e.g. 2026-03", s)
	}
	start, end, _ = monthBounds(m, loc)
	return start, end, nil
}

// ScheduleRoutine schedules the routine visits of the domain clock's month
// for every household that has none scheduled for it yet: at the first
// moment the clock is in a new month, and after a restart. It is cheap to
// call at every tick: once a month is done it asks the store nothing until
// the next. It returns how many visits it scheduled.
func (s *Service) ScheduleRoutine(ctx context.Context) (int, error) {
	now := s.opts.Clock.Now()
	if now.IsZero() {
		return 0, nil // the event clock has not started: no month yet
	}
	_, _, month := monthBounds(now, s.opts.Location)
	if s.routineMonth.Load() == month {
		return 0, nil
	}
	list, err := s.opts.Store.RoutineHouseholds(ctx, month)
	if err != nil {
		return 0, fmt.Errorf("schedule routine visits of %s: %w", month, err)
	}
	ids := make([]string, len(list))
	for i, h := range list {
		ids[i] = h.ID
	}
	n, err := s.scheduleChunks(ctx, ids, now, monthBatch)
	if err != nil {
		return n, err // the next call tries the rest again
	}
	s.routineMonth.Store(month)
	if n > 0 {
		s.opts.Logger.Info("routine visits scheduled", "month", month, "households", len(list), "visits", n)
	}
	return n, nil
}

// ScheduleRoutineFor schedules households' routine visits for the rest of
// the domain clock's month, pro rata, unless they are scheduled already:
// call it when households are registered (an import's, all at once).
// Before the event clock starts it does nothing; ScheduleRoutine catches
// up then.
func (s *Service) ScheduleRoutineFor(ctx context.Context, householdIDs ...string) (int, error) {
	now := s.opts.Clock.Now()
	if now.IsZero() {
		return 0, nil
	}
	return s.scheduleChunks(ctx, householdIDs, now, routineBatch)
}

// scheduleChunks schedules households' visits batch households to a
// transaction, every chunk however the others fare, and says how many
// visits it opened.
func (s *Service) scheduleChunks(ctx context.Context, householdIDs []string, now time.Time, batch int) (int, error) {
	n := 0
	var errs []error
	for chunk := range slices.Chunk(householdIDs, batch) {
		k, err := s.scheduleRoutine(ctx, chunk, now)
		n += k
		errs = append(errs, err)
	}
	return n, errors.Join(errs...)
}

// routineBatch is how many households' visits one transaction schedules:
// one transaction a household made an import of a million households with
// care levels 530 a second, and a month's start a million transactions
// (docs/performance.md, "Import, fifth round").
const routineBatch = 500

// monthBatch is routineBatch for the month's pass, which runs while devices
// speak: a fall's writes wait for the transaction under way, and 500
// households' visits took hundreds of milliseconds at 1,000,000 households
// with both cores busy (docs/performance.md, "Twenty-eighth round").
const monthBatch = 50

// scheduleRoutine opens households' routine visits for the rest of now's
// month, all in one transaction: each household's care level's visits a
// month, pro rata for what is left of it, due at the middles of equal
// slots of the rest of the month. The month is recorded in the same
// transaction, so no visit is ever scheduled twice. When the transaction
// fails, each household is scheduled again in one of its own, so that one
// household's error (deleted meanwhile) costs the others nothing.
func (s *Service) scheduleRoutine(ctx context.Context, householdIDs []string, now time.Time) (int, error) {
	var opened []Task
	err := s.opts.Store.Update(ctx, func(tx Tx) (err error) {
		opened, err = s.routineVisits(ctx, tx, householdIDs, now)
		return err
	})
	if err != nil && len(householdIDs) > 1 {
		n := 0
		var errs []error
		for _, id := range householdIDs {
			k, err := s.scheduleRoutine(ctx, []string{id}, now)
			n += k
			errs = append(errs, err)
		}
		return n, errors.Join(errs...)
	}
	if err != nil {
		return 0, err
	}
	for _, t := range opened {
		s.opts.Changed(t, ChangeOpened)
	}
	return len(opened), nil
}

// routineVisits opens, in tx, the routine visits of households for the rest
// of now's month, unless the month has them already, and returns them. A
// handful of statements for all of them: on PostgreSQL each is a round
// trip, and the month's pass at 1,000,000 households made twelve for every
// household (docs/performance.md, "Thirty-seventh round").
func (s *Service) routineVisits(ctx context.Context, tx Tx, householdIDs []string, now time.Time) ([]Task, error) {
	start, end, month := monthBounds(now, s.opts.Location)
	// A household alone is named in the errors: its own transaction is
	// what a failed batch is tried again in.
	which := fmt.Sprintf("%d households", len(householdIDs))
	if len(householdIDs) == 1 {
		which = "household " + householdIDs[0]
	}
	fail := func(err error) ([]Task, error) {
		return nil, fmt.Errorf("schedule routine visits of %s for %s: %w", which, month, err)
	}
	hs, err := tx.RoutineHouseholdsOf(ctx, householdIDs)
	if err != nil {
		return fail(err)
	}
	left := end.Sub(now)
	visits := make(map[string]int, len(householdIDs))
	for _, id := range householdIDs {
		h, ok := hs[id]
		if !ok {
			return fail(fmt.Errorf("household %s: %w", id, ErrNotFound))
		}
		perMonth := s.opts.RoutineVisits[h.CareLevel.OrDefault()]
		// Rounded up: a household registered on the 20th still gets one visit.
		visits[id] = int((int64(perMonth)*int64(left) + int64(end.Sub(start)) - 1) / int64(end.Sub(start)))
	}
	fresh, err := tx.MarkRoutineMonths(ctx, month, visits, now)
	if err != nil {
		return fail(err)
	}
	var opened []Task
	primary := make(map[string]string) // grid → its primary worker, "" for none
	for _, id := range householdIDs {
		if !fresh[id] {
			continue // marked before, or listed twice
		}
		delete(fresh, id)
		h := hs[id]
		assignee, ok := primary[h.GridID]
		if !ok {
			w, err := tx.PrimaryWorker(ctx, h.GridID)
			switch {
			case err == nil:
				assignee = w.ID
			case !errors.Is(err, ErrNotFound):
				return fail(fmt.Errorf("household %s: find grid worker: %w", id, err))
			}
			primary[h.GridID] = assignee
		}
		n := visits[id]
		for i := range n {
			due := now.Add(time.Duration(int64(left) * int64(2*i+1) / int64(2*n)))
			opened = append(opened, s.newRoutine(id, due, fmt.Sprintf("routine visit %d of %d for %s", i+1, n, month), assignee))
		}
	}
	if err := tx.InsertTasks(ctx, opened); err != nil {
		return fail(err)
	}
	return opened, nil
}

// newRoutine is a routine visit of household householdID due at due, with
// its evidence and timeline, not yet inserted, for assignee (none: the
// grid has no worker yet). Nobody is notified: the visit is on the
// worker's list, and the family hears of it once it is resolved.
func (s *Service) newRoutine(householdID string, due time.Time, summary, assignee string) Task {
	now := s.opts.Clock.Now()
	entry := TimelineEntry{At: now, Actor: ActorSystem, Type: EntryOpened, Message: summary,
		Data: map[string]any{"due_at": due.UTC().Format(time.RFC3339)}}
	if assignee != "" {
		entry.Data["assignee_id"] = assignee
	}
	return Task{
		ID:           uuid.Must(uuid.NewV7()).String(),
		HouseholdID:  householdID,
		Rule:         rules.RuleRoutineVisit,
		Severity:     rules.Low,
		Kind:         rules.RoutineVisit,
		State:        Open,
		AssigneeID:   assignee,
		OpenedAt:     now,
		DueAt:        &due,
		AckDueAt:     due.Add(RoutineGrace),
		ResolveDueAt: due.Add(RoutineGrace),
		Evidence:     []rules.Evidence{{At: now, Summary: summary}},
		Timeline:     []TimelineEntry{entry},
	}
}

// Reschedule moves a routine visit not yet made to another day, due, on
// actor's word, with an optional reason. due may be neither past, nor more
// than RescheduleAhead away, nor in a month before the visit's (that
// month's visits and report may be closed already). worker, when not empty, must own the visit: a grid
// worker moves only their own. The visit's deadlines follow the new day, so
// it escalates RoutineGrace after it; one escalated already waits again
// (open, or acknowledged if it was) so that it can escalate again. Nobody is
// notified: the visit is on the worker's list. Moving it to the day it has
// already (a retry after a lost answer) changes nothing.
func (s *Service) Reschedule(ctx context.Context, id string, due time.Time, reason, actor, worker string) (Task, error) {
	if len(reason) > maxText {
		return Task{}, invalidf("reason: at most %d bytes", maxText)
	}
	t, err := s.apply(ctx, id, actor, func(_ Tx, t *Task, now time.Time) (change, error) {
		if t.Kind != rules.RoutineVisit || t.DueAt == nil {
			return change{}, &TransitionError{Action: "reschedule", State: t.State, Reason: "only a routine visit has a day to move"}
		}
		if t.State.Closed() || t.State == OnSite {
			return change{}, &TransitionError{Action: "reschedule", State: t.State, Reason: hint(t.State, "resolve it visited or not_home", OnSite)}
		}
		if worker != "" && t.AssigneeID != worker {
			whose := "it has no worker yet"
			if t.AssigneeID != "" {
				whose = "it is owned by " + t.AssigneeID
			}
			return change{}, &TransitionError{Action: "reschedule", State: t.State, Reason: whose + "; the office may move it"}
		}
		month, _, key := monthBounds(*t.DueAt, s.opts.Location)
		switch {
		case due.Before(now):
			return change{}, invalidf("due_at %s is past: it is %s now", due.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
		case due.After(now.Add(RescheduleAhead)):
			return change{}, invalidf("due_at %s: at most 31 days ahead, by %s", due.UTC().Format(time.RFC3339), now.Add(RescheduleAhead).UTC().Format(time.RFC3339))
		case due.Before(month):
			return change{}, invalidf("due_at %s: the visit is one of %s; it may move later, not to an earlier month", due.UTC().Format(time.RFC3339), key)
		case due.Equal(*t.DueAt):
			return change{}, nil
		}
		from := *t.DueAt
		t.DueAt = &due
		t.AckDueAt, t.ResolveDueAt = due.Add(RoutineGrace), due.Add(RoutineGrace)
		if t.State == Escalated {
			t.State = Open
			if t.AckedAt != nil {
				t.State = Acknowledged
			}
		}
		msg := "visit moved from " + from.UTC().Format(time.RFC3339) + " to " + due.UTC().Format(time.RFC3339)
		data := map[string]any{"from_due_at": from.UTC().Format(time.RFC3339), "due_at": due.UTC().Format(time.RFC3339)}
		if reason != "" {
			msg += ": " + reason
			data["reason"] = reason
		}
		return change{entry: TimelineEntry{Type: EntryRescheduled, Message: msg, Data: data}}, nil
	})
	if err != nil {
		return Task{}, fmt.Errorf("reschedule task %s: %w", id, err)
	}
	return t, nil
}

// RoutineReport is, with the month it covers, per grid how many routine visits were due in month
// (YYYY-MM in the monitor's time zone; empty: the domain clock's month),
// how many were done and how many are overdue at the domain clock's now.
// Rows come by grid id; a grid with neither households nor visits has none.
func (s *Service) RoutineReport(ctx context.Context, month string) ([]RoutineRow, string, error) {
	now := s.opts.Clock.Now()
	var start, end time.Time
	if month == "" {
		start, end, month = monthBounds(now, s.opts.Location)
	} else {
		var err error
		if start, end, err = ParseMonth(month, s.opts.Location); err != nil {
			return nil, "", err
		}
	}
	samples, households, err := s.opts.Store.RoutineSamples(ctx, start, end)
	if err != nil {
		return nil, "", fmt.Errorf("routine report: %w", err)
	}
	rows := map[string]*RoutineRow{}
	row := func(grid string) *RoutineRow {
		if rows[grid] == nil {
			rows[grid] = &RoutineRow{GridID: grid, Households: households[grid]}
		}
		return rows[grid]
	}
	for grid := range households {
		row(grid)
	}
	for _, x := range samples {
		r := row(x.GridID)
		if x.State == Cancelled || x.Outcome == OutcomeNotHome {
			continue
		}
		r.Due++
		switch {
		case x.State == Resolved:
			r.Done++
		case x.DueAt.Before(now):
			r.Overdue++
		}
	}
	out := make([]RoutineRow, 0, len(rows))
	for _, r := range rows {
		if r.Due > 0 {
			pct := 100 * float64(r.Done) / float64(r.Due)
			r.CoveragePct = &pct
		}
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b RoutineRow) int { return cmp.Compare(a.GridID, b.GridID) })
	return out, month, nil
}
