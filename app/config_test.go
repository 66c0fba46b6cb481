package app

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestValidateMQTTURL(t *testing.T) {
	tests := []struct {
		url   string
		valid bool
	}{
		{"", true}, // embedded broker
		{"tcp://127.0.0.1:1883", true},
		{"ssl://broker.example:8883", true},
		{"ws://broker.example:8080/mqtt", true},
		{"s://broker.example:1883", false},
		{"//broker.example:1883", false},
		{"http://broker.example", false},
		{"tcp://", false},
		{"tcp://n1:1883,tcp://n2:1883", true}, // a cluster's nodes
		{"tcp://n1:1883,n2:1883", false},
	}
	for _, tt := range tests {
		cfg := DefaultConfig()
		cfg.MQTT.URL = tt.url
		err := cfg.Validate()
		if tt.valid != (err == nil) {
			t.Errorf("mqtt.url %q: error %v, want valid=%v", tt.url, err, tt.valid)
		}
		if err != nil && !strings.Contains(err.Error(), "mqtt.url") {
			t.Errorf("mqtt.url %q: error %v does not name the key", tt.url, err)
		}
	}
}

// TestValidateStoreAndHA: store.url is empty or PostgreSQL; ha.enabled
// needs PostgreSQL and an external broker (CONTRACT §15).
func TestValidateStoreAndHA(t *testing.T) {
	const pg, broker = "postgres://eldersafe@db:5432/eldersafe", "tcp://broker:1883"
	for _, tt := range []struct {
		name           string
		storeURL, mqtt string
		ha             bool
		ttl            time.Duration
		wantKey        string // named in the error; empty: valid
	}{
		{"sqlite", "", "", false, 10 * time.Second, ""},
		{"postgresql", pg, "", false, 10 * time.Second, ""},
		{"postgresql://", "postgresql://db/eldersafe", "", false, 10 * time.Second, ""},
		{"mysql", "mysql://db/eldersafe", "", false, 10 * time.Second, "store.url"},
		{"ha", pg, broker, true, 10 * time.Second, ""},
		{"ha on sqlite", "", broker, true, 10 * time.Second, "ha.enabled: needs store.url"},
		{"ha on the embedded broker", pg, "", true, 10 * time.Second, "ha.enabled: needs mqtt.url"},
		{"lease too short", pg, broker, true, 500 * time.Millisecond, "ha.lease_ttl"},
	} {
		cfg := DefaultConfig()
		cfg.Store.URL, cfg.MQTT.URL, cfg.HA.Enabled, cfg.HA.LeaseTTL = tt.storeURL, tt.mqtt, tt.ha, tt.ttl
		err := cfg.Validate()
		if (err == nil) != (tt.wantKey == "") || (err != nil && !strings.Contains(err.Error(), tt.wantKey)) {
			t.Errorf("%s: error %v, want one naming %q", tt.name, err, tt.wantKey)
		}
	}
	if got := DefaultConfig().HA.LeaseTTL; got != 10*time.Second {
		t.Errorf("default ha.lease_ttl = %s, want 10s", got)
	}
}

func TestValidateRateLimit(t *testing.T) {
	if got := DefaultConfig().Notify.RateLimit; got != 10*time.Minute {
		t.Errorf("default notify.rate_limit = %s, want 10m", got)
	}
	for _, tt := range []struct {
		limit time.Duration
		valid bool
	}{
		{0, true}, // off
		{time.Second, true},
		{24 * time.Hour, true},
		{-time.Second, false},
		{25 * time.Hour, false},
	} {
		cfg := DefaultConfig()
		cfg.Notify.RateLimit = tt.limit
		err := cfg.Validate()
		if tt.valid != (err == nil) || (err != nil && !strings.Contains(err.Error(), "notify.rate_limit")) {
			t.Errorf("notify.rate_limit %s: error %v, want valid=%v", tt.limit, err, tt.valid)
		}
	}
}

func TestEventClockOnlyInSimulation(t *testing.T) {
	for _, tt := range []struct {
		clock      string
		simulation bool
		ok         bool
	}{
		{ClockWall, false, true},
		{ClockWall, true, true},
		{ClockEvent, true, true},
		{ClockEvent, false, false},
	} {
		cfg := DefaultConfig()
		cfg.Clock, cfg.Simulation = tt.clock, tt.simulation
		if err := cfg.checkClock(); tt.ok != (err == nil) || (err != nil && !strings.Contains(err.Error(), "--simulation")) {
			t.Errorf("clock %s, simulation %v: %v, want ok=%v", tt.clock, tt.simulation, err, tt.ok)
		}
	}
}

