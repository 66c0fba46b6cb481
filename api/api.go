// Package api is eldersafe's HTTP API (CONTRACT.md §5) on net/http's ServeMux:
// JSON under /api/v1 behind bearer-token auth, plus /healthz, /readyz and
// /metrics.
//
// Layout: api.go wires the package (Options, New, Handler and the list of route
// groups); router.go, middleware.go, auth.go, errors.go and json.go are the
// plumbing every route shares; every other file is one route group (grids.go,
// tasks.go, clock.go, ...) with a single method registering its routes. A new
// group is a new file plus one line in (*API).routeGroups.
//
// Handlers return an error instead of writing one: errors.go maps domain errors
// (registry and tasks sentinels and types) to statuses and the contract's
// {"error": {"code", "message"}} body in one place.
package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/crypto/bcrypt"

	"github.com/eldersafe/eldersafe/audit"
	"github.com/eldersafe/eldersafe/clock"
	"github.com/eldersafe/eldersafe/history"
	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
	"github.com/eldersafe/eldersafe/tasks"
)

// Registry is the part of the registry store the API writes and reads.
type Registry interface {
	CreateGrid(ctx context.Context, g registry.Grid) error
	CreateWorker(ctx context.Context, w registry.Worker) error
	CreateHousehold(ctx context.Context, h registry.Household) error
	CreateDevice(ctx context.Context, d registry.Device) error
	Household(ctx context.Context, id string) (registry.Household, error)
	DevicesOf(ctx context.Context, householdID string) ([]registry.Device, error)
	// SetCareLevel changes a household's care level.
	SetCareLevel(ctx context.Context, householdID string, level registry.CareLevel) error
}

// Tasks is the task lifecycle; *tasks.Service implements it.
type Tasks interface {
	Task(ctx context.Context, id string) (tasks.Task, error)
	Tasks(ctx context.Context, f tasks.Filter) ([]tasks.Task, error)
	Ack(ctx context.Context, id, workerID string) (tasks.Task, error)
	CheckIn(ctx context.Context, id, workerID string, lat, lon *float64) (tasks.Task, error)
	Resolve(ctx context.Context, id, workerID, outcome, note string) (tasks.Task, error)
	Handover(ctx context.Context, id, fromID, toID, reason string) (tasks.Task, error)
	Reassign(ctx context.Context, id, toID, reason, actor string) (tasks.Task, error)
	Reschedule(ctx context.Context, id string, due time.Time, reason, actor, worker string) (tasks.Task, error)
	Cancel(ctx context.Context, id, actor, reason string) (tasks.Task, error)
	OpenManual(ctx context.Context, householdID string, sev rules.Severity, reason, actor string) (tasks.Task, bool, error)
	SLA(ctx context.Context, q tasks.SLAQuery) ([]tasks.SLARow, error)
	SLAWorkers(ctx context.Context, q tasks.SLAQuery) ([]tasks.SLAWorkerRow, error)
	Rate(ctx context.Context, taskID, by string, stars int, comment string) (tasks.Rating, error)
	FamilyVisits(ctx context.Context, h registry.Household, by string) ([]tasks.FamilyVisit, error)
	RoutineReport(ctx context.Context, month string) ([]tasks.RoutineRow, string, error)
	ScheduleRoutineFor(ctx context.Context, householdIDs ...string) (int, error)
	// ByToken and AnswerByToken serve a family's answer links.
	ByToken(ctx context.Context, token string) (tasks.Task, tasks.AnswerToken, error)
	AnswerByToken(ctx context.Context, token, answer string, until time.Time) (tasks.Task, tasks.AnswerToken, error)
	// ByRatingToken and RateByToken serve a family's rating links.
	ByRatingToken(ctx context.Context, token string) (tasks.Task, tasks.AnswerToken, *tasks.Rating, error)
	RateByToken(ctx context.Context, token string, stars int, comment string) (tasks.Rating, tasks.AnswerToken, error)
}

// Notifications lists the outbox notices of a task.
type Notifications interface {
	Notifications(ctx context.Context, taskID string) ([]tasks.Notice, error)
}

