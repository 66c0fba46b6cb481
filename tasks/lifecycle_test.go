package tasks_test

import (
	"context"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
	"github.com/eldersafe/eldersafe/tasks"
)

// recorder is a composer that remembers every message it was given.
type recorder struct {
	next tasks.Composer
	mu   sync.Mutex
	msgs []tasks.Message
}

func (r *recorder) Compose(m tasks.Message) (string, string, error) {
	r.mu.Lock()
	r.msgs = append(r.msgs, m)
	r.mu.Unlock()
	return r.next.Compose(m)
}

// of returns the messages of one event, in order.
func (r *recorder) of(event string) []tasks.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []tasks.Message
	for _, m := range r.msgs {
		if m.Event == event {
			out = append(out, m)
		}
	}
	return out
}

// newRecordingEnv is an env whose service records what it composes.
func newRecordingEnv(t *testing.T, o envOptions) (*env, *recorder) {
	t.Helper()
	e := newEnv(t, o)
	rec := &recorder{next: mustTemplates(t)}
	o.composer = rec
	e.svc = e.newService(t, o)
	return e, rec
}

// noticesOf lists the notices of one event of a task.
func (e *env) noticesOf(t *testing.T, taskID, event string) []tasks.Notice {
	t.Helper()
	return slices.DeleteFunc(e.notices(t, taskID), func(n tasks.Notice) bool { return n.Event != event })
}

var (
	// familyNotices are the family notices of the contacts fixture, SMS off.
	familyNotices = []noticeKey{
		{tasks.RecipientFamily, "Daughter", registry.ChannelPush, "https://push.example/daughter", "en"},
		{tasks.RecipientFamily, "Daughter", registry.ChannelLog, "", "en"},
		{tasks.RecipientFamily, "Son", registry.ChannelLog, "", registry.DefaultLanguage},
		{tasks.RecipientFamily, "Neighbour", registry.ChannelLog, "", registry.DefaultLanguage},
	}
	ownerNotice = noticeKey{tasks.RecipientWorker, "Wang Fang", registry.ChannelPush, "https://push.example/w1", ""}
	otherNotice = noticeKey{tasks.RecipientWorker, "Li Ming", registry.ChannelPush, "https://push.example/w2", "en"}
	superNotice = noticeKey{tasks.RecipientWorker, "Zhao Supervisor", registry.ChannelPush, "https://push.example/s1", ""}
)

// withLang fills in the default language the way the outbox rows carry it.
func withLang(ks ...noticeKey) []noticeKey {
	out := slices.Clone(ks)
	for i := range out {
		if out[i].Lang == "" {
			out[i].Lang = registry.DefaultLanguage
		}
	}
	return sortedKeys(out)
}

// TestAck_RepeatByOwner: the owner acknowledging again (a retry after a lost
// answer) gets the task back unchanged; another worker is told who owns it.
func TestAck_RepeatByOwner(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, envOptions{})
	id := e.into(t, tasks.Acknowledged)
	before := e.task(t, id)
	calls := e.notified.Load()
	e.advance(time.Minute)

	got, err := e.svc.Ack(ctx, id, ownerID)
	if err != nil {
		t.Fatalf("repeated Ack: %v", err)
	}
	if !reflect.DeepEqual(got, before) {
		t.Errorf("repeated Ack returned\n%+v\nwant the task as it was\n%+v", got, before)
	}
	assertUnchanged(t, before, e.task(t, id))
	if e.notified.Load() != calls {
		t.Error("repeated Ack notified someone")
	}

	_, err = e.svc.Ack(ctx, id, otherID)
	wantError(t, err, "transition")
	if !strings.Contains(err.Error(), "owned by "+ownerID) {
		t.Errorf("Ack by another worker: %q does not name the owner", err)
	}
}

// TestHandover: the new owner is told, takes over check-in and resolution,
// and the former owner can do neither.
func TestHandover(t *testing.T) {
	ctx := context.Background()
	e, rec := newRecordingEnv(t, envOptions{})
	id := e.into(t, tasks.OnSite)
	now := e.advance(5 * time.Minute)

	got, err := e.svc.Handover(ctx, id, ownerID, otherID, "called away to a fall next door")
	if err != nil {
		t.Fatalf("Handover: %v", err)
	}
	if got.State != tasks.Acknowledged || got.AssigneeID != otherID {
		t.Errorf("after handover: %s owned by %q, want acknowledged owned by %s", got.State, got.AssigneeID, otherID)
	}
	want := tasks.TimelineEntry{At: now, Actor: ownerID, Type: tasks.EntryHandedOver,
		Message: "Wang Fang handed over to Li Ming: called away to a fall next door",
		Data:    map[string]any{"from_worker_id": ownerID, "to_worker_id": otherID, "reason": "called away to a fall next door"}}
	if e := lastEntry(t, got); !reflect.DeepEqual(e, want) {
		t.Errorf("entry = %+v, want %+v", e, want)
	}
	if g, w := keysOf(e.noticesOf(t, id, tasks.NoticeHandover)), withLang(otherNotice); !slices.Equal(g, w) {
		t.Errorf("handover notices %v, want %v", g, w)
	}
	if ms := rec.of(tasks.NoticeHandover); len(ms) != 1 || ms[0].Reason != "called away to a fall next door" ||
		ms[0].Assignee != "Li Ming" || ms[0].Role != tasks.RecipientWorker {
		t.Errorf("handover messages = %+v, want one to the worker Li Ming with the reason", ms)
	}

	_, err = e.svc.CheckIn(ctx, id, ownerID, nil, nil)
	wantError(t, err, "transition")
	e.advance(10 * time.Minute)
	if _, err := e.svc.CheckIn(ctx, id, otherID, nil, nil); err != nil {
		t.Fatalf("CheckIn by the new owner: %v", err)
	}
	if _, err := e.svc.Resolve(ctx, id, otherID, "safe", ""); err != nil {
		t.Fatalf("Resolve by the new owner: %v", err)
	}
}

