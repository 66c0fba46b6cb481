package api

import (
	"bytes"
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
)

// Hostile bodies: every request body the API decodes is fuzzed twice, by its
// decoder alone (FuzzDecodeRequests, fast) and through the whole handler on
// the real store (FuzzRequestBodies: no 5xx, no panic, always the error
// shape). The CSV importer has its own (FuzzImportCSV). Run one with e.g.
//
//	go test ./api -run '^$' -fuzz FuzzRequestBodies -fuzztime 1m

// requestTypes makes a fresh value of every request body type, by the name
// its handler declares it with (`var req T`).
var requestTypes = map[string]func() any{
	"clockRequest":      func() any { return new(clockRequest) },
	"deviceRequest":     func() any { return new(deviceRequest) },
	"deleteRequest":     func() any { return new(deleteRequest) },
	"grantRequest":      func() any { return new(grantRequest) },
	"gridRequest":       func() any { return new(gridRequest) },
	"householdRequest":  func() any { return new(householdRequest) },
	"registry.Privacy":  func() any { return new(registry.Privacy) },
	"rules.Thresholds":  func() any { return new(rules.Thresholds) },
	"awayRequest":       func() any { return new(awayRequest) },
	"ackRequest":        func() any { return new(ackRequest) },
	"checkInRequest":    func() any { return new(checkInRequest) },
	"resolveRequest":    func() any { return new(resolveRequest) },
	"manualTaskRequest": func() any { return new(manualTaskRequest) },
	"handoverRequest":   func() any { return new(handoverRequest) },
	"cancelRequest":     func() any { return new(cancelRequest) },
	"userRequest":       func() any { return new(userRequest) },
	"loginRequest":      func() any { return new(loginRequest) },
	"workerRequest":     func() any { return new(workerRequest) },
	"householdPatch":    func() any { return new(householdPatch) },
	"ratingRequest":     func() any { return new(ratingRequest) },
	"answerRequest":     func() any { return new(answerRequest) },
	"gridUpdate":        func() any { return new(gridUpdate) },
	"workerUpdate":      func() any { return new(workerUpdate) },
	"householdUpdate":   func() any { return new(householdUpdate) },
	"reassignRequest":   func() any { return new(reassignRequest) },
	"rescheduleRequest": func() any { return new(rescheduleRequest) },
}

// bodyRoutes are the routes that read a body, with a valid body each (the
// fuzz seeds). {id} is filled in with an object the seed data has.
var bodyRoutes = []struct{ pattern, body string }{
	{"POST /api/v1/grids", `{"id":"g7","name":"Grid 7"}`},
	{"POST /api/v1/workers", `{"id":"w7","name":"Wu","phone":"+8613800000007","grid_ids":["g1"],"role":"grid_worker"}`},
	{"POST /api/v1/households", `{"id":"h7","name":"Zhao","address":"7 Lane","grid_id":"g1","contacts":[{"name":"Zhao Jr","relation":"son","channels":["log"]}]}`},
	{"POST /api/v1/devices", `{"id":"d7","kind":"door_sensor","household_id":"h1"}`},
	{"PUT /api/v1/households/h1/thresholds", `{"water_no_use":{"hours":10}}`},
	{"PUT /api/v1/households/h1/privacy", `{"location":[]}`},
	{"POST /api/v1/households/h1/away", `{"from":"2026-03-02T00:00:00Z","until":"2026-03-09T00:00:00Z","reason":"hospital"}`},
	{"DELETE /api/v1/households/h1", `{"reason":"moved away"}`},
	{"POST /api/v1/tasks", `{"household_id":"h1","reason":"phoned","severity":"high"}`},
	{"POST /api/v1/tasks/{task}/ack", `{"worker_id":"w1"}`},
	{"POST /api/v1/tasks/{task}/checkin", `{"worker_id":"w1","lat":31.2,"lon":121.5}`},
	{"POST /api/v1/tasks/{task}/resolve", `{"worker_id":"w1","outcome":"false_alarm","note":"fine","reason":"slept_late"}`},
	{"POST /api/v1/tasks/{task}/handover", `{"from_worker_id":"w1","to_worker_id":"w2","reason":"closer"}`},
	{"POST /api/v1/tasks/{task}/reassign", `{"to_worker_id":"w2","reason":"ill"}`},
	{"POST /api/v1/tasks/{task}/reschedule", `{"due_at":"2026-03-03T23:59:00+08:00","reason":"away"}`},
	{"POST /api/v1/tasks/{task}/cancel", `{"reason":"duplicate"}`},
	{"PATCH /api/v1/households/h1", `{"care_level":"semi"}`},
	{"POST /api/v1/tasks/{task}/rating", `{"stars":4,"comment":"came fast"}`},
	{"PUT /api/v1/grids/{other}", `{"name":"Grid one","supervisor_id":"w2"}`},
	{"PUT /api/v1/workers/{other}", `{"name":"Li","phone":"+8613800000002","grid_ids":["g1"]}`},
	{"PUT /api/v1/households/h1", `{"name":"Zhang","address":"2 Lane","grid_id":"g1","contacts":[{"name":"Min","relation":"daughter","channels":["log"]}]}`},
	{"POST /api/v1/users", `{"id":"u7","password":"long-enough-password","role":"operator"}`},
	{"POST /api/v1/login", `{"id":"u7","password":"long-enough-password"}`},
	{"POST /api/v1/clock", `{"ts":"2026-03-01T10:00:00Z"}`},
	{"POST /api/v1/grants", `{"user_id":"u7","household_id":"h1","fields":["phone"],"reason":"visit","until":"2026-03-02T00:00:00Z"}`},
	// Ids the seed data does not have ({other}): refused, whatever the body.
	{"DELETE /api/v1/grants/{other}", `{"reason":"case closed"}`},
	{"DELETE /api/v1/households/h1/away/{other}", ``},
	{"POST /api/v1/suggestions/{other}/approve", ``},
	{"POST /api/v1/suggestions/{other}/reject", ``},
	{"POST /a/{other}", `{"answer":"with_me","until":"2026-03-03T00:00:00Z"}`},
	{"POST /r/{other}", `{"stars":5,"comment":"kind"}`},
	{"POST /api/v1/import/households", "household_id,name,address,grid_id\nh8,Qin,8 Lane,g1\n"},
}

