// Package dispatch is the decision step between the rules engine and the
// tasks: it takes readings and moves of the clock, lets the rules fire, and
// raises the task each alert calls for. It also keeps the engine in step with
// what operators store (households' time zones, threshold overrides, away
// periods, new devices, deletions) and saves the engine's state.
//
// It knows nothing of MQTT, HTTP or SQL: readings come from ingest, settings
// changes from the API, and storage sits behind the small Store interface.
package dispatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/eldersafe/eldersafe/clock"
	"github.com/eldersafe/eldersafe/journal"
	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
	"github.com/eldersafe/eldersafe/snapshot"
	"github.com/eldersafe/eldersafe/tasks"
)

// Tasks is the task lifecycle as the decision step drives it; *tasks.Service
// implements it.
type Tasks interface {
	// Raise opens the task an alert calls for, or attaches its evidence to
	// the one open; opened reports a new task.
	Raise(ctx context.Context, a rules.Alert) (t tasks.Task, opened bool, err error)
	// Escalate escalates the tasks whose deadlines now has passed.
	Escalate(ctx context.Context) (int, error)
	// ScheduleRoutine schedules the month's routine visits of every
	// household that has none yet; it is cheap once the month is done. Run
	// calls it every second, apart from the ticks.
	ScheduleRoutine(ctx context.Context) (int, error)
	// AnswerCheck records a resident's answer to a check.
	AnswerCheck(ctx context.Context, id string, req tasks.AnswerRequest) (tasks.Task, error)
}

// Store keeps what the engine needs across restarts: households' settings,
// the engine's saved state and the event clock. *store.DB implements it.
type Store interface {
	// HouseholdRuleFields is the time zone and care level of each
	// household with a zone of its own other than defaultZone or a level
	// other than self_care; with everyHousehold, of every household.
	HouseholdRuleFields(ctx context.Context, everyHousehold bool, defaultZone string) (map[string]registry.RuleFields, error)
	Household(ctx context.Context, id string) (registry.Household, error)
	AllHouseholdThresholds(ctx context.Context) (map[string]rules.Thresholds, error)
	// HouseholdThresholds is nil for a household without overrides.
	HouseholdThresholds(ctx context.Context, householdID string) (rules.Thresholds, error)
	// AwayPeriodsEndingAfter lists every household's periods ending after t.
	AwayPeriodsEndingAfter(ctx context.Context, t time.Time) ([]registry.AwayPeriod, error)
	// AwayPeriodsOf lists one household's periods ending after t (all for a zero t).
	AwayPeriodsOf(ctx context.Context, householdID string, t time.Time) ([]registry.AwayPeriod, error)
	// Counts is how many households and devices are registered.
	Counts(ctx context.Context) (households, devices int, err error)
	// EachRegisteredDevice hands every device, without its secret's hash
	// or its location, to each, as it reads them; an error of each ends
	// the reading. Each device is of one of two halves (0 and 1), which
	// may be read at once: each is called from one goroutine a half.
	EachRegisteredDevice(ctx context.Context, each func(half int, rd registry.RegisteredDevice) error) error
	// EachDeviceWrittenSince is EachRegisteredDevice for the devices of
	// the households DevicesWrittenSince counts only, in one read.
	EachDeviceWrittenSince(ctx context.Context, generation uint64, each func(registry.RegisteredDevice) error) error
	RuleStates(ctx context.Context) ([]rules.State, error)
	// SaveCheckpoint writes households' states and, unless it is zero, the
	// event clock, in one transaction.
	SaveCheckpoint(ctx context.Context, states []rules.State, eventClock time.Time) error
	DeleteRuleState(ctx context.Context, householdID string) error
	// Generations are what a snapshot is checked against: states moves
	// with every write of a rule state or a device, devices with every
	// write of a device.
	Generations(ctx context.Context) (states, devices uint64, err error)
	// DevicesWrittenSince counts the households whose devices were
	// registered or changed since a device generation; false when a device
	// was removed (or moved, renamed, made another kind) since, or the
	// store does not know.
	DevicesWrittenSince(ctx context.Context, generation uint64) (households int, known bool, err error)
	// HouseholdsErasedSince reports whether a household was erased since
	// a state generation.
	HouseholdsErasedSince(ctx context.Context, generation uint64) (bool, error)
	// ChangesSince hands, in one read, each rule state written since a
	// state generation, and that of each household whose devices were
	// written since, to state; every device of those households to
	// device; then the settings of each household whose settings were
	// written (or which was registered) since a settings generation, or
	// its devices since the state generation, to settings. It returns the
	// generations it read at (nothing committed later is at or below
	// them), and whether a household was erased since.
	ChangesSince(ctx context.Context, since, settingsSince uint64, state func(rules.State) error, device func(registry.RegisteredDevice) error,
		settings func(householdID string, f registry.RuleFields, overrides rules.Thresholds, away []registry.AwayPeriod) error) (generation, settingsGeneration uint64, removed bool, err error)
	// RegisteredHouseholdIDs is the set of every registered household.
	RegisteredHouseholdIDs(ctx context.Context) (map[string]struct{}, error)
	// SettingsGeneration is where a standby's settings follow from.
	SettingsGeneration(ctx context.Context) (uint64, error)
}