// EventClock is the event clock the monitor runs on under --clock event;
// POST /api/v1/clock ticks it and answers with now, which a tick older than
// now leaves unchanged. *dispatch.Dispatcher implements it.
type EventClock interface {
	Tick(ctx context.Context, ts time.Time) (now time.Time, err error)
}

var _ Tasks = (*tasks.Service)(nil)

// Options wire an API. Every port is named here and checked by the compiler
// where the monitor fills it in: a route never depends on what else a value
// happens to implement.
type Options struct {
	// The store's parts, all required; *store.DB implements every one.
	Registry      Registry
	RuleSettings  RuleSettings
	Notifications Notifications
	Users         Users
	AuditLog      AuditLog
	Grants        Grants
	Privacy       PrivacySettings
	Households    HouseholdData
	HouseholdList HouseholdLister
	Directory     Directory
	// Feedback keeps false alarms' reasons and suggestions; required.
	Feedback Feedback
	// Tasks is the task lifecycle; required.
	Tasks Tasks
	// Rules is the decision step: it checks threshold overrides, applies a
	// household's stored settings and learns of new devices; required.
	Rules Rules
	// Clock is the monitor's clock (event time under --clock event, zero
	// before the first event): it dates new devices for the rules and
	// decides which away periods are current; required.
	Clock clock.Clock
	// Status reports the live status of a household's devices, from the rules
	// engine. Nil: every device shows as never heard.
	Status func(householdID string) []rules.DeviceStatus
	// Timezone names the monitor's configured location (an IANA name), in
	// which a household without its own zone lives; GET /api/v1/me tells
	// the console. Empty: not told.
	Timezone string
	// EventClock is nil when the monitor runs on the wall clock; POST
	// /api/v1/clock then answers 409 wall_clock.
	EventClock EventClock
	// AdminToken is the bootstrap admin bearer token; required.
	AdminToken string
	// SessionTTL is how long a log-in lasts. Zero: DefaultSessionTTL.
	SessionTTL time.Duration
	// PasswordCost is bcrypt's cost for new passwords. Zero:
	// registry.PasswordCost.
	PasswordCost int
	// Audit records accesses to personal data before they are served, in
	// one write (an import records hundreds at once); an error refuses the
	// request. Nil: nothing is recorded.
	Audit func(ctx context.Context, entries ...audit.Entry) error
	// Erase erases a household from the store and has the running monitor
	// forget it (the rules engine, ingest, the broker, the restart
	// snapshot) in one step, so that nothing the monitor writes meanwhile,
	// a snapshot at stop, falls between the two. Unknown:
	// registry.ErrNotFound. Nil: Households.DeleteHousehold, nothing told.
	Erase func(ctx context.Context, id string, at time.Time, actor string) (registry.Erasure, error)
	// Events is the live feed of task changes streamed at GET
	// /api/v1/events. Nil: no such route.
	Events Events
	// EventHeartbeat is how often an idle event stream sends a comment.
	// Zero: DefaultEventHeartbeat.
	EventHeartbeat time.Duration
	// Console is the web console, served at / and /static/ (console.Handler).
	// Nil: no console.
	Console http.Handler
	// Charts answers GET /api/v1/households/{id}/charts from the readings
	// history (charts.go). Nil: no such route.
	Charts history.Charts
	// Metrics is served at GET /metrics. Nil: no /metrics route.
	Metrics http.Handler
	// Ready backs GET /readyz. Nil: always ready.
	Ready func(ctx context.Context) error
	// Standby reports whether another monitor works (high availability):
	// then reads are served and every other request refused with 503, so
	// that a standby never writes behind the leader's back. Nil: never.
	Standby func() bool
	Logger  *slog.Logger
	// Registerer receives the API's own metrics. Nil: they are kept private.
	Registerer prometheus.Registerer
}

