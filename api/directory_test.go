package api

import (
	"fmt"
	"strings"
	"testing"
)

// listed returns a check that the list under key holds exactly the ids want.
func listed(key string, want ...string) func(t *testing.T, b map[string]any) {
	return func(t *testing.T, b map[string]any) {
		t.Helper()
		list, ok := b[key].([]any)
		if !ok {
			t.Fatalf("%s = %v, want a list", key, b[key])
		}
		var got []string
		for _, x := range list {
			got = append(got, x.(map[string]any)["id"].(string))
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s %v, want %v", key, got, want)
		}
	}
}

func TestDirectory(t *testing.T) {
	e := newEnv(t)
	tok, t1, t2 := e.people()
	as := func(user string) []reqOption { return []reqOption{withToken(tok[user])} }
	e.run(t, []call{
		{name: "operator lists grids", method: "GET", path: "/api/v1/grids", opts: as("op"), want: 200, check: listed("grids", "g1", "g2")},
		{name: "grid worker lists their grids", method: "GET", path: "/api/v1/grids", opts: as("gw1"), want: 200, check: listed("grids", "g1")},
		{name: "family lists no grids", method: "GET", path: "/api/v1/grids", opts: as("fam1"), want: 403, wantCode: "forbidden"},
		{name: "grid list takes no query", method: "GET", path: "/api/v1/grids?x=1", opts: as("op"), want: 400, wantCode: "invalid"},

		{name: "operator lists workers with numbers", method: "GET", path: "/api/v1/workers", opts: as("op"), want: 200,
			check: func(t *testing.T, b map[string]any) {
				listed("workers", "sup", "w1", "w2", "w3")(t, b)
				if w := b["workers"].([]any)[1].(map[string]any); w["phone"] != "+8613800000001" || w["name"] != "Wang" {
					t.Errorf("worker w1 = %v", w)
				}
			}},
		{name: "operator lists one grid's workers", method: "GET", path: "/api/v1/workers?grid_id=g2", opts: as("op"), want: 200, check: listed("workers", "w3")},
		{name: "grid worker lists colleagues without numbers", method: "GET", path: "/api/v1/workers", opts: as("gw1"), want: 200,
			check: func(t *testing.T, b map[string]any) {
				listed("workers", "w1", "w2")(t, b)
				if strings.Contains(fmt.Sprint(b), "+86") {
					t.Errorf("grid worker sees numbers: %v", b)
				}
			}},
		{name: "grid worker: another grid's workers are none", method: "GET", path: "/api/v1/workers?grid_id=g2", opts: as("gw1"), want: 200, check: listed("workers")},
		{name: "bad grid id", method: "GET", path: "/api/v1/workers?grid_id=%20", opts: as("op"), want: 400, wantCode: "invalid"},

		{name: "operator lists users", method: "GET", path: "/api/v1/users", opts: as("op"), want: 200,
			check: func(t *testing.T, b map[string]any) {
				listed("users", "fam1", "gw1", "gw3", "op", "sv")(t, b)
				if strings.Contains(fmt.Sprint(b), "$2a$") || strings.Contains(fmt.Sprint(b), "password") {
					t.Errorf("users list shows passwords: %v", b)
				}
			}},
		{name: "supervisor lists users", method: "GET", path: "/api/v1/users", opts: as("sv"), want: 200},
		{name: "grid worker lists no users", method: "GET", path: "/api/v1/users", opts: as("gw1"), want: 403, wantCode: "forbidden"},

		{name: "operator renames a grid", method: "PUT", path: "/api/v1/grids/g2", body: `{"name":"Riverside","supervisor_id":"sup"}`, opts: as("op"), want: 200},
		{name: "renamed grid is listed so", method: "GET", path: "/api/v1/grids", opts: as("op"), want: 200,
			check: func(t *testing.T, b map[string]any) {
				if g := b["grids"].([]any)[1].(map[string]any); g["name"] != "Riverside" || g["supervisor_id"] != "sup" {
					t.Errorf("grid g2 = %v", g)
				}
			}},
		{name: "grid without a name", method: "PUT", path: "/api/v1/grids/g2", body: `{"name":""}`, opts: as("op"), want: 400, wantCode: "invalid", wantMsg: "name is required"},
		{name: "unknown grid", method: "PUT", path: "/api/v1/grids/g9", body: `{"name":"x"}`, opts: as("op"), want: 404, wantCode: "not_found"},
		{name: "supervisor does not edit grids", method: "PUT", path: "/api/v1/grids/g2", body: `{"name":"x"}`, opts: as("sv"), want: 403, wantCode: "forbidden"},

		{name: "operator moves a worker", method: "PUT", path: "/api/v1/workers/w2",
			body: `{"name":"Li Na","phone":"+8613800000022","grid_ids":["g2"],"role":"grid_worker","lang":"en"}`, opts: as("op"), want: 200,
			check: func(t *testing.T, b map[string]any) {
				if b["name"] != "Li Na" || fmt.Sprint(b["grid_ids"]) != "[g2]" || b["role"] != "grid_worker" {
					t.Errorf("worker = %v", b)
				}
			}},
		{name: "moved worker lists in the new grid", method: "GET", path: "/api/v1/workers?grid_id=g2", opts: as("op"), want: 200, check: listed("workers", "w2", "w3")},
		{name: "a worker's role stays", method: "PUT", path: "/api/v1/workers/w2", body: `{"name":"Li","grid_ids":["g2"],"role":"supervisor"}`, opts: as("op"), want: 400, wantCode: "invalid", wantMsg: "stays one"},
		{name: "worker in an unknown grid", method: "PUT", path: "/api/v1/workers/w2", body: `{"name":"Li","grid_ids":["g404"]}`, opts: as("op"), want: 400, wantCode: "invalid", wantMsg: "g404"},
		{name: "unknown worker", method: "PUT", path: "/api/v1/workers/w404", body: `{"name":"x","grid_ids":[]}`, opts: as("op"), want: 404, wantCode: "not_found"},
		{name: "unknown field", method: "PUT", path: "/api/v1/workers/w2", body: `{"name":"x","salary":1}`, opts: as("op"), want: 400, wantCode: "bad_json"},

		{name: "operator edits a household", method: "PUT", path: "/api/v1/households/h1",
			body: `{"name":"Zhang Wei","address":"3 Lane, Room 2","grid_id":"g2","timezone":"Asia/Shanghai"}`, opts: as("op"), want: 200,
			check: func(t *testing.T, b map[string]any) {
				if b["address"] != "3 Lane, Room 2" || b["grid_id"] != "g2" {
					t.Errorf("household = %v", b)
				}
				if c, _ := b["contacts"].([]any); len(c) != 1 {
					t.Errorf("contacts left out were not kept: %v", b["contacts"])
				}
			}},
		{name: "edited household reads so", method: "GET", path: "/api/v1/households/h1", opts: as("op"), want: 200,
			check: func(t *testing.T, b map[string]any) {
				if b["address"] != "3 Lane, Room 2" || b["timezone"] != "Asia/Shanghai" {
					t.Errorf("household = %v", b)
				}
			}},
		{name: "household in an unknown grid", method: "PUT", path: "/api/v1/households/h1", body: `{"name":"Z","address":"A","grid_id":"g404"}`, opts: as("op"), want: 400, wantCode: "invalid"},
		{name: "household with a bad zone", method: "PUT", path: "/api/v1/households/h1", body: `{"name":"Z","address":"A","grid_id":"g1","timezone":"Mars/Olympus"}`, opts: as("op"), want: 400, wantCode: "invalid", wantMsg: "timezone"},
		{name: "unknown household", method: "PUT", path: "/api/v1/households/h404", body: `{"name":"Z","address":"A","grid_id":"g1"}`, opts: as("op"), want: 404, wantCode: "not_found"},
		{name: "grid worker does not edit households", method: "PUT", path: "/api/v1/households/h1", body: `{"name":"Z","address":"A","grid_id":"g1"}`, opts: as("gw1"), want: 403, wantCode: "forbidden"},
		{name: "refused edits changed nothing", method: "GET", path: "/api/v1/households/h1", opts: as("op"), want: 200,
			check: func(t *testing.T, b map[string]any) {
				if b["name"] != "Zhang Wei" || b["grid_id"] != "g2" {
					t.Errorf("household = %v", b)
				}
			}},

		{name: "family sees the open task and who is coming", method: "GET", path: "/api/v1/households/h1", opts: as("fam1"), want: 200,
			check: func(t *testing.T, b map[string]any) {
				open, _ := b["open_tasks"].([]any)
				if len(open) != 1 {
					t.Fatalf("open_tasks = %v", b["open_tasks"])
				}
				task := open[0].(map[string]any)
				if task["rule"] != "manual" || task["state"] != "open" || task["assignee"] != "Wang" {
					t.Errorf("open task = %v", task)
				}
				if _, ok := task["evidence"]; ok {
					t.Errorf("family sees evidence: %v", task)
				}
			}},

		// Devices say where in the home they are: a home's motion sensors differ.
		{name: "a device with its room", method: "POST", path: "/api/v1/devices", body: `{"id":"pir-k","kind":"motion_sensor","household_id":"h1","location":"厨房"}`, opts: as("op"), want: 201,
			check: func(t *testing.T, b map[string]any) {
				if b["location"] != "厨房" || b["secret"] == "" {
					t.Errorf("device = %v", b)
				}
			}},
		{name: "the list names the room", method: "GET", path: "/api/v1/households?grid_id=g2", opts: as("op"), want: 200,
			check: func(t *testing.T, b map[string]any) {
				if !strings.Contains(fmt.Sprint(b["households"]), "location:厨房") {
					t.Errorf("households = %v", b["households"])
				}
			}},
		{name: "a room too long", method: "POST", path: "/api/v1/devices", body: `{"id":"pir-x","kind":"motion_sensor","household_id":"h1","location":"` + strings.Repeat("x", 201) + `"}`, opts: as("op"), want: 400, wantCode: "invalid", wantMsg: "location"},

		// The office moves a task its worker cannot take (no handover from them).
		{name: "operator reassigns an open task", method: "POST", path: "/api/v1/tasks/" + t1 + "/reassign", body: `{"to_worker_id":"w2","reason":"Wang is ill"}`, opts: as("op"), want: 200,
			check: func(t *testing.T, b map[string]any) {
				if b["assignee_id"] != "w2" || b["state"] != "open" {
					t.Errorf("task = %v", b)
				}
			}},
		{name: "family sees who comes now", method: "GET", path: "/api/v1/households/h1", opts: as("fam1"), want: 200,
			check: func(t *testing.T, b map[string]any) {
				if task := b["open_tasks"].([]any)[0].(map[string]any); task["assignee"] != "Li Na" {
					t.Errorf("open task = %v", task)
				}
			}},
		{name: "reassign to the same worker", method: "POST", path: "/api/v1/tasks/" + t1 + "/reassign", body: `{"to_worker_id":"w2","reason":"x"}`, opts: as("op"), want: 400, wantCode: "invalid", wantMsg: "already"},
		{name: "reassign to nobody", method: "POST", path: "/api/v1/tasks/" + t1 + "/reassign", body: `{"reason":"x"}`, opts: as("op"), want: 400, wantCode: "invalid", wantMsg: "to_worker_id is required"},
		{name: "reassign to an unknown worker", method: "POST", path: "/api/v1/tasks/" + t1 + "/reassign", body: `{"to_worker_id":"w404","reason":"x"}`, opts: as("op"), want: 400, wantCode: "invalid"},
		{name: "grid worker does not reassign", method: "POST", path: "/api/v1/tasks/" + t2 + "/reassign", body: `{"to_worker_id":"w3","reason":"x"}`, opts: as("gw3"), want: 403, wantCode: "forbidden"},
		{name: "a cancelled task is not reassigned", method: "POST", path: "/api/v1/tasks/" + t2 + "/cancel", body: `{"reason":"called back: fine"}`, opts: as("op"), want: 200},
		{name: "reassign a closed task", method: "POST", path: "/api/v1/tasks/" + t2 + "/reassign", body: `{"to_worker_id":"w2","reason":"x"}`, opts: as("op"), want: 409, wantCode: "invalid_transition"},
		{name: "the timeline names the office", method: "GET", path: "/api/v1/tasks/" + t1, opts: as("op"), want: 200,
			check: func(t *testing.T, b map[string]any) {
				tl := b["timeline"].([]any)
				last := tl[len(tl)-1].(map[string]any)
				if last["type"] != "handed_over" || last["actor"] != "op" {
					t.Errorf("last timeline entry = %v", last)
				}
			}},
	})
	// Every listing and edit is in the audit log, by whom.
	audit := e.must(200, "GET", "/api/v1/audit?actor=op&limit=1000", "")
	for _, object := range []string{"grids", "workers", "users", "grids/g2", "workers/w2", "households/h1", "tasks/" + t1 + "/reassign"} {
		if !strings.Contains(fmt.Sprint(audit["entries"]), "object:"+object+" ") {
			t.Errorf("no audit entry of op on %s", object)
		}
	}
}

// TestMeNamesTheZone: the console learns the monitor's configured location,
// the zone of a household without its own.
func TestMeNamesTheZone(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Timezone = "Asia/Shanghai" })
	if me := e.must(200, "GET", "/api/v1/me", ""); me["timezone"] != "Asia/Shanghai" {
		t.Errorf("me = %v, want timezone Asia/Shanghai", me)
	}
}