// Snapshot is a copy of the rules' states and the registered devices taken
// at a clean stop, faster to read than the store's rows.
type Snapshot interface {
	// Open reads the snapshot's header; a missing one is fs.ErrNotExist.
	Open() (*snapshot.File, error)
	// Shred makes the snapshot unreadable for good and removes it: an
	// erased household's routine must not stay on disk (docs/privacy.md).
	Shred() error
}

// Journal is a file of readings in the order the engine applied them;
// *journal.Journal implements it.
type Journal interface {
	rules.Journal
	// Flush writes what was appended before it.
	Flush() error
	// Rotate starts a new file of the journal and returns the first
	// sequence number it will hold.
	Rotate() (uint64, error)
	// Release removes the files whose records are all below below.
	Release(below uint64) error
	// Replay hands every record above after to fn, in sequence order.
	Replay(after uint64, fn func(seq uint64, r rules.Reading) error) (journal.Stats, error)
	// Continue numbers the records appended from now on above after.
	Continue(after uint64)
}

// History keeps the readings behind the charts. Neither method may block
// ingest for long.
type History interface {
	// Reading records a reading once its effect is stored.
	Reading(r rules.Reading)
	// Forget erases a deleted household's history.
	Forget(ctx context.Context, householdID string) error
}

// Options wire a Dispatcher.
type Options struct {
	Engine *rules.Engine
	Tasks  Tasks
	Store  Store
	// Clock is the monitor's clock: clock.Wall, or a *clock.Event that
	// readings and ticks move.
	Clock clock.Clock
	// Watermark bounds how far deadlines may fire under the event clock:
	// the event time ingest has caught up to (see ingest's Watermark). Nil:
	// nothing holds them back.
	Watermark func() (wm time.Time, bounded bool)
	// History records readings; nil keeps none.
	History History
	// Snapshot, when not nil, is tried before the store at Load; the
	// caller writes one when Run has returned (SavePart). With a journal,
	// the stop then leaves the households changed to it and keeps the
	// journal, rather than writing them: a million rows, a minute.
	Snapshot Snapshot
	// CheckpointInterval is how often what the clock changed in the engine's
	// state is saved; what a reading changed is saved before its message is
	// acknowledged (see Handle).
	CheckpointInterval time.Duration
	// Journal, when not nil, records each reading before its message is
	// acknowledged, in place of its household's state: the states are
	// written every JournalCheckpoint instead, and Load replays what the
	// journal holds after them. Nil: each reading's state is written
	// before its message is acknowledged.
	Journal Journal
	// JournalCheckpoint is how often, with a journal, every household
	// changed is written and the journal behind it removed. Zero:
	// DefaultJournalCheckpoint.
	JournalCheckpoint time.Duration
	// MaxJump bounds how far past now one device's reading may move the
	// event clock (Handle); ticks are not bound by it. Zero: DefaultMaxJump.
	MaxJump time.Duration
	// CareLevels are the thresholds of each care level's profile: they
	// replace the global ones for its households, and a household's own
	// overrides replace them in turn. Nil: no profiles.
	CareLevels map[registry.CareLevel]rules.Thresholds
	// Standby is a standby's (CONTRACT §15): after Load it follows what
	// the leader writes (Follow), and once more when it takes over.
	Standby    bool
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// DefaultMaxJump is Options.MaxJump's default.
const DefaultMaxJump = time.Hour

// DefaultJournalCheckpoint is Options.JournalCheckpoint's default: at a
// million households a household speaks every few minutes, so a state
// written every five holds a few of its readings.
const DefaultJournalCheckpoint = 5 * time.Minute

// Dispatcher is the decision step. Create it with New, Load what the last
// run left, then Run it.
type Dispatcher struct {
	engine    *rules.Engine
	tasks     Tasks
	store     Store
	clock     clock.Clock
	event     *clock.Event // nil under the wall clock
	watermark func() (time.Time, bool)
	history   History
	snapshot  Snapshot
	journal   Journal
	// journalEvery is how often the journal is checkpointed; journalMu
	// keeps two checkpoints of it apart; journalNow asks for one at once.
	journalEvery time.Duration
	journalMu    sync.Mutex
	journalNow   chan struct{}
	every        time.Duration
	maxJump      time.Duration
	levels       map[registry.CareLevel]rules.Thresholds
	log          *slog.Logger
	fired        *prometheus.CounterVec
	// fromSnapshot and devicesFromSnapshot say where Load found the rules'
	// state and the devices.
	fromSnapshot, devicesFromSnapshot prometheus.Gauge
	// journalTook is how long the journal's last checkpoint took.
	journalTook prometheus.Gauge
	// jumps counts readings that would have moved the event clock more than
	// maxJump; jumpLog says so at most once a minute.
	jumps   prometheus.Counter
	jumpLog rateLimited

	commits *commits
	// clockMu orders the writes of the event clock (saveWithClock);
	// savedClock is the one last written.
	clockMu    sync.Mutex
	savedClock time.Time
	// retrying counts readings and ticks whose alerts the store refused
	// and that are being tried again.
	retrying atomic.Int64
	health   storeHealth

	// settingsMu makes reading a household's settings from the store and
	// applying them to the engine one step, so racing changes leave the
	// engine as stored last.
	settingsMu sync.Mutex
	forget     forgetting

	// A standby's (Options.Standby): the state and settings generations
	// the engine holds the store's writes up to.
	standby                    bool
	followed, settingsFollowed uint64
	// statesFollowed counts the rule states Follow applied; lastFollow is
	// when it last read the store (Unix seconds).
	statesFollowed prometheus.Counter
	lastFollow     prometheus.Gauge
}

// New checks opts and registers the decision step's metrics.
func New(opts Options) (*Dispatcher, error) {
	if opts.Engine == nil || opts.Tasks == nil || opts.Store == nil || opts.Clock == nil {
		return nil, errors.New("dispatch: engine, tasks, store and clock are required")
	}
	if opts.CheckpointInterval <= 0 {
		opts.CheckpointInterval = time.Second
	}
	if opts.MaxJump <= 0 {
		opts.MaxJump = DefaultMaxJump
	}
	if opts.JournalCheckpoint <= 0 {
		opts.JournalCheckpoint = DefaultJournalCheckpoint
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Registerer == nil {
		opts.Registerer = prometheus.NewRegistry()
	}
	if opts.Watermark == nil {
		opts.Watermark = func() (time.Time, bool) { return time.Time{}, false }
	}
	if opts.History == nil {
		opts.History = noHistory{}
	}
	d := &Dispatcher{
		engine:       opts.Engine,
		tasks:        opts.Tasks,
		store:        opts.Store,
		snapshot:     opts.Snapshot,
		journal:      opts.Journal,
		journalEvery: opts.JournalCheckpoint,
		journalNow:   make(chan struct{}, 1),
		clock:        opts.Clock,
		watermark:    opts.Watermark,
		history:      opts.History,
		every:        opts.CheckpointInterval,
		maxJump:      opts.MaxJump,
		levels:       opts.CareLevels,
		log:          opts.Logger,
		commits:      newCommits(),
	}
	d.event, _ = opts.Clock.(*clock.Event)
	f := promauto.With(opts.Registerer)
	if opts.Standby {
		d.standby = true
		d.statesFollowed = f.NewCounter(prometheus.CounterOpts{
			Name: "eldersafe_standby_states_followed_total",
			Help: "Rule states a standby read from the store as the leader wrote them.",
		})
		d.lastFollow = f.NewGauge(prometheus.GaugeOpts{
			Name: "eldersafe_standby_last_follow_timestamp_seconds",
			Help: "When a standby last read what the leader wrote (Unix time); 0 until its state is loaded.",
		})
	}
	if d.journal != nil {
		d.engine.SetJournal(d.journal)
	}
	d.fromSnapshot = f.NewGauge(prometheus.GaugeOpts{
		Name: "eldersafe_rules_loaded_from_snapshot",
		Help: "1 when the rules' state and the devices were loaded at start from the snapshot of the last clean stop, 0 when from the store.",
	})
	d.devicesFromSnapshot = f.NewGauge(prometheus.GaugeOpts{
		Name: "eldersafe_devices_loaded_from_snapshot",
		Help: "1 when the registered devices were loaded at start from the snapshot of the last clean stop, with the rules' state or (after a crash) without it, 0 when from the store.",
	})
	if d.journal != nil {
		d.journalTook = f.NewGauge(prometheus.GaugeOpts{
			Name: "eldersafe_journal_checkpoint_seconds",
			Help: "How long the last checkpoint of the journal that wrote a household took: every household changed written, the journal behind them removed (checkpoint.journal). Near checkpoint.journal_interval, the writer cannot keep up.",
		})
	}
	d.fired = f.NewCounterVec(prometheus.CounterOpts{
		Name: "eldersafe_rule_fired_total",
		Help: "Times a rule fired, by rule.",
	}, []string{"rule"})
	d.jumps = f.NewCounter(prometheus.CounterOpts{
		Name: "eldersafe_event_clock_jumps_refused_total",
		Help: "Device readings stamped more than clock_max_jump after the event clock's now, applied at now instead of moving it.",
	})
	f.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "eldersafe_devices_online",
		Help: "Devices heard from within their offline threshold (as of the rules' last clock step).",
	}, func() float64 { return float64(d.engine.OnlineDevices()) })
	f.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "eldersafe_ingest_retrying",
		Help: "Device messages and clock ticks held unacknowledged while the store refuses to write what they changed; it retries them in place.",
	}, func() float64 {
		n := d.retrying.Load()
		if d.commits.failing.Load() {
			n += d.commits.waiting.Load()
		}
		return float64(n)
	})
	return d, nil
}

