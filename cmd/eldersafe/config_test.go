package main

import (
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/eldersafe/eldersafe/app"
	"github.com/eldersafe/eldersafe/rules"
)

func loadWith(t *testing.T, file string) (app.Config, error) {
	t.Helper()
	cmd := &cobra.Command{}
	addConfigFlags(cmd.Flags())
	if file != "" {
		if err := cmd.Flags().Set("config", file); err != nil {
			t.Fatal(err)
		}
	}
	return loadConfig(cmd)
}

// TestEveryThresholdIsASetting checks that each rule parameter is a config
// key with the contract's default, in the shipped file as in the embedded
// defaults.
func TestEveryThresholdIsASetting(t *testing.T) {
	v := newViper()
	defaults := rules.DefaultConfig().Thresholds()
	for _, p := range rules.Params {
		key := "rules." + p.Key()
		if !v.IsSet(key) {
			t.Errorf("%s: no default, so ELDERSAFE_%s is not read", key, strings.ToUpper(strings.ReplaceAll(key, ".", "_")))
		}
	}
	for _, name := range rules.Switches {
		if key := "rules." + name + ".enabled"; !v.IsSet(key) {
			t.Errorf("%s: no default, so ELDERSAFE_%s is not read", key, strings.ToUpper(strings.ReplaceAll(key, ".", "_")))
		}
	}
	cfg, err := loadWith(t, "../../configs/eldersafe.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for name, on := range cfg.Rules.Enabled() {
		if !on {
			t.Errorf("configs/eldersafe.yaml: rules.%s.enabled is false, want the default true", name)
		}
	}
	got := cfg.Rules.Thresholds()
	for _, p := range rules.Params {
		if g, w := got[p.Rule][p.Name], defaults[p.Rule][p.Name]; g != w {
			t.Errorf("configs/eldersafe.yaml: rules.%s = %v, want the default %v", p.Key(), g, w)
		}
	}
	if cfg.Timezone != "Asia/Shanghai" || cfg.Checkpoint.Interval != time.Second {
		t.Errorf("timezone %q, checkpoint.interval %v; want Asia/Shanghai, 1s", cfg.Timezone, cfg.Checkpoint.Interval)
	}
}

func TestThresholdsFromEnvironment(t *testing.T) {
	t.Setenv("ELDERSAFE_RULES_WATER_NO_USE_HOURS", "10")
	t.Setenv("ELDERSAFE_RULES_NO_MOTION_WINDOW", "22:00-06:00")
	t.Setenv("ELDERSAFE_RULES_POWER_NO_USE_FLOOR_KWH", "0.5")
	t.Setenv("ELDERSAFE_RULES_DEVICE_OFFLINE_WRISTBAND_HOURS", "1.5")
	t.Setenv("ELDERSAFE_TIMEZONE", "Europe/Paris")
	t.Setenv("ELDERSAFE_CHECKPOINT_INTERVAL", "250ms")
	t.Setenv("ELDERSAFE_RULES_UNUSUAL_QUIET_ENABLED", "false")
	t.Setenv("ELDERSAFE_RULES_SENSOR_HEALTH_ENABLED", "false")
	for _, file := range []string{"", "../../configs/eldersafe.yaml"} {
		cfg, err := loadWith(t, file)
		if err != nil {
			t.Fatalf("config %q: %v", file, err)
		}
		rc, err := cfg.RulesEngineConfig()
		if err != nil {
			t.Fatal(err)
		}
		if rc.WaterNoUse != 10*time.Hour || rc.NoMotionWindow.String() != "22:00-06:00" || rc.PowerNoUseFloorKWh != 0.5 ||
			rc.WristbandOffline != 90*time.Minute || rc.NoExit != 72*time.Hour {
			t.Errorf("config %q: engine config %+v", file, rc)
		}
		if rc.Enabled(rules.RuleUnusualQuiet) || rc.Enabled(rules.SwitchSensorHealth) || !rc.Enabled(rules.RuleLateWake) {
			t.Errorf("config %q: unusual_quiet %v, sensor_health %v, late_wake %v; want off, off, on", file,
				rc.Enabled(rules.RuleUnusualQuiet), rc.Enabled(rules.SwitchSensorHealth), rc.Enabled(rules.RuleLateWake))
		}
		if cfg.Timezone != "Europe/Paris" || cfg.Checkpoint.Interval != 250*time.Millisecond {
			t.Errorf("config %q: timezone %q, checkpoint.interval %v", file, cfg.Timezone, cfg.Checkpoint.Interval)
		}
	}

	t.Setenv("ELDERSAFE_RULES_WATER_NO_USE_HOURS", "-1")
	t.Setenv("ELDERSAFE_TIMEZONE", "Mars/Olympus_Mons")
	_, err := loadWith(t, "")
	for _, want := range []string{"rules.water_no_use.hours: must be between 1 and 168", `timezone: "Mars/Olympus_Mons"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v, want it to name %q", err, want)
		}
	}

	t.Setenv("ELDERSAFE_RULES_LATE_WAKE_ENABLED", "maybe")
	if _, err := loadWith(t, ""); err == nil || !strings.Contains(err.Error(), "rules.late_wake.enabled") {
		t.Errorf("error %v, want it to name rules.late_wake.enabled", err)
	}
}
