package app

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/rules"
)

func TestRulesConfig(t *testing.T) {
	cfg := DefaultConfig()
	rc, err := cfg.RulesEngineConfig()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(rc, rules.DefaultConfig()) {
		t.Errorf("default engine config %+v, want rules.DefaultConfig()", rc)
	}
	// Every parameter of the engine is a setting, and nothing else is.
	got, want := cfg.Rules.Thresholds(), rules.DefaultConfig().Thresholds()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("config thresholds %v\nwant %v", got, want)
	}

	cfg.Rules.WaterNoUse.Hours = -3
	cfg.Rules.NoMotion.Window = "7-22"
	cfg.Rules.BatteryLow.Pct = 0
	_, err = cfg.RulesEngineConfig()
	for _, key := range []string{"rules.water_no_use.hours: must be between", "rules.no_motion.window", "rules.battery_low.pct"} {
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("error %v does not name %s", err, key)
		}
	}
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "rules.water_no_use.hours") {
		t.Errorf("Validate: %v, want it to name rules.water_no_use.hours", err)
	}
}

func TestValidateTimezoneAndCheckpoint(t *testing.T) {
	tests := []struct {
		name    string
		change  func(*Config)
		wantErr string
	}{
		{"defaults", func(*Config) {}, ""},
		{"other zone", func(c *Config) { c.Timezone = "America/New_York" }, ""},
		{"UTC", func(c *Config) { c.Timezone = "UTC" }, ""},
		{"unknown zone", func(c *Config) { c.Timezone = "Asia/Atlantis" }, `timezone: "Asia/Atlantis"`},
		{"no zone", func(c *Config) { c.Timezone = "" }, "timezone: required"},
		{"checkpoint zero", func(c *Config) { c.Checkpoint.Interval = 0 }, "checkpoint.interval"},
		{"checkpoint too long", func(c *Config) { c.Checkpoint.Interval = 2 * time.Hour }, "checkpoint.interval"},
		{"checkpoint fast", func(c *Config) { c.Checkpoint.Interval = 10 * time.Millisecond }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			tt.change(&cfg)
			err := cfg.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("Validate: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("Validate: %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestDiffSettings(t *testing.T) {
	a, b := DefaultConfig(), DefaultConfig()
	if d := diffSettings("", a, b); len(d) != 0 {
		t.Errorf("equal configs differ: %v", d)
	}
	b.HTTP.Addr = "0.0.0.0:9000"
	b.MQTT.Broker.Auth = "none"
	b.Rules.NoMotion.Window = "08:00-20:00"
	b.Tasks.AckDeadline.High = time.Hour
	b.Timezone = "UTC"
	var keys []string
	for _, c := range diffSettings("", a, b) {
		keys = append(keys, c.key)
	}
	want := "[http.addr mqtt.broker.auth rules.no_motion.window tasks.ack_deadline.high timezone]"
	if fmt.Sprint(keys) != want {
		t.Errorf("changed keys %v, want %s", keys, want)
	}
	d := diffSettings("rules", a.Rules, b.Rules)
	if len(d) != 1 || d[0].key != "rules.no_motion.window" || d[0].old != "07:00-22:00" || d[0].new != "08:00-20:00" {
		t.Errorf("rules diff %+v", d)
	}
}
