package tasks_test

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
	"github.com/eldersafe/eldersafe/store"
	"github.com/eldersafe/eldersafe/tasks"
)

// TestRaise_Opens checks a new task's fields, evidence and opening timeline
// entry, for every severity and both kinds.
func TestRaise_Opens(t *testing.T) {
	for _, tc := range []struct {
		rule    string
		sev     rules.Severity
		kind    rules.TaskKind
		ackWait time.Duration
	}{
		{rules.RuleFall, rules.Critical, rules.Visit, 5 * time.Minute},
		{rules.RuleWaterNoUse, rules.High, rules.Visit, 30 * time.Minute},
		{rules.RuleNoExit, rules.Medium, rules.Visit, 4 * time.Hour},
		{rules.RuleBatteryLow, rules.Low, rules.Maintenance, 24 * time.Hour},
	} {
		t.Run(tc.rule, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOptions{})
			// Let time pass so that opened_at is the clock's now, not its start.
			now := e.advance(90 * time.Minute)
			a := alert(hhMain, tc.rule, tc.sev, tc.kind, now.Add(-time.Minute), "what the rule saw")

			got, opened := e.raise(t, a)
			if !opened {
				t.Fatal("opened = false, want a new task")
			}
			stored := e.task(t, got.ID)
			if len(e.allTasks(t)) != 1 {
				t.Fatalf("%d tasks, want 1", len(e.allTasks(t)))
			}
			want := tasks.Task{
				ID: got.ID, HouseholdID: hhMain, Rule: tc.rule, Severity: tc.sev, Kind: tc.kind,
				State: tasks.Open, AssigneeID: ownerID,
				OpenedAt: now, AckDueAt: now.Add(tc.ackWait), ResolveDueAt: now.Add(72 * time.Hour),
			}
			fields := stored
			fields.Evidence, fields.Timeline = nil, nil
			if !reflect.DeepEqual(fields, want) {
				t.Errorf("stored task\n got %+v\nwant %+v", fields, want)
			}
			// What Raise returns is what it stored (timeline aside).
			got.Timeline = nil
			fields.Evidence = stored.Evidence
			if !reflect.DeepEqual(got, fields) {
				t.Errorf("Raise returned\n%+v\nstored\n%+v", got, fields)
			}

			if !reflect.DeepEqual(stored.Evidence, []rules.Evidence{a.Evidence}) {
				t.Errorf("evidence = %+v, want %+v", stored.Evidence, []rules.Evidence{a.Evidence})
			}
			wantEntry := tasks.TimelineEntry{At: now, Actor: tasks.ActorSystem, Type: tasks.EntryOpened,
				Message: "what the rule saw", Data: map[string]any{"assignee_id": ownerID}}
			if !reflect.DeepEqual(stored.Timeline, []tasks.TimelineEntry{wantEntry}) {
				t.Errorf("timeline = %+v, want [%+v]", stored.Timeline, wantEntry)
			}
		})
	}
}

// TestRaise_Assignment: the primary worker is the first grid_worker registered
// with the grid; a supervisor never is; a grid without one leaves the task unassigned.
func TestRaise_Assignment(t *testing.T) {
	for _, tc := range []struct {
		name      string
		household string
		want      string
	}{
		{"FirstGridWorkerNotSupervisor", hhMain, ownerID},
		{"NoGridWorker", hhNoWorker, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOptions{})
			got, opened := e.raise(t, alert(tc.household, rules.RuleFall, rules.Critical, rules.Visit, t0, "fall"))
			if !opened {
				t.Fatal("opened = false, want a new task")
			}
			stored := e.task(t, got.ID)
			if got.AssigneeID != tc.want || stored.AssigneeID != tc.want {
				t.Errorf("assignee: returned %q, stored %q; want %q", got.AssigneeID, stored.AssigneeID, tc.want)
			}
			if stored.State != tasks.Open {
				t.Errorf("state = %s, want open", stored.State)
			}
			if tc.want == "" {
				if e := lastEntry(t, stored); e.Type != tasks.EntryOpened || e.Data != nil {
					t.Errorf("opened entry = %+v, want no assignee data", e)
				}
			}
		})
	}
}

