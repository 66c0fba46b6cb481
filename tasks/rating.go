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

// FamilyVisit is a resolved visit as the family sees it, with their rating.
type FamilyVisit struct {
	ID       string         `json:"id"`
	Kind     rules.TaskKind `json:"kind"`
	OpenedAt time.Time      `json:"opened_at"`
	ClosedAt *time.Time     `json:"closed_at,omitempty"`
	Outcome  string         `json:"outcome"`
	// Rating is by's own, nil until they rate.
	Rating *Rating `json:"rating"`
}

// familyVisitLimit is how many of the latest resolved visits FamilyVisits looks at.
const familyVisitLimit = 50

// FamilyVisits lists the latest resolved visits of household h that its
// family was told of (the resident's privacy settings decide, as for
// notices), newest first, each with by's rating if they gave one.
func (s *Service) FamilyVisits(ctx context.Context, h registry.Household, by string) ([]FamilyVisit, error) {
	list, err := s.opts.Store.Tasks(ctx, Filter{HouseholdID: h.ID, State: Resolved, WithRoutine: true, Limit: familyVisitLimit})
	if err != nil {
		return nil, fmt.Errorf("visits of household %s: %w", h.ID, err)
	}
	visits := []FamilyVisit{}
	var ids []string
	for _, t := range list {
		if !familyHears(t, NoticeResolved) || !familySees(h.Privacy, t.Rule) {
			continue
		}
		visits = append(visits, FamilyVisit{ID: t.ID, Kind: t.Kind, OpenedAt: t.OpenedAt, ClosedAt: t.ClosedAt, Outcome: t.Outcome})
		ids = append(ids, t.ID)
	}
	if len(ids) == 0 {
		return visits, nil
	}
	rated, err := s.opts.Store.RatingsBy(ctx, by, ids)
	if err != nil {
		return nil, fmt.Errorf("visits of household %s: %w", h.ID, err)
	}
	for i := range visits {
		if r, ok := rated[visits[i].ID]; ok {
			visits[i].Rating = &r
		}
	}
	return visits, nil
}
