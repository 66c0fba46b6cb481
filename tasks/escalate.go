package tasks

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
)

// Deadlines a task escalates at, as recorded in its escalated timeline entry.
const (
	// DeadlineAck: an open task nobody acknowledged by ack_due_at.
	DeadlineAck = "ack"
	// DeadlineResolve: an acknowledged task nobody reached by resolve_due_at.
	DeadlineResolve = "resolve"
)

// escalateBatch is how many due tasks Escalate takes from the store at a time.
const escalateBatch = 100

// Escalate escalates every task whose deadline has passed at the domain
// clock's now (and dispatches every verifying task nobody answered for by
// its verify_until, which it does not count): an open task at its ack_due_at, an acknowledged one (owned, but
// nobody on site) at its resolve_due_at. Each reaches the grid's backup worker
// and supervisor; they, the assignee and the family of a visit are notified.
// A task escalates once per deadline, however often Escalate runs. It returns
// how many tasks escalated; one task failing does not stop the others.
//
// It is called at every move of the clock, so it asks the store only once
// the earliest deadline it knows of has passed (dueGate).
func (s *Service) Escalate(ctx context.Context) (int, error) {
	now := s.opts.Clock.Now()
	gen, due := s.due.check(now)
	if !due {
		return 0, nil
	}
	n, err := s.escalateDue(ctx, now)
	if err != nil {
		return n, err
	}
	next, err := s.opts.Store.DueForEscalation(ctx, endOfTime, 1)
	if err != nil {
		return n, fmt.Errorf("escalate: find the next deadline: %w", err)
	}
	s.due.found(gen, next)
	return n, nil
}

// endOfTime is later than any deadline: the tasks due by then are every
// task with a deadline ahead, earliest first.
var endOfTime = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

// escalateDue escalates the tasks due at now, a batch at a time.
func (s *Service) escalateDue(ctx context.Context, now time.Time) (int, error) {
	n := 0
	for {
		due, err := s.opts.Store.DueForEscalation(ctx, now, escalateBatch)
		if err != nil {
			return n, fmt.Errorf("escalate: %w", err)
		}
		var errs []error
		batch, progress := 0, 0
		for _, t := range due {
			deadline, err := s.escalate(ctx, t.ID)
			switch {
			case err != nil:
				errs = append(errs, err)
			case deadline == DeadlineVerify:
				// Dispatched, not escalated: progress, not counted.
				progress++
			case deadline != "":
				batch++
				// An overdue routine visit is no alarm left unacknowledged.
				if deadline == DeadlineAck && t.Kind != rules.RoutineVisit {
					s.opts.AckOverdue()
				}
			}
		}
		n += batch
		// A batch that made no progress would come back the same: stop.
		if len(errs) > 0 || len(due) < escalateBatch || batch+progress == 0 {
			return n, errors.Join(errs...)
		}
	}
}

// escalate escalates one task if it is still due, and reports for which
// deadline; "" when it no longer is (acknowledged in the meantime).
func (s *Service) escalate(ctx context.Context, id string) (string, error) {
	var deadline string
	_, err := s.apply(ctx, id, ActorSystem, func(tx Tx, t *Task, now time.Time) (change, error) {
		var due time.Time
		deadline, due = overdue(*t, now)
		if deadline == "" {
			return change{}, nil
		}
		if deadline == DeadlineVerify {
			return s.dispatchVerifying(ctx, tx, t, now, "nobody answered by "+due.Format(time.RFC3339))
		}
		reached, err := s.escalationWorkers(ctx, tx, *t)
		if err != nil {
			return change{}, err
		}
		ids, names := make([]string, len(reached)), make([]string, len(reached))
		for i, w := range reached {
			ids[i], names[i] = w.ID, w.Name
		}
		t.State = Escalated
		t.EscalatedAt = &now
		what := "not acknowledged by " + due.Format(time.RFC3339)
		switch {
		case t.Kind == rules.RoutineVisit && t.DueAt != nil:
			what = "routine visit due " + t.DueAt.Format(time.RFC3339) + " not made by " + due.Format(time.RFC3339)
		case deadline == DeadlineResolve:
			what = "nobody on site by " + due.Format(time.RFC3339)
		}
		msg := what + "; escalated to nobody: the grid has no backup worker or supervisor"
		if len(names) > 0 {
			msg = what + "; escalated to " + strings.Join(names, ", ")
		}
		return change{
			entry: TimelineEntry{Type: EntryEscalated, Message: msg,
				Data: map[string]any{"deadline": deadline, "due_at": due.Format(time.RFC3339Nano), "escalated_to": ids}},
			notify: func(ctx context.Context, tx Tx, t Task) error {
				workers, m := reached, Message{Event: NoticeEscalated, EscalatedTo: names}
				if t.AssigneeID != "" {
					w, err := tx.Worker(ctx, t.AssigneeID)
					if err != nil {
						return fmt.Errorf("load worker %s: %w", t.AssigneeID, err)
					}
					m.Assignee = w.Name
					workers = append([]registry.Worker{w}, workers...)
				}
				return s.tell(ctx, tx, t, m, workers, true)
			},
		}, nil
	})
	if err != nil {
		return "", fmt.Errorf("escalate task %s: %w", id, err)
	}
	if deadline != "" && deadline != DeadlineVerify {
		s.opts.Logger.Info("task escalated", "task_id", id, "deadline", deadline)
	}
	return deadline, nil
}