// TestRaise_Notices checks who a new task's notices go to, on which channel.
func TestRaise_Notices(t *testing.T) {
	var (
		// Family notices of the contacts fixture, SMS off and on.
		familyNoSMS = []noticeKey{
			{tasks.RecipientFamily, "Daughter", registry.ChannelPush, "https://push.example/daughter", "en"},
			{tasks.RecipientFamily, "Daughter", registry.ChannelLog, "", "en"},
			{tasks.RecipientFamily, "Son", registry.ChannelLog, "", registry.DefaultLanguage},
			{tasks.RecipientFamily, "Neighbour", registry.ChannelLog, "", registry.DefaultLanguage},
		}
		familySMS = []noticeKey{
			{tasks.RecipientFamily, "Daughter", registry.ChannelPush, "https://push.example/daughter", "en"},
			{tasks.RecipientFamily, "Daughter", registry.ChannelSMS, "+8613800000001", "en"},
			{tasks.RecipientFamily, "Son", registry.ChannelSMS, "+8613800000002", registry.DefaultLanguage},
			{tasks.RecipientFamily, "Son", registry.ChannelLog, "", registry.DefaultLanguage},
			{tasks.RecipientFamily, "Neighbour", registry.ChannelLog, "", registry.DefaultLanguage},
		}
		pushWorker  = registry.Worker{Name: "Wang Fang", Phone: "+8613900000001", PushURL: "https://push.example/w1", Lang: "en"}
		phoneWorker = registry.Worker{Name: "Wang Fang", Phone: "+8613900000001"}
		bareWorker  = registry.Worker{Name: "Wang Fang"}
	)
	worker := func(channel, address, lang string) noticeKey {
		return noticeKey{tasks.RecipientWorker, "Wang Fang", channel, address, lang}
	}
	for _, tc := range []struct {
		name      string
		sms       bool
		primary   registry.Worker
		household string
		kind      rules.TaskKind
		want      []noticeKey
	}{
		{"PushWorker", false, pushWorker, hhMain, rules.Visit,
			append([]noticeKey{worker(registry.ChannelPush, "https://push.example/w1", "en")}, familyNoSMS...)},
		{"PushWorkerWithSMS", true, pushWorker, hhMain, rules.Visit,
			append([]noticeKey{worker(registry.ChannelPush, "https://push.example/w1", "en")}, familySMS...)},
		{"PhoneWorkerWithSMS", true, phoneWorker, hhMain, rules.Visit,
			append([]noticeKey{worker(registry.ChannelSMS, "+8613900000001", registry.DefaultLanguage)}, familySMS...)},
		{"PhoneWorkerNoSMS", false, phoneWorker, hhMain, rules.Visit,
			append([]noticeKey{worker(registry.ChannelLog, "", registry.DefaultLanguage)}, familyNoSMS...)},
		{"BareWorkerWithSMS", true, bareWorker, hhMain, rules.Visit,
			append([]noticeKey{worker(registry.ChannelLog, "", registry.DefaultLanguage)}, familySMS...)},
		{"MaintenanceWorkerOnly", true, pushWorker, hhMain, rules.Maintenance,
			[]noticeKey{worker(registry.ChannelPush, "https://push.example/w1", "en")}},
		{"NoWorkerFamilyOnly", false, pushWorker, hhNoWorker, rules.Visit, familyNoSMS},
		{"NoWorkerMaintenanceNobody", true, pushWorker, hhNoWorker, rules.Maintenance, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOptions{sms: tc.sms, primary: tc.primary})
			rule, sev := rules.RuleFall, rules.Critical
			if tc.kind == rules.Maintenance {
				rule, sev = rules.RuleBatteryLow, rules.Low
			}
			task, _ := e.raise(t, alert(tc.household, rule, sev, tc.kind, t0, "what the rule saw"))

			got := e.notices(t, task.ID)
			if g, w := keysOf(got), sortedKeys(tc.want); !slices.Equal(g, w) {
				t.Errorf("notices\n got %v\nwant %v", g, w)
			}
			if all := e.allNotices(t); len(all) != len(got) {
				t.Errorf("%d pending notices in the outbox, %d of the task", len(all), len(got))
			}
			for _, n := range got {
				checkNotice(t, n, task)
			}

			wantCalls := int32(1)
			if len(tc.want) == 0 {
				wantCalls = 0
			}
			if n := e.notified.Load(); n != wantCalls {
				t.Errorf("courier delivered %d times, want %d", n, wantCalls)
			}
			// The delivery comes after the commit: the task and its notices are visible to readers.
			for _, c := range e.atCall {
				if c.tasks != 1 || c.notices != len(tc.want) {
					t.Errorf("at the delivery: %d tasks and %d notices committed, want 1 and %d", c.tasks, c.notices, len(tc.want))
				}
			}
			// The claim comes before it, inside the transaction, of every notice written.
			if len(tc.want) > 0 {
				if len(e.claims) != 1 {
					t.Fatalf("%d claims, want 1", len(e.claims))
				}
				c := e.claims[0]
				if c.at != (committed{}) {
					t.Errorf("at the claim: %+v committed, want nothing yet", c.at)
				}
				if g, w := idsOf(c.notices), idsOf(got); !slices.Equal(g, w) {
					t.Errorf("claimed %v, want the task's notices %v", g, w)
				}
			} else if len(e.claims) != 0 {
				t.Errorf("%d claims with no notice written, want none", len(e.claims))
			}
		})
	}
}

