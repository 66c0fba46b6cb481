package rules

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/registry"
)

// t0 is 08:00 in Shanghai, the engine's default zone in these tests.
var (
	shanghai = mustZone("Asia/Shanghai")
	t0       = time.Date(2026, 3, 2, 8, 0, 0, 0, shanghai)
)

func mustZone(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

func newEngine(t testing.TB) *Engine {
	t.Helper()
	e, err := NewEngine(DefaultConfig(), shanghai)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func ptr[T any](v T) *T { return &v }

const (
	h = time.Hour
	m = time.Minute
)

// Readings of household h1 at t0+at.
func meter(at time.Duration, liters float64) Reading { return meterOf("wm-1", at, liters) }
func meterOf(id string, at time.Duration, liters float64) Reading {
	return Reading{DeviceID: id, HouseholdID: "h1", Kind: registry.WaterMeter, Stream: Telemetry, TS: t0.Add(at), TotalLiters: ptr(liters)}
}
func band(at time.Duration, event string) Reading {
	return Reading{DeviceID: "wb-1", HouseholdID: "h1", Kind: registry.Wristband, Stream: Event, TS: t0.Add(at), Event: event, Lat: ptr(31.2), Lon: ptr(121.4)}
}
func pir(at time.Duration) Reading {
	return Reading{DeviceID: "pir-1", HouseholdID: "h1", Kind: registry.MotionSensor, Stream: Event, TS: t0.Add(at), Motion: ptr(true), Room: "kitchen"}
}
func door(at time.Duration) Reading {
	return Reading{DeviceID: "door-1", HouseholdID: "h1", Kind: registry.DoorSensor, Stream: Event, TS: t0.Add(at), Open: ptr(true)}
}
func power(at time.Duration, kwh float64) Reading {
	return Reading{DeviceID: "pm-1", HouseholdID: "h1", Kind: registry.PowerMeter, Stream: Telemetry, TS: t0.Add(at), TotalKWh: ptr(kwh)}
}
func heartbeat(id string, kind registry.DeviceKind, at time.Duration) Reading {
	return Reading{DeviceID: id, HouseholdID: "h1", Kind: kind, Stream: Telemetry, TS: t0.Add(at), BatteryPct: ptr(90.0)}
}
func battery(at time.Duration, pct float64) Reading {
	r := heartbeat("pir-1", registry.MotionSensor, at)
	r.BatteryPct = ptr(pct)
	return r
}

// step is one input: a reading, or the clock moving to t0+tick.
type step struct {
	reading *Reading
	tick    time.Duration
}

func read(rs ...Reading) []step {
	out := make([]step, len(rs))
	for i := range rs {
		out[i] = step{reading: &rs[i]}
	}
	return out
}

func tick(at time.Duration) []step { return []step{{tick: at}} }

// ticks moves the clock every interval from from to to, inclusive.
func ticks(from, to, interval time.Duration) []step {
	var out []step
	for at := from; at <= to; at += interval {
		out = append(out, step{tick: at})
	}
	return out
}

// every makes a reading of each device every interval from from to to, inclusive.
func every(from, to, interval time.Duration, devices ...func(at time.Duration) Reading) []step {
	var out []step
	for at := from; at <= to; at += interval {
		for _, r := range devices {
			out = append(out, read(r(at))...)
		}
	}
	return out
}

func steps(groups ...[]step) []step { return slices.Concat(groups...) }

// run feeds steps as the event clock does: each reading is processed and then
// the clock advances to its time (never backwards). It returns the alerts as
// "offset rule", with "!" before a cleared rule.
func run(e *Engine, ss []step) []string {
	return names(runAlerts(e, ss))
}

// runAlerts is run returning the alerts themselves.
func runAlerts(e *Engine, ss []step) []Alert {
	var out []Alert
	now := t0.Add(-time.Hour)
	for _, s := range ss {
		at := t0.Add(s.tick)
		if s.reading != nil {
			out = append(out, e.Process(*s.reading)...)
			at = s.reading.TS
		}
		if at.After(now) {
			now = at
		}
		out = append(out, e.Advance(now)...)
	}
	return out
}

// names are alerts as "offset rule", with "!" before a cleared rule.
func names(alerts []Alert) []string {
	var out []string
	for _, a := range alerts {
		name := a.Rule
		if a.Cleared {
			name = "!" + name
		}
		out = append(out, fmt.Sprintf("%v %s", a.At.Sub(t0), name))
	}
	return out
}

type ruleCase struct {
	name  string
	steps []step
	want  []string
}

func runCases(t *testing.T, setup func(*Engine), cases []ruleCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEngine(t)
			if setup != nil {
				setup(e)
			}
			if got := run(e, tc.steps); !slices.Equal(got, tc.want) {
				t.Errorf("alerts:\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}
