package tasks

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/eldersafe/eldersafe/registry"
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
func (s *Service) Escalate(ctx context.Context) (int, error) {
	now := s.opts.Clock.Now()
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
				if deadline == DeadlineAck {
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
		if deadline == DeadlineResolve {
			what = "nobody on site by " + due.Format(time.RFC3339)
		}
		msg := what + "; escalated to nobody: the grid has no backup worker or supervisor"
		if len(names) > 0 {
			msg = what + "; escalated to " + strings.Join(names, ", ")
		}
		return change{
			entry: TimelineEntry{Type: EntryEscalated, Message: msg,
				Data: map[string]any{"deadline": deadline, "due_at": due.Format(time.RFC3339Nano), "escalated_to": ids}},
			notify: func(ctx context.Context, tx Tx, t Task) (bool, error) {
				workers, m := reached, Message{Event: NoticeEscalated, EscalatedTo: names}
				if t.AssigneeID != "" {
					w, err := tx.Worker(ctx, t.AssigneeID)
					if err != nil {
						return false, fmt.Errorf("load worker %s: %w", t.AssigneeID, err)
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