// checkNotice checks what every notice of a newly opened task carries.
func checkNotice(t *testing.T, n tasks.Notice, task tasks.Task) {
	t.Helper()
	if n.ID == "" || n.TaskID != task.ID || n.HouseholdID != task.HouseholdID || n.Rule != task.Rule ||
		n.Severity != string(task.Severity) {
		t.Errorf("notice %s: ids %q/%q/%q/%q, want the task's", n.ID, n.TaskID, n.HouseholdID, n.Rule, n.Severity)
	}
	if n.Status != tasks.NoticePending || n.Attempts != 0 || n.SentAt != nil || n.LastError != "" {
		t.Errorf("notice %s: status %s, %d attempts, want pending and untried", n.ID, n.Status, n.Attempts)
	}
	if !n.OpenedAt.Equal(task.OpenedAt) {
		t.Errorf("notice %s: opened_at %v, want the task's %v", n.ID, n.OpenedAt, task.OpenedAt)
	}
	// Outbox rows run on wall time, whatever the domain clock says.
	if !n.CreatedAt.Equal(wall0) || !n.NextAttemptAt.Equal(wall0) {
		t.Errorf("notice %s: created %v, next attempt %v; want wall time %v", n.ID, n.CreatedAt, n.NextAttemptAt, wall0)
	}
	if strings.TrimSpace(n.Title) == "" || strings.TrimSpace(n.Message) == "" {
		t.Errorf("notice %s: empty title %q or message %q", n.ID, n.Title, n.Message)
	}
}

// TestRaise_NoticeText checks that the composer is given the recipient's
// language, role and the assignee: the English worker and family texts differ.
func TestRaise_NoticeText(t *testing.T) {
	e := newEnv(t, envOptions{primary: registry.Worker{Name: "Wang Fang", PushURL: "https://push.example/w1", Lang: "en"}})
	task, _ := e.raise(t, fallAlert(t0))
	byKey := map[string]tasks.Notice{}
	for _, n := range e.notices(t, task.ID) {
		byKey[n.Role+"/"+n.Recipient+"/"+n.Channel] = n
	}
	w, ok := byKey["worker/Wang Fang/push"]
	if !ok {
		t.Fatalf("no worker push notice in %v", byKey)
	}
	f, ok := byKey["family/Daughter/push"]
	if !ok {
		t.Fatalf("no family push notice in %v", byKey)
	}
	for _, want := range []string{"Wang Xiuying", "a fall", "Assigned to Wang Fang", "the wristband detected a fall", "openstreetmap.org"} {
		if !strings.Contains(w.Message, want) {
			t.Errorf("worker message %q lacks %q", w.Message, want)
		}
	}
	// Not "on the way": the family hears that once a worker acknowledges.
	for _, want := range []string{"Wang Xiuying", "a fall", "A visit is being arranged"} {
		if !strings.Contains(f.Message, want) {
			t.Errorf("family message %q lacks %q", f.Message, want)
		}
	}
	if strings.Contains(f.Message, "openstreetmap") || strings.Contains(f.Message, "wristband") {
		t.Errorf("family message %q carries worker details", f.Message)
	}
	// The son has no language: the default, Chinese.
	if s := byKey["family/Son/log"]; s.Lang != registry.DefaultLanguage || !strings.Contains(s.Message, "跌倒") {
		t.Errorf("son's notice: lang %q, message %q; want zh-CN", s.Lang, s.Message)
	}
}

