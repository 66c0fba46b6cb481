package tasks

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
)

// Answers to a check (CONTRACT.md §12): ok and with_me settle a verifying
// task, cannot_reach and please_visit send a worker at once.
const (
	AnswerOK          = "ok"
	AnswerWithMe      = "with_me"
	AnswerCannotReach = "cannot_reach"
	AnswerPleaseVisit = "please_visit"
)

// AnswerChoices lists every answer, in the order a notice offers them.
var AnswerChoices = []string{AnswerOK, AnswerWithMe, AnswerCannotReach, AnswerPleaseVisit}

// Who answers a check.
const (
	ByResident = "resident"
	ByFamily   = "family"
)

// Verify windows: the default of tasks.verify_window, and the longest a
// welfare task may wait for an answer before a worker is sent.
const (
	DefaultVerifyWindow = 20 * time.Minute
	MaxVerifyWindow     = 2 * time.Hour
)

// MaxWithMe bounds the away period a with_me answer sets.
const MaxWithMe = 14 * 24 * time.Hour

// DeadlineVerify: a verifying task nobody answered for by verify_until.
const DeadlineVerify = "verify"

// Answer is one answer to a task's check, as GET /api/v1/tasks/{id} shows it.
type Answer struct {
	// By is who answered: a family contact's name, or the resident's device.
	By     string    `json:"by"`
	Answer string    `json:"answer"`
	At     time.Time `json:"at"`
}

// AnswersOf lists the answers a timeline records, in its order: an answer
// is recorded on the entry of what it did (answered, resolved, dispatched).
func AnswersOf(timeline []TimelineEntry) []Answer {
	var out []Answer
	for _, e := range timeline {
		if answer, ok := e.Data["answer"].(string); ok {
			out = append(out, Answer{By: e.Actor, Answer: answer, At: e.At})
		}
	}
	return out
}

// AnswerRequest is an answer to a task's check.
type AnswerRequest struct {
	// By names who answered (a contact's name, a device id): the timeline's actor.
	By string
	// Role is ByResident or ByFamily: only the family may answer with_me.
	Role   string
	Answer string
	// Until, with with_me, is when the resident comes home: the household
	// is away until then. Zero: no away period.
	Until time.Time
	// HouseholdID, when set, is the household the answer comes from (a
	// wristband's): a task of another household is not found.
	HouseholdID string
}

// verifying reports whether an alert's task opens verifying, and until when.
func (s *Service) verifying(a rules.Alert, level registry.CareLevel, now time.Time) (time.Time, bool) {
	r, ok := rules.Lookup(a.Rule)
	if !ok || r.Class != rules.ClassWelfare || a.Corroborated() || s.opts.VerifyWindow == nil {
		return time.Time{}, false
	}
	w := s.opts.VerifyWindow(level)
	if w <= 0 {
		return time.Time{}, false
	}
	return now.Add(w), true
}

