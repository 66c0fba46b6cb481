package tasks_test

import (
	"context"
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/rules"
	"github.com/eldersafe/eldersafe/tasks"
)

// resolvedFall opens a fall for hhMain and resolves it safe, by w1.
func (e *env) resolvedFall(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	id := e.openFall(t)
	for _, step := range []func() (tasks.Task, error){
		func() (tasks.Task, error) { return e.svc.Ack(ctx, id, ownerID) },
		func() (tasks.Task, error) { return e.svc.CheckIn(ctx, id, ownerID, nil, nil) },
		func() (tasks.Task, error) { return e.svc.Resolve(ctx, id, ownerID, "safe", "") },
	} {
		if _, err := step(); err != nil {
			t.Fatal(err)
		}
	}
	return id
}

// TestRate: one rating per task and rater, of a resolved visit only, from
// 1 to 5 stars; it is on the timeline, in the SLA report and in the
// family's list of visits.
func TestRate(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, envOptions{})
	resolved := e.resolvedFall(t)
	e.advance(time.Minute)
	open := e.openFall(t)
	battery, _ := e.raise(t, alert(hhMain, rules.RuleBatteryLow, rules.Low, rules.Maintenance, e.clk.Now(), "battery 9%"))
	e.forceState(t, battery.ID, tasks.Resolved)

	for _, c := range []struct {
		name, id, by string
		stars        int
		want         string
	}{
		{"rated", resolved, "fam-1", 4, ""},
		{"second rating by the same rater", resolved, "fam-1", 5, "transition"},
		{"another rater", resolved, "fam-2", 2, ""},
		{"no stars", resolved, "fam-3", 0, "invalid"},
		{"six stars", resolved, "fam-3", 6, "invalid"},
		{"nobody", resolved, " ", 3, "invalid"},
		{"not resolved yet", open, "fam-1", 3, "transition"},
		{"maintenance", battery.ID, "fam-1", 3, "invalid"},
		{"unknown task", "nope", "fam-1", 3, "not_found"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, err := e.svc.Rate(ctx, c.id, c.by, c.stars, "kind and quick")
			wantError(t, err, c.want)
			if err == nil && (r.Stars != c.stars || r.By != c.by || !r.At.Equal(e.clk.Now())) {
				t.Errorf("rating %+v", r)
			}
		})
	}
	if last := lastEntry(t, e.task(t, resolved)); last.Type != tasks.EntryRated || last.Actor != "fam-2" {
		t.Errorf("last entry %+v, want rated by fam-2", last)
	}
	rows, err := e.svc.SLA(ctx, tasks.SLAQuery{})
	must(t, err)
	for _, r := range rows {
		if r.Severity == rules.Critical && (r.Ratings != 2 || r.RatingAvg == nil || *r.RatingAvg != 3) {
			t.Errorf("critical row: %d ratings, average %v; want 2 averaging 3", r.Ratings, r.RatingAvg)
		}
	}
	h, err := e.db.Household(ctx, hhMain)
	must(t, err)
	visits, err := e.svc.FamilyVisits(ctx, h, "fam-1")
	must(t, err)
	if len(visits) != 1 || visits[0].ID != resolved || visits[0].Rating == nil || visits[0].Rating.Stars != 4 {
		t.Errorf("family visits %+v; want the resolved fall rated 4 (no maintenance, nothing open)", visits)
	}
}
