package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/eldersafe/eldersafe/dispatch"
	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
	"github.com/eldersafe/eldersafe/tasks"
	"github.com/eldersafe/eldersafe/testkit"
)

func TestNew(t *testing.T) {
	store := openStore(t)
	valid := func() Options {
		return storeOptions(t, store)
	}
	tests := []struct {
		name    string
		change  func(*Options)
		wantErr string
	}{
		{"minimal", func(*Options) {}, ""},
		{"no registry", func(o *Options) { o.Registry = nil }, "registry is required"},
		{"no tasks", func(o *Options) { o.Tasks = nil }, "tasks is required"},
		{"no notifications", func(o *Options) { o.Notifications = nil }, "notifications is required"},
		{"no household list", func(o *Options) { o.HouseholdList = nil }, "household list is required"},
		{"no rules", func(o *Options) { o.Rules = nil }, "rules is required"},
		{"no clock", func(o *Options) { o.Clock = nil }, "clock is required"},
		{"no admin token", func(o *Options) { o.AdminToken = "" }, "admin token is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := valid()
			tt.change(&o)
			_, err := New(o)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("New: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("New: %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
	t.Run("registerer used twice", func(t *testing.T) {
		o := valid()
		o.Registerer = prometheus.NewRegistry()
		if _, err := New(o); err != nil {
			t.Fatal(err)
		}
		if _, err := New(o); err == nil {
			t.Fatal("second New on one registerer: no error")
		}
	})
}

func TestAuth(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name          string
		method, path  string
		opt           reqOption
		want          int
		wantChallenge string // part of WWW-Authenticate on a 401
	}{
		{"missing", "GET", "/api/v1/tasks", noToken(), 401, `Bearer realm="eldersafe"`},
		{"wrong token", "GET", "/api/v1/tasks", withToken("wrong"), 401, `error="invalid_token"`},
		{"token prefix", "GET", "/api/v1/tasks", withToken(testToken[:10]), 401, `error="invalid_token"`},
		{"token plus suffix", "GET", "/api/v1/tasks", withToken(testToken + "x"), 401, `error="invalid_token"`},
		{"basic scheme", "GET", "/api/v1/tasks", withAuthorization("Basic " + testToken), 401, `error="invalid_request"`},
		{"bearer without token", "GET", "/api/v1/tasks", withAuthorization("Bearer "), 401, `error="invalid_request"`},
		{"right", "GET", "/api/v1/tasks", withToken(testToken), 200, ""},
		{"scheme case-insensitive", "GET", "/api/v1/tasks", withAuthorization("bearer " + testToken), 200, ""},
		{"post without token", "POST", "/api/v1/grids", noToken(), 401, "Bearer"},
		{"unknown api route without token", "GET", "/api/v1/nothing", noToken(), 401, "Bearer"},
		{"wrong method without token", "DELETE", "/api/v1/grids", noToken(), 401, "Bearer"},
		{"healthz is open", "GET", "/healthz", noToken(), 200, ""},
		{"readyz is open", "GET", "/readyz", noToken(), 200, ""},
		{"metrics is open", "GET", "/metrics", noToken(), 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := ""
			if tt.method == "POST" {
				body = `{"id":"g1","name":"Grid 1"}`
			}
			r := e.do(tt.method, tt.path, body, tt.opt)
			if r.status != tt.want {
				t.Fatalf("status %d, want %d; body %s", r.status, tt.want, r.body)
			}
			if tt.want != 401 {
				return
			}
			if code, _ := r.errorOf(t); code != "unauthorized" {
				t.Errorf("code %q, want unauthorized", code)
			}
			if ch := r.header.Get("WWW-Authenticate"); !strings.Contains(ch, tt.wantChallenge) {
				t.Errorf("WWW-Authenticate %q, want it to contain %q", ch, tt.wantChallenge)
			}
		})
	}
	if _, err := e.store.Grid(context.Background(), "g1"); !errors.Is(err, registry.ErrNotFound) {
		t.Errorf("a grid was created without a valid token: %v", err)
	}
}

// call is one request of a table and what it must answer.
type call struct {
	name         string
	method, path string
	body         string
	opts         []reqOption
	want         int
	wantCode     string // error code, for 4xx/5xx
	wantMsg      string // part of the error message
	check        func(t *testing.T, body map[string]any)
}

func (e *testEnv) run(t *testing.T, calls []call) {
	t.Helper()
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			r := e.do(c.method, c.path, c.body, c.opts...)
			if r.status != c.want {
				t.Fatalf("status %d, want %d; body %s", r.status, c.want, r.body)
			}
			if c.want >= 400 {
				code, msg := r.errorOf(t)
				if code != c.wantCode {
					t.Errorf("code %q, want %q (message %q)", code, c.wantCode, msg)
				}
				if !strings.Contains(msg, c.wantMsg) {
					t.Errorf("message %q, want it to contain %q", msg, c.wantMsg)
				}
				return
			}
			body := r.object(t)
			if c.check != nil {
				c.check(t, body)
			}
		})
	}
}

// fields checks top-level string fields of a JSON object.
func fields(want map[string]any) func(t *testing.T, body map[string]any) {
	return func(t *testing.T, body map[string]any) {
		t.Helper()
		for k, v := range want {
			if got := fmt.Sprint(body[k]); got != fmt.Sprint(v) {
				t.Errorf("%s = %s, want %v (body %v)", k, got, v, body)
			}
		}
	}
}