// TestRaise_Existing: what a later alert of the same household and rule does.
func TestRaise_Existing(t *testing.T) {
	ctx := context.Background()

	t.Run("RepeatAttachesEvidence", func(t *testing.T) {
		e := newEnv(t, envOptions{})
		first, _ := e.raise(t, fallAlert(t0))
		noticesBefore := len(e.allNotices(t))

		// Whatever state the task is in, as long as it is not closed.
		for i, st := range []tasks.State{tasks.Open, tasks.Escalated, tasks.Acknowledged} {
			if st == tasks.Acknowledged {
				if _, err := e.svc.Ack(ctx, first.ID, ownerID); err != nil {
					t.Fatalf("Ack: %v", err)
				}
				// The acknowledgement tells the family; only the repeats below count.
				noticesBefore = len(e.allNotices(t))
				e.notified.Store(1)
			} else if st != tasks.Open {
				e.forceState(t, first.ID, st)
			}
			now := e.advance(time.Minute)
			a := fallAlert(now.Add(-time.Second))
			a.Evidence.Summary = "again " + string(st)
			got, opened := e.raise(t, a)
			if opened || got.ID != first.ID {
				t.Fatalf("%s: Raise = task %s, opened %v; want the open task %s", st, got.ID, opened, first.ID)
			}
			stored := e.task(t, first.ID)
			if len(stored.Evidence) != i+2 || !reflect.DeepEqual(stored.Evidence[i+1], a.Evidence) {
				t.Errorf("%s: evidence = %+v, want %d items ending with %+v", st, stored.Evidence, i+2, a.Evidence)
			}
			want := tasks.TimelineEntry{At: now, Actor: tasks.ActorSystem, Type: tasks.EntryEvidence, Message: a.Evidence.Summary}
			if got := lastEntry(t, stored); !reflect.DeepEqual(got, want) {
				t.Errorf("%s: last timeline entry = %+v, want %+v", st, got, want)
			}
			if stored.State != st {
				t.Errorf("state = %s, want it kept at %s", stored.State, st)
			}
		}
		if n := len(e.allTasks(t)); n != 1 {
			t.Errorf("%d tasks, want 1", n)
		}
		if n := len(e.allNotices(t)); n != noticesBefore {
			t.Errorf("%d notices, want %d: a repeat notifies nobody", n, noticesBefore)
		}
		if n := e.notified.Load(); n != 1 {
			t.Errorf("courier delivered %d times, want once (for the opening)", n)
		}
	})

	t.Run("ClearedKeepsTaskOpen", func(t *testing.T) {
		e := newEnv(t, envOptions{})
		first, _ := e.raise(t, fallAlert(t0))
		before := e.task(t, first.ID)
		now := e.advance(time.Hour)
		a := fallAlert(now)
		a.Cleared, a.Evidence.Summary = true, "resident moving again"

		got, opened := e.raise(t, a)
		if opened || got.ID != first.ID {
			t.Fatalf("Raise = task %s, opened %v; want the open task %s", got.ID, opened, first.ID)
		}
		after := e.task(t, first.ID)
		if after.State != tasks.Open {
			t.Errorf("state = %s, want open", after.State)
		}
		if !reflect.DeepEqual(after.Evidence, before.Evidence) {
			t.Errorf("evidence = %+v, want unchanged %+v", after.Evidence, before.Evidence)
		}
		want := tasks.TimelineEntry{At: now, Actor: tasks.ActorSystem, Type: tasks.EntryConditionCleared, Message: "resident moving again"}
		if got := lastEntry(t, after); len(after.Timeline) != 2 || !reflect.DeepEqual(got, want) {
			t.Errorf("timeline = %+v, want opened then %+v", after.Timeline, want)
		}
		if n := e.notified.Load(); n != 1 {
			t.Errorf("courier delivered %d times, want once (for the opening)", n)
		}
	})

	t.Run("ClearedWithoutTaskDoesNothing", func(t *testing.T) {
		e := newEnv(t, envOptions{})
		a := fallAlert(t0)
		a.Cleared = true
		got, opened := e.raise(t, a)
		if opened || got.ID != "" {
			t.Errorf("Raise = %+v, opened %v; want nothing", got, opened)
		}
		if n := len(e.allTasks(t)); n != 0 {
			t.Errorf("%d tasks, want none", n)
		}
		if n := len(e.allNotices(t)); n != 0 {
			t.Errorf("%d notices, want none", n)
		}
		if n := e.notified.Load(); n != 0 {
			t.Errorf("courier delivered %d times, want never", n)
		}
	})

	t.Run("ClearedAfterResolveDoesNothing", func(t *testing.T) {
		e := newEnv(t, envOptions{})
		id := e.openFall(t)
		resolve(t, e, id)
		before := e.task(t, id)
		a := fallAlert(e.advance(time.Hour))
		a.Cleared = true
		if got, opened := e.raise(t, a); opened || got.ID != "" {
			t.Errorf("Raise = %+v, opened %v; want nothing", got, opened)
		}
		assertUnchanged(t, before, e.task(t, id))
	})

	for _, closed := range []tasks.State{tasks.Resolved, tasks.Cancelled} {
		t.Run("NewTaskAfter_"+string(closed), func(t *testing.T) {
			e := newEnv(t, envOptions{})
			id := e.openFall(t)
			if closed == tasks.Resolved {
				resolve(t, e, id)
			} else if _, err := e.svc.Cancel(context.Background(), id, "op-1", "resident moved out"); err != nil {
				t.Fatalf("Cancel: %v", err)
			}
			before := e.task(t, id)
			noticesBefore := len(e.allNotices(t))

			now := e.advance(24 * time.Hour)
			got, opened := e.raise(t, fallAlert(now))
			if !opened || got.ID == id {
				t.Fatalf("Raise = task %s, opened %v; want a new task", got.ID, opened)
			}
			if got.State != tasks.Open || !got.OpenedAt.Equal(now) || got.AssigneeID != ownerID {
				t.Errorf("new task = %+v, want open at %v for %s", got, now, ownerID)
			}
			if n := len(e.allTasks(t)); n != 2 {
				t.Errorf("%d tasks, want 2", n)
			}
			if n := len(e.notices(t, got.ID)); n == 0 || len(e.allNotices(t)) != noticesBefore+n {
				t.Errorf("new task has %d notices; outbox grew from %d to %d", n, noticesBefore, len(e.allNotices(t)))
			}
			// The first opening, the closing (the family is told), the new
			// opening; resolving went through acknowledgement and check-in,
			// each of which the family hears of.
			want := int32(3)
			if closed == tasks.Resolved {
				want = 5
			}
			if n := e.notified.Load(); n != want {
				t.Errorf("courier delivered %d times, want %d", n, want)
			}
			assertUnchanged(t, before, e.task(t, id))
		})
	}
}

