package api

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/history"
	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
)

// chartEnv is an API whose charts come from a real roll-up on its store,
// on a clock of its own set to t0.
func chartEnv(t *testing.T) (*testEnv, *history.Rollup, *fixedClock) {
	t.Helper()
	var rollup *history.Rollup
	clk := &fixedClock{now: t0}
	e := newEnv(t, func(o *Options) {
		r, err := history.NewRollup(history.RollupOptions{Store: o.Registry.(history.RollupStore), Clock: clk})
		if err != nil {
			t.Fatal(err)
		}
		rollup, o.Charts, o.Clock = r, r, clk
	})
	return e, rollup, clk
}

func TestHouseholdCharts(t *testing.T) {
	e, rollup, _ := chartEnv(t)
	tok, _, _ := e.people()
	as := func(user string) []reqOption { return []reqOption{withToken(tok[user])} }

	ptr := func(v float64) *float64 { return &v }
	yes := true
	hour := t0.Truncate(time.Hour) // 09:00, the current hour of the clock (09:12)
	for _, r := range []rules.Reading{
		{HouseholdID: "h1", DeviceID: "wm1", Kind: registry.WaterMeter, TS: hour.Add(-2 * time.Hour), TotalLiters: ptr(10)},
		{HouseholdID: "h1", DeviceID: "wm1", Kind: registry.WaterMeter, TS: hour.Add(-time.Hour), TotalLiters: ptr(14.5)},
		{HouseholdID: "h1", DeviceID: "pir1", Kind: registry.MotionSensor, TS: hour.Add(time.Minute), Motion: &yes},
		{HouseholdID: "h1", DeviceID: "door1", Kind: registry.DoorSensor, TS: hour.Add(2 * time.Minute), Open: &yes},
	} {
		rollup.Reading(r)
	}
	if err := rollup.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}

	week := func(t *testing.T, b map[string]any) {
		t.Helper()
		hours, _ := b["hours"].([]any)
		if b["household_id"] != "h1" || b["source"] != "rollup" || b["days"] != float64(7) ||
			b["from"] != "2026-02-22T10:00:00Z" || b["to"] != "2026-03-01T10:00:00Z" || len(hours) != 7*24 {
			t.Fatalf("chart: household %v, source %v, days %v, from %v, to %v, %d hours", b["household_id"], b["source"], b["days"], b["from"], b["to"], len(hours))
		}
		last, prev := hours[len(hours)-1].(map[string]any), hours[len(hours)-2].(map[string]any)
		if last["hour"] != "2026-03-01T09:00:00Z" || last["motion_events"] != float64(1) || last["door_openings"] != float64(1) || last["water_liters"] != float64(0) || last["power_kwh"] != float64(0) {
			t.Errorf("current hour: %v", last)
		}
		if prev["water_liters"] != float64(4.5) {
			t.Errorf("hour before: %v, want 4.5 litres", prev)
		}
	}
	e.run(t, []call{
		{name: "operator", method: "GET", path: "/api/v1/households/h1/charts", opts: as("op"), want: 200, check: week},
		{name: "supervisor", method: "GET", path: "/api/v1/households/h1/charts?days=7", opts: as("sv"), want: 200, check: week},
		{name: "grid worker of the other grid", method: "GET", path: "/api/v1/households/h2/charts", opts: as("gw3"), want: 200},
		{name: "grid worker of the grid", method: "GET", path: "/api/v1/households/h1/charts", opts: as("gw1"), want: 200, check: week},
		{name: "admin, one day", method: "GET", path: "/api/v1/households/h1/charts?days=1", want: 200, check: func(t *testing.T, b map[string]any) {
			if hours, _ := b["hours"].([]any); len(hours) != 24 || b["from"] != "2026-02-28T10:00:00Z" {
				t.Errorf("one day: from %v, %d hours", b["from"], len(hours))
			}
		}},
		{name: "31 days", method: "GET", path: "/api/v1/households/h1/charts?days=31", opts: as("op"), want: 200, check: func(t *testing.T, b map[string]any) {
			if hours, _ := b["hours"].([]any); len(hours) != 31*24 {
				t.Errorf("%d hours, want %d", len(hours), 31*24)
			}
		}},
		{name: "grid worker: another grid's household", method: "GET", path: "/api/v1/households/h2/charts", opts: as("gw1"), want: 404, wantCode: "not_found"},
		{name: "unknown household", method: "GET", path: "/api/v1/households/h404/charts", opts: as("op"), want: 404, wantCode: "not_found"},
		{name: "family may not", method: "GET", path: "/api/v1/households/h1/charts", opts: as("fam1"), want: 403, wantCode: "forbidden"},
		{name: "no token", method: "GET", path: "/api/v1/households/h1/charts", opts: []reqOption{noToken()}, want: 401, wantCode: "unauthorized"},
		{name: "32 days", method: "GET", path: "/api/v1/households/h1/charts?days=32", opts: as("op"), want: 400, wantCode: "invalid", wantMsg: "days"},
		{name: "0 days", method: "GET", path: "/api/v1/households/h1/charts?days=0", opts: as("op"), want: 400, wantCode: "invalid"},
		{name: "days not a number", method: "GET", path: "/api/v1/households/h1/charts?days=week", opts: as("op"), want: 400, wantCode: "invalid"},
		{name: "unknown parameter", method: "GET", path: "/api/v1/households/h1/charts?from=x", opts: as("op"), want: 400, wantCode: "invalid"},
		{name: "wrong method", method: "POST", path: "/api/v1/households/h1/charts", body: `{}`, opts: as("op"), want: 405, wantCode: "method_not_allowed"},
	})
}

type failingCharts struct{}

func (failingCharts) Chart(context.Context, string, time.Time, time.Time) (history.Chart, error) {
	return history.Chart{}, errors.New("influxdb: connection refused")
}

func TestHouseholdCharts_Unavailable(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Charts = failingCharts{} })
	e.seed()
	e.run(t, []call{
		{name: "history down", method: "GET", path: "/api/v1/households/h1/charts", want: 503, wantCode: "unavailable", wantMsg: "readings history"},
	})
	if !containsAll(e.logs.String(), "http request failed", "connection refused") {
		t.Errorf("the cause is not logged: %s", e.logs.String())
	}
}

// Before the event clock's first event there is no now to count back from.
func TestHouseholdCharts_ClockNotStarted(t *testing.T) {
	e, _, clock := chartEnv(t)
	e.seed()
	clock.set(time.Time{})
	e.run(t, []call{
		{name: "no hours yet", method: "GET", path: "/api/v1/households/h1/charts", want: 200, check: func(t *testing.T, b map[string]any) {
			hours, ok := b["hours"].([]any)
			if !ok || len(hours) != 0 || b["source"] != "rollup" {
				t.Errorf("chart: source %v, %d hours; want rollup and []", b["source"], len(hours))
			}
			if _, ok := b["from"]; ok {
				t.Errorf("from given: %v", b["from"])
			}
		}},
	})
}

func containsAll(s string, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}
