package tasks

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/eldersafe/eldersafe/registry"
)

// Reassign gives a task that is not closed to another worker on the
// office's word (actor): its worker is ill, on leave or far away, and the
// office, not that worker, moves it. An open or escalated task keeps
// waiting for an acknowledgement, now the new worker's; one under way
// becomes the new worker's, acknowledged, as after a handover.
func (s *Service) Reassign(ctx context.Context, id, toID, reason, actor string) (Task, error) {
	if toID == "" {
		return Task{}, invalidf("to_worker_id is required")
	}
	if err := checkText("reason", reason); err != nil {
		return Task{}, err
	}
	t, err := s.apply(ctx, id, actor, func(tx Tx, t *Task, now time.Time) (change, error) {
		if t.State.Closed() {
			return change{}, &TransitionError{Action: "reassign", State: t.State}
		}
		to, err := tx.Worker(ctx, toID)
		if errors.Is(err, ErrNotFound) {
			return change{}, invalidf("to_worker_id: worker %q is not registered", toID)
		}
		if err != nil {
			return change{}, err
		}
		if t.AssigneeID == to.ID {
			return change{}, invalidf("to_worker_id: the task is %s's already", to.ID)
		}
		from := t.AssigneeID
		if t.State == OnSite {
			t.State = Acknowledged
		}
		t.AssigneeID = to.ID
		return change{
			entry: TimelineEntry{Type: EntryHandedOver, Message: fmt.Sprintf("reassigned to %s: %s", to.Name, reason),
				Data: map[string]any{"from_worker_id": from, "to_worker_id": to.ID, "reason": reason}},
			notify: func(ctx context.Context, tx Tx, t Task) error {
				return s.tell(ctx, tx, t, Message{Event: NoticeHandover, Assignee: to.Name, Reason: reason}, []registry.Worker{to}, false)
			},
		}, nil
	})
	if err != nil {
		return Task{}, fmt.Errorf("reassign task %s: %w", id, err)
	}
	return t, nil
}
