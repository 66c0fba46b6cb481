package app_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/eldersafe/eldersafe/app"
	"github.com/eldersafe/eldersafe/app/apptest"
	"github.com/eldersafe/eldersafe/testkit"
)

const adminToken = apptest.AdminToken

// monitor is a running eldersafe for one test, with a client for its API.
type monitor struct {
	*apptest.Monitor
	t       *testing.T
	mqttURL string
}

// startMonitor runs the monitor in process on free loopback ports. With an
// empty mqttURL it uses its embedded broker.
func startMonitor(t *testing.T, mqttURL string, edit func(*app.Config)) *monitor {
	t.Helper()
	m := apptest.Start(t, func(cfg *app.Config) {
		cfg.MQTT.URL = mqttURL
		if edit != nil {
			edit(cfg)
		}
	})
	return &monitor{Monitor: m, t: t, mqttURL: m.MQTTURL}
}

type task struct {
	ID          string            `json:"id"`
	HouseholdID string            `json:"household_id"`
	Rule        string            `json:"rule"`
	Severity    string            `json:"severity"`
	Kind        string            `json:"kind"`
	State       string            `json:"state"`
	AssigneeID  string            `json:"assignee_id"`
	Evidence    []json.RawMessage `json:"evidence"`
	Timeline    []json.RawMessage `json:"timeline"`
}

func (m *monitor) tasks(query string) []task {
	var out struct {
		Tasks []task `json:"tasks"`
	}
	m.MustCall("GET", "/api/v1/tasks?"+query, nil, 200, &out)
	return out.Tasks
}

// pushServer is a family's (or worker's) push endpoint on loopback.
type pushServer struct {
	*httptest.Server
	mu       sync.Mutex
	received []pushRequest
}

type pushRequest struct {
	IdempotencyKey string
	Body           map[string]any
}

func newPushServer(t *testing.T) *pushServer {
	p := &pushServer{}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("push: %s %s, content type %q, body error %v", r.Method, r.URL, r.Header.Get("Content-Type"), err)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		p.mu.Lock()
		p.received = append(p.received, pushRequest{IdempotencyKey: r.Header.Get("Idempotency-Key"), Body: body})
		p.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(p.Close)
	return p
}

func (p *pushServer) requests() []pushRequest {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]pushRequest(nil), p.received...)
}

// household provisions a grid with its worker, a household with one family
// contact on push, and the given devices; it returns each device's secret.
func (m *monitor) household(id string, worker, family *pushServer, devices map[string]string) map[string]string {
	m.t.Helper()
	grid := "g-" + id
	m.MustCall("POST", "/api/v1/grids", map[string]any{"id": grid, "name": "Grid of " + id}, 201, nil)
	m.MustCall("POST", "/api/v1/workers", map[string]any{
		"id": "w-" + id, "name": "Wang Fang", "phone": "+8613800000001", "grid_ids": []string{grid},
		"role": "grid_worker", "push_url": worker.URL, "lang": "zh-CN",
	}, 201, nil)
	m.MustCall("POST", "/api/v1/households", map[string]any{
		"id": id, "name": "Li Guiying", "address": "Building 3, Unit 2, Room 401", "grid_id": grid,
		"contacts": []map[string]any{{"name": "Li Wei", "relation": "son", "push_url": family.URL, "lang": "en", "channels": []string{"push"}}},
	}, 201, nil)
	secrets := map[string]string{}
	for dev, kind := range devices {
		var out struct {
			Secret string `json:"secret"`
		}
		m.MustCall("POST", "/api/v1/devices", map[string]any{"id": dev, "kind": kind, "household_id": id}, 201, &out)
		if out.Secret == "" {
			m.t.Fatalf("device %s: no generated secret", dev)
		}
		secrets[dev] = out.Secret
	}
	return secrets
}

// brokers runs a test against the embedded broker and, when the test script
// started one, an external Mosquitto.
func brokers(t *testing.T, test func(t *testing.T, mqttURL string)) {
	t.Run("embedded", func(t *testing.T) { test(t, "") })
	t.Run("mosquitto", func(t *testing.T) {
		test(t, testkit.MosquittoURL(t))
	})
}

