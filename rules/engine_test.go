package rules

import (
	"slices"
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/registry"
)

var t0 = time.Date(2026, 3, 2, 6, 0, 0, 0, time.UTC)

func newEngine(t *testing.T) *Engine {
	t.Helper()
	e, err := NewEngine(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func ptr[T any](v T) *T { return &v }

func meter(at time.Duration, liters float64) Reading {
	return Reading{DeviceID: "wm-1", HouseholdID: "h1", Kind: registry.WaterMeter, Stream: Telemetry, TS: t0.Add(at), TotalLiters: ptr(liters)}
}

func band(at time.Duration, event string) Reading {
	return Reading{DeviceID: "wb-1", HouseholdID: "h1", Kind: registry.Wristband, Stream: Event, TS: t0.Add(at), Event: event, Lat: ptr(31.2), Lon: ptr(121.4)}
}

// step is one input to the engine: a reading, or the clock advancing to at.
type step struct {
	reading *Reading
	advance time.Duration
}

func read(r Reading) step          { return step{reading: &r} }
func advance(d time.Duration) step { return step{advance: d} }
func run(e *Engine, steps []step) (alerts []Alert) {
	for _, s := range steps {
		if s.reading != nil {
			alerts = append(alerts, e.Process(*s.reading)...)
			continue
		}
		alerts = append(alerts, e.Advance(t0.Add(s.advance))...)
	}
	return alerts
}

// every15m reports an unchanged register every 15 minutes from from to to.
func every15m(from, to time.Duration, liters float64) []step {
	var steps []step
	for at := from; at <= to; at += 15 * time.Minute {
		steps = append(steps, read(meter(at, liters)), advance(at))
	}
	return steps
}

func TestWaterNoUse(t *testing.T) {
	h := time.Hour
	tests := []struct {
		name  string
		steps []step
		want  []string // rule, with "!" prefix for a cleared alert
	}{
		{"unchanged readings 13h apart", []step{read(meter(0, 100)), read(meter(13*h, 100))}, []string{RuleWaterNoUse}},
		{"rising readings 13h apart", []step{read(meter(0, 100)), read(meter(13*h, 140))}, nil},
		{"boundary 11h59m", []step{read(meter(0, 100)), read(meter(11*h+59*time.Minute, 100))}, nil},
		{"boundary 12h", []step{read(meter(0, 100)), read(meter(12*h, 100))}, []string{RuleWaterNoUse}},
		{"meter stops reporting", []step{read(meter(0, 100)), advance(13 * h), advance(30 * h)}, nil},
		{"reporting meter fires on the deadline", every15m(0, 12*h, 100), []string{RuleWaterNoUse}},
		{"fires once while it persists", every15m(0, 20*h, 100), []string{RuleWaterNoUse}},
		{"use restarts the countdown", append(every15m(0, 6*h, 100), every15m(6*h+15*time.Minute, 17*h, 105)...), nil},
		{"use after firing clears", append(every15m(0, 12*h, 100), read(meter(12*h+15*time.Minute, 103))), []string{RuleWaterNoUse, "!" + RuleWaterNoUse}},
		{"late reading does not move state back", []step{read(meter(0, 100)), read(meter(2*h, 120)), read(meter(time.Hour, 100)), read(meter(13*h, 120))}, nil},
		{"duplicate reading", []step{read(meter(0, 100)), read(meter(0, 100)), read(meter(11*h, 100))}, nil},
		{"register reset is not use", []step{read(meter(0, 100)), read(meter(6*h, 0)), read(meter(12*h, 0))}, []string{RuleWaterNoUse}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := names(run(newEngine(t), tt.steps))
			if !slices.Equal(got, tt.want) {
				t.Errorf("alerts = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestWaterNoUseDeadlineIsTimely(t *testing.T) {
	e := newEngine(t)
	run(e, every15m(0, 11*time.Hour+45*time.Minute, 100))
	if got := e.Advance(t0.Add(12*time.Hour - time.Nanosecond)); len(got) != 0 {
		t.Fatalf("fired before 12h: %v", names(got))
	}
	got := e.Advance(t0.Add(12 * time.Hour))
	if len(got) != 1 || got[0].Rule != RuleWaterNoUse || got[0].Severity != High || got[0].Kind != Visit {
		t.Fatalf("at 12h: %+v", got)
	}
	if !got[0].At.Equal(t0.Add(12*time.Hour)) || got[0].Evidence.DeviceID != "wm-1" {
		t.Errorf("alert at %v from %q", got[0].At, got[0].Evidence.DeviceID)
	}
	if got[0].Evidence.Values["total_liters"] != 100.0 {
		t.Errorf("evidence = %+v", got[0].Evidence)
	}
}

func TestWristband(t *testing.T) {
	tests := []struct {
		event string
		want  []string
	}{
		{EventFall, []string{RuleFall}},
		{EventSOS, []string{RuleSOS}},
		{"wave", nil},
	}
	for _, tt := range tests {
		t.Run(tt.event, func(t *testing.T) {
			alerts := newEngine(t).Process(band(time.Minute, tt.event))
			if got := names(alerts); !slices.Equal(got, tt.want) {
				t.Fatalf("alerts = %v, want %v", got, tt.want)
			}
			for _, a := range alerts {
				if a.Severity != Critical || a.Kind != Visit || a.HouseholdID != "h1" || !a.At.Equal(t0.Add(time.Minute)) {
					t.Errorf("alert = %+v", a)
				}
				if a.Evidence.Values["lat"] != 31.2 || a.Evidence.Values["lon"] != 121.4 {
					t.Errorf("evidence lost the location: %+v", a.Evidence)
				}
			}
		})
	}
}

func TestLateFallStillFires(t *testing.T) {
	e := newEngine(t)
	e.Process(band(2*time.Hour, "sos"))
	if got := names(e.Process(band(time.Hour, EventFall))); !slices.Equal(got, []string{RuleFall}) {
		t.Errorf("a fall buffered by a gateway was dropped: %v", got)
	}
}

func TestStatus(t *testing.T) {
	e := newEngine(t)
	if got := e.Status("h1", t0); got != nil {
		t.Fatalf("unknown household has status %v", got)
	}
	r := meter(0, 100)
	r.BatteryPct = ptr(80.0)
	e.Process(r)
	e.Process(meter(-time.Hour, 50)) // late: must not overwrite
	st := e.Status("h1", t0.Add(time.Hour))
	if len(st) != 1 || !st[0].Online || st[0].Last["total_liters"] != 100.0 || *st[0].BatteryPct != 80 {
		t.Fatalf("status = %+v", st)
	}
	if st := e.Status("h1", t0.Add(7*time.Hour)); st[0].Online {
		t.Error("a meter silent for 7h is online")
	}
	e.Process(band(0, EventSOS))
	for _, c := range []struct {
		at   time.Duration
		want int
	}{{time.Hour, 2}, {3 * time.Hour, 1}, {7 * time.Hour, 0}} {
		if got := e.OnlineDevices(t0.Add(c.at)); got != c.want {
			t.Errorf("online devices after %v: %d, want %d (wristbands go offline after 2h, meters after 6h)", c.at, got, c.want)
		}
	}
	e.Process(Reading{DeviceID: "wm-1", HouseholdID: "h1", Kind: registry.WaterMeter, Stream: Status, TS: t0.Add(time.Minute), Online: ptr(false)})
	if st := e.Status("h1", t0.Add(time.Minute)); st[0].Online {
		t.Error("a device that said it is offline is online")
	}
}

func TestConfigValidate(t *testing.T) {
	c := DefaultConfig()
	c.WaterNoUse = -time.Hour
	if _, err := NewEngine(c); err == nil {
		t.Error("negative threshold accepted")
	}
}

func names(alerts []Alert) []string {
	var out []string
	for _, a := range alerts {
		n := a.Rule
		if a.Cleared {
			n = "!" + n
		}
		out = append(out, n)
	}
	return out
}

func TestRetractFiresAgain(t *testing.T) {
	e := newEngine(t)
	alerts := run(e, every15m(0, 12*time.Hour, 100))
	if len(alerts) != 1 {
		t.Fatalf("alerts = %v", names(alerts))
	}
	e.Retract(alerts[0], t0.Add(12*time.Hour+time.Minute))
	if got := e.Advance(t0.Add(12*time.Hour + 30*time.Second)); len(got) != 0 {
		t.Fatalf("fired again before the retry time: %v", names(got))
	}
	if got := names(e.Advance(t0.Add(12*time.Hour + time.Minute))); !slices.Equal(got, []string{RuleWaterNoUse}) {
		t.Fatalf("a retracted alert did not fire again: %v", got)
	}
}