// wildcard is a path wildcard: {id} in a route, {task} or {other} in bodyRoutes.
var wildcard = regexp.MustCompile(`\{[a-z_]+\}`)

// TestFuzzCoversEveryBody fails when a handler decodes a body type, or a
// route reads a body, that the fuzz tests above do not know.
func TestFuzzCoversEveryBody(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	decl := regexp.MustCompile(`var req ([\w.]+)`)
	route := regexp.MustCompile(`rt\.handle\("((?:POST|PUT|PATCH|DELETE) [^"]+)"`)
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range decl.FindAllSubmatch(src, -1) {
			if _, ok := requestTypes[string(m[1])]; !ok {
				t.Errorf("%s: request type %s is not fuzzed: add it to requestTypes", f, m[1])
			}
		}
		for _, m := range route.FindAllSubmatch(src, -1) {
			pattern := strings.ReplaceAll(wildcard.ReplaceAllString(string(m[1]), ""), "h1", "")
			if !slices.ContainsFunc(bodyRoutes, func(r struct{ pattern, body string }) bool {
				return strings.ReplaceAll(wildcard.ReplaceAllString(r.pattern, ""), "h1", "") == pattern
			}) {
				t.Errorf("%s: route %s is not fuzzed: add it to bodyRoutes", f, m[1])
			}
		}
	}
}

// FuzzDecodeRequests: whatever the body, decoding it into any request type
// does not panic, refuses with a 400 bad_json, and accepts only one valid
// JSON object that encodes again.
func FuzzDecodeRequests(f *testing.F) {
	names := slices.Sorted(maps.Keys(requestTypes))
	for i := range names {
		for _, c := range decodeCases {
			f.Add(uint8(i), []byte(c.body))
		}
	}
	for _, r := range bodyRoutes {
		for i := range names {
			f.Add(uint8(i), []byte(r.body))
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		dst := requestTypes[names[int(which)%len(names)]]()
		err := decodeBody(body, dst)
		if err != nil {
			ae, ok := err.(*apiError)
			if !ok || ae.status != http.StatusBadRequest || ae.code != codeBadJSON || ae.msg == "" || len(ae.msg) > 512 {
				t.Fatalf("error %v (%T): want a 400 bad_json with a short message", err, err)
			}
			return
		}
		if !json.Valid(body) || !bytes.HasPrefix(bytes.TrimLeft(body, " \t\r\n"), []byte("{")) {
			t.Fatalf("accepted %q, which is not one JSON object", body)
		}
		if _, err := json.Marshal(dst); err != nil {
			t.Fatalf("decoded value does not encode: %v", err)
		}
	})
}

// fuzzEnv is the seeded API for one fuzz input: g1 with w1 and w2, h1 with
// devices, one open task.
func fuzzEnv(t *testing.T) (*testEnv, string) {
	e := newEnv(t)
	e.seed()
	task := e.openTask("fall", rules.Critical)
	return e, task.ID
}

