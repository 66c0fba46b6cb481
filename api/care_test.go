package api

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/audit"
	"github.com/eldersafe/eldersafe/dispatch"
	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
	"github.com/eldersafe/eldersafe/tasks"
)

// withCareProfiles gives the semi care level a no_motion profile of 4 hours.
func withCareProfiles(e **testEnv) func(*Options) {
	return func(o *Options) {
		engine, err := rules.NewEngine(rules.DefaultConfig(), time.UTC)
		if err != nil {
			panic(err)
		}
		d, err := dispatch.New(dispatch.Options{Engine: engine, Tasks: &tasks.Service{}, Store: o.Registry.(dispatchStore), Clock: o.Clock,
			CareLevels: map[registry.CareLevel]rules.Thresholds{registry.CareSemi: {"no_motion": {"hours": 4}}}})
		if err != nil {
			panic(err)
		}
		o.Rules = d
	}
}

// dispatchStore is what the store gives the decision step.
type dispatchStore = dispatch.Store

// noMotionHours reads thresholds.no_motion.hours of a body.
func noMotionHours(want float64) func(t *testing.T, b map[string]any) {
	return func(t *testing.T, b map[string]any) {
		t.Helper()
		th, _ := b["thresholds"].(map[string]any)
		nm, _ := th["no_motion"].(map[string]any)
		if nm["hours"] != want {
			t.Errorf("no_motion.hours = %v, want %v (body %v)", nm["hours"], want, b)
		}
	}
}

