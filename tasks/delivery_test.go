package tasks_test

import (
	"context"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
	"github.com/eldersafe/eldersafe/tasks"
)

// TestRateLimit: the same notice of a task to the same person on the same
// channel goes out at most once per window of wall time; the skip is on the
// timeline. Handing a task back and forth is the repeat here.
func TestRateLimit(t *testing.T) {
	ctx := context.Background()
	const window = 10 * time.Minute
	for _, tc := range []struct {
		name      string
		rateLimit time.Duration
		wallStep  time.Duration // wall time between the two handovers to w2
		skipped   bool
	}{
		{"RepeatWithin", window, 9*time.Minute + 59*time.Second, true},
		{"RepeatAfter", window, window, false},
		{"NoLimit", 0, time.Second, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOptions{rateLimit: tc.rateLimit})
			id := e.into(t, tasks.Acknowledged)
			handover := func(from, to string) {
				t.Helper()
				e.advance(time.Minute)
				if _, err := e.svc.Handover(ctx, id, from, to, "swap"); err != nil {
					t.Fatalf("Handover %s → %s: %v", from, to, err)
				}
			}
			handover(ownerID, otherID)
			handover(otherID, ownerID) // w1 was told the task opened, not of a handover: not a repeat
			e.setWall(wall0.Add(tc.wallStep))
			calls := e.notified.Load()
			handover(ownerID, otherID)

			toOther := slices.DeleteFunc(e.noticesOf(t, id, tasks.NoticeHandover), func(n tasks.Notice) bool { return n.Recipient != "Li Ming" })
			toOwner := slices.DeleteFunc(e.noticesOf(t, id, tasks.NoticeHandover), func(n tasks.Notice) bool { return n.Recipient != "Wang Fang" })
			if len(toOwner) != 1 {
				t.Errorf("%d handover notices to Wang Fang, want 1", len(toOwner))
			}
			task := e.task(t, id)
			if task.AssigneeID != otherID {
				t.Errorf("owner %q, want %s: the skip does not undo the handover", task.AssigneeID, otherID)
			}
			if !tc.skipped {
				if len(toOther) != 2 || e.notified.Load() != calls+1 {
					t.Errorf("%d handover notices to Li Ming, deliveries +%d; want 2 and +1", len(toOther), e.notified.Load()-calls)
				}
				if slices.Contains(entryTypes(task.Timeline), tasks.EntryNoticeSkipped) {
					t.Errorf("timeline %v: nothing was skipped", entryTypes(task.Timeline))
				}
				return
			}
			if len(toOther) != 1 || e.notified.Load() != calls {
				t.Errorf("%d handover notices to Li Ming, deliveries +%d; want 1 and no call", len(toOther), e.notified.Load()-calls)
			}
			entry := lastEntry(t, task)
			want := tasks.TimelineEntry{At: e.clk.Now(), Actor: tasks.ActorSystem, Type: tasks.EntryNoticeSkipped,
				Message: "handover notice to Li Ming (worker) on push not sent: the same went out 9m59s ago",
				Data: map[string]any{"event": tasks.NoticeHandover, "channel": registry.ChannelPush, "recipient": "Li Ming",
					"role": tasks.RecipientWorker, "last_sent_at": wall0.Format(time.RFC3339)}}
			if !reflect.DeepEqual(entry, want) {
				t.Errorf("last entry\n got %+v\nwant %+v", entry, want)
			}
			if n := len(task.Timeline); task.Timeline[n-2].Type != tasks.EntryHandedOver {
				t.Errorf("timeline %v: want the handover, then the skip", entryTypes(task.Timeline))
			}
		})
	}

	t.Run("FailedNoticeIsNoRepeat", func(t *testing.T) {
		e := newEnv(t, envOptions{rateLimit: window})
		id := e.into(t, tasks.Acknowledged)
		if _, err := e.svc.Handover(ctx, id, ownerID, otherID, "swap"); err != nil {
			t.Fatal(err)
		}
		first := e.noticesOf(t, id, tasks.NoticeHandover)[0]
		must(t, e.db.RecordAttempt(ctx, first.ID, tasks.Attempt{Status: tasks.NoticeFailed, Attempts: 10, LastError: "410 Gone"}))
		if _, err := e.svc.Handover(ctx, id, otherID, ownerID, "swap"); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Handover(ctx, id, ownerID, otherID, "swap"); err != nil {
			t.Fatal(err)
		}
		if n := len(e.noticesOf(t, id, tasks.NoticeHandover)); n != 3 {
			t.Errorf("%d handover notices, want 3: a repeat of a failed one is no repeat", n)
		}
	})

	// Escalations always get through: a task escalating for both deadlines
	// within the window reaches the same people twice.
	t.Run("EscalationsAlwaysGo", func(t *testing.T) {
		e := newEnv(t, envOptions{rateLimit: time.Hour})
		id := e.openFall(t)
		e.advance(10 * time.Minute)
		e.escalate(t)
		if _, err := e.svc.Ack(ctx, id, ownerID); err != nil {
			t.Fatal(err)
		}
		e.advance(72 * time.Hour) // domain time; the wall clock stands still
		e.escalate(t)
		ns := e.noticesOf(t, id, tasks.NoticeEscalated)
		if len(ns) != 2*(3+len(familyNotices)) {
			t.Errorf("%d escalation notices, want %d", len(ns), 2*(3+len(familyNotices)))
		}
		if slices.Contains(entryTypes(e.task(t, id).Timeline), tasks.EntryNoticeSkipped) {
			t.Error("an escalation notice was skipped")
		}
	})
}

