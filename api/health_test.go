package api

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/clock"
	"github.com/eldersafe/eldersafe/rules"
	"github.com/eldersafe/eldersafe/store"
)

// TestSensorHealth: a device's expected_every as registered (JSON and CSV)
// and a household's monitoring as the clock moves and its sensors stay silent.
func TestSensorHealth(t *testing.T) {
	engine, err := rules.NewEngine(rules.DefaultConfig(), time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	now := t0
	clk := clock.Func(func() time.Time { mu.Lock(); defer mu.Unlock(); return now })
	e := newEnv(t, func(o *Options) {
		o.Clock = clk
		o.Rules = newRules(t, o.Registry.(*store.DB), engine, clk)
	})
	e.seed() // h1 with the water meter d-water and the wristband d-band
	at := func(d time.Duration) { mu.Lock(); defer mu.Unlock(); now = t0.Add(d) }
	monitoring := func(state string, stale ...string) func(*testing.T, map[string]any) {
		return func(t *testing.T, b map[string]any) {
			if b["monitoring"] != state || fmt.Sprint(b["stale_signals"]) != fmt.Sprint(stale) {
				t.Errorf("monitoring %v, stale_signals %v; want %s %v", b["monitoring"], b["stale_signals"], state, stale)
			}
		}
	}
	device := func(id, field string, want any) func(*testing.T, map[string]any) {
		return func(t *testing.T, b map[string]any) {
			for _, d := range b["devices"].([]any) {
				if d := d.(map[string]any); d["id"] == id && d[field] != want {
					t.Errorf("%s.%s = %v, want %v", id, field, d[field], want)
				}
			}
		}
	}
	e.run(t, []call{
		{name: "a PIR said to report every 2 hours", method: "POST", path: "/api/v1/devices",
			body: `{"id":"d-pir","kind":"motion_sensor","household_id":"h1","expected_every":"2h"}`, want: 201,
			check: func(t *testing.T, b map[string]any) {
				if b["expected_every"] != "2h" {
					t.Errorf("expected_every %v", b["expected_every"])
				}
			}},
		{name: "expected_every out of bounds", method: "POST", path: "/api/v1/devices",
			body: `{"id":"d-pir2","kind":"motion_sensor","household_id":"h1","expected_every":"30s"}`, want: 400, wantCode: "invalid", wantMsg: "expected_every"},
		{name: "all fresh", method: "GET", path: "/api/v1/households/h1", want: 200,
			check: func(t *testing.T, b map[string]any) {
				monitoring("ok")(t, b)
				device("d-pir", "expected_every", "2h")(t, b)
				device("d-water", "expected_every", nil)(t, b)
			}},
	})
	// The meter is stale after three of its hourly reports missed; the PIR
	// after three of its 2 hours.
	at(3 * time.Hour)
	e.run(t, []call{
		{name: "three hours later the meter is stale", method: "GET", path: "/api/v1/households/h1", want: 200, check: monitoring("degraded", "water")},
	})
	at(7 * time.Hour)
	e.run(t, []call{
		{name: "seven hours later every welfare signal is", method: "GET", path: "/api/v1/households/h1", want: 200, check: monitoring("unmonitored", "water", "motion")},
		{name: "a CSV import gives the meter its own interval", method: "POST", path: "/api/v1/import/households",
			body: "household_id,name,address,grid_id,device_id,device_kind,device_expected_every\nh1,Zhang Wei,1 Lane,g1,d-water,water_meter,12h\n",
			opts: []reqOption{withContentType("text/csv")}, want: 200},
		{name: "which the household shows, and the rules use", method: "GET", path: "/api/v1/households/h1", want: 200,
			check: func(t *testing.T, b map[string]any) {
				device("d-water", "expected_every", "12h")(t, b)
				monitoring("degraded", "motion")(t, b)
			}},
		{name: "a bad interval in a CSV", method: "POST", path: "/api/v1/import/households",
			body: "household_id,name,address,grid_id,device_id,device_kind,device_expected_every\nh1,Zhang Wei,1 Lane,g1,d-water,water_meter,soon\n",
			opts: []reqOption{withContentType("text/csv")}, want: 200,
			check: func(t *testing.T, b map[string]any) {
				if errs := importErrors(b); len(errs) != 1 {
					t.Errorf("errors %q, want one naming expected_every", errs)
				}
			}},
	})
}
