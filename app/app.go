// Package app wires the monitor together: store, broker, ingest, rules, tasks,
// notifications and the HTTP API. It is started by `eldersafe serve` and, in
// process, by the end-to-end tests.
package app

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"runtime/debug"
	"sync"
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
	"github.com/eldersafe/eldersafe/ingest"
	"github.com/eldersafe/eldersafe/keyring"
	"github.com/eldersafe/eldersafe/notify"
	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
	"github.com/eldersafe/eldersafe/store"
	"github.com/eldersafe/eldersafe/tasks"
)

// Settings kept in the store.
const (
	settingAdminToken = "admin_token"
	settingEventClock = "event_clock"
)

// Monitor is a running eldersafe monitor.
type Monitor struct {
	cfg    Config
	log    *slog.Logger
	db     *store.DB
	reg    *prometheus.Registry
	clock  clock.Clock
	event  *clock.Event // nil under the wall clock
	engine *rules.Engine
	tasks  *tasks.Service
	outbox *notify.Dispatcher
	broker *broker.Broker // nil with an external broker
	sub    *ingest.Subscriber
	http   *http.Server
	httpLn net.Listener
	token  string
	keys   keyring.Keys
	fired  *prometheus.CounterVec

	// pipeline is ingest's; forgetHousehold (forget.go) drops deleted
	// devices from it.
	pipeline *ingest.Pipeline
	// known are the devices registered at start, from loading the rules
	// until ingest's lookup cache has them.
	known  []registry.Device
	forget forgetting

	stopIngest, stopTimers, stopOutbox context.CancelFunc
	ingestDone, timersDone, outboxDone chan struct{}
	closeOnce                          sync.Once
	closeErr                           error

	// Rule state checkpoints (app/rules.go).
	stopCheckpoint context.CancelFunc
	checkpointDone chan struct{}
	// The readings history (app/history.go).
	hist historyParts
	// The task change feed behind the console's live updates (app/console.go).
	feed     *tasks.Feed
	stopFeed context.CancelFunc
	feedDone chan struct{}
	// live is the configuration Reload last applied; reloadMu serialises reloads.
	reloadMu sync.Mutex
	live     Config
}

// Start opens the store, starts the broker (unless external), ingest, the
// rules' timers, the outbox and the HTTP server. Stop it with Close.
// A generated admin token is written once to announce.
func Start(ctx context.Context, cfg Config, logger *slog.Logger, announce io.Writer) (*Monitor, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	m := &Monitor{cfg: cfg, log: logger, reg: prometheus.NewRegistry()}
	if err := m.start(ctx, announce); err != nil {
		m.Close()
		return nil, err
	}
	return m, nil
}

// Run starts the monitor and runs it until ctx is cancelled.
func Run(ctx context.Context, cfg Config, logger *slog.Logger, announce io.Writer) error {
	m, err := Start(ctx, cfg, logger, announce)
	if err != nil {
		return err
	}
	<-ctx.Done()
	logger.Info("shutting down")
	return m.Close()
}

