package tasks

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
)

// Ack records that a worker has seen the task and will act. The first worker
// to acknowledge owns the task. The owner acknowledging again (a retry after
// a lost answer) changes nothing and is not an error.
func (s *Service) Ack(ctx context.Context, id, workerID string) (Task, error) {
	return s.byWorker(ctx, id, workerID, "acknowledge", func(_ Tx, t *Task, w registry.Worker, now time.Time) (change, error) {
		switch {
		case t.State == Acknowledged && t.AssigneeID == w.ID:
			return change{}, nil
		case t.State == Acknowledged:
			return change{}, ownedBy(*t, w, "acknowledge")
		case t.State != Open && t.State != Escalated:
			return change{}, &TransitionError{Action: "acknowledge", State: t.State}
		}
		t.State = Acknowledged
		t.AssigneeID = w.ID
		// After a resolve-deadline escalation a task is acknowledged again; the
		// SLA measures the first acknowledgement.
		if t.AckedAt == nil {
			t.AckedAt = &now
		}
		return change{
			entry: TimelineEntry{Type: EntryAcknowledged, Message: w.Name + " acknowledged"},
			// The family hears someone is on the way only now (CONTRACT.md §12).
			notify: func(ctx context.Context, tx Tx, t Task) error {
				return s.tell(ctx, tx, t, Message{Event: NoticeAcknowledged, Assignee: w.Name}, nil, true)
			},
		}, nil
	})
}

// CheckIn records that the owner has arrived at the home.
func (s *Service) CheckIn(ctx context.Context, id, workerID string, lat, lon *float64) (Task, error) {
	if (lat == nil) != (lon == nil) {
		return Task{}, invalidf("lat and lon go together")
	}
	if lat != nil && !(*lat >= -90 && *lat <= 90 && *lon >= -180 && *lon <= 180) { // NaN is out of range too
		return Task{}, invalidf("lat must be within [-90, 90] and lon within [-180, 180]")
	}
	return s.byWorker(ctx, id, workerID, "check in to", func(_ Tx, t *Task, w registry.Worker, now time.Time) (change, error) {
		if t.Kind == rules.RoutineVisit && (t.State == Open || t.State == Escalated) {
			// A routine visit is planned: the worker at the door has taken it
			// on by being there, with no acknowledgement first.
			t.State, t.AssigneeID = Acknowledged, w.ID
			if t.AckedAt == nil {
				t.AckedAt = &now
			}
		}
		if t.State != Acknowledged {
			return change{}, &TransitionError{Action: "check in to", State: t.State, Reason: hint(t.State, "acknowledge it first", Open, Escalated)}
		}
		if err := ownedBy(*t, w, "check in to"); err != nil {
			return change{}, err
		}
		t.State = OnSite
		t.OnSiteAt = &now
		e := TimelineEntry{Type: EntryCheckedIn, Message: w.Name + " is on site"}
		if lat != nil {
			e.Data = map[string]any{"lat": *lat, "lon": *lon}
		}
		return change{entry: e, notify: func(ctx context.Context, tx Tx, t Task) error {
			return s.tell(ctx, tx, t, Message{Event: NoticeOnSite, Assignee: w.Name}, nil, true)
		}}, nil
	})
}