func TestCreateRegistry(t *testing.T) {
	e := newEnv(t)
	big := `{"id":"g9","name":"` + strings.Repeat("x", maxBody) + `"}`
	// Calls run in order: later ones rely on what earlier ones created.
	e.run(t, []call{
		// grids
		{name: "grid", method: "POST", path: "/api/v1/grids", body: `{"id":"g1","name":"Grid 1","supervisor_id":"w9"}`, want: 201,
			check: fields(map[string]any{"id": "g1", "name": "Grid 1", "supervisor_id": "w9"})},
		{name: "grid charset param", method: "POST", path: "/api/v1/grids", body: `{"id":"g2","name":"Grid 2"}`,
			opts: []reqOption{withContentType("application/json; charset=utf-8")}, want: 201},
		{name: "grid no content type", method: "POST", path: "/api/v1/grids", body: `{"id":"g3","name":"Grid 3"}`,
			opts: []reqOption{withContentType("")}, want: 201},
		{name: "grid conflict", method: "POST", path: "/api/v1/grids", body: `{"id":"g1","name":"Again"}`,
			want: 409, wantCode: "conflict", wantMsg: `grid "g1" already exists`},
		{name: "grid bad id", method: "POST", path: "/api/v1/grids", body: `{"id":"g 1","name":"x"}`,
			want: 400, wantCode: "invalid", wantMsg: `id "g 1"`},
		{name: "grid no name", method: "POST", path: "/api/v1/grids", body: `{"id":"g4"}`,
			want: 400, wantCode: "invalid", wantMsg: "name is required"},
		{name: "grid every field at fault", method: "POST", path: "/api/v1/grids", body: `{"id":"","name":"","backup_worker_id":"a/b"}`,
			want: 400, wantCode: "invalid", wantMsg: `name is required; backup_worker_id "a/b"`},
		{name: "grid unknown field", method: "POST", path: "/api/v1/grids", body: `{"id":"g4","nmae":"x"}`,
			want: 400, wantCode: "bad_json", wantMsg: `unknown field "nmae"`},
		{name: "grid malformed", method: "POST", path: "/api/v1/grids", body: `{"id":"g4",}`,
			want: 400, wantCode: "bad_json", wantMsg: "malformed JSON"},
		{name: "grid truncated", method: "POST", path: "/api/v1/grids", body: `{"id":"g4"`,
			want: 400, wantCode: "bad_json", wantMsg: "malformed JSON"},
		{name: "grid trailing data", method: "POST", path: "/api/v1/grids", body: `{"id":"g4","name":"x"} {}`,
			want: 400, wantCode: "bad_json", wantMsg: "after the JSON object"},
		{name: "grid wrong type", method: "POST", path: "/api/v1/grids", body: `{"id":4,"name":"x"}`,
			want: 400, wantCode: "bad_json", wantMsg: "field id: want a string, got number"},
		{name: "grid array body", method: "POST", path: "/api/v1/grids", body: `[{"id":"g4"}]`,
			want: 400, wantCode: "bad_json", wantMsg: "JSON object"},
		{name: "grid null body", method: "POST", path: "/api/v1/grids", body: `null`,
			want: 400, wantCode: "bad_json", wantMsg: "JSON object"},
		{name: "grid empty body", method: "POST", path: "/api/v1/grids", body: ``,
			want: 400, wantCode: "bad_json", wantMsg: "empty"},
		{name: "grid text/plain", method: "POST", path: "/api/v1/grids", body: `{"id":"g4","name":"x"}`,
			opts: []reqOption{withContentType("text/plain")}, want: 415, wantCode: "unsupported_media_type", wantMsg: "application/json"},
		{name: "grid too large", method: "POST", path: "/api/v1/grids", body: big,
			want: 413, wantCode: "too_large", wantMsg: "1048576"},

		// workers
		{name: "worker", method: "POST", path: "/api/v1/workers",
			body: `{"id":"w1","name":"Wang","phone":"+8613800000001","grid_ids":["g1"],"role":"grid_worker","lang":"en"}`, want: 201,
			check: func(t *testing.T, b map[string]any) {
				fields(map[string]any{"id": "w1", "role": "grid_worker", "grid_ids": []any{"g1"}, "lang": "en"})(t, b)
				if _, err := time.Parse(time.RFC3339, fmt.Sprint(b["created_at"])); err != nil {
					t.Errorf("created_at: %v", err)
				}
			}},
		{name: "worker without grids", method: "POST", path: "/api/v1/workers",
			body: `{"id":"op1","name":"Op","phone":"+8613800000005","role":"operator"}`, want: 201,
			check: fields(map[string]any{"grid_ids": []any{}})},
		{name: "worker conflict", method: "POST", path: "/api/v1/workers",
			body: `{"id":"w1","name":"Wang","phone":"+8613800000005","grid_ids":["g1"],"role":"grid_worker"}`,
			want: 409, wantCode: "conflict", wantMsg: `worker "w1" already exists`},
		{name: "worker unknown grid", method: "POST", path: "/api/v1/workers",
			body: `{"id":"w5","name":"Wang","phone":"+8613800000005","grid_ids":["nope"],"role":"grid_worker"}`,
			want: 400, wantCode: "invalid", wantMsg: `grid_ids "nope"`},
		{name: "worker bad role", method: "POST", path: "/api/v1/workers",
			body: `{"id":"w5","name":"Wang","phone":"+8613800000005","grid_ids":["g1"],"role":"boss"}`,
			want: 400, wantCode: "invalid", wantMsg: `role "boss"`},
		{name: "worker bad lang", method: "POST", path: "/api/v1/workers",
			body: `{"id":"w5","name":"Wang","phone":"+8613800000005","grid_ids":["g1"],"role":"grid_worker","lang":"fr"}`,
			want: 400, wantCode: "invalid", wantMsg: `lang "fr"`},
		{name: "worker bad push_url", method: "POST", path: "/api/v1/workers",
			body: `{"id":"w5","name":"Wang","phone":"+8613800000005","grid_ids":["g1"],"role":"grid_worker","push_url":"ftp://x"}`,
			want: 400, wantCode: "invalid", wantMsg: "push_url"},
		{name: "worker grid_ids wrong type", method: "POST", path: "/api/v1/workers",
			body: `{"id":"w5","name":"Wang","phone":"+8613800000005","grid_ids":"g1","role":"grid_worker"}`,
			want: 400, wantCode: "bad_json", wantMsg: "field grid_ids: want an array, got string"},
		{name: "worker created_at is not settable", method: "POST", path: "/api/v1/workers",
			body: `{"id":"w5","name":"Wang","phone":"+8613800000005","grid_ids":["g1"],"role":"grid_worker","created_at":"2020-01-01T00:00:00Z"}`,
			want: 400, wantCode: "bad_json", wantMsg: `unknown field "created_at"`},

		// households
		{name: "household", method: "POST", path: "/api/v1/households",
			body: `{"id":"h1","name":"Zhang Wei","address":"1 Lane","grid_id":"g1","timezone":"Asia/Shanghai",
				"contacts":[{"name":"Zhang Min","relation":"daughter","phone":"+8613900000000","channels":["sms","log"],"lang":"en"}]}`,
			want: 201, check: func(t *testing.T, b map[string]any) {
				fields(map[string]any{"id": "h1", "grid_id": "g1", "timezone": "Asia/Shanghai"})(t, b)
				cs, _ := b["contacts"].([]any)
				if len(cs) != 1 || fmt.Sprint(cs[0].(map[string]any)["channels"]) != "[sms log]" {
					t.Errorf("contacts = %v", b["contacts"])
				}
			}},
		{name: "household without contacts", method: "POST", path: "/api/v1/households",
			body: `{"id":"h2","name":"Li Na","address":"2 Lane","grid_id":"g1"}`, want: 201,
			check: fields(map[string]any{"contacts": []any{}})},
		{name: "household conflict", method: "POST", path: "/api/v1/households",
			body: `{"id":"h1","name":"x","address":"y","grid_id":"g1"}`, want: 409, wantCode: "conflict", wantMsg: `household "h1"`},
		{name: "household unknown grid", method: "POST", path: "/api/v1/households",
			body: `{"id":"h3","name":"x","address":"y","grid_id":"g404"}`, want: 400, wantCode: "invalid", wantMsg: `grid_id "g404"`},
		{name: "household bad timezone", method: "POST", path: "/api/v1/households",
			body: `{"id":"h3","name":"x","address":"y","grid_id":"g1","timezone":"Mars/Olympus"}`, want: 400, wantCode: "invalid", wantMsg: "timezone"},
		{name: "household contact sms without phone", method: "POST", path: "/api/v1/households",
			body: `{"id":"h3","name":"x","address":"y","grid_id":"g1","contacts":[{"name":"a","relation":"son","channels":["sms"]}]}`,
			want: 400, wantCode: "invalid", wantMsg: "contacts[0]: channels: sms needs phone"},
		{name: "household contact unknown field", method: "POST", path: "/api/v1/households",
			body: `{"id":"h3","name":"x","address":"y","grid_id":"g1","contacts":[{"name":"a","relation":"son","channels":["log"],"email":"a@b"}]}`,
			want: 400, wantCode: "bad_json", wantMsg: `unknown field "email"`},
		{name: "household contact wrong type", method: "POST", path: "/api/v1/households",
			body: `{"id":"h3","name":"x","address":"y","grid_id":"g1","contacts":[{"name":"a","relation":"son","channels":"log"}]}`,
			want: 400, wantCode: "bad_json", wantMsg: "channels: want an array"},

		// devices
		{name: "device with secret", method: "POST", path: "/api/v1/devices",
			body: `{"id":"d1","kind":"water_meter","household_id":"h1","secret":"0123456789abcdef"}`, want: 201,
			check: func(t *testing.T, b map[string]any) {
				fields(map[string]any{"id": "d1", "kind": "water_meter", "household_id": "h1"})(t, b)
				if _, ok := b["secret"]; ok {
					t.Errorf("a chosen secret is echoed: %v", b)
				}
			}},
		{name: "device conflict", method: "POST", path: "/api/v1/devices",
			body: `{"id":"d1","kind":"water_meter","household_id":"h1"}`, want: 409, wantCode: "conflict", wantMsg: `device "d1"`},
		{name: "device bad kind", method: "POST", path: "/api/v1/devices",
			body: `{"id":"d2","kind":"toaster","household_id":"h1"}`, want: 400, wantCode: "invalid", wantMsg: `kind "toaster"`},
		{name: "device short secret", method: "POST", path: "/api/v1/devices",
			body: `{"id":"d2","kind":"wristband","household_id":"h1","secret":"short"}`, want: 400, wantCode: "invalid", wantMsg: "secret: at least 16"},
		{name: "device empty secret", method: "POST", path: "/api/v1/devices",
			body: `{"id":"d2","kind":"wristband","household_id":"h1","secret":""}`, want: 400, wantCode: "invalid", wantMsg: "secret"},
		{name: "device unknown household", method: "POST", path: "/api/v1/devices",
			body: `{"id":"d2","kind":"wristband","household_id":"h404"}`, want: 400, wantCode: "invalid", wantMsg: `household_id "h404"`},
		{name: "device secret_hash is not settable", method: "POST", path: "/api/v1/devices",
			body: `{"id":"d2","kind":"wristband","household_id":"h1","secret_hash":"x"}`, want: 400, wantCode: "bad_json", wantMsg: "secret_hash"},
		{name: "device native by default", method: "POST", path: "/api/v1/devices",
			body: `{"id":"gw1","kind":"gateway","household_id":"h1"}`, want: 201,
			check: fields(map[string]any{"id": "gw1", "kind": "gateway", "source": "native"})},
		{name: "device with a source", method: "POST", path: "/api/v1/devices",
			body: `{"id":"pir1","kind":"motion_sensor","household_id":"h1","source":"zigbee2mqtt","source_topic":"h1/Kitchen PIR","gateway_id":"gw1"}`, want: 201,
			check: fields(map[string]any{"id": "pir1", "source": "zigbee2mqtt", "source_topic": "h1/Kitchen PIR", "gateway_id": "gw1"})},
		{name: "device source topic taken", method: "POST", path: "/api/v1/devices",
			body: `{"id":"pir2","kind":"motion_sensor","household_id":"h1","source":"zigbee2mqtt","source_topic":"h1/Kitchen PIR"}`,
			want: 409, wantCode: "conflict", wantMsg: `source_topic "h1/Kitchen PIR" of zigbee2mqtt is another device's`},
		{name: "device gateway not a gateway", method: "POST", path: "/api/v1/devices",
			body: `{"id":"pir2","kind":"motion_sensor","household_id":"h1","source":"zigbee2mqtt","source_topic":"h1/Hall","gateway_id":"pir1"}`,
			want: 400, wantCode: "invalid", wantMsg: `gateway_id "pir1"`},
		{name: "device source for another kind", method: "POST", path: "/api/v1/devices",
			body: `{"id":"pir2","kind":"power_meter","household_id":"h1","source":"wmbusmeters","source_topic":"33225544"}`,
			want: 400, wantCode: "invalid", wantMsg: "wmbusmeters reports for water_meter"},
		{name: "device unknown source", method: "POST", path: "/api/v1/devices",
			body: `{"id":"pir2","kind":"power_meter","household_id":"h1","source":"homie","source_topic":"x"}`,
			want: 400, wantCode: "invalid", wantMsg: `source "homie"`},
	})
}