// TestHandover_BadRequests: wrong whatever the state; nothing changes.
func TestHandover_BadRequests(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name             string
		from, to, reason string
		want             string // error kind
		msg              string // part of the message
	}{
		{"NoFrom", "", otherID, "r", "invalid", "from_worker_id is required"},
		{"NoTo", ownerID, "", "r", "invalid", "to_worker_id is required"},
		{"ToSelf", ownerID, ownerID, "r", "invalid", "must differ"},
		{"ToUnknown", ownerID, unknownID, "r", "invalid", `to_worker_id: worker "nobody" is not registered`},
		{"FromUnknown", unknownID, otherID, "r", "invalid", `worker "nobody" is not registered`},
		{"NoReason", ownerID, otherID, "  ", "invalid", "reason is required"},
		{"LongReason", ownerID, otherID, strings.Repeat("x", 2001), "invalid", "at most 2000 bytes"},
		{"NotOwner", otherID, superID, "r", "transition", "owned by " + ownerID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOptions{})
			id := e.into(t, tasks.Acknowledged)
			before := e.task(t, id)
			_, err := e.svc.Handover(ctx, id, tc.from, tc.to, tc.reason)
			wantError(t, err, tc.want)
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q lacks %q", err, tc.msg)
			}
			assertUnchanged(t, before, e.task(t, id))
		})
	}
}

// TestCancel: who is told that no visit follows, and what is recorded.
func TestCancel(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		rule    string
		sev     rules.Severity
		kind    rules.TaskKind
		acker   string // who acknowledged before the cancellation; "" nobody
		notices []noticeKey
	}{
		{"OpenVisit", rules.RuleFall, rules.Critical, rules.Visit, "", append([]noticeKey{ownerNotice}, familyNotices...)},
		// The current owner is told, not the worker first assigned.
		{"TakenOverVisit", rules.RuleFall, rules.Critical, rules.Visit, otherID, append([]noticeKey{otherNotice}, familyNotices...)},
		{"Maintenance", rules.RuleBatteryLow, rules.Low, rules.Maintenance, "", []noticeKey{ownerNotice}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, rec := newRecordingEnv(t, envOptions{})
			task, _ := e.raise(t, alert(hhMain, tc.rule, tc.sev, tc.kind, t0, "what the rule saw"))
			if tc.acker != "" {
				if _, err := e.svc.Ack(ctx, task.ID, tc.acker); err != nil {
					t.Fatal(err)
				}
			}
			calls := e.notified.Load()
			now := e.advance(time.Hour)

			got, err := e.svc.Cancel(ctx, task.ID, operatorID, "resident is in hospital")
			if err != nil {
				t.Fatalf("Cancel: %v", err)
			}
			if got.State != tasks.Cancelled || got.ClosedAt == nil || !got.ClosedAt.Equal(now) {
				t.Errorf("after cancel: %s, closed %v; want cancelled at %v", got.State, got.ClosedAt, now)
			}
			want := tasks.TimelineEntry{At: now, Actor: operatorID, Type: tasks.EntryCancelled,
				Message: "cancelled: resident is in hospital", Data: map[string]any{"reason": "resident is in hospital"}}
			if e := lastEntry(t, got); !reflect.DeepEqual(e, want) {
				t.Errorf("entry = %+v, want %+v", e, want)
			}
			if g, w := keysOf(e.noticesOf(t, task.ID, tasks.NoticeCancelled)), withLang(tc.notices...); !slices.Equal(g, w) {
				t.Errorf("cancel notices\n got %v\nwant %v", g, w)
			}
			for _, m := range rec.of(tasks.NoticeCancelled) {
				if m.Reason != "resident is in hospital" || m.Task.State != tasks.Cancelled {
					t.Errorf("cancel message %+v lacks the reason or the state", m)
				}
			}
			if e.notified.Load() != calls+1 {
				t.Errorf("courier delivered %d times after the cancellation, want once", e.notified.Load()-calls)
			}
		})
	}

	t.Run("ReasonRequired", func(t *testing.T) {
		e := newEnv(t, envOptions{})
		id := e.openFall(t)
		before := e.task(t, id)
		for _, reason := range []string{"", " \n", strings.Repeat("x", 2001)} {
			_, err := e.svc.Cancel(ctx, id, operatorID, reason)
			wantError(t, err, "invalid")
		}
		assertUnchanged(t, before, e.task(t, id))
		_, err := e.svc.Cancel(ctx, "no-such-task", operatorID, "gone")
		wantError(t, err, "not_found")
	})
}

