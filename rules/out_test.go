package rules

import (
	"slices"
	"testing"
	"time"
)

// TestPresumedOut: the rules that watch a resident at home wait while the
// door opened after the last motion, until the resident comes back (motion
// after the door) or outCeiling passes.
func TestPresumedOut(t *testing.T) {
	// Water at 08:00 and then not; the PIR and door report hourly.
	home := func(at time.Duration) []step {
		return every(at, at, 15*m, unchanged(100), pirBeat, doorBeat)
	}
	quiet := func(from, to time.Duration) []step {
		var out []step
		for at := from; at <= to; at += 15 * m {
			out = append(out, home(at)...)
		}
		return out
	}
	flat := func(at time.Duration) Reading { return power(at, 10) }
	runCases(t, nil, []ruleCase{
		{"a day out: no water for 12 h while out is no concern",
			// The register rose last at 08:15, after the resident left.
			steps(read(meter(0, 99), pir(m), door(2*m)), quiet(15*m, 14*h)), nil},
		{"back home, the countdown restarts from the return",
			// Out 08:02-20:00; back at 20:00 (door, then motion): no water
			// until 08:00 the next day.
			steps(read(meter(0, 99), pir(m), door(2*m)), quiet(15*m, 12*h-15*m),
				read(door(12*h), pir(12*h+m)), quiet(12*h, 24*h+15*m)),
			[]string{"24h15m0s water_no_use"}},
		{"water used after coming back starts the countdown from then",
			steps(read(meter(0, 99), pir(m), door(2*m)), quiet(15*m, 12*h-15*m),
				read(door(12*h), pir(12*h+m), meter(12*h+30*m, 104)), every(12*h+45*m, 25*h, 15*m, unchanged(104), pirBeat, doorBeat)),
			[]string{"24h30m0s water_no_use"}},
		{"a door that opens without a motion after it is looked at after 14 h",
			// A resident who opened the door and collapsed in the hall, out
			// of the PIRs' sight, looks out: both rules of the home fire at
			// the ceiling.
			steps(read(meter(0, 99), pir(m), door(2*m)), quiet(15*m, 16*h)),
			[]string{"14h15m0s water_no_use", "14h15m0s no_motion"}},
		{"a resident who comes home and collapses is looked for at once",
			// Back at 12:00, never seen again: no_motion 6 h of the waking
			// window later; water 12 h after the return (stamped at the
			// quarter hour that follows).
			steps(read(meter(0, 99), pir(m), door(2*m)), quiet(15*m, 4*h-15*m),
				read(door(4*h), pir(4*h+m)), quiet(4*h, 17*h)),
			[]string{"10h15m0s no_motion", "16h15m0s water_no_use"}},
		{"no power used while out is no concern either",
			// Out 13 hours, then at home and moving: the window that began
			// at 08:00 would end at 08:00 the next day (24h); it ends 24
			// hours after the return instead.
			steps(read(pir(m), door(2*m)), every(0, 13*h, 30*m, flat, pirBeat, doorBeat),
				read(door(13*h), pir(13*h+m)), every(13*h+30*m, 36*h, 30*m, flat, pir, doorBeat)),
			nil},
		{"a home without a PIR cannot tell who is out",
			steps(read(meter(0, 99), door(2*m)), every(15*m, 12*h+15*m, 15*m, unchanged(100), doorBeat)),
			[]string{"12h15m0s water_no_use"}},
	})
}

// TestReturnHomeAcrossRestart: the return home is part of the saved state,
// so the countdown it restarted goes on from it.
func TestReturnHomeAcrossRestart(t *testing.T) {
	saved := map[string][]byte{}
	e := newEngine(t)
	out := steps(read(meter(0, 99), pir(m), door(2*m)), every(15*m, 12*h-15*m, 15*m, unchanged(100), pirBeat, doorBeat),
		read(door(12*h), pir(12*h+m)), every(12*h, 14*h, 15*m, unchanged(100), pirBeat, doorBeat))
	if got := run(e, out); got != nil {
		t.Fatalf("before the restart: %q", got)
	}
	e = restart(t, e, saved, t0.Add(14*h))
	got := run(e, every(14*h+15*m, 25*h, 15*m, unchanged(100), pirBeat, doorBeat))
	if want := []string{"24h15m0s water_no_use"}; !slices.Equal(got, want) {
		t.Errorf("after the restart: %q, want %q (12 h after the return at 20:01)", got, want)
	}
}