func (o *Options) validate() error {
	var errs []error
	for _, port := range []struct {
		name string
		set  bool
	}{
		{"registry", o.Registry != nil},
		{"rule settings", o.RuleSettings != nil},
		{"notifications", o.Notifications != nil},
		{"users", o.Users != nil},
		{"audit log", o.AuditLog != nil},
		{"grants", o.Grants != nil},
		{"privacy", o.Privacy != nil},
		{"households", o.Households != nil},
		{"household list", o.HouseholdList != nil},
		{"directory", o.Directory != nil},
		{"feedback", o.Feedback != nil},
		{"tasks", o.Tasks != nil},
		{"rules", o.Rules != nil},
		{"clock", o.Clock != nil},
		{"admin token", o.AdminToken != ""},
	} {
		if !port.set {
			errs = append(errs, fmt.Errorf("%s is required", port.name))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if o.Erase == nil && o.Households != nil {
		o.Erase = o.Households.DeleteHousehold
	}
	if o.SessionTTL <= 0 {
		o.SessionTTL = DefaultSessionTTL
	}
	if o.EventHeartbeat <= 0 {
		o.EventHeartbeat = DefaultEventHeartbeat
	}
	if o.PasswordCost == 0 {
		o.PasswordCost = registry.PasswordCost
	}
	if o.Status == nil {
		o.Status = func(string) []rules.DeviceStatus { return nil }
	}
	if o.Ready == nil {
		o.Ready = func(context.Context) error { return nil }
	}
	if o.Standby == nil {
		o.Standby = func() bool { return false }
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Registerer == nil {
		o.Registerer = prometheus.NewRegistry()
	}
	return nil
}

// API serves eldersafe's HTTP API. Create it with New.
type API struct {
	opts      Options
	log       *slog.Logger
	metrics   *httpMetrics
	verifiers []verifier
	// wall stamps what the API itself creates, such as a worker's
	// created_at, and times log-ins, sessions and grants.
	wall    clock.Clock
	handler http.Handler
	logins  *loginLimiter
	// refusals logs refused requests, rate-limited (refusal.go).
	refusals *refusalLog
	// dummyHash is checked for log-ins of unknown users. It is hashed in
	// the background from New on: one bcrypt was 0.16 s of every start
	// before /readyz (docs/performance.md, "Restart, tenth round").
	dummyHash func() (string, error)
}

// New checks opts, registers the API's metrics and builds its routes.
func New(opts Options) (*API, error) {
	if err := opts.validate(); err != nil {
		return nil, fmt.Errorf("api options: %w", err)
	}
	m, err := newHTTPMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	a := &API{
		opts:      opts,
		log:       opts.Logger,
		metrics:   m,
		verifiers: []verifier{newAdminVerifier(opts.AdminToken)},
		wall:      clock.Wall{},
		logins:    newLoginLimiter(),
		refusals:  newRefusalLog(opts.Logger),
	}
	if opts.PasswordCost < bcrypt.MinCost || opts.PasswordCost > bcrypt.MaxCost {
		return nil, fmt.Errorf("api: password cost %d: want %d to %d", opts.PasswordCost, bcrypt.MinCost, bcrypt.MaxCost)
	}
	a.dummyHash = sync.OnceValues(func() (string, error) {
		return registry.HashPassword("no user has this password", opts.PasswordCost)
	})
	go a.dummyHash() // one bcrypt, then it ends
	a.verifiers = append(a.verifiers, sessionVerifier{users: opts.Users, now: func() time.Time { return a.wall.Now() }})
	rt := newRouter(a)
	for _, group := range a.routeGroups() {
		group(rt)
	}
	a.handler = a.observe(a.recoverPanics(a.refuseOnStandby(rt.finish())))
	return a, nil
}

// routeGroups lists every route group; each lives in its own file.
func (a *API) routeGroups() []func(*router) {
	return []func(*router){
		a.healthRoutes,
		a.userRoutes,
		a.auditRoutes,
		a.gridRoutes,
		a.workerRoutes,
		a.householdRoutes,
		a.privacyRoutes,
		a.grantRoutes,
		a.deviceRoutes,
		a.taskRoutes,
		a.notificationRoutes,
		a.reportRoutes,
		a.careRoutes,
		a.clockRoutes,
		a.ruleRoutes,
		a.chartRoutes,
		a.householdListRoutes,
		a.eventRoutes,
		a.consoleRoutes,
		a.erasureRoutes,
		a.importRoutes,
		a.suggestionRoutes,
		a.directoryRoutes,
		a.answerRoutes,
	}
}

// Handler is the API's http.Handler.
func (a *API) Handler() http.Handler { return a.handler }
