package api

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/clock"
	"github.com/eldersafe/eldersafe/testkit"
)

// refusals lists the audit entries of actor that record a refused request.
func (e *testEnv) refusals(actor string) []string {
	e.t.Helper()
	entries, err := e.store.Audit(context.Background(), actor, "", 1000)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, en := range entries {
		if en.Action == "refuse" {
			out = append(out, en.Object+" "+en.Reason)
		}
	}
	return out
}

// TestRefusalsAreAudited: a refused request by someone the monitor knows is
// in the audit log with its reason, once; every refusal reaches the process
// log, at most one WARN line per kind and interval.
func TestRefusalsAreAudited(t *testing.T) {
	e := newEnv(t)
	e.api.refusals.every = 24 * time.Hour // one WARN line per kind, however slow the test and its clock jumps
	tok, _, t2 := e.people()
	gw1 := withToken(tok["gw1"])
	until := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	e.run(t, []call{
		{name: "grid worker creates a user", method: "POST", path: "/api/v1/users", body: `{"id":"x1","password":"operator-password","role":"operator"}`,
			opts: []reqOption{gw1}, want: 403, wantCode: "forbidden"},
		{name: "grid worker grants", method: "POST", path: "/api/v1/grants", opts: []reqOption{gw1}, want: 403, wantCode: "forbidden",
			body: `{"user_id":"gw1","household_id":"h1","fields":["phone"],"reason":"x","until":"` + until + `"}`},
		{name: "grid worker reads the audit log", method: "GET", path: "/api/v1/audit", opts: []reqOption{gw1}, want: 403, wantCode: "forbidden"},
		{name: "grid worker exports", method: "GET", path: "/api/v1/households/h1/export", opts: []reqOption{gw1}, want: 403, wantCode: "forbidden"},
		{name: "grid worker: another grid's household", method: "GET", path: "/api/v1/households/h2", opts: []reqOption{gw1}, want: 404, wantCode: "not_found"},
		{name: "grid worker: another grid's task", method: "GET", path: "/api/v1/tasks/" + t2, opts: []reqOption{gw1}, want: 404, wantCode: "not_found"},
		{name: "grid worker acks another grid's task", method: "POST", path: "/api/v1/tasks/" + t2 + "/ack", body: `{"worker_id":"w1"}`,
			opts: []reqOption{gw1}, want: 404, wantCode: "not_found"},
		{name: "grid worker: a household nobody has", method: "GET", path: "/api/v1/households/h404", opts: []reqOption{gw1}, want: 404, wantCode: "not_found"},
	})
	got := e.refusals("gw1")
	want := []string{
		"tasks/" + t2 + "/ack create refused, 404 not_found: out of scope: household h2 is in grid g2",
		"tasks/" + t2 + " read refused, 404 not_found: out of scope: household h2 is in grid g2",
		"households/h2 read refused, 404 not_found: out of scope: household h2 is in grid g2",
		"households/h1/export export refused, 403 forbidden: role grid_worker may not do this",
		"audit read refused, 403 forbidden: role grid_worker may not do this",
		"grants create refused, 403 forbidden: role grid_worker may not do this",
		"users create refused, 403 forbidden: role grid_worker may not do this",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("refusals of gw1, newest first:\n got %q\nwant %q", got, want)
	}

	// Someone nobody knows writes nothing in the audit log.
	before, err := e.store.Audit(context.Background(), "", "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		e.do("GET", "/api/v1/households/h1", "", withToken("a-token-nobody-has"))
		e.do("GET", "/api/v1/households/h1", "", noToken())
	}
	after, err := e.store.Audit(context.Background(), "", "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before) {
		t.Errorf("unknown callers wrote %d audit entries: %v", len(after)-len(before), after[:len(after)-len(before)])
	}

	// An expired session names its user: recorded once, then the token is
	// unknown like any other.
	e.api.wall = clock.Func(func() time.Time { return time.Now().Add(13 * time.Hour) })
	defer func() { e.api.wall = clock.Wall{} }()
	for range 3 {
		if r := e.do("GET", "/api/v1/households/h1", "", withToken(tok["gw3"])); r.status != 401 {
			t.Fatalf("expired session: status %d", r.status)
		}
	}
	if got := e.refusals("gw3"); len(got) != 1 || !strings.Contains(got[0], "households/h1 read refused, 401 unauthorized: session expired at ") {
		t.Errorf("refusals of gw3 = %q, want the one expired session", got)
	}

	// A failed log-in has its own entry (action login), and no refusal.
	e.do("POST", "/api/v1/login", `{"id":"gw1","password":"not-the-password"}`, noToken())
	if got := e.refusals("gw1"); len(got) != len(want) {
		t.Errorf("a failed log-in is recorded as a refusal too: %q", got[:len(got)-len(want)])
	}

	// The process log has a WARN line per kind, not one per refusal.
	warns := map[string]int{}
	for _, l := range logEntries(t, e.logs) {
		if l["level"] == "WARN" && l["msg"] == "request refused" {
			warns[l["reason"].(string)]++
		}
	}
	for kind, n := range map[string]int{"forbidden": 1, "out_of_scope": 1, "no_token": 1, "unknown_token": 1, "session_expired": 1, "login_failed": 1} {
		if warns[kind] != n {
			t.Errorf("WARN lines of %s: %d, want %d (all: %v)", kind, warns[kind], n, warns)
		}
	}
}

// TestRefusalLog: one WARN line per kind and interval, counting those held
// back since the last.
func TestRefusalLog(t *testing.T) {
	var buf testkit.SyncBuffer
	l := newRefusalLog(slog.New(slog.NewJSONHandler(&buf, nil)))
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	for _, w := range []struct {
		at   time.Duration
		kind string
	}{
		{0, refusedUnknownToken},
		{time.Second, refusedUnknownToken},
		{2 * time.Second, refusedForbidden},
		{3 * time.Second, refusedUnknownToken},
		{refusalLogInterval, refusedUnknownToken},
		{refusalLogInterval + time.Second, refusedUnknownToken},
	} {
		l.warn(t.Context(), at(w.at), w.kind)
	}
	var got []string
	for _, e := range logEntries(t, &buf) {
		got = append(got, fmt.Sprint(e["reason"], " ", e["suppressed_since_last"]))
	}
	if want := []string{"unknown_token 0", "forbidden 0", "unknown_token 2"}; !slices.Equal(got, want) {
		t.Errorf("WARN lines %q, want %q", got, want)
	}
}