// AnswerCheck records an answer to a task's check. On a verifying task, ok
// and with_me resolve it verified_ok (with_me with Until also records the
// household away until then); cannot_reach and please_visit send a worker
// at once. On a task already with a worker the answer is recorded for them
// and changes nothing else; a closed task takes no answer.
func (s *Service) AnswerCheck(ctx context.Context, id string, req AnswerRequest) (Task, error) {
	if !slices.Contains(AnswerChoices, req.Answer) {
		return Task{}, invalidf("answer %q: must be one of ok, with_me, cannot_reach, please_visit", req.Answer)
	}
	if req.Role != ByResident && req.Role != ByFamily {
		return Task{}, invalidf("role %q: must be resident or family", req.Role)
	}
	if req.Role == ByResident && req.Answer != AnswerOK {
		return Task{}, invalidf("answer %q: a resident's check answers only ok", req.Answer)
	}
	if req.By == "" {
		return Task{}, invalidf("who answered is required")
	}
	if !req.Until.IsZero() && req.Answer != AnswerWithMe {
		return Task{}, invalidf("until goes only with with_me")
	}
	away := ""
	t, err := s.apply(ctx, id, req.By, func(tx Tx, t *Task, now time.Time) (change, error) {
		if req.HouseholdID != "" && req.HouseholdID != t.HouseholdID {
			return change{}, fmt.Errorf("task %s of household %s: %w", id, req.HouseholdID, ErrNotFound)
		}
		if t.State.Closed() {
			return change{}, &TransitionError{Action: "answer", State: t.State}
		}
		if !req.Until.IsZero() && (!req.Until.After(now) || req.Until.Sub(now) > MaxWithMe) {
			return change{}, invalidf("until must be after now and at most %d days ahead", int(MaxWithMe/(24*time.Hour)))
		}
		entry := TimelineEntry{Type: EntryAnswered, Message: fmt.Sprintf("%s (%s) answered %s", req.By, req.Role, req.Answer),
			Data: map[string]any{"answer": req.Answer, "role": req.Role}}
		if t.State != Verifying {
			return change{entry: entry}, nil
		}
		switch req.Answer {
		case AnswerOK, AnswerWithMe:
			t.State, t.Outcome, t.ClosedAt = Resolved, OutcomeVerifiedOK, &now
			if !req.Until.IsZero() {
				p := registry.AwayPeriod{ID: uuid.Must(uuid.NewV7()).String(), HouseholdID: t.HouseholdID,
					From: now, Until: req.Until, Reason: "with family (" + req.By + ")", CreatedAt: s.opts.Wall.Now()}
				if err := tx.AddAwayPeriod(ctx, p); err != nil {
					return change{}, fmt.Errorf("record away period: %w", err)
				}
				entry.Data["until"] = req.Until.UTC().Format(time.RFC3339)
				away = t.HouseholdID
			}
			entry.Type, entry.Message = EntryResolved, entry.Message+": resolved "+OutcomeVerifiedOK
			entry.Data["outcome"] = OutcomeVerifiedOK
			return change{entry: entry}, nil
		default:
			c, err := s.dispatchVerifying(ctx, tx, t, now, fmt.Sprintf("%s answered %s", req.By, req.Answer))
			if c.entry.Data == nil {
				c.entry.Data = map[string]any{}
			}
			c.entry.Data["answer"], c.entry.Data["role"] = req.Answer, req.Role
			return c, err
		}
	})
	if err != nil {
		return Task{}, fmt.Errorf("answer task %s: %w", id, err)
	}
	if away != "" {
		s.opts.AwayChanged(away)
	}
	return t, nil
}

// dispatchVerifying sends a verifying task to a worker: open, assigned to
// the grid's primary worker, acknowledgement deadline from now. The family
// was asked already and hears again once a worker acknowledges.
func (s *Service) dispatchVerifying(ctx context.Context, tx Tx, t *Task, now time.Time, why string) (change, error) {
	h, err := tx.Household(ctx, t.HouseholdID)
	if err != nil {
		return change{}, fmt.Errorf("load household: %w", err)
	}
	w, assigned, err := s.primary(ctx, tx, h)
	if err != nil {
		return change{}, err
	}
	t.State = Open
	t.AckDueAt = now.Add(s.opts.Deadlines.Ack[t.Severity])
	entry := TimelineEntry{Type: EntryDispatched, Message: why + "; sent to nobody: the grid has no worker"}
	var workers []registry.Worker
	if assigned {
		t.AssigneeID = w.ID
		workers = append(workers, w)
		entry.Message = why + "; sent to " + w.Name
		entry.Data = map[string]any{"assignee_id": w.ID}
	}
	return change{
		entry: entry,
		notify: func(ctx context.Context, tx Tx, t Task) error {
			return s.tell(ctx, tx, t, Message{Event: NoticeOpened, Assignee: w.Name}, workers, false)
		},
	}, nil
}

// primary is the grid's primary worker of h, if it has one. An unstaffed
// grid must not lose the task: it stays unassigned and escalates.
func (s *Service) primary(ctx context.Context, tx Tx, h registry.Household) (registry.Worker, bool, error) {
	w, err := tx.PrimaryWorker(ctx, h.GridID)
	switch {
	case err == nil:
		return w, true, nil
	case errors.Is(err, ErrNotFound):
		s.opts.Logger.Warn("no grid worker for household's grid; task left unassigned", "household_id", h.ID, "grid_id", h.GridID)
		return registry.Worker{}, false, nil
	default:
		return registry.Worker{}, false, fmt.Errorf("find grid worker: %w", err)
	}
}
