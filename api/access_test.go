package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/clock"
)

// people registers two grids with a grid worker each, a supervisor, an
// operator and a family member of h1, and logs each in. It returns their
// tokens and one open task per household.
func (e *testEnv) people() (tokens map[string]string, t1, t2 string) {
	e.t.Helper()
	e.seed() // g1 with w1 and w2, h1
	e.must(201, "POST", "/api/v1/grids", `{"id":"g2","name":"Grid 2"}`)
	e.must(201, "POST", "/api/v1/workers", `{"id":"w3","name":"Zhao","phone":"+8613800000003","grid_ids":["g2"],"role":"grid_worker"}`)
	e.must(201, "POST", "/api/v1/workers", `{"id":"sup","name":"Chen","phone":"+8613800000009","grid_ids":[],"role":"supervisor"}`)
	e.must(201, "POST", "/api/v1/households", `{"id":"h2","name":"Sun Li","address":"2 Lane","grid_id":"g2"}`)
	users := []string{
		`{"id":"op","password":"operator-password","role":"operator"}`,
		`{"id":"sv","password":"supervisor-password","role":"supervisor","worker_id":"sup"}`,
		`{"id":"gw1","password":"grid-worker-password","role":"grid_worker","worker_id":"w1"}`,
		`{"id":"gw3","password":"grid-worker-password","role":"grid_worker","worker_id":"w3"}`,
		`{"id":"fam1","password":"family-password","role":"family","household_id":"h1"}`,
	}
	tokens = map[string]string{}
	for _, u := range users {
		b := e.must(201, "POST", "/api/v1/users", u)
		if _, leaked := b["password"]; leaked || strings.Contains(fmt.Sprint(b), "$2a$") {
			e.t.Fatalf("user answer shows the password: %v", b)
		}
		var req loginRequest
		if err := json.Unmarshal([]byte(u), &req); err != nil {
			e.t.Fatal(err)
		}
		body, _ := json.Marshal(req)
		tokens[req.ID] = e.must(200, "POST", "/api/v1/login", string(body), noToken())["token"].(string)
	}
	t1 = e.must(201, "POST", "/api/v1/tasks", `{"household_id":"h1","reason":"phoned: feels dizzy","severity":"high"}`)["id"].(string)
	t2 = e.must(201, "POST", "/api/v1/tasks", `{"household_id":"h2","reason":"phoned: fell yesterday","severity":"high"}`)["id"].(string)
	return tokens, t1, t2
}

