package store_test

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
	"github.com/eldersafe/eldersafe/tasks"
)

func TestCareLevel(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	seed(t, db)
	must(t, db.CreateHousehold(ctx, registry.Household{ID: "h2", Name: "Wu", Address: "2 Road", GridID: "g1", CareLevel: registry.CareSemi}))
	for _, c := range []struct {
		name, id string
		level    registry.CareLevel
		want     error
	}{
		{"dependent", "h1", registry.CareDependent, nil},
		{"unknown household", "nobody", registry.CareSemi, registry.ErrNotFound},
		{"unknown level", "h1", "bedridden", errors.New("care_level")},
		{"empty level", "h1", "", errors.New("care_level")},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := db.SetCareLevel(ctx, c.id, c.level)
			switch {
			case c.want == nil && err != nil, c.want != nil && err == nil:
				t.Fatalf("err = %v, want %v", err, c.want)
			case errors.Is(c.want, registry.ErrNotFound) && !errors.Is(err, registry.ErrNotFound):
				t.Fatalf("err = %v, want not found", err)
			}
		})
	}
	fields, err := db.HouseholdRuleFields(ctx, true, "")
	must(t, err)
	if fields["h1"].CareLevel != registry.CareDependent || fields["h2"].CareLevel != registry.CareSemi || len(fields) != 2 {
		t.Errorf("care levels %v", fields)
	}
	h, err := db.Household(ctx, "h1")
	must(t, err)
	list, err := db.Households(ctx, nil, 0)
	must(t, err)
	if h.CareLevel != registry.CareDependent || len(list) != 2 || list[1].CareLevel != registry.CareSemi {
		t.Errorf("household %s, listing %+v", h.CareLevel, list)
	}
}

// TestRoutineStore: a month is marked once; a household has several routine
// visits open at once; they are listed by kind and due time and sampled by
// due month; ratings are one per task and rater, and reach the SLA samples.
func TestRoutineStore(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	seed(t, db)
	for _, want := range []bool{true, false} {
		var fresh bool
		must(t, db.Update(ctx, func(tx tasks.Tx) (err error) {
			fresh, err = tx.MarkRoutineMonth(ctx, "h1", "2025-03", 2, t0)
			return err
		}))
		if fresh != want {
			t.Errorf("MarkRoutineMonth: %v, want %v", fresh, want)
		}
	}
	for month, want := range map[string]int{"2025-03": 0, "2025-04": 1} {
		list, err := db.RoutineHouseholds(ctx, month)
		must(t, err)
		if len(list) != want || (want == 1 && (list[0].ID != "h1" || list[0].CareLevel != registry.CareSelfCare)) {
			t.Errorf("%s: %+v, want %d households", month, list, want)
		}
	}

	routine := func(id string, due time.Time) tasks.Task {
		task := newTask(id, "h1", rules.RuleRoutineVisit, t0)
		task.Kind, task.Severity, task.DueAt = rules.RoutineVisit, rules.Low, &due
		return task
	}
	march, april := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(2025, 4, 1, 0, 0, 0, 0, time.UTC)
	insertTask(t, db, routine("r1", march.Add(-time.Millisecond)))
	insertTask(t, db, routine("r2", march))
	insertTask(t, db, routine("r3", april.Add(-time.Millisecond)))
	insertTask(t, db, routine("r4", april))
	fall := newTask("f1", "h1", rules.RuleFall, t0)
	fall.State = tasks.Resolved
	insertTask(t, db, fall)

	listed, err := db.Tasks(ctx, tasks.Filter{Kind: rules.RoutineVisit, DueBefore: april})
	must(t, err)
	if got := taskIDs(listed); len(got) != 3 || got[0] != "r3" {
		t.Errorf("routine visits due before April: %v, want r3, r2, r1", got)
	}
	got, err := db.Task(ctx, "r2")
	must(t, err)
	if got.DueAt == nil || !got.DueAt.Equal(march) {
		t.Errorf("due_at %v, want %v", got.DueAt, march)
	}
	samples, households, err := db.RoutineSamples(ctx, march, april)
	must(t, err)
	if len(samples) != 2 || households["g1"] != 1 {
		t.Errorf("samples %+v, households %v; want r2 and r3, one household in g1", samples, households)
	}

	for _, c := range []struct {
		task, by string
		stars    int
		want     error
	}{
		{"f1", "fam1", 4, nil},
		{"f1", "fam2", 5, nil},
		{"f1", "fam1", 1, registry.ErrConflict},
		{"r2", "fam1", 2, nil},
	} {
		err := db.Update(ctx, func(tx tasks.Tx) error {
			return tx.InsertRating(ctx, tasks.Rating{TaskID: c.task, By: c.by, Stars: c.stars, At: t0})
		})
		if !errors.Is(err, c.want) {
			t.Errorf("rating %s by %s: %v, want %v", c.task, c.by, err, c.want)
		}
	}
	rated, err := db.RatingsBy(ctx, "fam1", []string{"f1", "r2", "r1"})
	must(t, err)
	if len(rated) != 2 || rated["f1"].Stars != 4 || rated["r2"].Stars != 2 {
		t.Errorf("ratings by fam1: %+v", rated)
	}
	sla, err := db.SLASamples(ctx, t0.Add(-time.Hour), t0.Add(time.Hour), "")
	must(t, err)
	if len(sla) != 1 || sla[0].Ratings != 2 || sla[0].RatingStars != 9 {
		t.Errorf("SLA samples %+v; want the fall alone (no routine visits), 2 ratings of 9 stars", sla)
	}
	byWorker, err := db.SLAWorkerSamples(ctx, t0.Add(-time.Hour), t0.Add(time.Hour), "")
	must(t, err)
	if want := []tasks.SLAWorkerSample{{WorkerID: "w1", GridID: "g1", Ratings: 3, RatingStars: 11}}; !reflect.DeepEqual(byWorker, want) {
		t.Errorf("SLA worker samples %+v; want %+v: the fall's and the routine visit's ratings", byWorker, want)
	}
	for _, q := range []struct {
		from time.Time
		grid string
	}{{t0.Add(-time.Hour), "g2"}, {t0.Add(time.Millisecond), ""}} {
		if got, err := db.SLAWorkerSamples(ctx, q.from, t0.Add(time.Hour), q.grid); err != nil || len(got) != 0 {
			t.Errorf("SLA worker samples from %s in %q: %+v, %v; want none", q.from, q.grid, got, err)
		}
	}
}

func taskIDs(list []tasks.Task) []string {
	ids := make([]string, len(list))
	for i, t := range list {
		ids[i] = t.ID
	}
	return ids
}
