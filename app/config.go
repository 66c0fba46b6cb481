package app

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"

	"github.com/eldersafe/eldersafe/clock"
	"github.com/eldersafe/eldersafe/dispatch"
	"github.com/eldersafe/eldersafe/ingest"
	"github.com/eldersafe/eldersafe/keyring"
	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
	"github.com/eldersafe/eldersafe/store"
	"github.com/eldersafe/eldersafe/tasks"
)

// Config is every setting of the monitor. The `mapstructure` names are the
// config file's keys; configs/eldersafe.yaml documents each one.
type Config struct {
	HTTP    HTTPConfig `mapstructure:"http"`
	MQTT    MQTTConfig `mapstructure:"mqtt"`
	DataDir string     `mapstructure:"data_dir"`
	// Store names the database: empty is SQLite under data_dir.
	Store StoreConfig `mapstructure:"store"`
	// HA runs several monitors on one PostgreSQL and one external broker,
	// one of them working (CONTRACT §15, app/ha.go).
	HA   HAConfig   `mapstructure:"ha"`
	Auth AuthConfig `mapstructure:"auth"`
	// Security holds the master key (base64, 32 bytes) from which the audit
	// chain's and the field encryption's keys are derived; empty uses the
	// key file in data_dir, generated at first start.
	Security SecurityConfig `mapstructure:"security"`
	Clock    string         `mapstructure:"clock"`
	Rules    RulesConfig    `mapstructure:"rules"`
	Tasks    TasksConfig    `mapstructure:"tasks"`
	// CareLevels tune each care level's thresholds, verification and
	// routine visits (app/care.go).
	CareLevels CareLevelsConfig `mapstructure:"care_levels"`
	Notify     NotifyConfig     `mapstructure:"notify"`
	Ingest     IngestConfig     `mapstructure:"ingest"`
	Log        LogConfig        `mapstructure:"log"`
	// Sources turn on the formats of off-the-shelf devices (CONTRACT.md
	// §14), each under its topic root.
	Sources SourcesConfig `mapstructure:"sources"`
	// InfluxDB receives the readings history (app/history.go); an empty url
	// keeps it in the store's hourly roll-up instead.
	InfluxDB InfluxDBConfig `mapstructure:"influxdb"`

	// Timezone is where households without a time zone of their own are.
	Timezone string `mapstructure:"timezone"`
	// Checkpoint is how often the rules' state is saved.
	Checkpoint CheckpointConfig `mapstructure:"checkpoint"`
	// Memory bounds the Go heap's growth between collections (package
	// memlimit) and asks for huge pages for it (package hugepages);
	// `eldersafe serve` applies it, since both are the whole process's.
	Memory MemoryConfig `mapstructure:"memory"`

	// ClockMaxJump bounds how far past now one device's message may move
	// the event clock. A key of its own beside clock, which stays the plain
	// wall|event value its flag and variable set (CONTRACT §1).
	ClockMaxJump time.Duration `mapstructure:"clock_max_jump"`
	// Simulation allows the event clock, on which any device's ts moves
	// the monitor's time: `serve --simulation`, demo and the tests that
	// simulate set it. Never read from the file or the environment, so no
	// production config turns it on by accident.
	Simulation bool `mapstructure:"-"`
}

// MemoryConfig is the heap's headroom over what it holds live: the more,
// the fewer collections (CPU) and the larger the resident set; and whether
// the heap a start builds is asked for in huge pages.
type MemoryConfig struct {
	// HeadroomRatio is the headroom as a fraction of the live heap; 0
	// leaves the Go runtime's default (the heap grows to twice its live
	// size), as does GOMEMLIMIT set in the environment.
	HeadroomRatio float64 `mapstructure:"headroom_ratio"`
	// HeadroomLoadRatio is the most headroom under load, as a fraction of
	// the live heap: the headroom widens to what the heap allocates in
	// a minute at the rate of the last 5 s, up to this, and narrows at rest; at
	// or below HeadroomRatio it never widens.
	HeadroomLoadRatio float64 `mapstructure:"headroom_load_ratio"`
	// HeadroomMinMB is the least headroom, in MiB.
	HeadroomMinMB int `mapstructure:"headroom_min_mb"`
	// HugePages has serve ask the kernel for transparent huge pages for
	// the heap it builds from its snapshot at start, until the monitor is
	// up (package hugepages).
	HugePages bool `mapstructure:"huge_pages"`
}