// resolve takes an open task owned by w1 through ack and check-in to resolved.
func resolve(t *testing.T, e *env, id string) {
	t.Helper()
	ctx := context.Background()
	e.advance(time.Minute)
	if _, err := e.svc.Ack(ctx, id, ownerID); err != nil {
		t.Fatalf("Ack: %v", err)
	}
	e.advance(10 * time.Minute)
	if _, err := e.svc.CheckIn(ctx, id, ownerID, nil, nil); err != nil {
		t.Fatalf("CheckIn: %v", err)
	}
	e.advance(10 * time.Minute)
	if _, err := e.svc.Resolve(ctx, id, ownerID, "safe", ""); err != nil {
		t.Fatalf("Resolve: %v", err)
	}
}

// TestRaise_UnknownHousehold: an alert for a household nobody registered opens nothing.
func TestRaise_UnknownHousehold(t *testing.T) {
	e := newEnv(t, envOptions{})
	_, opened, err := e.svc.Raise(context.Background(), alert("ghost", rules.RuleFall, rules.Critical, rules.Visit, t0, "fall"))
	if !errors.Is(err, tasks.ErrNotFound) || opened {
		t.Errorf("Raise = opened %v, %v; want tasks.ErrNotFound", opened, err)
	}
	if n := len(e.allTasks(t)); n != 0 {
		t.Errorf("%d tasks, want none", n)
	}
}

