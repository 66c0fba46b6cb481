package app

import (
	"fmt"
	"log/slog"
	"reflect"
	"strings"
)

// Reload applies a changed configuration to the running monitor. The rules
// thresholds change live: the engine re-arms every countdown, so a lower
// threshold can fire at once. Every other changed setting is logged as
// taking effect at the next restart. An invalid configuration is refused
// whole and changes nothing.
func (m *Monitor) Reload(cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	rc, err := cfg.RulesEngineConfig()
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	m.reloadMu.Lock()
	defer m.reloadMu.Unlock()
	changed := diffSettings("rules", m.live.Rules, cfg.Rules)
	if len(changed) == 0 {
		m.log.Info("config re-read; rules thresholds unchanged")
	} else {
		if err := m.decide.SetConfig(rc); err != nil {
			return err
		}
		m.live.Rules = cfg.Rules
		attrs := make([]any, 0, len(changed))
		for _, c := range changed {
			attrs = append(attrs, slog.String(c.key, fmt.Sprintf("%v -> %v", c.old, c.new)))
		}
		m.log.Info("rules thresholds reloaded", attrs...)
	}
	// Compared with what runs, so a setting changed back stops being listed.
	running, next := m.cfg, cfg
	running.Rules, next.Rules = RulesConfig{}, RulesConfig{}
	if changed := diffSettings("", running, next); len(changed) > 0 {
		keys := make([]string, len(changed))
		for i, c := range changed {
			keys[i] = c.key // names only: some values are secrets
		}
		m.log.Warn("changed settings take effect at the next restart", "keys", strings.Join(keys, ", "))
	}
	return nil
}

type settingChange struct {
	key      string
	old, new any
}

// diffSettings lists the config keys whose values differ between a and b,
// two values of the same config struct type, named by their mapstructure tags.
func diffSettings(prefix string, a, b any) []settingChange {
	var out []settingChange
	diffValues(prefix, reflect.ValueOf(a), reflect.ValueOf(b), &out)
	return out
}

func diffValues(key string, a, b reflect.Value, out *[]settingChange) {
	if a.Kind() != reflect.Struct || a.Type().PkgPath() != reflect.TypeFor[Config]().PkgPath() {
		if !reflect.DeepEqual(a.Interface(), b.Interface()) {
			*out = append(*out, settingChange{key: key, old: a.Interface(), new: b.Interface()})
		}
		return
	}
	for i := range a.NumField() {
		f := a.Type().Field(i)
		if !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("mapstructure"), ",")
		sub := key
		if !strings.Contains(opts, "squash") {
			if name == "" {
				name = strings.ToLower(f.Name)
			}
			if sub != "" {
				sub += "."
			}
			sub += name
		}
		diffValues(sub, a.Field(i), b.Field(i), out)
	}
}