// FuzzRequestBodies sends any body to any route that reads one, through the
// real handler and store: the answer is never a 5xx, always JSON, and an
// error always has the contract's shape.
func FuzzRequestBodies(f *testing.F) {
	// Each input gets a fresh store, so the seeds are few: a valid body per
	// route, and hostile ones spread over the routes (FuzzDecodeRequests
	// tries every decoder with every one of them).
	for i, r := range bodyRoutes {
		f.Add(uint8(i), []byte(r.body))
		c := decodeCases[(i*7)%len(decodeCases)]
		f.Add(uint8(i), []byte(c.body))
	}
	f.Add(uint8(len(bodyRoutes)-1), []byte("household_id,name,address,grid_id\nh1,\"x,\"\"y\",z,g1\n"))
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		e, taskID := fuzzEnv(t)
		r := bodyRoutes[int(which)%len(bodyRoutes)]
		method, path, _ := strings.Cut(r.pattern, " ")
		path = wildcard.ReplaceAllString(strings.ReplaceAll(path, "{task}", taskID), "unknown")
		req := httptest.NewRequest(method, path, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+testToken)
		req.Header.Set("Content-Type", "application/json")
		if strings.HasSuffix(path, "/import/households") {
			req.Header.Set("Content-Type", "text/csv")
		}
		rec := httptest.NewRecorder()
		e.api.Handler().ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %q: %d %s", r.pattern, body, rec.Code, rec.Body)
		}
		var m map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
			t.Fatalf("%s %q: answer %q is not a JSON object", r.pattern, body, rec.Body)
		}
		if rec.Code >= 400 {
			e, ok := m["error"].(map[string]any)
			if !ok || len(m) != 1 || e["code"] == "" || e["message"] == "" {
				t.Fatalf("%s %q: error %s without the contract's shape", r.pattern, body, rec.Body)
			}
		}
	})
}

// FuzzQueries sends any query string to every route that reads one.
func FuzzQueries(f *testing.F) {
	paths := []string{"/api/v1/tasks", "/api/v1/reports/sla", "/api/v1/audit", "/api/v1/households", "/api/v1/households/h1/export"}
	for i, q := range []string{"", "state=open", "household_id=h1&rule=fall", "from=2026-01-01T00:00:00Z&to=2026-04-01T00:00:00Z",
		"limit=5", "limit=-1", "x=1", "state=open&state=open", "%zz", "grid_id=" + strings.Repeat("g", 100), "from=2026-01-01T00:00:00+08:00"} {
		f.Add(uint8(i), q)
	}
	f.Fuzz(func(t *testing.T, which uint8, query string) {
		if !utf8.ValidString(query) || strings.ContainsAny(query, " #\r\n") {
			return // not a request line a client can send
		}
		e, _ := fuzzEnv(t)
		path := paths[int(which)%len(paths)]
		req := httptest.NewRequest("GET", "http://x"+path, nil)
		req.URL.RawQuery = query
		req.Header.Set("Authorization", "Bearer "+testToken)
		rec := httptest.NewRecorder()
		e.api.Handler().ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("GET %s?%s: %d %s", path, query, rec.Code, rec.Body)
		}
		if !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("GET %s?%s: answer %q is not JSON", path, query, rec.Body)
		}
	})
}

// FuzzImportCSV: whatever the file, parseImport does not panic; it refuses
// the file with a 400 or 413, or returns households that validate (or are
// marked failed with an error on a line of the file).
func FuzzImportCSV(f *testing.F) {
	for _, seed := range []string{
		importHeader + "hA,Wu,1 Road,g1,Asia/Shanghai,Wu Lei,son,+86137,,en,sms,hA-band,wristband,hA-band-secret-000001\n",
		importHeader + "hA,Wu,1 Road,g1,,,,,,,,,,\nhA,Wu2,1 Road,g1,,,,,,,,,,\n",
		"\uFEFFhousehold_id,name,address,grid_id\n\"h\"\"1\",\"a,b\",c,g1\n",
		"household_id,name,address,grid_id\nh1,\"open\n",
		"household_id,name,address,grid_id\nh1,x\n,,,\n",
		"household_id,name\n", "", "\n\n", "a,b,c\n", "household_id,name,address,grid_id,device_id,device_kind\nh1,n,a,g1,d1,toaster\n",
		"household_id,name,address,grid_id\nh1,n\x00,a,g1\n", "household_id,name,address,grid_id\nh1,\xff,a,g1\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		file, err := parseImport(body)
		if err != nil {
			ae, ok := err.(*apiError)
			if !ok || (ae.status != http.StatusBadRequest && ae.status != http.StatusRequestEntityTooLarge) || ae.msg == "" {
				t.Fatalf("error %v (%T): want a 400 or 413 with a message", err, err)
			}
			return
		}
		lines := bytes.Count(body, []byte("\n")) + 1
		for _, e := range file.errors {
			if e.Line < 2 || e.Line > lines || e.Message == "" {
				t.Fatalf("error %+v: line outside the file's %d lines", e, lines)
			}
		}
		for _, ih := range file.households {
			if ih.failed {
				continue
			}
			if err := ih.h.Validate(); err != nil {
				t.Fatalf("household %+v accepted but invalid: %v", ih.h, err)
			}
			for _, d := range ih.devices {
				if err := d.d.Validate(); err != nil || d.d.HouseholdID != ih.h.ID {
					t.Fatalf("device %+v of %s accepted but invalid: %v", d.d, ih.h.ID, err)
				}
			}
		}
	})
}
