package tasks_test

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/clock"
	"github.com/eldersafe/eldersafe/notify"
	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
	"github.com/eldersafe/eldersafe/store"
	"github.com/eldersafe/eldersafe/tasks"
)

// t0 is when every test's event clock starts: 09:12 in Shanghai, on a whole
// second so that times round-trip through the store (milliseconds) unchanged.
var t0 = time.Date(2025, 3, 10, 1, 12, 0, 0, time.UTC)

// wall0 is the wall time the service stamps outbox rows with: far from t0, so
// that a test sees which clock stamped what.
var wall0 = time.Date(2031, 6, 1, 12, 0, 0, 0, time.UTC)

// farFuture lists every pending notice when passed to DueNotices.
var farFuture = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)

// Registry fixture ids.
const (
	gridMain   = "g1" // supervisor registered first, then the grid workers w1 and w2
	gridNoStaf = "g2" // only a supervisor: no grid worker
	hhMain     = "h1" // in gridMain
	hhNoWorker = "h2" // in gridNoStaf
	ownerID    = "w1" // gridMain's primary worker
	otherID    = "w2" // gridMain's second grid worker
	superID    = "s1" // gridMain's (and gridNoStaf's) supervisor
	unknownID  = "nobody"
)

// contacts are the family contacts of both households. With SMS off, the
// daughter gets push and log, the son's sms, log, sms collapse into one log.
var contacts = []registry.Contact{
	{Name: "Daughter", Relation: "daughter", Phone: "+8613800000001", PushURL: "https://push.example/daughter", Lang: "en",
		Channels: []string{registry.ChannelPush, registry.ChannelSMS}},
	{Name: "Son", Relation: "son", Phone: "+8613800000002",
		Channels: []string{registry.ChannelSMS, registry.ChannelLog, registry.ChannelSMS}},
	{Name: "Neighbour", Relation: "neighbour", Channels: []string{registry.ChannelLog}},
}

// env is a task service on a real store in a temporary directory, an event
// clock at t0 and the real templates.
type env struct {
	db  *store.DB
	clk *clock.Event
	svc *tasks.Service
	// wall is the wall time the service stamps outbox rows with: wall0
	// unless a test moves it.
	wall atomic.Pointer[time.Time]
	// ackOverdue counts calls of Options.AckOverdue.
	ackOverdue atomic.Int32
	// notified counts the Courier's deliveries of committed notices; atCall
	// records, at each, how many tasks and pending notices were committed.
	notified atomic.Int32
	atCall   []committed
	// claims records each claim: the notices claimed, and what was committed then.
	claims []claim
	// released are the notices handed back uncommitted.
	released []tasks.Notice
}

type committed struct{ tasks, notices int }

type claim struct {
	notices []tasks.Notice
	at      committed
}

// envCourier is the env's Courier: it records what it is handed, and when.
type envCourier struct {
	e *env
	t *testing.T
}

func (c envCourier) Claim(ns []tasks.Notice) {
	c.e.claims = append(c.e.claims, claim{notices: ns, at: c.e.committed(c.t)})
}

func (c envCourier) Deliver(ns []tasks.Notice, ok bool) {
	if !ok {
		c.e.released = append(c.e.released, ns...)
		return
	}
	c.e.notified.Add(1)
	c.e.atCall = append(c.e.atCall, c.e.committed(c.t))
}

func (e *env) committed(t *testing.T) committed {
	return committed{len(e.allTasks(t)), len(e.allNotices(t))}
}

type envOptions struct {
	sms       bool
	rateLimit time.Duration
	composer  tasks.Composer // nil: notify.NewTemplates()
	store     tasks.Store    // nil: the env's store
	primary   registry.Worker
	changed   func(tasks.Task, string) // Options.Changed
	// verifyWindow is every household's; zero: welfare tasks open at once.
	verifyWindow time.Duration
	// publicURL is Options.PublicURL: links in family notices.
	publicURL string
}

// defaultPrimary is gridMain's primary worker: a push URL, a phone and no language.
var defaultPrimary = registry.Worker{Name: "Wang Fang", Phone: "+8613900000001", PushURL: "https://push.example/w1"}

// newEnv opens a store, registers the fixture and starts a service.
func newEnv(t *testing.T, o envOptions) *env {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, t.TempDir(), nil)
	if err != nil {
		t.Fatalf("store.Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	if o.primary.Name == "" {
		o.primary = defaultPrimary
	}
	seedRegistry(t, db, o.primary)
	e := &env{db: db, clk: clock.NewEvent(t0)}
	e.setWall(wall0)
	e.svc = e.newService(t, o)
	return e
}

