package dispatch_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/eldersafe/eldersafe/clock"
	"github.com/eldersafe/eldersafe/dispatch"
	"github.com/eldersafe/eldersafe/notify"
	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
	"github.com/eldersafe/eldersafe/store"
	"github.com/eldersafe/eldersafe/tasks"
	"github.com/eldersafe/eldersafe/testkit"
)

var t0 = time.Date(2026, 3, 2, 1, 0, 0, 0, time.UTC)

// failing is the real store, made to refuse tasks or checkpoints while the
// test says so, as a full disk does. It counts the writes of tasks and of
// states marked urgent (tasks.Urgent), and the event clock's writes with
// states and alone.
type failing struct {
	*store.DB
	tasks, checkpoints          atomic.Bool
	urgentTasks, urgentStates   atomic.Int32
	clockWithStates, clockAlone atomic.Int32
}

var errDiskFull = errors.New("database or disk is full")

func (f *failing) Update(ctx context.Context, fn func(tasks.Tx) error) error {
	if f.tasks.Load() {
		return errDiskFull
	}
	if tasks.IsUrgent(ctx) {
		f.urgentTasks.Add(1)
	}
	return f.DB.Update(ctx, fn)
}

func (f *failing) SaveCheckpoint(ctx context.Context, states []rules.State, eventClock time.Time) error {
	if f.checkpoints.Load() {
		return errDiskFull
	}
	if tasks.IsUrgent(ctx) && len(states) > 0 {
		f.urgentStates.Add(1)
	}
	switch {
	case eventClock.IsZero():
	case len(states) > 0:
		f.clockWithStates.Add(1)
	default:
		f.clockAlone.Add(1)
	}
	return f.DB.SaveCheckpoint(ctx, states, eventClock)
}

type env struct {
	db     *failing
	d      *dispatch.Dispatcher
	engine *rules.Engine
	reg    *prometheus.Registry
	cache  devicesTold
}

// newEnv is a running decision step over a real store with household h1,
// its wristband wb-1 and its motion sensor pir-1, on an event clock at t0.
func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvOn(t, newStore(t), dispatch.Options{})
}

// newStore is a real store with household h1, its wristband wb-1 and its
// motion sensor pir-1.
func newStore(t *testing.T) *failing {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	for _, err := range []error{
		db.CreateGrid(ctx, registry.Grid{ID: "g1", Name: "Grid 1"}),
		db.CreateWorker(ctx, registry.Worker{ID: "w1", Name: "Li Min", Phone: "+8613900000001", GridIDs: []string{"g1"}, Role: registry.RoleGridWorker}),
		db.CreateHousehold(ctx, registry.Household{ID: "h1", Name: "Wang Xiuying", Address: "12 Xingfu Road", GridID: "g1"}),
		db.CreateDevice(ctx, registry.Device{ID: "wb-1", Kind: registry.Wristband, HouseholdID: "h1", SecretHash: "x"}),
		db.CreateDevice(ctx, registry.Device{ID: "pir-1", Kind: registry.MotionSensor, HouseholdID: "h1", SecretHash: "x"}),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	return &failing{DB: db}
}

// newEnvOn is a decision step over db, loaded, with the options of opts
// that newEnv leaves unset (a journal), on an event clock at t0.
func newEnvOn(t *testing.T, db *failing, opts dispatch.Options) *env {
	t.Helper()
	ctx := context.Background()
	e := &env{db: db, reg: prometheus.NewRegistry()}
	templates, err := notify.NewTemplates()
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewEvent(t0)
	svc, err := tasks.NewService(tasks.Options{Store: e.db, Clock: clk, Composer: templates, Wall: clock.Wall{}})
	if err != nil {
		t.Fatal(err)
	}
	if e.engine, err = rules.NewEngine(rules.DefaultConfig(), time.UTC); err != nil {
		t.Fatal(err)
	}
	opts.Engine, opts.Tasks, opts.Store, opts.Clock, opts.Registerer = e.engine, svc, e.db, clk, e.reg
	e.d, err = dispatch.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.d.Load(ctx, &e.cache); err != nil {
		t.Fatal(err)
	}
	return e
}

// devicesTold is a device cache for a decision step with no ingest before
// it: it keeps the ids of the devices it is told of one at a time (from
// the store), not the snapshot's image.
type devicesTold struct {
	mu      sync.Mutex
	devices []registry.Device
}

func (*devicesTold) Reserve(int)                {}
func (*devicesTold) LoadCachePart([]byte) error { return nil }

func (c *devicesTold) Remember(d registry.Device) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.devices = append(c.devices, d)
}

func (c *devicesTold) ForgetHouseholdsUnless(keep func(householdID string) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.devices = slices.DeleteFunc(c.devices, func(d registry.Device) bool { return !keep(d.HouseholdID) })
}