type noHistory struct{}

func (noHistory) Reading(rules.Reading)                {}
func (noHistory) Forget(context.Context, string) error { return nil }

// maxAhead is how far ahead of the wall clock a reading may be stamped and
// still be applied at its own time. Under the wall clock, one stamped later
// than that (a device whose clock runs fast) is applied at the wall clock's
// now: its time must not postpone countdowns. Ingest already rejects a ts
// more than 7 days ahead as future_ts.
const maxAhead = 5 * time.Minute

// Handle applies one reading and raises the tasks its alerts call for. Under
// the event clock the reading's time first moves now forward, so what it
// opens is stamped with it, and then the deadlines now has passed fire; a
// reading stamped more than maxJump after now is applied at now instead
// (withinJump). Under the wall clock a reading stamped more than maxAhead in
// the future is applied at now.
//
// A task the store refuses is tried again in place, with backoff, until it is
// stored or ctx ends; an error means it was not, and the reading's message
// must not be acknowledged. On success Handle returns a channel that closes
// once what the reading changed in the rules' state is written too (with a
// journal, once the reading is written to it): only then may its message be
// acknowledged.
func (d *Dispatcher) Handle(ctx context.Context, r rules.Reading) (<-chan struct{}, error) {
	// Held until the reading is recorded: a household deleted meanwhile is
	// forgotten after it, and one deleted before is not touched.
	d.forget.mu.RLock()
	defer d.forget.mu.RUnlock()
	if d.forget.deleted(r.HouseholdID) {
		return closed, nil
	}
	var alerts []rules.Alert
	moved := false
	if d.event == nil {
		alerts = d.engine.Process(clampFuture(r, d.clock.Now()))
	} else {
		applied := d.withinJump(r)
		moved = d.event.Advance(applied.TS)
		alerts = d.engine.Process(applied)
		// Always, not only when the clock moved: a reading older than now can
		// arm a deadline that is already due.
		alerts = append(alerts, d.engine.Advance(d.firingNow())...)
	}
	err := d.raise(ctx, alerts)
	if err == nil && r.Event == rules.EventOK {
		err = d.answer(ctx, r)
	}
	if moved {
		d.escalate(ctx)
	}
	if err != nil {
		return nil, err
	}
	d.history.Reading(r)
	if len(alerts) == 0 {
		return d.ask(false, nil, false), nil
	}
	ids := alerted(r.HouseholdID, alerts)
	if !alarming(alerts) {
		// The commit goes first when the reading raised anything.
		return d.ask(true, ids, false), nil
	}
	// A fall's PUBACK waits for its own state, written now, not for the
	// next group commit. Should that write fail, the group commit, which
	// retries in place, writes it.
	if err := d.saveAlarm(ctx, ids); err != nil {
		d.log.Warn("an alarm's rule state not saved on its own; its message waits for the next commit", "household_id", r.HouseholdID, "err", err)
		return d.ask(true, ids, false), nil
	}
	return closed, nil
}