// failingComposer composes with next until its failOn-th call, which fails, as
// do all later ones; failOn 0 never fails.
type failingComposer struct {
	next   tasks.Composer
	failOn int
	calls  int
}

var errCompose = errors.New("template exploded")

func (c *failingComposer) Compose(m tasks.Message) (string, string, error) {
	c.calls++
	if c.failOn > 0 && c.calls >= c.failOn {
		return "", "", errCompose
	}
	return c.next.Compose(m)
}

// TestRaise_ComposeFailure: a notice whose template fails is still enqueued,
// in plain text, so that a broken template never costs an alarm: the task
// opens, every recipient gets a notice, and the courier delivers once.
func TestRaise_ComposeFailure(t *testing.T) {
	for _, tc := range []struct {
		name   string
		failOn int
		plain  int // how many notices fall back to plain text
	}{
		{"EveryNotice", 1, 5},
		// The worker's and the daughter's push notices compose; the rest fail.
		{"LaterNotices", 3, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOptions{})
			comp := &failingComposer{next: mustTemplates(t), failOn: tc.failOn}
			e.svc = e.newService(t, envOptions{composer: comp})

			task, opened := e.raise(t, fallAlert(t0))
			if !opened || task.State != tasks.Open || task.AssigneeID != ownerID {
				t.Fatalf("Raise = %+v, opened %v; want an open task for %s", task, opened, ownerID)
			}
			stored := e.task(t, task.ID)
			if len(stored.Evidence) != 1 || !slices.Equal(entryTypes(stored.Timeline), []string{tasks.EntryOpened}) {
				t.Errorf("task: evidence %+v, timeline %v; want one each", stored.Evidence, entryTypes(stored.Timeline))
			}
			if comp.calls != 5 {
				t.Errorf("composer called %d times, want 5 (once per notice)", comp.calls)
			}
			ns := e.notices(t, task.ID)
			if len(ns) != 5 {
				t.Fatalf("%d notices, want 5 (worker + 4 family)", len(ns))
			}
			plain := 0
			for _, n := range ns {
				checkNotice(t, n, stored)
				if !strings.HasPrefix(n.Title, "[critical]") {
					continue // composed from the template
				}
				plain++
				for _, want := range []string{"critical", rules.RuleFall, "Wang Xiuying"} {
					if !strings.Contains(n.Title, want) {
						t.Errorf("plain title %q lacks %q", n.Title, want)
					}
				}
				for _, want := range []string{"Wang Xiuying", "12 Xingfu Road, flat 401", "Wang Fang"} {
					if !strings.Contains(n.Message, want) {
						t.Errorf("plain message to %s %q lacks %q", n.Recipient, n.Message, want)
					}
				}
			}
			if plain != tc.plain {
				t.Errorf("%d plain-text notices, want %d", plain, tc.plain)
			}
			if n := e.notified.Load(); n != 1 {
				t.Errorf("courier delivered %d times, want once", n)
			}
		})
	}

	t.Run("RepeatNeedsNoComposer", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, envOptions{})
		id := e.openFall(t)
		comp := &failingComposer{next: mustTemplates(t), failOn: 1}
		e.svc = e.newService(t, envOptions{composer: comp})
		got, opened := e.raise(t, fallAlert(e.advance(time.Minute)))
		if opened || got.ID != id {
			t.Errorf("Raise = task %s, opened %v; want evidence attached to %s", got.ID, opened, id)
		}
		if n := len(e.task(t, id).Evidence); n != 2 || comp.calls != 0 {
			t.Errorf("%d evidence, composer called %d times; want 2 and never", n, comp.calls)
		}
	})
}

// flakyStore is the real store whose failOn-th Enqueue fails, or, with
// failCommit, whose transactions fail once all was written.
type flakyStore struct {
	*store.DB
	failOn, calls int
	failCommit    bool
}

var errStore = errors.New("disk I/O error")

