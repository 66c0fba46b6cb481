// Package app wires the monitor together: store, broker, ingest, the
// decision step, tasks, notifications and the HTTP API, and runs them. It is
// started by `eldersafe serve` and `eldersafe demo` (Run) and, in process, by
// the end-to-end tests (Start and Close).
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/eldersafe/eldersafe/api"
	"github.com/eldersafe/eldersafe/audit"
	"github.com/eldersafe/eldersafe/broker"
	"github.com/eldersafe/eldersafe/clock"
	"github.com/eldersafe/eldersafe/console"
	"github.com/eldersafe/eldersafe/dispatch"
	"github.com/eldersafe/eldersafe/ha"
	"github.com/eldersafe/eldersafe/ingest"
	ingestmqtt "github.com/eldersafe/eldersafe/ingest/mqtt"
	"github.com/eldersafe/eldersafe/journal"
	"github.com/eldersafe/eldersafe/keyring"
	"github.com/eldersafe/eldersafe/memlimit"
	"github.com/eldersafe/eldersafe/notify"
	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
	"github.com/eldersafe/eldersafe/store"
	"github.com/eldersafe/eldersafe/tasks"
)

// Monitor is a running eldersafe monitor.
type Monitor struct {
	cfg   Config
	log   *slog.Logger
	reg   *prometheus.Registry
	parts *parts
	// unlock releases the data directory, once the store is closed.
	unlock func() error

	db       *store.DB
	keys     keyring.Keys
	token    string
	clock    clock.Clock
	decide   *dispatch.Dispatcher
	journal  *journal.Journal // nil without checkpoint.journal
	tasks    *tasks.Service
	outbox   *notify.Dispatcher
	feed     *tasks.Feed
	hist     historyParts
	broker   *broker.Broker // nil with an external broker
	pipeline *ingest.Pipeline
	engine   *rules.Engine
	intake   *ingest.Intake
	subs     []*ingestmqtt.Subscriber // with an external broker
	httpLn   net.Listener
	// elector holds the leader lease with ha.enabled (ha.go); nil without.
	elector *ha.Elector
	// working is set once the monitor takes device messages: at start, or
	// with ha.enabled when it takes over. Until then ingest and the broker
	// sessions do not exist, and the API refuses writes.
	working atomic.Bool

	closeOnce sync.Once
	closeErr  error
	// erasing keeps a household's erasure (from the store, then from the
	// monitor) and writing the snapshot at stop apart: a snapshot taken
	// between the two would hold the household with the store's
	// generations after the erasure, and a start would restore it. (A
	// DELETE may still run when the HTTP server's grace has passed.)
	erasing sync.Mutex
	// live is the configuration Reload last applied; reloadMu serialises reloads.
	reloadMu sync.Mutex
	live     Config
	// watch is WatchTasks' function, for simulations.
	watch atomic.Pointer[func(tasks.Task, string, time.Time)]
}

// Run starts the monitor, calls started (may be nil) once it serves, and
// runs it until ctx is cancelled or a part of it fails; then it stops it in
// order. A generated admin token is written once to announce.
func Run(ctx context.Context, cfg Config, logger *slog.Logger, announce io.Writer, started func(*Monitor)) error {
	m, err := Start(ctx, cfg, logger, announce)
	if err != nil {
		return err
	}
	if started != nil {
		started(m)
	}
	var failed error
	select {
	case <-ctx.Done():
	case failed = <-m.parts.failed:
		logger.Error("a part of the monitor stopped; shutting down", "err", failed)
	}
	logger.Info("shutting down")
	return errors.Join(failed, m.Close())
}

// Start opens the store and starts every part: the history, the outbox, the
// decision step, the broker (unless external), ingest and the HTTP API.
// Stop it with Close.
func Start(ctx context.Context, cfg Config, logger *slog.Logger, announce io.Writer) (*Monitor, error) {
	if err := errors.Join(cfg.Validate(), cfg.checkClock()); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	m := &Monitor{cfg: cfg, live: cfg, log: logger, reg: prometheus.NewRegistry(), parts: newParts()}
	if err := m.start(ctx, announce); err != nil {
		m.Close()
		return nil, err
	}
	return m, nil
}

