package trust

import (
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/app"
	"github.com/eldersafe/eldersafe/app/apptest"
	"github.com/eldersafe/eldersafe/simulator"
	"github.com/eldersafe/eldersafe/tasks"
)

// scripted is a small neighbourhood with one real incident of each kind the
// rules see at once or late, and two days out nobody reported.
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

// skipUnderRace skips a whole monitor's run under the race detector, where a
// simulated day's SQLite queries take minutes; TestWatcherConcurrently
// covers what runs concurrently in this package.
func skipUnderRace(t *testing.T) {
	t.Helper()
	if raceDetector {
		t.Skip("a monitor's run in process takes minutes under the race detector: run it without -race")
	}
}

func TestMeasureScripted(t *testing.T) {
	skipUnderRace(t)
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
	// Out from before breakfast to the evening: 12 h without water, while
	// the home looks left (the door opened after the last motion).
	for _, r := range side.Rules {
		if (r.Rule == "water_no_use" || r.Rule == "power_no_use") && r.False != 0 {
			t.Errorf("%s: %+v, want no false visit for a day out", r.Rule, r)
		}
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
	skipUnderRace(t)
	tasks := func() []string {
		// Large enough to raise tasks now that a day out raises none.
		sc := simulator.NewScenario(30)
		sc.Population, sc.Seed, sc.Duration = true, 3, 4*24*time.Hour
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
		t.Fatal("30 households lived 4 days without a task: the population is too quiet to compare")
	}
	if !slices.Equal(first, second) {
		t.Errorf("two runs of one seed differ:\n%v\n%v", first, second)
	}
}

// TestWatcherConcurrently: the monitor reports changes from its own
// goroutines (ingest's, the escalation timer's, the API's) while the run
// takes the workers' due actions.
func TestWatcherConcurrently(t *testing.T) {
	var w watcher
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 50 {
				task := tasks.Task{ID: fmt.Sprintf("t%d-%d", g, i), HouseholdID: "h1", Rule: "no_motion", Kind: "visit",
					State: tasks.Open, AssigneeID: "w1", OpenedAt: at(float64(i))}
				w.change(task, tasks.ChangeOpened, task.OpenedAt)
				w.change(task, tasks.ChangeEscalated, task.OpenedAt.Add(time.Hour))
			}
		})
	}
	var taken []action
	wg.Go(func() {
		for h := range 60 {
			now := at(float64(h))
			due := w.due(now)
			for i, a := range due {
				if a.at.After(now) || i > 0 && a.at.Before(due[i-1].at) {
					t.Errorf("due(%s) gave an action at %s, out of place", now, a.at)
				}
			}
			taken = append(taken, due...)
		}
	})
	wg.Wait()
	taken = append(taken, w.due(at(100))...)
	if got := len(w.tasks()); got != 200 {
		t.Errorf("%d tasks seen, want 200", got)
	}
	if len(taken) != 400 { // an acknowledgement and a visit each
		t.Errorf("%d actions taken, want 400", len(taken))
	}
	for _, x := range w.tasks() {
		if !x.Sent.Equal(x.Raised) {
			t.Errorf("task %s: sent %s, raised %s: an escalation is not a second sending", x.ID, x.Sent, x.Raised)
		}
	}
}
