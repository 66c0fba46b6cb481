package tasks

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
)

// recipient is one person on one channel.
type recipient struct {
	role, name, channel, address, lang string
	// quiet is a family contact's quiet hours, "" for none.
	quiet string
}

// noticeOpened enqueues the notices of a newly opened task: its assignee and
// every family contact on each channel the contact chose.
func (s *Service) noticeOpened(ctx context.Context, tx Tx, t Task, ev rules.Evidence) error {
	if t.State == Verifying {
		// The resident and the family are asked; no worker hears of it
		// unless it is dispatched.
		if err := s.checkResident(ctx, tx, t); err != nil {
			return err
		}
		return s.tell(ctx, tx, t, Message{Event: NoticeVerifying}, nil, true)
	}
	var workers []registry.Worker
	msg := Message{Event: NoticeOpened}
	if t.AssigneeID != "" {
		w, err := tx.Worker(ctx, t.AssigneeID)
		if err != nil {
			return fmt.Errorf("load worker %s: %w", t.AssigneeID, err)
		}
		msg.Assignee = w.Name
		workers = append(workers, w)
	}
	if ev.Values != nil {
		msg.Lat, msg.Lon = floatValue(ev.Values, "lat"), floatValue(ev.Values, "lon")
	}
	return s.tell(ctx, tx, t, msg, workers, true)
}

// tell enqueues msg about t to the workers and, when family is set and t is a
// visit, to every family contact on each channel the contact chose (the rate
// limit may hold some back).
func (s *Service) tell(ctx context.Context, tx Tx, t Task, msg Message, workers []registry.Worker, family bool) error {
	h, err := tx.Household(ctx, t.HouseholdID)
	if err != nil {
		return fmt.Errorf("load household: %w", err)
	}
	msg.Task = t
	msg.Household = HouseholdInfo{Name: h.Name, Address: h.Address, Location: h.Location()}
	var recipients []recipient
	for _, w := range workers {
		recipients = append(recipients, s.workerRecipient(w))
	}
	// The resident's privacy settings: the family is not told of a rule
	// about a signal they may not see. Workers are always told: they visit.
	if family && familyHears(t, msg.Event) && familySees(h.Privacy, t.Rule) {
		for _, c := range h.Contacts {
			for _, ch := range c.Channels {
				recipients = append(recipients, s.contactRecipient(c, ch))
			}
		}
	}
	for _, r := range dedupeRecipients(recipients) {
		m := msg
		if !h.Privacy.Visible(registry.SignalLocation, audience(r.role)) {
			m = withoutLocation(m)
		}
		if r.role == RecipientFamily {
			switch m.Event {
			case NoticeVerifying:
				m.Actions, err = s.answerLinks(ctx, tx, t, r)
			case NoticeResolved:
				m.Actions, err = s.ratingLink(ctx, tx, t, r)
			}
			if err != nil {
				return err
			}
		}
		if err := s.enqueue(ctx, tx, t, m, r); err != nil {
			return err
		}
	}
	return nil
}

// familyHears reports whether the family is told of event on t: of every
// event of a visit, and of a routine visit only its resolution. A planned
// call is no news until it was made (or nobody was home); its scheduling and
// any delay are the office's business.
func familyHears(t Task, event string) bool {
	switch t.Kind {
	case rules.Visit:
		return true
	case rules.RoutineVisit:
		return event == NoticeResolved
	}
	return false
}

// familySees reports whether the family may be told of a task of rule: only
// of a rule of rules.Table whose signal the family may see, or that reveals
// none. A rule the table does not know is kept from the family: nobody has
// said what it reveals.
func familySees(p registry.Privacy, rule string) bool {
	r, ok := rules.Lookup(rule)
	return ok && (r.Signal == rules.SignalNone || p.Visible(r.Signal, registry.AudienceFamily))
}

// audience is the privacy audience of a recipient role.
func audience(role string) string {
	if role == RecipientFamily {
		return registry.AudienceFamily
	}
	return registry.AudienceWorker
}