func (m *Monitor) start(ctx context.Context, announce io.Writer) error {
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	var err error
	if m.unlock, err = lockDataDir(m.cfg.DataDir); err != nil {
		return err
	}
	// First, so that profiles cover loading the store at start too.
	if err := m.startPprof(); err != nil {
		return err
	}
	// The keys come first: the store encrypts sensitive fields with one.
	if m.keys, err = keyring.Load(m.cfg.Security.Key, m.cfg.DataDir); err != nil {
		return err
	}
	if m.keys.Generated {
		m.log.Warn("generated the master key; back it up, or set security.key from a secret store: without it the audit log cannot be verified and encrypted fields cannot be read",
			"file", filepath.Join(m.cfg.DataDir, keyring.FileName))
	}
	if m.db, err = store.Open(ctx, m.cfg.DataDir, m.log, store.WithFieldKey(m.keys.Fields), store.WithURL(m.cfg.Store.URL)); err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	if m.token, err = m.adminToken(ctx, announce); err != nil {
		return err
	}
	m.clock = clock.Wall{}
	if m.cfg.Clock == ClockEvent {
		// Now never goes backwards across a restart.
		saved, err := m.db.EventClock(ctx)
		if err != nil {
			return fmt.Errorf("load event clock: %w", err)
		}
		m.clock = clock.NewEvent(saved)
	}
	if m.cfg.HA.Enabled {
		if err := m.standBy(); err != nil {
			return err
		}
	}
	if err := m.startHistory(ctx); err != nil {
		return err
	}
	m.reg.MustRegister(&storeCollector{db: m.db, log: m.log})
	if err := m.startTasks(ctx); err != nil {
		return err
	}
	if err := m.startDecisions(); err != nil {
		return err
	}
	if m.elector == nil {
		if err := m.work(ctx); err != nil {
			return err
		}
	}
	promauto.With(m.reg).NewGaugeFunc(prometheus.GaugeOpts{
		Name: "eldersafe_mqtt_connected",
		Help: "1 while the monitor takes device messages: the embedded broker runs, or both sessions with the external broker are connected and subscribed; else 0.",
	}, func() float64 {
		if m.connected() {
			return 1
		}
		return 0
	})
	if err := m.startHTTP(); err != nil {
		return err
	}
	m.parts.run("events", m.feed.Run)
	if m.elector != nil {
		m.parts.run("ha", m.lead)
	}
	return nil
}

// loadHeapPerHousehold is how much the heap may grow, for each household,
// while a start loads the rules' state, before it is collected. From a
// snapshot the load makes little garbage (1,140 MiB made for 986 MiB kept
// at 1,000,000 households; 1,926 for 1,713 on the simulator's), and the
// bound is not reached. From the store (a first start, one after a crash)
// it makes much more: 7,841 MiB for 1,017 kept. There 4 KiB a household
// held the resident set's peak at 4.1 GB, where GOGC at 400 let it reach
// 5.7–6.5 GB; 4.4–4.5 GB once the devices' two halves were read at once
// (docs/performance.md, "Thirty-fourth round").
const loadHeapPerHousehold = 4 << 10

// loadHeapMin is the least the heap may grow while a start loads, so that
// a small monitor's load is not collected every few allocations.
const loadHeapMin = 64 << 20

// work starts what takes and handles device messages and writes: the
// readings roll-up, the outbox, the decision step with the rules' state as
// the store has it, ingest and the broker or its sessions.
func (m *Monitor) work(ctx context.Context) error {
	m.parts.run("outbox", m.outbox.Run)
	if err := m.load(ctx); err != nil {
		return err
	}
	return m.takeMessages(ctx)
}