func TestValidateClockMaxJump(t *testing.T) {
	if got := DefaultConfig().ClockMaxJump; got != time.Hour {
		t.Errorf("default clock_max_jump = %s, want 1h", got)
	}
	for _, tt := range []struct {
		jump  time.Duration
		valid bool
	}{
		{time.Second, true},
		{7 * 24 * time.Hour, true},
		{0, false},
		{time.Millisecond, false},
		{8 * 24 * time.Hour, false},
	} {
		cfg := DefaultConfig()
		cfg.ClockMaxJump = tt.jump
		err := cfg.Validate()
		if tt.valid != (err == nil) || (err != nil && !strings.Contains(err.Error(), "clock_max_jump")) {
			t.Errorf("clock_max_jump %s: error %v, want valid=%v", tt.jump, err, tt.valid)
		}
	}
}

func TestValidateMQTTTLS(t *testing.T) {
	for _, tt := range []struct {
		name string
		url  string
		tls  ExternalTLS
		want string // in the error; empty: valid
	}{
		{"none", "tcp://broker:1883", ExternalTLS{}, ""},
		{"a CA over ssl", "ssl://broker:8883", ExternalTLS{CAFile: "ca.pem"}, ""},
		{"a client certificate over mqtts", "mqtts://broker:8883", ExternalTLS{CertFile: "c.pem", KeyFile: "c.key", ServerName: "broker"}, ""},
		{"over plain tcp", "tcp://broker:1883", ExternalTLS{CAFile: "ca.pem"}, "not a TLS connection"},
		{"with the embedded broker", "", ExternalTLS{ServerName: "broker"}, "not a TLS connection"},
		{"a certificate without its key", "ssl://broker:8883", ExternalTLS{CertFile: "c.pem"}, "go together"},
	} {
		cfg := DefaultConfig()
		cfg.MQTT.URL, cfg.MQTT.TLS = tt.url, tt.tls
		err := cfg.Validate()
		if (tt.want == "") != (err == nil) || (err != nil && (!strings.Contains(err.Error(), "mqtt.tls") || !strings.Contains(err.Error(), tt.want))) {
			t.Errorf("%s: %v, want %q", tt.name, err, tt.want)
		}
	}
}

func TestValidateBrokerClientCA(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MQTT.Broker.ClientCAFile = "ca.pem"
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "mqtt.broker.client_ca_file") {
		t.Errorf("client_ca_file without the TLS listener: %v", err)
	}
	cfg.MQTT.Broker.TLSAddr, cfg.MQTT.Broker.CertFile, cfg.MQTT.Broker.KeyFile = "127.0.0.1:8883", "cert.pem", "key.pem"
	if err := cfg.Validate(); err != nil {
		t.Errorf("client_ca_file with the TLS listener: %v", err)
	}
}

func TestValidateSources(t *testing.T) {
	on := func(root string) SourceConfig { return SourceConfig{Enabled: true, TopicRoot: root} }
	tests := []struct {
		name    string
		edit    func(*SourcesConfig)
		wantErr string // empty: valid
	}{
		{"all off", func(*SourcesConfig) {}, ""},
		{"all on, default roots", func(s *SourcesConfig) {
			s.Zigbee2MQTT.Enabled, s.Tasmota.Enabled, s.Wmbusmeters.Enabled = true, true, true
		}, ""},
		{"a root of two levels", func(s *SourcesConfig) { s.Zigbee2MQTT = on("home/zigbee") }, ""},
		{"an empty root", func(s *SourcesConfig) { s.Tasmota = on("") }, "sources.tasmota.topic_root"},
		{"a wildcard", func(s *SourcesConfig) { s.Tasmota = on("tele/+") }, "sources.tasmota.topic_root"},
		{"a trailing slash", func(s *SourcesConfig) { s.Wmbusmeters = on("wmbusmeters/") }, "sources.wmbusmeters.topic_root"},
		{"$SYS", func(s *SourcesConfig) { s.Wmbusmeters = on("$SYS") }, "sources.wmbusmeters.topic_root"},
		{"two sources on one root", func(s *SourcesConfig) { s.Zigbee2MQTT, s.Wmbusmeters = on("home"), on("home") }, "overlaps"},
		{"one root under another", func(s *SourcesConfig) { s.Zigbee2MQTT, s.Tasmota = on("home"), on("home/tele") }, "overlaps"},
		{"under the native prefix", func(s *SourcesConfig) { s.Zigbee2MQTT = on("eldersafe/v1/zigbee") }, "overlaps mqtt.prefix"},
		{"a root off is not checked", func(s *SourcesConfig) { s.Tasmota = SourceConfig{TopicRoot: "+"} }, ""},
	}
	for _, tt := range tests {
		cfg := DefaultConfig()
		tt.edit(&cfg.Sources)
		err := cfg.Validate()
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("%s: unexpected error %v", tt.name, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("%s: error %v, want one naming %q", tt.name, err, tt.wantErr)
		}
	}
	cfg := DefaultConfig()
	cfg.Sources.Tasmota.Enabled = true
	if got := cfg.Sources.Ingest(); got.Tasmota != "tele" || got.Zigbee2MQTT != "" || got.Wmbusmeters != "" {
		t.Errorf("Ingest() = %+v, want tasmota alone", got)
	}
}

