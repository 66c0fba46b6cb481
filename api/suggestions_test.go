package api

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/eldersafe/eldersafe/rules"
	"github.com/eldersafe/eldersafe/store"
)

var _ Feedback = (*store.DB)(nil)

// TestOutcomeFeedback: false alarms' reasons make suggestions that an
// operator approves (a household override the rules run with) or rejects.
func TestOutcomeFeedback(t *testing.T) {
	e := newEnv(t)
	tok, _, _ := e.people() // h1 in g1 with w1 its primary worker
	op := withToken(tok["op"])
	onSite := func(rule string) string {
		task := e.openTask(rule, rules.High)
		e.must(200, "POST", "/api/v1/tasks/"+task.ID+"/ack", `{"worker_id":"w1"}`)
		e.must(200, "POST", "/api/v1/tasks/"+task.ID+"/checkin", `{"worker_id":"w1"}`)
		return task.ID
	}
	resolve := func(outcome, reason string) string {
		return fmt.Sprintf(`{"worker_id":"w1","outcome":%q,"reason":%q}`, outcome, reason)
	}
	pending := func() []map[string]any {
		var out []map[string]any
		for _, s := range e.must(200, "GET", "/api/v1/suggestions?household_id=h1", "", op)["suggestions"].([]any) {
			out = append(out, s.(map[string]any))
		}
		return out
	}

	first := onSite("no_motion")
	e.run(t, []call{
		{name: "a reason without false_alarm", method: "POST", path: "/api/v1/tasks/" + first + "/resolve", body: resolve("safe", "slept_late"),
			want: 400, wantCode: "invalid", wantMsg: "false_alarm only"},
		{name: "an unknown reason", method: "POST", path: "/api/v1/tasks/" + first + "/resolve", body: resolve("false_alarm", "ghosts"),
			want: 400, wantCode: "invalid", wantMsg: "slept_late"},
		{name: "the task was left as it was", method: "GET", path: "/api/v1/tasks/" + first, want: 200,
			check: func(t *testing.T, b map[string]any) {
				if b["state"] != "on_site" {
					t.Errorf("state %v", b["state"])
				}
			}},
		{name: "slept late once", method: "POST", path: "/api/v1/tasks/" + first + "/resolve", body: resolve("false_alarm", "slept_late"), want: 200},
	})
	if got := pending(); len(got) != 0 {
		t.Fatalf("one false alarm suggested %v", got)
	}
	second := onSite("no_motion")
	e.must(200, "POST", "/api/v1/tasks/"+second+"/resolve", resolve("false_alarm", "slept_late"))
	got := pending()
	if len(got) != 1 || got[0]["rule"] != "no_motion" || got[0]["param"] != "hours" || got[0]["from"] != 6.0 || got[0]["to"] != 7.5 ||
		got[0]["household_id"] != "h1" || !strings.Contains(got[0]["because"].(string), "slept_late") {
		t.Fatalf("after two: %v", got)
	}
	raise := got[0]["id"].(string)
	third := onSite("no_motion")
	e.must(200, "POST", "/api/v1/tasks/"+third+"/resolve", resolve("false_alarm", "slept_late"))
	if got := pending(); len(got) != 1 {
		t.Fatalf("a third made another: %v", got)
	}
	fall := onSite("fall")
	e.must(200, "POST", "/api/v1/tasks/"+fall+"/resolve", resolve("false_alarm", "sensor_fault"))
	got = pending()
	if len(got) != 2 || got[1]["rule"] != "fall" || got[1]["param"] != "check_device" || got[1]["to"] != nil {
		t.Fatalf("after a false fall: %v", got)
	}
	check := got[1]["id"].(string)

	e.run(t, []call{
		{name: "a grid worker does not see suggestions", method: "GET", path: "/api/v1/suggestions", opts: []reqOption{withToken(tok["gw1"])}, want: 403, wantCode: "forbidden"},
		{name: "nor approves them", method: "POST", path: "/api/v1/suggestions/" + raise + "/approve", opts: []reqOption{withToken(tok["gw1"])}, want: 403, wantCode: "forbidden"},
		{name: "the operator approves", method: "POST", path: "/api/v1/suggestions/" + raise + "/approve", opts: []reqOption{op}, want: 200,
			check: func(t *testing.T, b map[string]any) {
				if b["status"] != "approved" {
					t.Errorf("status %v", b["status"])
				}
			}},
		{name: "the household runs with it", method: "GET", path: "/api/v1/households/h1", want: 200,
			check: func(t *testing.T, b map[string]any) {
				if param(b, "overrides", "no_motion", "hours") != 7.5 || param(b, "thresholds", "no_motion", "hours") != 7.5 {
					t.Errorf("overrides %v, thresholds %v", b["overrides"], b["thresholds"])
				}
			}},
		{name: "once", method: "POST", path: "/api/v1/suggestions/" + raise + "/approve", opts: []reqOption{op}, want: 409, wantCode: "conflict"},
		{name: "the operator rejects the check", method: "POST", path: "/api/v1/suggestions/" + check + "/reject", opts: []reqOption{op}, want: 200},
		{name: "an unknown suggestion", method: "POST", path: "/api/v1/suggestions/nope/reject", opts: []reqOption{op}, want: 404, wantCode: "not_found"},
	})
	if got := pending(); len(got) != 0 {
		t.Errorf("left pending: %v", got)
	}
	if got := e.tasksThresholds(); got != 7.5 {
		t.Errorf("the rules run no_motion.hours %v", got)
	}
	// The household's export holds what its false alarms left.
	x := e.must(200, "GET", "/api/v1/households/h1/export", "")
	if fa, sg := x["false_alarms"].([]any), x["suggestions"].([]any); len(fa) != 4 || len(sg) != 2 ||
		fa[0].(map[string]any)["reason"] != "slept_late" || sg[0].(map[string]any)["status"] != "approved" || sg[1].(map[string]any)["status"] != "rejected" {
		t.Errorf("export: false_alarms %v, suggestions %v", x["false_alarms"], x["suggestions"])
	}
	if b, ok := x["baseline"].(map[string]any); !ok || b["ready_after_days"] != 14.0 {
		t.Errorf("export: baseline %v", x["baseline"])
	}
	entries, err := e.store.Audit(context.Background(), "op", "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	var decisions []string
	for _, en := range entries {
		if strings.HasPrefix(en.Object, "suggestions/") {
			decisions = append(decisions, en.Action+" "+strings.TrimPrefix(en.Object, "suggestions/"))
		}
	}
	// Every call is audited, those refused too.
	if !slices.Contains(decisions, "create "+raise+"/approve") || !slices.Contains(decisions, "create "+check+"/reject") {
		t.Errorf("audit of the decisions: %q", decisions)
	}
}

// tasksThresholds is no_motion.hours as the decision step runs it for h1.
func (e *testEnv) tasksThresholds() any {
	return e.api.opts.Rules.Thresholds("h1")["no_motion"]["hours"]
}