// remembered is the devices told of, sorted.
func (c *devicesTold) remembered() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	ids := make([]string, len(c.devices))
	for i, d := range c.devices {
		ids[i] = d.ID
	}
	slices.Sort(ids)
	return ids
}

// run runs the decision step until the test ends.
func (e *env) run(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { e.d.Run(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait() })
}

func motion(at time.Time) rules.Reading {
	on := true
	return rules.Reading{HouseholdID: "h1", DeviceID: "pir-1", Kind: registry.MotionSensor, Stream: rules.Event, TS: at, Motion: &on}
}

func fall(at time.Time) rules.Reading {
	return rules.Reading{HouseholdID: "h1", DeviceID: "wb-1", Kind: registry.Wristband, Stream: rules.Event, TS: at, Event: "fall"}
}

func closedWithin(c <-chan struct{}, d time.Duration) bool {
	select {
	case <-c:
		return true
	case <-time.After(d):
		return false
	}
}

func (e *env) tasksOf(t *testing.T, rule string) []tasks.Task {
	t.Helper()
	list, err := e.db.Tasks(context.Background(), tasks.Filter{HouseholdID: "h1", Rule: rule})
	if err != nil {
		t.Fatal(err)
	}
	return list
}

// A reading may be acknowledged once what it changed in the rules' state is
// stored, and not before: motion acknowledged before a crash still counts.
func TestHandle_DurableOnceTheStateIsStored(t *testing.T) {
	e := newEnv(t)
	durable, err := e.d.Handle(context.Background(), motion(t0.Add(time.Minute)))
	if err != nil {
		t.Fatal(err)
	}
	if closedWithin(durable, 50*time.Millisecond) {
		t.Fatal("durable before anything was written")
	}
	e.run(t)
	if !closedWithin(durable, 5*time.Second) {
		t.Fatal("not durable once the decision step runs")
	}
	states, err := e.db.RuleStates(context.Background())
	if err != nil || len(states) != 1 || states[0].HouseholdID != "h1" {
		t.Fatalf("stored rule states %v, %v; want h1's", states, err)
	}
	saved, err := e.db.EventClock(context.Background())
	if err != nil || !saved.Equal(t0.Add(time.Minute)) {
		t.Errorf("stored event clock %v, %v; want the motion's %v", saved, err, t0.Add(time.Minute))
	}
}

// A fall's writes go before the store's others: its task, and the commit
// of the rules' state its PUBACK waits for. A motion's commit waits its turn.
func TestHandle_AnAlarmsWritesGoFirst(t *testing.T) {
	e := newEnv(t)
	e.run(t)
	ctx := context.Background()
	durable, err := e.d.Handle(ctx, motion(t0.Add(time.Minute)))
	if err != nil || !closedWithin(durable, 5*time.Second) {
		t.Fatalf("motion: %v, or not durable", err)
	}
	if n, m := e.db.urgentTasks.Load(), e.db.urgentStates.Load(); n != 0 || m != 0 {
		t.Fatalf("a motion wrote %d tasks and %d commits of states first, want none", n, m)
	}
	durable, err = e.d.Handle(ctx, fall(t0.Add(2*time.Minute)))
	if err != nil || !closedWithin(durable, 5*time.Second) {
		t.Fatalf("fall: %v, or not durable", err)
	}
	if n, m := e.db.urgentTasks.Load(), e.db.urgentStates.Load(); n != 1 || m != 1 {
		t.Errorf("a fall wrote %d tasks and %d commits of states first, want 1 and 1", n, m)
	}
}