// alarming says whether alerts hold an alarm (a fall, an SOS, a tap left
// running: CONTRACT.md §12), dispatched at once. Welfare and maintenance
// alerts wait for verification or upkeep anyway; a reading that only
// fired those joins the group commit: under load many readings fire some
// household's deadline as they move the clock, and each would otherwise
// make a transaction of its own.
func alarming(alerts []rules.Alert) bool {
	for _, a := range alerts {
		if rule, ok := rules.Lookup(a.Rule); ok && rule.Class == rules.ClassAlarm && !a.Cleared {
			return true
		}
	}
	return false
}

// answer records a wristband's ok to the check it names. A check that is
// no longer open (answered, dispatched, another household's) is logged and
// dropped: the device must not resend it. Only a store failure is an error.
func (d *Dispatcher) answer(ctx context.Context, r rules.Reading) error {
	_, err := d.tasks.AnswerCheck(ctx, r.CheckID, tasks.AnswerRequest{
		By: r.DeviceID, Role: tasks.ByResident, Answer: tasks.AnswerOK, HouseholdID: r.HouseholdID})
	var (
		te *tasks.TransitionError
		ie *tasks.InvalidError
	)
	switch {
	case err == nil:
		d.log.Info("resident answered a check", "task_id", r.CheckID, "device_id", r.DeviceID)
	case errors.Is(err, registry.ErrNotFound), errors.As(err, &te), errors.As(err, &ie):
		d.log.Warn("wristband answered a check that is not open", "check_id", r.CheckID, "device_id", r.DeviceID, "err", err)
	default:
		return err
	}
	return nil
}