// load sets up ingest's pipeline and loads the rules' state with its
// device cache, as the store has it.
func (m *Monitor) load(ctx context.Context) error {
	if err := m.newPipeline(m.log.With("component", "ingest")); err != nil {
		return err
	}
	households, _, err := m.db.Counts(ctx)
	if err != nil {
		return err
	}
	m.engine.Reserve(households)
	// Loading builds the live heap (a million households' state) and
	// makes little garbage: a collection there marks again what was just
	// loaded. The collector waits until the load is done, within a bound
	// (docs/performance.md, "Twenty-first round").
	resume := memlimit.Pause(max(uint64(households)*loadHeapPerHousehold, loadHeapMin))
	defer resume()
	return m.decide.Load(ctx, m.pipeline)
}

// takeMessages writes what a journal left, then starts the roll-up, the
// decision step, ingest and the broker or its sessions.
func (m *Monitor) takeMessages(ctx context.Context) error {
	if err := m.drainJournal(ctx); err != nil {
		return err
	}
	// The meters' registers load once the monitor takes messages.
	m.runHistory()
	if err := m.startMQTT(m.log.With("component", "ingest")); err != nil {
		return err
	}
	m.working.Store(true)
	return nil
}

// startTasks sets up the task service with its outbox and change feed, and
// runs the outbox.
func (m *Monitor) startTasks(ctx context.Context) error {
	templates, err := notify.NewTemplates()
	if err != nil {
		return fmt.Errorf("load templates: %w", err)
	}
	senders := map[string]notify.Sender{
		registry.ChannelPush: notify.NewPush(m.cfg.Notify.PushTimeout),
		registry.ChannelLog:  notify.Log{Logger: m.log},
	}
	sms, err := m.cfg.Notify.SMS.sender(m.log)
	if err != nil {
		return fmt.Errorf("notify: %w", err)
	}
	if sms != nil {
		senders[registry.ChannelSMS] = sms
	} else {
		m.warnNoSMS(ctx)
	}
	senders[registry.ChannelDevice] = notify.Device{Prefix: m.cfg.MQTT.Prefix, Publish: m.publishCommand}
	m.outbox, err = notify.NewDispatcher(notify.Options{
		Outbox:      m.db,
		Senders:     senders,
		Wall:        clock.Wall{},
		Domain:      m.clock,
		MaxAttempts: m.cfg.Notify.MaxAttempts,
		Logger:      m.log,
		Registerer:  m.reg,
	})
	if err != nil {
		return fmt.Errorf("notify: %w", err)
	}
	if m.feed, err = m.newFeed(); err != nil {
		return err
	}
	zone, err := m.cfg.Location()
	if err != nil {
		return err
	}
	m.tasks, err = tasks.NewService(tasks.Options{
		Store:         m.db,
		Clock:         m.clock,
		Composer:      templates,
		Wall:          clock.Wall{},
		Deadlines:     m.cfg.Deadlines(),
		SMSEnabled:    sms != nil,
		Courier:       m.outbox,
		RateLimit:     m.cfg.Notify.RateLimit,
		AckOverdue:    newAckOverdue(m.reg),
		Changed:       m.changed,
		Location:      zone,
		RoutineVisits: m.cfg.RoutineVisits(),
		VerifyWindow:  m.cfg.VerifyWindow,
		AwayChanged:   m.awayChanged,
		PublicURL:     m.cfg.Notify.PublicURL,
		Logger:        m.log,
	})
	if err != nil {
		return err
	}
	return nil
}

// publishCommand sends a command to a device on the broker the monitor
// takes messages from: the embedded one, or the external one's main session.
func (m *Monitor) publishCommand(ctx context.Context, topic string, payload []byte) error {
	// working is set after the broker or its sessions: it orders their reads.
	if !m.working.Load() {
		return errors.New("not taking device messages yet: no broker to publish on")
	}
	if m.broker != nil {
		return m.broker.Publish(topic, payload)
	}
	if len(m.subs) == 0 {
		return errors.New("no broker to publish on")
	}
	return m.subs[0].Publish(ctx, topic, payload)
}

