package rules

import (
	"slices"
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/registry"
)

func pirBeat(at time.Duration) Reading  { return heartbeat("pir-1", registry.MotionSensor, at) }
func doorBeat(at time.Duration) Reading { return heartbeat("door-1", registry.DoorSensor, at) }

// t0 is 08:00 in Shanghai; the default waking window is 07:00-22:00.
func TestNoMotion(t *testing.T) {
	runCases(t, nil, []ruleCase{
		{"6h of waking hours without motion fires",
			steps(read(pir(0)), every(0, 10*h, 15*m, pirBeat), ticks(5*h+59*m, 6*h, time.Minute)),
			[]string{"6h0m0s no_motion"}},
		{"the night does not count",
			steps(read(pir(12*h)), every(12*h, 30*h, 15*m, pirBeat)), // 20:00: 2h today, 4h from 07:00
			[]string{"27h0m0s no_motion"}},
		{"motion at night counts from the window's start",
			steps(read(pir(18*h)), every(18*h, 30*h, 15*m, pirBeat)), // 02:00: from 07:00
			[]string{"29h0m0s no_motion"}},
		{"motion clears it",
			steps(read(pir(0)), every(0, 7*h, 15*m, pirBeat), read(pir(7*h+m))),
			[]string{"6h0m0s no_motion", "7h1m0s !no_motion"}},
		{"motion restarts the countdown",
			steps(read(pir(0)), every(0, 3*h, 15*m, pirBeat), read(pir(3*h+m)), every(3*h+15*m, 9*h, 15*m, pirBeat), ticks(9*h, 9*h+2*m, m)),
			[]string{"9h1m0s no_motion"}},
		{"a PIR back from silence restarts the countdown: it may have missed motion",
			steps(read(pir(0)), ticks(0, 7*h, 15*m), every(7*h, 16*h, 15*m, pirBeat)),
			[]string{"3h0m0s unmonitored", "6h0m0s device_offline", "7h0m0s !device_offline", "7h0m0s !unmonitored", "13h0m0s no_motion"}},
		{"a silent PIR opens device_offline, never no_motion",
			steps(read(pir(0)), ticks(0, 20*h, 15*m)), []string{"3h0m0s unmonitored", "6h0m0s device_offline"}},
		{"nobody moving after going out is not a concern",
			steps(read(pir(time.Hour), door(time.Hour+5*m)), every(time.Hour, 9*h, 15*m, pirBeat, doorBeat)), nil},
		{"coming home restarts the countdown", // back at 18:00: 4h today, 2h tomorrow from 07:00
			steps(read(pir(time.Hour), door(time.Hour+5*m)), every(time.Hour, 9*h, 15*m, pirBeat, doorBeat),
				read(door(10*h-m), pir(10*h)), every(10*h, 26*h, 15*m, pirBeat, doorBeat)),
			[]string{"25h0m0s no_motion"}},
	})
}