// closed is a durable channel for what changed nothing.
var closed = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// clampFuture applies a reading stamped more than maxAhead after now at now.
func clampFuture(r rules.Reading, now time.Time) rules.Reading {
	if r.TS.After(now.Add(maxAhead)) {
		r.TS = now
	}
	return r
}

// withinJump applies a reading stamped more than maxJump after the event
// clock's now at now. One device must not move every household's time: a
// wristband whose clock runs fast, or a forged message, would otherwise
// drag now days ahead (up to clock.MaxFuture a message) and escalate other
// households' tasks. The reading itself is not lost (a fall still opens its
// task, stamped now). The first reading starts the clock wherever it says;
// the simulator's ticks move it as far as they like (Tick).
func (d *Dispatcher) withinJump(r rules.Reading) rules.Reading {
	now := d.event.Now()
	if now.IsZero() || !r.TS.After(now.Add(d.maxJump)) {
		return r
	}
	d.jumps.Inc()
	if n, ok := d.jumpLog.allow(time.Minute); ok {
		d.log.Warn("device message stamped too far ahead of the event clock; applied at now, the clock does not jump",
			"device_id", r.DeviceID, "household_id", r.HouseholdID, "ts", r.TS, "now", now, "max_jump", d.maxJump,
			"suppressed_since_last", n)
	}
	r.TS = now
	return r
}

