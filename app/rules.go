package app

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"time"

	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
)

// awayLookback is how far back start-up loads away periods. An older period
// can no longer change when a countdown is due: the longest threshold
// (no_exit, at most 720 h) has run out since it ended, either way.
const awayLookback = 30 * 24 * time.Hour

// maxAhead is how far ahead of the wall clock a reading may be stamped and
// still be applied at its own time. Under the wall clock, one stamped later
// than that (a device whose clock runs fast) is applied at the wall clock's
// now: its time must not postpone countdowns. Ingest already rejects a ts
// more than 7 days ahead as future_ts.
const maxAhead = 5 * time.Minute

// startRules creates the rules engine and gives it what it had before the
// last stop: every household's settings (time zone, overrides, away
// periods), its checkpointed state, and the registered devices. It must run
// before ingest starts.
func (m *Monitor) startRules(ctx context.Context) error {
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
	m.live = m.cfg
	if err := m.loadRules(ctx); err != nil {
		return fmt.Errorf("load rules state: %w", err)
	}
	m.checkpointDone = m.goRun(&m.stopCheckpoint, m.runCheckpoints)
	return nil
}

func (m *Monitor) loadRules(ctx context.Context) error {
	now := m.clock.Now() // zero while the event clock has not started
	zones, err := m.db.HouseholdTimezones(ctx)
	if err != nil {
		return err
	}
	overrides, err := m.db.AllHouseholdThresholds(ctx)
	if err != nil {
		return err
	}
	var since time.Time
	if !now.IsZero() {
		since = now.Add(-awayLookback)
	}
	periods, err := m.db.AwayPeriodsEndingAfter(ctx, since)
	if err != nil {
		return err
	}
	away := make(map[string][]rules.Period)
	for _, p := range periods {
		away[p.HouseholdID] = append(away[p.HouseholdID], rules.Period{From: p.From, Until: p.Until})
	}
	for id, tz := range zones {
		st := rules.Settings{Overrides: overrides[id], Away: away[id]}
		if tz != "" {
			loc, err := time.LoadLocation(tz)
			if err != nil {
				m.log.Error("household time zone unknown here; it runs on the default time zone", "household_id", id, "timezone", tz, "err", err)
			}
			st.Location = loc
		}
		if st.Location == nil && len(st.Overrides) == 0 && len(st.Away) == 0 {
			continue
		}
		if err := m.engine.SetHousehold(id, st); err != nil {
			// Overrides stored by an earlier version may be out of today's
			// ranges: the household still gets its zone and away periods.
			m.log.Error("household threshold overrides refused; it runs on the global thresholds until they are put again",
				"household_id", id, "err", err)
			st.Overrides = nil
			if err := m.engine.SetHousehold(id, st); err != nil {
				return err
			}
		}
	}

	states, err := m.db.RuleStates(ctx)
	if err != nil {
		return err
	}
	restored := 0
	for _, st := range states {
		if err := m.engine.Restore(st, now); err != nil {
			m.log.Error("rule state not restored; the household's countdowns start afresh", "household_id", st.HouseholdID, "err", err)
			continue
		}
		restored++
	}

	devices, err := m.db.RegisteredDevices(ctx)
	if err != nil {
		return err
	}
	m.known = make([]registry.Device, 0, len(devices))
	for _, d := range devices {
		// A device is expected to speak from its registration on: under the
		// event clock from now, or its first message before the clock starts.
		at := d.CreatedAt
		if m.event != nil {
			at = now
		}
		m.engine.AddDevice(d.HouseholdID, d.ID, d.Kind, at)
		m.known = append(m.known, d.Device)
	}
	m.log.Info("rules state loaded", "households", len(zones), "restored", restored, "devices", len(devices),
		"overrides", len(overrides), "away_periods", len(periods))
	return nil
}

// runCheckpoints saves the rules' state every checkpoint.interval; Close
// takes the last checkpoint once ingest and timers have stopped.
func (m *Monitor) runCheckpoints(ctx context.Context) error {
	t := time.NewTicker(m.cfg.Checkpoint.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			m.checkpoint()
		}
	}
}

// checkpoint writes every household changed since the last checkpoint in one
// transaction. On failure they stay marked changed and the next one retries.
func (m *Monitor) checkpoint() {
	m.forget.checkpointMu.Lock()
	defer m.forget.checkpointMu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := m.engine.Checkpoint(func(batch []rules.State) error { return m.db.SaveRuleStates(ctx, batch) })
	if err != nil {
		m.log.Error("save rule state; retrying at the next checkpoint", "err", err)
	}
}

// finalCheckpoint saves what changed since the last checkpoint, on Close.
func (m *Monitor) finalCheckpoint() {
	stop(m.stopCheckpoint, m.checkpointDone)
	if m.engine != nil && m.db != nil {
		m.checkpoint()
	}
}

// clampFuture applies a reading stamped more than maxAhead after now at now.
func clampFuture(r rules.Reading, now time.Time) rules.Reading {
	if r.TS.After(now.Add(maxAhead)) {
		r.TS = now
	}
	return r
}

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
		if err := m.engine.SetConfig(rc); err != nil {
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