func (m *Monitor) start(ctx context.Context, announce io.Writer) error {
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	var err error
	// The keys come first: the store encrypts sensitive fields with one.
	if m.keys, err = keyring.Load(m.cfg.Security.Key, m.cfg.DataDir); err != nil {
		return err
	}
	if m.keys.Generated {
		m.log.Warn("generated the master key; back it up, or set security.key from a secret store: without it the audit log cannot be verified and encrypted fields cannot be read",
			"file", filepath.Join(m.cfg.DataDir, keyring.FileName))
	}
	if m.db, err = store.Open(ctx, m.cfg.DataDir, m.log, store.WithFieldKey(m.keys.Fields)); err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	if m.token, err = m.adminToken(ctx, announce); err != nil {
		return err
	}
	if err := m.startClock(ctx); err != nil {
		return err
	}
	if err := m.startRules(ctx); err != nil {
		return err
	}
	if err := m.startHistory(ctx); err != nil {
		return err
	}
	m.fired = promauto.With(m.reg).NewCounterVec(prometheus.CounterOpts{
		Name: "eldersafe_rule_fired_total",
		Help: "Times a rule fired, by rule.",
	}, []string{"rule"})
	m.reg.MustRegister(&storeCollector{db: m.db, log: m.log})
	promauto.With(m.reg).NewGaugeFunc(prometheus.GaugeOpts{
		Name: "eldersafe_devices_online",
		Help: "Devices heard from within their offline threshold.",
	}, func() float64 { return float64(m.engine.OnlineDevices(m.clock.Now())) })

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
	}
	m.outbox, err = notify.NewDispatcher(notify.Options{
		Outbox:      m.db,
		Senders:     senders,
		WallNow:     time.Now,
		DomainNow:   m.clock.Now,
		MaxAttempts: m.cfg.Notify.MaxAttempts,
		Logger:      m.log,
		Registerer:  m.reg,
	})
	if err != nil {
		return fmt.Errorf("notify: %w", err)
	}
	if err := m.startFeed(); err != nil {
		return err
	}
	m.tasks, err = tasks.NewService(tasks.Options{
		Store:      m.db,
		Clock:      m.clock,
		Composer:   templates,
		WallNow:    time.Now,
		Deadlines:  m.cfg.Deadlines(),
		SMSEnabled: sms != nil,
		Notified:   m.outbox.Wake,
		RateLimit:  m.cfg.Notify.RateLimit,
		AckOverdue: newAckOverdue(m.reg),
		Changed:    m.changed,
		Logger:     m.log,
	})
	if err != nil {
		return err
	}
	m.outboxDone = m.goRun(&m.stopOutbox, m.outbox.Run)

	if err := m.startMQTT(); err != nil {
		return err
	}
	m.timersDone = m.goRun(&m.stopTimers, func(ctx context.Context) error { m.runTimers(ctx); return nil })
	return m.startHTTP()
}

// goRun runs fn in a goroutine owned by the monitor until its cancel is called.
func (m *Monitor) goRun(cancel *context.CancelFunc, fn func(context.Context) error) chan struct{} {
	ctx, c := context.WithCancel(context.Background())
	*cancel = c
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := fn(ctx); err != nil {
			m.log.Error("component stopped", "err", err)
		}
	}()
	return done
}

func (m *Monitor) adminToken(ctx context.Context, announce io.Writer) (string, error) {
	if m.cfg.Auth.AdminToken != "" {
		return m.cfg.Auth.AdminToken, nil
	}
	token, ok, err := m.db.Setting(ctx, settingAdminToken)
	if err != nil {
		return "", fmt.Errorf("load admin token: %w", err)
	}
	if ok {
		return token, nil
	}
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate admin token: %w", err)
	}
	token = base64.RawURLEncoding.EncodeToString(b)
	if err := m.db.SetSetting(ctx, settingAdminToken, token); err != nil {
		return "", fmt.Errorf("save admin token: %w", err)
	}
	if announce != nil {
		fmt.Fprintf(announce, "\nGenerated the admin token (shown once; set auth.admin_token to choose your own):\n\n    %s\n\n", token)
	}
	return token, nil
}

func (m *Monitor) startClock(ctx context.Context) error {
	if m.cfg.Clock == ClockWall {
		m.clock = clock.Wall{}
		return nil
	}
	var start time.Time
	v, ok, err := m.db.Setting(ctx, settingEventClock)
	if err != nil {
		return fmt.Errorf("load event clock: %w", err)
	}
	if ok {
		if start, err = time.Parse(time.RFC3339Nano, v); err != nil {
			return fmt.Errorf("load event clock %q: %w", v, err)
		}
	}
	m.event = clock.NewEvent(start)
	m.clock = m.event
	return nil
}

