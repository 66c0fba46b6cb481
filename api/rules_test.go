package api

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/clock"
	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
	"github.com/eldersafe/eldersafe/store"
)

var (
	_ RuleSettings = (*store.DB)(nil)
	_ Registry     = (*store.DB)(nil)
)

// rulesEnv is the API over a real SQLite store and a real rules engine, its
// clock fixed at t0.
type rulesEnv struct {
	*testEnv
	db     *store.DB
	engine *rules.Engine
}

func newRulesEnv(t *testing.T) *rulesEnv {
	t.Helper()
	db, err := store.Open(context.Background(), t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	engine, err := rules.NewEngine(rules.DefaultConfig(), time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	opts := storeOptions(t, db)
	opts.Clock = clock.Func(func() time.Time { return t0 })
	opts.Rules = newRules(t, db, engine, opts.Clock)
	opts.Status = func(id string) []rules.DeviceStatus { return engine.Status(id, t0) }
	a, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	e := &rulesEnv{testEnv: &testEnv{t: t, srv: srv}, db: db, engine: engine}
	e.must(201, "POST", "/api/v1/grids", `{"id":"g1","name":"Grid 1"}`)
	for _, h := range []string{"h1", "h2"} {
		e.must(201, "POST", "/api/v1/households", `{"id":"`+h+`","name":"Zhang Wei","address":"1 Lane","grid_id":"g1"}`)
	}
	return e
}

// param reads body[key][rule][name].
func param(body map[string]any, key, rule, name string) any {
	r, _ := body[key].(map[string]any)
	p, _ := r[rule].(map[string]any)
	return p[name]
}

func TestPutThresholds(t *testing.T) {
	e := newRulesEnv(t)
	path := "/api/v1/households/h1/thresholds"
	defaults := rules.DefaultConfig().Thresholds()

	// effective checks the answer's thresholds: every parameter of every rule,
	// the given ones overridden; and that the engine runs them.
	effective := func(want map[string]any) func(t *testing.T, b map[string]any) {
		return func(t *testing.T, b map[string]any) {
			t.Helper()
			for _, p := range rules.Params {
				v, ok := want[p.Key()]
				if !ok {
					v = defaults[p.Rule][p.Name]
				}
				if got := param(b, "thresholds", p.Rule, p.Name); fmt.Sprint(got) != fmt.Sprint(v) {
					t.Errorf("thresholds %s = %v, want %v", p.Key(), got, v)
				}
			}
			if got := fmt.Sprint(e.engine.Effective("h1").Thresholds()); got != fmt.Sprint(b["thresholds"]) {
				t.Errorf("engine runs %s, answer says %v", got, b["thresholds"])
			}
		}
	}
	overrides := func(want string) func(t *testing.T, b map[string]any) {
		return func(t *testing.T, b map[string]any) {
			t.Helper()
			if got := fmt.Sprint(b["overrides"]); got != want {
				t.Errorf("overrides = %s, want %s", got, want)
			}
		}
	}
	both := func(checks ...func(*testing.T, map[string]any)) func(*testing.T, map[string]any) {
		return func(t *testing.T, b map[string]any) {
			for _, c := range checks {
				c(t, b)
			}
		}
	}
	valid := `{"water_no_use": {"hours": 10}, "no_motion": {"window": "08:00-21:30", "hours": 4.5}}`
	wantValid := both(
		effective(map[string]any{"water_no_use.hours": 10, "no_motion.window": "08:00-21:30", "no_motion.hours": 4.5}),
		overrides("map[no_motion:map[hours:4.5 window:08:00-21:30] water_no_use:map[hours:10]]"))
	e.run(t, []call{
		{name: "set", method: "PUT", path: path, body: valid, want: 200, check: wantValid},
		{name: "get shows them", method: "GET", path: "/api/v1/households/h1", want: 200, check: wantValid},
		{name: "other household untouched", method: "GET", path: "/api/v1/households/h2", want: 200,
			check: func(t *testing.T, b map[string]any) {
				if got := param(b, "thresholds", "water_no_use", "hours"); got != 12.0 {
					t.Errorf("h2 water_no_use.hours = %v, want 12", got)
				}
				overrides("map[]")(t, b)
			}},

		// Refused, naming what is wrong, and nothing changes.
		{name: "unknown rule", method: "PUT", path: path, body: `{"flood": {"hours": 3}}`,
			want: 400, wantCode: "invalid", wantMsg: "flood: unknown rule"},
		{name: "unknown rule without parameters", method: "PUT", path: path, body: `{"flood": {}}`,
			want: 400, wantCode: "invalid", wantMsg: "flood"},
		{name: "unknown parameter", method: "PUT", path: path, body: `{"water_no_use": {"minutes": 30}}`,
			want: 400, wantCode: "invalid", wantMsg: "water_no_use.minutes: unknown parameter"},
		{name: "negative", method: "PUT", path: path, body: `{"water_no_use": {"hours": -3}}`,
			want: 400, wantCode: "invalid", wantMsg: "water_no_use.hours: must be between 1 and 168 hours"},
		{name: "out of range", method: "PUT", path: path, body: `{"battery_low": {"pct": 95}}`,
			want: 400, wantCode: "invalid", wantMsg: "battery_low.pct"},
		{name: "number as string", method: "PUT", path: path, body: `{"water_no_use": {"hours": "10"}}`,
			want: 400, wantCode: "invalid", wantMsg: "water_no_use.hours: must be a number of hours"},
		{name: "window as number", method: "PUT", path: path, body: `{"no_motion": {"window": 7}}`,
			want: 400, wantCode: "invalid", wantMsg: "no_motion.window"},
		{name: "bad window", method: "PUT", path: path, body: `{"no_motion": {"window": "25:00-07:00"}}`,
			want: 400, wantCode: "invalid", wantMsg: "no_motion.window"},
		{name: "one bad among good", method: "PUT", path: path, body: `{"no_exit": {"hours": 48}, "power_no_use": {"floor_kwh": 0}}`,
			want: 400, wantCode: "invalid", wantMsg: "power_no_use.floor_kwh"},
		{name: "every fault named", method: "PUT", path: path, body: `{"water_no_use": {"hours": 0}, "device_offline": {"wristband_hours": 500}}`,
			want: 400, wantCode: "invalid", wantMsg: "device_offline.wristband_hours: must be between 0.25 and 168 hours, got 500; water_no_use.hours"},
		{name: "rule not an object", method: "PUT", path: path, body: `{"water_no_use": 10}`,
			want: 400, wantCode: "bad_json", wantMsg: "want an object"},
		{name: "array body", method: "PUT", path: path, body: `[]`,
			want: 400, wantCode: "bad_json", wantMsg: "JSON object"},
		{name: "unknown household", method: "PUT", path: "/api/v1/households/h404/thresholds", body: valid,
			want: 404, wantCode: "not_found", wantMsg: `household "h404"`},
		{name: "nothing changed", method: "GET", path: "/api/v1/households/h1", want: 200, check: wantValid},

		// A put replaces the whole set.
		{name: "replace", method: "PUT", path: path, body: `{"battery_low": {"pct": 20}}`, want: 200,
			check: both(effective(map[string]any{"battery_low.pct": 20}), overrides("map[battery_low:map[pct:20]]"))},
		{name: "empty rule dropped", method: "PUT", path: path, body: `{"battery_low": {"pct": 20}, "no_exit": {}}`, want: 200,
			check: overrides("map[battery_low:map[pct:20]]")},
		{name: "clear", method: "PUT", path: path, body: `{}`, want: 200,
			check: both(effective(nil), overrides("map[]"))},
	})
	if got, err := e.db.HouseholdThresholds(context.Background(), "h1"); err != nil || got != nil {
		t.Errorf("stored overrides after clearing: %v, %v", got, err)
	}
}

// meterReadings feeds the engine an unchanged register every hour from t0
// through t0+hours, for each household's meter.
func meterReadings(e *rules.Engine, hours int, households ...string) {
	total := 100.0
	for i := 0; i <= hours; i++ {
		for _, h := range households {
			e.Process(rules.Reading{DeviceID: "wm-" + h, HouseholdID: h, Kind: registry.WaterMeter, Stream: rules.Telemetry,
				TS: t0.Add(time.Duration(i) * time.Hour), TotalLiters: &total})
		}
	}
}

func alertsFor(alerts []rules.Alert, rule string) []string {
	var out []string
	for _, a := range alerts {
		if a.Rule == rule && !a.Cleared {
			out = append(out, a.HouseholdID)
		}
	}
	return out
}

func TestCreateAway(t *testing.T) {
	e := newRulesEnv(t)
	path := "/api/v1/households/h1/away"
	ctx := context.Background()

	b := e.must(201, "POST", path, `{"from": "2026-03-01T18:12:00+08:00", "until": "2026-03-04T09:00:00.5+08:00", "reason": "hospital stay"}`)
	fields(map[string]any{
		"household_id": "h1", "from": "2026-03-01T10:12:00Z", "until": "2026-03-04T01:00:00.5Z", "reason": "hospital stay",
	})(t, b)
	id, _ := b["id"].(string)
	if err := registry.ValidateID("id", id); err != nil {
		t.Errorf("id: %v", err)
	}
	if created, err := time.Parse(time.RFC3339Nano, fmt.Sprint(b["created_at"])); err != nil || time.Since(created) > time.Minute {
		t.Errorf("created_at = %v, want now", b["created_at"])
	}
	if len(b) != 6 {
		t.Errorf("answer %v, want id, household_id, from, until, reason, created_at", b)
	}

	// The engine has it: h1's water countdown (from t0, 09:12Z) restarts
	// when the period ends, h2's does not.
	meterReadings(e.engine, 13, "h1", "h2")
	if got := alertsFor(e.engine.Advance(t0.Add(13*time.Hour)), rules.RuleWaterNoUse); fmt.Sprint(got) != "[h2]" {
		t.Errorf("water_no_use fired for %v, want only h2 (h1 is away)", got)
	}

	// A past period is kept but not shown as current.
	e.must(201, "POST", path, `{"from": "2026-02-01T00:00:00Z", "until": "2026-02-03T00:00:00Z", "reason": "visiting her son"}`)
	b = e.must(200, "GET", "/api/v1/households/h1", "")
	away, _ := b["away"].([]any)
	if len(away) != 1 || away[0].(map[string]any)["id"] != id {
		t.Errorf("away = %v, want only the current period %s", b["away"], id)
	}
	if b = e.must(200, "GET", "/api/v1/households/h2", ""); fmt.Sprint(b["away"]) != "[]" {
		t.Errorf("h2 away = %v, want []", b["away"])
	}

	e.run(t, []call{
		{name: "until before from", method: "POST", path: path, body: `{"from": "2026-03-02T00:00:00Z", "until": "2026-03-01T00:00:00Z", "reason": "x"}`,
			want: 400, wantCode: "invalid", wantMsg: "until: must be after from"},
		{name: "longer than a year", method: "POST", path: path, body: `{"from": "2026-03-01T00:00:00Z", "until": "2027-03-02T00:00:00Z", "reason": "x"}`,
			want: 400, wantCode: "invalid", wantMsg: "until: at most 365 days"},
		{name: "no reason", method: "POST", path: path, body: `{"from": "2026-03-01T00:00:00Z", "until": "2026-03-02T00:00:00Z"}`,
			want: 400, wantCode: "invalid", wantMsg: "reason: required"},
		{name: "long reason", method: "POST", path: path, body: `{"from": "2026-03-01T00:00:00Z", "until": "2026-03-02T00:00:00Z", "reason": "` + strings.Repeat("x", 501) + `"}`,
			want: 400, wantCode: "invalid", wantMsg: "reason: at most 500"},
		{name: "no times", method: "POST", path: path, body: `{"reason": "x"}`,
			want: 400, wantCode: "invalid", wantMsg: "from: required; until: required"},
		{name: "not a time", method: "POST", path: path, body: `{"from": "tomorrow", "until": "2026-03-02T00:00:00Z", "reason": "x"}`,
			want: 400, wantCode: "invalid", wantMsg: `from "tomorrow": want an RFC 3339 time`},
		{name: "no offset", method: "POST", path: path, body: `{"from": "2026-03-01T00:00:00", "until": "2026-03-02T00:00:00Z", "reason": "x"}`,
			want: 400, wantCode: "invalid", wantMsg: "from"},
		{name: "unknown field", method: "POST", path: path, body: `{"from": "2026-03-01T00:00:00Z", "until": "2026-03-02T00:00:00Z", "reason": "x", "to": "y"}`,
			want: 400, wantCode: "bad_json", wantMsg: `unknown field "to"`},
		{name: "unknown household", method: "POST", path: "/api/v1/households/h404/away", body: `{"from": "2026-03-01T00:00:00Z", "until": "2026-03-02T00:00:00Z", "reason": "x"}`,
			want: 404, wantCode: "not_found", wantMsg: `household "h404"`},
	})
	all, err := e.db.AwayPeriodsOf(ctx, "h1", time.Time{})
	if err != nil || len(all) != 2 {
		t.Errorf("stored periods %v, %v; want the two accepted", all, err)
	}
}

func TestEndAway(t *testing.T) {
	e := newRulesEnv(t)
	path := "/api/v1/households/h1/away"

	// A hospital stay from an hour before t0 for three days; she is back at t0.
	b := e.must(201, "POST", path, `{"from": "2026-03-01T08:12:00Z", "until": "2026-03-04T09:12:00Z", "reason": "hospital stay"}`)
	current, _ := b["id"].(string)
	b = e.must(200, "DELETE", path+"/"+current, "")
	fields(map[string]any{"id": current, "from": "2026-03-01T08:12:00Z", "until": t0.Format(time.RFC3339), "removed": false})(t, b)

	// Her countdowns run again from t0: 12 hours without water is an alert.
	meterReadings(e.engine, 13, "h1")
	if got := alertsFor(e.engine.Advance(t0.Add(13*time.Hour)), rules.RuleWaterNoUse); fmt.Sprint(got) != "[h1]" {
		t.Errorf("water_no_use fired for %v, want h1: the away period ended at t0", got)
	}

	// A planned stay that has not begun is removed.
	b = e.must(201, "POST", path, `{"from": "2026-03-03T00:00:00Z", "until": "2026-03-05T00:00:00Z", "reason": "visiting her son"}`)
	planned, _ := b["id"].(string)
	fields(map[string]any{"id": planned, "removed": true})(t, e.must(200, "DELETE", path+"/"+planned, ""))
	if all, err := e.db.AwayPeriodsOf(context.Background(), "h1", time.Time{}); err != nil || len(all) != 1 || all[0].ID != current {
		t.Errorf("stored periods %+v, %v; want the ended stay only", all, err)
	}

	e.must(201, "POST", "/api/v1/households/h2/away", `{"from": "2026-03-01T00:00:00Z", "until": "2026-03-05T00:00:00Z", "reason": "hospital"}`)
	e.run(t, []call{
		{name: "already over", method: "DELETE", path: path + "/" + current, want: 409, wantCode: "conflict", wantMsg: "already over"},
		{name: "removed", method: "DELETE", path: path + "/" + planned, want: 404, wantCode: "not_found", wantMsg: "away period"},
		{name: "unknown household", method: "DELETE", path: "/api/v1/households/h404/away/" + current, want: 404, wantCode: "not_found", wantMsg: `household "h404"`},
	})
	// Another household's period through h1's path: not found, and untouched.
	other, err := e.db.AwayPeriodsOf(context.Background(), "h2", time.Time{})
	if err != nil || len(other) != 1 {
		t.Fatalf("h2's periods %+v, %v", other, err)
	}
	e.run(t, []call{{name: "another household's period", method: "DELETE", path: path + "/" + other[0].ID, want: 404, wantCode: "not_found"}})
	if after, _ := e.db.AwayPeriodsOf(context.Background(), "h2", time.Time{}); len(after) != 1 || !after[0].Until.Equal(other[0].Until) {
		t.Errorf("h2's period changed: %+v", after)
	}
}

func TestRegistrationReachesEngine(t *testing.T) {
	e := newRulesEnv(t)

	// A new device is expected from now (t0) on: silent, it goes offline.
	e.must(201, "POST", "/api/v1/devices", `{"id":"d-door","kind":"door_sensor","household_id":"h1"}`)
	b := e.must(200, "GET", "/api/v1/households/h1", "")
	if devices, _ := b["devices"].([]any); len(devices) != 1 || devices[0].(map[string]any)["status"] != nil {
		t.Errorf("devices = %v, want d-door with status null until it speaks", b["devices"])
	}
	if got := alertsFor(e.engine.Advance(t0.Add(6*time.Hour-time.Second)), rules.RuleDeviceOffline); len(got) != 0 {
		t.Errorf("device_offline before 6 h: %v", got)
	}
	if got := alertsFor(e.engine.Advance(t0.Add(6*time.Hour)), rules.RuleDeviceOffline); fmt.Sprint(got) != "[h1]" {
		t.Errorf("device_offline at 6 h for %v, want [h1]", got)
	}

	// A household's own time zone decides its waking window. Motion at
	// 02:00Z is 21:00 in New York (UTC-5 in early March): one hour of window
	// is left that evening and five more are needed from 07:00 there
	// (12:00Z), so no_motion is due at 17:00Z; in UTC it would be 13:00Z.
	e.must(201, "POST", "/api/v1/households", `{"id":"h-ny","name":"Chen","address":"3 Lane","grid_id":"g1","timezone":"America/New_York"}`)
	start := time.Date(2026, 3, 2, 2, 0, 0, 0, time.UTC)
	yes, battery := true, 90.0
	for _, h := range []string{"h-ny", "h2"} {
		e.engine.Process(rules.Reading{DeviceID: "pir-" + h, HouseholdID: h, Kind: registry.MotionSensor, Stream: rules.Event, TS: start, Motion: &yes})
		for i := 1; i <= 15; i++ { // hourly heartbeats
			e.engine.Process(rules.Reading{DeviceID: "pir-" + h, HouseholdID: h, Kind: registry.MotionSensor, Stream: rules.Telemetry,
				TS: start.Add(time.Duration(i) * time.Hour), BatteryPct: &battery})
		}
	}
	if got := alertsFor(e.engine.Advance(start.Add(11*time.Hour)), rules.RuleNoMotion); fmt.Sprint(got) != "[h2]" {
		t.Errorf("no_motion by 13:00Z for %v, want [h2]", got)
	}
	if got := alertsFor(e.engine.Advance(start.Add(15*time.Hour)), rules.RuleNoMotion); fmt.Sprint(got) != "[h-ny]" {
		t.Errorf("no_motion by 17:00Z for %v, want [h-ny]", got)
	}
}

// TestGetBaseline: the baseline the engine learned, to those who may see the
// household's motion.
func TestGetBaseline(t *testing.T) {
	engine, err := rules.NewEngine(rules.DefaultConfig(), time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(o *Options) { o.Rules = newRules(t, o.Registry.(*store.DB), engine, o.Clock) })
	tok, _, _ := e.people()
	// Up at 07:00 UTC, on the move until 09:00, for three days; the PIR's
	// heartbeat shows it alive through the nights.
	yes, battery := true, 90.0
	for at := time.Duration(0); at < 72*time.Hour; at += 20 * time.Minute {
		r := rules.Reading{DeviceID: "pir-1", HouseholdID: "h1", Kind: registry.MotionSensor, Stream: rules.Telemetry,
			TS: t0.Truncate(24 * time.Hour).Add(at), BatteryPct: &battery}
		if hour := at % (24 * time.Hour); hour >= 7*time.Hour && hour <= 9*time.Hour {
			r.Stream, r.BatteryPct, r.Motion = rules.Event, nil, &yes
		}
		engine.Process(r)
	}
	as := func(user string) []reqOption { return []reqOption{withToken(tok[user])} }
	e.run(t, []call{
		{name: "operator", method: "GET", path: "/api/v1/households/h1/baseline", opts: as("op"), want: 200,
			check: func(t *testing.T, b map[string]any) {
				days := b["weekdays"].([]any)
				// 1 March 2026 is a Sunday: Monday and Tuesday ended a night.
				if b["household_id"] != "h1" || b["days_learned"] != 2.0 || b["ready"] != false || b["ready_after_days"] != 14.0 || len(days) != 7 {
					t.Errorf("baseline %v", b)
				}
				if mon := days[0].(map[string]any); mon["day"] != "Monday" || mon["usual_wake"] != "07:00" {
					t.Errorf("Monday %v", mon)
				}
			}},
		{name: "grid worker of the household", method: "GET", path: "/api/v1/households/h1/baseline", opts: as("gw1"), want: 200},
		{name: "grid worker of another grid", method: "GET", path: "/api/v1/households/h1/baseline", opts: as("gw3"), want: 404, wantCode: "not_found"},
		{name: "family", method: "GET", path: "/api/v1/households/h1/baseline", opts: as("fam1"), want: 403, wantCode: "forbidden"},
		{name: "unknown household", method: "GET", path: "/api/v1/households/h404/baseline", opts: as("op"), want: 404, wantCode: "not_found"},
		{name: "motion withheld from workers", method: "PUT", path: "/api/v1/households/h1/privacy", body: `{"motion":["family"]}`, opts: as("op"), want: 200},
		{name: "then refused", method: "GET", path: "/api/v1/households/h1/baseline", opts: as("gw1"), want: 403, wantCode: "forbidden"},
	})
}
