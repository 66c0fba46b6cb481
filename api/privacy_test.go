package api

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/clock"
	"github.com/eldersafe/eldersafe/rules"
)

// Sensitive values of household h5.
const (
	h5Phone = "+8613711112222"
	h5Notes = "Type 2 diabetes; insulin at 08:00"
)

// sensitiveHousehold registers h5 in g1 (w1 its primary worker) with a
// relative's phone, medical notes and a wristband whose status has a heart
// rate, and a grid-worker user gw2 for w2. It opens a fall task on h5 with
// the wristband's position, assigned to w1, and returns its id.
func (e *testEnv) sensitiveHousehold(tok map[string]string) (fallID string) {
	e.t.Helper()
	e.must(201, "POST", "/api/v1/households", `{"id":"h5","name":"Wu Lan","address":"5 Lane","grid_id":"g1",
		"medical_notes":"`+h5Notes+`","contacts":[{"name":"Wu Jun","relation":"son","phone":"`+h5Phone+`","channels":["sms","log"]}]}`)
	e.must(201, "POST", "/api/v1/devices", `{"id":"d-band5","kind":"wristband","household_id":"h5","secret":"0123456789abcdef"}`)
	e.must(201, "POST", "/api/v1/users", `{"id":"gw2","password":"grid-worker-password","role":"grid_worker","worker_id":"w2"}`)
	tok["gw2"] = e.must(200, "POST", "/api/v1/login", `{"id":"gw2","password":"grid-worker-password"}`, noToken())["token"].(string)
	e.mu.Lock()
	e.status["h5"] = []rules.DeviceStatus{{DeviceID: "d-band5", LastSeen: t0, Online: true,
		Last: map[string]any{"heart_rate": 72.0, "worn": true}}}
	e.mu.Unlock()
	task, opened, err := e.tasks.Raise(context.Background(), rules.Alert{
		HouseholdID: "h5", Rule: rules.RuleFall, Severity: rules.Critical, Kind: rules.Visit, At: e.clock.Now(),
		Evidence: rules.Evidence{At: e.clock.Now(), DeviceID: "d-band5", Summary: "fall reported",
			Values: map[string]any{"lat": 31.2304, "lon": 121.4737, "accuracy_m": 8.0}},
	})
	if err != nil || !opened || task.AssigneeID != "w1" {
		e.t.Fatalf("raise fall on h5: %+v, %v, %v", task, opened, err)
	}
	return task.ID
}

// shows checks which sensitive values an answer holds: each of phone,
// medical_notes, heart_rate and location is either shown (true) or
// withheld and named in a "redacted" list (false). Fields missing from want
// are not looked at.
func shows(want map[string]bool) func(t *testing.T, b map[string]any) {
	return func(t *testing.T, b map[string]any) {
		t.Helper()
		body := fmt.Sprint(b)
		got := map[string]bool{
			"phone":         strings.Contains(body, h5Phone),
			"medical_notes": strings.Contains(body, h5Notes),
			"heart_rate":    strings.Contains(body, "heart_rate:72"),
			"location":      strings.Contains(body, "lat:31.2304") && strings.Contains(body, "accuracy_m:8"),
		}
		redacted := redactedNames(b)
		for f, w := range want {
			if got[f] != w {
				t.Errorf("%s shown: %v, want %v; body %v", f, got[f], w, body)
			}
			if !w && !slices.Contains(redacted, f) {
				t.Errorf("%s withheld but not named in a redacted list (%v); body %v", f, redacted, body)
			}
		}
	}
}

// redactedNames collects every "redacted" list in a JSON document; lat, lon
// and accuracy_m count as location.
func redactedNames(v any) []string {
	var out []string
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			if k == "redacted" {
				for _, n := range val.([]any) {
					name := n.(string)
					if name == "lat" || name == "lon" || name == "accuracy_m" {
						name = "location"
					}
					out = append(out, name)
				}
				continue
			}
			out = append(out, redactedNames(val)...)
		}
	case []any:
		for _, val := range x {
			out = append(out, redactedNames(val)...)
		}
	}
	return out
}

