package app_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/eldersafe/eldersafe/app"
	"github.com/eldersafe/eldersafe/app/apptest"
)

// TestVerificationOverMQTT: a welfare alert one signal supports opens
// verifying; the family is asked and no worker told; the wristband gets the
// check on its command topic from the embedded broker, answers ok on its
// event stream, and the task is resolved verified_ok with the answer shown.
func TestVerificationOverMQTT(t *testing.T) {
	m := startMonitor(t, "", func(c *app.Config) { c.Clock, c.Simulation = app.ClockEvent, true })
	w1, w2, s1, family := newPushServer(t), newPushServer(t), newPushServer(t), newPushServer(t)
	bandSecret := m.staffedHousehold(w1, w2, s1, family)
	var meterDev struct {
		Secret string `json:"secret"`
	}
	m.MustCall("POST", "/api/v1/devices", map[string]any{"id": "wm-1", "kind": "water_meter", "household_id": "h1"}, 201, &meterDev)

	band := m.Device("wb-1", bandSecret)
	checks := make(chan []byte, 4)
	if tok := band.Subscribe("eldersafe/v1/devices/wb-1/command", 1, func(_ mqtt.Client, msg mqtt.Message) {
		checks <- msg.Payload()
	}); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("the wristband subscribes to its commands: %v", tok.Error())
	}
	meter := m.Device("wm-1", meterDev.Secret)
	start := time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)
	for h := 0; h <= 12; h++ {
		at := start.Add(time.Duration(h) * time.Hour)
		apptest.Publish(t, meter, "eldersafe/v1/devices/wm-1/telemetry", map[string]any{"ts": at.Format(time.RFC3339), "total_liters": 100})
		apptest.Publish(t, band, "eldersafe/v1/devices/wb-1/telemetry", map[string]any{"ts": at.Format(time.RFC3339), "battery_pct": 90})
	}
	var opened []task
	apptest.Eventually(t, "water_no_use raised", func() bool {
		opened = m.tasks("rule=water_no_use")
		return len(opened) == 1
	})
	if opened[0].State != "verifying" || opened[0].AssigneeID != "" {
		t.Fatalf("task %s assigned to %q, want verifying and unassigned", opened[0].State, opened[0].AssigneeID)
	}
	var check struct {
		Command string `json:"command"`
		CheckID string `json:"check_id"`
		Expires string `json:"expires"`
	}
	select {
	case payload := <-checks:
		if err := json.Unmarshal(payload, &check); err != nil || check.Command != "check" || check.CheckID != opened[0].ID {
			t.Fatalf("command %s (%v), want a check of task %s", payload, err, opened[0].ID)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no check reached the wristband")
	}
	apptest.Eventually(t, "the family asked", func() bool { return len(family.requests()) == 1 })
	if n := len(w1.requests()); n != 0 {
		t.Fatalf("the worker was told %d times while verifying", n)
	}

	answered := start.Add(12*time.Hour + 3*time.Minute)
	apptest.Publish(t, band, "eldersafe/v1/devices/wb-1/event", map[string]any{"ts": answered.Format(time.RFC3339), "event": "ok", "check_id": check.CheckID})
	var got struct {
		State       string    `json:"state"`
		Outcome     string    `json:"outcome"`
		VerifyUntil time.Time `json:"verify_until"`
		Answers     []struct {
			By, Answer string
			At         time.Time
		} `json:"answers"`
	}
	apptest.Eventually(t, "resolved by the resident's answer", func() bool {
		m.MustCall("GET", "/api/v1/tasks/"+opened[0].ID, nil, 200, &got)
		return got.State == "resolved"
	})
	if want := fmt.Sprint([]any{"wb-1", "ok", answered}); got.Outcome != "verified_ok" || len(got.Answers) != 1 ||
		fmt.Sprint([]any{got.Answers[0].By, got.Answers[0].Answer, got.Answers[0].At.UTC()}) != want || got.VerifyUntil.IsZero() {
		t.Errorf("task %+v, want verified_ok with one answer %s and a verify_until", got, want)
	}
	if n := len(w1.requests()); n != 0 {
		t.Errorf("the worker was told %d times of a task the resident answered", n)
	}
}

