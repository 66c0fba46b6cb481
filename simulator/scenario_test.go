package simulator_test

import (
	"strings"
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/simulator"
)

func TestDecodeRefusesNamingTheLine(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       []string // each must appear in the error
	}{
		{"unknown top-level key", "name: x\nsed: 3\n", []string{`bad.yaml:2: unknown field "sed" in scenario`}},
		{"unknown key in an incident", "households: {count: 2}\nincidents:\n  - at: day 1 09:00\n    household: h1\n    action: fall\n    severity: high\n",
			[]string{`bad.yaml:6: unknown field "severity" in incident item`}},
		{"unknown key in households", "households:\n  count: 2\n  size: 3\n", []string{`bad.yaml:3: unknown field "size"`}},
		{"wrong type", "name: x\nseed: lots\n", []string{"bad.yaml:2:", "lots"}},
		{"count of the wrong type", "households:\n  count: [1, 2]\n", []string{"bad.yaml:2:"}},
		{"a list where a value goes", "households: {count: 2}\nincidents:\n  - at: [day 1 09:00]\n    household: h1\n    action: fall\n", []string{"bad.yaml:3: want a single value, got a list"}},
		{"unknown action", "households: {count: 2}\nincidents:\n  - at: day 1 09:00\n    household: h1\n    action: faint\n", []string{`bad.yaml:5: unknown action "faint"`, "tap_left_running"}},
		{"unknown household", "households: {count: 2}\nincidents:\n  - at: day 1 09:00\n    household: h9\n    action: fall\n", []string{`bad.yaml:4: unknown household "h9"`}},
		{"unknown rule", "households: {count: 2}\nexpect:\n  - household: h1\n    rule: no_water\n    within: 12h\n    after: start\n", []string{`bad.yaml:4: unknown rule "no_water"`, "water_no_use"}},
		{"unknown profile", "households:\n  count: 2\n  named:\n    - id: h1\n      profile: couch_potato\n", []string{`bad.yaml:5: unknown profile "couch_potato"`}},
		{"unknown device", "households: {count: 2}\nincidents:\n  - at: day 1 09:00\n    household: h1\n    action: device_offline\n    device: toaster\n", []string{`bad.yaml:6: unknown device "toaster"`}},
		{"device missing", "households: {count: 2}\nincidents:\n  - at: day 1 09:00\n    household: h1\n    action: battery_dies\n", []string{"bad.yaml:3: action battery_dies needs a device"}},
		{"device not taken", "households: {count: 2}\nincidents:\n  - at: day 1 09:00\n    household: h1\n    action: fall\n    device: wristband\n", []string{"bad.yaml:6: action fall takes no device"}},
		{"duration not taken", "households: {count: 2}\nincidents:\n  - at: day 1 09:00\n    household: h1\n    action: sos\n    for: 1h\n", []string{"bad.yaml:6: action sos takes no duration"}},
		{"duration missing", "households: {count: 2}\nincidents:\n  - at: day 1 09:00\n    household: h1\n    action: hospital\n", []string{"bad.yaml:3: action hospital needs a duration"}},
		{"bad day", "households: {count: 2}\nincidents:\n  - at: day 0 09:12\n    household: h1\n    action: fall\n", []string{`bad.yaml:3: time "day 0 09:12"`}},
		{"bad clock", "households: {count: 2}\nincidents:\n  - at: day 2 25:12\n    household: h1\n    action: fall\n", []string{`bad.yaml:3: time "day 2 25:12"`}},
		{"bad time", "households: {count: 2}\nincidents:\n  - at: tomorrow\n    household: h1\n    action: fall\n", []string{`bad.yaml:3: time "tomorrow"`}},
		{"bad duration", "duration: 3 days\n", []string{`bad.yaml:1: duration "3 days"`}},
		{"bad start", "start: next monday\n", []string{`bad.yaml:1: start "next monday"`}},
		{"bad timezone", "timezone: Mars/Olympus\n", []string{`bad.yaml:1: timezone "Mars/Olympus"`}},
		{"missing within", "households: {count: 2}\nexpect:\n  - household: h1\n    rule: fall\n    after: start\n", []string{"bad.yaml:3: expect: within is required"}},
		{"after an incident that is not there", "households: {count: 2}\nexpect:\n  - household: h1\n    rule: fall\n    within: 1m\n    after: incident\n", []string{"bad.yaml:6: after: incident, but household \"h1\" has no incident"}},
		{"last_message without device", "households: {count: 2}\nexpect:\n  - household: h1\n    rule: device_offline\n    within: 6h\n    after: last_message\n", []string{"bad.yaml:6: after: last_message needs a device"}},
		{"expected twice", "households: {count: 2}\nexpect:\n  - {household: h1, rule: fall, within: 1m, after: start}\n  - {household: h1, rule: fall, within: 2m, after: start}\n", []string{"bad.yaml:4: h1 fall expected twice (first on line 3)"}},
		{"key given twice", "name: a\nname: b\n", []string{"bad.yaml:2:", "name"}},
		{"syntax error", "households:\n  count: 2\n incidents: []\n", []string{"bad.yaml:2: did not find expected key"}},
		{"two documents", "name: a\n---\nname: b\n", []string{"bad.yaml:2: a scenario file holds one YAML document"}},
		{"not a mapping", "- fall\n", []string{"bad.yaml:1: a scenario is a mapping"}},
		{"empty", "", []string{"bad.yaml: empty scenario"}},
		{"several at once", "sed: 1\nduration: forever\n", []string{"bad.yaml:1: unknown field", "bad.yaml:2: duration"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc, err := simulator.Decode("bad.yaml", []byte(tt.yaml))
			if err == nil {
				t.Fatalf("decoded %+v; want an error", sc)
			}
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error does not say %q:\n%v", want, err)
				}
			}
		})
	}
}

