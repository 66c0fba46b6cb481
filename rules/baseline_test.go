package rules

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/binenc"
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
			// 08:30: 07:00 and the margin. The quiet began in the night, so it
			// is late_wake's alone, however short the usual quiet at 08:00.
			mornings(tuesday, "8h30m0s late_wake", "11h0m0s !late_wake")},
		{"sleeping late on a Sunday is usual",
			steps(life(0, 20, usualWeek), life(20, 21, func(int) day { return day{9 * h, 22 * h} })),
			nil},
		{"sleeping late on a Sunday is not usual on a Monday",
			steps(life(0, 21, usualWeek), life(21, 22, func(int) day { return day{9 * h, 22 * h} })),
			mornings(21, "8h30m0s late_wake", "9h0m0s !late_wake")},
		{"going to bed an hour early is not unusual",
			steps(life(0, tuesday, usualWeek), life(tuesday, tuesday+1, func(int) day { return day{7 * h, 21 * h} })),
			nil},
		{"three hours early is",
			steps(life(0, tuesday, usualWeek), life(tuesday, tuesday+1, func(int) day { return day{7 * h, 19 * h} })),
			mornings(tuesday, "21h0m0s unusual_quiet")},
		{"an afternoon quiet longer than usual",
			steps(life(0, tuesday, usualWeek), life(tuesday, tuesday+1, func(int) day { return day{7 * h, 13 * h} })),
			// In the afternoon quiet spans are 20 minutes: the 2 h minimum fires at 15:00.
			mornings(tuesday, "15h0m0s unusual_quiet")},
		{"an evening quiet runs until the usual night",
			steps(life(0, tuesday, usualWeek), life(tuesday, tuesday+1, func(int) day { return day{7 * h, 20*h + 20*m} })),
			// In bed at 22:00, the usual longest quiet of 22:00-23:00 is an
			// hour: still awake. The night's hours begin at 23:00.
			mornings(tuesday, "22h20m0s unusual_quiet")},
		{"an evening quiet that would be unusual only in the night is not",
			steps(life(0, tuesday, usualWeek), life(tuesday, tuesday+1, func(int) day { return day{7 * h, 21 * h} })),
			nil},
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
	next := (midnight(tuesday+1) + 7*h).String() + " !late_wake" // up the next morning
	for _, tc := range []struct {
		name string
		over Thresholds
		want []string
	}{
		// Not up: 07:00 and 90 minutes. Quiet from 12:00: 2 h where 20
		// minutes are usual.
		{"defaults", nil, []string{(midnight(tuesday) + 8*h + 30*m).String() + " late_wake", next, (midnight(tuesday+1) + 14*h).String() + " unusual_quiet"}},
		// 07:00 and 150 minutes; 12:00 and 4 h, or 5 times the usual 20
		// minutes (18 in 6-minute steps): 4 h.
		{"a longer minimum and margin", Thresholds{"unusual_quiet": {"min_hours": 4}, "late_wake": {"margin": 150}},
			[]string{(midnight(tuesday) + 9*h + 30*m).String() + " late_wake", next, (midnight(tuesday+1) + 16*h).String() + " unusual_quiet"}},
		// 8 times 18 minutes: 14:24, stamped at the next tick.
		{"a larger factor", Thresholds{"unusual_quiet": {"factor": 8}},
			[]string{(midnight(tuesday) + 8*h + 30*m).String() + " late_wake", next, (midnight(tuesday+1) + 14*h + 30*m).String() + " unusual_quiet"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEngine(t)
			if err := e.SetHousehold("h1", Settings{Overrides: tc.over}); err != nil {
				t.Fatal(err)
			}
			got := learned(run(e, steps(life(0, tuesday, usualWeek), life(tuesday, tuesday+1, func(int) day { return day{24 * h, 0} }),
				life(tuesday+1, tuesday+2, func(int) day { return day{7 * h, 12 * h} }))))
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
	if q := b.QuietHours; len(q) != 24 || q[5] == nil || *q[5] != 8 || q[12] == nil || *q[12] != 0.3 {
		t.Errorf("quiet hours: 05:00 %v, 12:00 %v", deref(q[5]), deref(q[12]))
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
	want := []string{(midnight(tuesday) + 8*h + 30*m).String() + " late_wake"}
	if !slices.Equal(got, want) {
		t.Errorf("after the restart: %q, want %q", got, want)
	}
}

// TestRestoreVersion2: a state saved before baselines restores without one.
func TestRestoreVersion2(t *testing.T) {
	e := newEngine(t)
	run(e, read(meter(0, 1)))
	var data []byte
	if err := e.Checkpoint(func(b []State, _ bool) error { data = b[0].Data; return nil }); err != nil {
		t.Fatal(err)
	}
	data = beforeVersion5(t, data)
	if data[len(data)-1] != 0 {
		t.Fatalf("a household without motion saved a baseline: % x", data)
	}
	// Version 2 had neither the return home (0, one byte after the other
	// times) nor the baseline's byte.
	d := binenc.NewDecoder(data[2:])
	for range 7 {
		d.Varint()
	}
	back := len(data) - d.Len()
	if data[back] != 0 {
		t.Fatalf("a household without motion came back home: % x", data)
	}
	v2 := slices.Concat([]byte{2}, data[1:back], data[back+1:len(data)-1])
	fresh := newEngine(t)
	if err := fresh.Restore(State{HouseholdID: "h1", Data: v2}, t0); err != nil {
		t.Fatalf("version 2: %v", err)
	}
	if got := run(fresh, every(15*m, 13*h, 15*m, unchanged(1))); !slices.Equal(got, []string{"12h0m0s water_no_use"}) {
		t.Errorf("after restoring version 2: %q", got)
	}
}

// TestRestoreVersion3: a baseline saved by hour of the week keeps, for each
// hour of the day, its longest over the weekdays.
func TestRestoreVersion3(t *testing.T) {
	e := newEngine(t)
	run(e, life(0, 15, usualWeek))
	var data []byte
	if err := e.Checkpoint(func(b []State, _ bool) error { data = b[0].Data; return nil }); err != nil {
		t.Fatal(err)
	}
	data = beforeVersion5(t, data)
	d := binenc.NewDecoder(data[2:])
	for range 8 {
		d.Varint()
	}
	back := len(data) - d.Len() - 1 // the last of the times, one byte: never out
	// Skip the devices to the baseline's byte.
	d.Float64() // power used
	for range d.Uvarint(maxDevices) {
		d.Bytes(maxText) // id
		d.Bytes(maxText) // room
		d.Fixed(2)       // kind and flags
		for range 4 {
			d.Varint()
		}
		d.Fixed(20) // values
	}
	quiet := len(data) - d.Len() + 1
	week := make([]byte, baselineV3Hours)
	for i := range week {
		week[i] = unlearned
	}
	week[0*hoursPerDay+5], week[1*hoursPerDay+5] = 10, 20 // 05:00 on Monday, Tuesday
	v3 := slices.Concat([]byte{3}, data[1:back], data[back+1:quiet], week, data[quiet+hoursPerDay:])
	fresh := newEngine(t)
	if err := fresh.Restore(State{HouseholdID: "h1", Data: v3}, t0); err != nil {
		t.Fatalf("version 3: %v", err)
	}
	b := fresh.Baseline("h1")
	if q := b.QuietHours; q[5] == nil || *q[5] != 2 || q[6] != nil {
		t.Errorf("quiet hours from version 3: 05:00 %v, 06:00 %v; want 2, nil", deref(q[5]), deref(q[6]))
	}
	if want := e.Baseline("h1"); b.DaysLearned != want.DaysLearned || !reflect.DeepEqual(b.Weekdays, want.Weekdays) {
		t.Errorf("wakes from version 3: %+v, want %+v", b.Weekdays, want.Weekdays)
	}
}

// beforeVersion5 is a state without the journal sequence version 5 ends
// with: 0, one byte, in an engine without a journal.
func beforeVersion5(t *testing.T, data []byte) []byte {
	t.Helper()
	if data[0] != 5 || data[len(data)-1] != 0 {
		t.Fatalf("not a version 5 state without a journal: % x", data)
	}
	return data[:len(data)-1]
}