// futureBound is the now a message's ts is checked against: the event clock
// once it runs, else the wall clock, so a first message far in the future
// cannot start the event clock there.
func (m *Monitor) futureBound() time.Time {
	if m.event != nil && m.event.Started() {
		return m.event.Now()
	}
	return time.Now()
}

func (m *Monitor) startMQTT() error {
	url, user, pass := m.cfg.MQTT.URL, m.cfg.MQTT.Username, m.cfg.MQTT.Password
	if url == "" {
		b := make([]byte, 24)
		if _, err := rand.Read(b); err != nil {
			return fmt.Errorf("generate broker credential: %w", err)
		}
		user, pass = "eldersafe-monitor", base64.RawURLEncoding.EncodeToString(b)
		var err error
		m.broker, err = broker.New(broker.Options{
			Addr:            m.cfg.MQTT.Broker.Addr,
			Auth:            m.cfg.MQTT.Broker.Auth,
			Prefix:          m.cfg.MQTT.Prefix,
			Devices:         deviceAuth{db: m.db},
			MonitorUsername: user,
			MonitorPassword: pass,
			SimPassword:     m.token,
			TLSAddr:         m.cfg.MQTT.Broker.TLSAddr,
			CertFile:        m.cfg.MQTT.Broker.CertFile,
			KeyFile:         m.cfg.MQTT.Broker.KeyFile,
			MonitorClientID: m.cfg.MQTT.ClientID,
			Logger:          m.log.With("component", "broker"),
			Registerer:      m.reg,
		})
		if err != nil {
			return fmt.Errorf("embedded broker: %w", err)
		}
		if err := m.broker.Start(); err != nil {
			return fmt.Errorf("embedded broker: %w", err)
		}
		url = "tcp://" + m.broker.Addr()
		m.log.Info("embedded MQTT broker listening", "addr", m.broker.Addr(), "auth", m.cfg.MQTT.Broker.Auth)
	}
	pipeline, err := ingest.NewPipeline(ingest.PipelineOptions{
		Prefix:     m.cfg.MQTT.Prefix,
		Devices:    m.db,
		Handle:     m.accept,
		Now:        m.futureBound,
		Known:      m.known,
		Logger:     m.log.With("component", "ingest"),
		Registerer: m.reg,
	})
	if err != nil {
		return err
	}
	m.pipeline = pipeline
	m.known = nil
	opts := ingest.SubscriberOptions{
		URL:       url,
		ClientID:  m.cfg.MQTT.ClientID,
		Username:  user,
		Password:  pass,
		Prefix:    m.cfg.MQTT.Prefix,
		Pipeline:  pipeline,
		Workers:   m.cfg.Ingest.Workers,
		QueueSize: m.cfg.Ingest.QueueSize,
		Logger:    m.log.With("component", "ingest"),
		// eldersafe_mqtt_connected
		Registerer: m.reg,
	}
	if m.event != nil {
		opts.Tick = func(ts time.Time) {
			if _, err := m.advance(context.Background(), ts); err != nil {
				m.log.Error("raise alerts from deadlines", "err", err)
			}
		}
	}
	if m.sub, err = ingest.NewSubscriber(opts); err != nil {
		return err
	}
	m.ingestDone = m.goRun(&m.stopIngest, m.sub.Run)
	return nil
}

// deviceAuth checks device credentials for the embedded broker.
type deviceAuth struct{ db *store.DB }

func (a deviceAuth) AuthenticateDevice(id, secret string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	d, err := a.db.Device(ctx, id)
	return err == nil && registry.CheckSecret(d.SecretHash, secret)
}