func TestAccessByRole(t *testing.T) {
	e := newEnv(t)
	tok, t1, t2 := e.people()
	as := func(user string) []reqOption { return []reqOption{withToken(tok[user])} }
	e.run(t, []call{
		// Operators register and see the whole community, but do not visit.
		{name: "operator registers a grid", method: "POST", path: "/api/v1/grids", body: `{"id":"g9","name":"G9"}`, opts: as("op"), want: 201},
		{name: "operator reads any household", method: "GET", path: "/api/v1/households/h2", opts: as("op"), want: 200},
		{name: "operator lists all tasks", method: "GET", path: "/api/v1/tasks", opts: as("op"), want: 200, check: ids(t2, t1)},
		{name: "operator does not acknowledge", method: "POST", path: "/api/v1/tasks/" + t1 + "/ack", body: `{"worker_id":"w1"}`, opts: as("op"), want: 403, wantCode: "forbidden"},
		{name: "operator does not read the audit log", method: "GET", path: "/api/v1/audit", opts: as("op"), want: 403, wantCode: "forbidden"},
		{name: "operator creates users", method: "POST", path: "/api/v1/users", body: `{"id":"fam2","password":"family-password","role":"family","household_id":"h2"}`, opts: as("op"), want: 201},
		{name: "operator does not create operators", method: "POST", path: "/api/v1/users", body: `{"id":"op2","password":"operator-password","role":"operator"}`, opts: as("op"), want: 403, wantCode: "forbidden"},

		// A grid worker sees their grids only; the rest does not exist for them.
		{name: "grid worker reads their household", method: "GET", path: "/api/v1/households/h1", opts: as("gw1"), want: 200},
		{name: "grid worker: another grid's household is not found", method: "GET", path: "/api/v1/households/h2", opts: as("gw1"), want: 404, wantCode: "not_found"},
		{name: "grid worker: unknown household looks the same", method: "GET", path: "/api/v1/households/h404", opts: as("gw1"), want: 404, wantCode: "not_found"},
		{name: "grid worker lists their tasks only", method: "GET", path: "/api/v1/tasks", opts: as("gw1"), want: 200, check: ids(t1)},
		{name: "grid worker: another grid's task is not found", method: "GET", path: "/api/v1/tasks/" + t2, opts: as("gw1"), want: 404, wantCode: "not_found"},
		{name: "grid worker: its notifications neither", method: "GET", path: "/api/v1/tasks/" + t2 + "/notifications", opts: as("gw1"), want: 404, wantCode: "not_found"},
		{name: "grid worker may not ack as someone else", method: "POST", path: "/api/v1/tasks/" + t1 + "/ack", body: `{"worker_id":"w2"}`, opts: as("gw1"), want: 403, wantCode: "forbidden"},
		{name: "grid worker: ack another grid's task", method: "POST", path: "/api/v1/tasks/" + t2 + "/ack", body: `{"worker_id":"w1"}`, opts: as("gw1"), want: 404, wantCode: "not_found"},
		{name: "grid worker acks as themself", method: "POST", path: "/api/v1/tasks/" + t1 + "/ack", body: `{"worker_id":"w1"}`, opts: as("gw1"), want: 200},
		{name: "grid worker checks in", method: "POST", path: "/api/v1/tasks/" + t1 + "/checkin", body: `{"worker_id":"w1"}`, opts: as("gw1"), want: 200},
		{name: "grid worker resolves", method: "POST", path: "/api/v1/tasks/" + t1 + "/resolve", body: `{"worker_id":"w1","outcome":"safe"}`, opts: as("gw1"), want: 200},
		{name: "grid worker records an away period", method: "POST", path: "/api/v1/households/h1/away",
			body: `{"from":"2026-03-02T00:00:00Z","until":"2026-03-09T00:00:00Z","reason":"hospital"}`, opts: as("gw1"), want: 201},
		{name: "grid worker: away for another grid", method: "POST", path: "/api/v1/households/h2/away",
			body: `{"from":"2026-03-02T00:00:00Z","until":"2026-03-09T00:00:00Z","reason":"hospital"}`, opts: as("gw1"), want: 404, wantCode: "not_found"},
		{name: "grid worker: end an away period of another grid", method: "DELETE", path: "/api/v1/households/h2/away/a1", opts: as("gw1"), want: 404, wantCode: "not_found"},
		{name: "grid worker opens a manual task", method: "POST", path: "/api/v1/tasks", body: `{"household_id":"h1","reason":"neighbour called","severity":"medium"}`, opts: as("gw1"), want: 201},
		{name: "grid worker: manual task elsewhere", method: "POST", path: "/api/v1/tasks", body: `{"household_id":"h2","reason":"x","severity":"medium"}`, opts: as("gw1"), want: 400, wantCode: "invalid"},
		{name: "grid worker does not register", method: "POST", path: "/api/v1/grids", body: `{"id":"g8","name":"G8"}`, opts: as("gw1"), want: 403, wantCode: "forbidden"},
		{name: "grid worker does not tune thresholds", method: "PUT", path: "/api/v1/households/h1/thresholds", body: `{}`, opts: as("gw1"), want: 403, wantCode: "forbidden"},
		{name: "grid worker does not cancel", method: "POST", path: "/api/v1/tasks/" + t2 + "/cancel", body: `{"reason":"x"}`, opts: as("gw3"), want: 403, wantCode: "forbidden"},
		{name: "grid worker does not read reports", method: "GET", path: "/api/v1/reports/sla", opts: as("gw1"), want: 403, wantCode: "forbidden"},
		{name: "grid worker does not create users", method: "POST", path: "/api/v1/users", body: `{"id":"x1","password":"operator-password","role":"operator"}`, opts: as("gw1"), want: 403, wantCode: "forbidden"},

		// A supervisor sees the community and may step in, as themself.
		{name: "supervisor reads the audit log", method: "GET", path: "/api/v1/audit", opts: as("sv"), want: 200},
		{name: "supervisor tunes thresholds", method: "PUT", path: "/api/v1/households/h2/thresholds", body: `{"water_no_use":{"hours":10}}`, opts: as("sv"), want: 200},
		{name: "supervisor acks as themself", method: "POST", path: "/api/v1/tasks/" + t2 + "/ack", body: `{"worker_id":"sup"}`, opts: as("sv"), want: 200},
		{name: "supervisor hands over to the grid worker", method: "POST", path: "/api/v1/tasks/" + t2 + "/handover",
			body: `{"from_worker_id":"sup","to_worker_id":"w3","reason":"closer"}`, opts: as("sv"), want: 200},
		{name: "supervisor may not act as a worker", method: "POST", path: "/api/v1/tasks/" + t2 + "/checkin", body: `{"worker_id":"w3"}`, opts: as("sv"), want: 403, wantCode: "forbidden"},
		{name: "supervisor does not register", method: "POST", path: "/api/v1/devices", body: `{"id":"d9","kind":"wristband","household_id":"h1"}`, opts: as("sv"), want: 403, wantCode: "forbidden"},

		// Family: their household's status, nothing else.
		{name: "family reads their household", method: "GET", path: "/api/v1/households/h1", opts: as("fam1"), want: 200,
			check: func(t *testing.T, b map[string]any) {
				for _, k := range []string{"contacts", "address", "thresholds", "overrides", "away", "grid_id"} {
					if _, ok := b[k]; ok {
						t.Errorf("family sees %s: %v", k, b)
					}
				}
				if b["id"] != "h1" || b["devices"] == nil {
					t.Errorf("family view = %v", b)
				}
			}},
		{name: "family: another household is not found", method: "GET", path: "/api/v1/households/h2", opts: as("fam1"), want: 404, wantCode: "not_found"},
		{name: "family does not list tasks", method: "GET", path: "/api/v1/tasks", opts: as("fam1"), want: 403, wantCode: "forbidden"},
		{name: "family does not read a task", method: "GET", path: "/api/v1/tasks/" + t1, opts: as("fam1"), want: 403, wantCode: "forbidden"},
		{name: "family does not record away periods", method: "POST", path: "/api/v1/households/h1/away",
			body: `{"from":"2026-03-02T00:00:00Z","until":"2026-03-09T00:00:00Z","reason":"x"}`, opts: as("fam1"), want: 403, wantCode: "forbidden"},
		{name: "family does not end away periods", method: "DELETE", path: "/api/v1/households/h1/away/a1", opts: as("fam1"), want: 403, wantCode: "forbidden"},
		{name: "family does not register", method: "POST", path: "/api/v1/households", body: `{"id":"h9","name":"x","address":"y","grid_id":"g1"}`, opts: as("fam1"), want: 403, wantCode: "forbidden"},
	})
}

