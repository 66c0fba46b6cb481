package rules

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// midnight is local 00:00 of day d (day 0 is Monday 2 March 2026) as an
// offset from t0.
func midnight(d int) time.Duration { return time.Duration(d)*24*h - 8*h }

// day is one day of a resident's life: up at wake, in bed at bed (local
// times), moving every 20 minutes in between.
type day struct{ wake, bed time.Duration }

// usualWeek is up at 07:00 and in bed at 22:00, but for Sundays: up at 09:00.
func usualWeek(d int) day {
	if d%7 == 6 {
		return day{9 * h, 22 * h}
	}
	return day{7 * h, 22 * h}
}

// life is days from to to (exclusive) of a PIR that sees the resident as
// days says and sends its heartbeat hourly, with the clock moving every 10
// minutes.
func life(from, to int, days func(d int) day) []step {
	var out []step
	for d := from; d < to; d++ {
		today := days(d)
		for at := time.Duration(0); at < 24*h; at += 10 * m {
			ts := midnight(d) + at
			out = append(out, tick(ts)...)
			if at%h == 0 {
				out = append(out, read(pirBeat(ts))...)
			}
			if at >= today.wake && at <= today.bed && at%(20*m) == 0 {
				out = append(out, read(pir(ts))...)
			}
		}
	}
	return out
}

// learned keeps the alerts of the learned rules only: no_motion watches
// the same quiet.
func learned(alerts []string) []string {
	return slices.DeleteFunc(alerts, func(a string) bool {
		return !strings.HasSuffix(a, RuleUnusualQuiet) && !strings.HasSuffix(a, RuleLateWake)
	})
}

