package api

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/rules"
	"github.com/eldersafe/eldersafe/tasks"
)

// withRoles adds users' tokens for an operator, a supervisor, a grid worker
// and a family member, standing in for the users' sessions to come.
func (e *testEnv) withRoles() {
	e.api.verifiers = append(e.api.verifiers, tokenTable{
		"op-token":     {ID: "u-op", Role: "operator"},
		"sup-token":    {ID: "u-sup", Role: "supervisor"},
		"worker-token": {ID: "u-w1", Role: "grid_worker"},
		"fam-token":    {ID: "u-fam", Role: "family"},
	})
}

// lastTimeline checks the type and actor of a task body's last timeline entry.
func lastTimeline(typ, actor string) func(t *testing.T, b map[string]any) {
	return func(t *testing.T, b map[string]any) {
		t.Helper()
		tl, _ := b["timeline"].([]any)
		if len(tl) == 0 {
			t.Fatalf("no timeline in %v", b)
		}
		fields(map[string]any{"type": typ, "actor": actor})(t, tl[len(tl)-1].(map[string]any))
	}
}

func both(checks ...func(t *testing.T, b map[string]any)) func(t *testing.T, b map[string]any) {
	return func(t *testing.T, b map[string]any) {
		t.Helper()
		for _, c := range checks {
			c(t, b)
		}
	}
}

func TestManualTask(t *testing.T) {
	e := newEnv(t)
	e.withRoles()
	e.seed()
	var id string
	e.run(t, []call{
		{name: "no household", method: "POST", path: "/api/v1/tasks", body: `{"reason":"r","severity":"high"}`,
			want: 400, wantCode: "invalid", wantMsg: "household_id is required"},
		{name: "bad household id", method: "POST", path: "/api/v1/tasks", body: `{"household_id":"a b","reason":"r","severity":"high"}`,
			want: 400, wantCode: "invalid", wantMsg: `household_id "a b"`},
		{name: "unknown household", method: "POST", path: "/api/v1/tasks", body: `{"household_id":"h404","reason":"r","severity":"high"}`,
			want: 400, wantCode: "invalid", wantMsg: `household_id "h404" is not registered`},
		{name: "no severity", method: "POST", path: "/api/v1/tasks", body: `{"household_id":"h1","reason":"r"}`,
			want: 400, wantCode: "invalid", wantMsg: "severity is required"},
		{name: "bad severity", method: "POST", path: "/api/v1/tasks", body: `{"household_id":"h1","reason":"r","severity":"urgent"}`,
			want: 400, wantCode: "invalid", wantMsg: `severity "urgent"`},
		{name: "no reason", method: "POST", path: "/api/v1/tasks", body: `{"household_id":"h1","severity":"high"}`,
			want: 400, wantCode: "invalid", wantMsg: "reason is required"},
		{name: "unknown field", method: "POST", path: "/api/v1/tasks", body: `{"household_id":"h1","severity":"high","reason":"r","rule":"fall"}`,
			want: 400, wantCode: "bad_json", wantMsg: `unknown field "rule"`},
		{name: "family may not", method: "POST", path: "/api/v1/tasks", body: `{"household_id":"h1","reason":"r","severity":"high"}`,
			opts: []reqOption{withToken("fam-token")}, want: 403, wantCode: "forbidden"},
		{name: "nothing opened yet", method: "GET", path: "/api/v1/tasks", want: 200, check: func(t *testing.T, b map[string]any) {
			if l, _ := b["tasks"].([]any); len(l) != 0 {
				t.Errorf("tasks = %v, want none", l)
			}
		}},
		{name: "opens", method: "POST", path: "/api/v1/tasks", body: `{"household_id":"h1","reason":"she phoned: dizzy","severity":"high"}`,
			opts: []reqOption{withToken("op-token")}, want: 201, check: func(t *testing.T, b map[string]any) {
				fields(map[string]any{"rule": "manual", "kind": "visit", "severity": "high", "state": "open", "assignee_id": "w1",
					"ack_due_at": "2026-03-01T09:42:00Z"})(t, b)
				lastTimeline("opened", "u-op")(t, b)
				if ev, _ := b["evidence"].([]any); len(ev) != 1 || ev[0].(map[string]any)["summary"] != "she phoned: dizzy" {
					t.Errorf("evidence = %v", b["evidence"])
				}
				id, _ = b["id"].(string)
			}},
	})
	e.run(t, []call{
		{name: "again adds to it", method: "POST", path: "/api/v1/tasks", body: `{"household_id":"h1","reason":"her son called too","severity":"critical"}`,
			want: 200, check: both(fields(map[string]any{"id": id, "severity": "high"}), lastTimeline("evidence", "admin"))},
	})
}