type HTTPConfig struct {
	Addr string `mapstructure:"addr"`
	// PprofAddr serves Go's profiles (net/http/pprof) on a listener of
	// their own, loopback only; empty (the default) serves none.
	PprofAddr string `mapstructure:"pprof_addr"`
}

type MQTTConfig struct {
	// URL of an external broker; empty runs the embedded one.
	URL      string       `mapstructure:"url"`
	Username string       `mapstructure:"username"`
	Password string       `mapstructure:"password"`
	ClientID string       `mapstructure:"client_id"`
	Prefix   string       `mapstructure:"prefix"`
	Broker   BrokerConfig `mapstructure:"broker"`
	TLS      ExternalTLS  `mapstructure:"tls"`
}

// ExternalTLS secures the connection to an external broker (an ssl://,
// tls://, mqtts:// or wss:// mqtt.url): whom to trust, the monitor's own
// certificate, the broker's name.
type ExternalTLS struct {
	// CAFile holds the certificates (PEM) the broker's must chain to;
	// empty: the system's roots.
	CAFile string `mapstructure:"ca_file"`
	// CertFile and KeyFile are the monitor's client certificate (PEM), for
	// a broker that requires one; both or neither.
	CertFile string `mapstructure:"cert_file"`
	KeyFile  string `mapstructure:"key_file"`
	// ServerName is the name the broker's certificate must carry; empty:
	// the host of mqtt.url.
	ServerName string `mapstructure:"server_name"`
	// InsecureSkipVerify accepts any broker certificate: tests only.
	InsecureSkipVerify bool `mapstructure:"insecure_skip_verify"`
}

// tlsSchemes are the mqtt.url schemes paho speaks TLS on.
var tlsSchemes = []string{"ssl", "tls", "mqtts", "wss"}

type BrokerConfig struct {
	Addr     string `mapstructure:"addr"`
	Auth     string `mapstructure:"auth"`
	TLSAddr  string `mapstructure:"tls_addr"`
	CertFile string `mapstructure:"cert_file"`
	KeyFile  string `mapstructure:"key_file"`

	// ClientCAFile lets devices log in on the TLS listener with a
	// certificate it signed, whose common name is their device id.
	ClientCAFile string `mapstructure:"client_ca_file"`
}

type StoreConfig struct {
	// URL is empty (SQLite under data_dir) or postgres://user:password@host:port/db.
	URL string `mapstructure:"url"`
}

type HAConfig struct {
	Enabled bool `mapstructure:"enabled"`
	// LeaseTTL is how long the leader's lease lasts unrenewed: a standby
	// takes over at most this long (plus its start) after the leader died.
	LeaseTTL time.Duration `mapstructure:"lease_ttl"`
}

type SecurityConfig struct {
	Key string `mapstructure:"key"`
}

type AuthConfig struct {
	AdminToken string `mapstructure:"admin_token"`
}

// RulesConfig, in rules_config.go, is written from rules.Table: one struct
// per rule with thresholds, so that viper decodes, refuses unknown keys and
// reads ELDERSAFE_RULES_* variables as for any other section, and a reload
// names each changed key.
//go:generate go run ./internal/genrules

// Thresholds spells the thresholds as rules.Config.With takes them, the
// same validation a household override goes through; the switches are not
// thresholds (Enabled has them).
func (r RulesConfig) Thresholds() rules.Thresholds {
	t := make(rules.Thresholds)
	for name, params := range r.byName() {
		delete(params, enabledKey)
		if len(params) > 0 {
			t[name] = params
		}
	}
	return t
}

