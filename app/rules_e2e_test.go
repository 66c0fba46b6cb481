package app_test

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/eldersafe/eldersafe/app"
	"github.com/eldersafe/eldersafe/app/apptest"
	"github.com/eldersafe/eldersafe/snapshot"
	"github.com/eldersafe/eldersafe/testkit"
)

const waterTelemetry = `eldersafe_ingest_messages_total{kind="water_meter",stream="telemetry"}`

// meters publishes flat water meter readings one at a time, waiting until
// each is handled, so that the event clock moves exactly as the test says.
type meters struct {
	m       *monitor
	clients map[string]mqtt.Client // by household
	sent    float64                // readings handled by this monitor
}

func (ms *meters) connect(m *monitor, secrets map[string]string) {
	ms.m, ms.sent, ms.clients = m, 0, map[string]mqtt.Client{}
	for dev, secret := range secrets {
		ms.clients[strings.TrimPrefix(dev, "wm-")] = m.Device(dev, secret)
	}
}

func (ms *meters) read(household string, at time.Time, liters float64) {
	ms.m.t.Helper()
	apptest.Publish(ms.m.t, ms.clients[household], "eldersafe/v1/devices/wm-"+household+"/telemetry",
		map[string]any{"ts": at.Format(time.RFC3339), "total_liters": liters})
	ms.sent++
	apptest.Eventually(ms.m.t, fmt.Sprintf("reading of %s at %s handled", household, at.Format(time.RFC3339)), func() bool {
		return ms.m.Metric(waterTelemetry) == ms.sent
	})
}

type taskTimes struct {
	ID       string    `json:"id"`
	State    string    `json:"state"`
	OpenedAt time.Time `json:"opened_at"`
}

func (m *monitor) tasksOf(household, rule string) []taskTimes {
	m.t.Helper()
	var out struct {
		Tasks []taskTimes `json:"tasks"`
	}
	m.MustCall("GET", "/api/v1/tasks?household_id="+household+"&rule="+rule, nil, 200, &out)
	return out.Tasks
}

// TestRuleStateSurvivesRestart stops the monitor with one household 11 h
// into water_no_use and another whose water_no_use fired (and was resolved),
// starts it again on the same data, and goes on: the first fires at 12 h,
// once; the second does not fire again. Overrides and away periods come back too.
//
// It is run four times: restarting from the snapshot the clean stop wrote,
// without it, from a corrupt one, which must fall back to the store, and
// from the snapshot of a clean stop at 6 h, as a crash at 11 h leaves it,
// whose devices are still the registered ones but whose states are not
// the store's.
func TestRuleStateSurvivesRestart(t *testing.T) {
	for _, c := range []struct {
		name                  string
		leave                 func(t *testing.T, path string)
		fromSnapshot, devices float64
		stopAt6h              bool
	}{
		{"Snapshot", func(*testing.T, string) {}, 1, 1, false},
		{"NoSnapshot", func(t *testing.T, path string) {
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
		}, 0, 0, false},
		{"CorruptSnapshot", func(t *testing.T, path string) {
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			b[len(b)-20] ^= 1
			if err := os.WriteFile(path, b, 0o600); err != nil {
				t.Fatal(err)
			}
		}, 0, 0, false},
		{"OlderSnapshot", func(t *testing.T, path string) {
			if err := os.Rename(path+olderSuffix, path); err != nil {
				t.Fatal(err)
			}
		}, 0, 1, true},
	} {
		t.Run(c.name, func(t *testing.T) { ruleStateSurvivesRestart(t, c.leave, c.fromSnapshot, c.devices, c.stopAt6h) })
	}
}

// olderSuffix names the copy ruleStateSurvivesRestart keeps of the
// snapshot of its stop at 6 h.
const olderSuffix = ".6h"

