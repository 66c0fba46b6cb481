package api

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/crypto/bcrypt"

	"github.com/eldersafe/eldersafe/audit"
	"github.com/eldersafe/eldersafe/clock"
	"github.com/eldersafe/eldersafe/dispatch"
	"github.com/eldersafe/eldersafe/rules"
	"github.com/eldersafe/eldersafe/store"
	"github.com/eldersafe/eldersafe/tasks"
	"github.com/eldersafe/eldersafe/testkit"
)

const testToken = "test-admin-token-0123456789"

var testAuditKey = []byte("test audit key")

// t0 is when the tests' tasks open.
var t0 = time.Date(2026, 3, 1, 9, 12, 0, 0, time.UTC)

// testEnv is the real Handler behind a real HTTP server, over in-memory
// dependencies and the real tasks.Service.
type testEnv struct {
	t      *testing.T
	api    *API
	srv    *httptest.Server
	store  *store.DB
	tasks  *tasks.Service
	clock  *fixedClock
	reg    *prometheus.Registry
	logs   *testkit.SyncBuffer
	status map[string][]rules.DeviceStatus
	ready  error
	mu     sync.Mutex
}

func newEnv(t *testing.T, configure ...func(*Options)) *testEnv {
	t.Helper()
	db := openStore(t)
	e := &testEnv{t: t, store: db, clock: &fixedClock{now: t0}, reg: prometheus.NewRegistry(),
		logs: &testkit.SyncBuffer{}, status: map[string][]rules.DeviceStatus{}}
	svc, err := tasks.NewService(tasks.Options{
		Store: e.store, Clock: e.clock, Composer: plainComposer{}, Wall: clock.Wall{},
	})
	if err != nil {
		t.Fatal(err)
	}
	e.tasks = svc
	opts := Options{
		Registry:      e.store,
		RuleSettings:  e.store,
		Notifications: e.store,
		Users:         e.store,
		AuditLog:      e.store,
		Grants:        e.store,
		Privacy:       e.store,
		Households:    e.store,
		HouseholdList: e.store,
		Directory:     e.store,
		Feedback:      e.store,
		Tasks:         svc,
		Clock:         clock.Wall{},
		PasswordCost:  bcrypt.MinCost,
		Audit: func(ctx context.Context, entries ...audit.Entry) error {
			_, err := e.store.AppendAudit(ctx, testAuditKey, entries...)
			return err
		},
		Status: func(id string) []rules.DeviceStatus {
			e.mu.Lock()
			defer e.mu.Unlock()
			return e.status[id]
		},
		AdminToken: testToken,
		Metrics:    promhttp.HandlerFor(e.reg, promhttp.HandlerOpts{}),
		Ready: func(context.Context) error {
			e.mu.Lock()
			defer e.mu.Unlock()
			return e.ready
		},
		Logger:     slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Registerer: e.reg,
	}
	for _, c := range configure {
		c(&opts)
	}
	if opts.Rules == nil {
		engine, err := rules.NewEngine(rules.DefaultConfig(), time.UTC)
		if err != nil {
			t.Fatal(err)
		}
		opts.Rules = newRules(t, e.store, engine, opts.Clock)
	}
	a, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	e.api = a
	e.srv = httptest.NewServer(a.Handler())
	t.Cleanup(e.srv.Close)
	return e
}