// rateLimited lets something happen at most once per interval, counting
// what it held back meanwhile.
type rateLimited struct {
	mu   sync.Mutex
	last time.Time
	held int
}

// allow reports whether it may happen now, and how many times it was held
// back since it last did.
func (l *rateLimited) allow(every time.Duration) (held int, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now := time.Now(); now.Sub(l.last) >= every {
		held, l.held, l.last = l.held, 0, now
		return held, true
	}
	l.held++
	return 0, false
}

// Errors of Tick.
var (
	// ErrWallClock: the monitor runs on the wall clock, which ticks do not move.
	ErrWallClock = errors.New("the monitor runs on the wall clock; start it with --clock event to drive time")
	// ErrTooFarAhead: a tick more than MaxFuture after now would drag the
	// clock into the future.
	ErrTooFarAhead = errors.New("more than 7 days ahead of now")
)

// Advance moves the event clock to ts (never backwards) and fires the
// deadlines it passes. Like Handle, it returns once their tasks are stored,
// with a channel that closes once the clock and the rules' state are too: a
// simulator's tick is acknowledged then.
func (d *Dispatcher) Advance(ctx context.Context, ts time.Time) (<-chan struct{}, error) {
	if d.event == nil {
		return nil, ErrWallClock
	}
	if now := d.FutureBound(); ts.After(now.Add(clock.MaxFuture)) {
		return nil, fmt.Errorf("ts %s is %w (%s)", ts.Format(time.RFC3339), ErrTooFarAhead, now.Format(time.RFC3339))
	}
	moved := d.event.Advance(ts)
	alerts := d.engine.Advance(d.firingNow())
	err := d.raise(ctx, alerts)
	if moved {
		d.escalate(ctx)
	}
	if err != nil {
		return nil, err
	}
	return d.ask(false, alerted("", alerts), true), nil
}

// Tick is Advance that returns once everything is stored, answering now.
// Advance's errors come as they are: they already name the tick.
func (d *Dispatcher) Tick(ctx context.Context, ts time.Time) (time.Time, error) {
	durable, err := d.Advance(ctx, ts)
	if err != nil {
		return time.Time{}, err
	}
	if err := d.commits.wait(ctx, durable); err != nil {
		return time.Time{}, fmt.Errorf("tick %s: %w", ts.Format(time.RFC3339), err)
	}
	return d.event.Now(), nil
}