// awayChanged has the decision step re-read a household's settings after an
// answer recorded it away; the answer stands even when that fails.
func (m *Monitor) awayChanged(householdID string) {
	if err := m.decide.HouseholdChanged(context.Background(), householdID); err != nil {
		m.log.Error("re-read household settings after a with_me answer", "household_id", householdID, "err", err)
	}
}

// startDecisions sets up the rules engine and the decision step; work gives
// them what the last run left.
func (m *Monitor) startDecisions() error {
	zone, err := m.cfg.Location()
	if err != nil {
		return err
	}
	rc, err := m.cfg.RulesEngineConfig()
	if err != nil {
		return err
	}
	if m.engine, err = rules.NewEngine(rc, zone); err != nil {
		return err
	}
	opts := dispatch.Options{
		Engine:             m.engine,
		Tasks:              m.tasks,
		Store:              m.db,
		Clock:              m.clock,
		Watermark:          m.watermark,
		History:            &m.hist,
		Snapshot:           m.snapshotFile(),
		CheckpointInterval: m.cfg.Checkpoint.Interval,
		JournalCheckpoint:  m.cfg.Checkpoint.JournalInterval,
		MaxJump:            m.cfg.ClockMaxJump,
		CareLevels:         m.cfg.CareLevelThresholds(),
		Standby:            m.elector != nil,
		Logger:             m.log,
		Registerer:         m.reg,
	}
	if err := m.openJournal(); err != nil {
		return err
	}
	if m.journal != nil {
		opts.Journal = m.journal
	}
	m.decide, err = dispatch.New(opts)
	return err
}

// JournalPath is where the journal of readings is, in the data directory.
func (c Config) JournalPath() string { return filepath.Join(c.DataDir, "journal") }

// openJournal opens the journal of readings with checkpoint.journal, and
// without it one that a run with it left holding readings the store may
// lack (after a crash, or a stop that left them to the snapshot): the
// start replays them, then drainJournal writes them and removes it.
func (m *Monitor) openJournal() error {
	dir := m.cfg.JournalPath()
	if !m.cfg.Checkpoint.Journal {
		left, err := journal.Pending(dir)
		if err != nil || !left {
			return err
		}
		m.log.Info("the journal a run with checkpoint.journal left is read once, then removed", "dir", dir)
	}
	j, err := journal.Open(dir, m.keys.Journal, 0)
	if err != nil {
		return err
	}
	m.journal = j
	return nil
}

// drainJournal, without checkpoint.journal, writes the households of the
// journal openJournal found and Load replayed, then removes it.
func (m *Monitor) drainJournal(ctx context.Context) error {
	if m.journal == nil || m.cfg.Checkpoint.Journal {
		return nil
	}
	if err := m.decide.DrainJournal(ctx); err != nil {
		return err
	}
	if err := m.journal.Close(); err != nil {
		return err
	}
	m.journal = nil
	if err := journal.Remove(m.cfg.JournalPath()); err != nil {
		return fmt.Errorf("remove the journal: %w", err)
	}
	m.log.Info("journal written to the store and removed")
	return nil
}

// watermark is ingest's low watermark.
func (m *Monitor) watermark() (time.Time, bool) { return m.intake.Watermark() }

func (m *Monitor) adminToken(ctx context.Context, announce io.Writer) (string, error) {
	if m.cfg.Auth.AdminToken != "" {
		return m.cfg.Auth.AdminToken, nil
	}
	token, ok, err := m.db.AdminToken(ctx)
	if err != nil {
		return "", fmt.Errorf("load admin token: %w", err)
	}
	if ok {
		return token, nil
	}
	if token, err = registry.NewSecret(); err != nil {
		return "", fmt.Errorf("generate admin token: %w", err)
	}
	if err := m.db.SaveAdminToken(ctx, token); err != nil {
		return "", fmt.Errorf("save admin token: %w", err)
	}
	if announce != nil {
		fmt.Fprintf(announce, "\nGenerated the admin token (shown once; set auth.admin_token to choose your own):\n\n    %s\n\n", token)
	}
	return token, nil
}