func TestHandoverAndCancel(t *testing.T) {
	e := newEnv(t)
	e.withRoles()
	e.seed()
	fall := e.openTask(rules.RuleFall, rules.Critical)
	path := "/api/v1/tasks/" + fall.ID
	e.run(t, []call{
		{name: "handover an open task", method: "POST", path: path + "/handover", body: `{"from_worker_id":"w1","to_worker_id":"w2","reason":"r"}`,
			want: 409, wantCode: "invalid_transition", wantMsg: "cannot hand over a task that is open: acknowledge it first"},
		{name: "ack", method: "POST", path: path + "/ack", body: `{"worker_id":"w1"}`, want: 200},
		{name: "ack again by the owner", method: "POST", path: path + "/ack", body: `{"worker_id":"w1"}`, want: 200,
			check: func(t *testing.T, b map[string]any) {
				if tl, _ := b["timeline"].([]any); len(tl) != 2 {
					t.Errorf("timeline has %d entries, want 2 (opened, acknowledged)", len(tl))
				}
			}},
		{name: "ack by another", method: "POST", path: path + "/ack", body: `{"worker_id":"w2"}`,
			want: 409, wantCode: "invalid_transition", wantMsg: "owned by w1"},
		{name: "handover by a non-owner", method: "POST", path: path + "/handover", body: `{"from_worker_id":"w2","to_worker_id":"w1","reason":"r"}`,
			want: 409, wantCode: "invalid_transition", wantMsg: "owned by w1"},
		{name: "handover without to", method: "POST", path: path + "/handover", body: `{"from_worker_id":"w1","reason":"r"}`,
			want: 400, wantCode: "invalid", wantMsg: "to_worker_id is required"},
		{name: "handover without anything", method: "POST", path: path + "/handover", body: `{}`,
			want: 400, wantCode: "invalid", wantMsg: "from_worker_id is required; to_worker_id is required"},
		{name: "handover to nobody", method: "POST", path: path + "/handover", body: `{"from_worker_id":"w1","to_worker_id":"w9","reason":"r"}`,
			want: 400, wantCode: "invalid", wantMsg: `to_worker_id: worker "w9" is not registered`},
		{name: "handover to self", method: "POST", path: path + "/handover", body: `{"from_worker_id":"w1","to_worker_id":"w1","reason":"r"}`,
			want: 400, wantCode: "invalid", wantMsg: "must differ"},
		{name: "handover without reason", method: "POST", path: path + "/handover", body: `{"from_worker_id":"w1","to_worker_id":"w2"}`,
			want: 400, wantCode: "invalid", wantMsg: "reason is required"},
		{name: "handover unknown task", method: "POST", path: "/api/v1/tasks/t404/handover", body: `{"from_worker_id":"w1","to_worker_id":"w2","reason":"r"}`,
			want: 404, wantCode: "not_found"},
		{name: "handover", method: "POST", path: path + "/handover", body: `{"from_worker_id":"w1","to_worker_id":"w2","reason":"back pain"}`,
			want: 200, check: both(fields(map[string]any{"state": "acknowledged", "assignee_id": "w2"}), lastTimeline("handed_over", "w1"))},
		{name: "old owner checks in", method: "POST", path: path + "/checkin", body: `{"worker_id":"w1"}`,
			want: 409, wantCode: "invalid_transition", wantMsg: "owned by w2"},

		{name: "cancel without reason", method: "POST", path: path + "/cancel", body: `{}`,
			want: 400, wantCode: "invalid", wantMsg: "reason is required"},
		{name: "cancel by a grid worker", method: "POST", path: path + "/cancel", body: `{"reason":"r"}`,
			opts: []reqOption{withToken("worker-token")}, want: 403, wantCode: "forbidden"},
		{name: "cancel", method: "POST", path: path + "/cancel", body: `{"reason":"false alarm: she was at her daughter's"}`,
			opts: []reqOption{withToken("op-token")}, want: 200,
			check: both(fields(map[string]any{"state": "cancelled", "closed_at": "2026-03-01T09:12:00Z"}), lastTimeline("cancelled", "u-op"))},
		{name: "cancel again", method: "POST", path: path + "/cancel", body: `{"reason":"r"}`,
			want: 409, wantCode: "invalid_transition", wantMsg: "cannot cancel a task that is cancelled"},
	})
	// The family heard of the acknowledgement, the new owner of the
	// handover, the owner and the family of the cancellation.
	ns, err := e.store.Notifications(context.Background(), fall.ID)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, n := range ns {
		got = append(got, n.Event+":"+n.Recipient)
	}
	want := []string{"opened:Wang", "opened:Zhang Min", "acknowledged:Zhang Min", "handover:Li", "cancelled:Li", "cancelled:Zhang Min"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("notices %v, want %v", got, want)
	}
}

