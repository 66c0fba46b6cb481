package notify

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/clock"
	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
	"github.com/eldersafe/eldersafe/store"
	"github.com/eldersafe/eldersafe/tasks"
)

// The tests of this file run the whole SMS path on the real store: a fall
// opens a task, the task service writes SMS notices to the outbox, and the
// dispatcher delivers them to a fake provider on loopback, recording every
// attempt on the notice and the task's timeline.

// Phone numbers of the fixture: the grid worker (no push URL, so SMS) and the
// two family contacts who chose SMS.
const (
	workerPhone   = "+8613900000001"
	daughterPhone = "+8613800000001"
	sonPhone      = "+8613800000002"
)

// smsProvider is one provider's fake and a sender for it.
type smsProvider struct {
	fake   *fakeServer
	sender Sender
	// reject is a sender whose credentials the provider refuses, and the code it says.
	reject     Sender
	rejectCode string
}

func smsProviders(t *testing.T) map[string]func(t *testing.T) smsProvider {
	return map[string]func(t *testing.T) smsProvider{
		"twilio": func(t *testing.T) smsProvider {
			f := newFakeTwilio(t)
			bad, err := NewTwilio(TwilioOptions{BaseURL: f.URL, AccountSID: f.sid, AuthToken: "revoked", From: f.from})
			if err != nil {
				t.Fatal(err)
			}
			// The sender's own timeout is long: the dispatcher's per-attempt timeout is the one that bites.
			return smsProvider{fake: f.fakeServer, sender: f.sender(t, time.Minute), reject: bad, rejectCode: "twilio error 20003"}
		},
		"aliyun": func(t *testing.T) smsProvider {
			f := newFakeAliyun(t)
			bad, err := NewAliyun(AliyunOptions{Endpoint: f.URL, AccessKeyID: f.keyID, AccessKeySecret: "rotated",
				SignName: f.signName, TemplateCode: f.template})
			if err != nil {
				t.Fatal(err)
			}
			return smsProvider{fake: f.fakeServer, sender: f.sender(t, time.Minute), reject: bad, rejectCode: "SignatureDoesNotMatch"}
		},
	}
}

// smsWorld is a store with one household whose worker and family are reached
// by SMS, a task service and a running dispatcher.
type smsWorld struct {
	db  *store.DB
	svc *tasks.Service
}