// grantUses lists the reasons of the "use of grant" entries of actor.
func (e *testEnv) grantUses(actor string) []string {
	e.t.Helper()
	entries, err := e.store.Audit(context.Background(), actor, "", 1000)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, en := range entries {
		if en.Action == "read" && strings.HasPrefix(en.Reason, "use of grant ") {
			out = append(out, en.Object+": "+en.Reason)
		}
	}
	return out
}

func TestSensitiveFieldsAndGrants(t *testing.T) {
	e := newEnv(t)
	tok, _, _ := e.people()
	fall := e.sensitiveHousehold(tok)
	as := func(user string) []reqOption { return []reqOption{withToken(tok[user])} }
	none := map[string]bool{"phone": false, "medical_notes": false, "heart_rate": false}
	all := map[string]bool{"phone": true, "medical_notes": true, "heart_rate": true}
	until := time.Now().Add(2 * time.Hour).UTC().Truncate(time.Second)
	grantBody := func(user string, extra string) string {
		return `{"user_id":"` + user + `","household_id":"h5","fields":["phone","medical_notes","heart_rate","location"],` +
			`"reason":"covering for w1 this afternoon","until":"` + until.Format(time.RFC3339) + `"` + extra + `}`
	}

	e.run(t, []call{
		// Without a grant nobody but the admin sees sensitive values.
		{name: "grid worker: household without a grant", method: "GET", path: "/api/v1/households/h5", opts: as("gw2"), want: 200, check: shows(none)},
		{name: "grid worker: fall of another worker, no position", method: "GET", path: "/api/v1/tasks/" + fall, opts: as("gw2"), want: 200,
			check: shows(map[string]bool{"location": false})},
		{name: "assignee of the open fall sees where to go", method: "GET", path: "/api/v1/tasks/" + fall, opts: as("gw1"), want: 200,
			check: shows(map[string]bool{"location": true})},
		{name: "assignee: the household's other fields stay hidden", method: "GET", path: "/api/v1/households/h5", opts: as("gw1"), want: 200, check: shows(none)},
		{name: "supervisor without a grant", method: "GET", path: "/api/v1/households/h5", opts: as("sv"), want: 200, check: shows(none)},
		{name: "operator without a grant", method: "GET", path: "/api/v1/households/h5", opts: as("op"), want: 200, check: shows(none)},
		{name: "admin sees everything", method: "GET", path: "/api/v1/households/h5", want: 200, check: shows(all)},
		{name: "operator's registration answer withholds what was typed", method: "POST", path: "/api/v1/households", opts: as("op"),
			body: `{"id":"h6","name":"Qian","address":"6 Lane","grid_id":"g1","medical_notes":"` + h5Notes + `"}`, want: 201,
			check: shows(map[string]bool{"medical_notes": false})},

		// Who may grant, and what.
		{name: "grid worker may not grant", method: "POST", path: "/api/v1/grants", body: grantBody("gw1", ""), opts: as("gw1"), want: 403, wantCode: "forbidden"},
		{name: "operator may not grant", method: "POST", path: "/api/v1/grants", body: grantBody("gw2", ""), opts: as("op"), want: 403, wantCode: "forbidden"},
		{name: "family may not grant", method: "POST", path: "/api/v1/grants", body: grantBody("gw2", ""), opts: as("fam1"), want: 403, wantCode: "forbidden"},
		{name: "grid worker may not list grants", method: "GET", path: "/api/v1/grants?household_id=h5", opts: as("gw2"), want: 403, wantCode: "forbidden"},
		{name: "grant without a reason", method: "POST", path: "/api/v1/grants", opts: as("sv"), want: 400, wantCode: "invalid", wantMsg: "reason is required",
			body: `{"user_id":"gw2","household_id":"h5","fields":["phone"],"reason":"","until":"` + until.Format(time.RFC3339) + `"}`},
		{name: "grant too long", method: "POST", path: "/api/v1/grants", opts: as("sv"), want: 400, wantCode: "invalid", wantMsg: "at most 30 days",
			body: `{"user_id":"gw2","household_id":"h5","fields":["phone"],"reason":"x","until":"` + time.Now().Add(31*24*time.Hour).Format(time.RFC3339) + `"}`},
		{name: "grant in the past", method: "POST", path: "/api/v1/grants", opts: as("sv"), want: 400, wantCode: "invalid", wantMsg: "must be in the future",
			body: `{"user_id":"gw2","household_id":"h5","fields":["phone"],"reason":"x","until":"2020-01-01T00:00:00Z"}`},
		{name: "grant of an unknown field", method: "POST", path: "/api/v1/grants", opts: as("sv"), want: 400, wantCode: "invalid", wantMsg: `unknown field "address"`,
			body: `{"user_id":"gw2","household_id":"h5","fields":["address"],"reason":"x","until":"` + until.Format(time.RFC3339) + `"}`},
		{name: "grant to an unknown user", method: "POST", path: "/api/v1/grants", body: grantBody("nobody", ""), opts: as("sv"), want: 400, wantCode: "invalid", wantMsg: `user_id "nobody"`},
		{name: "grant on an unknown household", method: "POST", path: "/api/v1/grants", opts: as("sv"), want: 400, wantCode: "invalid", wantMsg: `household_id "h404"`,
			body: `{"user_id":"gw2","household_id":"h404","fields":["phone"],"reason":"x","until":"` + until.Format(time.RFC3339) + `"}`},
		{name: "a grant does not widen a grid worker's scope", method: "POST", path: "/api/v1/grants", body: grantBody("gw3", ""), opts: as("sv"), want: 400,
			wantCode: "invalid", wantMsg: "does not see household"},
		{name: "grant with an unknown field in the body", method: "POST", path: "/api/v1/grants", body: grantBody("gw2", `,"scope":"all"`), opts: as("sv"), want: 400, wantCode: "bad_json"},
	})

	// The supervisor grants gw2 access; the grant is in the audit log.
	g := e.must(201, "POST", "/api/v1/grants", grantBody("gw2", ""), withToken(tok["sv"]))
	grantID, _ := g["id"].(string)
	if g["active"] != true || g["granted_by"] != "sv" || g["user_id"] != "gw2" || grantID == "" {
		t.Fatalf("grant = %v", g)
	}
	entries, err := e.store.Audit(context.Background(), "sv", "", 100)
	if err != nil {
		t.Fatal(err)
	}
	var granted []string
	for _, en := range entries {
		if en.Action == "grant" {
			granted = append(granted, en.Object+" "+en.Reason)
		}
	}
	want := "households/h5/grants/" + grantID + "?user_id=gw2&fields=phone,medical_notes,heart_rate,location&until=" + until.Format(time.RFC3339) +
		" covering for w1 this afternoon"
	if len(granted) != 1 || granted[0] != want {
		t.Errorf("grant entries %q, want [%q]", granted, want)
	}

	e.run(t, []call{
		{name: "with the grant: household", method: "GET", path: "/api/v1/households/h5", opts: as("gw2"), want: 200, check: shows(all)},
		{name: "with the grant: the fall's position", method: "GET", path: "/api/v1/tasks/" + fall, opts: as("gw2"), want: 200,
			check: shows(map[string]bool{"location": true})},
		{name: "the grant is for h5 only", method: "GET", path: "/api/v1/households/h1", opts: as("gw2"), want: 200},
		{name: "the grant is for gw2 only", method: "GET", path: "/api/v1/households/h5", opts: as("gw1"), want: 200, check: shows(none)},
		{name: "supervisor lists the grants", method: "GET", path: "/api/v1/grants?household_id=h5", opts: as("sv"), want: 200,
			check: func(t *testing.T, b map[string]any) {
				list, _ := b["grants"].([]any)
				if len(list) != 1 || list[0].(map[string]any)["id"] != grantID || list[0].(map[string]any)["active"] != true {
					t.Errorf("grants = %v", b)
				}
			}},
		{name: "grants need a household", method: "GET", path: "/api/v1/grants", opts: as("sv"), want: 400, wantCode: "invalid", wantMsg: "household_id is required"},
	})

	// Every answer that showed a granted field is recorded as a use of the grant.
	uses := e.grantUses("gw2")
	wantUses := []string{
		"households/h5: use of grant " + grantID + ": phone, medical_notes, heart_rate of household h5",
		"tasks/" + fall + ": use of grant " + grantID + ": location of household h5",
	}
	slices.Sort(uses)
	slices.Sort(wantUses)
	if !slices.Equal(uses, wantUses) {
		t.Errorf("uses of the grant:\n got %q\nwant %q", uses, wantUses)
	}
	if n, err := e.store.VerifyAudit(t.Context(), testAuditKey); err != nil || n == 0 {
		t.Errorf("audit chain: %d entries, %v", n, err)
	}

	// An expired grant stops working: the API's clock passes its until.
	e.api.wall = clock.Func(func() time.Time { return until.Add(time.Second) })
	defer func() { e.api.wall = clock.Wall{} }()
	e.run(t, []call{
		{name: "expired grant: household", method: "GET", path: "/api/v1/households/h5", opts: as("gw2"), want: 200, check: shows(none)},
		{name: "expired grant: the fall's position", method: "GET", path: "/api/v1/tasks/" + fall, opts: as("gw2"), want: 200,
			check: shows(map[string]bool{"location": false})},
		{name: "expired grant listed as inactive", method: "GET", path: "/api/v1/grants?household_id=h5", opts: as("sv"), want: 200,
			check: func(t *testing.T, b map[string]any) {
				if list, _ := b["grants"].([]any); len(list) != 1 || list[0].(map[string]any)["active"] != false {
					t.Errorf("grants = %v", b)
				}
			}},
	})
	if got := e.grantUses("gw2"); len(got) != len(wantUses) {
		t.Errorf("an expired grant was used: %q", got)
	}

	// Once the fall is resolved, its assignee no longer sees the position.
	e.must(200, "POST", "/api/v1/tasks/"+fall+"/ack", `{"worker_id":"w1"}`, withToken(tok["gw1"]))
	checkedIn := e.must(200, "POST", "/api/v1/tasks/"+fall+"/checkin", `{"worker_id":"w1","lat":31.23,"lon":121.47}`, withToken(tok["gw1"]))
	shows(map[string]bool{"location": true})(t, checkedIn)
	resolved := e.must(200, "POST", "/api/v1/tasks/"+fall+"/resolve", `{"worker_id":"w1","outcome":"safe"}`, withToken(tok["gw1"]))
	shows(map[string]bool{"location": false})(t, resolved)
	if body := fmt.Sprint(resolved); strings.Contains(body, "31.23 ") || strings.Contains(body, "lat:31.23]") {
		t.Errorf("resolved task shows the check-in position: %v", body)
	}
}