// newService starts another service on the same store and clock.
func (e *env) newService(t *testing.T, o envOptions) *tasks.Service {
	t.Helper()
	comp := o.composer
	if comp == nil {
		comp = mustTemplates(t)
	}
	var st tasks.Store = e.db
	if o.store != nil {
		st = o.store
	}
	svc, err := tasks.NewService(tasks.Options{
		Store:        st,
		Clock:        e.clk,
		Composer:     comp,
		Wall:         clock.Func(func() time.Time { return *e.wall.Load() }),
		SMSEnabled:   o.sms,
		RateLimit:    o.rateLimit,
		AckOverdue:   func() { e.ackOverdue.Add(1) },
		Changed:      o.changed,
		VerifyWindow: func(registry.CareLevel) time.Duration { return o.verifyWindow },
		PublicURL:    o.publicURL,
		Courier:      envCourier{e: e, t: t},
	})
	if err != nil {
		t.Fatalf("NewService: %v", err)
	}
	return svc
}

// seedRegistry registers, in this order: grids g1 and g2, the supervisor of
// both, g1's primary worker w1 (as given), g1's second worker w2, and the
// households h1 (in g1) and h2 (in g2), both with contacts.
func seedRegistry(t *testing.T, db *store.DB, primary registry.Worker) {
	t.Helper()
	ctx := context.Background()
	must(t, db.CreateGrid(ctx, registry.Grid{ID: gridMain, Name: "Xingfu Road", SupervisorID: superID, BackupWorkerID: otherID}))
	must(t, db.CreateGrid(ctx, registry.Grid{ID: gridNoStaf, Name: "Unstaffed", SupervisorID: superID}))
	// The supervisor serves g1 before any grid worker does: it must never be picked as primary.
	must(t, db.CreateWorker(ctx, registry.Worker{ID: superID, Name: "Zhao Supervisor", Phone: "+8613900000009",
		PushURL: "https://push.example/s1", GridIDs: []string{gridMain, gridNoStaf}, Role: registry.RoleSupervisor}))
	primary.ID, primary.GridIDs, primary.Role = ownerID, []string{gridMain}, registry.RoleGridWorker
	must(t, db.CreateWorker(ctx, primary))
	must(t, db.CreateWorker(ctx, registry.Worker{ID: otherID, Name: "Li Ming", Phone: "+8613900000002",
		PushURL: "https://push.example/w2", GridIDs: []string{gridMain}, Role: registry.RoleGridWorker, Lang: "en"}))
	for _, h := range []registry.Household{
		{ID: hhMain, Name: "Wang Xiuying", Address: "12 Xingfu Road, flat 401", GridID: gridMain, Contacts: contacts},
		{ID: hhNoWorker, Name: "Chen Guiying", Address: "3 Quiet Lane", GridID: gridNoStaf, Contacts: contacts},
	} {
		must(t, db.CreateHousehold(ctx, h))
	}
}

