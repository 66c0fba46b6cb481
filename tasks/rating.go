package tasks

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
)

// Rating is a family's judgement of a resolved visit: 1 to 5 stars.
type Rating struct {
	TaskID string `json:"task_id"`
	// By is who rated: a family user's id, or a contact through an answer link.
	By      string    `json:"by"`
	Stars   int       `json:"stars"`
	Comment string    `json:"comment,omitempty"`
	At      time.Time `json:"at"`
}

// Rate records by's rating of a resolved visit (a visit or a routine
// visit) and notes it on the task's timeline. Each rater rates a task once:
// a second rating is registry.ErrConflict. Who may rate which task is the
// caller's to check (the API: a family user of the household).
func (s *Service) Rate(ctx context.Context, taskID, by string, stars int, comment string) (Rating, error) {
	if strings.TrimSpace(by) == "" {
		return Rating{}, invalidf("rater is required")
	}
	if stars < 1 || stars > 5 {
		return Rating{}, invalidf("stars %d: must be 1 to 5", stars)
	}
	if len(comment) > maxText {
		return Rating{}, invalidf("comment: at most %d bytes", maxText)
	}
	now := s.opts.Clock.Now()
	r := Rating{TaskID: taskID, By: by, Stars: stars, Comment: comment, At: now}
	var rated Task
	err := s.opts.Store.Update(ctx, func(tx Tx) error {
		t, err := tx.Task(ctx, taskID)
		if err != nil {
			return err
		}
		if t.Kind != rules.Visit && t.Kind != rules.RoutineVisit {
			return invalidf("only a visit is rated; task %s is %s", t.ID, t.Kind)
		}
		if t.State != Resolved {
			return &TransitionError{Action: "rate", State: t.State, Reason: "a visit is rated once it is resolved"}
		}
		if err := tx.InsertRating(ctx, r); err != nil {
			if errors.Is(err, registry.ErrConflict) {
				return &TransitionError{Action: "rate", State: t.State, Reason: by + " has rated it already"}
			}
			return err
		}
		rated = t
		return tx.AddTimeline(ctx, t.ID, TimelineEntry{At: now, Actor: by, Type: EntryRated,
			Message: fmt.Sprintf("rated %d of 5", stars), Data: map[string]any{"stars": stars}})
	})
	if err != nil {
		return Rating{}, fmt.Errorf("rate task %s: %w", taskID, err)
	}
	s.opts.Changed(rated, ChangeUpdated)
	return r, nil
}
