package api

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestFieldBounds: every field has a bound, the registry's, in JSON and CSV
// alike; phones are E.164; and no error echoes a huge value back.
func TestFieldBounds(t *testing.T) {
	e := newEnv(t)
	_, task, _ := e.people()
	long := func(n int) string { return strings.Repeat("长", n) }
	until := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	contacts := make([]string, 21)
	for i := range contacts {
		contacts[i] = fmt.Sprintf(`{"name":"c%d","relation":"son","channels":["log"]}`, i)
	}
	calls := []call{
		{name: "grid name of almost 1 MiB", method: "POST", path: "/api/v1/grids", body: `{"id":"g9","name":"` + strings.Repeat("x", maxBody-100) + `"}`,
			want: 400, wantCode: "invalid", wantMsg: "name: at most 200 characters"},
		{name: "worker name of 500 KB", method: "POST", path: "/api/v1/workers", want: 400, wantCode: "invalid", wantMsg: "name: at most 200 characters",
			body: `{"id":"w9","name":"` + strings.Repeat("x", 500_000) + `","phone":"+8613800000009","grid_ids":["g1"],"role":"grid_worker"}`},
		{name: "worker name of 200 characters", method: "POST", path: "/api/v1/workers", want: 201,
			body: `{"id":"w9","name":"` + long(200) + `","phone":"+8613800000009","grid_ids":["g1"],"role":"grid_worker"}`},
		{name: "worker phone that is a script", method: "POST", path: "/api/v1/workers", want: 400, wantCode: "invalid", wantMsg: "phone \"javascript:alert(6)\": must be E.164",
			body: `{"id":"w8","name":"x","phone":"javascript:alert(6)","grid_ids":["g1"],"role":"grid_worker"}`},
		{name: "worker push URL without a host", method: "POST", path: "/api/v1/workers", want: 400, wantCode: "invalid", wantMsg: "push_url",
			body: `{"id":"w8","name":"x","grid_ids":["g1"],"role":"grid_worker","push_url":"https://"}`},
		{name: "contact phone that is a script", method: "POST", path: "/api/v1/households", want: 400, wantCode: "invalid", wantMsg: "contacts[0]: phone",
			body: `{"id":"h9","name":"x","address":"y","grid_id":"g1","contacts":[{"name":"a","relation":"son","phone":"javascript:alert(6)","channels":["sms"]}]}`},
		{name: "household address of 501 characters", method: "POST", path: "/api/v1/households", want: 400, wantCode: "invalid", wantMsg: "address: at most 500 characters",
			body: `{"id":"h9","name":"x","address":"` + long(501) + `","grid_id":"g1"}`},
		{name: "household time zone of 500 KB", method: "POST", path: "/api/v1/households", want: 400, wantCode: "invalid", wantMsg: "timezone: at most 64 characters",
			body: `{"id":"h9","name":"x","address":"y","grid_id":"g1","timezone":"` + strings.Repeat("x", 500_000) + `"}`},
		{name: "household with 21 contacts", method: "POST", path: "/api/v1/households", want: 400, wantCode: "invalid", wantMsg: "contacts: at most 20, got 21",
			body: `{"id":"h9","name":"x","address":"y","grid_id":"g1","contacts":[` + strings.Join(contacts, ",") + `]}`},
		{name: "manual task reason of 501 characters", method: "POST", path: "/api/v1/tasks", want: 400, wantCode: "invalid", wantMsg: "reason: at most 500 characters",
			body: `{"household_id":"h1","reason":"` + long(501) + `","severity":"high"}`},
		{name: "away reason of 501 characters", method: "POST", path: "/api/v1/households/h1/away", want: 400, wantCode: "invalid", wantMsg: "reason: at most 500 characters",
			body: `{"from":"2026-03-02T00:00:00Z","until":"2026-03-09T00:00:00Z","reason":"` + long(501) + `"}`},
		{name: "grant reason of 501 characters", method: "POST", path: "/api/v1/grants", want: 400, wantCode: "invalid", wantMsg: "reason: at most 500 characters",
			body: `{"user_id":"gw1","household_id":"h1","fields":["phone"],"reason":"` + long(501) + `","until":"` + until + `"}`},
		{name: "hand-over reason of 501 characters", method: "POST", path: "/api/v1/tasks/" + task + "/handover", want: 400, wantCode: "invalid",
			wantMsg: "reason: at most 500 characters", body: `{"from_worker_id":"w1","to_worker_id":"w2","reason":"` + long(501) + `"}`},
		{name: "cancel reason of 501 characters", method: "POST", path: "/api/v1/tasks/" + task + "/cancel", want: 400, wantCode: "invalid",
			wantMsg: "reason: at most 500 characters", body: `{"reason":"` + long(501) + `"}`},
		{name: "resolution note of 2001 characters", method: "POST", path: "/api/v1/tasks/" + task + "/resolve", want: 400, wantCode: "invalid",
			wantMsg: "note: at most 2000 characters", body: `{"worker_id":"w1","outcome":"safe","note":"` + long(2001) + `"}`},
		{name: "deletion reason of 501 characters", method: "DELETE", path: "/api/v1/households/h2", want: 400, wantCode: "invalid",
			wantMsg: "reason: at most 500 characters", body: `{"reason":"` + long(501) + `"}`},
		{name: "user id of 500 KB", method: "POST", path: "/api/v1/users", want: 400, wantCode: "invalid", wantMsg: "must be 1-64",
			body: `{"id":"` + strings.Repeat("x", 500_000) + `","password":"long-enough-password","role":"operator"}`},
		{name: "log-in id of 500 KB", method: "POST", path: "/api/v1/login", opts: []reqOption{noToken()}, want: 401, wantCode: "unauthorized",
			body: `{"id":"` + strings.Repeat("x", 500_000) + `","password":"long-enough-password"}`},
	}
	e.run(t, calls)
	for _, c := range calls {
		if c.want < 400 {
			continue
		}
		if r := e.do(c.method, c.path, c.body, c.opts...); len(r.body) > 1000 {
			t.Errorf("%s: a %d-byte answer echoes the value", c.name, len(r.body))
		}
	}
	if _, ok := e.api.logins.limiters["id:"+strings.Repeat("x", 500_000)]; ok {
		t.Error("a log-in limiter is kept under a 500 KB id")
	}
}