func TestNoMotionWindowAndZone(t *testing.T) {
	setup := func(st Settings) func(*Engine) {
		return func(e *Engine) {
			if err := e.SetHousehold("h1", st); err != nil {
				t.Fatal(err)
			}
		}
	}
	cases := []struct {
		name  string
		st    Settings
		steps []step
		want  []string
	}{
		{"a window across midnight", // motion at 23:00; window 22:00-06:00 has 7h left
			Settings{Overrides: Thresholds{RuleNoMotion: {"window": "22:00-06:00"}}},
			steps(read(pir(15*h)), every(15*h, 30*h, 15*m, pirBeat)),
			[]string{"21h0m0s no_motion"}},
		{"the household's own zone", // t0 is 00:00 UTC: from 07:00 UTC
			Settings{Location: time.UTC},
			steps(read(pir(0)), every(0, 20*h, 15*m, pirBeat)),
			[]string{"13h0m0s no_motion"}},
		{"an away day restarts from its end", // last motion 07:30, away 08:00-20:00: 2h today, 4h tomorrow
			Settings{Away: []Period{{From: t0, Until: t0.Add(12 * h)}}},
			steps(read(pir(-30*m)), every(-30*m, 30*h, 15*m, pirBeat)),
			[]string{"27h0m0s no_motion"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEngine(t)
			setup(tc.st)(e)
			if got := run(e, tc.steps); !slices.Equal(got, tc.want) {
				t.Errorf("alerts:\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestNoExit(t *testing.T) {
	runCases(t, nil, []ruleCase{
		{"72h without opening the door fires",
			steps(read(door(0)), every(0, 80*h, time.Hour, doorBeat), ticks(71*h+59*m, 72*h, time.Minute)),
			[]string{"72h0m0s no_exit"}},
		{"opening restarts the countdown",
			steps(read(door(0)), every(0, 47*h, time.Hour, doorBeat), read(door(48*h)), every(48*h, 125*h, time.Hour, doorBeat)),
			[]string{"120h0m0s no_exit"}},
		{"opening clears it",
			steps(read(door(0)), every(0, 73*h, time.Hour, doorBeat), read(door(73*h+m))),
			[]string{"72h0m0s no_exit", "73h1m0s !no_exit"}},
		{"the countdown starts when the sensor is first heard",
			every(0, 73*h, time.Hour, doorBeat), []string{"72h0m0s no_exit"}},
	})
}

func powerRising(kwhPer15m float64) func(time.Duration) Reading {
	return func(at time.Duration) Reading { return power(at, 500+float64(at/(15*m))*kwhPer15m) }
}

func TestPowerNoUse(t *testing.T) {
	runCases(t, nil, []ruleCase{
		{"under the floor for 24h fires", every(0, 30*h, 15*m, powerRising(0.01)), []string{"24h0m0s power_no_use"}},
		{"a fridge and some cooking is use", every(0, 72*h, 15*m, powerRising(0.02)), nil},
		{"use clears it",
			steps(every(0, 25*h, 15*m, powerRising(0.01)), read(power(25*h+15*m, 510))),
			[]string{"24h0m0s power_no_use", "25h15m0s !power_no_use"}},
		{"use slower than the floor per window does not clear it", every(0, 60*h, 15*m, powerRising(0.01)), []string{"24h0m0s power_no_use"}},
		{"a register reset is not use",
			steps(every(0, 6*h, 15*m, powerRising(0)), read(power(6*h+15*m, 0)), every(6*h+30*m, 25*h, 15*m, func(at time.Duration) Reading { return power(at, 0) })),
			[]string{"24h0m0s power_no_use"}},
		{"a silent power meter is not an unused one",
			steps(read(power(0, 500)), ticks(0, 30*h, 15*m)), []string{"3h0m0s unmonitored", "6h0m0s device_offline"}},
	})
}

func TestDeviceOffline(t *testing.T) {
	status := func(at time.Duration, online bool) Reading {
		return Reading{DeviceID: "wm-1", HouseholdID: "h1", Kind: registry.WaterMeter, Stream: Status, TS: t0.Add(at), Online: ptr(online)}
	}
	runCases(t, nil, []ruleCase{
		{"a wristband after 2h", steps(read(heartbeat("wb-1", registry.Wristband, 0)), ticks(0, 3*h, time.Minute)),
			[]string{"2h0m0s device_offline"}},
		// The PIR is stale after three hourly heartbeats missed: its home is unmonitored.
		{"any other device after 6h", steps(read(heartbeat("pir-1", registry.MotionSensor, 0)), ticks(0, 7*h, time.Minute)),
			[]string{"3h0m0s unmonitored", "6h0m0s device_offline"}},
		{"a last will does not restart the countdown", steps(read(meter(0, 1), status(time.Hour, false)), ticks(0, 7*h, time.Minute)),
			[]string{"3h0m0s unmonitored", "6h0m0s device_offline"}},
		{"an online status does", steps(read(meter(0, 1), status(time.Hour, true)), ticks(0, 8*h, time.Minute)),
			[]string{"4h0m0s unmonitored", "7h0m0s device_offline"}},
		{"clears when the last silent device speaks again",
			steps(read(heartbeat("pir-1", registry.MotionSensor, 0), heartbeat("door-1", registry.DoorSensor, 0)), ticks(0, 7*h, 15*m),
				read(heartbeat("pir-1", registry.MotionSensor, 7*h+m), heartbeat("door-1", registry.DoorSensor, 7*h+2*m))),
			[]string{"3h0m0s unmonitored", "6h0m0s device_offline", "6h0m0s device_offline", "7h1m0s !unmonitored", "7h2m0s !device_offline"}},
	})
}

func TestRegisteredDeviceThatNeverSpeaks(t *testing.T) {
	e := newEngine(t)
	e.ExpectDevice("h1", SavedDevice{ID: "door-9", Kind: registry.DoorSensor}, t0)
	e.ExpectDevice("h1", SavedDevice{ID: "door-9", Kind: registry.DoorSensor}, t0.Add(5*h)) // already known: no restart
	e.ExpectDevice("h2", SavedDevice{ID: "pir-9", Kind: registry.MotionSensor}, time.Time{})
	e.Advance(t0.Add(h))
	if n := e.OnlineDevices(); n != 0 {
		t.Errorf("a device that never spoke counts as online: %d", n)
	}
	if got := run(e, ticks(0, 20*h, 15*m)); !slices.Equal(got, []string{"3h0m0s unmonitored", "6h0m0s device_offline"}) {
		t.Errorf("alerts = %q", got)
	}
}

func TestBatteryLow(t *testing.T) {
	runCases(t, nil, []ruleCase{
		{"below 15% fires once, clears at 20%",
			read(battery(0, 20), battery(time.Hour, 14), battery(2*h, 12), battery(3*h, 16), battery(4*h, 20), battery(5*h, 10)),
			[]string{"1h0m0s battery_low", "4h0m0s !battery_low", "5h0m0s battery_low"}},
		{"a late reading does not count", read(battery(2*h, 20), battery(time.Hour, 5)), nil},
		{"15% is not low", read(battery(0, 15)), nil},
	})
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
			var got []string
			for _, a := range alerts {
				got = append(got, a.Rule)
				if a.Severity != Critical || a.Kind != Visit || a.HouseholdID != "h1" || !a.At.Equal(t0.Add(time.Minute)) {
					t.Errorf("alert = %+v", a)
				}
				if a.Evidence.Values["lat"] != 31.2 || a.Evidence.Values["lon"] != 121.4 || a.Evidence.DeviceID != "wb-1" {
					t.Errorf("evidence lost the location: %+v", a.Evidence)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("alerts = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestAlarmsAreNeverDropped(t *testing.T) {
	e := newEngine(t)
	if err := e.SetHousehold("h1", Settings{Away: []Period{{From: t0.Add(-h), Until: t0.Add(48 * h)}}}); err != nil {
		t.Fatal(err)
	}
	got := run(e, read(band(2*h, EventSOS), band(time.Hour, EventFall), band(time.Hour, EventFall)))
	want := []string{"2h0m0s sos", "1h0m0s fall", "1h0m0s fall"}
	if !slices.Equal(got, want) {
		t.Errorf("late, repeated and away-time alarms: %q, want %q", got, want)
	}
}