func TestDeviceSecret(t *testing.T) {
	e := newEnv(t)
	e.seed()
	tests := []struct {
		name, body string
		chosen     string // the secret sent, "" when the API must generate one
	}{
		{"absent", `{"id":"d1","kind":"door_sensor","household_id":"h1"}`, ""},
		{"null", `{"id":"d2","kind":"door_sensor","household_id":"h1","secret":null}`, ""},
		{"chosen", `{"id":"d3","kind":"door_sensor","household_id":"h1","secret":"my-own-secret-0001"}`, "my-own-secret-0001"},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do("POST", "/api/v1/devices", tt.body)
			if r.status != 201 {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			b := r.object(t)
			id := b["id"].(string)
			stored, err := e.store.Device(context.Background(), id)
			if err != nil {
				t.Fatal(err)
			}
			if stored.SecretHash == "" {
				t.Fatal("no secret hash stored")
			}
			if strings.Contains(string(r.body), stored.SecretHash) || strings.Contains(string(r.body), "hash") {
				t.Errorf("response shows the hash: %s", r.body)
			}
			secret := tt.chosen
			if secret == "" {
				secret, _ = b["secret"].(string)
				if len(secret) < registry.MinSecretLen {
					t.Fatalf("generated secret %q: too short", secret)
				}
				if seen[secret] {
					t.Fatal("the same secret generated twice")
				}
				seen[secret] = true
			} else if _, ok := b["secret"]; ok {
				t.Errorf("chosen secret echoed: %s", r.body)
			}
			if !registry.CheckSecret(stored.SecretHash, secret) {
				t.Error("stored hash does not check with the secret")
			}
			if registry.CheckSecret(stored.SecretHash, secret+"x") {
				t.Error("stored hash checks with a wrong secret")
			}
		})
	}
}