func mustTemplates(t *testing.T) tasks.Composer {
	t.Helper()
	tpl, err := notify.NewTemplates()
	if err != nil {
		t.Fatalf("notify.NewTemplates: %v", err)
	}
	return tpl
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// alert is an alert of rule for household, fired now, with a wristband position.
func alert(household, rule string, sev rules.Severity, kind rules.TaskKind, at time.Time, summary string) rules.Alert {
	return rules.Alert{
		HouseholdID: household, Rule: rule, Severity: sev, Kind: kind, At: at,
		Evidence: rules.Evidence{At: at, DeviceID: "wb-1", Summary: summary,
			Values: map[string]any{"lat": 31.2304, "lon": 121.4737}},
	}
}

func fallAlert(at time.Time) rules.Alert {
	return alert(hhMain, rules.RuleFall, rules.Critical, rules.Visit, at, "wristband wb-1 reported a fall")
}

// waterAlert is a welfare alert that one signal supports: h1's water meter.
func waterAlert(at time.Time) rules.Alert {
	a := alert(hhMain, rules.RuleWaterNoUse, rules.High, rules.Visit, at, "water register unchanged for 12h")
	a.Signals = []string{"water"}
	return a
}

func (e *env) setWall(t time.Time) { e.wall.Store(&t) }

// advance moves the event clock d forward and returns the new now.
func (e *env) advance(d time.Duration) time.Time {
	e.clk.Advance(e.clk.Now().Add(d))
	return e.clk.Now()
}

// raise raises a and fails the test on an error.
func (e *env) raise(t *testing.T, a rules.Alert) (tasks.Task, bool) {
	t.Helper()
	task, opened, err := e.svc.Raise(context.Background(), a)
	if err != nil {
		t.Fatalf("Raise(%s, %s): %v", a.HouseholdID, a.Rule, err)
	}
	return task, opened
}

// openFall opens a fall task for hhMain, assigned to w1, and returns its id.
func (e *env) openFall(t *testing.T) string {
	t.Helper()
	task, opened := e.raise(t, fallAlert(e.clk.Now()))
	if !opened || task.AssigneeID != ownerID {
		t.Fatalf("Raise: opened %v, assignee %q; want a new task for %s", opened, task.AssigneeID, ownerID)
	}
	return task.ID
}

func (e *env) task(t *testing.T, id string) tasks.Task {
	t.Helper()
	task, err := e.db.Task(context.Background(), id)
	if err != nil {
		t.Fatalf("load task %s: %v", id, err)
	}
	return task
}

func (e *env) allTasks(t *testing.T) []tasks.Task {
	t.Helper()
	list, err := e.db.Tasks(context.Background(), tasks.Filter{})
	if err != nil {
		t.Fatalf("list tasks: %v", err)
	}
	return list
}

// allNotices lists every pending notice of every task.
func (e *env) allNotices(t *testing.T) []tasks.Notice {
	t.Helper()
	list, err := e.db.DueNotices(context.Background(), farFuture, store.MaxNoticeLimit)
	if err != nil {
		t.Fatalf("list notices: %v", err)
	}
	return list
}

func (e *env) notices(t *testing.T, taskID string) []tasks.Notice {
	t.Helper()
	list, err := e.db.Notifications(context.Background(), taskID)
	if err != nil {
		t.Fatalf("notifications of %s: %v", taskID, err)
	}
	return list
}

// forceState puts a task into st by writing it through the store, as an
// operator or the escalator would; closed states get a closed_at.
func (e *env) forceState(t *testing.T, id string, st tasks.State) {
	t.Helper()
	ctx := context.Background()
	now := e.clk.Now()
	must(t, e.db.Update(ctx, func(tx tasks.Tx) error {
		task, err := tx.Task(ctx, id)
		if err != nil {
			return err
		}
		task.State = st
		if st.Closed() {
			task.ClosedAt = &now
		}
		return tx.UpdateTask(ctx, task)
	}))
}

// entryTypes are the types of a timeline, in order.
func entryTypes(tl []tasks.TimelineEntry) []string {
	out := make([]string, len(tl))
	for i, e := range tl {
		out[i] = e.Type
	}
	return out
}

func lastEntry(t *testing.T, task tasks.Task) tasks.TimelineEntry {
	t.Helper()
	if len(task.Timeline) == 0 {
		t.Fatalf("task %s has no timeline", task.ID)
	}
	return task.Timeline[len(task.Timeline)-1]
}

// noticeKey is who a notice goes to, and how.
type noticeKey struct {
	Role, Recipient, Channel, Address, Lang string
}

func (k noticeKey) String() string {
	return strings.Join([]string{k.Role, k.Recipient, k.Channel, k.Address, k.Lang}, "|")
}

func sortedKeys(ks []noticeKey) []noticeKey {
	ks = slices.Clone(ks)
	slices.SortFunc(ks, func(a, b noticeKey) int { return strings.Compare(a.String(), b.String()) })
	return ks
}

func keysOf(ns []tasks.Notice) []noticeKey {
	ks := make([]noticeKey, len(ns))
	for i, n := range ns {
		ks[i] = noticeKey{n.Role, n.Recipient, n.Channel, n.Address, n.Lang}
	}
	return sortedKeys(ks)
}

// idsOf is the notices' ids, sorted.
func idsOf(ns []tasks.Notice) []string {
	ids := make([]string, len(ns))
	for i, n := range ns {
		ids[i] = n.ID
	}
	slices.Sort(ids)
	return ids
}

// wantError checks err against what a case expects: "" (no error),
// "transition" (*tasks.TransitionError), "invalid" (*tasks.InvalidError) or
// "not_found" (tasks.ErrNotFound).
func wantError(t *testing.T, err error, want string) {
	t.Helper()
	var (
		te *tasks.TransitionError
		ie *tasks.InvalidError
	)
	isTransition, isInvalid := errors.As(err, &te), errors.As(err, &ie)
	switch want {
	case "":
		if err != nil {
			t.Fatalf("err = %v, want none", err)
		}
	case "transition":
		if !isTransition || isInvalid {
			t.Fatalf("err = %v (%T), want a *tasks.TransitionError", err, err)
		}
	case "invalid":
		if !isInvalid || isTransition {
			t.Fatalf("err = %v (%T), want a *tasks.InvalidError", err, err)
		}
	case "not_found":
		if !errors.Is(err, tasks.ErrNotFound) || isInvalid || isTransition {
			t.Fatalf("err = %v (%T), want tasks.ErrNotFound", err, err)
		}
	default:
		t.Fatalf("bad test case: want %q", want)
	}
}

// assertUnchanged fails when the stored task differs from before.
func assertUnchanged(t *testing.T, before, after tasks.Task) {
	t.Helper()
	if !reflect.DeepEqual(before, after) {
		t.Errorf("task changed by a refused action:\nbefore %+v\nafter  %+v", before, after)
	}
}

func timeEq(t *testing.T, what string, got *time.Time, want time.Time) {
	t.Helper()
	if got == nil || !got.Equal(want) {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

func ptr(f float64) *float64 { return &f }