// withoutLocation is m without the wristband's position: no map link.
func withoutLocation(m Message) Message {
	m.Lat, m.Lon = nil, nil
	evidence := make([]rules.Evidence, len(m.Task.Evidence))
	for i, ev := range m.Task.Evidence {
		if ev.Values != nil {
			values := make(map[string]any, len(ev.Values))
			for k, v := range ev.Values {
				if !slices.Contains(registry.LocationKeys, k) {
					values[k] = v
				}
			}
			ev.Values = values
		}
		evidence[i] = ev
	}
	m.Task.Evidence = evidence
	return m
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
	r := recipient{role: RecipientFamily, name: c.Name, lang: c.Lang, channel: channel, quiet: c.QuietHours}
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

// dedupeRecipients drops repeats, e.g. a contact listing sms with no SMS
// provider and log, or a supervisor who is also the grid's backup worker.
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

// enqueue writes one notice to the outbox: a repeat within the rate limit is
// left out, with a timeline entry saying so.
// A low or medium severity notice to a family contact in their quiet hours
// waits for the end of them. Both judge wall time, as delivery runs on it.
func (s *Service) enqueue(ctx context.Context, tx Tx, t Task, msg Message, r recipient) error {
	msg.Role = r.role
	msg.Lang = r.lang
	if msg.Lang == "" {
		msg.Lang = registry.DefaultLanguage
	}
	now := s.opts.Wall.Now()
	n := Notice{
		ID:            uuid.Must(uuid.NewV7()).String(),
		TaskID:        t.ID,
		Event:         msg.Event,
		HouseholdID:   t.HouseholdID,
		Rule:          t.Rule,
		Severity:      string(t.Severity),
		Channel:       r.channel,
		Role:          r.role,
		Recipient:     r.name,
		Address:       r.address,
		Lang:          msg.Lang,
		OpenedAt:      t.OpenedAt,
		State:         string(t.State),
		Actions:       msg.Actions,
		CreatedAt:     now,
		Status:        NoticePending,
		NextAttemptAt: now,
	}
	if held, err := s.rateLimited(ctx, tx, n); held || err != nil {
		return err
	}
	title, text, err := s.opts.Composer.Compose(msg)
	if err != nil {
		// A broken template must never cost the alarm: send plain words instead.
		s.opts.Logger.Error("compose notice; sending plain text", "event", msg.Event, "lang", msg.Lang, "task_id", t.ID, "err", err)
		title, text = plainText(msg)
	}
	n.Title, n.Message = title, text
	if until, quiet := s.quietUntil(t, r, msg.Household.Location, now); quiet {
		n.NextAttemptAt = until.UTC()
		entry := TimelineEntry{
			At: s.opts.Clock.Now(), Actor: ActorSystem, Type: EntryNoticeDeferred,
			Message: fmt.Sprintf("%s to %s (%s) held until %s, the end of their quiet hours", n.Channel, n.Recipient, n.Role,
				until.Format("15:04 MST")),
			Data: map[string]any{"notice_id": n.ID, "event": n.Event, "channel": n.Channel, "recipient": n.Recipient,
				"role": n.Role, "until": n.NextAttemptAt.Format(time.RFC3339)},
		}
		if err := tx.AddTimeline(ctx, t.ID, entry); err != nil {
			return err
		}
	}
	if err := tx.Enqueue(ctx, n); err != nil {
		return fmt.Errorf("enqueue notice: %w", err)
	}
	return nil
}

// rateLimited reports whether n repeats a notice that went out within the
// rate limit, and records the skip on the task's timeline. A task opens once,
// so its opening notices are never repeats, and an escalation must always get
// through: neither is looked up.
func (s *Service) rateLimited(ctx context.Context, tx Tx, n Notice) (bool, error) {
	if s.opts.RateLimit == 0 || n.Event == NoticeOpened || n.Event == NoticeEscalated {
		return false, nil
	}
	last, found, err := tx.LastNoticeAt(ctx, n.Key())
	if err != nil {
		return false, fmt.Errorf("check rate limit: %w", err)
	}
	if !found || n.CreatedAt.Sub(last) >= s.opts.RateLimit {
		return false, nil
	}
	entry := TimelineEntry{
		At: s.opts.Clock.Now(), Actor: ActorSystem, Type: EntryNoticeSkipped,
		Message: fmt.Sprintf("%s notice to %s (%s) on %s not sent: the same went out %s ago", n.Event, n.Recipient, n.Role,
			n.Channel, n.CreatedAt.Sub(last).Round(time.Second)),
		Data: map[string]any{"event": n.Event, "channel": n.Channel, "recipient": n.Recipient, "role": n.Role,
			"last_sent_at": last.Format(time.RFC3339)},
	}
	if err := tx.AddTimeline(ctx, n.TaskID, entry); err != nil {
		return false, err
	}
	return true, nil
}

// quietUntil reports whether a notice of t to r waits for the end of r's
// quiet hours, and until when. High and critical notices never wait.
func (s *Service) quietUntil(t Task, r recipient, loc *time.Location, now time.Time) (time.Time, bool) {
	if r.quiet == "" || (t.Severity != rules.Low && t.Severity != rules.Medium) {
		return time.Time{}, false
	}
	q, err := registry.ParseQuietHours(r.quiet)
	if err != nil {
		// Checked at registration; a bad value must not hold a notice back forever.
		s.opts.Logger.Error("family contact's quiet hours unreadable; sending now", "task_id", t.ID, "recipient", r.name, "err", err)
		return time.Time{}, false
	}
	return q.Until(now, loc)
}

// plainText is a notice without a template: rule, severity, who and where,
// and for later events what happened.
func plainText(m Message) (title, text string) {
	loc := m.Household.Location
	if loc == nil {
		loc = time.UTC
	}
	title = fmt.Sprintf("[%s] %s: %s", m.Task.Severity, m.Task.Rule, m.Household.Name)
	if m.Event != NoticeOpened {
		title += " (" + m.Event + ")"
	}
	lines := []string{title, m.Household.Address, m.Task.OpenedAt.In(loc).Format("2006-01-02 15:04 MST")}
	for _, extra := range []string{m.Assignee, strings.Join(m.EscalatedTo, ", "), m.Reason} {
		if extra != "" {
			lines = append(lines, extra)
		}
	}
	if m.Event == NoticeResolved {
		lines = append(lines, m.Task.Outcome)
	}
	return title, strings.Join(lines, "\n")
}

func floatValue(values map[string]any, key string) *float64 {
	if f, ok := values[key].(float64); ok {
		return &f
	}
	return nil
}