// startLinkMonitor runs a monitor whose family notices carry links
// (public URL https://care.example/) with staffedHousehold's h1, and
// returns it, h1's primary worker's push endpoint and the family's.
func startLinkMonitor(t *testing.T) (m *monitor, w1, family *pushServer) {
	m = startMonitor(t, "", func(c *app.Config) {
		c.Clock, c.Simulation = app.ClockEvent, true
		c.Notify.PublicURL = "https://care.example/"
	})
	w1, family = newPushServer(t), newPushServer(t)
	m.staffedHousehold(w1, newPushServer(t), newPushServer(t), family)
	return m, w1, family
}

// TestAnswerLink: with notify.public_url, the family's verifying notice
// carries answer links; the page opens without logging in, a with_me
// answer resolves the task and records the household away, each use is
// audited as the contact, and the link is dead afterwards.
func TestAnswerLink(t *testing.T) {
	m, w1, family := startLinkMonitor(t)
	var meterDev struct {
		Secret string `json:"secret"`
	}
	m.MustCall("POST", "/api/v1/devices", map[string]any{"id": "wm-1", "kind": "water_meter", "household_id": "h1"}, 201, &meterDev)
	meter := m.Device("wm-1", meterDev.Secret)
	start := time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)
	for h := 0; h <= 12; h++ {
		apptest.Publish(t, meter, "eldersafe/v1/devices/wm-1/telemetry", map[string]any{"ts": start.Add(time.Duration(h) * time.Hour).Format(time.RFC3339), "total_liters": 100})
	}
	apptest.Eventually(t, "the family asked", func() bool { return len(family.requests()) == 1 })
	push := family.requests()[0].Body
	actions, _ := push["actions"].([]any)
	if push["event"] != "verifying" || push["state"] != "verifying" || len(actions) != 4 {
		t.Fatalf("push %v, want a verifying notice with four actions", push)
	}
	link, _ := actions[1].(map[string]any)["url"].(string)
	const base = "https://care.example/a/"
	if len(link) < len(base)+22 || link[:len(base)] != base {
		t.Fatalf("action url %q, want %s<token>", link, base)
	}
	path := link[len("https://care.example"):]
	path = path[:len(path)-len("?answer=with_me")]

	code, page := m.Public(path, "")
	if code != 200 || !strings.Contains(page, "Li Guiying") || !strings.Contains(page, "在我这里") {
		t.Fatalf("GET %s = %d:\n%s", path, code, page)
	}
	until := start.Add(60 * time.Hour)
	if code, _ := m.Public(path, `{"answer":"maybe"}`); code != 400 {
		t.Fatalf("an unknown answer: %d, want 400", code)
	}
	if code, _ := m.Public(path, `{"answer":"with_me","until":"`+until.Format(time.RFC3339)+`"}`); code != 200 {
		t.Fatalf("with_me: %d, want 200", code)
	}
	opened := m.tasks("rule=water_no_use")
	if len(opened) != 1 || opened[0].State != "resolved" {
		t.Fatalf("tasks %+v, want one resolved", opened)
	}
	var got struct {
		Outcome string `json:"outcome"`
		Answers []struct {
			By     string `json:"by"`
			Answer string `json:"answer"`
		} `json:"answers"`
	}
	m.MustCall("GET", "/api/v1/tasks/"+opened[0].ID, nil, 200, &got)
	if got.Outcome != "verified_ok" || len(got.Answers) != 1 || got.Answers[0].By != "Li Wei" || got.Answers[0].Answer != "with_me" {
		t.Errorf("task %+v, want verified_ok with Li Wei's with_me", got)
	}
	var audit struct {
		Entries []struct{ Actor, Action, Object string } `json:"entries"`
	}
	m.MustCall("GET", "/api/v1/audit?actor=contact:Li%20Wei", nil, 200, &audit)
	if len(audit.Entries) < 2 {
		t.Errorf("audit entries of the contact %+v, want the page and the answer", audit.Entries)
	}
	if code, _ := m.Public(path, `{"answer":"please_visit"}`); code != 410 {
		t.Errorf("answer after resolution: %d, want 410 (the link is dead)", code)
	}
	if n := len(w1.requests()); n != 0 {
		t.Errorf("the worker was told %d times", n)
	}
}
