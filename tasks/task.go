// Package tasks turns alerts into home-visit and maintenance tasks that a grid
// worker owns: assignment, lifecycle, deadlines and the notices each change causes.
// It knows nothing of SQL, HTTP or MQTT; storage sits behind Store.
package tasks

import (
	"fmt"
	"time"

	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
)

// State is where a task is in its lifecycle.
type State string

const (
	// Verifying: a welfare task waits for the resident or the family to
	// answer before anyone is sent (CONTRACT.md §12).
	Verifying    State = "verifying"
	Open         State = "open"
	Acknowledged State = "acknowledged"
	OnSite       State = "on_site"
	Resolved     State = "resolved"
	Escalated    State = "escalated"
	Cancelled    State = "cancelled"
)

// States lists every state.
var States = []State{Verifying, Open, Acknowledged, OnSite, Resolved, Escalated, Cancelled}

// Valid reports whether s is a known state.
func (s State) Valid() bool {
	for _, known := range States {
		if s == known {
			return true
		}
	}
	return false
}

// Closed reports whether no more work is expected on a task in state s.
func (s State) Closed() bool { return s == Resolved || s == Cancelled }

// Kinds lists every kind of task.
var Kinds = []rules.TaskKind{rules.Visit, rules.Maintenance, rules.RoutineVisit}

// Outcomes a resolution of a visit or maintenance task may record.
var Outcomes = []string{"safe", "needs_help", "hospitalized", "false_alarm", OutcomeDeceased, "other"}

// OutcomeDeceased is told to a family in person, never by a notice's words.
const OutcomeDeceased = "deceased"

// Outcomes of a routine visit.
const (
	OutcomeVisited = "visited"
	// OutcomeNotHome schedules another visit within RoutineRetry.
	OutcomeNotHome = "not_home"
)

// RoutineOutcomes lists the outcomes a routine visit may record.
var RoutineOutcomes = []string{OutcomeVisited, OutcomeNotHome}

// OutcomeVerifiedOK closes a verifying task the resident or the family
// answered for: nobody was sent. It is not one of Outcomes: no worker
// resolves a visit with it.
const OutcomeVerifiedOK = "verified_ok"

// Task is one piece of work for a person: visit a resident or fix a device.
type Task struct {
	ID           string         `json:"id"`
	HouseholdID  string         `json:"household_id"`
	Rule         string         `json:"rule"`
	Severity     rules.Severity `json:"severity"`
	Kind         rules.TaskKind `json:"kind"`
	State        State          `json:"state"`
	AssigneeID   string         `json:"assignee_id,omitempty"`
	OpenedAt     time.Time      `json:"opened_at"`
	AckDueAt     time.Time      `json:"ack_due_at"`
	ResolveDueAt time.Time      `json:"resolve_due_at"`
	AckedAt      *time.Time     `json:"acked_at,omitempty"`
	OnSiteAt     *time.Time     `json:"on_site_at,omitempty"`
	ClosedAt     *time.Time     `json:"closed_at,omitempty"`
	// EscalatedAt is when the task last escalated; it keeps a task from
	// escalating twice for the same missed deadline.
	EscalatedAt *time.Time `json:"escalated_at,omitempty"`
	// DueAt is when a routine visit is due; nil for tasks an alert opened.
	DueAt   *time.Time `json:"due_at,omitempty"`
	Outcome string     `json:"outcome,omitempty"`
	Note    string     `json:"note,omitempty"`
	// VerifyUntil is when a task opened verifying goes to a worker unless
	// someone answers first; nil for a task dispatched at once.
	VerifyUntil *time.Time `json:"verify_until,omitempty"`
	// Answers are the resident's and the family's answers to the check,
	// from the timeline; filled when a single task is loaded.
	Answers []Answer `json:"answers,omitempty"`
	// Evidence and Timeline are filled when a single task is loaded.
	Evidence []rules.Evidence `json:"evidence,omitempty"`
	Timeline []TimelineEntry  `json:"timeline,omitempty"`
}

// Timeline entry types.
const (
	EntryOpened           = "opened"
	EntryEvidence         = "evidence"
	EntryConditionCleared = "condition_cleared"
	EntryAcknowledged     = "acknowledged"
	EntryCheckedIn        = "checked_in"
	EntryResolved         = "resolved"
	EntryHandedOver       = "handed_over"
	EntryCancelled        = "cancelled"
	EntryEscalated        = "escalated"
	EntryNotice           = "notice"
	// EntryAnswered: the resident or a family contact answered a check.
	EntryAnswered = "answered"
	// EntryDispatched: a verifying task went to a worker.
	EntryDispatched   = "dispatched"
	EntryNoticeFailed = "notice_failed"
	// EntryNoticeSkipped: a notice was not sent because the same one reached
	// the same person on the same channel within the rate limit.
	EntryNoticeSkipped = "notice_skipped"
	// EntryNoticeDeferred: a family notice waits for the end of the contact's quiet hours.
	EntryNoticeDeferred = "notice_deferred"
	// EntryRated: the family rated a resolved visit.
	EntryRated = "rated"
	// EntryRescheduled: a routine visit was moved to another day.
	EntryRescheduled = "rescheduled"
)

// TimelineEntry records a state change, a notice or a note, with its time and actor.
type TimelineEntry struct {
	At      time.Time      `json:"at"`
	Actor   string         `json:"actor"`
	Type    string         `json:"type"`
	Message string         `json:"message"`
	Data    map[string]any `json:"data,omitempty"`
}

// ActorSystem is the actor of what eldersafe does by itself.
const ActorSystem = "system"

// ErrNotFound: no task with that id, or no object it refers to. It is the
// registry's sentinel, so one errors.Is check serves every lookup.
var ErrNotFound = registry.ErrNotFound

// TransitionError is an action the task's current state does not allow.
type TransitionError struct {
	Action string
	State  State
	Reason string
}

func (e *TransitionError) Error() string {
	msg := fmt.Sprintf("cannot %s a task that is %s", e.Action, e.State)
	if e.Reason != "" {
		msg += ": " + e.Reason
	}
	return msg
}

// InvalidError is a request that is wrong in itself, whatever the task's state.
type InvalidError struct{ Msg string }

func (e *InvalidError) Error() string { return e.Msg }

func invalidf(format string, args ...any) error {
	return &InvalidError{Msg: fmt.Sprintf(format, args...)}
}