// A fall's PUBACK waits for its own household's state and the clock, not
// for the commit of every household changed meanwhile: with no group
// commit running, the fall is durable, its state stored, and another
// household's low battery, no alarm, still waits for the commit.
func TestHandle_AnAlarmsStateWrittenOnItsOwn(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for _, err := range []error{
		e.db.CreateHousehold(ctx, registry.Household{ID: "h2", Name: "Zhao Min", Address: "14 Xingfu Road", GridID: "g1"}),
		e.db.CreateDevice(ctx, registry.Device{ID: "pir-2", Kind: registry.MotionSensor, HouseholdID: "h2", SecretHash: "x"}),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	low := 5.0
	waiting, err := e.d.Handle(ctx, rules.Reading{HouseholdID: "h2", DeviceID: "pir-2", Kind: registry.MotionSensor,
		Stream: rules.Telemetry, TS: t0.Add(time.Minute), BatteryPct: &low})
	if err != nil {
		t.Fatal(err)
	}
	durable, err := e.d.Handle(ctx, fall(t0.Add(2*time.Minute)))
	if err != nil {
		t.Fatal(err)
	}
	if !closedWithin(durable, 5*time.Second) {
		t.Fatal("the fall waits for the group commit")
	}
	if len(e.tasksOf(t, "fall")) != 1 {
		t.Fatal("no fall task")
	}
	states, err := e.db.RuleStates(ctx)
	if err != nil || len(states) != 1 || states[0].HouseholdID != "h1" {
		t.Fatalf("stored rule states %v, %v; want h1's only", states, err)
	}
	if saved, err := e.db.EventClock(ctx); err != nil || !saved.Equal(t0.Add(2*time.Minute)) {
		t.Errorf("stored event clock %v, %v; want the fall's", saved, err)
	}
	if closedWithin(waiting, 50*time.Millisecond) {
		t.Fatal("the other household's low battery durable before its commit")
	}
	e.run(t)
	if !closedWithin(waiting, 5*time.Second) {
		t.Fatal("the other household's low battery not durable once the decision step runs")
	}
	if list, err := e.db.Tasks(ctx, tasks.Filter{HouseholdID: "h2", Rule: rules.RuleBatteryLow}); err != nil || len(list) != 1 {
		t.Errorf("h2's battery_low tasks %v, %v; want one", list, err)
	}
}

// A group commit writes the event clock with its last batch of states, not
// in a transaction of its own after them.
func TestHandle_ClockWrittenWithTheLastBatch(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	durable, err := e.d.Handle(ctx, motion(t0.Add(time.Minute)))
	if err != nil {
		t.Fatal(err)
	}
	e.run(t)
	if !closedWithin(durable, 5*time.Second) {
		t.Fatal("motion not durable once the decision step runs")
	}
	if saved, err := e.db.EventClock(ctx); err != nil || !saved.Equal(t0.Add(time.Minute)) {
		t.Errorf("stored event clock %v, %v; want the motion's", saved, err)
	}
	if with, alone := e.db.clockWithStates.Load(), e.db.clockAlone.Load(); with != 1 || alone != 0 {
		t.Errorf("the clock written %d times with states and %d alone, want 1 and 0", with, alone)
	}
}

// A store that refuses to write (a full disk) holds the message, retried in
// place, and the monitor says it is degraded; once the store writes again,
// the fall opens its task, once, without anything being sent again.
func TestHandle_RetriesInPlace(t *testing.T) {
	e := newEnv(t)
	e.run(t)
	e.db.tasks.Store(true)
	type result struct {
		durable <-chan struct{}
		err     error
	}
	done := make(chan result, 1)
	go func() {
		d, err := e.d.Handle(context.Background(), fall(t0.Add(time.Minute)))
		done <- result{d, err}
	}()
	deadline := time.Now().Add(5 * time.Second)
	for testkit.MetricValue(t, e.reg, "eldersafe_ingest_retrying") != 1 {
		if time.Now().After(deadline) {
			t.Fatal("eldersafe_ingest_retrying never counted the fall")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if reason := e.d.Degraded(); reason == "" {
		t.Error("not degraded while the store refuses tasks")
	}
	e.db.tasks.Store(false)
	var r result
	select {
	case r = <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the fall was not stored once the store wrote again")
	}
	if r.err != nil || !closedWithin(r.durable, 5*time.Second) {
		t.Fatalf("Handle: %v (durable %v)", r.err, r.durable)
	}
	if n := len(e.tasksOf(t, rules.RuleFall)); n != 1 {
		t.Errorf("%d fall tasks, want 1", n)
	}
	if reason := e.d.Degraded(); reason != "" || testkit.MetricValue(t, e.reg, "eldersafe_ingest_retrying") != 0 {
		t.Errorf("still degraded (%q) or retrying after the store came back", reason)
	}
}

// Rule state the store refuses to write keeps its messages unacknowledged,
// counted as retrying, until a commit succeeds.
func TestHandle_CheckpointRetried(t *testing.T) {
	e := newEnv(t)
	e.run(t)
	e.db.checkpoints.Store(true)
	durable, err := e.d.Handle(context.Background(), motion(t0.Add(time.Minute)))
	if err != nil {
		t.Fatal(err)
	}
	waiting := make(chan struct{})
	go func() {
		defer close(waiting)
		select {
		case <-durable:
		case <-time.After(10 * time.Second):
		}
	}()
	deadline := time.Now().Add(5 * time.Second)
	for e.d.Degraded() == "" {
		if time.Now().After(deadline) {
			t.Fatal("not degraded while the store refuses the rules' state")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if closedWithin(durable, 50*time.Millisecond) {
		t.Fatal("durable while the store refuses to write")
	}
	e.db.checkpoints.Store(false)
	if !closedWithin(durable, 5*time.Second) {
		t.Fatal("not durable once the store writes again")
	}
	<-waiting
	if reason := e.d.Degraded(); reason != "" {
		t.Errorf("still degraded: %s", reason)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