// TestCareLevels: a household's care level is set at registration, by
// PATCH and by CSV, shown on the household, and its level's thresholds
// reach the rules beneath the household's own overrides.
func TestCareLevels(t *testing.T) {
	var e *testEnv
	e = newEnv(t, withCareProfiles(&e))
	tok, _, _ := e.people()
	as := func(user string) []reqOption { return []reqOption{withToken(tok[user])} }
	e.run(t, []call{
		{name: "registered without a level: self_care", method: "GET", path: "/api/v1/households/h1", opts: as("op"), want: 200,
			check: both(fields(map[string]any{"care_level": "self_care"}), noMotionHours(6))},
		{name: "registered semi", method: "POST", path: "/api/v1/households", opts: as("op"), want: 201,
			body: `{"id":"h3","name":"Qian","address":"3 Lane","grid_id":"g1","care_level":"semi"}`, check: fields(map[string]any{"care_level": "semi"})},
		{name: "semi's profile applies at once", method: "GET", path: "/api/v1/households/h3/thresholds", opts: as("gw1"), want: 200,
			check: both(noMotionHours(4), fields(map[string]any{"care_level": "semi", "level": map[string]any{"no_motion": map[string]any{"hours": 4}}}))},
		{name: "unknown level at registration", method: "POST", path: "/api/v1/households", opts: as("op"), want: 400, wantCode: "invalid",
			body: `{"id":"h4","name":"Qian","address":"3 Lane","grid_id":"g1","care_level":"bedridden"}`, wantMsg: "care_level"},
		{name: "PATCH to semi", method: "PATCH", path: "/api/v1/households/h1", body: `{"care_level":"semi"}`, opts: as("sv"), want: 200,
			check: both(fields(map[string]any{"care_level": "semi"}), noMotionHours(4))},
		{name: "the household's own override wins", method: "PUT", path: "/api/v1/households/h1/thresholds", body: `{"no_motion":{"hours":5}}`,
			opts: as("op"), want: 200, check: noMotionHours(5)},
		{name: "GET thresholds shows both", method: "GET", path: "/api/v1/households/h1/thresholds", opts: as("op"), want: 200,
			check: both(noMotionHours(5), fields(map[string]any{"overrides": map[string]any{"no_motion": map[string]any{"hours": 5}}}))},
		{name: "PATCH back to self_care keeps the override", method: "PATCH", path: "/api/v1/households/h1", body: `{"care_level":"self_care"}`,
			opts: as("op"), want: 200, check: noMotionHours(5)},
		{name: "PATCH an unknown level", method: "PATCH", path: "/api/v1/households/h1", body: `{"care_level":"x"}`, opts: as("op"), want: 400, wantCode: "invalid", wantMsg: "care_level"},
		{name: "PATCH nothing", method: "PATCH", path: "/api/v1/households/h1", body: `{}`, opts: as("op"), want: 400, wantCode: "invalid", wantMsg: "care_level"},
		{name: "PATCH an unknown field", method: "PATCH", path: "/api/v1/households/h1", body: `{"name":"x"}`, opts: as("op"), want: 400, wantCode: "bad_json"},
		{name: "PATCH an unknown household", method: "PATCH", path: "/api/v1/households/h404", body: `{"care_level":"semi"}`, opts: as("op"), want: 404, wantCode: "not_found"},
		{name: "a grid worker does not PATCH", method: "PATCH", path: "/api/v1/households/h1", body: `{"care_level":"semi"}`, opts: as("gw1"), want: 403, wantCode: "forbidden"},
		{name: "thresholds of another grid", method: "GET", path: "/api/v1/households/h2/thresholds", opts: as("gw1"), want: 404, wantCode: "not_found"},
		{name: "the family sees no thresholds", method: "GET", path: "/api/v1/households/h1/thresholds", opts: as("fam1"), want: 403, wantCode: "forbidden"},
	})
	res := e.importCSV("household_id,name,address,grid_id,care_level\nh1,Zhang Wei,1 Lane,g1,dependent\nh5,Zhou,5 Lane,g1,bedridden\n")
	if res["updated"] != 1.0 || len(res["errors"].([]any)) != 1 {
		t.Errorf("import: %v; want h1 updated, h5 refused for its care level", res)
	}
	e.must(200, "GET", "/api/v1/households/h1", "", as("op")...)
	if h := e.must(200, "GET", "/api/v1/households/h1", ""); h["care_level"] != "dependent" {
		t.Errorf("after the import: care_level %v", h["care_level"])
	}
	entries, err := e.store.Audit(t.Context(), "sv", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	var patched []string
	for _, en := range entries {
		patched = append(patched, en.Action+" "+en.Object)
	}
	if !slices.Contains(patched, "update households/h1") {
		t.Errorf("the supervisor's audit entries %v; want the PATCH as an update of households/h1", patched)
	}
}

// TestRoutineAndRatings: a household's routine visits are scheduled at
// registration and listed by kind and due time apart from the alarms; the
// routine report counts them; the family rates a resolved visit once.
func TestRoutineAndRatings(t *testing.T) {
	e := newEnv(t)
	tok, t1, _ := e.people()
	as := func(user string) []reqOption { return []reqOption{withToken(tok[user])} }
	// t0 is 1 March, 17:12 in Shanghai: each household gets two visits.
	// The first is due about 8.6 days later, the second 23.
	week := url.QueryEscape(t0.Add(10 * 24 * time.Hour).Format(time.RFC3339))
	count := func(n int) func(t *testing.T, b map[string]any) {
		return func(t *testing.T, b map[string]any) {
			t.Helper()
			if l, _ := b["tasks"].([]any); len(l) != n {
				t.Errorf("%d tasks, want %d: %v", len(l), n, b)
			}
		}
	}
	e.run(t, []call{
		{name: "alarms are listed without routine visits", method: "GET", path: "/api/v1/tasks?household_id=h1", opts: as("gw1"), want: 200, check: ids(t1)},
		{name: "routine visits by kind", method: "GET", path: "/api/v1/tasks?kind=routine_visit", opts: as("gw1"), want: 200, check: count(2)},
		{name: "due in the next 10 days", method: "GET", path: "/api/v1/tasks?kind=routine_visit&due_before=" + week, opts: as("gw1"), want: 200, check: count(1)},
		{name: "every grid's", method: "GET", path: "/api/v1/tasks?kind=routine_visit", opts: as("op"), want: 200, check: count(4)},
		{name: "unknown kind", method: "GET", path: "/api/v1/tasks?kind=party", opts: as("op"), want: 400, wantCode: "invalid", wantMsg: "kind"},
		{name: "bad due_before", method: "GET", path: "/api/v1/tasks?due_before=soon", opts: as("op"), want: 400, wantCode: "invalid", wantMsg: "due_before"},
		{name: "routine report", method: "GET", path: "/api/v1/reports/routine?month=2026-03", opts: as("sv"), want: 200, check: func(t *testing.T, b map[string]any) {
			rows, _ := b["rows"].([]any)
			if len(rows) != 2 || fmt.Sprint(rows[0]) != "map[coverage_pct:0 done:0 due:2 grid_id:g1 households:1 overdue:0]" {
				t.Errorf("rows %v", rows)
			}
		}},
		{name: "routine report: bad month", method: "GET", path: "/api/v1/reports/routine?month=March", opts: as("op"), want: 400, wantCode: "invalid", wantMsg: "YYYY-MM"},
		{name: "routine report: not for grid workers", method: "GET", path: "/api/v1/reports/routine", opts: as("gw1"), want: 403, wantCode: "forbidden"},

		{name: "rating an open visit", method: "POST", path: "/api/v1/tasks/" + t1 + "/rating", body: `{"stars":5}`, opts: as("fam1"), want: 409, wantCode: "invalid_transition"},
		{name: "ack", method: "POST", path: "/api/v1/tasks/" + t1 + "/ack", body: `{"worker_id":"w1"}`, opts: as("gw1"), want: 200},
		{name: "check in", method: "POST", path: "/api/v1/tasks/" + t1 + "/checkin", body: `{"worker_id":"w1"}`, opts: as("gw1"), want: 200},
		{name: "a routine outcome on an alarm", method: "POST", path: "/api/v1/tasks/" + t1 + "/resolve", body: `{"worker_id":"w1","outcome":"visited"}`, opts: as("gw1"), want: 400, wantCode: "invalid"},
		{name: "resolve", method: "POST", path: "/api/v1/tasks/" + t1 + "/resolve", body: `{"worker_id":"w1","outcome":"safe"}`, opts: as("gw1"), want: 200},
		{name: "a worker does not rate", method: "POST", path: "/api/v1/tasks/" + t1 + "/rating", body: `{"stars":5}`, opts: as("gw1"), want: 403, wantCode: "forbidden"},
		{name: "no stars", method: "POST", path: "/api/v1/tasks/" + t1 + "/rating", body: `{"comment":"ok"}`, opts: as("fam1"), want: 400, wantCode: "invalid", wantMsg: "stars"},
		{name: "the family rates", method: "POST", path: "/api/v1/tasks/" + t1 + "/rating", body: `{"stars":4,"comment":"came fast"}`, opts: as("fam1"), want: 201,
			check: fields(map[string]any{"stars": 4, "by": "fam1", "task_id": t1})},
		{name: "once", method: "POST", path: "/api/v1/tasks/" + t1 + "/rating", body: `{"stars":1}`, opts: as("fam1"), want: 409, wantCode: "invalid_transition"},
		{name: "the family's visits show the rating", method: "GET", path: "/api/v1/households/h1/visits", opts: as("fam1"), want: 200, check: func(t *testing.T, b map[string]any) {
			v, _ := b["visits"].([]any)
			if len(v) != 1 || fmt.Sprint(v[0].(map[string]any)["rating"].(map[string]any)["stars"]) != "4" {
				t.Errorf("visits %v", b)
			}
		}},
		{name: "another household's visits", method: "GET", path: "/api/v1/households/h2/visits", opts: as("fam1"), want: 404, wantCode: "not_found"},
		{name: "the SLA report counts it", method: "GET", path: "/api/v1/reports/sla?from=2026-02-01T00:00:00Z&to=2026-03-02T00:00:00Z", opts: as("op"), want: 200, check: func(t *testing.T, b map[string]any) {
			rows, _ := b["rows"].([]any)
			if len(rows) == 0 || fmt.Sprint(rows[0].(map[string]any)["ratings"], rows[0].(map[string]any)["rating_avg"]) != "1 4" {
				t.Errorf("rows %v", rows)
			}
		}},
		{name: "... and per worker", method: "GET", path: "/api/v1/reports/sla?from=2026-02-01T00:00:00Z&to=2026-03-02T00:00:00Z", opts: as("sv"), want: 200, check: func(t *testing.T, b map[string]any) {
			if w := fmt.Sprint(b["workers"]); w != "[map[grid_id:g1 rating_avg:4 ratings:1 worker_id:w1]]" {
				t.Errorf("workers %v, want w1's one rating of 4", w)
			}
		}},
		{name: "... of the worker's grid", method: "GET", path: "/api/v1/reports/sla?grid_id=g2&from=2026-02-01T00:00:00Z&to=2026-03-02T00:00:00Z", opts: as("op"), want: 200, check: func(t *testing.T, b map[string]any) {
			if w := fmt.Sprint(b["workers"]); w != "[]" {
				t.Errorf("g2's workers %v, want none", w)
			}
		}},
	})
	entries, err := e.store.Audit(t.Context(), "fam1", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	var rated bool
	for _, en := range entries {
		rated = rated || (en.Action == "create" && strings.Contains(en.Object, t1))
	}
	if !rated {
		t.Errorf("the rating is not in the audit log: %+v", entries)
	}
}

// TestReschedule: a routine visit's own grid worker, a supervisor and an
// operator move it to another day, named on its timeline and in the audit
// log; anyone else, an alarm's task, a closed visit and a day out of bounds
// are refused, and the month's report still counts each visit once.
func TestReschedule(t *testing.T) {
	e := newEnv(t)
	tok, t1, _ := e.people()
	as := func(user string) []reqOption { return []reqOption{withToken(tok[user])} }
	visits := func(household string) []string {
		var out []string
		for _, x := range e.must(200, "GET", "/api/v1/tasks?kind=routine_visit&household_id="+household, "")["tasks"].([]any) {
			out = append(out, x.(map[string]any)["id"].(string))
		}
		return out
	}
	h1, h2 := visits("h1"), visits("h2")
	v1, w2s, v2 := "/api/v1/tasks/"+h1[0]+"/reschedule", "/api/v1/tasks/"+h1[1]+"/reschedule", "/api/v1/tasks/"+h2[0]+"/reschedule"
	at := func(d time.Duration) string { return t0.Add(d).Format(time.RFC3339) }
	body := func(d time.Duration, reason string) string {
		return fmt.Sprintf(`{"due_at":%q,"reason":%q}`, at(d), reason)
	}
	day := 24 * time.Hour
	e.run(t, []call{
		{name: "family may not", method: "POST", path: v1, body: body(day, ""), opts: as("fam1"), want: 403, wantCode: "forbidden"},
		{name: "a worker of another grid", method: "POST", path: v1, body: body(day, ""), opts: as("gw3"), want: 404, wantCode: "not_found"},
		{name: "no due_at", method: "POST", path: v1, body: `{"reason":"r"}`, opts: as("gw1"), want: 400, wantCode: "invalid", wantMsg: "due_at: required"},
		{name: "due_at not a time", method: "POST", path: v1, body: `{"due_at":"tomorrow"}`, opts: as("gw1"), want: 400, wantCode: "invalid", wantMsg: `due_at "tomorrow"`},
		{name: "unknown field", method: "POST", path: v1, body: `{"due_at":"` + at(day) + `","worker_id":"w1"}`, opts: as("gw1"), want: 400, wantCode: "bad_json"},
		{name: "reason too long", method: "POST", path: v1, body: body(day, strings.Repeat("x", registry.MaxLen[registry.KindReason]+1)), opts: as("gw1"), want: 400, wantCode: "invalid", wantMsg: "reason"},
		{name: "past", method: "POST", path: v1, body: body(-time.Hour, ""), opts: as("gw1"), want: 400, wantCode: "invalid", wantMsg: "is past"},
		{name: "too far ahead", method: "POST", path: v1, body: body(32*day, ""), opts: as("gw1"), want: 400, wantCode: "invalid", wantMsg: "at most 31 days ahead"},
		{name: "an alarm's task", method: "POST", path: "/api/v1/tasks/" + t1 + "/reschedule", body: body(day, ""), opts: as("op"), want: 409,
			wantCode: "invalid_transition", wantMsg: "only a routine visit"},
		{name: "the worker moves their visit", method: "POST", path: v1, body: body(2*day, "she is at her son's"), opts: as("gw1"), want: 200,
			check: both(fields(map[string]any{"state": "open", "due_at": at(2 * day), "ack_due_at": at(5 * day)}), lastTimeline("rescheduled", "w1"))},
		{name: "the office gives a visit to w2", method: "POST", path: "/api/v1/tasks/" + h1[1] + "/reassign", body: `{"to_worker_id":"w2","reason":"r"}`, opts: as("op"), want: 200},
		{name: "... which w1 may not move", method: "POST", path: w2s, body: body(day, ""), opts: as("gw1"), want: 409, wantCode: "invalid_transition", wantMsg: "owned by w2"},
		{name: "a supervisor moves any", method: "POST", path: v2, body: body(3*day, ""), opts: as("sv"), want: 200,
			check: both(fields(map[string]any{"due_at": at(3 * day)}), lastTimeline("rescheduled", "sv"))},
		{name: "an operator too", method: "POST", path: w2s, body: body(4*day, "w2 is on leave"), opts: as("op"), want: 200,
			check: both(fields(map[string]any{"due_at": at(4 * day), "assignee_id": "w2"}), lastTimeline("rescheduled", "op"))},
		{name: "counted once", method: "GET", path: "/api/v1/reports/routine?month=2026-03", opts: as("op"), want: 200, check: func(t *testing.T, b map[string]any) {
			if rows := fmt.Sprint(b["rows"]); !strings.Contains(rows, "due:2 grid_id:g1") || !strings.Contains(rows, "due:2 grid_id:g2") {
				t.Errorf("rows %v, want two visits due in each grid", rows)
			}
		}},
		{name: "cancel", method: "POST", path: "/api/v1/tasks/" + h2[0] + "/cancel", body: `{"reason":"moved away"}`, opts: as("op"), want: 200},
		{name: "a closed visit", method: "POST", path: v2, body: body(day, ""), opts: as("op"), want: 409, wantCode: "invalid_transition",
			wantMsg: "cannot reschedule a task that is cancelled"},
	})
	entries, err := e.store.Audit(t.Context(), "gw1", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(entries, func(en audit.Entry) bool { return strings.Contains(en.Object, h1[0]+"/reschedule") }) {
		t.Errorf("the worker's move is not in the audit log: %+v", entries)
	}
}
