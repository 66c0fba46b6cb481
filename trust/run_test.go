package trust

import (
	"fmt"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/app"
	"github.com/eldersafe/eldersafe/app/apptest"
	"github.com/eldersafe/eldersafe/simulator"
)

// scripted is a small neighbourhood with one real incident of each kind the
// rules see at once or late, and a day out nobody reported.
const scripted = `
name: trust scripted
duration: 2d
households:
  count: 4
  profiles: [regular]
incidents:
  - {at: day 1 10:00, household: h1, action: fall}
  - {at: day 1 11:00, household: h2, action: immobile}
  - {at: day 1 07:50, household: h3, action: leaves, for: 14h}
  - {at: day 2 07:50, household: h3, action: leaves, for: 14h}
no_other_tasks: false
`

func TestMeasureScripted(t *testing.T) {
	sc, err := simulator.Decode("scripted.yaml", []byte(scripted))
	if err != nil {
		t.Fatal(err)
	}
	obs, err := Measure(t.Context(), app.DefaultConfig(), sc, apptest.Logger(t, slog.LevelError), nil)
	if err != nil {
		t.Fatal(err)
	}
	if obs.Households != 4 || obs.Span != 48*time.Hour || obs.Messages < 3000 {
		t.Fatalf("observed %d households over %s, %d messages", obs.Households, obs.Span, obs.Messages)
	}
	side := Judge(obs)
	row := func(rule string) Row {
		i := slices.IndexFunc(side.Rules, func(r Row) bool { return r.Rule == rule })
		if i < 0 {
			t.Fatalf("no task of %s: %+v", rule, side.Rules)
		}
		return side.Rules[i]
	}
	if r := row("fall"); r.Sent != 1 || r.True != 1 || r.Median != 0 {
		t.Errorf("fall: %+v, want one true, sent at once", r)
	}
	// Immobile from 11:00: 6 h after the last motion, which came a little before.
	if r := row("no_motion"); r.True != 1 || r.Median < Duration(5*time.Hour+30*time.Minute) || r.Median > Duration(6*time.Hour+15*time.Minute) {
		t.Errorf("no_motion: %+v, want one true about 6 h after the incident", r)
	}
	// Out from before breakfast to the evening: 12 h without water. The
	// worker closes the first task, so the second day out opens another.
	if r := row("water_no_use"); r.False != 2 {
		t.Errorf("water_no_use: %+v, want each day out as a false visit", r)
	}
	if obs.WorkerErrors != 0 {
		t.Errorf("%d of the workers' actions refused", obs.WorkerErrors)
	}
	if side.Visits.Missed != 0 {
		t.Errorf("%d incidents missed: %+v", side.Visits.Missed, side.Kinds)
	}
}

func TestMeasureSameSeedSameTasks(t *testing.T) {
	if testing.Short() {
		t.Skip("two population runs: skipped with -short")
	}
	tasks := func() []string {
		sc := simulator.NewScenario(12)
		sc.Population, sc.Seed, sc.Duration = true, 3, 3*24*time.Hour
		obs, err := Measure(t.Context(), app.DefaultConfig(), sc, apptest.Logger(t, slog.LevelError), nil)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, x := range obs.Tasks {
			out = append(out, fmt.Sprintf("%s %s %s %s", x.HouseholdID, x.Rule, x.Raised.UTC(), x.Sent.UTC()))
		}
		slices.Sort(out)
		return out
	}
	first, second := tasks(), tasks()
	if len(first) == 0 {
		t.Fatal("12 households lived 3 days without a task: the population is too quiet to compare")
	}
	if !slices.Equal(first, second) {
		t.Errorf("two runs of one seed differ:\n%v\n%v", first, second)
	}
}