func TestDecodeReadsEveryField(t *testing.T) {
	sc, err := simulator.Decode("ok.yaml", []byte(`
name: every field
description: all of them
seed: 99
start: 2026-04-06 06:00
timezone: Asia/Urumqi
duration: 1d12h
households:
  count: 3
  profiles: [night_owl]
  named:
    - id: home-a
      profile: early_riser
incidents:
  - id: slip
    at: 33h12m
    household: home-a
    action: fall
  - at: day 1 09:00
    household: h2
    action: garbage
    device: wristband
    for: 30m
    count: 4
expect:
  - household: home-a
    rule: fall
    within: 1m
    after: incident:slip
  - household: h2
    rule: battery_low
    within: 1d
    after: day 1 08:00
no_other_tasks: false
`))
	if err != nil {
		t.Fatal(err)
	}
	loc, _ := time.LoadLocation("Asia/Urumqi")
	switch {
	case sc.Seed != 99, sc.Name != "every field", !sc.Start.Equal(time.Date(2026, 4, 6, 6, 0, 0, 0, loc)),
		sc.Location.String() != "Asia/Urumqi", sc.Duration != 36*time.Hour, sc.NoOtherTasks:
		t.Errorf("scenario = %+v", sc)
	}
	if got := strings.Join(sc.HouseholdIDs(), ","); got != "h1,h2,h3,home-a" {
		t.Errorf("households %s, want h1,h2,h3,home-a", got)
	}
	if len(sc.Incidents) != 2 || sc.Incidents[1].Count != 4 || sc.Incidents[1].For != 30*time.Minute {
		t.Errorf("incidents = %+v", sc.Incidents)
	}
	if got := sc.Incidents[0].At.At(sc.Start, sc.Location); !got.Equal(sc.Start.Add(33*time.Hour + 12*time.Minute)) {
		t.Errorf("33h12m after the start is %v", got)
	}
	if got := sc.Incidents[1].At.At(sc.Start, sc.Location); !got.Equal(time.Date(2026, 4, 6, 9, 0, 0, 0, loc)) {
		t.Errorf("day 1 09:00 is %v", got)
	}
}

func TestLibraryDecodes(t *testing.T) {
	names := simulator.Library()
	for _, want := range []string{"fall.yaml", "sos.yaml", "water_no_use.yaml", "water_continuous_flow.yaml", "no_motion.yaml", "no_exit.yaml",
		"power_no_use.yaml", "device_offline.yaml", "battery_low.yaml", "normal_week.yaml", "away_week.yaml",
		"garbage.yaml", "duplicates.yaml", "out_of_order.yaml", "clock_skew.yaml", "demo.yaml"} {
		sc, err := simulator.Load(want)
		if err != nil {
			t.Errorf("%s: %v (library: %v)", want, err, names)
			continue
		}
		if _, err := simulator.NewWorld(sc, "eldersafe/v1", ""); err != nil {
			t.Errorf("%s: %v", want, err)
		}
	}
	if _, err := simulator.Load("fall"); err != nil {
		t.Errorf("a library name without .yaml: %v", err)
	}
	if _, err := simulator.Load("no-such-scenario"); err == nil || !strings.Contains(err.Error(), "fall.yaml") {
		t.Errorf("an unknown name: %v; want an error listing the library", err)
	}
}

func TestIncidentOutsideTheRun(t *testing.T) {
	sc, err := simulator.Decode("late.yaml", []byte("duration: 1d\nhouseholds: {count: 1}\nincidents:\n  - {at: day 3 09:00, household: h1, action: fall}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := simulator.NewWorld(sc, "eldersafe/v1", ""); err == nil || !strings.Contains(err.Error(), "late.yaml:4: incident at day 3 09:00") {
		t.Errorf("NewWorld: %v; want the incident's line", err)
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"90m", 90 * time.Minute, true},
		{"33h12m", 33*time.Hour + 12*time.Minute, true},
		{"7d", 7 * 24 * time.Hour, true},
		{"1d12h", 36 * time.Hour, true},
		{"0d", 0, true},
		{"", 0, false},
		{"d", 0, false},
		{"-3h", 0, false},
		{"1d-3h", 0, false},
		{"3 days", 0, false},
		{"400d", 0, false},
	}
	for _, tt := range tests {
		got, err := simulator.ParseDuration(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
		if tt.ok && tt.want > 0 {
			if back, err := simulator.ParseDuration(simulator.FormatDuration(got)); err != nil || back != got {
				t.Errorf("FormatDuration(%v) = %q does not read back", got, simulator.FormatDuration(got))
			}
		}
	}
}

func FuzzDecode(f *testing.F) {
	for _, name := range simulator.Library() {
		sc, err := simulator.Load(name)
		if err != nil {
			f.Fatal(err)
		}
		_ = sc
		data, err := simulator.LibraryFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("incidents:\n  - {at: day 1 09:00, household: h1, action: fall}\n"))
	f.Add([]byte("households: {count: -1}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		done := make(chan struct{})
		go func() {
			defer close(done)
			fuzzOne(t, data)
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("hung on %q", data)
		}
	})
}

func fuzzOne(t *testing.T, data []byte) {
	{
		sc, err := simulator.Decode("fuzz.yaml", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.yaml") {
				t.Errorf("error does not name the file: %v", err)
			}
			return
		}
		if sc.Count > 50 || len(sc.Named) > 50 {
			return // a world that large costs the fuzzer more than it finds
		}
		w, err := simulator.NewWorld(sc, "eldersafe/v1", "")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.yaml") {
				t.Errorf("error does not name the file: %v", err)
			}
			return
		}
		for range 2000 {
			if _, ok := w.Next(); !ok {
				break
			}
		}
	}
}