// Enabled is each switch of rules.Switches, on or off.
func (r RulesConfig) Enabled() map[string]bool {
	on := make(map[string]bool)
	for name, params := range r.byName() {
		on[name] = params[enabledKey].(bool)
	}
	return on
}

// enabledKey is a switch's key below rules.<name>.
const enabledKey = "enabled"

// byName is every rule's settings, switch and thresholds, by their keys.
func (r RulesConfig) byName() map[string]map[string]any {
	var encoded map[string]any
	if err := mapstructure.Decode(r, &encoded); err != nil {
		panic(fmt.Sprintf("encode rules config: %v", err)) // a programming error, caught by any test
	}
	byName := make(map[string]map[string]any, len(encoded))
	for name, settings := range encoded {
		byName[name] = settings.(map[string]any)
	}
	return byName
}

// rulesConfigFrom is the inverse of RulesEngineConfig, for the defaults.
// Every parameter and switch of c must have its field and every field its
// parameter or switch: a mismatch is a rules_config.go older than
// rules.Table.
func rulesConfigFrom(c rules.Config) RulesConfig {
	t := c.Thresholds()
	for _, name := range rules.Switches {
		if t[name] == nil {
			t[name] = map[string]any{}
		}
		t[name][enabledKey] = c.Enabled(name)
	}
	var r RulesConfig
	d, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{Result: &r, ErrorUnused: true, ErrorUnset: true})
	if err == nil {
		err = d.Decode(t)
	}
	if err != nil {
		panic(fmt.Sprintf("rules config from rules.Table (go generate ./app): %v", err)) // caught by any test
	}
	return r
}

// CheckpointConfig is how often the rules' state is saved to the store.
type CheckpointConfig struct {
	Interval time.Duration `mapstructure:"interval"`
	// Journal acknowledges a device's message once its reading is written
	// to a journal in data_dir, instead of once its household's state is
	// in the store; the states are written every JournalInterval, and a
	// start replays the journal over them. For a million households on
	// SQLite, whose one writer a row a message holds back
	// (docs/operations.md); not with PostgreSQL, whose standby cannot read
	// a local file.
	Journal         bool          `mapstructure:"journal"`
	JournalInterval time.Duration `mapstructure:"journal_interval"`
}

type TasksConfig struct {
	AckDeadline     AckDeadlines  `mapstructure:"ack_deadline"`
	ResolveDeadline time.Duration `mapstructure:"resolve_deadline"`
	// VerifyWindow is how long a welfare task one signal supports waits
	// verifying for an answer before a worker is sent; 0 sends at once.
	VerifyWindow time.Duration `mapstructure:"verify_window"`
}

type AckDeadlines struct {
	Critical time.Duration `mapstructure:"critical"`
	High     time.Duration `mapstructure:"high"`
	Medium   time.Duration `mapstructure:"medium"`
	Low      time.Duration `mapstructure:"low"`
}

type NotifyConfig struct {
	MaxAttempts int           `mapstructure:"max_attempts"`
	PushTimeout time.Duration `mapstructure:"push_timeout"`
	// RateLimit is the least time between two notices of the same event of a
	// task to the same person on the same channel; 0 turns the limit off.
	RateLimit time.Duration `mapstructure:"rate_limit"`
	// SMS is the SMS provider (app/sms.go).
	SMS SMSConfig `mapstructure:"sms"`
	// PublicURL is where families reach the monitor's answer pages
	// (<public_url>/a/<token>); empty: notices carry no links.
	PublicURL string `mapstructure:"public_url"`
}

type IngestConfig struct {
	Workers int `mapstructure:"workers"`
	// EventWorkers apply the event stream, the alarm lane, apart from the rest.
	EventWorkers int `mapstructure:"event_workers"`
	QueueSize    int `mapstructure:"queue_size"`
}