func TestLearnedBaselines(t *testing.T) {
	const tuesday = 15 // the first day the rules speak: day 0 began with no night to end, days 1 to 14 were learned
	mornings := func(d int, alerts ...string) []string {
		for i, a := range alerts {
			offset, rule, _ := strings.Cut(a, " ")
			at, err := time.ParseDuration(offset)
			if err != nil {
				t.Fatal(err)
			}
			alerts[i] = (midnight(d) + at).String() + " " + rule
		}
		return alerts
	}
	for _, tc := range []struct {
		name  string
		steps []step
		want  []string
	}{
		{"silent before 14 days of data",
			steps(life(0, 14, usualWeek), life(14, 15, func(int) day { return day{24 * h, 0} })),
			nil},
		{"the usual life raises nothing",
			life(0, 22, usualWeek),
			nil},
		{"not up by the usual 07:00 plus 90 minutes",
			steps(life(0, tuesday, usualWeek), life(tuesday, tuesday+1, func(int) day { return day{11 * h, 22 * h} })),
			// 08:00: 10 h of quiet where 18 minutes are usual (the 2 h minimum);
			// 08:30: 07:00 and the margin.
			mornings(tuesday, "8h0m0s unusual_quiet", "8h30m0s late_wake", "11h0m0s !unusual_quiet", "11h0m0s !late_wake")},
		{"sleeping late on a Sunday is usual",
			steps(life(0, 20, usualWeek), life(20, 21, func(int) day { return day{9 * h, 22 * h} })),
			nil},
		{"sleeping late on a Sunday is not usual on a Monday",
			steps(life(0, 21, usualWeek), life(21, 22, func(int) day { return day{9 * h, 22 * h} })),
			mornings(21, "8h0m0s unusual_quiet", "8h30m0s late_wake", "9h0m0s !unusual_quiet", "9h0m0s !late_wake")},
		{"an afternoon quiet longer than usual",
			steps(life(0, tuesday, usualWeek), life(tuesday, tuesday+1, func(int) day { return day{7 * h, 13 * h} })),
			// In the afternoon quiet spans are 20 minutes: the 2 h minimum fires at 15:00.
			mornings(tuesday, "15h0m0s unusual_quiet")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEngine(t)
			if got := learned(run(e, tc.steps)); !slices.Equal(got, tc.want) {
				t.Errorf("alerts:\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

// TestBaselineThresholds: a household's factor, minimum and margin apply.
func TestBaselineThresholds(t *testing.T) {
	const tuesday = 15
	for _, tc := range []struct {
		name string
		over Thresholds
		want []string
	}{
		{"defaults", nil, []string{(midnight(tuesday) + 8*h).String() + " unusual_quiet", (midnight(tuesday) + 8*h + 30*m).String() + " late_wake"}},
		// 12 h from 22:00; 07:00 and 150 minutes.
		{"a longer minimum and margin", Thresholds{"unusual_quiet": {"min_hours": 12}, "late_wake": {"margin": 150}},
			[]string{(midnight(tuesday) + 9*h + 30*m).String() + " late_wake", (midnight(tuesday) + 10*h).String() + " unusual_quiet"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEngine(t)
			if err := e.SetHousehold("h1", Settings{Overrides: tc.over}); err != nil {
				t.Fatal(err)
			}
			got := learned(run(e, steps(life(0, tuesday, usualWeek), life(tuesday, tuesday+1, func(int) day { return day{24 * h, 0} }))))
			if !slices.Equal(got, tc.want) {
				t.Errorf("alerts:\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

// TestBaselineLearnsNothingFromAway: days away, and quiet while out, leave
// the baseline as it was.
func TestBaselineLearnsNothingFromAway(t *testing.T) {
	e := newEngine(t)
	run(e, life(0, 7, usualWeek))
	before := e.Baseline("h1")
	away := Period{From: t0.Add(midnight(7)), Until: t0.Add(midnight(9))}
	if err := e.SetHousehold("h1", Settings{Away: []Period{away}}); err != nil {
		t.Fatal(err)
	}
	run(e, steps(life(7, 9, func(int) day { return day{12 * h, 14 * h} }), read(pir(midnight(9)+7*h))))
	if after := e.Baseline("h1"); !reflect.DeepEqual(before.Weekdays[0:2], after.Weekdays[0:2]) {
		t.Errorf("learned from Monday and Tuesday away:\n%+v\n%+v", before.Weekdays[0:2], after.Weekdays[0:2])
	}
}

func TestBaselineReport(t *testing.T) {
	e := newEngine(t)
	if b := e.Baseline("h1"); b.Ready || b.DaysLearned != 0 || len(b.Weekdays) != 7 || b.Weekdays[0].UsualWake != "" {
		t.Errorf("baseline of an unknown household: %+v", b)
	}
	run(e, life(0, 15, usualWeek))
	b := e.Baseline("h1")
	if !b.Ready || b.DaysLearned != 14 || b.ReadyAfterDays != 14 {
		t.Errorf("after 15 days (the first without a night before it): ready %v, %d days learned", b.Ready, b.DaysLearned)
	}
	if b.Weekdays[0].Day != "Monday" || b.Weekdays[0].UsualWake != "07:00" || b.Weekdays[6].Day != "Sunday" || b.Weekdays[6].UsualWake != "09:00" {
		t.Errorf("wakes: %+v %+v", b.Weekdays[0], b.Weekdays[6])
	}
	// At 06:00 the night's quiet has lasted 8 hours; at 12:00, 20 minutes
	// (18 in 6-minute steps).
	if q := b.Weekdays[0].QuietHours; q[5] == nil || *q[5] != 8 || q[12] == nil || *q[12] != 0.3 {
		t.Errorf("Monday's quiet hours: 05:00 %v, 12:00 %v", deref(q[5]), deref(q[12]))
	}
}

func deref(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}

// TestBaselineAcrossRestart: what was learned, and the rules it drives, are
// the same after a restart.
func TestBaselineAcrossRestart(t *testing.T) {
	const tuesday = 15
	e := newEngine(t)
	run(e, life(0, tuesday, usualWeek))
	before := e.Baseline("h1")
	e = restart(t, e, map[string][]byte{}, t0.Add(midnight(tuesday)))
	if after := e.Baseline("h1"); !reflect.DeepEqual(before, after) {
		t.Errorf("baseline changed across the restart:\n%+v\n%+v", before, after)
	}
	got := learned(run(e, life(tuesday, tuesday+1, func(int) day { return day{24 * h, 0} })))
	want := []string{(midnight(tuesday) + 8*h).String() + " unusual_quiet", (midnight(tuesday) + 8*h + 30*m).String() + " late_wake"}
	if !slices.Equal(got, want) {
		t.Errorf("after the restart: %q, want %q", got, want)
	}
}

// TestRestoreVersion2: a state saved before baselines restores without one.
func TestRestoreVersion2(t *testing.T) {
	e := newEngine(t)
	run(e, read(meter(0, 1)))
	var data []byte
	if err := e.Checkpoint(func(b []State) error { data = b[0].Data; return nil }); err != nil {
		t.Fatal(err)
	}
	if data[len(data)-1] != 0 {
		t.Fatalf("a household without motion saved a baseline: % x", data)
	}
	v2 := append([]byte{2}, data[1:len(data)-1]...)
	fresh := newEngine(t)
	if err := fresh.Restore(State{HouseholdID: "h1", Data: v2}, t0); err != nil {
		t.Fatalf("version 2: %v", err)
	}
	if got := run(fresh, every(15*m, 13*h, 15*m, unchanged(1))); !slices.Equal(got, []string{"12h0m0s water_no_use"}) {
		t.Errorf("after restoring version 2: %q", got)
	}
}
