package dispatch

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
)

// A standby (CONTRACT §15) loads the rules' state as a start does, then
// follows what the leader writes, so that taking over reads the last
// seconds of writes rather than every household: at 1,000,000 households
// a load is about 21 s on PostgreSQL, past the lease_ttl + 5 s a takeover
// is allowed (docs/performance.md, "Thirty-sixth round").

// Follow applies what the store wrote since Load, or the last Follow: each
// rule state written since replaces the engine's (the leader's engine held
// it when it wrote it), and the devices of the households given one are
// cached and expected. Once an erasure was written, every household no
// longer registered is forgotten, with its devices and the snapshot of
// the standby's last clean stop, which holds them; so is every household
// given a device or whose settings were written (or which was registered)
// since, before what the store holds of it is applied: it may be one
// erased and registered again under its id. Last, the settings (time
// zone, care level, overrides, away periods) of every household whose
// settings or devices were written since are applied as stored. A failure
// changes nothing that the next Follow does not apply again.
func (d *Dispatcher) Follow(ctx context.Context, cache DeviceCache) error {
	if !d.standby {
		return errors.New("follow the store: only a standby's decision step does (Options.Standby)")
	}
	now := d.clock.Now()
	var (
		states   []rules.State
		devices  []registry.RegisteredDevice
		settings []householdSettings
	)
	generation, settingsGeneration, removed, err := d.store.ChangesSince(ctx, d.followed, d.settingsFollowed,
		func(st rules.State) error { states = append(states, st); return nil },
		func(rd registry.RegisteredDevice) error { devices = append(devices, rd); return nil },
		func(id string, f registry.RuleFields, overrides rules.Thresholds, away []registry.AwayPeriod) error {
			settings = append(settings, householdSettings{id, f, overrides, away})
			return nil
		})
	if err != nil {
		return fmt.Errorf("follow the store: %w", err)
	}
	gone := 0
	if removed {
		began := time.Now()
		if gone, err = d.forgetErased(ctx, cache, devices, settings); err != nil {
			return fmt.Errorf("follow the store: %w", err)
		}
		d.log.Info("standing by: forgot the households erased", "households", gone, "took", time.Since(began))
		d.shredSnapshot()
	}
	restored := 0
	for _, st := range states {
		if d.restoreStored(st, now) {
			restored++
		}
	}
	// After the states, which hold the devices they knew, as at a start.
	for _, rd := range devices {
		cache.Remember(rd.Device)
		d.expect(d.storedDevice(rd, now))
	}
	d.settingsMu.Lock()
	for _, s := range settings {
		if err := d.apply(s.id, s.fields.Timezone, s.fields.CareLevel, s.overrides, s.away); err != nil {
			d.settingsMu.Unlock()
			return fmt.Errorf("follow the store: %w", err)
		}
	}
	d.settingsMu.Unlock()
	d.statesFollowed.Add(float64(restored))
	d.lastFollow.SetToCurrentTime()
	if restored+len(devices)+gone+len(settings) > 0 {
		d.log.Debug("followed the store", "from", d.followed, "to", generation, "states", restored, "devices", len(devices),
			"households_erased", gone, "settings", len(settings))
	}
	d.followed, d.settingsFollowed = generation, settingsGeneration
	return nil
}

// householdSettings are a household's rule settings as stored.
type householdSettings struct {
	id        string
	fields    registry.RuleFields
	overrides rules.Thresholds
	away      []registry.AwayPeriod
}

// forgetErased forgets, in the engine and the device cache, every
// household no longer registered, and every one among written or settled
// (what the store holds of those is applied next: one may be a household
// erased and registered again under its id), and returns how many of the
// former it forgot.
func (d *Dispatcher) forgetErased(ctx context.Context, cache DeviceCache, written []registry.RegisteredDevice, settled []householdSettings) (int, error) {
	registered, err := d.store.RegisteredHouseholdIDs(ctx)
	if err != nil {
		return 0, err
	}
	rebuilt := make(map[string]struct{})
	for _, rd := range written {
		rebuilt[rd.HouseholdID] = struct{}{}
	}
	for _, s := range settled {
		rebuilt[s.id] = struct{}{}
	}
	for id := range rebuilt {
		delete(registered, id)
	}
	keep := func(id string) bool {
		_, ok := registered[id]
		return ok
	}
	d.settingsMu.Lock()
	defer d.settingsMu.Unlock()
	gone := 0
	d.engine.RemoveUnless(func(id string) bool {
		if keep(id) {
			return true
		}
		if _, ok := rebuilt[id]; !ok {
			gone++
		}
		return false
	})
	cache.ForgetHouseholdsUnless(keep)
	return gone, nil
}
