package app

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/eldersafe/eldersafe/rules"
	"github.com/eldersafe/eldersafe/tasks"
)

// Config is every setting of the monitor. The `mapstructure` names are the
// config file's keys; configs/eldersafe.yaml documents each one.
type Config struct {
	HTTP    HTTPConfig   `mapstructure:"http"`
	MQTT    MQTTConfig   `mapstructure:"mqtt"`
	DataDir string       `mapstructure:"data_dir"`
	Auth    AuthConfig   `mapstructure:"auth"`
	Clock   string       `mapstructure:"clock"`
	Rules   RulesConfig  `mapstructure:"rules"`
	Tasks   TasksConfig  `mapstructure:"tasks"`
	Notify  NotifyConfig `mapstructure:"notify"`
	Ingest  IngestConfig `mapstructure:"ingest"`
	Log     LogConfig    `mapstructure:"log"`
}

type HTTPConfig struct {
	Addr string `mapstructure:"addr"`
}

type MQTTConfig struct {
	// URL of an external broker; empty runs the embedded one.
	URL      string       `mapstructure:"url"`
	Username string       `mapstructure:"username"`
	Password string       `mapstructure:"password"`
	ClientID string       `mapstructure:"client_id"`
	Prefix   string       `mapstructure:"prefix"`
	Broker   BrokerConfig `mapstructure:"broker"`
}

type BrokerConfig struct {
	Addr     string `mapstructure:"addr"`
	Auth     string `mapstructure:"auth"`
	TLSAddr  string `mapstructure:"tls_addr"`
	CertFile string `mapstructure:"cert_file"`
	KeyFile  string `mapstructure:"key_file"`
}

type AuthConfig struct {
	AdminToken string `mapstructure:"admin_token"`
}

// RulesConfig holds thresholds in the units the contract names them in.
type RulesConfig struct {
	WaterNoUse    HoursParam          `mapstructure:"water_no_use"`
	DeviceOffline DeviceOfflineParams `mapstructure:"device_offline"`
}

type HoursParam struct {
	Hours float64 `mapstructure:"hours"`
}

type DeviceOfflineParams struct {
	Hours          float64 `mapstructure:"hours"`
	WristbandHours float64 `mapstructure:"wristband_hours"`
}

type TasksConfig struct {
	AckDeadline     AckDeadlines  `mapstructure:"ack_deadline"`
	ResolveDeadline time.Duration `mapstructure:"resolve_deadline"`
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
}

type IngestConfig struct {
	Workers   int `mapstructure:"workers"`
	QueueSize int `mapstructure:"queue_size"`
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
	rd := rules.DefaultConfig()
	td := tasks.DefaultDeadlines()
	return Config{
		HTTP: HTTPConfig{Addr: "127.0.0.1:8080"},
		MQTT: MQTTConfig{
			ClientID: "eldersafe-monitor",
			Prefix:   "eldersafe/v1",
			Broker:   BrokerConfig{Addr: "127.0.0.1:1883", Auth: "devices"},
		},
		DataDir: "./data",
		Clock:   ClockWall,
		Rules: RulesConfig{
			WaterNoUse:    HoursParam{Hours: rd.WaterNoUse.Hours()},
			DeviceOffline: DeviceOfflineParams{Hours: rd.DeviceOffline.Hours(), WristbandHours: rd.WristbandOffline.Hours()},
		},
		Tasks: TasksConfig{
			AckDeadline: AckDeadlines{
				Critical: td.Ack[rules.Critical],
				High:     td.Ack[rules.High],
				Medium:   td.Ack[rules.Medium],
				Low:      td.Ack[rules.Low],
			},
			ResolveDeadline: td.Resolve,
		},
		Notify: NotifyConfig{MaxAttempts: 10, PushTimeout: 10 * time.Second},
		Ingest: IngestConfig{Workers: 8, QueueSize: 1024},
		Log:    LogConfig{Level: "info", Format: "text"},
	}
}

func hours(h float64) time.Duration { return time.Duration(h * float64(time.Hour)) }

// RulesEngineConfig converts the thresholds to the engine's units.
func (c Config) RulesEngineConfig() rules.Config {
	return rules.Config{
		WaterNoUse:       hours(c.Rules.WaterNoUse.Hours),
		DeviceOffline:    hours(c.Rules.DeviceOffline.Hours),
		WristbandOffline: hours(c.Rules.DeviceOffline.WristbandHours),
	}
}

// Deadlines converts the task deadlines.
func (c Config) Deadlines() tasks.Deadlines {
	a := c.Tasks.AckDeadline
	return tasks.Deadlines{
		Ack:     map[rules.Severity]time.Duration{rules.Critical: a.Critical, rules.High: a.High, rules.Medium: a.Medium, rules.Low: a.Low},
		Resolve: c.Tasks.ResolveDeadline,
	}
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
	if c.MQTT.URL != "" {
		u, err := url.Parse(c.MQTT.URL)
		if err != nil || u.Host == "" || !slices.Contains([]string{"tcp", "ssl", "tls", "mqtt", "mqtts", "ws", "wss"}, u.Scheme) {
			bad("mqtt.url", "%q: want tcp://host:port (or ssl://, ws://)", c.MQTT.URL)
		}
	} else if c.MQTT.Broker.Addr == "" {
		bad("mqtt.broker.addr", "required when mqtt.url is empty")
	}
	switch c.MQTT.Broker.Auth {
	case "devices", "none":
	default:
		bad("mqtt.broker.auth", "%q: want devices or none", c.MQTT.Broker.Auth)
	}
	if c.MQTT.ClientID == "" {
		bad("mqtt.client_id", "required")
	}
	if c.MQTT.Prefix == "" || strings.HasSuffix(c.MQTT.Prefix, "/") || strings.ContainsAny(c.MQTT.Prefix, "+#") {
		bad("mqtt.prefix", "%q: want topic levels without wildcards or a trailing slash", c.MQTT.Prefix)
	}
	if c.DataDir == "" {
		bad("data_dir", "required")
	}
	if c.Clock != ClockWall && c.Clock != ClockEvent {
		bad("clock", "%q: want wall or event", c.Clock)
	}
	if err := c.RulesEngineConfig().Validate(); err != nil {
		errs = append(errs, err)
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
	if c.Notify.MaxAttempts < 1 || c.Notify.MaxAttempts > 100 {
		bad("notify.max_attempts", "%d: want 1 to 100", c.Notify.MaxAttempts)
	}
	if c.Notify.PushTimeout <= 0 {
		bad("notify.push_timeout", "must be positive")
	}
	if c.Ingest.Workers < 1 || c.Ingest.Workers > 1024 {
		bad("ingest.workers", "%d: want 1 to 1024", c.Ingest.Workers)
	}
	if c.Ingest.QueueSize < 1 {
		bad("ingest.queue_size", "must be positive")
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "%q: want debug, info, warn or error", c.Log.Level)
	}
	if c.Log.Format != "text" && c.Log.Format != "json" {
		bad("log.format", "%q: want text or json", c.Log.Format)
	}
	return errors.Join(errs...)
}