func TestLogin(t *testing.T) {
	e := newEnv(t)
	e.seed()
	e.must(201, "POST", "/api/v1/users", `{"id":"gw1","password":"grid-worker-password","role":"grid_worker","worker_id":"w1"}`)
	e.run(t, []call{
		{name: "wrong password", method: "POST", path: "/api/v1/login", body: `{"id":"gw1","password":"grid-worker-passwort"}`, opts: []reqOption{noToken()}, want: 401, wantCode: "unauthorized", wantMsg: "wrong id or password"},
		{name: "unknown user says the same", method: "POST", path: "/api/v1/login", body: `{"id":"nobody","password":"grid-worker-password"}`, opts: []reqOption{noToken()}, want: 401, wantCode: "unauthorized", wantMsg: "wrong id or password"},
		{name: "short password refused at creation", method: "POST", path: "/api/v1/users", body: `{"id":"u2","password":"short","role":"operator"}`, want: 400, wantCode: "invalid", wantMsg: "password"},
		{name: "grid worker without a worker", method: "POST", path: "/api/v1/users", body: `{"id":"u3","password":"long-enough-password","role":"grid_worker"}`, want: 400, wantCode: "invalid", wantMsg: "worker_id"},
		{name: "unknown worker", method: "POST", path: "/api/v1/users", body: `{"id":"u4","password":"long-enough-password","role":"grid_worker","worker_id":"w404"}`, want: 400, wantCode: "invalid"},
		{name: "taken id", method: "POST", path: "/api/v1/users", body: `{"id":"gw1","password":"long-enough-password","role":"operator"}`, want: 409, wantCode: "conflict"},
		{name: "unknown field", method: "POST", path: "/api/v1/login", body: `{"id":"gw1","password":"x","remember":true}`, opts: []reqOption{noToken()}, want: 400, wantCode: "bad_json"},
	})

	login := e.must(200, "POST", "/api/v1/login", `{"id":"gw1","password":"grid-worker-password"}`, noToken())
	token := login["token"].(string)
	expires, err := time.Parse(time.RFC3339, login["expires_at"].(string))
	if err != nil || expires.Sub(time.Now()) < 11*time.Hour || expires.Sub(time.Now()) > 12*time.Hour+time.Minute {
		t.Fatalf("expires_at %v: %v", login["expires_at"], err)
	}
	e.must(200, "GET", "/api/v1/households/h1", "", withToken(token))

	// Expired: the same token no longer works.
	e.api.wall = clock.Func(func() time.Time { return expires.Add(time.Second) })
	if r := e.do("GET", "/api/v1/households/h1", "", withToken(token)); r.status != http.StatusUnauthorized {
		t.Errorf("an expired session: status %d", r.status)
	}
	e.api.wall = clock.Wall{}

	// Guessing is slowed down: the sixth try for one id in a row is refused.
	frozen := time.Now()
	e.api.wall = clock.Func(func() time.Time { return frozen })
	var last response
	for range 6 {
		last = e.do("POST", "/api/v1/login", `{"id":"gw1","password":"guess-guess-guess"}`, noToken())
	}
	if last.status != http.StatusTooManyRequests || last.header.Get("Retry-After") == "" {
		t.Errorf("sixth guess: status %d, Retry-After %q", last.status, last.header.Get("Retry-After"))
	}
}