// storeOptions fills every port of Options from db, with a task service and
// a decision step that do nothing of note: the least an API is built with.
func storeOptions(t *testing.T, db *store.DB) Options {
	t.Helper()
	engine, err := rules.NewEngine(rules.DefaultConfig(), time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	// Real, for registration schedules a household's routine visits.
	svc, err := tasks.NewService(tasks.Options{Store: db, Clock: clock.Wall{}, Composer: plainComposer{}, Wall: clock.Wall{}})
	if err != nil {
		t.Fatal(err)
	}
	return Options{
		Registry: db, RuleSettings: db, Notifications: db, Users: db, AuditLog: db,
		Grants: db, Privacy: db, Households: db, HouseholdList: db, Directory: db, Feedback: db,
		Tasks: svc, Rules: newRules(t, db, engine, clock.Wall{}), Clock: clock.Wall{},
		AdminToken: testToken,
	}
}

// newRules is the real decision step over the store and engine, on clk.
func newRules(t *testing.T, db *store.DB, engine *rules.Engine, clk clock.Clock) *dispatch.Dispatcher {
	t.Helper()
	d, err := dispatch.New(dispatch.Options{Engine: engine, Tasks: &tasks.Service{}, Store: db, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// openStore opens the real store in a temporary directory.
func openStore(t *testing.T) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

type reqOption func(*http.Request)

func withToken(tok string) reqOption {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }
}

func withAuthorization(v string) reqOption {
	return func(r *http.Request) { r.Header.Set("Authorization", v) }
}

func noToken() reqOption { return func(r *http.Request) { r.Header.Del("Authorization") } }

func withContentType(ct string) reqOption {
	return func(r *http.Request) { r.Header.Set("Content-Type", ct) }
}

type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends a request with the admin token and, when there is a body, Content-Type application/json.
func (e *testEnv) do(method, path, body string, opts ...reqOption) response {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, o := range opts {
		o(req)
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return response{status: res.StatusCode, header: res.Header, body: b}
}

// must sends a request and fails the test unless it answers want.
func (e *testEnv) must(want int, method, path, body string, opts ...reqOption) map[string]any {
	e.t.Helper()
	r := e.do(method, path, body, opts...)
	if r.status != want {
		e.t.Fatalf("%s %s: status %d, want %d; body %s", method, path, r.status, want, r.body)
	}
	return r.object(e.t)
}

// object decodes the body as a JSON object, checking the Content-Type.
func (r response) object(t *testing.T) map[string]any {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Fatalf("Content-Type %q, want application/json; charset=utf-8 (body %s)", ct, r.body)
	}
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body %q: %v", r.body, err)
	}
	return m
}

// errorOf returns the code and message of an error body, failing on any other shape.
func (r response) errorOf(t *testing.T) (code, message string) {
	t.Helper()
	m := r.object(t)
	e, ok := m["error"].(map[string]any)
	if !ok || len(m) != 1 {
		t.Fatalf("body %s: want {\"error\": {...}}", r.body)
	}
	code, _ = e["code"].(string)
	message, _ = e["message"].(string)
	if code == "" || message == "" {
		t.Fatalf("body %s: error without code or message", r.body)
	}
	return code, message
}

// seed registers grid g1 with workers w1 (primary) and w2, household h1 with a
// family contact on the log channel, and its devices d-water and d-band.
func (e *testEnv) seed() {
	e.t.Helper()
	e.must(201, "POST", "/api/v1/grids", `{"id":"g1","name":"Grid 1"}`)
	e.must(201, "POST", "/api/v1/workers", `{"id":"w1","name":"Wang","phone":"+8613800000001","grid_ids":["g1"],"role":"grid_worker"}`)
	e.must(201, "POST", "/api/v1/workers", `{"id":"w2","name":"Li","phone":"+8613800000002","grid_ids":["g1"],"role":"grid_worker"}`)
	e.must(201, "POST", "/api/v1/households", `{"id":"h1","name":"Zhang Wei","address":"1 Lane","grid_id":"g1",
		"contacts":[{"name":"Zhang Min","relation":"daughter","channels":["log"]}]}`)
	e.must(201, "POST", "/api/v1/devices", `{"id":"d-water","kind":"water_meter","household_id":"h1","secret":"0123456789abcdef"}`)
	e.must(201, "POST", "/api/v1/devices", `{"id":"d-band","kind":"wristband","household_id":"h1","secret":"0123456789abcdef"}`)
}

// openTask raises an alert for h1 through the real tasks service.
func (e *testEnv) openTask(rule string, sev rules.Severity) tasks.Task {
	e.t.Helper()
	task, opened, err := e.tasks.Raise(context.Background(), rules.Alert{
		HouseholdID: "h1", Rule: rule, Severity: sev, Kind: rules.Visit, At: e.clock.Now(),
		Evidence: rules.Evidence{At: e.clock.Now(), DeviceID: "d-band", Summary: rule + " reported"},
	})
	if err != nil || !opened {
		e.t.Fatalf("raise %s: opened %v, %v", rule, opened, err)
	}
	return task
}

// entries decodes the JSON log lines.
func logEntries(t *testing.T, s *testkit.SyncBuffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.Lines(s.String()) {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}