// newPipeline sets up ingest's pipeline, whose device cache the decision
// step fills as it loads.
func (m *Monitor) newPipeline(logger *slog.Logger) error {
	var err error
	m.pipeline, err = ingest.NewPipeline(ingest.PipelineOptions{
		Prefix:     m.cfg.MQTT.Prefix,
		Devices:    m.db,
		Handle:     m.decide.Handle,
		Bound:      clock.Func(m.decide.FutureBound),
		Sources:    m.cfg.Sources.Ingest(),
		Zone:       m.decide.Location,
		Logger:     logger,
		Registerer: m.reg,
	})
	return err
}

// startMQTT starts the decision step and ingest: on the embedded broker,
// which hands every device message to it in process; or on two sessions with
// an external broker, one for the event stream (the alarm lane) and one for
// the rest.
func (m *Monitor) startMQTT(logger *slog.Logger) error {
	var err error
	opts := ingest.IntakeOptions{
		Prefix:       m.cfg.MQTT.Prefix,
		Pipeline:     m.pipeline,
		Workers:      m.cfg.Ingest.Workers,
		EventWorkers: m.cfg.Ingest.EventWorkers,
		QueueSize:    m.cfg.Ingest.QueueSize,
		OneOrder:     m.cfg.MQTT.URL != "",
		Logger:       logger,
	}
	if m.decide.EventClock() {
		opts.Tick, opts.CaughtUp = m.decide.Advance, m.decide.CaughtUp
	}
	if m.intake, err = ingest.NewIntake(opts); err != nil {
		return err
	}
	// Started once ingest exists, whose watermark it reads, and stopped
	// after it, so that its last write covers every reading.
	m.parts.run("rules", m.decide.Run)
	if m.cfg.MQTT.URL == "" {
		if err := m.startBroker(); err != nil {
			return err
		}
		m.parts.run("ingest", m.intake.Run)
		return nil
	}
	m.parts.run("ingest", m.intake.Run)
	t := m.cfg.MQTT.TLS
	tlsCfg, err := ingestmqtt.TLS{CAFile: t.CAFile, CertFile: t.CertFile, KeyFile: t.KeyFile,
		ServerName: t.ServerName, InsecureSkipVerify: t.InsecureSkipVerify}.Config()
	if err != nil {
		return err
	}
	if t.InsecureSkipVerify {
		m.log.Warn("mqtt.tls.insecure_skip_verify: the broker's certificate is not checked; anyone on the way can read and forge device messages", "url", m.cfg.MQTT.URL)
	}
	// The alarm lane has a session of its own, so no telemetry backlog on the
	// broker holds a fall back. Under the event clock, where messages move
	// time, one session keeps each device's events and telemetry in order:
	// a heartbeat overtaking the motion before it would fire no_motion.
	sessions := map[string]ingestmqtt.Take{m.cfg.MQTT.ClientID: ingestmqtt.Rest, m.cfg.MQTT.ClientID + "-events": ingestmqtt.Events}
	if m.decide.EventClock() {
		sessions = map[string]ingestmqtt.Take{m.cfg.MQTT.ClientID: ingestmqtt.All}
	}
	for id, take := range sessions {
		sub, err := ingestmqtt.New(ingestmqtt.Options{
			URL:      m.cfg.MQTT.URL,
			ClientID: id,
			Username: m.cfg.MQTT.Username,
			Password: m.cfg.MQTT.Password,
			TLS:      tlsCfg,
			Intake:   m.intake,
			Take:     take,
			Logger:   logger,
		})
		if err != nil {
			return err
		}
		m.subs = append(m.subs, sub)
		m.parts.run("mqtt "+id, sub.Run)
	}
	return nil
}

