package tasks_test

import (
	"context"
	"errors"
	"strings"
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
	workers, err := e.svc.SLAWorkers(ctx, tasks.SLAQuery{})
	must(t, err)
	jsonEq(t, workers, `[{"worker_id":"w1","grid_id":"g1","rating_avg":3,"ratings":2}]`)
	// Another grid's, and a period after the fall opened.
	for _, q := range []tasks.SLAQuery{{GridID: gridNoStaf}, {From: e.clk.Now().Add(-time.Second)}} {
		workers, err := e.svc.SLAWorkers(ctx, q)
		must(t, err)
		jsonEq(t, workers, `[]`)
	}
	_, err = e.svc.SLAWorkers(ctx, tasks.SLAQuery{From: t0, To: t0})
	wantError(t, err, "invalid")
	h, err := e.db.Household(ctx, hhMain)
	must(t, err)
	visits, err := e.svc.FamilyVisits(ctx, h, "fam-1")
	must(t, err)
	if len(visits) != 1 || visits[0].ID != resolved || visits[0].Rating == nil || visits[0].Rating.Stars != 4 {
		t.Errorf("family visits %+v; want the resolved fall rated 4 (no maintenance, nothing open)", visits)
	}
}

// ratingLinks are the rating links of task id's resolved notices, by the
// contact each was sent to.
func (e *env) ratingLinks(t *testing.T, id string) map[string]string {
	t.Helper()
	links := map[string]string{}
	for _, n := range e.allNotices(t) {
		if n.TaskID != id || n.Event != tasks.NoticeResolved {
			continue
		}
		if n.Role != tasks.RecipientFamily && len(n.Actions) > 0 {
			t.Errorf("a %s's resolved notice offers %+v", n.Role, n.Actions)
		}
		for _, a := range n.Actions {
			if a.Answer != tasks.ActionRate {
				t.Errorf("resolved notice action %+v, want %s", a, tasks.ActionRate)
			}
			links[n.Recipient] = a.URL
		}
	}
	return links
}

// TestRatingLink: a resolved visit's family notices carry a link to rate
// it, one token per notice; the token rates that visit once per contact,
// does nothing else, and dies after RatingLinkLifetime.
func TestRatingLink(t *testing.T) {
	ctx := context.Background()
	const public = "https://care.example/"
	e := newEnv(t, envOptions{publicURL: public})
	resolved := e.resolvedFall(t)
	links := e.ratingLinks(t, resolved)
	// Every contact hears on each of their channels: Daughter by push and SMS.
	if len(links) != len(contacts) {
		t.Fatalf("rating links %v, want one per contact", links)
	}
	token := func(contact string) string {
		t.Helper()
		tok, ok := strings.CutPrefix(links[contact], "https://care.example/r/")
		if !ok || len(tok) < 22 {
			t.Fatalf("%s's link %q, want %sr/<token>", contact, links[contact], public)
		}
		return tok
	}
	daughter, son := token("Daughter"), token("Son")

	if _, _, err := e.svc.ByToken(ctx, daughter); !errors.Is(err, tasks.ErrNotFound) {
		t.Errorf("a rating link as an answer link: %v, want ErrNotFound", err)
	}
	for _, c := range []struct {
		name, token string
		stars       int
		want        string
	}{
		{"rated", daughter, 4, ""},
		{"twice", daughter, 5, "transition"},
		{"another contact", son, 2, ""},
		{"too many stars", token("Neighbour"), 6, "invalid"},
		{"unknown token", "AAAAAAAAAAAAAAAAAAAAAA", 3, "not_found"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, _, err := e.svc.RateByToken(ctx, c.token, c.stars, "")
			wantError(t, err, c.want)
			if err == nil && (r.TaskID != resolved || r.Stars != c.stars || !strings.HasPrefix(r.By, "contact:")) {
				t.Errorf("rating %+v", r)
			}
		})
	}
	task, tok, rated, err := e.svc.ByRatingToken(ctx, daughter)
	if err != nil || task.ID != resolved || tok.Contact != "Daughter" || tok.Lang != "en" || rated == nil || rated.Stars != 4 {
		t.Errorf("ByRatingToken = %s, %+v, %+v, %v; want the fall, Daughter's token and her 4 stars", task.ID, tok, rated, err)
	}
	if _, _, rated, err := e.svc.ByRatingToken(ctx, token("Neighbour")); err != nil || rated != nil {
		t.Errorf("the neighbour's link: rated %+v, %v; want not rated yet", rated, err)
	}

	e.setWall(wall0.Add(tasks.RatingLinkLifetime + time.Minute))
	if _, _, _, err := e.svc.ByRatingToken(ctx, token("Neighbour")); !errors.Is(err, tasks.ErrLinkExpired) {
		t.Errorf("after %s: %v, want ErrLinkExpired", tasks.RatingLinkLifetime, err)
	}
	if _, _, err := e.svc.RateByToken(ctx, token("Neighbour"), 5, ""); !errors.Is(err, tasks.ErrLinkExpired) {
		t.Errorf("rating after %s: %v, want ErrLinkExpired", tasks.RatingLinkLifetime, err)
	}
}

// TestRatingLink_NotOffered: no rating link without a public URL, nor in
// the notice of a death, which the office tells in person.
func TestRatingLink_NotOffered(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name, publicURL, outcome string
	}{
		{"no public URL", "", "safe"},
		{"deceased", "https://care.example", tasks.OutcomeDeceased},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, envOptions{publicURL: c.publicURL})
			id := e.openFall(t)
			_, err := e.svc.Ack(ctx, id, ownerID)
			must(t, err)
			_, err = e.svc.CheckIn(ctx, id, ownerID, nil, nil)
			must(t, err)
			_, err = e.svc.Resolve(ctx, id, ownerID, c.outcome, "")
			must(t, err)
			if links := e.ratingLinks(t, id); len(links) != 0 {
				t.Errorf("rating links %v, want none", links)
			}
		})
	}
}
