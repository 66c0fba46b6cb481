package simulator_test

import (
	"strings"
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/simulator"
)

const checked = `
start: 2026-03-02T00:00:00+08:00
duration: 2d
households:
  count: 3
incidents:
  - {at: day 2 09:12, household: h1, action: fall}
  - {at: day 1 19:30, household: h2, action: immobile}
expect:
  - {household: h1, rule: fall, within: 1m}
  - {household: h2, rule: water_no_use, within: 12h20m, after: last_water_use}
`

func TestCheck(t *testing.T) {
	sc, err := simulator.Decode("checked.yaml", []byte(checked))
	if err != nil {
		t.Fatal(err)
	}
	at := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	anchors := map[string]simulator.Anchors{
		"h1": {Incidents: []time.Time{at("2026-03-03T09:12:00+08:00")}},
		"h2": {WaterRise: at("2026-03-02T19:15:00+08:00"), Incidents: []time.Time{at("2026-03-02T19:30:00+08:00")}},
	}
	fall := simulator.Task{ID: "t-fall", HouseholdID: "sim-h1", Rule: "fall", Severity: "critical", OpenedAt: at("2026-03-03T09:12:00+08:00")}
	water := simulator.Task{ID: "t-water", HouseholdID: "sim-h2", Rule: "water_no_use", Severity: "high", OpenedAt: at("2026-03-03T07:15:30+08:00")}
	lateWater := water
	lateWater.OpenedAt = at("2026-03-03T09:00:00+08:00")
	falseAlarm := simulator.Task{ID: "t-motion", HouseholdID: "sim-h3", Rule: "no_motion", Severity: "high", OpenedAt: at("2026-03-02T15:00:00+08:00")}
	stranger := simulator.Task{ID: "t-other", HouseholdID: "real-h3", Rule: "fall", OpenedAt: at("2026-03-02T15:00:00+08:00")}

	tests := []struct {
		name         string
		tasks        []simulator.Task
		ok           bool
		met, missed  int
		unexpected   int
		reportSays   []string
		reportDenies []string
	}{
		{"all met", []simulator.Task{fall, water, stranger}, true, 2, 0, 0,
			[]string{"ok         h1 fall", "ok         h2 water_no_use", "2 expected task(s) opened in time, 0 missed, 0 unexpected"}, []string{"real-h3"}},
		{"a task missing", []simulator.Task{fall}, false, 1, 1, 0,
			[]string{"MISSED     h2 water_no_use: no task opened; wanted between 2026-03-02 19:15:00 CST and 2026-03-03 07:35:00 CST (12h20m after the last water use)"}, nil},
		{"a task late", []simulator.Task{fall, lateWater}, false, 1, 1, 0,
			[]string{"MISSED     h2 water_no_use: task t-water opened at 2026-03-03 09:00:00 CST, outside the bound"}, nil},
		{"a false alarm", []simulator.Task{fall, water, falseAlarm}, false, 2, 0, 1,
			[]string{"UNEXPECTED sim-h3 no_motion: task t-motion (high) opened at 2026-03-02 15:00:00 CST"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := simulator.Check(sc, anchors, "sim-", tt.tasks)
			if r.OK() != tt.ok || len(r.Met) != tt.met || len(r.Missed) != tt.missed || len(r.Unexpected) != tt.unexpected {
				t.Errorf("ok %v, %d met, %d missed, %d unexpected; want %v, %d, %d, %d", r.OK(), len(r.Met), len(r.Missed), len(r.Unexpected), tt.ok, tt.met, tt.missed, tt.unexpected)
			}
			var b strings.Builder
			r.Write(&b)
			for _, s := range tt.reportSays {
				if !strings.Contains(b.String(), s) {
					t.Errorf("report does not say %q:\n%s", s, b.String())
				}
			}
			for _, s := range tt.reportDenies {
				if strings.Contains(b.String(), s) {
					t.Errorf("report mentions %q:\n%s", s, b.String())
				}
			}
		})
	}

	t.Run("no_other_tasks false", func(t *testing.T) {
		lenient := *sc
		lenient.NoOtherTasks = false
		if r := simulator.Check(&lenient, anchors, "sim-", []simulator.Task{fall, water, falseAlarm}); !r.OK() || len(r.Unexpected) != 1 {
			t.Errorf("ok %v with %d other tasks; want ok, and the other task still listed", r.OK(), len(r.Unexpected))
		}
	})
	t.Run("an anchor that never happened", func(t *testing.T) {
		r := simulator.Check(sc, map[string]simulator.Anchors{"h1": anchors["h1"]}, "sim-", []simulator.Task{fall, water})
		if r.OK() || len(r.Missed) != 1 || !strings.Contains(r.Missed[0].Problem, "the last water use never happened") {
			t.Errorf("missed %+v", r.Missed)
		}
	})
}

// A deliberately wrong expectation, against the real server: h2 falls, but
// the file expects an SOS. The checker names the miss and reports the fall as
// unexpected.
func TestWrongExpectationFails(t *testing.T) {
	sc, err := simulator.Decode("wrong.yaml", []byte(`
name: wrong
seed: 7
duration: 1d
households:
  count: 2
incidents:
  - {at: day 1 09:12, household: h2, action: fall}
expect:
  - {household: h2, rule: sos, within: 1m}
`))
	if err != nil {
		t.Fatal(err)
	}
	out, report := simulate(t, startMonitor(t), sc, 0)
	if out.Report.OK() {
		t.Fatalf("a wrong expectation passed:\n%s", report)
	}
	for _, want := range []string{
		"MISSED     h2 sos: no task opened; wanted between 2026-03-02 09:12:00 CST and 2026-03-02 09:13:00 CST",
		"UNEXPECTED sim-h2 fall:",
		"0 expected task(s) opened in time, 1 missed, 1 unexpected",
	} {
		if !strings.Contains(report, want) {
			t.Errorf("report does not say %q:\n%s", want, report)
		}
	}
}
