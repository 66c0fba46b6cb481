package rules

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// TestSwitches: each switch turned off silences what it names, and only
// that; on, the same steps raise it.
func TestSwitches(t *testing.T) {
	flowing := func(at time.Duration) Reading { return meter(at, float64(at/m)) } // 1 L a minute
	for _, tc := range []struct {
		name    string
		steps   []step
		on, off []string
	}{
		{name: RuleWaterNoUse,
			steps: steps(read(meter(0, 100)), every(15*m, 13*h, 15*m, unchanged(100))),
			on:    []string{"12h0m0s water_no_use"}, off: nil},
		{name: RuleWaterContinuousFlow,
			steps: every(0, 3*h, 15*m, flowing),
			on:    []string{"2h0m0s water_continuous_flow"}, off: nil},
		{name: RuleNoMotion,
			steps: steps(read(pir(0)), every(0, 7*h, 15*m, pirBeat)),
			on:    []string{"6h0m0s no_motion"}, off: nil},
		{name: RuleNoExit,
			steps: steps(read(door(0)), every(0, 73*h, time.Hour, doorBeat)),
			on:    []string{"72h0m0s no_exit"}, off: nil},
		{name: RulePowerNoUse,
			steps: every(0, 25*h, time.Hour, func(at time.Duration) Reading { return power(at, 10) }),
			on:    []string{"24h0m0s power_no_use"}, off: nil},
		{name: RuleDeviceOffline,
			steps: steps(read(meter(0, 100)), ticks(0, 7*h, time.Hour)),
			on:    []string{"3h0m0s unmonitored", "6h0m0s device_offline"}, off: []string{"3h0m0s unmonitored"}},
		{name: RuleBatteryLow,
			steps: read(battery(0, 10)),
			on:    []string{"0s battery_low"}, off: nil},
		{name: SwitchSensorHealth,
			// A PIR's last heartbeat at 30m: stale at 3h30m, offline at 6h30m.
			// Without sensor health, no_motion fires on it until then.
			steps: steps(read(pir(0)), every(0, 30*m, 15*m, pirBeat), ticks(0, 10*h, 15*m)),
			on:    []string{"3h30m0s unmonitored", "6h30m0s device_offline"},
			off:   []string{"6h0m0s no_motion", "6h30m0s device_offline"}},
		{name: SwitchPresumedOut,
			// Out from 08:02 with the water last used at 08:15: on, the
			// ceiling (14 h) brings both rules; off, water_no_use counts on
			// and no_motion waits for good.
			steps: steps(read(meter(0, 99), pir(m), door(2*m)), every(15*m, 16*h, 15*m, unchanged(100), pirBeat, doorBeat)),
			on:    []string{"14h15m0s water_no_use", "14h15m0s no_motion"},
			off:   []string{"12h15m0s water_no_use"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, on := range []bool{true, false} {
				e := newEngine(t)
				cfg, err := e.Config().WithEnabled(tc.name, on)
				if err != nil {
					t.Fatal(err)
				}
				if err := e.SetConfig(cfg); err != nil {
					t.Fatal(err)
				}
				want := tc.on
				if !on {
					want = tc.off
				}
				if got := run(e, tc.steps); !slices.Equal(got, want) {
					t.Errorf("enabled %v: alerts\n got %q\nwant %q", on, got, want)
				}
			}
		})
	}
}

func TestSwitchesCoverEveryRuleWithThresholds(t *testing.T) {
	if len(Switches) > 16 {
		t.Fatalf("%d switches do not fit Config.off", len(Switches))
	}
	for _, p := range Params {
		if !slices.Contains(Switches, p.Rule) {
			t.Errorf("rule %s has thresholds but no switch", p.Rule)
		}
	}
	for _, alarm := range []string{RuleFall, RuleSOS} {
		if slices.Contains(Switches, alarm) {
			t.Errorf("%s can be turned off", alarm)
		}
	}
	c := DefaultConfig()
	for _, name := range Switches {
		if !c.Enabled(name) {
			t.Errorf("%s is off by default", name)
		}
	}
	if _, err := c.WithEnabled(RuleFall, false); err == nil || !strings.Contains(err.Error(), "fall.enabled: not a switch") {
		t.Errorf("turning fall off: %v, want it refused", err)
	}
	off, err := c.WithEnabled(RuleUnusualQuiet, false)
	if err != nil {
		t.Fatal(err)
	}
	// A household's overrides keep the global switches.
	if eff, err := off.With(Thresholds{RuleWaterNoUse: {"hours": 10.0}}); err != nil || eff.Enabled(RuleUnusualQuiet) || !eff.Enabled(RuleLateWake) {
		t.Errorf("overrides on a config with unusual_quiet off: %v, unusual_quiet %v, late_wake %v", err, eff.Enabled(RuleUnusualQuiet), eff.Enabled(RuleLateWake))
	}
}