// TestImportBounds: the CSV import checks each column against the same
// table as the JSON API.
func TestImportBounds(t *testing.T) {
	e := newEnv(t)
	e.seed()
	csv := "household_id,name,address,grid_id,contact_name,contact_relation,contact_phone,contact_channels\n" +
		"h7," + strings.Repeat("长", 200) + ",1 Road,g1,,,,\n" + // 2: a name at the limit
		"h8," + strings.Repeat("长", 201) + ",1 Road,g1,,,,\n" + // 3
		"h9,Wu,1 Road,g1,Wu Lei,son,javascript:alert(6),sms\n" + // 4
		"h10,Wu,1 Road,g1,Wu Lei,son,+8613700000001,sms\n" // 5
	for i := range 21 { // 6-26: one contact too many
		csv += fmt.Sprintf("h11,Wu,1 Road,g1,Relative %d,son,,log\n", i)
	}
	r := e.do("POST", "/api/v1/import/households", csv, withContentType("text/csv"))
	if r.status != http.StatusOK {
		t.Fatalf("import: %d %s", r.status, r.body)
	}
	b := r.object(t)
	var got []string
	for _, x := range b["errors"].([]any) {
		m := x.(map[string]any)
		got = append(got, fmt.Sprint(m["line"], ": ", m["message"]))
	}
	want := []string{
		"3: household h8 not imported: name: at most 200 characters, got 201",
		`4: household h9 not imported: contact: phone "javascript:alert(6)": must be E.164, '+' and 8 to 15 digits, e.g. +8613800000001`,
		"6: household h11 not imported: contacts: at most 20, got 21",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") || b["created"] != 2.0 {
		t.Errorf("import: created %v, errors\n%s\nwant 2 created, errors\n%s", b["created"], strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