func TestGetHousehold(t *testing.T) {
	e := newEnv(t)
	e.seed()
	battery := 80.0
	e.status["h1"] = []rules.DeviceStatus{
		{DeviceID: "d-water", LastSeen: t0, Online: true, BatteryPct: &battery, Last: map[string]any{"total_liters": 1234.5}},
		{DeviceID: "d-ghost", LastSeen: t0, Online: true}, // heard by the engine, not registered: not shown
	}
	b := e.must(200, "GET", "/api/v1/households/h1", "")
	fields(map[string]any{"id": "h1", "name": "Zhang Wei", "grid_id": "g1"})(t, b)
	if cs, _ := b["contacts"].([]any); len(cs) != 1 {
		t.Errorf("contacts = %v", b["contacts"])
	}
	devices, _ := b["devices"].([]any)
	if len(devices) != 2 {
		t.Fatalf("devices = %v, want d-band and d-water", b["devices"])
	}
	band, water := devices[0].(map[string]any), devices[1].(map[string]any)
	fields(map[string]any{"id": "d-band", "kind": "wristband"})(t, band)
	if st, ok := band["status"]; !ok || st != nil {
		t.Errorf("d-band never heard: status = %v, want null", band["status"])
	}
	fields(map[string]any{"id": "d-water", "kind": "water_meter"})(t, water)
	st, _ := water["status"].(map[string]any)
	fields(map[string]any{"online": true, "battery_pct": 80, "last_seen": "2026-03-01T09:12:00Z", "last": map[string]any{"total_liters": 1234.5}})(t, st)

	e.run(t, []call{
		{name: "unknown household", method: "GET", path: "/api/v1/households/h404", want: 404, wantCode: "not_found", wantMsg: `household "h404"`},
		{name: "household not registered yet", method: "GET", path: "/api/v1/households/h2", want: 404, wantCode: "not_found"},
	})
	e.must(201, "POST", "/api/v1/households", `{"id":"h2","name":"Li Na","address":"2 Lane","grid_id":"g1"}`)
	b = e.must(200, "GET", "/api/v1/households/h2", "")
	if d, ok := b["devices"].([]any); !ok || len(d) != 0 {
		t.Errorf("devices = %v, want []", b["devices"])
	}
}

