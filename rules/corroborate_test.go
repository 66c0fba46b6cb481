package rules

import (
	"slices"
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/registry"
)

// TestCorroboration: which signals agree with a welfare alert over its span
// (CONTRACT.md §12). The first alert of the rule is judged.
func TestCorroboration(t *testing.T) {
	pirAlive := func(at time.Duration) Reading { return heartbeat("pir-1", registry.MotionSensor, at) }
	doorAlive := func(at time.Duration) Reading { return heartbeat("door-1", registry.DoorSensor, at) }
	powerFlat := func(at time.Duration) Reading { return power(at, 10) }
	cases := []struct {
		name  string
		rule  string
		steps []step
		want  []string
	}{
		{"water and motion quiet together", RuleWaterNoUse,
			steps(read(pir(0)), every(0, 12*h, 15*m, unchanged(100), pirAlive)),
			[]string{"water", "motion"}},
		{"motion after the water stopped: one signal", RuleWaterNoUse,
			steps(read(pir(0)), every(0, 3*h, 15*m, unchanged(100), pirAlive), read(pir(3*h+1)), every(3*h+15*m, 12*h, 15*m, unchanged(100), pirAlive)),
			[]string{"water"}},
		{"the door opened after the last motion: out a day, not corroborated", RuleWaterNoUse,
			steps(read(pir(0), door(m)), every(0, 25*h, 15*m, unchanged(100), pirAlive, doorAlive)),
			[]string{"water"}},
		{"out a day: no motion is not corroborated by the water either", RuleNoMotion,
			steps(read(pir(0), door(m)), every(0, 25*h, 15*m, unchanged(100), pirAlive, doorAlive)),
			[]string{"motion"}},
		{"water alone in the home", RuleWaterNoUse,
			every(0, 12*h, 15*m, unchanged(100)),
			[]string{"water"}},
		{"no motion, no water, door shut", RuleNoMotion,
			steps(read(pir(0)), every(0, 6*h, 15*m, unchanged(100), pirAlive, doorAlive)),
			[]string{"motion", "water", "door"}},
		{"no motion, water used since, door shut", RuleNoMotion,
			steps(read(pir(0)), every(0, 2*h, 15*m, unchanged(100), pirAlive, doorAlive), every(2*h+15*m, 6*h, 15*m, unchanged(101), pirAlive, doorAlive)),
			[]string{"motion", "door"}},
		{"no motion and no other sensor", RuleNoMotion,
			steps(read(pir(0)), every(0, 6*h, 15*m, pirAlive)),
			[]string{"motion"}},
		{"no power and no motion", RulePowerNoUse,
			steps(read(pir(0)), every(0, 24*h, 15*m, powerFlat, pirAlive)),
			[]string{"power", "motion"}},
		{"no power but motion", RulePowerNoUse,
			steps(read(pir(0)), every(0, 24*h, 15*m, powerFlat, pir)),
			[]string{"power"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			alerts := runAlerts(newEngine(t), tc.steps)
			i := slices.IndexFunc(alerts, func(a Alert) bool { return a.Rule == tc.rule && !a.Cleared })
			if i < 0 {
				t.Fatalf("no %s alert in %v", tc.rule, names(alerts))
			}
			a := alerts[i]
			if !slices.Equal(a.Signals, tc.want) || a.Corroborated() != (len(tc.want) > 1) {
				t.Fatalf("signals %v (corroborated %v), want %v", a.Signals, a.Corroborated(), tc.want)
			}
			if got, _ := a.Evidence.Values["signals"].([]string); a.Corroborated() && !slices.Equal(got, tc.want) {
				t.Errorf("evidence signals %v, want %v", a.Evidence.Values["signals"], tc.want)
			}
		})
	}
}

// TestMotionAgreesOnlyWithUnusualQuiet: once a home's baseline is learned, a
// night's sleep does not corroborate a quiet water meter.
func TestMotionAgreesOnlyWithUnusualQuiet(t *testing.T) {
	const tuesday = 15
	// Water on waking and at bedtime, every day; on day 15 not yet by 07:00.
	withWater := func(from, to int) []step {
		var out []step
		for d := from; d < to; d++ {
			out = append(out, read(meter(midnight(d)+7*h, float64(2*d)), meter(midnight(d)+22*h, float64(2*d+1)))...)
		}
		return out
	}
	water := map[string]any{"hours": 8.5}
	for _, tc := range []struct {
		name    string
		learned bool
		over    Thresholds
		want    []string
	}{
		{"learned: asleep until the usual 07:00 and its margin", true, Thresholds{RuleWaterNoUse: water}, []string{"water"}},
		{"not learned: the night is no 6 h of the waking window", false, Thresholds{RuleWaterNoUse: water}, []string{"water"}},
		{"not learned: past no_motion's threshold, it agrees", false,
			Thresholds{RuleWaterNoUse: water, RuleNoMotion: {"hours": 0.5, "window": "00:00-24:00"}}, []string{"water", "motion"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEngine(t)
			if err := e.SetHousehold("h1", Settings{Overrides: tc.over}); err != nil {
				t.Fatal(err)
			}
			first := 0
			if !tc.learned {
				first = tuesday - 1
			}
			// Sorted by time: the PIR's days and the meter's two readings.
			ss := steps(life(first, tuesday, usualWeek), withWater(first, tuesday))
			slices.SortStableFunc(ss, func(a, b step) int { return int(stepAt(a) - stepAt(b)) })
			ss = steps(ss, every(midnight(tuesday), midnight(tuesday)+7*h, 15*m, unchanged(float64(2*tuesday-1)), pirBeat))
			alerts := runAlerts(e, ss)
			i := slices.IndexFunc(alerts, func(a Alert) bool { return a.Rule == RuleWaterNoUse && !a.Cleared })
			if i < 0 {
				t.Fatalf("no water_no_use in %v", names(alerts))
			}
			if a := alerts[i]; !slices.Equal(a.Signals, tc.want) {
				t.Errorf("%s signals %v, want %v", names(alerts[i:i+1]), a.Signals, tc.want)
			}
		})
	}
}

func stepAt(s step) time.Duration {
	if s.reading != nil {
		return s.reading.TS.Sub(t0)
	}
	return s.tick
}
