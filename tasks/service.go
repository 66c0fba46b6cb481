package tasks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/eldersafe/eldersafe/clock"
	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
)

// Deadlines are how long a task may wait for acknowledgement, by severity, and for resolution.
type Deadlines struct {
	Ack     map[rules.Severity]time.Duration
	Resolve time.Duration
}

// DefaultDeadlines are the contract's: critical 5 min, high 30 min, medium 4 h, low 24 h; resolve in 72 h.
func DefaultDeadlines() Deadlines {
	return Deadlines{
		Ack: map[rules.Severity]time.Duration{
			rules.Critical: 5 * time.Minute,
			rules.High:     30 * time.Minute,
			rules.Medium:   4 * time.Hour,
			rules.Low:      24 * time.Hour,
		},
		Resolve: 72 * time.Hour,
	}
}

// Options wire a Service.
type Options struct {
	Store Store
	// Clock is the time the domain runs on: the wall clock or the event clock.
	Clock    clock.Clock
	Composer Composer
	// Wall stamps outbox rows: retries run on wall time under either clock.
	Wall      clock.Clock
	Deadlines Deadlines
	// SMSEnabled says whether an SMS provider is configured; without one, sms
	// notices go to the log channel so nobody is silently skipped.
	SMSEnabled bool
	// Courier takes the notices a transaction enqueued out as it commits;
	// nil leaves them to the outbox's next look.
	Courier Courier
	// RateLimit is the least wall time between two notices of the same event
	// of a task to the same person on the same channel: a repeat within it is
	// not sent, and the timeline says so. Zero: no limit.
	RateLimit time.Duration
	// AckOverdue is called, after the commit, for every task that escalated
	// because its acknowledgement deadline passed.
	AckOverdue func()
	// Changed is called after every committed change of a task with the task
	// and what happened (ChangeOpened, ChangeAcknowledged, ...): a Feed's
	// Publish. It must not block. Nil: nobody is told.
	Changed func(t Task, event string)
	// Location is the monitor's time zone: routine visits are scheduled and
	// reported by its months. Nil: registry.DefaultTimezone.
	Location *time.Location
	// RoutineVisits is how many routine visits a month each care level
	// gets. Nil: DefaultRoutineVisits.
	RoutineVisits map[registry.CareLevel]int
	// VerifyWindow is how long a welfare task that one kind of signal
	// supports waits verifying for an answer before a worker is sent, by
	// the household's care level (care_levels.<level>.verify_window, else
	// tasks.verify_window). Nil or zero: every task is dispatched at once.
	VerifyWindow func(registry.CareLevel) time.Duration
	// AwayChanged is called after the commit when an answer recorded a
	// household away (with_me until), so the rules re-read its settings.
	AwayChanged func(householdID string)
	// PublicURL is where families reach the monitor's answer pages
	// (notify.public_url): a verifying task's family notices link to
	// PublicURL/a/<token>, a resolved visit's to PublicURL/r/<token> to
	// rate it. Empty: the notices offer the answers without links, and no
	// rating link.
	PublicURL string
	Logger    *slog.Logger
}

// Service is the task lifecycle.
type Service struct {
	opts Options
	due  dueGate
	// routineMonth is the month (YYYY-MM) whose routine visits every
	// household has: ScheduleRoutine asks the store nothing until the next.
	routineMonth atomic.Value
}

