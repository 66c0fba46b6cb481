package trust

import (
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/simulator"
)

var t0 = time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)

func at(h float64) time.Time { return t0.Add(time.Duration(h * float64(time.Hour))) }

func TestJudge(t *testing.T) {
	fall := simulator.Truth{HouseholdID: "h1", Kind: "fall", Visit: true, Start: at(0), End: at(0)}
	stroke := simulator.Truth{HouseholdID: "h2", Kind: "stroke", Visit: true, Start: at(1), End: at(25)}
	tap := simulator.Truth{HouseholdID: "h3", Kind: "tap_left_running", Visit: true, Start: at(2), End: at(4)}
	dead := simulator.Truth{HouseholdID: "h1", Kind: "battery_dies", Start: at(0), End: at(48)}
	for _, tc := range []struct {
		name  string
		truth []simulator.Truth
		tasks []Task
		// want is the visits' row and the maintenance row.
		visits, upkeep Row
		falsePerMonth  float64
	}{
		{
			name:   "a fall sent at once is true",
			truth:  []simulator.Truth{fall},
			tasks:  []Task{{HouseholdID: "h1", Rule: "fall", Kind: "visit", Raised: at(0), Sent: at(0)}},
			visits: Row{Rule: "visits", Visit: true, Raised: 1, Sent: 1, True: 1},
		},
		{
			name:          "a task in another household is false and the incident missed",
			truth:         []simulator.Truth{fall},
			tasks:         []Task{{HouseholdID: "h2", Rule: "fall", Kind: "visit", Raised: at(0), Sent: at(0)}},
			visits:        Row{Rule: "visits", Visit: true, Raised: 1, Sent: 1, False: 1, Missed: 1},
			falsePerMonth: 1, // one household-month
		},
		{
			name:  "found late: the time to send counts from the incident's start",
			truth: []simulator.Truth{stroke},
			tasks: []Task{
				{HouseholdID: "h2", Rule: "water_no_use", Kind: "visit", Raised: at(13), Sent: at(13)},
				{HouseholdID: "h2", Rule: "no_motion", Kind: "visit", Raised: at(9), Sent: at(9)},
			},
			visits: Row{Rule: "visits", Visit: true, Raised: 2, Sent: 2, True: 2, Median: Duration(8 * time.Hour), P95: Duration(12 * time.Hour)},
		},
		{
			name:  "within the grace after the end is true, past it false",
			truth: []simulator.Truth{tap},
			tasks: []Task{
				{HouseholdID: "h3", Rule: "water_continuous_flow", Kind: "visit", Raised: at(5), Sent: at(5)},
				{HouseholdID: "h3", Rule: "water_no_use", Kind: "visit", Raised: at(5.1), Sent: at(5.1)},
			},
			visits:        Row{Rule: "visits", Visit: true, Raised: 2, Sent: 2, True: 1, False: 1, Median: Duration(3 * time.Hour), P95: Duration(3 * time.Hour)},
			falsePerMonth: 1,
		},
		{
			name:   "a task settled before a worker was sent is no visit",
			truth:  nil,
			tasks:  []Task{{HouseholdID: "h1", Rule: "no_motion", Kind: "visit", Raised: at(3)}},
			visits: Row{Rule: "visits", Visit: true, Raised: 1},
		},
		{
			name:  "a device's task is judged against its faults, not the resident's incidents",
			truth: []simulator.Truth{fall, dead},
			tasks: []Task{
				{HouseholdID: "h1", Rule: "battery_low", Kind: "maintenance", Raised: at(2), Sent: at(2)},
				{HouseholdID: "h1", Rule: "fall", Kind: "visit", Raised: at(0), Sent: at(0.5)},
			},
			visits: Row{Rule: "visits", Visit: true, Raised: 1, Sent: 1, True: 1, Median: Duration(30 * time.Minute), P95: Duration(30 * time.Minute)},
			upkeep: Row{Rule: "maintenance", Raised: 1, Sent: 1, True: 1, Median: Duration(2 * time.Hour), P95: Duration(2 * time.Hour)},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			side := Judge(Observed{Tasks: tc.tasks, Truth: tc.truth, Households: 1, Span: 30 * 24 * time.Hour})
			if tc.upkeep.Rule == "" {
				tc.upkeep.Rule = "maintenance"
			}
			if side.Visits != tc.visits {
				t.Errorf("visits: %+v\nwant    %+v", side.Visits, tc.visits)
			}
			if side.Maintenance != tc.upkeep {
				t.Errorf("maintenance: %+v\nwant         %+v", side.Maintenance, tc.upkeep)
			}
			if side.FalseVisitsPerHouseholdMonth != tc.falsePerMonth {
				t.Errorf("false visits per household-month %v, want %v", side.FalseVisitsPerHouseholdMonth, tc.falsePerMonth)
			}
		})
	}
}

func TestJudgeRulesAndKinds(t *testing.T) {
	side := Judge(Observed{
		Truth: []simulator.Truth{
			{HouseholdID: "h1", Kind: "stroke", Visit: true, Start: at(0), End: at(30)},
			{HouseholdID: "h2", Kind: "stroke", Visit: true, Start: at(0), End: at(5)},
		},
		Tasks: []Task{
			{HouseholdID: "h1", Rule: "no_motion", Kind: "visit", Raised: at(7), Sent: at(7)},
			{HouseholdID: "h1", Rule: "water_no_use", Kind: "visit", Raised: at(12), Sent: at(12)},
			{HouseholdID: "h9", Rule: "water_no_use", Kind: "visit", Raised: at(12), Sent: at(12)},
		},
		Households: 10, Span: 30 * 24 * time.Hour,
	})
	// In the rule table's order: water_no_use before no_motion.
	if len(side.Rules) != 2 || side.Rules[0].Rule != "water_no_use" || side.Rules[1].Rule != "no_motion" {
		t.Fatalf("rules %+v", side.Rules)
	}
	if r := side.Rules[0]; r.Sent != 2 || r.True != 1 || r.False != 1 || r.Median != Duration(12*time.Hour) {
		t.Errorf("water_no_use %+v", r)
	}
	// The stroke found by two tasks counts once, from the first worker sent.
	want := KindRow{Kind: "stroke", Visit: true, Count: 2, Missed: 1, Median: Duration(7 * time.Hour), P95: Duration(7 * time.Hour)}
	if len(side.Kinds) != 1 || side.Kinds[0] != want {
		t.Errorf("kinds %+v, want [%+v]", side.Kinds, want)
	}
	if side.FalseVisitsPerHouseholdMonth != 0.1 {
		t.Errorf("false visits per household-month %v, want 0.1", side.FalseVisitsPerHouseholdMonth)
	}
}