func TestTasks(t *testing.T) {
	e := newEnv(t)
	e.seed()
	fall := e.openTask(rules.RuleFall, rules.Critical)
	e.clock.set(t0.Add(time.Minute))
	sos := e.openTask(rules.RuleSOS, rules.Critical)
	path := "/api/v1/tasks/" + fall.ID

	e.run(t, []call{
		{name: "list newest first", method: "GET", path: "/api/v1/tasks", want: 200, check: ids(sos.ID, fall.ID)},
		{name: "list by rule", method: "GET", path: "/api/v1/tasks?rule=fall", want: 200, check: ids(fall.ID)},
		{name: "list by every filter", method: "GET", path: "/api/v1/tasks?state=open&household_id=h1&rule=sos&assignee_id=w1", want: 200, check: ids(sos.ID)},
		{name: "list none", method: "GET", path: "/api/v1/tasks?state=resolved", want: 200, check: ids()},
		{name: "list limit", method: "GET", path: "/api/v1/tasks?limit=1", want: 200, check: ids(sos.ID)},
		{name: "list bad state", method: "GET", path: "/api/v1/tasks?state=done", want: 400, wantCode: "invalid", wantMsg: `state "done"`},
		{name: "list bad rule", method: "GET", path: "/api/v1/tasks?rule=flood", want: 400, wantCode: "invalid", wantMsg: `rule "flood"`},
		{name: "list bad household", method: "GET", path: "/api/v1/tasks?household_id=a%2Fb", want: 400, wantCode: "invalid", wantMsg: "household_id"},
		{name: "list limit 0", method: "GET", path: "/api/v1/tasks?limit=0", want: 400, wantCode: "invalid", wantMsg: "limit"},
		{name: "list limit too big", method: "GET", path: "/api/v1/tasks?limit=5001", want: 400, wantCode: "invalid", wantMsg: "1 to 5000"},
		{name: "list limit not a number", method: "GET", path: "/api/v1/tasks?limit=ten", want: 400, wantCode: "invalid", wantMsg: "limit"},
		{name: "list unknown parameter", method: "GET", path: "/api/v1/tasks?sate=open", want: 400, wantCode: "invalid", wantMsg: `"sate"`},
		{name: "list repeated parameter", method: "GET", path: "/api/v1/tasks?rule=fall&rule=sos", want: 400, wantCode: "invalid", wantMsg: "2 times"},

		{name: "get", method: "GET", path: path, want: 200, check: func(t *testing.T, b map[string]any) {
			fields(map[string]any{"id": fall.ID, "state": "open", "rule": "fall", "severity": "critical", "assignee_id": "w1"})(t, b)
			if ev, _ := b["evidence"].([]any); len(ev) != 1 {
				t.Errorf("evidence = %v", b["evidence"])
			}
			if tl, _ := b["timeline"].([]any); len(tl) == 0 {
				t.Errorf("timeline = %v", b["timeline"])
			}
		}},
		{name: "get unknown", method: "GET", path: "/api/v1/tasks/t404", want: 404, wantCode: "not_found", wantMsg: "t404"},

		{name: "resolve an open task", method: "POST", path: path + "/resolve", body: `{"worker_id":"w1","outcome":"safe"}`,
			want: 409, wantCode: "invalid_transition", wantMsg: "cannot resolve a task that is open"},
		{name: "still open", method: "GET", path: path, want: 200, check: fields(map[string]any{"state": "open"})},
		{name: "check in before ack", method: "POST", path: path + "/checkin", body: `{"worker_id":"w1"}`,
			want: 409, wantCode: "invalid_transition", wantMsg: "acknowledge it first"},
		{name: "ack without worker", method: "POST", path: path + "/ack", body: `{}`, want: 400, wantCode: "invalid", wantMsg: "worker_id is required"},
		{name: "ack bad worker id", method: "POST", path: path + "/ack", body: `{"worker_id":"a b"}`, want: 400, wantCode: "invalid", wantMsg: "worker_id"},
		{name: "ack unknown worker", method: "POST", path: path + "/ack", body: `{"worker_id":"w404"}`, want: 400, wantCode: "invalid", wantMsg: `worker "w404" is not registered`},
		{name: "ack unknown task", method: "POST", path: "/api/v1/tasks/t404/ack", body: `{"worker_id":"w1"}`, want: 404, wantCode: "not_found"},
		{name: "ack unknown field", method: "POST", path: path + "/ack", body: `{"worker":"w1"}`, want: 400, wantCode: "bad_json", wantMsg: `unknown field "worker"`},
		{name: "ack", method: "POST", path: path + "/ack", body: `{"worker_id":"w1"}`, want: 200,
			check: fields(map[string]any{"id": fall.ID, "state": "acknowledged", "assignee_id": "w1"})},
		{name: "ack twice", method: "POST", path: path + "/ack", body: `{"worker_id":"w2"}`,
			want: 409, wantCode: "invalid_transition", wantMsg: "cannot acknowledge a task that is acknowledged"},
		{name: "check in by another worker", method: "POST", path: path + "/checkin", body: `{"worker_id":"w2"}`,
			want: 409, wantCode: "invalid_transition", wantMsg: "owned by w1"},
		{name: "check in lat without lon", method: "POST", path: path + "/checkin", body: `{"worker_id":"w1","lat":31.2}`,
			want: 400, wantCode: "invalid", wantMsg: "lat and lon"},
		{name: "check in lat wrong type", method: "POST", path: path + "/checkin", body: `{"worker_id":"w1","lat":"31.2","lon":121.5}`,
			want: 400, wantCode: "bad_json", wantMsg: "field lat: want a number, got string"},
		{name: "check in", method: "POST", path: path + "/checkin", body: `{"worker_id":"w1","lat":31.2,"lon":121.5}`, want: 200,
			check: fields(map[string]any{"state": "on_site"})},
		{name: "resolve without outcome", method: "POST", path: path + "/resolve", body: `{"worker_id":"w1"}`,
			want: 400, wantCode: "invalid", wantMsg: "outcome is required"},
		{name: "resolve unknown outcome", method: "POST", path: path + "/resolve", body: `{"worker_id":"w1","outcome":"fine"}`,
			want: 400, wantCode: "invalid", wantMsg: `outcome "fine"`},
		{name: "resolve", method: "POST", path: path + "/resolve", body: `{"worker_id":"w1","outcome":"safe","note":"slipped, unhurt"}`, want: 200,
			check: fields(map[string]any{"state": "resolved", "outcome": "safe", "note": "slipped, unhurt"})},
		{name: "ack a resolved task", method: "POST", path: path + "/ack", body: `{"worker_id":"w1"}`,
			want: 409, wantCode: "invalid_transition", wantMsg: "resolved"},
		{name: "list resolved", method: "GET", path: "/api/v1/tasks?state=resolved", want: 200, check: ids(fall.ID)},
	})
}

