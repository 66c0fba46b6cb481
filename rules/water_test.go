package rules

import (
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/registry"
)

func unchanged(liters float64) func(time.Duration) Reading {
	return func(at time.Duration) Reading { return meter(at, liters) }
}

func TestWaterNoUse(t *testing.T) {
	runCases(t, nil, []ruleCase{
		{"11h59m without use does not fire",
			steps(every(0, 11*h+45*m, 15*m, unchanged(100)), tick(11*h+59*m)), nil},
		{"12h without use fires on the deadline",
			steps(every(0, 11*h+45*m, 15*m, unchanged(100)), tick(12*h)), []string{"12h0m0s water_no_use"}},
		{"fires once while it persists",
			every(0, 30*h, 15*m, unchanged(100)), []string{"12h0m0s water_no_use"}},
		{"use restarts the countdown",
			steps(every(0, 6*h, 15*m, unchanged(100)), every(6*h+15*m, 19*h, 15*m, unchanged(101))),
			[]string{"18h15m0s water_no_use"}},
		{"use after firing clears the condition",
			steps(every(0, 12*h, 15*m, unchanged(100)), read(meter(12*h+15*m, 103))),
			[]string{"12h0m0s water_no_use", "12h15m0s !water_no_use"}},
		{"a silent meter opens device_offline, never water_no_use",
			steps(read(meter(0, 100)), ticks(0, 40*h, 15*m)), []string{"3h0m0s unmonitored", "6h0m0s device_offline"}},
		{"a meter back from silence with an unchanged register fires then",
			steps(read(meter(0, 100)), ticks(0, 19*h, 15*m), read(meter(20*h, 100))),
			[]string{"3h0m0s unmonitored", "6h0m0s device_offline", "20h0m0s !device_offline", "20h0m0s !unmonitored", "20h0m0s water_no_use"}},
		{"a register reset is not use",
			steps(every(0, 6*h, 15*m, unchanged(100)), every(6*h+15*m, 12*h, 15*m, unchanged(0))),
			[]string{"12h0m0s water_no_use"}},
		{"a register wrap is not taken as use",
			steps(every(0, 6*h, 15*m, unchanged(99_999)), every(6*h+15*m, 12*h, 15*m, unchanged(2))),
			[]string{"12h0m0s water_no_use"}},
		{"a late reading does not move the register back",
			steps(read(meter(0, 100), meter(2*h, 120), meter(time.Hour, 100)), every(2*h+15*m, 14*h, 15*m, unchanged(120))),
			[]string{"14h0m0s water_no_use"}},
		{"duplicates change nothing",
			steps(read(meter(0, 100), meter(0, 100), meter(0, 100)), every(15*m, 12*h, 15*m, unchanged(100))),
			[]string{"12h0m0s water_no_use"}},
		{"use on any of two meters counts",
			every(0, 18*h, 15*m, unchanged(100), func(at time.Duration) Reading {
				return meterOf("wm-2", at, 7+float64(min(at/(6*h), 1)))
			}),
			[]string{"18h0m0s water_no_use"}},
	})
}

func TestWaterNoUseOutOfOrderArrival(t *testing.T) {
	// A gateway delivers the readings of the first hour last.
	e := newEngine(t)
	var late []step
	for at := time.Duration(0); at < time.Hour; at += 15 * m {
		late = append(late, read(meter(at, 50+float64(at/m)))...)
	}
	got := run(e, steps(read(meter(time.Hour, 200)), every(75*m, 13*h, 15*m, unchanged(200)), late))
	if len(got) != 1 || got[0] != "13h0m0s water_no_use" {
		t.Errorf("alerts = %q, want one water_no_use 12h after the last rise at 1h", got)
	}
}

func flowing(from time.Duration, litersPer15m float64) func(time.Duration) Reading {
	return func(at time.Duration) Reading { return meter(at, 100+float64((at-from)/(15*m))*litersPer15m) }
}