func newSMSWorld(t *testing.T, sender Sender) *smsWorld {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, t.TempDir(), nil)
	if err != nil {
		t.Fatalf("store.Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	for _, err := range []error{
		db.CreateGrid(ctx, registry.Grid{ID: "g1", Name: "Xingfu Road"}),
		db.CreateWorker(ctx, registry.Worker{ID: "w1", Name: "李敏", Phone: workerPhone, GridIDs: []string{"g1"}, Role: registry.RoleGridWorker}),
		db.CreateHousehold(ctx, registry.Household{ID: "h1", Name: "王秀英", Address: "幸福路12弄3号401室", GridID: "g1",
			Contacts: []registry.Contact{
				{Name: "Daughter", Relation: "daughter", Phone: daughterPhone, Lang: "en", Channels: []string{registry.ChannelSMS}},
				{Name: "Son", Relation: "son", Phone: sonPhone, Channels: []string{registry.ChannelSMS, registry.ChannelLog}},
			}}),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	d, _ := startDispatcher(t, Options{
		Outbox:       db,
		Senders:      map[string]Sender{registry.ChannelSMS: sender, registry.ChannelLog: Log{Logger: slog.New(slog.DiscardHandler)}},
		BaseDelay:    10 * time.Millisecond,
		MaxDelay:     50 * time.Millisecond,
		SendTimeout:  300 * time.Millisecond,
		PollInterval: 20 * time.Millisecond,
	})
	svc, err := tasks.NewService(tasks.Options{
		Store:      db,
		Clock:      clock.NewEvent(time.Now()),
		Composer:   newTemplates(t),
		Wall:       clock.Wall{},
		SMSEnabled: true,
		Courier:    d,
	})
	if err != nil {
		t.Fatal(err)
	}
	return &smsWorld{db: db, svc: svc}
}

// fall raises a fall in the household and returns its task.
func (w *smsWorld) fall(t *testing.T) tasks.Task {
	t.Helper()
	now := time.Now()
	task, opened, err := w.svc.Raise(context.Background(), rules.Alert{
		HouseholdID: "h1", Rule: rules.RuleFall, Severity: rules.Critical, Kind: rules.Visit, At: now,
		Evidence: rules.Evidence{At: now, DeviceID: "wb-1", Summary: "wristband wb-1 reported a fall",
			Values: map[string]any{"lat": 31.2304, "lon": 121.4737}},
	})
	if err != nil || !opened {
		t.Fatalf("Raise = %v, %v; want a new task", opened, err)
	}
	return task
}

// settled waits until none of the task's notices is pending, and returns them.
func (w *smsWorld) settled(t *testing.T, taskID string) []tasks.Notice {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		list, err := w.db.Notifications(context.Background(), taskID)
		if err != nil {
			t.Fatal(err)
		}
		pending := 0
		for _, n := range list {
			if n.Status == tasks.NoticePending {
				pending++
			}
		}
		if pending == 0 && len(list) > 0 {
			return list
		}
		if time.Now().After(deadline) {
			t.Fatalf("notices still pending after %s: %+v", wait, list)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (w *smsWorld) timeline(t *testing.T, taskID string) string {
	t.Helper()
	task, err := w.db.Task(context.Background(), taskID)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, e := range task.Timeline {
		lines = append(lines, e.Type+": "+e.Message)
	}
	return strings.Join(lines, "\n")
}

// TestSMS_RetryThenRecovery: every recipient's provider first fails (503), then
// stalls beyond the attempt's timeout, then accepts; each SMS notice ends sent
// on its third attempt, and the timeline tells the story.
func TestSMS_RetryThenRecovery(t *testing.T) {
	for name, provider := range smsProviders(t) {
		t.Run(name, func(t *testing.T) {
			p := provider(t)
			status := map[string]step{
				"twilio": {status: 503, fixture: "20503"},
				"aliyun": {status: 503, fixture: "ServiceUnavailable"},
			}[name]
			p.fake.setAnswer(perRecipient(status, step{stall: true}))
			w := newSMSWorld(t, p.sender)
			task := w.fall(t)

			sms := 0
			for _, n := range w.settled(t, task.ID) {
				if n.Status != tasks.NoticeSent {
					t.Errorf("notice to %s on %s: %s after %d attempts (%s), want sent", n.Recipient, n.Channel, n.Status, n.Attempts, n.LastError)
				}
				if n.Channel != registry.ChannelSMS {
					continue
				}
				sms++
				if n.Attempts != 3 || n.SentAt == nil {
					t.Errorf("sms to %s: %d attempts, sent at %v; want sent on the third", n.Recipient, n.Attempts, n.SentAt)
				}
			}
			if sms != 3 {
				t.Errorf("%d SMS notices, want the worker's, the daughter's and the son's", sms)
			}

			calls, accepted, refused := p.fake.requests()
			if calls != 9 || len(accepted) != 9 || len(refused) != 0 {
				t.Errorf("provider saw %d requests, accepted %d, refused %v; want 9 accepted (3 per recipient)", calls, len(accepted), refused)
			}
			perPhone := map[string]int{}
			for _, req := range accepted {
				perPhone[req.Get("To")+req.Get("PhoneNumbers")]++
			}
			for _, phone := range []string{workerPhone, daughterPhone, sonPhone} {
				if perPhone[phone] != 3 {
					t.Errorf("%s got %d requests, want 3", phone, perPhone[phone])
				}
			}

			tl := w.timeline(t, task.ID)
			for _, want := range []string{
				"notice: sms to 李敏 (worker) failed (attempt 1/10): 503 Service Unavailable",
				"notice: sms to Daughter (family) failed (attempt 2/10): post: context deadline exceeded",
				"notice: sms to Son (family): sent (attempt 3/10)",
			} {
				if name == "aliyun" {
					want = strings.Replace(want, "post:", "get:", 1)
				}
				if !strings.Contains(tl, want) {
					t.Errorf("timeline lacks %q:\n%s", want, tl)
				}
			}
		})
	}
}

// TestSMS_RefusedCredentialsFailAtOnce: credentials the provider refuses fail
// every SMS notice on its first attempt, with the provider's reason; the
// notices on other channels go out.
func TestSMS_RefusedCredentialsFailAtOnce(t *testing.T) {
	for name, provider := range smsProviders(t) {
		t.Run(name, func(t *testing.T) {
			p := provider(t)
			w := newSMSWorld(t, p.reject)
			task := w.fall(t)
			for _, n := range w.settled(t, task.ID) {
				switch {
				case n.Channel == registry.ChannelLog && n.Status != tasks.NoticeSent:
					t.Errorf("log notice to %s: %s", n.Recipient, n.Status)
				case n.Channel == registry.ChannelSMS && (n.Status != tasks.NoticeFailed || n.Attempts != 1 || !strings.Contains(n.LastError, p.rejectCode)):
					t.Errorf("sms to %s: %s after %d attempts (%q); want failed at once with %q", n.Recipient, n.Status, n.Attempts, n.LastError, p.rejectCode)
				}
			}
			if tl := w.timeline(t, task.ID); !strings.Contains(tl, "notice_failed: sms to 李敏 (worker) failed (attempt 1/10): ") || !strings.Contains(tl, "; not retried") {
				t.Errorf("timeline does not record the failure:\n%s", tl)
			}
		})
	}
}