func TestRevokeGrant(t *testing.T) {
	e := newEnv(t)
	tok, _, _ := e.people()
	e.sensitiveHousehold(tok)
	as := func(user string) []reqOption { return []reqOption{withToken(tok[user])} }
	until := time.Now().Add(2 * time.Hour).UTC().Truncate(time.Second).Format(time.RFC3339)
	g := e.must(201, "POST", "/api/v1/grants", `{"user_id":"gw2","household_id":"h5","fields":["phone","medical_notes"],`+
		`"reason":"covering for w1","until":"`+until+`"}`, withToken(tok["sv"]))
	id, _ := g["id"].(string)
	path := "/api/v1/grants/" + id

	e.run(t, []call{
		{name: "in force", method: "GET", path: "/api/v1/households/h5", opts: as("gw2"), want: 200, check: shows(map[string]bool{"phone": true, "medical_notes": true})},
		{name: "grid worker may not revoke", method: "DELETE", path: path, body: `{"reason":"x"}`, opts: as("gw2"), want: 403, wantCode: "forbidden"},
		{name: "operator may not revoke", method: "DELETE", path: path, body: `{"reason":"x"}`, opts: as("op"), want: 403, wantCode: "forbidden"},
		{name: "revoking needs a reason", method: "DELETE", path: path, body: `{}`, opts: as("sv"), want: 400, wantCode: "invalid", wantMsg: "reason: required"},
		{name: "unknown grant", method: "DELETE", path: "/api/v1/grants/g404", body: `{"reason":"x"}`, opts: as("sv"), want: 404, wantCode: "not_found"},
		{name: "supervisor revokes", method: "DELETE", path: path, body: `{"reason":"w1 is back"}`, opts: as("sv"), want: 200,
			check: func(t *testing.T, b map[string]any) {
				ended, err := time.Parse(time.RFC3339Nano, fmt.Sprint(b["until"]))
				if b["active"] != false || b["revoked_by"] != "sv" || err != nil || time.Since(ended) > time.Minute {
					t.Errorf("revoked grant = %v, want inactive, revoked by sv, ending now", b)
				}
			}},
		{name: "revoked: nothing shown", method: "GET", path: "/api/v1/households/h5", opts: as("gw2"), want: 200, check: shows(map[string]bool{"phone": false, "medical_notes": false})},
		{name: "revoked twice", method: "DELETE", path: path, body: `{"reason":"again"}`, opts: as("sv"), want: 409, wantCode: "conflict", wantMsg: "no longer in force"},
		{name: "listed, inactive, with who revoked it", method: "GET", path: "/api/v1/grants?household_id=h5", opts: as("sv"), want: 200,
			check: func(t *testing.T, b map[string]any) {
				list, _ := b["grants"].([]any)
				if len(list) != 1 || list[0].(map[string]any)["active"] != false || list[0].(map[string]any)["revoked_by"] != "sv" {
					t.Errorf("grants = %v", b)
				}
			}},
	})

	// The revocation is in the audit log with its reason, before it took effect.
	entries, err := e.store.Audit(context.Background(), "sv", "grants/"+id, 10)
	if err != nil {
		t.Fatal(err)
	}
	var revoked []string
	for _, en := range entries {
		if en.Action == "revoke" {
			revoked = append(revoked, en.Reason)
		}
	}
	if !slices.Equal(revoked, []string{"again", "w1 is back"}) {
		t.Errorf("revoke entries %q, want the refused and the done one, newest first", revoked)
	}
}