func TestFallOpensTaskAndPushesFamily(t *testing.T) {
	brokers(t, func(t *testing.T, mqttURL string) {
		m := startMonitor(t, mqttURL, nil)
		worker, family := newPushServer(t), newPushServer(t)
		secrets := m.household("h1", worker, family, map[string]string{"wb-1": "wristband"})
		band := m.Device("wb-1", secrets["wb-1"])

		fallAt := time.Now().Add(-time.Second).UTC().Truncate(time.Millisecond)
		apptest.Publish(t, band, "eldersafe/v1/devices/wb-1/event", map[string]any{
			"ts": fallAt.Format(time.RFC3339Nano), "seq": 1, "event": "fall", "lat": 31.2304, "lon": 121.4737,
		})
		var tasks []task
		apptest.Eventually(t, "fall task", func() bool { tasks = m.tasks("rule=fall"); return len(tasks) > 0 })
		got := tasks[0]
		if len(tasks) != 1 || got.Severity != "critical" || got.Kind != "visit" || got.State != "open" || got.AssigneeID != "w-h1" || got.HouseholdID != "h1" {
			t.Fatalf("tasks = %+v", tasks)
		}

		apptest.Eventually(t, "family push", func() bool { return len(family.requests()) > 0 })
		push := family.requests()[0]
		for _, field := range []string{"task_id", "household_id", "rule", "severity", "title", "message", "lang", "opened_at"} {
			if _, ok := push.Body[field]; !ok {
				t.Errorf("push body lacks %s: %v", field, push.Body)
			}
		}
		if push.Body["task_id"] != got.ID || push.Body["rule"] != "fall" || push.Body["severity"] != "critical" || push.Body["lang"] != "en" || push.IdempotencyKey == "" {
			t.Errorf("push = %+v", push)
		}
		// Who is on the way the family hears once a worker acknowledged.
		if msg, _ := push.Body["message"].(string); strings.Contains(msg, "Wang Fang") || !strings.Contains(msg, "A visit is being arranged") || push.Body["event"] != "opened" {
			t.Errorf("family push %v: want an opened notice that a visit is being arranged, naming nobody yet", push.Body)
		}
		apptest.Eventually(t, "worker push", func() bool { return len(worker.requests()) > 0 })
		if lang := worker.requests()[0].Body["lang"]; lang != "zh-CN" {
			t.Errorf("worker push in %v, want zh-CN", lang)
		}

		// A second fall attaches to the open task.
		apptest.Publish(t, band, "eldersafe/v1/devices/wb-1/event", map[string]any{"ts": fallAt.Add(time.Minute).UnixMilli(), "seq": 2, "event": "fall"})
		apptest.Eventually(t, "second fall handled", func() bool {
			return m.Metric(`eldersafe_ingest_messages_total{kind="wristband",stream="event"}`) == 2
		})
		if tasks := m.tasks("rule=fall"); len(tasks) != 1 {
			t.Fatalf("second fall opened another task: %+v", tasks)
		}
		var detail task
		m.MustCall("GET", "/api/v1/tasks/"+got.ID, nil, 200, &detail)
		if len(detail.Evidence) != 2 {
			t.Errorf("task has %d pieces of evidence, want 2", len(detail.Evidence))
		}
		if n := m.Metric(`eldersafe_rule_fired_total{rule="fall"}`); n != 2 {
			t.Errorf("rule fired %v times, want 2", n)
		}
		if n := m.Metric(`eldersafe_tasks_open{kind="visit",severity="critical"}`); n != 1 {
			t.Errorf("eldersafe_tasks_open{critical,visit} = %v, want 1", n)
		}
		var notes struct {
			Notifications []struct {
				Channel, Status string
				Attempts        int
			} `json:"notifications"`
		}
		apptest.Eventually(t, "notices marked sent", func() bool {
			m.MustCall("GET", "/api/v1/tasks/"+got.ID+"/notifications", nil, 200, &notes)
			sent := 0
			for _, n := range notes.Notifications {
				if n.Status == "sent" {
					sent++
				}
			}
			return sent == 2
		})
		if len(notes.Notifications) != 2 {
			t.Errorf("notifications = %+v, want the worker's and the family's", notes.Notifications)
		}
	})
}