// Resolve closes the task with an outcome, by its owner, once on site. The
// family of a visit is told.
func (s *Service) Resolve(ctx context.Context, id, workerID, outcome, note string) (Task, error) {
	if !slices.Contains(Outcomes, outcome) && !slices.Contains(RoutineOutcomes, outcome) {
		return Task{}, invalidf("outcome %q: must be one of safe, needs_help, hospitalized, false_alarm, deceased, other (visited, not_home for a routine visit)", outcome)
	}
	if len(note) > maxText {
		return Task{}, invalidf("note: at most %d bytes", maxText)
	}
	var retry Task // the routine visit that replaces one nobody was home for
	resolved, err := s.byWorker(ctx, id, workerID, "resolve", func(tx Tx, t *Task, w registry.Worker, now time.Time) (change, error) {
		routine := t.Kind == rules.RoutineVisit
		if routine != slices.Contains(RoutineOutcomes, outcome) {
			if routine {
				return change{}, invalidf("outcome %q: a routine visit is resolved visited or not_home", outcome)
			}
			return change{}, invalidf("outcome %q: only a routine visit is resolved visited or not_home", outcome)
		}
		if t.State != OnSite {
			return change{}, &TransitionError{Action: "resolve", State: t.State, Reason: hint(t.State, "check in on site first", Open, Escalated, Acknowledged)}
		}
		if err := ownedBy(*t, w, "resolve"); err != nil {
			return change{}, err
		}
		t.State = Resolved
		t.ClosedAt = &now
		t.Outcome = outcome
		t.Note = note
		entry := TimelineEntry{Type: EntryResolved, Message: w.Name + " resolved: " + outcome, Data: map[string]any{"outcome": outcome}}
		if outcome == OutcomeNotHome {
			var err error
			if retry, err = s.retryRoutine(ctx, tx, *t, w, now); err != nil {
				return change{}, err
			}
			entry.Message += "; another visit is due by " + retry.DueAt.UTC().Format(time.RFC3339)
			entry.Data["next_task_id"] = retry.ID
		}
		return change{
			entry: entry,
			notify: func(ctx context.Context, tx Tx, t Task) error {
				return s.tell(ctx, tx, t, Message{Event: NoticeResolved, Assignee: w.Name}, nil, true)
			},
		}, nil
	})
	if err == nil && retry.ID != "" {
		s.opts.Changed(retry, ChangeOpened)
	}
	return resolved, err
}

// retryRoutine schedules another routine visit when nobody was home for t:
// due within RoutineGrace, with the worker who came.
func (s *Service) retryRoutine(ctx context.Context, tx Tx, t Task, w registry.Worker, now time.Time) (Task, error) {
	retry := s.newRoutine(t.HouseholdID, now.Add(RoutineGrace), "routine visit again: nobody was home at "+t.ID, w.ID)
	if err := tx.InsertTasks(ctx, []Task{retry}); err != nil {
		return Task{}, fmt.Errorf("insert routine visit: %w", err)
	}
	return retry, nil
}

// Handover passes a task from its owner to another registered worker, who
// owns it from then on and is told. It is allowed while the task is
// acknowledged, on site or escalated, and leaves it acknowledged: the new
// owner has yet to check in. The handover counts as the acknowledgement of a
// task that had none.
func (s *Service) Handover(ctx context.Context, id, fromID, toID, reason string) (Task, error) {
	if fromID == "" {
		return Task{}, invalidf("from_worker_id is required")
	}
	if toID == "" {
		return Task{}, invalidf("to_worker_id is required")
	}
	if toID == fromID {
		return Task{}, invalidf("to_worker_id must differ from from_worker_id")
	}
	if err := checkText("reason", reason); err != nil {
		return Task{}, err
	}
	return s.byWorker(ctx, id, fromID, "hand over", func(tx Tx, t *Task, from registry.Worker, now time.Time) (change, error) {
		to, err := tx.Worker(ctx, toID)
		if errors.Is(err, ErrNotFound) {
			return change{}, invalidf("to_worker_id: worker %q is not registered", toID)
		}
		if err != nil {
			return change{}, err
		}
		if t.State != Acknowledged && t.State != OnSite && t.State != Escalated {
			return change{}, &TransitionError{Action: "hand over", State: t.State, Reason: hint(t.State, "acknowledge it first", Open)}
		}
		if err := ownedBy(*t, from, "hand over"); err != nil {
			return change{}, err
		}
		t.State = Acknowledged
		t.AssigneeID = to.ID
		if t.AckedAt == nil {
			t.AckedAt = &now
		}
		return change{
			entry: TimelineEntry{Type: EntryHandedOver, Message: fmt.Sprintf("%s handed over to %s: %s", from.Name, to.Name, reason),
				Data: map[string]any{"from_worker_id": from.ID, "to_worker_id": to.ID, "reason": reason}},
			notify: func(ctx context.Context, tx Tx, t Task) error {
				return s.tell(ctx, tx, t, Message{Event: NoticeHandover, Assignee: to.Name, Reason: reason}, []registry.Worker{to}, false)
			},
		}, nil
	})
}

