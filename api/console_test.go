package api

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/clock"
	"github.com/eldersafe/eldersafe/rules"
)

func TestListHouseholds(t *testing.T) {
	e := newEnv(t)
	tok, _, _ := e.people()
	e.must(201, "POST", "/api/v1/households", `{"id":"h0","name":"Qian","address":"0 Lane","grid_id":"g1","timezone":"Asia/Urumqi"}`)
	seen := t0.Add(-time.Minute)
	battery := 80.0
	e.mu.Lock()
	e.status["h1"] = []rules.DeviceStatus{{DeviceID: "d-band", LastSeen: seen, Online: true, BatteryPct: &battery, Last: map[string]any{"lat": 31.2}}}
	e.mu.Unlock()

	ids := func(want ...string) func(*testing.T, map[string]any) {
		return func(t *testing.T, body map[string]any) {
			t.Helper()
			list, _ := body["households"].([]any)
			var got []string
			for _, h := range list {
				got = append(got, h.(map[string]any)["id"].(string))
			}
			if !slices.Equal(got, want) {
				t.Errorf("households %v, want %v", got, want)
			}
		}
	}
	as := func(user string) []reqOption { return []reqOption{withToken(tok[user])} }
	e.run(t, []call{
		{name: "admin lists every household", method: "GET", path: "/api/v1/households", want: 200, check: ids("h0", "h1", "h2")},
		{name: "operator lists every household", method: "GET", path: "/api/v1/households", opts: as("op"), want: 200, check: ids("h0", "h1", "h2")},
		{name: "supervisor too", method: "GET", path: "/api/v1/households", opts: as("sv"), want: 200, check: ids("h0", "h1", "h2")},
		{name: "by grid", method: "GET", path: "/api/v1/households?grid_id=g2", opts: as("op"), want: 200, check: ids("h2")},
		{name: "limit", method: "GET", path: "/api/v1/households?limit=2", want: 200, check: ids("h0", "h1")},
		{name: "grid worker: their grids", method: "GET", path: "/api/v1/households", opts: as("gw1"), want: 200, check: ids("h0", "h1")},
		{name: "grid worker: their grid", method: "GET", path: "/api/v1/households?grid_id=g1", opts: as("gw1"), want: 200, check: ids("h0", "h1")},
		{name: "grid worker: another grid is empty", method: "GET", path: "/api/v1/households?grid_id=g2", opts: as("gw1"), want: 200, check: ids()},
		{name: "family may not", method: "GET", path: "/api/v1/households", opts: as("fam1"), want: 403, wantCode: "forbidden"},
		{name: "bad grid id", method: "GET", path: "/api/v1/households?grid_id=a%20b", want: 400, wantCode: "invalid", wantMsg: "grid_id"},
		{name: "bad limit", method: "GET", path: "/api/v1/households?limit=0", want: 400, wantCode: "invalid", wantMsg: "limit"},
		{name: "unknown parameter", method: "GET", path: "/api/v1/households?grid=g1", want: 400, wantCode: "invalid"},
	})

	body := e.must(200, "GET", "/api/v1/households?grid_id=g1", "")
	var h1 map[string]any
	for _, h := range body["households"].([]any) {
		if h.(map[string]any)["id"] == "h1" {
			h1 = h.(map[string]any)
		}
	}
	if _, ok := h1["contacts"]; ok {
		t.Errorf("a listing shows contacts: %v", h1)
	}
	if h1["name"] != "Zhang Wei" || h1["address"] != "1 Lane" || h1["grid_id"] != "g1" {
		t.Errorf("h1 = %v", h1)
	}
	devices := map[string]map[string]any{}
	for _, d := range h1["devices"].([]any) {
		devices[d.(map[string]any)["id"].(string)] = d.(map[string]any)
	}
	band, water := devices["d-band"], devices["d-water"]
	if band["kind"] != "wristband" || band["online"] != true || band["last_seen"] != seen.Format(time.RFC3339) || band["battery_pct"] != 80.0 {
		t.Errorf("d-band = %v", band)
	}
	if _, ok := band["last"]; ok {
		t.Errorf("a listing shows what a device said: %v", band)
	}
	if water["kind"] != "water_meter" || water["last_seen"] != nil || water["online"] != false {
		t.Errorf("d-water (never heard) = %v", water)
	}
}

func TestMe(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Clock = clock.Func(func() time.Time { return t0 }) })
	tok, _, _ := e.people()
	check := func(user string, want map[string]any) {
		t.Helper()
		opts := []reqOption{}
		if user != "" {
			opts = append(opts, withToken(tok[user]))
		}
		got := e.must(200, "GET", "/api/v1/me", "", opts...)
		for k, v := range want {
			if g := got[k]; !equalJSON(g, v) {
				t.Errorf("%s: %s = %v, want %v", user, k, g, v)
			}
		}
		if got["now"] != t0.Format(time.RFC3339) {
			t.Errorf("%s: now = %v, want the monitor's clock %v", user, got["now"], t0)
		}
	}
	check("", map[string]any{"id": "admin", "role": "admin"})
	check("gw1", map[string]any{"id": "gw1", "role": "grid_worker", "worker_id": "w1", "name": "Wang", "grid_ids": []any{"g1"}})
	check("sv", map[string]any{"id": "sv", "role": "supervisor", "worker_id": "sup", "name": "Chen"})
	check("op", map[string]any{"id": "op", "role": "operator", "worker_id": nil})
	check("fam1", map[string]any{"id": "fam1", "role": "family", "household_id": "h1"})
	if r := e.do("GET", "/api/v1/me", "", noToken()); r.status != 401 {
		t.Errorf("no token: %d", r.status)
	}
	// Before the event clock has started, there is no now to tell.
	e = newEnv(t, func(o *Options) { o.Clock = clock.Func(func() time.Time { return time.Time{} }) })
	if got := e.must(200, "GET", "/api/v1/me", ""); got["now"] != nil {
		t.Errorf("now = %v before the clock started, want null", got["now"])
	}
}

func equalJSON(a, b any) bool {
	if x, ok := a.([]any); ok {
		y, ok := b.([]any)
		return ok && slices.EqualFunc(x, y, equalJSON)
	}
	return a == b
}

func TestConsoleRoutes(t *testing.T) {
	console := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Write([]byte("console " + r.URL.Path))
	})
	e := newEnv(t, func(o *Options) { o.Console = console })
	for _, c := range []struct {
		method, path string
		status       int
		body         string
	}{
		{"GET", "/", 200, "console /"},
		{"GET", "/static/js/app.js", 200, "console /static/js/app.js"},
		{"HEAD", "/", 200, ""},
		{"POST", "/", 405, ""},
		{"GET", "/elsewhere", 404, ""},
	} {
		r := e.do(c.method, c.path, "", noToken())
		if r.status != c.status || (c.body != "" && string(r.body) != c.body) {
			t.Errorf("%s %s: %d %q, want %d %q", c.method, c.path, r.status, r.body, c.status, c.body)
		}
	}
	// Without a console, / is not served.
	e = newEnv(t)
	if r := e.do("GET", "/", "", noToken()); r.status != 404 {
		t.Errorf("no console: GET / = %d", r.status)
	}
	if r := e.do("GET", "/static/x.js", "", noToken()); r.status != 404 || strings.Contains(string(r.body), "console") {
		t.Errorf("no console: GET /static/x.js = %d", r.status)
	}
}