type SourcesConfig struct {
	Zigbee2MQTT SourceConfig `mapstructure:"zigbee2mqtt"`
	Tasmota     SourceConfig `mapstructure:"tasmota"`
	Wmbusmeters SourceConfig `mapstructure:"wmbusmeters"`
}

type SourceConfig struct {
	Enabled bool `mapstructure:"enabled"`
	// TopicRoot is the topic level(s) the source's topics start with:
	// Zigbee2MQTT's base_topic, Tasmota's %prefix% for telemetry, the
	// first level of wmbusmeters' shell command's topic.
	TopicRoot string `mapstructure:"topic_root"`
}

// Ingest is what ingest takes of the enabled sources.
func (c SourcesConfig) Ingest() ingest.Sources {
	root := func(s SourceConfig) string {
		if !s.Enabled {
			return ""
		}
		return s.TopicRoot
	}
	return ingest.Sources{Zigbee2MQTT: root(c.Zigbee2MQTT), Tasmota: root(c.Tasmota), Wmbusmeters: root(c.Wmbusmeters)}
}

// validate names every enabled source whose root is malformed or whose
// topics would be another's (or the native prefix's).
func (c SourcesConfig) validate(prefix string) []error {
	var errs []error
	roots := map[string]string{"mqtt.prefix": prefix}
	for _, s := range []struct {
		key string
		c   SourceConfig
	}{{"sources.zigbee2mqtt", c.Zigbee2MQTT}, {"sources.tasmota", c.Tasmota}, {"sources.wmbusmeters", c.Wmbusmeters}} {
		if !s.c.Enabled {
			continue
		}
		root := s.c.TopicRoot
		if root == "" || strings.HasPrefix(root, "/") || strings.HasSuffix(root, "/") || strings.HasPrefix(root, "$") || strings.ContainsAny(root, "+#\x00") {
			errs = append(errs, fmt.Errorf("%s.topic_root: %q: want topic levels without wildcards, a leading $ or '/', or a trailing '/'", s.key, root))
			continue
		}
		for key, other := range roots {
			if root == other || strings.HasPrefix(root, other+"/") || strings.HasPrefix(other, root+"/") {
				errs = append(errs, fmt.Errorf("%s.topic_root: %q overlaps %s %q: their topics must not mix", s.key, root, key, other))
			}
		}
		roots[s.key+".topic_root"] = root
	}
	return errs
}

// InfluxDBConfig is where the readings history goes: InfluxDB 2.x (token,
// org, bucket) or 1.8 (token "user:password" or empty, org empty, bucket
// "database/retention-policy"). An empty URL turns it off.
type InfluxDBConfig struct {
	URL    string `mapstructure:"url"`
	Token  string `mapstructure:"token"`
	Org    string `mapstructure:"org"`
	Bucket string `mapstructure:"bucket"`
}

type LogConfig struct {
	Level  string `mapstructure:"level"`
	Format string `mapstructure:"format"`
}

// Clocks the monitor can run on.
const (
	ClockWall  = "wall"
	ClockEvent = "event"
)