func TestNotifications(t *testing.T) {
	e := newEnv(t)
	e.seed()
	task := e.openTask(rules.RuleFall, rules.Critical)
	notices, _ := e.store.Notifications(context.Background(), task.ID)
	if len(notices) != 2 {
		t.Fatalf("%d notices, want the worker's and the daughter's", len(notices))
	}
	sent := notices[0]
	sentAt := time.Date(2026, 3, 1, 9, 12, 1, 0, time.UTC)
	for i, a := range []tasks.Attempt{
		{Status: tasks.NoticePending, Attempts: 1, NextAttemptAt: sentAt, LastError: "timeout"},
		{Status: tasks.NoticeSent, Attempts: 2, SentAt: &sentAt, LastError: "timeout"},
	} {
		a.Entry = tasks.TimelineEntry{At: sentAt, Actor: tasks.ActorSystem, Type: tasks.EntryNotice, Message: fmt.Sprint("attempt ", i+1)}
		if err := e.store.RecordAttempt(context.Background(), sent.ID, a); err != nil {
			t.Fatal(err)
		}
	}

	r := e.do("GET", "/api/v1/tasks/"+task.ID+"/notifications", "")
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	list, _ := r.object(t)["notifications"].([]any)
	if len(list) != 2 {
		t.Fatalf("notifications = %s", r.body)
	}
	first, second := list[0].(map[string]any), list[1].(map[string]any)
	fields(map[string]any{"id": sent.ID, "event": "opened", "channel": "log", "recipient": "Wang", "status": "sent", "attempts": 2,
		"last_error": "timeout", "sent_at": "2026-03-01T09:12:01Z"})(t, first)
	fields(map[string]any{"recipient": "Zhang Min", "status": "pending", "attempts": 0})(t, second)
	for _, k := range []string{"sent_at", "last_error"} {
		if _, ok := second[k]; ok {
			t.Errorf("pending notice has %s: %v", k, second)
		}
	}
	for _, k := range []string{"address", "message", "title"} {
		if _, ok := first[k]; ok {
			t.Errorf("notification shows %s: %v", k, first)
		}
	}

	e.run(t, []call{
		{name: "unknown task", method: "GET", path: "/api/v1/tasks/t404/notifications", want: 404, wantCode: "not_found"},
	})
}

func TestClock(t *testing.T) {
	t.Run("wall clock", func(t *testing.T) {
		e := newEnv(t)
		e.run(t, []call{
			{name: "refused", method: "POST", path: "/api/v1/clock", body: `{"ts":"2026-03-01T09:00:00Z"}`,
				want: 409, wantCode: "wall_clock", wantMsg: "wall clock"},
		})
	})

	ec := &fakeEventClock{}
	e := newEnv(t, func(o *Options) { o.EventClock = ec })
	want := time.Date(2026, 3, 1, 1, 12, 0, 0, time.UTC)
	e.run(t, []call{
		{name: "rfc3339 with offset", method: "POST", path: "/api/v1/clock", body: `{"ts":"2026-03-01T09:12:00+08:00"}`,
			want: 200, check: fields(map[string]any{"ts": "2026-03-01T01:12:00Z"})},
		{name: "unix ms", method: "POST", path: "/api/v1/clock", body: fmt.Sprintf(`{"ts":%d}`, want.Add(time.Hour).UnixMilli()),
			want: 200, check: fields(map[string]any{"ts": "2026-03-01T02:12:00Z"})},
		{name: "backwards answers now", method: "POST", path: "/api/v1/clock", body: `{"ts":"2026-03-01T00:00:00Z"}`,
			want: 200, check: fields(map[string]any{"ts": "2026-03-01T02:12:00Z"})},
		{name: "missing ts", method: "POST", path: "/api/v1/clock", body: `{}`, want: 400, wantCode: "invalid", wantMsg: "ts: required"},
		{name: "null ts", method: "POST", path: "/api/v1/clock", body: `{"ts":null}`, want: 400, wantCode: "invalid", wantMsg: "ts: required"},
		{name: "no offset", method: "POST", path: "/api/v1/clock", body: `{"ts":"2026-03-01T09:12:00"}`, want: 400, wantCode: "invalid", wantMsg: "RFC 3339"},
		{name: "fractional ms", method: "POST", path: "/api/v1/clock", body: `{"ts":1772327520000.5}`, want: 400, wantCode: "invalid", wantMsg: "Unix milliseconds"},
		{name: "boolean", method: "POST", path: "/api/v1/clock", body: `{"ts":true}`, want: 400, wantCode: "invalid", wantMsg: "ts"},
		{name: "seconds, not ms", method: "POST", path: "/api/v1/clock", body: `{"ts":1772327520}`, want: 400, wantCode: "invalid", wantMsg: "2000"},
		{name: "unknown field", method: "POST", path: "/api/v1/clock", body: `{"ts":"2026-03-01T09:12:00Z","speed":2}`,
			want: 400, wantCode: "bad_json", wantMsg: `unknown field "speed"`},
	})
	if got := ec.calls(); len(got) != 3 || !got[0].Equal(want) || !got[1].Equal(want.Add(time.Hour)) {
		t.Errorf("Advance called with %v, want [%v %v ...]", got, want, want.Add(time.Hour))
	}

	ec.err = fmt.Errorf("clock: %w", dispatch.ErrTooFarAhead)
	e.run(t, []call{{name: "refused by the clock", method: "POST", path: "/api/v1/clock", body: `{"ts":"2036-03-01T09:12:00Z"}`,
		want: 400, wantCode: "invalid", wantMsg: "7 days"}})
	ec.err = errors.New("persist clock: disk on fire")
	e.run(t, []call{{name: "clock fails", method: "POST", path: "/api/v1/clock", body: `{"ts":"2026-03-02T09:12:00Z"}`,
		want: 500, wantCode: "internal", wantMsg: "internal error"}})
	if !strings.Contains(e.logs.String(), "disk on fire") {
		t.Error("the cause of a 500 is not logged")
	}
}