// EventClock reports whether the monitor runs on the event clock.
func (d *Dispatcher) EventClock() bool { return d.event != nil }

// Now is the monitor's present: zero under the event clock until its first event.
func (d *Dispatcher) Now() time.Time { return d.clock.Now() }

// FutureBound is the now a message's ts is checked against: the event clock
// once it runs, else the wall clock, so a first message far in the future
// cannot start the event clock there.
func (d *Dispatcher) FutureBound() time.Time {
	if d.event != nil && d.event.Started() {
		return d.event.Now()
	}
	return time.Now()
}

// firingNow is how far rule deadlines may fire: now, held back to ingest's
// low watermark while a worker still applies older messages, so a heartbeat
// waiting in a queue does not make its device offline, nor motion waiting
// there make a home look still. Under the event clock a second of backlog
// is an hour of event time; under the wall clock it matters when a backlog
// drains, as after the monitor was down with an external broker keeping
// its messages.
func (d *Dispatcher) firingNow() time.Time {
	now := d.clock.Now()
	if wm, bounded := d.watermark(); bounded && wm.Before(now) {
		return wm
	}
	return now
}

// Backoff of the retries in place: the first after retryFirst, doubling up
// to retryCap, so a store that comes back is used within seconds.
const (
	retryFirst = 50 * time.Millisecond
	retryCap   = 2 * time.Second
)

// raise turns alerts into tasks. A task the store refuses (a busy or full
// disk) is tried again in place until it is stored or ctx ends; then the
// alerts not raised are given back to the engine to fire again a minute
// later, instead of it believing somebody was told.
func (d *Dispatcher) raise(ctx context.Context, alerts []rules.Alert) error {
	if len(alerts) == 0 {
		return nil // most readings: no context made for them
	}
	// A family waits for these tasks: the store writes them first.
	ctx = tasks.Urgent(ctx)
	retrying := false
	defer func() {
		if retrying {
			d.retrying.Add(-1)
		}
	}()
	for i, a := range alerts {
		if !a.Cleared {
			d.fired.WithLabelValues(a.Rule).Inc()
		}
		delay := retryFirst
		for {
			t, opened, err := d.tasks.Raise(ctx, a)
			if err == nil {
				d.storeOK()
				d.commits.storeWrites()
				if opened {
					d.log.Info("task opened", "task_id", t.ID, "household_id", t.HouseholdID, "rule", t.Rule, "severity", t.Severity, "assignee_id", t.AssigneeID)
				}
				break
			}
			if errors.Is(err, registry.ErrNotFound) {
				// The household is gone: nobody is left to visit.
				d.log.Warn("alert for a household no longer registered", "rule", a.Rule, "household_id", a.HouseholdID, "err", err)
				break
			}
			d.storeFailed(err)
			if !retrying {
				retrying = true
				d.retrying.Add(1)
			}
			d.log.Warn("storing a task failed; retrying in place, the message stays unacknowledged", "rule", a.Rule, "household_id", a.HouseholdID, "err", err, "retry_in", delay)
			select {
			case <-ctx.Done():
				for _, left := range alerts[i:] {
					d.engine.Retract(left, d.clock.Now().Add(time.Minute))
				}
				return fmt.Errorf("raise %s for household %s: %w", a.Rule, a.HouseholdID, err)
			case <-time.After(delay):
			}
			delay = min(2*delay, retryCap)
		}
	}
	return nil
}

// escalate escalates the tasks whose deadlines the clock has passed. A
// failure is logged, not returned: the reading or tick that moved the clock
// is handled all the same, and the next tick tries again.
func (d *Dispatcher) escalate(ctx context.Context) {
	if _, err := d.tasks.Escalate(ctx); err != nil {
		d.log.Error("escalate overdue tasks", "err", err)
	}
}
