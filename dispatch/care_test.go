package dispatch_test

import (
	"context"
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/clock"
	"github.com/eldersafe/eldersafe/dispatch"
	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
	"github.com/eldersafe/eldersafe/store"
	"github.com/eldersafe/eldersafe/tasks"
)

// TestCareLevelThresholds: at start and after a change, a household runs on
// its care level's profile, under its own overrides, over the global values.
func TestCareLevelThresholds(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	must(t, db.CreateGrid(ctx, registry.Grid{ID: "g1", Name: "Grid 1"}))
	for id, level := range map[string]registry.CareLevel{"self": "", "semi": registry.CareSemi, "dep": registry.CareDependent, "own": registry.CareSemi, "selfown": "", "zoned": ""} {
		h := registry.Household{ID: id, Name: "N", Address: "A", GridID: "g1", CareLevel: level}
		if id == "zoned" {
			h.Timezone = "Asia/Tokyo"
		}
		must(t, db.CreateHousehold(ctx, h))
	}
	must(t, db.SetHouseholdThresholds(ctx, "own", rules.Thresholds{"no_motion": {"hours": 5.0}}))
	// self_care, no zone of its own: only its overrides set it apart.
	must(t, db.SetHouseholdThresholds(ctx, "selfown", rules.Thresholds{"no_motion": {"hours": 7.0}}))
	levels := map[registry.CareLevel]rules.Thresholds{
		registry.CareSemi:      {"no_motion": {"hours": 4.0}},
		registry.CareDependent: {"no_motion": {"hours": 3.0}, "no_exit": {"hours": 720.0}},
	}
	newDispatcher := func() *dispatch.Dispatcher {
		engine, err := rules.NewEngine(rules.DefaultConfig(), time.UTC)
		must(t, err)
		d, err := dispatch.New(dispatch.Options{Engine: engine, Tasks: &tasks.Service{}, Store: db, Clock: clock.NewEvent(t0), CareLevels: levels})
		must(t, err)
		err = d.Load(ctx, &devicesTold{})
		must(t, err)
		return d
	}
	d := newDispatcher()
	check := func(when, id string, noMotion, noExit float64) {
		t.Helper()
		th := d.Thresholds(id)
		if th["no_motion"]["hours"] != noMotion || th["no_exit"]["hours"] != noExit {
			t.Errorf("%s, %s: no_motion %v, no_exit %v; want %v, %v", when, id, th["no_motion"]["hours"], th["no_exit"]["hours"], noMotion, noExit)
		}
	}
	for _, c := range []struct {
		id               string
		noMotion, noExit float64
	}{{"self", 6, 72}, {"semi", 4, 72}, {"dep", 3, 720}, {"own", 5, 72}, {"selfown", 7, 72}, {"zoned", 6, 72}} {
		check("at start", c.id, c.noMotion, c.noExit)
	}
	if loc := d.Location("zoned"); loc.String() != "Asia/Tokyo" {
		t.Errorf("at start, zoned is in %s, want Asia/Tokyo", loc)
	}
	// A self_care profile applies to every household of no other level.
	levels[registry.CareSelfCare] = rules.Thresholds{"no_motion": {"hours": 8.0}}
	d = newDispatcher()
	for _, c := range []struct {
		id               string
		noMotion, noExit float64
	}{{"self", 8, 72}, {"zoned", 8, 72}, {"selfown", 7, 72}, {"semi", 4, 72}} {
		check("with a self_care profile", c.id, c.noMotion, c.noExit)
	}
	delete(levels, registry.CareSelfCare)
	d = newDispatcher()
	must(t, db.SetCareLevel(ctx, "own", registry.CareDependent))
	must(t, d.HouseholdChanged(ctx, "own"))
	check("after a change of level", "own", 5, 720)
	must(t, d.SetConfig(func() rules.Config {
		c, err := rules.DefaultConfig().With(rules.Thresholds{"no_exit": {"hours": 48.0}})
		must(t, err)
		return c
	}()))
	check("after a reload", "self", 6, 48)
	check("after a reload", "dep", 3, 720)
}

// TestRunSchedulesRoutineVisits: the running decision step schedules the
// month's routine visits of a household registered before the clock
// reached the month (tasks' tests hold that it happens once).
func TestRunSchedulesRoutineVisits(t *testing.T) {
	e := newEnv(t)
	e.run(t)
	deadline := time.Now().Add(10 * time.Second)
	for len(e.tasksOf(t, rules.RuleRoutineVisit)) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no routine visit scheduled within 10 s of running")
		}
		time.Sleep(20 * time.Millisecond) // waits for Run's goroutine, not for time to pass in the domain
	}
	// t0 is 2 March, 09:00 in Shanghai: both of self_care's visits.
	if got := e.tasksOf(t, rules.RuleRoutineVisit); len(got) != 2 || got[0].DueAt == nil {
		t.Errorf("routine visits %+v, want 2 with a due time", got)
	}
}