// handle applies one reading. Under the event clock the reading's time first
// moves now forward, so what it opens is stamped with it, and then the
// deadlines now has passed fire. Under the wall clock a reading stamped more
// than maxAhead in the future is applied at now. Everything is stored before
// the message is acknowledged.
func (m *Monitor) handle(ctx context.Context, r rules.Reading) error {
	if m.event == nil {
		return m.raise(ctx, m.engine.Process(clampFuture(r, time.Now())))
	}
	moved := m.event.Advance(r.TS)
	alerts := m.engine.Process(r)
	// Always, not only when the clock moved: a reading older than now can arm
	// a deadline that is already due.
	alerts = append(alerts, m.engine.Advance(m.firingNow())...)
	err := m.raise(ctx, alerts)
	if moved {
		m.escalate(ctx)
	}
	return err
}

// advance moves the event clock on a tick and fires the deadlines it passes
// before returning, so the tick is acknowledged once its alerts are stored.
func (m *Monitor) advance(ctx context.Context, ts time.Time) (time.Time, error) {
	moved := m.event.Advance(ts)
	err := m.raise(ctx, m.engine.Advance(m.firingNow()))
	if moved {
		m.escalate(ctx)
	}
	return m.event.Now(), err
}

// firingNow is how far rule deadlines may fire under the event clock: now,
// held back to ingest's low watermark while a worker still applies older
// messages, so a heartbeat waiting in a queue does not make its device
// offline, nor motion waiting there make a home look still.
func (m *Monitor) firingNow() time.Time {
	now := m.event.Now()
	if wm, bounded := m.sub.Watermark(); bounded && wm.Before(now) {
		return wm
	}
	return now
}

// raise turns alerts into tasks. The store is local, so a failure is most
// likely passing (a busy or full disk being cleared): each alert is tried a few
// times before it is given back to the engine to fire again later.
func (m *Monitor) raise(ctx context.Context, alerts []rules.Alert) error {
	var errs []error
	for _, a := range alerts {
		if !a.Cleared {
			m.fired.WithLabelValues(a.Rule).Inc()
		}
		t, opened, err := m.raiseOne(ctx, a)
		if err != nil {
			if !errors.Is(err, registry.ErrNotFound) {
				m.engine.Retract(a, m.clock.Now().Add(time.Minute))
			}
			errs = append(errs, err)
			continue
		}
		if opened {
			m.log.Info("task opened", "task_id", t.ID, "household_id", t.HouseholdID, "rule", t.Rule, "severity", t.Severity, "assignee_id", t.AssigneeID)
		}
	}
	return errors.Join(errs...)
}

func (m *Monitor) raiseOne(ctx context.Context, a rules.Alert) (tasks.Task, bool, error) {
	delay := 50 * time.Millisecond
	for attempt := 1; ; attempt++ {
		t, opened, err := m.tasks.Raise(ctx, a)
		if err == nil || attempt == raiseAttempts || errors.Is(err, registry.ErrNotFound) {
			return t, opened, err
		}
		m.log.Warn("raise alert failed; retrying", "rule", a.Rule, "household_id", a.HouseholdID, "attempt", attempt, "err", err)
		select {
		case <-ctx.Done():
			return t, opened, err
		case <-time.After(delay):
		}
		delay *= 2
	}
}

// raiseAttempts bounds how long one alert may hold up its ingest worker: about 3 s.
const raiseAttempts = 6

// runTimers fires the rules' deadlines every second on the wall clock. Under
// the event clock, handle and advance fire them as time moves; this saves the
// clock and fires what the low watermark held back once ingest caught up.
func (m *Monitor) runTimers(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	saved := m.clock.Now()
	for {
		select {
		case <-ctx.Done():
			if m.event != nil {
				m.saveEventClock(&saved)
			}
			return
		case now := <-t.C:
			m.tick(ctx, now, &saved)
		}
	}
}