func TestAuditRecordsAccess(t *testing.T) {
	e := newEnv(t)
	tok, t1, _ := e.people()
	e.do("GET", "/api/v1/households/h1", "", withToken(tok["gw1"]), func(r *http.Request) { r.Header.Set(ReasonHeader, "visit preparation") })
	e.do("GET", "/api/v1/households/h2", "", withToken(tok["gw1"]))
	e.do("GET", "/api/v1/tasks/"+t1, "", withToken(tok["fam1"]))
	e.must(200, "GET", "/api/v1/reports/sla", "", withToken(tok["op"]))

	b := e.must(200, "GET", "/api/v1/audit?actor=gw1", "", withToken(tok["sv"]))
	entries := b["entries"].([]any)
	var got []string
	for _, x := range entries {
		m := x.(map[string]any)
		got = append(got, fmt.Sprint(m["action"], " ", m["object"], " ", m["reason"], " ", m["role"], " ", m["remote"]))
	}
	want := []string{
		// Another grid's household: asked, then refused.
		"refuse households/h2 read refused, 404 not_found: out of scope: household h2 is in grid g2 grid_worker 127.0.0.1",
		"read households/h2 GET /api/v1/households/{id} grid_worker 127.0.0.1",
		"read households/h1 visit preparation grid_worker 127.0.0.1",
		"login users/gw1 logged in grid_worker 127.0.0.1",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("audit of gw1:\n got %q\nwant %q", got, want)
	}
	if n, err := e.store.VerifyAudit(t.Context(), testAuditKey); err != nil || n == 0 {
		t.Errorf("audit chain: %d entries, %v", n, err)
	}
	for _, x := range e.must(200, "GET", "/api/v1/audit", "", withToken(tok["sv"]))["entries"].([]any) {
		if obj := x.(map[string]any)["object"].(string); strings.HasPrefix(obj, "reports") {
			t.Errorf("an aggregate report, no personal data, is in the audit log: %v", x)
		}
	}
}

func TestManualTaskBeforeTheEventClockStarts(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Clock = clock.Func(func() time.Time { return time.Time{} }) })
	e.seed()
	e.run(t, []call{{name: "no now to date it with", method: "POST", path: "/api/v1/tasks",
		body: `{"household_id":"h1","reason":"phoned","severity":"high"}`, want: 409, wantCode: "conflict", wantMsg: "event clock has not started"}})
}