// TestResolve_TellsFamily: the family of a visit learns the outcome; nobody
// is told of a finished maintenance task.
func TestResolve_TellsFamily(t *testing.T) {
	for _, tc := range []struct {
		name string
		kind rules.TaskKind
		want []noticeKey
	}{
		{"Visit", rules.Visit, familyNotices},
		{"Maintenance", rules.Maintenance, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, rec := newRecordingEnv(t, envOptions{})
			rule, sev := rules.RuleFall, rules.Critical
			if tc.kind == rules.Maintenance {
				rule, sev = rules.RuleBatteryLow, rules.Low
			}
			task, _ := e.raise(t, alert(hhMain, rule, sev, tc.kind, t0, "what the rule saw"))
			resolve(t, e, task.ID)
			if g, w := keysOf(e.noticesOf(t, task.ID, tasks.NoticeResolved)), withLang(tc.want...); !slices.Equal(g, w) {
				t.Errorf("resolved notices\n got %v\nwant %v", g, w)
			}
			for _, m := range rec.of(tasks.NoticeResolved) {
				if m.Task.Outcome != "safe" || m.Role != tasks.RecipientFamily || m.Assignee != "Wang Fang" {
					t.Errorf("resolved message %+v: want the outcome, to the family, naming who visited", m)
				}
			}
		})
	}
}

// TestOpenManual: a task a person reports opens like a rule's, rule manual.
func TestOpenManual(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, envOptions{})
	now := e.advance(2 * time.Hour)

	got, opened, err := e.svc.OpenManual(ctx, hhMain, rules.High, "neighbour says she has not answered the door since Monday", operatorID)
	if err != nil || !opened {
		t.Fatalf("OpenManual = opened %v, %v", opened, err)
	}
	want := tasks.Task{
		ID: got.ID, HouseholdID: hhMain, Rule: rules.RuleManual, Severity: rules.High, Kind: rules.Visit,
		State: tasks.Open, AssigneeID: ownerID, OpenedAt: now, AckDueAt: now.Add(30 * time.Minute), ResolveDueAt: now.Add(72 * time.Hour),
		Evidence: []rules.Evidence{{At: now, Summary: "neighbour says she has not answered the door since Monday"}},
		Timeline: []tasks.TimelineEntry{{At: now, Actor: operatorID, Type: tasks.EntryOpened,
			Message: "neighbour says she has not answered the door since Monday", Data: map[string]any{"assignee_id": ownerID}}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("OpenManual returned\n%+v\nwant\n%+v", got, want)
	}
	if g, w := keysOf(e.notices(t, got.ID)), withLang(append([]noticeKey{ownerNotice}, familyNotices...)...); !slices.Equal(g, w) {
		t.Errorf("notices\n got %v\nwant %v", g, w)
	}

	// A second call while it is open adds to it.
	later := e.advance(time.Minute)
	again, opened, err := e.svc.OpenManual(ctx, hhMain, rules.Critical, "daughter cannot reach her either", "op-2")
	if err != nil || opened || again.ID != got.ID {
		t.Fatalf("second OpenManual = %s, opened %v, %v; want evidence on %s", again.ID, opened, err, got.ID)
	}
	if len(again.Evidence) != 2 || !reflect.DeepEqual(lastEntry(t, again), tasks.TimelineEntry{At: later, Actor: "op-2",
		Type: tasks.EntryEvidence, Message: "daughter cannot reach her either"}) {
		t.Errorf("after the second report: evidence %+v, last entry %+v", again.Evidence, lastEntry(t, again))
	}
	if again.Severity != rules.High {
		t.Errorf("severity = %s: a later report does not change it", again.Severity)
	}

	for _, tc := range []struct {
		name, household string
		sev             rules.Severity
		reason, msg     string
	}{
		{"BadSeverity", hhMain, "urgent", "r", `severity "urgent"`},
		{"NoSeverity", hhMain, "", "r", `severity ""`},
		{"NoReason", hhMain, rules.Low, " ", "reason is required"},
		{"LongReason", hhMain, rules.Low, strings.Repeat("x", 2001), "at most 2000 bytes"},
		{"UnknownHousehold", "ghost", rules.Low, "r", `household_id "ghost" is not registered`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(e.allTasks(t))
			_, _, err := e.svc.OpenManual(ctx, tc.household, tc.sev, tc.reason, operatorID)
			wantError(t, err, "invalid")
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q lacks %q", err, tc.msg)
			}
			if n := len(e.allTasks(t)); n != before {
				t.Errorf("%d tasks, want %d", n, before)
			}
		})
	}
}