func TestWaterNoUseUnderEventClock(t *testing.T) {
	brokers(t, func(t *testing.T, mqttURL string) {
		m := startMonitor(t, mqttURL, func(c *app.Config) {
			c.Clock, c.Simulation = app.ClockEvent, true
			// The meters' own readings, 13 h apart with no tick between,
			// move the clock: a tick first would find them offline.
			c.ClockMaxJump = 24 * time.Hour
		})
		worker, family := newPushServer(t), newPushServer(t)
		meters := map[string]mqtt.Client{}
		for _, h := range []string{"still", "rising", "silent"} {
			dev := "wm-" + h
			secrets := m.household(h, worker, family, map[string]string{dev: "water_meter"})
			meters[h] = m.Device(dev, secrets[dev])
		}
		start := time.Date(2026, 11, 20, 7, 0, 0, 0, time.FixedZone("CST", 8*3600))
		reading := func(h string, at time.Duration, liters float64) {
			apptest.Publish(t, meters[h], "eldersafe/v1/devices/wm-"+h+"/telemetry", map[string]any{"ts": start.Add(at).Format(time.RFC3339), "total_liters": liters})
		}
		handled := func(n float64) {
			apptest.Eventually(t, fmt.Sprintf("%v readings handled", n), func() bool {
				return m.Metric(`eldersafe_ingest_messages_total{kind="water_meter",stream="telemetry"}`) == n
			})
		}
		reading("still", 0, 100)
		reading("rising", 0, 100)
		reading("silent", 0, 100)
		handled(3)
		reading("rising", 13*time.Hour, 180)
		handled(4)
		reading("still", 13*time.Hour, 100)
		handled(5)
		// The clock keeps moving without the silent meter.
		m.MustCall("POST", "/api/v1/clock", map[string]any{"ts": start.Add(30 * time.Hour).Format(time.RFC3339)}, 200, nil)

		for h, want := range map[string]int{"still": 1, "rising": 0, "silent": 0} {
			tasks := m.tasks("rule=water_no_use&household_id=" + h)
			if len(tasks) != want {
				t.Errorf("household %s: %d water_no_use tasks, want %d", h, len(tasks), want)
			}
			for _, tk := range tasks {
				if tk.Severity != "high" || tk.Kind != "visit" || tk.AssigneeID != "w-"+h {
					t.Errorf("task = %+v", tk)
				}
			}
		}
		// Silent meters get maintenance, never a visit.
		if n := len(m.tasks("rule=device_offline&household_id=silent")); n != 1 {
			t.Errorf("silent meter: %d device_offline tasks, want 1", n)
		}
		var visits int
		for _, tk := range m.tasks("") {
			if tk.Kind == "visit" {
				visits++
			}
		}
		if visits != 1 {
			t.Errorf("%d visit tasks in all, want 1", visits)
		}
	})
}