// tick fires what is due. A panic in it (a bug, e.g. on one household's
// state) is logged and the next tick runs: it would recur after a restart,
// and a crash loop would stop ingest too, falls included.
func (m *Monitor) tick(ctx context.Context, now time.Time, saved *time.Time) {
	defer func() {
		if v := recover(); v != nil {
			m.log.Error("panic while firing deadlines; the next tick tries again", "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
		}
	}()
	if m.event != nil {
		m.saveEventClock(saved)
		now = m.firingNow()
	}
	if err := m.raise(ctx, m.engine.Advance(now)); err != nil {
		m.log.Error("raise alerts from deadlines", "err", err)
	}
	if m.event == nil {
		m.escalate(ctx)
	}
}

// saveEventClock persists the event clock when it moved, so now never goes
// backwards across a restart.
func (m *Monitor) saveEventClock(saved *time.Time) {
	now := m.event.Now()
	if now.Equal(*saved) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := m.db.SetSetting(ctx, settingEventClock, now.Format(time.RFC3339Nano)); err != nil {
		m.log.Error("save event clock", "err", err)
		return
	}
	*saved = now
}

func (m *Monitor) startHTTP() error {
	var eventClock api.EventClock
	if m.event != nil {
		eventClock = eventClockAdapter{m}
	}
	a, err := api.New(api.Options{
		Registry:      m.db,
		Tasks:         m.tasks,
		Notifications: m.db,
		Status:        func(id string) []rules.DeviceStatus { return m.engine.Status(id, m.clock.Now()) },
		Rules:         m.engine,
		RuleSettings:  m.db,
		Now:           m.clock.Now,
		EventClock:    eventClock,
		AdminToken:    m.token,
		Users:         m.db,
		Audit: func(ctx context.Context, e audit.Entry) error {
			_, err := m.db.AppendAudit(ctx, m.keys.Audit, e)
			return err
		},
		AuditLog:   m.db,
		Forget:     m.forgetHousehold,
		Events:     m.feed,
		Console:    console.Handler(),
		Charts:     m.hist.charts,
		Metrics:    promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg}),
		Ready:      m.ready,
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
	m.http = &http.Server{
		Handler:           a.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(m.log.Handler(), slog.LevelWarn),
	}
	go func() {
		if err := m.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			m.log.Error("http server stopped", "err", err)
		}
	}()
	m.log.Info("HTTP API listening", "addr", ln.Addr().String())
	return nil
}

// eventClockAdapter takes ticks from the API, bounded like device messages.
type eventClockAdapter struct{ m *Monitor }

func (a eventClockAdapter) Advance(ts time.Time) (time.Time, error) {
	if ts.After(a.m.futureBound().Add(ingest.MaxFuture)) {
		return time.Time{}, &tasks.InvalidError{Msg: fmt.Sprintf("ts %s is more than 7 days ahead of now", ts.Format(time.RFC3339))}
	}
	return a.m.advance(context.Background(), ts)
}

func (m *Monitor) ready(ctx context.Context) error {
	if !m.sub.Connected() {
		return errors.New("MQTT broker not connected")
	}
	if _, _, err := m.db.Setting(ctx, settingAdminToken); err != nil {
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

// Close stops the monitor in order: no new requests or messages, then the
// timers, then the outbox finishes what it is sending; state is saved last.
func (m *Monitor) Close() error {
	m.closeOnce.Do(func() {
		var errs []error
		// The event streams end first, or the server would wait for them.
		stop(m.stopFeed, m.feedDone)
		if m.http != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			errs = append(errs, m.http.Shutdown(ctx))
			cancel()
		}
		stop(m.stopIngest, m.ingestDone)
		stop(m.stopTimers, m.timersDone)
		m.finalCheckpoint()
		stop(m.stopOutbox, m.outboxDone)
		m.closeHistory()
		if m.broker != nil {
			errs = append(errs, m.broker.Close())
		}
		if m.db != nil {
			errs = append(errs, m.db.Close())
		}
		m.closeErr = errors.Join(errs...)
	})
	return m.closeErr
}

func stop(cancel context.CancelFunc, done chan struct{}) {
	if cancel == nil {
		return
	}
	cancel()
	<-done
}