func ruleStateSurvivesRestart(t *testing.T, leave func(*testing.T, string), fromSnapshot, devicesFromSnapshot float64, stopAt6h bool) {
	dir := t.TempDir()
	onEventClock := func(c *app.Config) {
		c.Clock, c.Simulation = app.ClockEvent, true
		c.DataDir = dir
		c.Tasks.VerifyWindow = 0 // the rules' state is measured here, not verification
	}
	m := startMonitor(t, "", onEventClock)
	worker, family := newPushServer(t), newPushServer(t)
	secrets := map[string]string{}
	for _, h := range []string{"pending", "fired"} {
		for dev, s := range m.household(h, worker, family, map[string]string{"wm-" + h: "water_meter"}) {
			secrets[dev] = s
		}
	}
	m.household("tuned", worker, family, nil)
	m.MustCall("PUT", "/api/v1/households/tuned/thresholds", map[string]any{"no_exit": map[string]any{"hours": 24}}, 200, nil)

	start := time.Date(2026, 11, 20, 7, 0, 0, 0, time.FixedZone("CST", 8*3600))
	m.MustCall("POST", "/api/v1/households/tuned/away", map[string]any{
		"from": start.Add(24 * time.Hour).Format(time.RFC3339), "until": start.Add(72 * time.Hour).Format(time.RFC3339), "reason": "hospital stay",
	}, 201, nil)
	var ms meters
	ms.connect(m, secrets)

	// "fired" reports from 2 h before start, so its water_no_use fires at
	// start+10h; "pending" from start. Every 15 minutes, the registers flat.
	step := 15 * time.Minute
	for at := start.Add(-2 * time.Hour); !at.After(start.Add(11 * time.Hour)); at = at.Add(step) {
		ms.read("fired", at, 500)
		if !at.Before(start) {
			ms.read("pending", at, 100)
		}
		if stopAt6h && at.Equal(start.Add(6*time.Hour)) {
			// A clean stop and start, its snapshot kept aside.
			if err := m.Close(); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, snapshot.FileName)
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path+olderSuffix, b, 0o600); err != nil {
				t.Fatal(err)
			}
			m = startMonitor(t, "", onEventClock)
			ms.connect(m, secrets)
		}
		if at.Equal(start.Add(10 * time.Hour)) {
			fired := m.tasksOf("fired", "water_no_use")
			if len(fired) != 1 || !fired[0].OpenedAt.Equal(at) {
				t.Fatalf("fired: water_no_use tasks %+v, want one opened at %v", fired, at)
			}
			// A worker goes, finds her well and closes the task.
			body := map[string]any{"worker_id": "w-fired"}
			path := "/api/v1/tasks/" + fired[0].ID
			m.MustCall("POST", path+"/ack", body, 200, nil)
			m.MustCall("POST", path+"/checkin", body, 200, nil)
			m.MustCall("POST", path+"/resolve", map[string]any{"worker_id": "w-fired", "outcome": "safe"}, 200, nil)
		}
	}
	if got := m.tasksOf("pending", "water_no_use"); len(got) != 0 {
		t.Fatalf("pending: water_no_use tasks at 11 h: %+v", got)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	leave(t, filepath.Join(dir, snapshot.FileName))

	gcPercent, limit := testkit.CollectorSettings()
	m = startMonitor(t, "", onEventClock)
	// The collector, paused while the state loaded, is back as it was.
	if gotPercent, gotLimit := testkit.CollectorSettings(); gotPercent != gcPercent || gotLimit != limit {
		t.Errorf("after the start GOGC %d and memory limit %d, want %d and %d as before", gotPercent, gotLimit, gcPercent, limit)
	}
	if got := m.Metric("eldersafe_rules_loaded_from_snapshot"); got != fromSnapshot {
		t.Fatalf("eldersafe_rules_loaded_from_snapshot = %v, want %v", got, fromSnapshot)
	}
	if got := m.Metric("eldersafe_devices_loaded_from_snapshot"); got != devicesFromSnapshot {
		t.Fatalf("eldersafe_devices_loaded_from_snapshot = %v, want %v", got, devicesFromSnapshot)
	}
	ms.connect(m, secrets)
	for at := start.Add(11*time.Hour + step); !at.After(start.Add(24 * time.Hour)); at = at.Add(step) {
		ms.read("fired", at, 500)
		ms.read("pending", at, 100)
		got := m.tasksOf("pending", "water_no_use")
		switch {
		case at.Before(start.Add(12*time.Hour)) && len(got) != 0:
			t.Fatalf("pending: water_no_use opened before 12 h, at %v: %+v", at, got)
		case !at.Before(start.Add(12*time.Hour)) && len(got) != 1:
			t.Fatalf("pending: %d water_no_use tasks at %v, want 1: %+v", len(got), at, got)
		}
	}
	if got := m.tasksOf("pending", "water_no_use"); len(got) != 1 || !got[0].OpenedAt.Equal(start.Add(12*time.Hour)) {
		t.Errorf("pending: water_no_use tasks %+v, want one opened at %v", got, start.Add(12*time.Hour))
	}
	if got := m.tasksOf("fired", ""); len(got) != 1 || got[0].State != "resolved" {
		t.Errorf("fired: tasks %+v, want only the one resolved before the restart", got)
	}
	if n := m.Metric(`eldersafe_rule_fired_total{rule="water_no_use"}`); n != 1 {
		t.Errorf("water_no_use fired %v times after the restart, want 1", n)
	}

	var tuned struct {
		Thresholds map[string]map[string]any `json:"thresholds"`
		Overrides  map[string]map[string]any `json:"overrides"`
		Away       []map[string]any          `json:"away"`
	}
	m.MustCall("GET", "/api/v1/households/tuned", nil, 200, &tuned)
	if tuned.Thresholds["no_exit"]["hours"] != 24.0 || tuned.Overrides["no_exit"]["hours"] != 24.0 || len(tuned.Away) != 1 {
		t.Errorf("tuned after restart: %+v, want no_exit at 24 h and its away period", tuned)
	}
}