func TestSLAReport(t *testing.T) {
	e := newEnv(t)
	e.withRoles()
	e.seed()
	e.must(201, "POST", "/api/v1/grids", `{"id":"g2","name":"Grid 2"}`)
	e.must(201, "POST", "/api/v1/households", `{"id":"h2","name":"Sun Li","address":"2 Lane","grid_id":"g2"}`)
	ctx := context.Background()
	at := func(min int) *time.Time { x := t0.Add(time.Duration(min) * time.Minute); return &x }
	if err := e.store.Update(ctx, func(tx tasks.Tx) error {
		for i, x := range []tasks.Task{
			{HouseholdID: "h1", State: tasks.Resolved, AckedAt: at(2), ClosedAt: at(40)},   // ack 120 s, resolve 2400 s
			{HouseholdID: "h1", State: tasks.Resolved, AckedAt: at(4), ClosedAt: at(100)},  // ack 240 s, resolve 6000 s
			{HouseholdID: "h1", State: tasks.Acknowledged, AckedAt: at(9)},                 // ack 540 s: late
			{HouseholdID: "h1", State: tasks.Open},                                         // never acked, past due at now: late
			{HouseholdID: "h2", State: tasks.Cancelled, ClosedAt: at(1)},                   // cancelled in time
			{HouseholdID: "h2", State: tasks.Open, OpenedAt: t0.Add(-31 * 24 * time.Hour)}, // before the default period
		} {
			x.ID, x.Rule, x.Severity, x.Kind = fmt.Sprintf("t%d", i), fmt.Sprintf("r%d", i), rules.Critical, rules.Visit
			if x.OpenedAt.IsZero() {
				x.OpenedAt = t0
			}
			x.AckDueAt, x.ResolveDueAt = x.OpenedAt.Add(5*time.Minute), x.OpenedAt.Add(72*time.Hour)
			if err := tx.InsertTask(ctx, x); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	e.clock.set(t0.Add(time.Hour))

	rows := func(want string) func(t *testing.T, b map[string]any) {
		return func(t *testing.T, b map[string]any) {
			t.Helper()
			var w any
			if err := json.Unmarshal([]byte(want), &w); err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(b["rows"]) != fmt.Sprint(w) {
				t.Errorf("rows\n got %v\nwant %v", b["rows"], w)
			}
		}
	}
	g1 := `{"grid_id":"g1","severity":"critical","count":4,"ack_p50_s":240,"ack_p90_s":540,"resolve_p50_s":2400,"resolve_p90_s":6000,"ack_overdue":2,"resolve_overdue":0,"rating_avg":null,"ratings":0}`
	g2 := `{"grid_id":"g2","severity":"critical","count":1,"ack_p50_s":null,"ack_p90_s":null,"resolve_p50_s":null,"resolve_p90_s":null,"ack_overdue":0,"resolve_overdue":0,"rating_avg":null,"ratings":0}`
	e.run(t, []call{
		{name: "last 30 days", method: "GET", path: "/api/v1/reports/sla", want: 200, check: rows("[" + g1 + "," + g2 + "]")},
		{name: "one grid", method: "GET", path: "/api/v1/reports/sla?grid_id=g2", want: 200, check: rows("[" + g2 + "]")},
		{name: "supervisor", method: "GET", path: "/api/v1/reports/sla?grid_id=g2", opts: []reqOption{withToken("sup-token")}, want: 200},
		{name: "grid worker", method: "GET", path: "/api/v1/reports/sla", opts: []reqOption{withToken("worker-token")}, want: 403, wantCode: "forbidden"},
		{name: "from and to", method: "GET", path: "/api/v1/reports/sla?from=2026-01-01T00:00:00Z&to=2026-03-01T09:12:00Z", want: 200, check: rows(`[
			{"grid_id":"g2","severity":"critical","count":1,"ack_p50_s":null,"ack_p90_s":null,"resolve_p50_s":null,"resolve_p90_s":null,"ack_overdue":1,"resolve_overdue":1,"rating_avg":null,"ratings":0}]`)},
		{name: "offset with unescaped plus", method: "GET", path: "/api/v1/reports/sla?from=2026-03-01T17:12:00+08:00&to=2026-03-01T17:13:00%2B08:00",
			want: 200, check: rows("[" + g1 + "," + g2 + "]")},
		{name: "nothing in range", method: "GET", path: "/api/v1/reports/sla?from=2025-01-01T00:00:00Z&to=2025-02-01T00:00:00Z", want: 200, check: rows(`[]`)},
		{name: "bad from", method: "GET", path: "/api/v1/reports/sla?from=yesterday", want: 400, wantCode: "invalid", wantMsg: `from "yesterday": want an RFC 3339 time`},
		{name: "to before from", method: "GET", path: "/api/v1/reports/sla?from=2026-03-02T00:00:00Z&to=2026-03-01T00:00:00Z",
			want: 400, wantCode: "invalid", wantMsg: "must be before"},
		{name: "bad grid", method: "GET", path: "/api/v1/reports/sla?grid_id=a%2Fb", want: 400, wantCode: "invalid", wantMsg: "grid_id"},
		{name: "unknown parameter", method: "GET", path: "/api/v1/reports/sla?since=2026-01-01T00:00:00Z", want: 400, wantCode: "invalid", wantMsg: `"since"`},
	})
}