func (s *flakyStore) Update(ctx context.Context, fn func(tasks.Tx) error) error {
	return s.DB.Update(ctx, func(tx tasks.Tx) error {
		if err := fn(&flakyTx{Tx: tx, s: s}); err != nil {
			return err
		}
		if s.failCommit {
			return errStore
		}
		return nil
	})
}

type flakyTx struct {
	tasks.Tx
	s *flakyStore
}

func (tx *flakyTx) Enqueue(ctx context.Context, n tasks.Notice) error {
	tx.s.calls++
	if tx.s.calls == tx.s.failOn {
		return errStore
	}
	return tx.Tx.Enqueue(ctx, n)
}

// TestRaise_StoreFailure: when writing a notice fails, Raise fails and the
// whole change rolls back: no task, evidence, timeline or notice is left
// half-written, the courier claims and delivers nothing, and the alert can be raised again.
func TestRaise_StoreFailure(t *testing.T) {
	for _, tc := range []struct {
		name   string
		failOn int
	}{
		{"FirstNotice", 1},
		// The worker's and the daughter's push notices are already written.
		{"LaterNotice", 3},
		{"LastNotice", 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOptions{})
			flaky := &flakyStore{DB: e.db, failOn: tc.failOn}
			e.svc = e.newService(t, envOptions{store: flaky})

			task, opened, err := e.svc.Raise(context.Background(), fallAlert(t0))
			if !errors.Is(err, errStore) {
				t.Fatalf("Raise = %v, want the store's error", err)
			}
			if opened || task.ID != "" {
				t.Errorf("Raise = %+v, opened %v; want nothing", task, opened)
			}
			if flaky.calls != tc.failOn {
				t.Errorf("Enqueue called %d times, want %d (stop at the first failure)", flaky.calls, tc.failOn)
			}
			if n := len(e.allTasks(t)); n != 0 {
				t.Errorf("%d tasks left after a failed Raise, want none", n)
			}
			if n := len(e.allNotices(t)); n != 0 {
				t.Errorf("%d notices left after a failed Raise, want none", n)
			}
			if n := e.notified.Load(); n != 0 || len(e.claims) != 0 {
				t.Errorf("%d deliveries and %d claims after a failed Raise, want none", n, len(e.claims))
			}

			// Nothing half-written blocks the next attempt (one open task per rule).
			e.svc = e.newService(t, envOptions{})
			got, opened := e.raise(t, fallAlert(t0))
			if !opened {
				t.Fatal("retry did not open a task")
			}
			stored := e.task(t, got.ID)
			if len(stored.Evidence) != 1 || !slices.Equal(entryTypes(stored.Timeline), []string{tasks.EntryOpened}) {
				t.Errorf("retried task: evidence %+v, timeline %v; want one each", stored.Evidence, entryTypes(stored.Timeline))
			}
			if n := len(e.allNotices(t)); n != 5 {
				t.Errorf("%d notices after the retry, want 5 (worker + 4 family)", n)
			}
			if n := e.notified.Load(); n != 1 {
				t.Errorf("courier delivered %d times, want once (for the retry)", n)
			}
		})
	}
}

// TestRaise_CommitFailureReleasesClaims: when the transaction fails after its
// notices were claimed, the courier gets them back as not committed, and
// nothing is delivered.
func TestRaise_CommitFailureReleasesClaims(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.svc = e.newService(t, envOptions{store: &flakyStore{DB: e.db, failCommit: true}})

	if _, _, err := e.svc.Raise(context.Background(), fallAlert(t0)); !errors.Is(err, errStore) {
		t.Fatalf("Raise = %v, want the store's error", err)
	}
	if len(e.claims) != 1 || len(e.claims[0].notices) != 5 {
		t.Fatalf("claims %+v, want one of 5 notices (worker + 4 family)", e.claims)
	}
	if g, w := idsOf(e.released), idsOf(e.claims[0].notices); !slices.Equal(g, w) {
		t.Errorf("released %v, want the claimed %v", g, w)
	}
	if n, left := e.notified.Load(), len(e.allNotices(t)); n != 0 || left != 0 {
		t.Errorf("%d deliveries, %d notices stored; want none", n, left)
	}
}