// DefaultConfig is the embedded defaults: everything on loopback, data under ./data.
func DefaultConfig() Config {
	td := tasks.DefaultDeadlines()
	return Config{
		HTTP: HTTPConfig{Addr: "127.0.0.1:8080"},
		MQTT: MQTTConfig{
			ClientID: "eldersafe-monitor",
			Prefix:   "eldersafe/v1",
			Broker:   BrokerConfig{Addr: "127.0.0.1:1883", Auth: "devices"},
		},
		DataDir: "./data",
		HA:      HAConfig{LeaseTTL: 10 * time.Second},
		Clock:   ClockWall,
		Rules:   rulesConfigFrom(rules.DefaultConfig()),
		Tasks: TasksConfig{
			AckDeadline: AckDeadlines{
				Critical: td.Ack[rules.Critical],
				High:     td.Ack[rules.High],
				Medium:   td.Ack[rules.Medium],
				Low:      td.Ack[rules.Low],
			},
			ResolveDeadline: td.Resolve,
			VerifyWindow:    tasks.DefaultVerifyWindow,
		},
		CareLevels: defaultCareLevels(),
		Notify:     NotifyConfig{MaxAttempts: 10, PushTimeout: 10 * time.Second, RateLimit: 10 * time.Minute, SMS: defaultSMSConfig()},
		Ingest:     IngestConfig{Workers: 8, EventWorkers: 2, QueueSize: 1024},
		Sources: SourcesConfig{
			Zigbee2MQTT: SourceConfig{TopicRoot: "zigbee2mqtt"},
			Tasmota:     SourceConfig{TopicRoot: "tele"},
			Wmbusmeters: SourceConfig{TopicRoot: "wmbusmeters"},
		},
		Log: LogConfig{Level: "info", Format: "text"},

		Timezone:   registry.DefaultTimezone,
		Checkpoint: CheckpointConfig{Interval: time.Second, JournalInterval: dispatch.DefaultJournalCheckpoint},
		Memory:     MemoryConfig{HeadroomRatio: 0.25, HeadroomLoadRatio: 1, HeadroomMinMB: 16, HugePages: true},

		ClockMaxJump: time.Hour,
	}
}

// RulesEngineConfig converts the thresholds to the engine's configuration.
// The error names each wrong key (rules.water_no_use.hours: ...).
func (c Config) RulesEngineConfig() (rules.Config, error) {
	rc, err := rules.DefaultConfig().With(c.Rules.Thresholds())
	if err != nil {
		return rules.Config{}, underKey("rules.", err)
	}
	for name, on := range c.Rules.Enabled() {
		if rc, err = rc.WithEnabled(name, on); err != nil {
			return rules.Config{}, underKey("rules.", err)
		}
	}
	return rc, nil
}

// Location loads the default time zone of households.
func (c Config) Location() (*time.Location, error) {
	if c.Timezone == "" {
		return nil, errors.New("timezone: required")
	}
	loc, err := time.LoadLocation(c.Timezone)
	if err != nil {
		return nil, fmt.Errorf("timezone: %q: unknown time zone (want an IANA name such as Asia/Shanghai)", c.Timezone)
	}
	return loc, nil
}

// underKey puts prefix before the key that each joined error starts with.
func underKey(prefix string, err error) error {
	var errs []error
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		errs = joined.Unwrap()
	} else {
		errs = []error{err}
	}
	out := make([]error, 0, len(errs))
	for _, e := range errs {
		if strings.HasPrefix(e.Error(), prefix) {
			out = append(out, e)
		} else {
			out = append(out, fmt.Errorf("%s%w", prefix, e))
		}
	}
	return errors.Join(out...)
}

// Deadlines converts the task deadlines.
func (c Config) Deadlines() tasks.Deadlines {
	a := c.Tasks.AckDeadline
	return tasks.Deadlines{
		Ack:     map[rules.Severity]time.Duration{rules.Critical: a.Critical, rules.High: a.High, rules.Medium: a.Medium, rules.Low: a.Low},
		Resolve: c.Tasks.ResolveDeadline,
	}
}

// checkClock refuses the event clock outside a simulation: on it any
// device's ts moves the monitor's time, for every household.
func (c Config) checkClock() error {
	if c.Clock == ClockEvent && !c.Simulation {
		return errors.New("clock: event is for simulations only, where the simulator drives time: start serve with --simulation as well (demo does); in production run on the wall clock")
	}
	return nil
}