// NewService checks the options and returns a Service.
func NewService(opts Options) (*Service, error) {
	if opts.Store == nil || opts.Clock == nil || opts.Composer == nil {
		return nil, errors.New("tasks: store, clock and composer are required")
	}
	if opts.Wall == nil {
		return nil, errors.New("tasks: wall clock is required")
	}
	if opts.Deadlines.Ack == nil {
		opts.Deadlines = DefaultDeadlines()
	}
	if opts.Courier == nil {
		opts.Courier = noCourier{}
	}
	if opts.AckOverdue == nil {
		opts.AckOverdue = func() {}
	}
	if opts.AwayChanged == nil {
		opts.AwayChanged = func(string) {}
	}
	if opts.RateLimit < 0 {
		return nil, errors.New("tasks: rate limit must not be negative")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Location == nil {
		loc, err := time.LoadLocation(registry.DefaultTimezone)
		if err != nil {
			return nil, fmt.Errorf("tasks: load default time zone: %w", err)
		}
		opts.Location = loc
	}
	if opts.RoutineVisits == nil {
		opts.RoutineVisits = DefaultRoutineVisits()
	}
	for level, n := range opts.RoutineVisits {
		if n < 0 {
			return nil, fmt.Errorf("tasks: routine visits of care level %s must not be negative", level)
		}
	}
	s := &Service{opts: opts}
	changed := opts.Changed
	s.opts.Changed = func(t Task, event string) {
		// Every committed change passes here: a deadline it set is one the
		// gate must know before Escalate next asks it.
		s.due.forget()
		if changed != nil {
			changed(t, event)
		}
	}
	return s, nil
}

// Raise handles an alert: it opens a task, or attaches the evidence to the open
// task of the same household and rule, or records that the condition cleared.
// It reports the task and whether it was newly opened.
func (s *Service) Raise(ctx context.Context, a rules.Alert) (Task, bool, error) {
	t, opened, err := s.raise(ctx, a, ActorSystem)
	if err != nil {
		return Task{}, false, fmt.Errorf("raise %s for household %s: %w", a.Rule, a.HouseholdID, err)
	}
	return t, opened, nil
}

// maxText bounds the free text a person writes on a task: a note, a reason.
const maxText = 2000

// OpenManual opens a visit task on a person's word (a resident phoned in):
// rule manual, the reason as its evidence, actor on its timeline. Like a rule,
// a household has at most one open manual task: while it is open, a new report
// is attached to it as evidence and opened is false. The task comes with its
// evidence and timeline.
func (s *Service) OpenManual(ctx context.Context, householdID string, sev rules.Severity, reason, actor string) (Task, bool, error) {
	if !sev.Valid() {
		return Task{}, false, invalidf("severity %q: must be one of critical, high, medium, low", sev)
	}
	if err := checkText("reason", reason); err != nil {
		return Task{}, false, err
	}
	now := s.opts.Clock.Now()
	a := rules.Alert{
		HouseholdID: householdID, Rule: rules.RuleManual, Severity: sev, Kind: rules.Visit, At: now,
		Evidence: rules.Evidence{At: now, Summary: reason},
	}
	t, opened, err := s.raise(ctx, a, actor)
	if errors.Is(err, ErrNotFound) {
		// The household is the only thing raise looks up that the caller names.
		return Task{}, false, invalidf("household_id %q is not registered", householdID)
	}
	if err != nil {
		return Task{}, false, fmt.Errorf("open manual task for household %s: %w", householdID, err)
	}
	t, err = s.opts.Store.Task(ctx, t.ID)
	return t, opened, err
}

// checkText checks a required free-text field.
func checkText(field, v string) error {
	if strings.TrimSpace(v) == "" {
		return invalidf("%s is required", field)
	}
	if len(v) > maxText {
		return invalidf("%s: at most %d bytes", field, maxText)
	}
	return nil
}

// raise is Raise with the actor its timeline entries name.
func (s *Service) raise(ctx context.Context, a rules.Alert, actor string) (Task, bool, error) {
	var (
		task     Task
		opened   bool
		attached bool
	)
	err := s.update(ctx, func(tx Tx) error {
		existing, found, err := tx.OpenTaskFor(ctx, a.HouseholdID, a.Rule)
		if err != nil {
			return err
		}
		if found {
			task, attached = existing, true
			return s.attach(ctx, tx, task, a, actor)
		}
		if a.Cleared {
			// Nothing open to record it on: the condition came and went unnoticed by anyone.
			return nil
		}
		task, err = s.open(ctx, tx, a, actor)
		if err != nil {
			return err
		}
		opened = true
		return s.noticeOpened(ctx, tx, task, a.Evidence)
	})
	if err != nil {
		return Task{}, false, err
	}
	switch {
	case opened:
		s.opts.Changed(task, ChangeOpened)
	case attached:
		s.opts.Changed(task, ChangeUpdated)
	}
	return task, opened, nil
}

func (s *Service) attach(ctx context.Context, tx Tx, t Task, a rules.Alert, actor string) error {
	now := s.opts.Clock.Now()
	if a.Cleared {
		return tx.AddTimeline(ctx, t.ID, TimelineEntry{At: now, Actor: actor, Type: EntryConditionCleared, Message: a.Evidence.Summary})
	}
	if err := tx.AddEvidence(ctx, t.ID, a.Evidence); err != nil {
		return err
	}
	return tx.AddTimeline(ctx, t.ID, TimelineEntry{At: now, Actor: actor, Type: EntryEvidence, Message: a.Evidence.Summary})
}

func (s *Service) open(ctx context.Context, tx Tx, a rules.Alert, actor string) (Task, error) {
	h, err := tx.Household(ctx, a.HouseholdID)
	if err != nil {
		return Task{}, fmt.Errorf("load household: %w", err)
	}
	now := s.opts.Clock.Now()
	t := Task{
		ID:           uuid.Must(uuid.NewV7()).String(),
		HouseholdID:  a.HouseholdID,
		Rule:         a.Rule,
		Severity:     a.Severity,
		Kind:         a.Kind,
		State:        Open,
		OpenedAt:     now,
		AckDueAt:     now.Add(s.opts.Deadlines.Ack[a.Severity]),
		ResolveDueAt: now.Add(s.opts.Deadlines.Resolve),
	}
	if until, ok := s.verifying(a, h.CareLevel, now); ok {
		// Nobody is assigned or told yet; the deadline machinery picks the
		// task up at verify_until through ack_due_at.
		t.State, t.VerifyUntil, t.AckDueAt = Verifying, &until, until
	} else {
		w, assigned, err := s.primary(ctx, tx, h)
		if err != nil {
			return Task{}, err
		}
		if assigned {
			t.AssigneeID = w.ID
		}
	}
	if err := tx.InsertTask(ctx, t); err != nil {
		return Task{}, fmt.Errorf("insert task: %w", err)
	}
	if err := tx.AddEvidence(ctx, t.ID, a.Evidence); err != nil {
		return Task{}, err
	}
	entry := TimelineEntry{At: now, Actor: actor, Type: EntryOpened, Message: a.Evidence.Summary}
	switch {
	case t.State == Verifying:
		entry.Data = map[string]any{"state": string(Verifying), "verify_until": t.VerifyUntil.UTC().Format(time.RFC3339)}
	case t.AssigneeID != "":
		entry.Data = map[string]any{"assignee_id": t.AssigneeID}
	}
	if err := tx.AddTimeline(ctx, t.ID, entry); err != nil {
		return Task{}, err
	}
	t.Evidence = []rules.Evidence{a.Evidence}
	return t, nil
}

// Task loads one task with its evidence and timeline.
func (s *Service) Task(ctx context.Context, id string) (Task, error) {
	return s.opts.Store.Task(ctx, id)
}

// Tasks lists tasks, newest first.
func (s *Service) Tasks(ctx context.Context, f Filter) ([]Task, error) {
	if f.State != "" && !f.State.Valid() {
		return nil, invalidf("state %q: unknown", f.State)
	}
	if f.Kind != "" && !slices.Contains(Kinds, f.Kind) {
		return nil, invalidf("kind %q: must be one of visit, maintenance, routine_visit", f.Kind)
	}
	return s.opts.Store.Tasks(ctx, f)
}