// startBroker starts the embedded broker, with ingest taking device messages
// in process.
func (m *Monitor) startBroker() error {
	var err error
	m.broker, err = broker.New(broker.Options{
		Addr:        m.cfg.MQTT.Broker.Addr,
		Auth:        m.cfg.MQTT.Broker.Auth,
		Prefix:      m.cfg.MQTT.Prefix,
		Devices:     deviceAuth{db: m.db},
		Sources:     sourcePublishers{m.pipeline},
		Intake:      m.intake,
		SimPassword: m.token,
		TLSAddr:     m.cfg.MQTT.Broker.TLSAddr,
		CertFile:    m.cfg.MQTT.Broker.CertFile,
		KeyFile:     m.cfg.MQTT.Broker.KeyFile,
		Logger:      m.log.With("component", "broker"),
		Registerer:  m.reg,

		ClientCAFile: m.cfg.MQTT.Broker.ClientCAFile,
	})
	if err != nil {
		return fmt.Errorf("embedded broker: %w", err)
	}
	if err := m.broker.Start(); err != nil {
		return fmt.Errorf("embedded broker: %w", err)
	}
	m.parts.run("broker", func(ctx context.Context) error {
		<-ctx.Done()
		return m.broker.Close()
	})
	m.log.Info("embedded MQTT broker listening", "addr", m.broker.Addr(), "auth", m.cfg.MQTT.Broker.Auth)
	return nil
}

// connected reports whether ingest takes device messages: the embedded
// broker does from its start; with an external broker both sessions must be
// connected and subscribed.
func (m *Monitor) connected() bool {
	if !m.working.Load() {
		return false
	}
	for _, sub := range m.subs {
		if !sub.Connected() {
			return false
		}
	}
	return m.broker != nil || len(m.subs) > 0
}

// deviceAuth checks device credentials for the embedded broker.
type deviceAuth struct{ db *store.DB }

func (a deviceAuth) AuthenticateDevice(id, secret string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	d, err := a.db.Device(ctx, id)
	return err == nil && registry.CheckSecret(d.SecretHash, secret)
}

// DeviceRegistered is for a device that showed a certificate of the client
// CA: a deleted device's certificate must not let it in.
func (a deviceAuth) DeviceRegistered(id string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := a.db.Device(ctx, id)
	return err == nil
}

// sourcePublishers lets the embedded broker ask ingest, which maps source
// topics to devices, who may publish to one.
type sourcePublishers struct{ p *ingest.Pipeline }

func (s sourcePublishers) MayPublish(id, topic string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return s.p.MayPublish(ctx, id, topic)
}

// erase erases a household from the store, then drops it from the running
// monitor: the decision step and the history forget it, ingest's caches
// and the embedded broker its devices. Under erasing: a snapshot at stop
// is written before both or after both.
func (m *Monitor) erase(ctx context.Context, id string, at time.Time, actor string) (registry.Erasure, error) {
	m.erasing.Lock()
	defer m.erasing.Unlock()
	er, err := m.db.DeleteHousehold(ctx, id, at, actor)
	if err != nil {
		return er, err
	}
	// Not the request's context: once erased, the household is forgotten
	// even if the client goes away.
	forgetting, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m.decide.Forget(forgetting, id)
	m.pipeline.ForgetDevices(er.DeviceIDs...)
	if m.broker != nil {
		m.broker.DisconnectDevices(er.DeviceIDs...)
	}
	return er, nil
}

// httpShutdownGrace is how long requests in flight may take to finish when
// the monitor stops.
const httpShutdownGrace = 5 * time.Second

