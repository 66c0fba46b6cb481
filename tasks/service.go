package tasks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
)

// Clock tells the time the domain runs on: the wall clock or the event clock.
type Clock interface{ Now() time.Time }

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
	Store    Store
	Clock    Clock
	Composer Composer
	// WallNow stamps outbox rows: retries run on wall time under either clock.
	WallNow   func() time.Time
	Deadlines Deadlines
	// SMSEnabled says whether an SMS provider is configured; without one, sms
	// notices go to the log channel so nobody is silently skipped.
	SMSEnabled bool
	// Notified is called after a transaction that enqueued notices has committed,
	// so the outbox sends them at once instead of at its next poll.
	Notified func()
	Logger   *slog.Logger
}

// Service is the task lifecycle.
type Service struct {
	opts Options
}

// NewService checks the options and returns a Service.
func NewService(opts Options) (*Service, error) {
	if opts.Store == nil || opts.Clock == nil || opts.Composer == nil {
		return nil, errors.New("tasks: store, clock and composer are required")
	}
	if opts.WallNow == nil {
		return nil, errors.New("tasks: wall clock is required")
	}
	if opts.Deadlines.Ack == nil {
		opts.Deadlines = DefaultDeadlines()
	}
	if opts.Notified == nil {
		opts.Notified = func() {}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Service{opts: opts}, nil
}

// Raise handles an alert: it opens a task, or attaches the evidence to the open
// task of the same household and rule, or records that the condition cleared.
// It reports the task and whether it was newly opened.
func (s *Service) Raise(ctx context.Context, a rules.Alert) (Task, bool, error) {
	var (
		task    Task
		opened  bool
		noticed bool
	)
	err := s.opts.Store.Update(ctx, func(tx Tx) error {
		existing, found, err := tx.OpenTaskFor(ctx, a.HouseholdID, a.Rule)
		if err != nil {
			return err
		}
		if found {
			task = existing
			return s.attach(ctx, tx, task, a)
		}
		if a.Cleared {
			// Nothing open to record it on: the condition came and went unnoticed by anyone.
			return nil
		}
		task, err = s.open(ctx, tx, a)
		if err != nil {
			return err
		}
		opened = true
		noticed, err = s.noticeOpened(ctx, tx, task, a.Evidence)
		return err
	})
	if err != nil {
		return Task{}, false, fmt.Errorf("raise %s for household %s: %w", a.Rule, a.HouseholdID, err)
	}
	if noticed {
		s.opts.Notified()
	}
	return task, opened, nil
}

func (s *Service) attach(ctx context.Context, tx Tx, t Task, a rules.Alert) error {
	now := s.opts.Clock.Now()
	if a.Cleared {
		return tx.AddTimeline(ctx, t.ID, TimelineEntry{At: now, Actor: ActorSystem, Type: EntryConditionCleared, Message: a.Evidence.Summary})
	}
	if err := tx.AddEvidence(ctx, t.ID, a.Evidence); err != nil {
		return err
	}
	return tx.AddTimeline(ctx, t.ID, TimelineEntry{At: now, Actor: ActorSystem, Type: EntryEvidence, Message: a.Evidence.Summary})
}

func (s *Service) open(ctx context.Context, tx Tx, a rules.Alert) (Task, error) {
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
	w, err := tx.PrimaryWorker(ctx, h.GridID)
	switch {
	case err == nil:
		t.AssigneeID = w.ID
	case errors.Is(err, ErrNotFound):
		// An unstaffed grid must not lose the task: it stays unassigned and escalates.
		s.opts.Logger.Warn("no grid worker for household's grid; task opened unassigned", "household_id", h.ID, "grid_id", h.GridID)
	default:
		return Task{}, fmt.Errorf("find grid worker: %w", err)
	}
	if err := tx.InsertTask(ctx, t); err != nil {
		return Task{}, fmt.Errorf("insert task: %w", err)
	}
	if err := tx.AddEvidence(ctx, t.ID, a.Evidence); err != nil {
		return Task{}, err
	}
	entry := TimelineEntry{At: now, Actor: ActorSystem, Type: EntryOpened, Message: a.Evidence.Summary}
	if t.AssigneeID != "" {
		entry.Data = map[string]any{"assignee_id": t.AssigneeID}
	}
	if err := tx.AddTimeline(ctx, t.ID, entry); err != nil {
		return Task{}, err
	}
	t.Evidence = []rules.Evidence{a.Evidence}
	return t, nil
}

// recipient is one person on one channel.
type recipient struct {
	role, name, channel, address, lang string
}

// noticeOpened enqueues the notices of a newly opened task: its assignee and
// every family contact on each channel the contact chose.
func (s *Service) noticeOpened(ctx context.Context, tx Tx, t Task, ev rules.Evidence) (bool, error) {
	h, err := tx.Household(ctx, t.HouseholdID)
	if err != nil {
		return false, fmt.Errorf("load household: %w", err)
	}
	var recipients []recipient
	assignee := ""
	if t.AssigneeID != "" {
		w, err := tx.Worker(ctx, t.AssigneeID)
		if err != nil {
			return false, fmt.Errorf("load worker %s: %w", t.AssigneeID, err)
		}
		assignee = w.Name
		recipients = append(recipients, s.workerRecipient(w))
	}
	if t.Kind == rules.Visit {
		for _, c := range h.Contacts {
			for _, ch := range c.Channels {
				recipients = append(recipients, s.contactRecipient(c, ch))
			}
		}
	}
	msg := Message{
		Event:     NoticeOpened,
		Task:      t,
		Household: HouseholdInfo{Name: h.Name, Address: h.Address, Location: h.Location()},
		Assignee:  assignee,
	}
	if ev.Values != nil {
		msg.Lat, msg.Lon = floatValue(ev.Values, "lat"), floatValue(ev.Values, "lon")
	}
	for _, r := range dedupeRecipients(recipients) {
		if err := s.enqueue(ctx, tx, t, msg, r); err != nil {
			return false, err
		}
	}
	return len(recipients) > 0, nil
}

func (s *Service) workerRecipient(w registry.Worker) recipient {
	r := recipient{role: RecipientWorker, name: w.Name, lang: w.Lang}
	switch {
	case w.PushURL != "":
		r.channel, r.address = registry.ChannelPush, w.PushURL
	case w.Phone != "" && s.opts.SMSEnabled:
		r.channel, r.address = registry.ChannelSMS, w.Phone
	default:
		r.channel = registry.ChannelLog
	}
	return r
}

func (s *Service) contactRecipient(c registry.Contact, channel string) recipient {
	r := recipient{role: RecipientFamily, name: c.Name, lang: c.Lang, channel: channel}
	switch channel {
	case registry.ChannelPush:
		r.address = c.PushURL
	case registry.ChannelSMS:
		if s.opts.SMSEnabled {
			r.address = c.Phone
		} else {
			r.channel = registry.ChannelLog
		}
	}
	return r
}

// dedupeRecipients drops repeats, e.g. a contact listing sms with no SMS provider and log.
func dedupeRecipients(rs []recipient) []recipient {
	seen := make(map[recipient]bool, len(rs))
	return slices.DeleteFunc(rs, func(r recipient) bool {
		if seen[r] {
			return true
		}
		seen[r] = true
		return false
	})
}

func (s *Service) enqueue(ctx context.Context, tx Tx, t Task, msg Message, r recipient) error {
	msg.Role = r.role
	msg.Lang = r.lang
	if msg.Lang == "" {
		msg.Lang = registry.DefaultLanguage
	}
	title, text, err := s.opts.Composer.Compose(msg)
	if err != nil {
		// A broken template must never cost the alarm: send plain words instead.
		s.opts.Logger.Error("compose notice; sending plain text", "event", msg.Event, "lang", msg.Lang, "task_id", t.ID, "err", err)
		title, text = plainText(msg)
	}
	now := s.opts.WallNow()
	n := Notice{
		ID:            uuid.Must(uuid.NewV7()).String(),
		TaskID:        t.ID,
		HouseholdID:   t.HouseholdID,
		Rule:          t.Rule,
		Severity:      string(t.Severity),
		Channel:       r.channel,
		Role:          r.role,
		Recipient:     r.name,
		Address:       r.address,
		Lang:          msg.Lang,
		Title:         title,
		Message:       text,
		OpenedAt:      t.OpenedAt,
		CreatedAt:     now,
		Status:        NoticePending,
		NextAttemptAt: now,
	}
	if err := tx.Enqueue(ctx, n); err != nil {
		return fmt.Errorf("enqueue notice: %w", err)
	}
	return nil
}

// plainText is a notice without a template: rule, severity, who and where.
func plainText(m Message) (title, text string) {
	loc := m.Household.Location
	if loc == nil {
		loc = time.UTC
	}
	title = fmt.Sprintf("[%s] %s: %s", m.Task.Severity, m.Task.Rule, m.Household.Name)
	text = fmt.Sprintf("%s\n%s\n%s", title, m.Household.Address, m.Task.OpenedAt.In(loc).Format("2006-01-02 15:04 MST"))
	if m.Assignee != "" {
		text += "\n" + m.Assignee
	}
	return title, text
}

func floatValue(values map[string]any, key string) *float64 {
	if f, ok := values[key].(float64); ok {
		return &f
	}
	return nil
}

// Ack records that a worker has seen the task and will act. The first worker
// to acknowledge owns the task.
func (s *Service) Ack(ctx context.Context, id, workerID string) (Task, error) {
	return s.change(ctx, id, workerID, "acknowledge", func(t *Task, w registry.Worker, now time.Time) (TimelineEntry, error) {
		if t.State != Open && t.State != Escalated {
			return TimelineEntry{}, &TransitionError{Action: "acknowledge", State: t.State}
		}
		t.State = Acknowledged
		t.AssigneeID = w.ID
		t.AckedAt = &now
		return TimelineEntry{Type: EntryAcknowledged, Message: w.Name + " acknowledged"}, nil
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
	return s.change(ctx, id, workerID, "check in to", func(t *Task, w registry.Worker, now time.Time) (TimelineEntry, error) {
		if t.State != Acknowledged {
			return TimelineEntry{}, &TransitionError{Action: "check in to", State: t.State, Reason: "acknowledge it first"}
		}
		if err := ownedBy(*t, w, "check in to"); err != nil {
			return TimelineEntry{}, err
		}
		t.State = OnSite
		t.OnSiteAt = &now
		e := TimelineEntry{Type: EntryCheckedIn, Message: w.Name + " is on site"}
		if lat != nil {
			e.Data = map[string]any{"lat": *lat, "lon": *lon}
		}
		return e, nil
	})
}

// Resolve closes the task with an outcome, by its owner, once on site.
func (s *Service) Resolve(ctx context.Context, id, workerID, outcome, note string) (Task, error) {
	if !slices.Contains(Outcomes, outcome) {
		return Task{}, invalidf("outcome %q: must be one of safe, needs_help, hospitalized, false_alarm, deceased, other", outcome)
	}
	if len(note) > 2000 {
		return Task{}, invalidf("note: at most 2000 bytes")
	}
	return s.change(ctx, id, workerID, "resolve", func(t *Task, w registry.Worker, now time.Time) (TimelineEntry, error) {
		if t.State != OnSite {
			return TimelineEntry{}, &TransitionError{Action: "resolve", State: t.State, Reason: "check in on site first"}
		}
		if err := ownedBy(*t, w, "resolve"); err != nil {
			return TimelineEntry{}, err
		}
		t.State = Resolved
		t.ClosedAt = &now
		t.Outcome = outcome
		t.Note = note
		return TimelineEntry{Type: EntryResolved, Message: w.Name + " resolved: " + outcome, Data: map[string]any{"outcome": outcome}}, nil
	})
}

func ownedBy(t Task, w registry.Worker, action string) error {
	if t.AssigneeID != w.ID {
		return &TransitionError{Action: action, State: t.State, Reason: fmt.Sprintf("it is owned by %s; ask for a handover", t.AssigneeID)}
	}
	return nil
}

// change applies one worker action to a task inside a transaction.
func (s *Service) change(ctx context.Context, id, workerID, action string, apply func(*Task, registry.Worker, time.Time) (TimelineEntry, error)) (Task, error) {
	if workerID == "" {
		return Task{}, invalidf("worker_id is required")
	}
	var t Task
	err := s.opts.Store.Update(ctx, func(tx Tx) error {
		w, err := tx.Worker(ctx, workerID)
		if errors.Is(err, ErrNotFound) {
			return invalidf("worker %q is not registered", workerID)
		}
		if err != nil {
			return err
		}
		t, err = tx.Task(ctx, id)
		if err != nil {
			return err
		}
		now := s.opts.Clock.Now()
		entry, err := apply(&t, w, now)
		if err != nil {
			return err
		}
		entry.At, entry.Actor = now, w.ID
		if err := tx.UpdateTask(ctx, t); err != nil {
			return err
		}
		return tx.AddTimeline(ctx, t.ID, entry)
	})
	if err != nil {
		return Task{}, fmt.Errorf("%s task %s: %w", action, id, err)
	}
	return s.opts.Store.Task(ctx, id)
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
	return s.opts.Store.Tasks(ctx, f)
}
