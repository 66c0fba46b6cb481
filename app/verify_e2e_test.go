package app_test

import (
	"encoding/json"
	"fmt"
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