// dueGate holds the earliest deadline of any task, so that Escalate asks the
// store only once it has passed. Escalate learns it from the store after
// escalating; every committed task change makes the gate forget it (a change
// may set deadlines on other tasks too: a routine visit nobody was home for
// schedules the next), so the next Escalate asks again. A change during
// Escalate's search may be missing from what the search found: then the
// gate forgets too.
type dueGate struct {
	mu    sync.Mutex
	next  time.Time // no deadline before it; valid when known
	known bool
	gen   uint64 // counts changes, so that a search that raced one is not trusted
}

// check reports whether a deadline may have passed at now, and the count of
// changes the search that follows must be checked against.
func (g *dueGate) check(now time.Time) (uint64, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.gen, !g.known || !now.Before(g.next)
}

// found records what a search begun after check returned gen found: the
// task with the earliest deadline, if any.
func (g *dueGate) found(gen uint64, earliest []Task) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.gen != gen {
		g.known = false
		return
	}
	g.next, g.known = endOfTime, true
	if len(earliest) > 0 {
		_, g.next = overdue(earliest[0], endOfTime)
	}
}

// forget follows a committed change of a task.
func (g *dueGate) forget() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.gen++
	g.known = false
}

// overdue says which deadline t has missed at now, if any, and when it was.
// It is the store's DueForEscalation condition.
func overdue(t Task, now time.Time) (string, time.Time) {
	switch {
	case t.State == Verifying && !now.Before(t.AckDueAt):
		return DeadlineVerify, t.AckDueAt
	case t.State == Open && !now.Before(t.AckDueAt):
		return DeadlineAck, t.AckDueAt
	case t.State == Acknowledged && !now.Before(t.ResolveDueAt) && (t.EscalatedAt == nil || t.EscalatedAt.Before(t.ResolveDueAt)):
		return DeadlineResolve, t.ResolveDueAt
	}
	return "", time.Time{}
}

// escalationWorkers are who an escalation of t reaches: its grid's backup
// worker and supervisor, those of them registered. The grid names them
// without checking, so one never registered is logged and left out.
func (s *Service) escalationWorkers(ctx context.Context, tx Tx, t Task) ([]registry.Worker, error) {
	h, err := tx.Household(ctx, t.HouseholdID)
	if err != nil {
		return nil, fmt.Errorf("load household: %w", err)
	}
	g, err := tx.Grid(ctx, h.GridID)
	if err != nil {
		return nil, fmt.Errorf("load grid: %w", err)
	}
	var workers []registry.Worker
	for _, id := range []string{g.BackupWorkerID, g.SupervisorID} {
		if id == "" || (len(workers) > 0 && workers[0].ID == id) {
			continue
		}
		w, err := tx.Worker(ctx, id)
		if errors.Is(err, ErrNotFound) {
			s.opts.Logger.Warn("grid names an unregistered worker; escalation skips them", "grid_id", g.ID, "worker_id", id, "task_id", t.ID)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("load worker %s: %w", id, err)
		}
		workers = append(workers, w)
	}
	if len(workers) == 0 {
		s.opts.Logger.Warn("grid has no backup worker or supervisor to escalate to", "grid_id", g.ID, "task_id", t.ID)
	}
	return workers, nil
}