// TestQuietHours: a low or medium severity notice to a family contact in
// their quiet hours (the household's time zone, on wall time) waits for the
// end of them; workers, other contacts and urgent notices never wait.
func TestQuietHours(t *testing.T) {
	ctx := context.Background()
	shanghai, err := time.LoadLocation(registry.DefaultTimezone)
	must(t, err)
	night := time.Date(2031, 6, 1, 23, 30, 0, 0, shanghai)
	morning := time.Date(2031, 6, 2, 7, 0, 0, 0, shanghai)
	for _, tc := range []struct {
		name    string
		wall    time.Time
		sev     rules.Severity
		waiting bool
	}{
		{"LowAtNight", night, rules.Low, true},
		{"MediumAtNight", night, rules.Medium, true},
		{"HighAtNight", night, rules.High, false},
		{"CriticalAtNight", night, rules.Critical, false},
		{"MediumAtEndOfNight", morning, rules.Medium, false},
		{"MediumJustBefore", morning.Add(-time.Second), rules.Medium, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOptions{})
			quiet := registry.Contact{Name: "Sleeper", Relation: "son", PushURL: "https://push.example/sleeper",
				Channels: []string{registry.ChannelPush}, QuietHours: "22:00-07:00"}
			must(t, e.db.CreateHousehold(ctx, registry.Household{ID: "h3", Name: "Zhou Lan", Address: "5 Pine Road", GridID: gridMain,
				Contacts: []registry.Contact{contacts[2], quiet}}))
			e.setWall(tc.wall.UTC())

			task, _, err := e.svc.OpenManual(ctx, "h3", tc.sev, "her son phoned: she sounded confused", operatorID)
			must(t, err)
			wantNext := map[string]time.Time{"Wang Fang": tc.wall.UTC(), "Neighbour": tc.wall.UTC(), "Sleeper": tc.wall.UTC()}
			if tc.waiting {
				wantNext["Sleeper"] = morning.UTC()
			}
			ns := e.notices(t, task.ID)
			if len(ns) != 3 {
				t.Fatalf("%d notices, want 3 (worker, neighbour, sleeper)", len(ns))
			}
			for _, n := range ns {
				if !n.NextAttemptAt.Equal(wantNext[n.Recipient]) || !n.CreatedAt.Equal(tc.wall) {
					t.Errorf("notice to %s: created %v, next attempt %v; want created %v, next %v", n.Recipient, n.CreatedAt, n.NextAttemptAt, tc.wall, wantNext[n.Recipient])
				}
			}
			task = e.task(t, task.ID)
			deferred := slices.IndexFunc(task.Timeline, func(e tasks.TimelineEntry) bool { return e.Type == tasks.EntryNoticeDeferred })
			if !tc.waiting {
				if deferred >= 0 {
					t.Errorf("timeline %v: nothing waits", entryTypes(task.Timeline))
				}
				return
			}
			if deferred < 0 {
				t.Fatalf("timeline %v: no notice_deferred entry", entryTypes(task.Timeline))
			}
			entry := task.Timeline[deferred]
			if entry.Message != "push to Sleeper (family) held until 07:00 CST, the end of their quiet hours" ||
				entry.Data["until"] != morning.UTC().Format(time.RFC3339) || entry.Data["recipient"] != "Sleeper" {
				t.Errorf("deferred entry = %+v", entry)
			}
		})
	}
}