func TestRoutes(t *testing.T) {
	e := newEnv(t)
	e.run(t, []call{
		{name: "unknown api route", method: "GET", path: "/api/v1/nothing", want: 404, wantCode: "not_found", wantMsg: "/api/v1/nothing"},
		{name: "unknown api root", method: "GET", path: "/api/v1/", want: 404, wantCode: "not_found"},
		{name: "trailing slash", method: "POST", path: "/api/v1/grids/", body: `{}`, want: 404, wantCode: "not_found"},
		{name: "too deep", method: "GET", path: "/api/v1/tasks/a/b/c", want: 404, wantCode: "not_found"},
		{name: "wrong method", method: "DELETE", path: "/api/v1/grids", want: 405, wantCode: "method_not_allowed", wantMsg: "allowed: POST"},
		{name: "wrong method on pattern", method: "PUT", path: "/api/v1/tasks/t1", want: 405, wantCode: "method_not_allowed", wantMsg: "GET, HEAD"},
		{name: "wrong method on health", method: "POST", path: "/healthz", want: 405, wantCode: "method_not_allowed"},
		{name: "healthz", method: "GET", path: "/healthz", want: 200, check: fields(map[string]any{"status": "ok"})},
	})
	r := e.do("DELETE", "/api/v1/tasks/t1/ack", "")
	if allow := r.header.Get("Allow"); allow != "POST" {
		t.Errorf("Allow %q, want POST", allow)
	}
	if r := e.do("HEAD", "/api/v1/tasks", ""); r.status != 200 || len(r.body) != 0 {
		t.Errorf("HEAD: status %d, body %q", r.status, r.body)
	}
}

func TestReadyz(t *testing.T) {
	e := newEnv(t)
	e.must(200, "GET", "/readyz", "", noToken())
	e.mu.Lock()
	e.ready = errors.New("mqtt: not connected")
	e.mu.Unlock()
	b := e.must(503, "GET", "/readyz", "", noToken())
	fields(map[string]any{"status": "not_ready", "reason": "mqtt: not connected",
		"error": map[string]any{"code": "not_ready", "message": "mqtt: not connected"}})(t, b)

	// CONTRACT §11: a store that cannot write.
	e.mu.Lock()
	e.ready = &Unready{Status: StatusDegraded, Reason: "the store cannot write: database or disk is full"}
	e.mu.Unlock()
	b = e.must(503, "GET", "/readyz", "", noToken())
	fields(map[string]any{"status": "degraded", "reason": "the store cannot write: database or disk is full"})(t, b)
}

// panickyRegistry is a dependency that panics, or fails with a message that
// must not reach the client.
type panickyRegistry struct {
	Registry
	panicOn, failOn string
}

func (p panickyRegistry) Household(ctx context.Context, id string) (registry.Household, error) {
	switch id {
	case p.panicOn:
		var m map[string]int
		m["boom"]++ // a real bug: assignment to a nil map
	case p.failOn:
		return registry.Household{}, errors.New("sqlite: database disk image is malformed at /var/lib/secret/path")
	}
	return p.Registry.Household(ctx, id)
}

func TestInternalErrors(t *testing.T) {
	e := newEnv(t, func(o *Options) {
		o.Registry = panickyRegistry{Registry: o.Registry, panicOn: "h-panic", failOn: "h-fail"}
	})
	e.seed()
	e.run(t, []call{
		{name: "panic", method: "GET", path: "/api/v1/households/h-panic", want: 500, wantCode: "internal", wantMsg: "internal error"},
		{name: "still serving", method: "GET", path: "/api/v1/households/h1", want: 200},
		{name: "failure", method: "GET", path: "/api/v1/households/h-fail", want: 500, wantCode: "internal", wantMsg: "internal error"},
	})
	r := e.do("GET", "/api/v1/households/h-fail", "")
	if strings.Contains(string(r.body), "sqlite") {
		t.Errorf("the cause leaks to the client: %s", r.body)
	}
	logs := e.logs.String()
	for _, want := range []string{"panic in HTTP handler", "assignment to entry in nil map", "disk image is malformed"} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q", want)
		}
	}
}

func TestMetricsAndLogs(t *testing.T) {
	e := newEnv(t)
	e.must(201, "POST", "/api/v1/grids", `{"id":"g1","name":"Grid 1"}`)
	e.do("POST", "/api/v1/grids", `{"id":"g1","name":"Grid 1"}`)
	e.do("GET", "/api/v1/households/h1", "")
	e.do("GET", "/api/v1/households/h2", "")
	e.do("GET", "/api/v1/no/such/route", "")
	e.do("GET", "/nowhere", "")

	for _, c := range []struct {
		route, code string
		want        float64
	}{
		{"POST /api/v1/grids", "201", 1},
		{"POST /api/v1/grids", "409", 1},
		{"GET /api/v1/households/{id}", "404", 2}, // one series for every household id
		{"/api/v1/", "404", 1},
		{routeUnmatched, "404", 1},
	} {
		if got := counterValue(t, e.reg, c.route, c.code); got != c.want {
			t.Errorf("eldersafe_http_requests_total{route=%q,code=%q} = %v, want %v", c.route, c.code, got, c.want)
		}
	}
	r := e.do("GET", "/metrics", "", noToken())
	if r.status != 200 || !strings.Contains(string(r.body), `eldersafe_http_requests_total{code="201",route="POST /api/v1/grids"} 1`) {
		t.Errorf("/metrics: %d %s", r.status, r.body)
	}

	var logged int
	for _, entry := range logEntries(t, e.logs) {
		if entry["msg"] != "http request" {
			continue
		}
		logged++
		if entry["level"] != "DEBUG" {
			t.Errorf("request logged at %v", entry["level"])
		}
		for _, k := range []string{"method", "route", "status", "duration"} {
			if _, ok := entry[k]; !ok {
				t.Errorf("request log lacks %s: %v", k, entry)
			}
		}
	}
	if logged < 6 {
		t.Errorf("%d requests logged, want at least 6", logged)
	}
}