// Validate names every setting that is wrong.
func (c Config) Validate() error {
	var errs []error
	bad := func(key string, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	if c.HTTP.Addr == "" {
		bad("http.addr", "required")
	}
	if err := checkPprofAddr(c.HTTP.PprofAddr); err != nil {
		bad("http.pprof_addr", "%v", err)
	}
	if r := c.Memory.HeadroomRatio; r < 0 || r > 4 || math.IsNaN(r) {
		bad("memory.headroom_ratio", "%g: want 0 (the Go runtime's default) to 4", r)
	}
	if r := c.Memory.HeadroomLoadRatio; r < 0 || r > 4 || math.IsNaN(r) {
		bad("memory.headroom_load_ratio", "%g: want 0 to 4", r)
	}
	if c.Memory.HeadroomMinMB < 0 {
		bad("memory.headroom_min_mb", "%d: want 0 or more", c.Memory.HeadroomMinMB)
	}
	if c.MQTT.URL != "" {
		// Several URLs, comma-separated: the nodes of a broker cluster.
		for _, s := range strings.Split(c.MQTT.URL, ",") {
			u, err := url.Parse(strings.TrimSpace(s))
			if err != nil || u.Host == "" || !slices.Contains([]string{"tcp", "ssl", "tls", "mqtt", "mqtts", "ws", "wss"}, u.Scheme) {
				bad("mqtt.url", "%q: want tcp://host:port (or ssl://, ws://), or several comma-separated", s)
			}
		}
	} else if c.MQTT.Broker.Addr == "" {
		bad("mqtt.broker.addr", "required when mqtt.url is empty")
	}
	if t := c.MQTT.TLS; t != (ExternalTLS{}) {
		// Set for a plain connection, a client certificate would silently
		// not be used, nor the broker checked.
		for _, s := range strings.Split(c.MQTT.URL, ",") {
			if u, err := url.Parse(strings.TrimSpace(s)); err != nil || !slices.Contains(tlsSchemes, u.Scheme) {
				bad("mqtt.tls", "set, but mqtt.url %q is not a TLS connection (want ssl://, tls://, mqtts:// or wss://)", s)
			}
		}
		if (t.CertFile == "") != (t.KeyFile == "") {
			bad("mqtt.tls", "cert_file and key_file go together")
		}
	}
	switch c.MQTT.Broker.Auth {
	case "devices", "none":
	default:
		bad("mqtt.broker.auth", "%q: want devices or none", c.MQTT.Broker.Auth)
	}
	if b := c.MQTT.Broker; b.ClientCAFile != "" && (b.TLSAddr == "" || b.CertFile == "" || b.KeyFile == "") {
		bad("mqtt.broker.client_ca_file", "needs the embedded broker's TLS listener (tls_addr, cert_file and key_file)")
	}
	if c.MQTT.ClientID == "" {
		bad("mqtt.client_id", "required")
	}
	if c.MQTT.Prefix == "" || strings.HasSuffix(c.MQTT.Prefix, "/") || strings.ContainsAny(c.MQTT.Prefix, "+#") {
		bad("mqtt.prefix", "%q: want topic levels without wildcards or a trailing slash", c.MQTT.Prefix)
	}
	if c.Security.Key != "" {
		if _, err := keyring.Decode(c.Security.Key); err != nil {
			errs = append(errs, err)
		}
	}
	if c.DataDir == "" {
		bad("data_dir", "required")
	}
	if c.Store.URL != "" && !store.IsPostgresURL(c.Store.URL) {
		bad("store.url", "want empty (SQLite under data_dir) or postgres://user:password@host:port/database")
	}
	if c.HA.Enabled {
		// Monitors on other machines must share the database and the
		// broker's persistent sessions.
		if !store.IsPostgresURL(c.Store.URL) {
			bad("ha.enabled", "needs store.url: a PostgreSQL database the monitors share")
		}
		if c.MQTT.URL == "" {
			bad("ha.enabled", "needs mqtt.url: an external broker that keeps the monitor's sessions")
		}
		if c.Clock == ClockEvent {
			bad("ha.enabled", "not with the event clock, which is for simulations")
		}
	}
	if c.HA.LeaseTTL < time.Second || c.HA.LeaseTTL > 5*time.Minute {
		bad("ha.lease_ttl", "%s: want 1s to 5m", c.HA.LeaseTTL)
	}
	if c.Clock != ClockWall && c.Clock != ClockEvent {
		bad("clock", "%q: want wall or event", c.Clock)
	}
	if c.ClockMaxJump < time.Second || c.ClockMaxJump > clock.MaxFuture {
		bad("clock_max_jump", "%s: want 1s to 168h", c.ClockMaxJump)
	}
	if _, err := c.Location(); err != nil {
		errs = append(errs, err)
	}
	if _, err := c.RulesEngineConfig(); err != nil {
		errs = append(errs, err)
	}
	if c.Checkpoint.Interval < 10*time.Millisecond || c.Checkpoint.Interval > time.Hour {
		bad("checkpoint.interval", "%s: want 10ms to 1h", c.Checkpoint.Interval)
	}
	if c.Checkpoint.JournalInterval < time.Second || c.Checkpoint.JournalInterval > time.Hour {
		bad("checkpoint.journal_interval", "%s: want 1s to 1h", c.Checkpoint.JournalInterval)
	}
	if c.Checkpoint.Journal && c.Store.URL != "" {
		bad("checkpoint.journal", "only with SQLite (store.url empty): a standby cannot read a journal on this machine")
	}
	d := c.Deadlines()
	for _, s := range rules.Severities {
		if d.Ack[s] <= 0 {
			bad("tasks.ack_deadline."+string(s), "must be positive")
		}
	}
	if d.Resolve <= 0 {
		bad("tasks.resolve_deadline", "must be positive")
	}
	errs = append(errs, c.CareLevels.validate()...)
	if w := c.Tasks.VerifyWindow; w < 0 || w > tasks.MaxVerifyWindow {
		bad("tasks.verify_window", "%s: want 0s (no verification) to %s", w, tasks.MaxVerifyWindow)
	}
	if c.Notify.MaxAttempts < 1 || c.Notify.MaxAttempts > 100 {
		bad("notify.max_attempts", "%d: want 1 to 100", c.Notify.MaxAttempts)
	}
	if u := c.Notify.PublicURL; u != "" {
		if p, err := url.Parse(u); err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" || p.RawQuery != "" {
			bad("notify.public_url", "%q: want an http or https URL without a query", u)
		}
	}
	if c.Notify.PushTimeout <= 0 {
		bad("notify.push_timeout", "must be positive")
	}
	if c.Notify.RateLimit < 0 || c.Notify.RateLimit > 24*time.Hour {
		bad("notify.rate_limit", "%s: want 0 (off) to 24h", c.Notify.RateLimit)
	}
	errs = append(errs, c.Notify.SMS.validate()...)
	if c.Ingest.Workers < 1 || c.Ingest.Workers > 1024 {
		bad("ingest.workers", "%d: want 1 to 1024", c.Ingest.Workers)
	}
	if c.Ingest.EventWorkers < 1 || c.Ingest.EventWorkers > 64 {
		bad("ingest.event_workers", "%d: want 1 to 64", c.Ingest.EventWorkers)
	}
	if c.Ingest.QueueSize < 1 {
		bad("ingest.queue_size", "must be positive")
	}
	errs = append(errs, c.Sources.validate(c.MQTT.Prefix)...)
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "%q: want debug, info, warn or error", c.Log.Level)
	}
	if c.Log.Format != "text" && c.Log.Format != "json" {
		bad("log.format", "%q: want text or json", c.Log.Format)
	}
	if c.InfluxDB.URL != "" {
		u, err := url.Parse(c.InfluxDB.URL)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			bad("influxdb.url", "%q: want http://host:8086 or https://host:8086", c.InfluxDB.URL)
		}
		if c.InfluxDB.Bucket == "" {
			bad("influxdb.bucket", "required when influxdb.url is set (InfluxDB 1.8: database/retention-policy, e.g. eldersafe/autogen)")
		}
	}
	return errors.Join(errs...)
}