// Cancel closes a task that needs no more work, on an operator's word: actor
// names them on the timeline. Allowed in any state but resolved and cancelled.
// Its assignee and, for a visit, the family are told that no visit follows.
func (s *Service) Cancel(ctx context.Context, id, actor, reason string) (Task, error) {
	if err := checkText("reason", reason); err != nil {
		return Task{}, err
	}
	t, err := s.apply(ctx, id, actor, func(tx Tx, t *Task, now time.Time) (change, error) {
		if t.State.Closed() {
			return change{}, &TransitionError{Action: "cancel", State: t.State}
		}
		t.State = Cancelled
		t.ClosedAt = &now
		return change{
			entry: TimelineEntry{Type: EntryCancelled, Message: "cancelled: " + reason, Data: map[string]any{"reason": reason}},
			notify: func(ctx context.Context, tx Tx, t Task) error {
				var workers []registry.Worker
				if t.AssigneeID != "" {
					w, err := tx.Worker(ctx, t.AssigneeID)
					if err != nil {
						return fmt.Errorf("load worker %s: %w", t.AssigneeID, err)
					}
					workers = append(workers, w)
				}
				return s.tell(ctx, tx, t, Message{Event: NoticeCancelled, Reason: reason}, workers, true)
			},
		}, nil
	})
	if err != nil {
		return Task{}, fmt.Errorf("cancel task %s: %w", id, err)
	}
	return t, nil
}

// hint is reason when state is one of those it helps in, else nothing:
// "acknowledge it first" means nothing to a resolved task.
func hint(state State, reason string, helps ...State) string {
	if slices.Contains(helps, state) {
		return reason
	}
	return ""
}

func ownedBy(t Task, w registry.Worker, action string) error {
	switch t.AssigneeID {
	case w.ID:
		return nil
	case "":
		return &TransitionError{Action: action, State: t.State, Reason: "it has no owner; acknowledge it first"}
	}
	next := "ask for a handover"
	if action == "hand over" {
		next = "only they can hand it over"
	}
	return &TransitionError{Action: action, State: t.State, Reason: fmt.Sprintf("it is owned by %s; %s", t.AssigneeID, next)}
}

// change is what an action did to a task: the timeline entry that records it
// (an empty Type: the action changed nothing) and, when someone is to be told,
// notify, which enqueues the notices once the task is saved.
type change struct {
	entry  TimelineEntry
	notify func(ctx context.Context, tx Tx, t Task) error
}

// apply runs one action on a task in a transaction: fn checks it against the
// task as stored, changes the task and says what to record. The task, its
// entry (at the domain clock's now, by actor) and its notices are saved
// together or not at all. apply returns the task as stored, with evidence and
// timeline; a refused action changes nothing.
func (s *Service) apply(ctx context.Context, id, actor string, fn func(tx Tx, t *Task, now time.Time) (change, error)) (Task, error) {
	var (
		changed Task
		event   string
	)
	err := s.update(ctx, func(tx Tx) error {
		t, err := tx.Task(ctx, id)
		if err != nil {
			return err
		}
		now := s.opts.Clock.Now()
		c, err := fn(tx, &t, now)
		if err != nil || c.entry.Type == "" {
			return err
		}
		changed, event = t, changeOf(c.entry.Type)
		c.entry.At, c.entry.Actor = now, actor
		if err := tx.UpdateTask(ctx, t); err != nil {
			return err
		}
		if err := tx.AddTimeline(ctx, t.ID, c.entry); err != nil {
			return err
		}
		if c.notify != nil {
			return c.notify(ctx, tx, t)
		}
		return nil
	})
	if err != nil {
		return Task{}, err
	}
	t, err := s.opts.Store.Task(ctx, id)
	if event != "" {
		if err == nil {
			changed = t
		}
		s.opts.Changed(changed, event)
	}
	return t, err
}

// byWorker applies an action of a registered worker, who is its actor.
func (s *Service) byWorker(ctx context.Context, id, workerID, action string, fn func(tx Tx, t *Task, w registry.Worker, now time.Time) (change, error)) (Task, error) {
	if workerID == "" {
		return Task{}, invalidf("worker_id is required")
	}
	t, err := s.apply(ctx, id, workerID, func(tx Tx, t *Task, now time.Time) (change, error) {
		w, err := tx.Worker(ctx, workerID)
		if errors.Is(err, ErrNotFound) {
			return change{}, invalidf("worker %q is not registered", workerID)
		}
		if err != nil {
			return change{}, err
		}
		return fn(tx, t, w, now)
	})
	if err != nil {
		return Task{}, fmt.Errorf("%s task %s: %w", action, id, err)
	}
	return t, nil
}