func TestWaterContinuousFlow(t *testing.T) {
	withFlow := func(lpm float64) func(time.Duration) Reading {
		return func(at time.Duration) Reading {
			r := flowing(0, 60)(at)
			r.FlowLPM = ptr(lpm)
			return r
		}
	}
	runCases(t, nil, []ruleCase{
		{"a tap running for 2h fires", every(0, 2*h, 15*m, flowing(0, 60)), []string{"2h0m0s water_continuous_flow"}},
		{"1h45m of flow does not", every(0, 1*h+45*m, 15*m, flowing(0, 60)), nil},
		{"a pause clears it",
			steps(every(0, 2*h, 15*m, flowing(0, 60)), read(meter(2*h+15*m, 100+8*60))),
			[]string{"2h0m0s water_continuous_flow", "2h15m0s !water_continuous_flow"}},
		{"a slow trickle is not a running tap", every(0, 4*h, 15*m, flowing(0, 2)), nil},
		{"a reported flow of zero is a pause",
			steps(every(0, 1*h, 15*m, withFlow(4)), read(func() Reading { r := withFlow(0)(75 * m); return r }()),
				every(90*m, 3*h+15*m, 15*m, withFlow(4))),
			[]string{"3h15m0s water_continuous_flow"}},
		{"a gap in the reports cannot prove there was no pause",
			steps(every(0, 1*h, 15*m, flowing(0, 60)), every(2*h+30*m, 4*h+30*m, 15*m, flowing(0, 60))),
			[]string{"4h30m0s water_continuous_flow"}},
		{"a busy morning with one quiet quarter hour",
			steps(every(0, 1*h, 15*m, flowing(0, 30)), read(meter(75*m, 100+4*30)), every(90*m, 3*h, 15*m, flowing(15*m, 30))),
			nil},
	})
}

func TestWaterContinuousFlowRunsWhileAway(t *testing.T) {
	e := newEngine(t)
	if err := e.SetHousehold("h1", Settings{Away: []Period{{From: t0.Add(-time.Hour), Until: t0.Add(48 * h)}}}); err != nil {
		t.Fatal(err)
	}
	got := run(e, every(0, 2*h, 15*m, flowing(0, 60)))
	if len(got) != 1 || got[0] != "2h0m0s water_continuous_flow" {
		t.Errorf("a tap left running in an empty home: %q", got)
	}
}

func TestWaterNoUseAway(t *testing.T) {
	away := func(from, until time.Duration) func(*Engine) {
		return func(e *Engine) {
			if err := e.SetHousehold("h1", Settings{Away: []Period{{From: t0.Add(from), Until: t0.Add(until)}}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Only the meter reports: the other absence rules have no sensor here.
	cases := []struct {
		name          string
		from, until   time.Duration
		want          []string
		readingsUntil time.Duration
	}{
		{"away across the deadline restarts the countdown from its end", 8 * h, 30 * h, []string{"42h0m0s water_no_use"}, 43 * h},
		{"away that ended before the countdown started changes nothing", -48 * h, -24 * h, []string{"12h0m0s water_no_use"}, 13 * h},
		{"away that starts after the deadline changes nothing", 20 * h, 40 * h, []string{"12h0m0s water_no_use"}, 13 * h},
		{"no task while away", 2 * h, 100 * h, nil, 99 * h},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEngine(t)
			away(tc.from, tc.until)(e)
			got := run(e, every(0, tc.readingsUntil, 15*m, unchanged(100)))
			if len(got) != len(tc.want) || (len(got) > 0 && got[0] != tc.want[0]) {
				t.Errorf("alerts = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestWaterKeepsDeviceValues(t *testing.T) {
	e := newEngine(t)
	r := meter(0, 100)
	r.FlowLPM = ptr(0.0)
	r.BatteryPct = ptr(80.0)
	e.Process(r)
	e.Process(meter(-time.Hour, 50)) // late: must not overwrite
	st := e.Status("h1", t0.Add(time.Hour))
	if len(st) != 1 || !st[0].Online || st[0].Last["total_liters"] != 100.0 || st[0].Last["flow_lpm"] != 0.0 || *st[0].BatteryPct != 80 {
		t.Fatalf("status = %+v", st)
	}
	if st := e.Status("h1", t0.Add(7*time.Hour)); st[0].Online {
		t.Error("a meter silent for 7h is online")
	}
	e.Process(Reading{DeviceID: "wm-1", HouseholdID: "h1", Kind: registry.WaterMeter, Stream: Status, TS: t0.Add(time.Minute), Online: ptr(false)})
	if st := e.Status("h1", t0.Add(time.Minute)); st[0].Online {
		t.Error("a device that said it is offline is online")
	}
}