func TestBadInputIsCountedAndChangesNothing(t *testing.T) {
	m := startMonitor(t, "", func(c *app.Config) { c.MQTT.Broker.Auth = "none" })
	worker, family := newPushServer(t), newPushServer(t)
	m.household("h1", worker, family, map[string]string{"wb-1": "wristband"})
	dev := m.Device("anyone", "")
	now := time.Now().UTC().Format(time.RFC3339)
	cases := []struct {
		reason, topic string
		payload       any
	}{
		{"unknown_device", "eldersafe/v1/devices/ghost/event", map[string]any{"ts": now, "event": "fall"}},
		{"bad_json", "eldersafe/v1/devices/wb-1/event", `{"ts": "` + now + `", "event": "fall"`},
		{"invalid", "eldersafe/v1/devices/wb-1/event", map[string]any{"ts": now, "event": 7}},
		{"invalid", "eldersafe/v1/devices/wb-1/event", map[string]any{"ts": true, "event": "fall"}},
		{"too_large", "eldersafe/v1/devices/wb-1/event", `{"ts":"` + now + `","event":"fall","pad":"` + strings.Repeat("x", 5000) + `"}`},
		{"bad_topic", "eldersafe/v1/devices/wb-1/event/extra", map[string]any{"ts": now, "event": "fall"}},
		{"bad_topic", "eldersafe/v1/devices/wb-1/diary", map[string]any{"ts": now, "event": "fall"}},
		{"future_ts", "eldersafe/v1/devices/wb-1/event", map[string]any{"ts": time.Now().Add(8 * 24 * time.Hour).UnixMilli(), "event": "fall"}},
	}
	want := map[string]float64{}
	for _, c := range cases {
		apptest.Publish(t, dev, c.topic, c.payload)
		want[c.reason]++
	}
	for reason, n := range want {
		apptest.Eventually(t, reason+" counted", func() bool {
			return m.Metric(`eldersafe_ingest_rejected_total{reason="`+reason+`"}`) == n
		})
	}
	if tasks := m.tasks(""); len(tasks) != 0 {
		t.Errorf("bad input opened tasks: %+v", tasks)
	}
	if n := m.Metric(`eldersafe_ingest_messages_total{kind="wristband",stream="event"}`); n != 0 {
		t.Errorf("%v bad messages accepted", n)
	}
	if len(family.requests())+len(worker.requests()) != 0 {
		t.Error("bad input sent notices")
	}
	// A duplicate seq is dropped too, after the first copy is accepted.
	apptest.Publish(t, dev, "eldersafe/v1/devices/wb-1/telemetry", map[string]any{"ts": now, "seq": 9, "battery_pct": 80})
	apptest.Publish(t, dev, "eldersafe/v1/devices/wb-1/telemetry", map[string]any{"ts": now, "seq": 9, "battery_pct": 80})
	apptest.Eventually(t, "duplicate counted", func() bool {
		return m.Metric(`eldersafe_ingest_rejected_total{reason="duplicate"}`) == 1
	})
	if n := m.Metric(`eldersafe_ingest_messages_total{kind="wristband",stream="telemetry"}`); n != 1 {
		t.Errorf("telemetry accepted %v times, want 1", n)
	}
}

func TestEventClockFollowsTicksAndStampsTasks(t *testing.T) {
	m := startMonitor(t, "", func(c *app.Config) { c.Clock, c.Simulation = app.ClockEvent, true })
	worker, family := newPushServer(t), newPushServer(t)
	secrets := m.household("h1", worker, family, map[string]string{"wb-1": "wristband"})
	start := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)

	// The simulator's tick, over MQTT with the admin token, moves now forward.
	sim := m.Device("eldersafe-sim", adminToken)
	apptest.Publish(t, sim, "eldersafe/v1/sim/clock", map[string]any{"ts": start.Add(time.Hour).Format(time.RFC3339)})
	var now struct {
		TS time.Time `json:"ts"`
	}
	apptest.Eventually(t, "tick applied", func() bool {
		// A tick in the past leaves now where it is and answers it.
		m.MustCall("POST", "/api/v1/clock", map[string]any{"ts": start.Format(time.RFC3339)}, 200, &now)
		return now.TS.Equal(start.Add(time.Hour))
	})
	// A tick more than 7 days ahead is refused, in one sentence.
	var refused struct{ Error struct{ Message string } }
	far := start.Add(9 * 24 * time.Hour)
	if code := m.Call("POST", "/api/v1/clock", map[string]any{"ts": far.Format(time.RFC3339)}, &refused); code != http.StatusBadRequest ||
		refused.Error.Message != "ts 2026-11-29T09:00:00Z is more than 7 days ahead of now (2026-11-20T10:00:00Z)" {
		t.Errorf("a tick 9 days ahead: %d %q, want 400 naming the tick once", code, refused.Error.Message)
	}

	band := m.Device("wb-1", secrets["wb-1"])
	fallAt := start.Add(2 * time.Hour)
	apptest.Publish(t, band, "eldersafe/v1/devices/wb-1/event", map[string]any{"ts": fallAt.Format(time.RFC3339), "event": "sos"})
	var tasks []struct {
		OpenedAt time.Time `json:"opened_at"`
		AckDueAt time.Time `json:"ack_due_at"`
	}
	apptest.Eventually(t, "sos task", func() bool {
		var out struct {
			Tasks []struct {
				OpenedAt time.Time `json:"opened_at"`
				AckDueAt time.Time `json:"ack_due_at"`
			} `json:"tasks"`
		}
		m.MustCall("GET", "/api/v1/tasks?rule=sos", nil, 200, &out)
		tasks = out.Tasks
		return len(tasks) == 1
	})
	if !tasks[0].OpenedAt.Equal(fallAt) || !tasks[0].AckDueAt.Equal(fallAt.Add(5*time.Minute)) {
		t.Errorf("task opened at %v, ack due %v; want the event time %v and 5 min later", tasks[0].OpenedAt, tasks[0].AckDueAt, fallAt)
	}
}

