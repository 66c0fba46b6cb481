package api

import (
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/eldersafe/eldersafe/registry"
)

// Issue 14: what a hostile user or an insider tried, and must not get.

// TestOperatorCannotGrantItselfSensitiveFields is the first finding,
// step by step: an operator makes a supervisor of its own, logs in as it and
// grants itself a household's phone numbers and medical notes. The chain
// must break at its first step, and the operator must see nothing.
func TestOperatorCannotGrantItselfSensitiveFields(t *testing.T) {
	e := newEnv(t)
	tok, _, _ := e.people()
	e.sensitiveHousehold(tok)
	op := withToken(tok["op"])

	if r := e.do("POST", "/api/v1/workers", `{"id":"sup2","name":"Op Alt","phone":"+8613800000077","grid_ids":[],"role":"supervisor"}`, op); r.status != 403 {
		t.Errorf("operator creates a supervisor worker: status %d, want 403; body %s", r.status, r.body)
	}
	if r := e.do("POST", "/api/v1/users", `{"id":"op1-alt","password":"op-alt-password","role":"supervisor","worker_id":"sup2"}`, op); r.status != 403 && r.status != 400 {
		t.Errorf("operator creates a supervisor user for it: status %d, want 403 (or 400 with no such worker); body %s", r.status, r.body)
	}
	if r := e.do("POST", "/api/v1/users", `{"id":"op1-alt2","password":"op-alt-password","role":"supervisor"}`, op); r.status != 403 {
		t.Errorf("operator creates a supervisor user: status %d, want 403; body %s", r.status, r.body)
	}
	// Whatever got through, try the rest of the chain as the issue did.
	until := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	for _, alt := range []string{"op1-alt", "op1-alt2"} {
		r := e.do("POST", "/api/v1/login", `{"id":"`+alt+`","password":"op-alt-password"}`, noToken())
		if r.status != 200 {
			continue
		}
		altTok := r.object(t)["token"].(string)
		e.do("POST", "/api/v1/grants", `{"user_id":"op","household_id":"h5","fields":["phone","medical_notes"],"reason":"x","until":"`+until+`"}`, withToken(altTok))
	}
	e.run(t, []call{{name: "the operator sees no sensitive field", method: "GET", path: "/api/v1/households/h5", opts: []reqOption{op}, want: 200,
		check: shows(map[string]bool{"phone": false, "medical_notes": false})}})
}

// TestRolesCannotBeEscalated: every way found for a role to give itself or
// its accomplice more than it has.
func TestRolesCannotBeEscalated(t *testing.T) {
	e := newEnv(t)
	tok, _, _ := e.people()
	e.sensitiveHousehold(tok)
	as := func(user string) []reqOption { return []reqOption{withToken(tok[user])} }
	until := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	grant := func(user string) string {
		return `{"user_id":"` + user + `","household_id":"h5","fields":["phone","medical_notes","location"],"reason":"x","until":"` + until + `"}`
	}
	e.must(201, "POST", "/api/v1/users", `{"id":"sv-alt","password":"supervisor-password","role":"supervisor","worker_id":"sup"}`)

	e.run(t, []call{
		// Only the admin makes the privileged roles.
		{name: "operator makes a supervisor worker", method: "POST", path: "/api/v1/workers", opts: as("op"), want: 403, wantCode: "forbidden", wantMsg: "only the admin",
			body: `{"id":"sup2","name":"Chen","phone":"+8613800000077","grid_ids":[],"role":"supervisor"}`},
		{name: "operator makes an operator worker", method: "POST", path: "/api/v1/workers", opts: as("op"), want: 403, wantCode: "forbidden", wantMsg: "only the admin",
			body: `{"id":"op2","name":"Chen","phone":"+8613800000077","grid_ids":[],"role":"operator"}`},
		{name: "operator makes a supervisor user", method: "POST", path: "/api/v1/users", opts: as("op"), want: 403, wantCode: "forbidden", wantMsg: "only the admin",
			body: `{"id":"op-alt","password":"op-alt-password","role":"supervisor"}`},
		{name: "operator makes a supervisor user of a supervisor's record", method: "POST", path: "/api/v1/users", opts: as("op"), want: 403, wantCode: "forbidden",
			body: `{"id":"op-alt","password":"op-alt-password","role":"supervisor","worker_id":"sup"}`},
		{name: "operator makes an operator user", method: "POST", path: "/api/v1/users", opts: as("op"), want: 403, wantCode: "forbidden", wantMsg: "only the admin",
			body: `{"id":"op-alt","password":"op-alt-password","role":"operator"}`},
		// A grid worker's login on a supervisor's worker record would act as the supervisor.
		{name: "operator ties a grid worker login to a supervisor's record", method: "POST", path: "/api/v1/users", opts: as("op"), want: 400, wantCode: "invalid",
			wantMsg: `worker "sup" is a supervisor`, body: `{"id":"op-alt","password":"op-alt-password","role":"grid_worker","worker_id":"sup"}`},
		// A second login on a worker's record would see what its assignee sees (an open fall's position).
		{name: "operator makes a second login for a worker", method: "POST", path: "/api/v1/users", opts: as("op"), want: 403, wantCode: "forbidden",
			wantMsg: `worker "w1" already has a login`, body: `{"id":"gw1-alt","password":"op-alt-password","role":"grid_worker","worker_id":"w1"}`},
		// "admin" names the bootstrap token in the audit log.
		{name: "a user called admin", method: "POST", path: "/api/v1/users", opts: as("op"), want: 400, wantCode: "invalid", wantMsg: `"admin" is reserved`,
			body: `{"id":"admin","password":"op-alt-password","role":"family","household_id":"h1"}`},
		{name: "a user called Admin", method: "POST", path: "/api/v1/users", want: 400, wantCode: "invalid", wantMsg: `"admin" is reserved`,
			body: `{"id":"ADMIN","password":"op-alt-password","role":"operator"}`},

		// What operators still do.
		{name: "operator makes a grid worker", method: "POST", path: "/api/v1/workers", opts: as("op"), want: 201,
			body:  `{"id":"w4","name":"Qian","phone":"+8613800000004","grid_ids":["g1"],"role":"grid_worker"}`,
			check: fields(map[string]any{"created_by": "op"})},
		{name: "operator makes its login", method: "POST", path: "/api/v1/users", opts: as("op"), want: 201,
			body:  `{"id":"gw4","password":"grid-worker-password","role":"grid_worker","worker_id":"w4"}`,
			check: fields(map[string]any{"created_by": "op"})},
		{name: "operator makes a family login", method: "POST", path: "/api/v1/users", opts: as("op"), want: 201,
			body: `{"id":"fam5","password":"family-password","role":"family","household_id":"h5"}`},

		// A supervisor grants others, never itself.
		{name: "supervisor grants itself", method: "POST", path: "/api/v1/grants", body: grant("sv"), opts: as("sv"), want: 403, wantCode: "forbidden", wantMsg: "grants others, not themself"},
		{name: "supervisor grants its other login", method: "POST", path: "/api/v1/grants", body: grant("sv-alt"), opts: as("sv"), want: 403, wantCode: "forbidden", wantMsg: "grants others, not themself"},
		{name: "supervisor grants a grid worker", method: "POST", path: "/api/v1/grants", body: grant("gw2"), opts: as("sv"), want: 201},
		{name: "the admin grants a supervisor", method: "POST", path: "/api/v1/grants", body: grant("sv"), want: 201},
	})

	// The assignee's other logins: none could be made, so the position of
	// the open fall stays with w1's one login.
	e.run(t, []call{{name: "no second login saw the fall", method: "POST", path: "/api/v1/login", body: `{"id":"gw1-alt","password":"op-alt-password"}`,
		opts: []reqOption{noToken()}, want: 401, wantCode: "unauthorized"}})
}