func TestPrivacySettings(t *testing.T) {
	e := newEnv(t)
	tok, _, _ := e.people()
	as := func(user string) []reqOption { return []reqOption{withToken(tok[user])} }
	e.mu.Lock()
	e.status["h1"] = []rules.DeviceStatus{
		{DeviceID: "d-water", LastSeen: t0, Online: true, Last: map[string]any{"total_liters": 1234.5, "flow_lpm": 0.0}},
		{DeviceID: "d-band", LastSeen: t0, Online: true, Last: map[string]any{"heart_rate": 70.0, "worn": true}},
	}
	e.mu.Unlock()
	// device finds a device's status in a household answer.
	device := func(b map[string]any, id string) map[string]any {
		for _, d := range b["devices"].([]any) {
			if dm := d.(map[string]any); dm["id"] == id {
				st, _ := dm["status"].(map[string]any)
				return st
			}
		}
		t.Fatalf("no device %s in %v", id, b)
		return nil
	}
	sees := func(id, key string, want bool) func(*testing.T, map[string]any) {
		return func(t *testing.T, b map[string]any) {
			t.Helper()
			st := device(b, id)
			last, _ := st["last"].(map[string]any)
			if _, ok := last[key]; ok != want {
				t.Errorf("%s shows %s: %v, want %v; status %v", id, key, ok, want, st)
			}
			if !want && !slices.Contains(redactedNames(st), key) {
				t.Errorf("%s: %s withheld but not named in redacted; status %v", id, key, st)
			}
		}
	}
	both := func(checks ...func(*testing.T, map[string]any)) func(*testing.T, map[string]any) {
		return func(t *testing.T, b map[string]any) {
			for _, c := range checks {
				c(t, b)
			}
		}
	}

	// A water task opened under the defaults reaches the family.
	before := e.openTask(rules.RuleWaterContinuousFlow, rules.High)

	e.run(t, []call{
		{name: "defaults: family sees water", method: "GET", path: "/api/v1/households/h1", opts: as("fam1"), want: 200,
			check: both(sees("d-water", "total_liters", true), sees("d-band", "worn", true), sees("d-band", "heart_rate", false))},
		{name: "defaults in the household answer", method: "GET", path: "/api/v1/households/h1", opts: as("op"), want: 200,
			check: func(t *testing.T, b map[string]any) {
				if got := fmt.Sprint(b["privacy"]); got != "map[door:[worker family] health:[worker family] location:[worker] motion:[worker family] power:[worker family] water:[worker family]]" {
					t.Errorf("privacy = %s", got)
				}
			}},
		{name: "unknown signal", method: "PUT", path: "/api/v1/households/h1/privacy", body: `{"mood":["family"]}`, opts: as("op"), want: 400,
			wantCode: "invalid", wantMsg: `unknown signal "mood"`},
		{name: "unknown audience", method: "PUT", path: "/api/v1/households/h1/privacy", body: `{"water":["neighbours"]}`, opts: as("op"), want: 400,
			wantCode: "invalid", wantMsg: `unknown audience "neighbours"`},
		{name: "not a list", method: "PUT", path: "/api/v1/households/h1/privacy", body: `{"water":"worker"}`, opts: as("op"), want: 400, wantCode: "bad_json"},
		{name: "grid worker may not set privacy", method: "PUT", path: "/api/v1/households/h1/privacy", body: `{}`, opts: as("gw1"), want: 403, wantCode: "forbidden"},
		{name: "family may not set privacy", method: "PUT", path: "/api/v1/households/h1/privacy", body: `{}`, opts: as("fam1"), want: 403, wantCode: "forbidden"},
		{name: "unknown household", method: "PUT", path: "/api/v1/households/h404/privacy", body: `{}`, opts: as("op"), want: 404, wantCode: "not_found"},
		{name: "water for workers only, health for family only", method: "PUT", path: "/api/v1/households/h1/privacy",
			body: `{"water":["worker"],"health":["family"]}`, opts: as("op"), want: 200,
			check: func(t *testing.T, b map[string]any) {
				p := b["privacy"].(map[string]any)
				if fmt.Sprint(p["water"], p["health"], p["door"]) != "[worker] [family] [worker family]" {
					t.Errorf("privacy = %v", p)
				}
			}},
		{name: "family no longer sees water", method: "GET", path: "/api/v1/households/h1", opts: as("fam1"), want: 200,
			check: both(sees("d-water", "total_liters", false), sees("d-water", "flow_lpm", false), sees("d-band", "worn", true))},
		{name: "the worker still sees water, not health", method: "GET", path: "/api/v1/households/h1", opts: as("gw1"), want: 200,
			check: both(sees("d-water", "total_liters", true), sees("d-band", "worn", false), sees("d-band", "heart_rate", false))},
		{name: "the device's upkeep stays visible", method: "GET", path: "/api/v1/households/h1", opts: as("fam1"), want: 200,
			check: func(t *testing.T, b map[string]any) {
				if st := device(b, "d-water"); st["online"] != true || st["last_seen"] == nil {
					t.Errorf("d-water status = %v", st)
				}
			}},
	})

	// Notices: the family is not told of a water rule any more; the worker is.
	after := e.openTask(rules.RuleWaterNoUse, rules.High)
	told := func(taskID string) []string {
		var out []string
		for _, n := range e.must(200, "GET", "/api/v1/tasks/"+taskID+"/notifications", "")["notifications"].([]any) {
			out = append(out, n.(map[string]any)["recipient"].(string))
		}
		slices.Sort(out)
		return slices.Compact(out)
	}
	if got := told(before.ID); fmt.Sprint(got) != "[Wang Zhang Min]" {
		t.Errorf("water task under the defaults told %v, want the worker and the family", got)
	}
	if got := told(after.ID); fmt.Sprint(got) != "[Wang]" {
		t.Errorf("water task with water kept from the family told %v, want the worker only", got)
	}

	// {} restores the defaults.
	e.must(200, "PUT", "/api/v1/households/h1/privacy", `{}`, withToken(tok["op"]))
	r := e.do("GET", "/api/v1/households/h1", "", withToken(tok["fam1"]))
	if r.status != http.StatusOK {
		t.Fatalf("status %d", r.status)
	}
	sees("d-water", "total_liters", true)(t, r.object(t))
}