func TestReloadThresholds(t *testing.T) {
	m := startMonitor(t, "", func(c *app.Config) { c.Clock, c.Simulation = app.ClockEvent, true })
	worker, family := newPushServer(t), newPushServer(t)
	secrets := m.household("h1", worker, family, map[string]string{"wm-h1": "water_meter"})
	m.household("h2", worker, family, nil)
	m.MustCall("PUT", "/api/v1/households/h2/thresholds", map[string]any{"no_exit": map[string]any{"hours": 24}}, 200, nil)
	threshold := func(h, rule string) any {
		var out struct {
			Thresholds map[string]map[string]any `json:"thresholds"`
		}
		m.MustCall("GET", "/api/v1/households/"+h, nil, 200, &out)
		return out.Thresholds[rule]["hours"]
	}

	var ms meters
	ms.connect(m, secrets)
	start := time.Date(2026, 11, 20, 7, 0, 0, 0, time.UTC)
	for at := start; !at.After(start.Add(11 * time.Hour)); at = at.Add(30 * time.Minute) {
		ms.read("h1", at, 100)
	}
	if got := m.tasksOf("h1", "water_no_use"); len(got) != 0 {
		t.Fatalf("water_no_use before its 12 h: %+v", got)
	}

	cfg := app.DefaultConfig()
	cfg.Rules.WaterNoUse.Hours = 10
	cfg.Rules.NoExit.Hours = 48
	if err := m.Reload(cfg); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	if got := threshold("h1", "water_no_use"); got != 10.0 {
		t.Errorf("water_no_use.hours after reload = %v, want 10", got)
	}
	if got, other := threshold("h2", "no_exit"), threshold("h1", "no_exit"); got != 24.0 || other != 48.0 {
		t.Errorf("no_exit.hours after reload: h2 (override) %v, h1 %v; want 24 and 48", got, other)
	}
	// The countdown already past the new threshold fires at the next tick.
	m.MustCall("POST", "/api/v1/clock", map[string]any{"ts": start.Add(11*time.Hour + time.Minute).Format(time.RFC3339)}, 200, nil)
	if got := m.tasksOf("h1", "water_no_use"); len(got) != 1 {
		t.Errorf("water_no_use after lowering its threshold below the silence: %+v, want one task", got)
	}

	bad := cfg
	bad.Rules.WaterNoUse.Hours = -3
	bad.Rules.NoExit.Hours = 36
	if err := m.Reload(bad); err == nil || !strings.Contains(err.Error(), "rules.water_no_use.hours") {
		t.Errorf("Reload of an invalid config: %v, want an error naming rules.water_no_use.hours", err)
	}
	if got, other := threshold("h1", "water_no_use"), threshold("h1", "no_exit"); got != 10.0 || other != 48.0 {
		t.Errorf("after an invalid reload: water_no_use %v, no_exit %v; want 10 and 48 kept", got, other)
	}
}

func TestWallClockAppliesFutureReadingsAtNow(t *testing.T) {
	m := startMonitor(t, "", nil)
	worker, family := newPushServer(t), newPushServer(t)
	secrets := m.household("h1", worker, family, map[string]string{"wb-1": "wristband"})
	band := m.Device("wb-1", secrets["wb-1"])

	before := time.Now()
	// The wristband's clock runs two hours fast.
	apptest.Publish(t, band, "eldersafe/v1/devices/wb-1/telemetry", map[string]any{"ts": before.Add(2 * time.Hour).UnixMilli(), "battery_pct": 80})
	var out struct {
		Devices []struct {
			Status *struct {
				LastSeen time.Time `json:"last_seen"`
			} `json:"status"`
		} `json:"devices"`
	}
	apptest.Eventually(t, "reading applied", func() bool {
		m.MustCall("GET", "/api/v1/households/h1", nil, http.StatusOK, &out)
		return len(out.Devices) == 1 && out.Devices[0].Status != nil
	})
	if seen := out.Devices[0].Status.LastSeen; seen.Before(before.Add(-time.Second)) || seen.After(time.Now().Add(time.Second)) {
		t.Errorf("reading stamped 2 h ahead applied at %v, want the wall clock's now (%v)", seen, before)
	}
}

// TestStopCutsStuckHTTPClients: a client that sent half a request (or a
// browser's speculative connection that sent none) holds its connection
// open; the monitor still stops within its grace, without an error, and
// writes its snapshot.
func TestStopCutsStuckHTTPClients(t *testing.T) {
	dir := t.TempDir()
	m := startMonitor(t, "", func(c *app.Config) { c.DataDir = dir })
	conn, err := net.Dial("tcp", m.HTTPAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("GET /readyz HTTP/1.1\r\nHost: x\r\n")); err != nil {
		t.Fatal(err)
	}
	// Time for the server to read it, so the connection counts as busy
	// (unread, it would too, for its first 5 s).
	time.Sleep(200 * time.Millisecond)
	if err := m.Close(); err != nil {
		t.Fatalf("close with a stuck client: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, snapshot.FileName)); err != nil {
		t.Fatalf("no snapshot after the stop: %v", err)
	}
}