func (m *Monitor) startHTTP() error {
	var eventClock api.EventClock
	if m.decide.EventClock() {
		eventClock = m.decide
	}
	zone, err := m.cfg.Location()
	if err != nil {
		return err
	}
	a, err := api.New(api.Options{
		Timezone:      zone.String(),
		Registry:      m.db,
		RuleSettings:  m.db,
		Notifications: m.db,
		Users:         m.db,
		AuditLog:      m.db,
		Grants:        m.db,
		Privacy:       m.db,
		Households:    m.db,
		HouseholdList: m.db,
		Directory:     m.db,
		Feedback:      m.db,
		Tasks:         m.tasks,
		Rules:         registering{m.decide, m},
		Clock:         m.clock,
		Status:        m.decide.Status,
		EventClock:    eventClock,
		AdminToken:    m.token,
		Audit: func(ctx context.Context, entries ...audit.Entry) error {
			_, err := m.db.AppendAudit(ctx, m.keys.Audit, entries...)
			return err
		},
		Erase:      m.erase,
		Events:     m.feed,
		Console:    console.Handler(),
		Charts:     m.hist.charts,
		Metrics:    promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg}),
		Ready:      m.ready,
		Standby:    func() bool { return !m.working.Load() },
		Logger:     m.log.With("component", "api"),
		Registerer: m.reg,
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", m.cfg.HTTP.Addr)
	if err != nil {
		return fmt.Errorf("http listen: %w", err)
	}
	m.httpLn = ln
	srv := &http.Server{
		Handler:           a.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(m.log.Handler(), slog.LevelWarn),
	}
	m.parts.run("http", func(ctx context.Context) error {
		served := make(chan error, 1)
		go func() { served <- srv.Serve(ln) }()
		select {
		case err := <-served:
			return err
		case <-ctx.Done():
		}
		// Requests in flight get httpShutdownGrace to finish; what is still
		// open then is cut, so that a stuck client cannot keep the monitor
		// from stopping and writing its snapshot.
		shutdown, cancel := context.WithTimeout(context.Background(), httpShutdownGrace)
		defer cancel()
		err := srv.Shutdown(shutdown)
		if errors.Is(err, context.DeadlineExceeded) {
			// Also a browser's speculative connection that never sent a
			// request: net/http counts it as busy for its first 5 s.
			m.log.Warn("HTTP connections still open at shutdown were cut", "grace", httpShutdownGrace)
			err = srv.Close()
		}
		<-served
		return err
	})
	m.log.Info("HTTP API listening", "addr", ln.Addr().String())
	return nil
}

func (m *Monitor) ready(ctx context.Context) error {
	if !m.working.Load() {
		return &api.Unready{Status: api.StatusStandby, Reason: "another monitor holds the leader lease"}
	}
	if reason := m.decide.Degraded(); reason != "" {
		return &api.Unready{Status: api.StatusDegraded, Reason: reason}
	}
	if !m.connected() {
		return errors.New("MQTT broker not connected")
	}
	if _, _, err := m.db.AdminToken(ctx); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return nil
}

// HTTPAddr is the address the HTTP API listens on.
func (m *Monitor) HTTPAddr() string { return m.httpLn.Addr().String() }

// BrokerAddr is the embedded broker's address, empty with an external broker.
func (m *Monitor) BrokerAddr() string {
	if m.broker == nil {
		return ""
	}
	return m.broker.Addr()
}

// AdminToken is the bootstrap admin token in force.
func (m *Monitor) AdminToken() string { return m.token }

// Close stops the monitor: its parts in the reverse order of their start
// (the event streams, the HTTP API, ingest, the broker, the decision step
// with its last checkpoint, the outbox, the history), then closes the store.
func (m *Monitor) Close() error {
	m.closeOnce.Do(func() {
		errs := []error{m.parts.stop()}
		if errs[0] == nil {
			m.saveSnapshot()
		}
		if m.journal != nil {
			errs = append(errs, m.journal.Close())
		}
		m.closeHistory()
		if m.db != nil {
			errs = append(errs, m.db.Close())
		}
		if m.unlock != nil {
			errs = append(errs, m.unlock())
		}
		m.closeErr = errors.Join(errs...)
	})
	return m.closeErr
}