// TestSupervisorCannotGrantItsRegistrar: a supervisor that someone other
// than the admin registered (an operator could, before issue 14; another
// tool writing the store still can) may not grant sensitive fields to
// whoever registered it or its worker record.
func TestSupervisorCannotGrantItsRegistrar(t *testing.T) {
	e := newEnv(t)
	tok, _, _ := e.people()
	e.sensitiveHousehold(tok)
	ctx := t.Context()
	if err := e.store.CreateWorker(ctx, registry.Worker{ID: "sup-op", Name: "Op's pick", Role: registry.RoleSupervisor,
		GridIDs: []string{}, CreatedBy: "op"}); err != nil {
		t.Fatal(err)
	}
	hash, err := registry.HashPassword("supervisor-password", bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []registry.User{
		{ID: "sv-by-op", Role: registry.RoleSupervisor, PasswordHash: hash, CreatedBy: "op"},
		{ID: "sv-on-ops-record", Role: registry.RoleSupervisor, WorkerID: "sup-op", PasswordHash: hash, CreatedBy: registry.AdminID},
	} {
		if _, err := e.store.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		tok[u.ID] = e.must(200, "POST", "/api/v1/login", `{"id":"`+u.ID+`","password":"supervisor-password"}`, noToken())["token"].(string)
	}
	until := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	grant := func(user string) string {
		return `{"user_id":"` + user + `","household_id":"h5","fields":["phone"],"reason":"x","until":"` + until + `"}`
	}
	as := func(user string) []reqOption { return []reqOption{withToken(tok[user])} }
	e.run(t, []call{
		{name: "to the operator that registered it", method: "POST", path: "/api/v1/grants", body: grant("op"), opts: as("sv-by-op"),
			want: 403, wantCode: "forbidden", wantMsg: "op registered the caller"},
		{name: "to the operator that registered its worker record", method: "POST", path: "/api/v1/grants", body: grant("op"), opts: as("sv-on-ops-record"),
			want: 403, wantCode: "forbidden", wantMsg: "op registered the caller's worker record sup-op"},
		{name: "to someone else", method: "POST", path: "/api/v1/grants", body: grant("gw2"), opts: as("sv-by-op"), want: 201},
	})
	e.run(t, []call{{name: "the operator sees nothing", method: "GET", path: "/api/v1/households/h5", opts: as("op"), want: 200,
		check: shows(map[string]bool{"phone": false})}})
}
