package store_test

import (
	"context"
	"errors"
	"fmt"
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
		var fresh map[string]bool
		must(t, db.Update(ctx, func(tx tasks.Tx) (err error) {
			fresh, err = tx.MarkRoutineMonths(ctx, "2025-03", map[string]int{"h1": 2}, t0)
			return err
		}))
		if fresh["h1"] != want || len(fresh) > 1 {
			t.Errorf("MarkRoutineMonths: %v, want h1: %v", fresh, want)
		}
	}
	for month, want := range map[string]int{"2025-03": 0, "2025-04": 1} {
		list, err := db.RoutineHouseholds(ctx, month)
		must(t, err)
		if len(list) != want || (want == 1 && (list[0].ID != "h1" || list[0].GridID != "g1" || list[0].CareLevel != registry.CareSelfCare)) {
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
	// No ids is an empty list, not JSON's null, which PostgreSQL refuses.
	if rated, err := db.RatingsBy(ctx, "fam1", nil); err != nil || len(rated) != 0 {
		t.Errorf("ratings by fam1 of no task: %+v, %v; want none", rated, err)
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

// TestRoutineInBatches: the month's pass reads, marks and inserts many
// households' visits at once, past the rows one statement takes.
func TestRoutineInBatches(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	seed(t, db)
	var (
		in  []registry.HouseholdImport
		ids []string
	)
	for i := range 150 {
		h := registry.Household{ID: fmt.Sprintf("b%03d", i), Name: "x", Address: "y", GridID: "g1"}
		if i%3 == 0 {
			h.CareLevel = registry.CareSemi
		}
		in, ids = append(in, registry.HouseholdImport{Household: h}), append(ids, h.ID)
	}
	_, errs, err := db.ImportHouseholds(ctx, in)
	must(t, errors.Join(append(errs, err)...))
	_, err = db.DeleteHousehold(ctx, "h1", t0, "op")
	must(t, err)

	must(t, db.Update(ctx, func(tx tasks.Tx) error {
		hs, err := tx.RoutineHouseholdsOf(ctx, append([]string{"h1", "nobody"}, ids...))
		if err != nil {
			return err
		}
		if len(hs) != len(ids) || hs["b003"] != (tasks.RoutineHousehold{ID: "b003", GridID: "g1", CareLevel: registry.CareSemi}) ||
			hs["b149"] != (tasks.RoutineHousehold{ID: "b149", GridID: "g1", CareLevel: registry.CareSelfCare}) {
			t.Errorf("RoutineHouseholdsOf: %d households, b003 %+v, b149 %+v; want the 150 registered", len(hs), hs["b003"], hs["b149"])
		}
		return nil
	}))

	mark := func(ids []string) map[string]bool {
		visits := make(map[string]int, len(ids))
		for _, id := range ids {
			visits[id] = 2
		}
		var fresh map[string]bool
		must(t, db.Update(ctx, func(tx tasks.Tx) (err error) {
			fresh, err = tx.MarkRoutineMonths(ctx, "2025-03", visits, t0)
			return err
		}))
		return fresh
	}
	if fresh := mark(ids[:70]); len(fresh) != 70 || !fresh["b000"] || !fresh["b069"] {
		t.Errorf("first marks: %d fresh, want 70", len(fresh))
	}
	if fresh := mark(ids); len(fresh) != 80 || fresh["b069"] || !fresh["b070"] || !fresh["b149"] {
		t.Errorf("marks again with 80 more: %d fresh (b069 %v, b070 %v), want the 80 not marked before", len(fresh), fresh["b069"], fresh["b070"])
	}

	visit := func(id, household string) tasks.Task {
		task := newTask(id, household, rules.RuleRoutineVisit, t0)
		task.Kind, task.Severity = rules.RoutineVisit, rules.Low
		task.Evidence = []rules.Evidence{{At: t0, Summary: "routine visit of " + id}}
		task.Timeline = []tasks.TimelineEntry{{At: t0, Actor: tasks.ActorSystem, Type: tasks.EntryOpened, Message: "opened " + id,
			Data: map[string]any{"due_at": "2025-03-20T00:00:00Z"}}}
		return task
	}
	var visits []tasks.Task
	for i, id := range ids[:65] {
		visits = append(visits, visit(fmt.Sprintf("v%03d", 2*i), id), visit(fmt.Sprintf("v%03d", 2*i+1), id))
	}
	must(t, db.Update(ctx, func(tx tasks.Tx) error { return tx.InsertTasks(ctx, visits) }))
	listed, err := db.Tasks(ctx, tasks.Filter{Kind: rules.RoutineVisit, Limit: 1000})
	must(t, err)
	if len(listed) != 130 {
		t.Errorf("%d routine visits listed, want 130", len(listed))
	}
	openCounts := func(when string, want int) {
		t.Helper()
		counts, err := db.OpenTaskCounts(ctx)
		if err != nil || !reflect.DeepEqual(counts, map[[2]string]int{{"low", "routine_visit"}: want}) {
			t.Errorf("%s: OpenTaskCounts = %v, %v; want %d low routine visits", when, counts, err, want)
		}
	}
	openCounts("inserted many to a statement", 130)
	for _, id := range []string{"v000", "v063", "v064", "v129"} {
		got, err := db.Task(ctx, id)
		if err != nil || len(got.Evidence) != 1 || got.Evidence[0].Summary != "routine visit of "+id ||
			len(got.Timeline) != 1 || got.Timeline[0].Message != "opened "+id || got.Timeline[0].Data["due_at"] != "2025-03-20T00:00:00Z" {
			t.Errorf("task %s read back as %+v, %v", id, got, err)
		}
	}

	for _, c := range []struct {
		name string
		bad  tasks.Task
		want error
	}{
		{"an id taken", visit("v100", "b100"), registry.ErrConflict},
		{"an unknown household", visit("x2", "nobody"), registry.ErrUnknownReference},
	} {
		err := db.Update(ctx, func(tx tasks.Tx) error {
			return tx.InsertTasks(ctx, []tasks.Task{visit("x1", "b100"), c.bad, visit("x3", "b100")})
		})
		if !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
		if _, err := db.Task(ctx, "x1"); !errors.Is(err, tasks.ErrNotFound) {
			t.Errorf("%s: the batch's first task stored: %v", c.name, err)
		}
	}
	openCounts("after the batches refused", 130)
	// An erasure cancels a household's open visits in one statement.
	_, err = db.DeleteHousehold(ctx, "b000", t0, "op")
	must(t, err)
	openCounts("after an erasure", 128)
}

func taskIDs(list []tasks.Task) []string {
	ids := make([]string, len(list))
	for i, t := range list {
		ids[i] = t.ID
	}
	return ids
}