// counterValue reads eldersafe_http_requests_total{route,code}, 0 when absent.
func counterValue(t *testing.T, reg *prometheus.Registry, route, code string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "eldersafe_http_requests_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["route"] == route && labels["code"] == code {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// TestPrincipal checks what the auth middleware gives the routes to come: the
// principal in the context, and role restrictions the admin passes.
func TestPrincipal(t *testing.T) {
	store := openStore(t)
	a, err := New(storeOptions(t, store))
	if err != nil {
		t.Fatal(err)
	}
	a.verifiers = append(a.verifiers, tokenTable{"op-token": {ID: "u-op", Role: "operator"}, "fam-token": {ID: "u-fam", Role: "family"}})
	var got Principal
	rt := newRouter(a)
	rt.handle("GET /api/v1/whoami", func(w http.ResponseWriter, r *http.Request) error {
		got, _ = PrincipalFrom(r.Context())
		a.writeJSON(w, r, http.StatusOK, map[string]string{"id": got.ID})
		return nil
	}, allow("operator", "family"))
	rt.handle("GET /api/v1/operators-only", func(w http.ResponseWriter, r *http.Request) error {
		a.writeJSON(w, r, http.StatusOK, map[string]string{})
		return nil
	}, allow("operator"))
	rt.handle("GET /api/v1/admin-only", func(w http.ResponseWriter, r *http.Request) error {
		a.writeJSON(w, r, http.StatusOK, map[string]string{})
		return nil
	})
	rt.handle("GET /api/v1/open", func(w http.ResponseWriter, r *http.Request) error {
		_, ok := PrincipalFrom(r.Context())
		a.writeJSON(w, r, http.StatusOK, map[string]bool{"authenticated": ok})
		return nil
	}, public())
	srv := httptest.NewServer(a.observe(a.recoverPanics(rt.finish())))
	defer srv.Close()
	e := &testEnv{t: t, srv: srv}

	e.must(http.StatusOK, "GET", "/api/v1/whoami", "")
	if !reflect.DeepEqual(got, Principal{ID: "admin", Role: RoleAdmin}) {
		t.Errorf("principal %+v", got)
	}
	e.must(http.StatusOK, "GET", "/api/v1/whoami", "", withToken("op-token"))
	if !reflect.DeepEqual(got, Principal{ID: "u-op", Role: "operator"}) {
		t.Errorf("principal %+v", got)
	}
	e.run(t, []call{
		{name: "admin on a restricted route", method: "GET", path: "/api/v1/operators-only", want: 200},
		{name: "allowed role", method: "GET", path: "/api/v1/operators-only", opts: []reqOption{withToken("op-token")}, want: 200},
		{name: "other role", method: "GET", path: "/api/v1/operators-only", opts: []reqOption{withToken("fam-token")},
			want: 403, wantCode: "forbidden", wantMsg: "family"},
		{name: "no allow: admin only", method: "GET", path: "/api/v1/admin-only", opts: []reqOption{withToken("op-token")},
			want: 403, wantCode: "forbidden"},
		{name: "no allow: admin", method: "GET", path: "/api/v1/admin-only", want: 200},
		{name: "no token", method: "GET", path: "/api/v1/operators-only", opts: []reqOption{noToken()}, want: 401, wantCode: "unauthorized"},
		{name: "unknown route, any role", method: "GET", path: "/api/v1/nothing", opts: []reqOption{withToken("fam-token")},
			want: 404, wantCode: "not_found"},
	})
	b := e.must(http.StatusOK, "GET", "/api/v1/open", "", noToken())
	if b["authenticated"] != false {
		t.Errorf("public route: %v", b)
	}
}

// TestPanicAfterWrite: a handler that panics once its answer has started has
// its connection cut, so the client cannot take a truncated body for a whole one.
func TestPanicAfterWrite(t *testing.T) {
	store := openStore(t)
	logs := &testkit.SyncBuffer{}
	opts := storeOptions(t, store)
	opts.Logger = slog.New(slog.NewJSONHandler(logs, nil))
	a, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	rt := newRouter(a)
	rt.handle("GET /half", func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		w.Write([]byte(`{"tasks":[`))
		http.NewResponseController(w).Flush()
		panic("bug halfway")
	})
	srv := httptest.NewServer(a.observe(a.recoverPanics(rt.finish())))
	defer srv.Close()
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)

	res, err := srv.Client().Get(srv.URL + "/half")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if _, err := io.ReadAll(res.Body); err == nil {
		t.Error("truncated body read without error")
	}
	if !strings.Contains(logs.String(), "bug halfway") {
		t.Error("panic not logged")
	}
}

// tokenTable is a verifier of fixed tokens, standing in for users' sessions.
type tokenTable map[string]Principal

func (tt tokenTable) verify(_ context.Context, token string) (Principal, bool, error) {
	p, ok := tt[token]
	return p, ok, nil
}

// ids checks the ids of a task listing, in order.
func ids(want ...string) func(t *testing.T, b map[string]any) {
	return func(t *testing.T, b map[string]any) {
		t.Helper()
		list, ok := b["tasks"].([]any)
		if !ok {
			t.Fatalf("tasks = %v, want a list", b["tasks"])
		}
		var got []string
		for _, x := range list {
			got = append(got, x.(map[string]any)["id"].(string))
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("tasks %v, want %v", got, want)
		}
	}
}

// TestStandby (CONTRACT §15): a standby answers reads and refuses every
// other request with 503 standby, without reaching the handler; once it
// leads, the same request goes through.
func TestStandby(t *testing.T) {
	var standby atomic.Bool
	standby.Store(true)
	e := newEnv(t, func(o *Options) { o.Standby = standby.Load })
	e.must(200, "GET", "/api/v1/tasks", "")
	for _, tt := range []struct{ method, path, body string }{
		{"POST", "/api/v1/grids", `{"id":"g9","name":"Nine"}`},
		{"PUT", "/api/v1/households/h1/thresholds", `{}`},
		{"DELETE", "/api/v1/households/h1", ""},
		{"POST", "/api/v1/login", `{"user_id":"u","password":"p"}`},
	} {
		r := e.do(tt.method, tt.path, tt.body)
		if code, _ := r.errorOf(t); r.status != 503 || code != "standby" || r.header.Get("Retry-After") == "" {
			t.Errorf("%s %s on a standby: %d %s, want 503 standby with Retry-After", tt.method, tt.path, r.status, code)
		}
	}
	if grids := e.must(200, "GET", "/api/v1/grids", ""); fmt.Sprint(grids["grids"]) != "[]" {
		t.Errorf("the refused POST created g9: grids %v", grids["grids"])
	}
	standby.Store(false)
	e.must(201, "POST", "/api/v1/grids", `{"id":"g9","name":"Nine"}`)
}