func TestValidatePprofAddr(t *testing.T) {
	for _, tt := range []struct {
		addr  string
		valid bool
	}{
		{"", true}, // off, the default
		{"127.0.0.1:6060", true},
		{"[::1]:6060", true},
		{"localhost:6060", true},
		{"0.0.0.0:6060", false},
		{":6060", false},
		{"10.0.0.5:6060", false},
		{"127.0.0.1", false},
	} {
		cfg := DefaultConfig()
		cfg.HTTP.PprofAddr = tt.addr
		err := cfg.Validate()
		if tt.valid != (err == nil) || (err != nil && !strings.Contains(err.Error(), "http.pprof_addr")) {
			t.Errorf("http.pprof_addr %q: error %v, want valid=%v", tt.addr, err, tt.valid)
		}
	}
}

func TestValidateMemory(t *testing.T) {
	for _, tt := range []struct {
		memory MemoryConfig
		bad    string // the key named, or "" for valid
	}{
		{DefaultConfig().Memory, ""},
		{MemoryConfig{}, ""}, // Go's default
		{MemoryConfig{HeadroomRatio: 4, HeadroomMinMB: 0}, ""},
		{MemoryConfig{HeadroomRatio: -0.1}, "memory.headroom_ratio"},
		{MemoryConfig{HeadroomRatio: 5}, "memory.headroom_ratio"},
		{MemoryConfig{HeadroomRatio: math.NaN()}, "memory.headroom_ratio"},
		{MemoryConfig{HeadroomRatio: 0.25, HeadroomMinMB: -1}, "memory.headroom_min_mb"},
		{MemoryConfig{HeadroomRatio: 0.25, HeadroomLoadRatio: -1}, "memory.headroom_load_ratio"},
		{MemoryConfig{HeadroomRatio: 0.25, HeadroomLoadRatio: 4.5}, "memory.headroom_load_ratio"},
		{MemoryConfig{HeadroomRatio: 0.25, HeadroomLoadRatio: math.NaN()}, "memory.headroom_load_ratio"},
		{MemoryConfig{HeadroomRatio: 0.25, HeadroomLoadRatio: 0.1}, ""}, // never widens
	} {
		cfg := DefaultConfig()
		cfg.Memory = tt.memory
		err := cfg.Validate()
		if (tt.bad == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.bad)) {
			t.Errorf("memory %+v: error %v, want %q", tt.memory, err, tt.bad)
		}
	}
}

func TestValidateJournal(t *testing.T) {
	for _, tt := range []struct {
		name     string
		journal  bool
		storeURL string
		interval time.Duration
		wantKey  string // named in the error; empty: valid
	}{
		{"sqlite", true, "", 5 * time.Minute, ""},
		{"postgresql without", false, "postgres://eldersafe@db:5432/eldersafe", 5 * time.Minute, ""},
		{"postgresql", true, "postgres://eldersafe@db:5432/eldersafe", 5 * time.Minute, "checkpoint.journal"},
		{"interval too short", true, "", 500 * time.Millisecond, "checkpoint.journal_interval"},
		{"interval too long", true, "", 2 * time.Hour, "checkpoint.journal_interval"},
	} {
		cfg := DefaultConfig()
		cfg.Checkpoint.Journal, cfg.Store.URL, cfg.Checkpoint.JournalInterval = tt.journal, tt.storeURL, tt.interval
		err := cfg.Validate()
		if (err == nil) != (tt.wantKey == "") || (err != nil && !strings.Contains(err.Error(), tt.wantKey)) {
			t.Errorf("%s: error %v, want one naming %q", tt.name, err, tt.wantKey)
		}
	}
}
