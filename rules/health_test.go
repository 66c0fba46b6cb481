package rules

import (
	"slices"
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/registry"
)

func TestSensorHealth(t *testing.T) {
	for _, tc := range []struct {
		name     string
		expected map[string]time.Duration // device → expected_every
		steps    []step
		want     []string
		// monitoring at the end
		state string
		stale []string
	}{
		{name: "a dead PIR never makes no_motion",
			// Last heartbeat at 30m: stale at 3h30m, before no_motion's 6h.
			steps: steps(read(pir(0)), every(0, 30*m, 15*m, pirBeat), ticks(0, 10*h, 15*m)),
			want:  []string{"3h30m0s unmonitored", "6h30m0s device_offline"},
			state: MonitoringUnmonitored, stale: []string{"motion"}},
		{name: "one stale signal of two is degraded, and the other still watches",
			steps: steps(read(pir(0)), every(0, 13*h, 15*m, unchanged(100))),
			want:  []string{"6h0m0s device_offline", "12h0m0s water_no_use"},
			state: MonitoringDegraded, stale: []string{"motion"}},
		{name: "unmonitored once, however long it lasts",
			steps: steps(read(meter(0, 1), pir(0)), ticks(0, 72*h, time.Hour)),
			want:  []string{"3h0m0s unmonitored", "6h0m0s device_offline", "6h0m0s device_offline"},
			state: MonitoringUnmonitored, stale: []string{"water", "motion"}},
		{name: "and clears when a sensor reports again",
			steps: steps(read(meter(0, 1), pir(0)), ticks(0, 4*h, time.Hour), read(pirBeat(4*h))),
			want:  []string{"3h0m0s unmonitored", "4h0m0s !unmonitored"},
			state: MonitoringDegraded, stale: []string{"water"}},
		{name: "a meter said to report every 4 hours is fresh between its reports",
			expected: map[string]time.Duration{"wm-1": 4 * time.Hour},
			steps:    steps(read(meter(0, 100)), every(4*h, 13*h, 4*h, unchanged(100)), ticks(12*h, 13*h, 15*m)),
			want:     []string{"12h0m0s water_no_use"},
			state:    MonitoringOK, stale: []string{}},
		{name: "and offline only after three reports missed",
			expected: map[string]time.Duration{"wm-1": 4 * time.Hour},
			steps:    steps(read(meter(0, 1)), ticks(0, 13*h, 15*m)),
			want:     []string{"12h0m0s device_offline", "12h0m0s unmonitored"},
			state:    MonitoringUnmonitored, stale: []string{"water"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEngine(t)
			for id, every := range tc.expected {
				e.ExpectDevice("h1", SavedDevice{ID: id, Kind: registry.WaterMeter, Every: every}, t0)
			}
			got := run(e, tc.steps)
			if !slices.Equal(got, tc.want) {
				t.Errorf("alerts:\n got %q\nwant %q", got, tc.want)
			}
			last := tc.steps[len(tc.steps)-1]
			at := t0.Add(last.tick)
			if last.reading != nil {
				at = last.reading.TS
			}
			if m := e.Monitoring("h1", at); m.State != tc.state || !slices.Equal(m.StaleSignals, tc.stale) {
				t.Errorf("monitoring %+v, want %s %q", m, tc.state, tc.stale)
			}
		})
	}
}

func TestMonitoringOfAHomeWithoutWelfareSensors(t *testing.T) {
	e := newEngine(t)
	run(e, read(band(0, EventSOS)))
	for _, id := range []string{"h1", "h404"} {
		if m := e.Monitoring(id, t0); m.State != MonitoringUnmonitored || len(m.StaleSignals) != 0 {
			t.Errorf("%s: %+v, want unmonitored with no stale signal", id, m)
		}
	}
}

// TestUnmonitoredAfterDowntime: silence while the monitor was down is not
// counted against the sensors; they get their time to report after the
// restart.
func TestUnmonitoredAfterDowntime(t *testing.T) {
	e := newEngine(t)
	run(e, read(pir(0)))
	e = restart(t, e, map[string][]byte{}, t0.Add(10*h))
	if m := e.Monitoring("h1", t0.Add(10*h)); m.State != MonitoringUnmonitored {
		t.Errorf("monitoring after the restart %+v: the PIR was not heard for 10 h", m)
	}
	if got := run(e, ticks(10*h, 14*h, 15*m)); !slices.Equal(got, []string{"10h0m0s device_offline", "13h0m0s unmonitored"}) {
		t.Errorf("alerts %q, want device_offline at once and unmonitored 3 h after the restart", got)
	}
}

// TestUnmonitoredWaitsForDevicesNotExpectedYet: a device registered before
// the event clock started is expected from its first message on.
func TestUnmonitoredWaitsForDevicesNotExpectedYet(t *testing.T) {
	e := newEngine(t)
	e.ExpectDevice("h1", SavedDevice{ID: "pir-9", Kind: registry.MotionSensor}, time.Time{})
	run(e, read(band(0, EventSOS)))
	if got := run(e, ticks(0, 10*h, h)); !slices.Equal(got, []string{"2h0m0s device_offline"}) {
		t.Errorf("alerts %q, want the wristband's device_offline only", got)
	}
}

// TestExpectDeviceOfAKnownDevice: a shorter interval set for a device the
// household already knows brings its staleness earlier at once; the same
// interval told again changes nothing.
func TestExpectDeviceOfAKnownDevice(t *testing.T) {
	for _, tc := range []struct {
		name  string
		every time.Duration
		want  []string
	}{
		{"the kind's interval", 0, []string{"3h0m0s unmonitored", "6h0m0s device_offline"}},
		{"every 30 minutes", 30 * m, []string{"1h30m0s unmonitored", "6h0m0s device_offline"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEngine(t)
			run(e, read(meter(0, 100)))
			for range 2 {
				e.ExpectDevice("h1", SavedDevice{ID: "wm-1", Kind: registry.WaterMeter, Every: tc.every}, t0)
			}
			if got := run(e, ticks(0, 8*h, 15*m)); !slices.Equal(got, tc.want) {
				t.Errorf("alerts %q, want %q", got, tc.want)
			}
		})
	}
}
