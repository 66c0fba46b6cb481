package rules

import (
	"testing"

	"github.com/eldersafe/eldersafe/registry"
)

// TestStatusShowsValuesAsSent: what a device last said reads as it was
// sent, its battery too, which the engine keeps in 32 bits.
func TestStatusShowsValuesAsSent(t *testing.T) {
	e := newEngine(t)
	flow := Reading{DeviceID: "wm-1", HouseholdID: "h1", Kind: registry.WaterMeter, Stream: Telemetry, TS: t0,
		TotalLiters: ptr(1234.5), FlowLPM: ptr(3.2), BatteryPct: ptr(87.3)}
	load := power(0, 500.08)
	load.PowerW = ptr(1234.56)
	run(e, read(flow, load, pir(0)))
	want := map[string]struct {
		last    map[string]any
		battery float64
	}{
		"wm-1":  {map[string]any{"total_liters": 1234.5, "flow_lpm": 3.2}, 87.3},
		"pm-1":  {map[string]any{"total_kwh": 500.08, "power_w": 1234.56}, 0},
		"pir-1": {map[string]any{"motion": true, "room": "kitchen"}, 0},
	}
	got := e.Status("h1", t0)
	if len(got) != len(want) {
		t.Fatalf("status of %d devices, want %d: %+v", len(got), len(want), got)
	}
	for _, st := range got {
		w := want[st.DeviceID]
		if len(st.Last) != len(w.last) {
			t.Errorf("%s: last %v, want %v", st.DeviceID, st.Last, w.last)
		}
		for k, v := range w.last {
			if st.Last[k] != v {
				t.Errorf("%s: %s = %v, want %v", st.DeviceID, k, st.Last[k], v)
			}
		}
		if (st.BatteryPct == nil) != (w.battery == 0) || (st.BatteryPct != nil && *st.BatteryPct != w.battery) {
			t.Errorf("%s: battery %v, want %v", st.DeviceID, st.BatteryPct, w.battery)
		}
	}
}