func TestWallClockRefusesTicks(t *testing.T) {
	m := startMonitor(t, "", nil)
	code := m.Call("POST", "/api/v1/clock", map[string]any{"ts": time.Now().Format(time.RFC3339)}, nil)
	if code != http.StatusConflict {
		t.Errorf("POST /api/v1/clock under the wall clock: %d, want 409", code)
	}
}

// TestFallAfterRebootFollowingFutureTS: a wristband whose clock ran 6 days
// fast sent seq 1000, then rebooted and counts from 1 again. Its fall is not
// a copy of anything: it opens its task (CONTRACT §11), instead of being
// dropped as a duplicate for a week.
func TestFallAfterRebootFollowingFutureTS(t *testing.T) {
	brokers(t, func(t *testing.T, mqttURL string) {
		m := startMonitor(t, mqttURL, nil)
		secrets := m.household("h1", newPushServer(t), newPushServer(t), map[string]string{"wb-1": "wristband"})
		band := m.Device("wb-1", secrets["wb-1"])
		now := time.Now().UTC().Truncate(time.Millisecond)
		apptest.Publish(t, band, "eldersafe/v1/devices/wb-1/telemetry", map[string]any{
			"ts": now.Add(6 * 24 * time.Hour).UnixMilli(), "seq": 1000, "battery_pct": 80,
		})
		apptest.Publish(t, band, "eldersafe/v1/devices/wb-1/event", map[string]any{"ts": now.UnixMilli(), "seq": 1, "event": "fall"})
		apptest.Eventually(t, "fall task", func() bool { return len(m.tasks("rule=fall")) == 1 })
		if n := m.Metric(`eldersafe_ingest_rejected_total{reason="duplicate"}`); n != 0 {
			t.Errorf("%v messages rejected as duplicates", n)
		}
	})
}

// TestOpenTasksGaugeCountsRoutineVisits registers a semi-independent
// household, which gets routine visits at once: eldersafe_tasks_open counts
// them, and stops counting the one resolved.
func TestOpenTasksGaugeCountsRoutineVisits(t *testing.T) {
	m := startMonitor(t, "", nil)
	m.MustCall("POST", "/api/v1/grids", map[string]any{"id": "g1", "name": "Grid 1"}, 201, nil)
	m.MustCall("POST", "/api/v1/workers", map[string]any{
		"id": "w-h1", "name": "Wang Fang", "phone": "+8613800000001", "grid_ids": []string{"g1"}, "role": "grid_worker",
	}, 201, nil)
	m.MustCall("POST", "/api/v1/households", map[string]any{
		"id": "h1", "name": "Li Guiying", "address": "Building 3, Unit 2, Room 401", "grid_id": "g1", "care_level": "semi",
	}, 201, nil)
	const gauge = `eldersafe_tasks_open{kind="routine_visit",severity="low"}`
	visits := m.tasks("household_id=h1&kind=routine_visit&state=open")
	if len(visits) == 0 {
		t.Fatal("no routine visit scheduled at registration")
	}
	if n := m.Metric(gauge); n != float64(len(visits)) {
		t.Fatalf("%s = %v, want %d (the open routine visits)", gauge, n, len(visits))
	}
	body := map[string]any{"worker_id": "w-h1"}
	path := "/api/v1/tasks/" + visits[0].ID
	m.MustCall("POST", path+"/checkin", body, 200, nil)
	m.MustCall("POST", path+"/resolve", map[string]any{"worker_id": "w-h1", "outcome": "visited"}, 200, nil)
	if n := m.Metric(gauge); n != float64(len(visits)-1) {
		t.Errorf("%s = %v after one was resolved, want %d", gauge, n, len(visits)-1)
	}
}
