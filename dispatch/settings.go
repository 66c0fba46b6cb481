package dispatch

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
	"github.com/eldersafe/eldersafe/snapshot"
)

// awayLookback is how far back start-up loads away periods. An older period
// can no longer change when a countdown is due: the longest threshold
// (no_exit, at most 720 h) has run out since it ended, either way.
const awayLookback = 30 * 24 * time.Hour

// DeviceCache is ingest's cache of the registered devices, which Load fills:
// from the snapshot's image of it, or a device at a time from the store.
type DeviceCache interface {
	// Reserve sizes the cache for about n devices, before they come.
	Reserve(n int)
	// Remember caches a device; safe for concurrent use.
	Remember(registry.Device)
	// LoadCachePart restores a part of the snapshot's image of the cache;
	// the parts may come at once.
	LoadCachePart(part []byte) error
	// ForgetHouseholdsUnless drops the devices of every household keep
	// says no to: a standby's, once households were erased.
	ForgetHouseholdsUnless(keep func(householdID string) bool)
}

// Load gives the engine what it had before the last stop: every household's
// settings (time zone, overrides, away periods), its saved state, and the
// registered devices, which it gives devices too, from several goroutines at
// once. The states and devices come from the snapshot of the last clean stop
// while the store has not written either since (the devices alone, mended
// with those written since, while no device was removed), else from the
// store. It must run before readings arrive, on the clock restored.
func (d *Dispatcher) Load(ctx context.Context, devices DeviceCache) error {
	journaled, err := d.load(ctx, devices)
	if err != nil {
		return fmt.Errorf("load rules state: %w", err)
	}
	if d.journal != nil {
		return d.replay(ctx, journaled)
	}
	return nil
}

// load restores the rules' state from the snapshot or the store, and
// returns the last record of the journal it holds.
func (d *Dispatcher) load(ctx context.Context, cache DeviceCache) (journaled uint64, err error) {
	now := d.clock.Now() // zero while the event clock has not started
	// Read before the state is: what is loaded holds at least what the
	// store held at these generations, and a standby follows from there.
	states, devices, err := d.store.Generations(ctx)
	if err != nil {
		return 0, err
	}
	d.followed = states
	if d.standby {
		if d.settingsFollowed, err = d.store.SettingsGeneration(ctx); err != nil {
			return 0, err
		}
	}
	// The settings are read beside the big reads (every household's state,
	// decrypted; every device): with a million households each takes
	// seconds, and the store answers them on separate connections. Nothing
	// is restored before they are applied.
	var settings errgroup.Group
	settings.Go(func() error { return d.loadSettings(ctx, now) })
	if d.snapshot != nil {
		journaled, err := d.loadSnapshot(ctx, now, states, devices, cache, &settings)
		var serr settingsError
		switch {
		case err == nil:
			return journaled, nil
		case errors.As(err, &serr), ctx.Err() != nil:
			return 0, err
		}
		// Whatever the snapshot restored is restored again from the store,
		// which holds the same or newer: a household's Restore replaces its
		// state, and a device known is not added twice (a part of the
		// cache's image is restored whole or not at all).
		if errors.Is(err, fs.ErrNotExist) {
			d.log.Info("no rules state snapshot; loading it from the store")
		} else {
			d.log.Warn("rules state snapshot not used; loading it from the store", "err", err)
		}
	}
	return 0, d.loadStore(ctx, now, cache, &settings)
}

// settingsError is the settings' load failing under a snapshot's: the
// start fails rather than falling back to the store.
type settingsError struct{ error }

func (e settingsError) Unwrap() error { return e.error }

// loadSnapshot restores what the snapshot holds that the store has not
// changed since, once settings are applied, and returns the last record of
// the journal it holds: every household's state and devices, and ingest's
// device cache, while no rule state or device was written since it was
// taken; else, while no device was removed (after a crash, or a start
// that ran on from it), the devices and the cache, mended with the devices
// written since, with the states from the store. states and devices are
// the store's generations.
func (d *Dispatcher) loadSnapshot(ctx context.Context, now time.Time, states, devices uint64, cache DeviceCache, settings *errgroup.Group) (journaled uint64, err error) {
	f, err := d.snapshot.Open()
	if errors.Is(err, snapshot.ErrVersion) {
		// No version reads it, and it holds every household of its day,
		// erased ones too, readable with the monitor's key.
		d.shredSnapshot()
	}
	if err != nil {
		return 0, err
	}
	defer f.Close()
	taken := f.Taken()
	// A household erased since is in the snapshot: shredded once what can
	// still be used of it (the devices, if none was removed) has been.
	erased, err := d.store.HouseholdsErasedSince(ctx, taken.States)
	if err != nil {
		return 0, err
	}
	if erased {
		defer d.shredSnapshot()
	}
	if taken.States > states || taken.Devices > devices {
		// A database restored from a backup taken before the snapshot.
		return 0, fmt.Errorf("snapshot of generations %d and %d, the store's are older: %d and %d", taken.States, taken.Devices, states, devices)
	}
	// A device written moves both generations: the states are not the
	// snapshot's then either.
	written := 0
	if taken.Devices != devices {
		var known bool
		if written, known, err = d.store.DevicesWrittenSince(ctx, taken.Devices); err != nil {
			return 0, err
		}
		switch {
		case !known:
			return 0, fmt.Errorf("snapshot of device generation %d, the store's is %d: the store cannot tell which devices were written since (one was removed, or the snapshot is older than migration 00080)", taken.Devices, devices)
		case written > maxDevicesMended:
			return 0, fmt.Errorf("snapshot of device generation %d, the store's is %d: %d households' devices written since", taken.Devices, devices, written)
		}
	}
	if taken.States != states {
		return 0, d.loadStoredStates(ctx, now, f, cache, written, settings)
	}
	if err := settings.Wait(); err != nil {
		return 0, settingsError{err}
	}
	restored, known, err := d.restoreSnapshot(ctx, now, f, cache, func(st rules.State) (rules.State, bool) { return st, true })
	if err != nil {
		return 0, err
	}
	d.fromSnapshot.Set(1)
	d.devicesFromSnapshot.Set(1)
	d.log.Info("rules state loaded from the snapshot", "generation", states, "restored", restored, "devices", known, "journaled", taken.Journaled)
	return taken.Journaled, nil
}

// restoreSnapshot restores each household of f in one step, with the state
// pick gives it and f's devices, which under either clock are expected
// from now if the state lacks them, and ingest's cache from f's image; it
// returns how many states and devices it restored. pick's false is a
// household with no state saved: left out if it has no devices either (one
// erased since, which had none). A state the engine cannot read is logged,
// and the household's countdowns start afresh, its devices watched.
func (d *Dispatcher) restoreSnapshot(ctx context.Context, now time.Time, f *snapshot.File, cache DeviceCache, pick func(rules.State) (rules.State, bool)) (restored, known int64, err error) {
	var states, devices atomic.Int64
	err = f.Read(ctx, func(st rules.State, known []rules.SavedDevice) error {
		st, saved := pick(st)
		if !saved && len(known) == 0 {
			return nil
		}
		devices.Add(int64(len(known)))
		if err := d.engine.RestoreHousehold(st, known, now); err != nil {
			d.log.Error("rule state not restored; the household's countdowns start afresh", "household_id", st.HouseholdID, "err", err)
			return d.engine.RestoreHousehold(rules.State{HouseholdID: st.HouseholdID}, known, now)
		}
		if len(st.Data) > 0 {
			states.Add(1)
		}
		return nil
	}, cache.LoadCachePart)
	return states.Load(), devices.Load(), err
}

// maxDevicesMended is how many households' devices a start reads from the
// store to mend the snapshot's: beyond it (an import since the last clean
// stop) it reads every device instead, in the table's order rather than
// each household's. A variable: the tests lower it.
var maxDevicesMended = 100_000

// loadStoredStates restores every household's state from the store, with
// its devices from the snapshot f and ingest's cache from f's image, once
// settings are applied; then the devices of the written households
// (registered, given a device or a device changed since f; no device was
// removed since) from the store. The states read from the store replace
// the snapshot's, which are older; a journal is replayed from its start,
// as after a start from the store.
func (d *Dispatcher) loadStoredStates(ctx context.Context, now time.Time, f *snapshot.File, cache DeviceCache, written int, settings *errgroup.Group) error {
	stored, err := d.store.RuleStates(ctx)
	if err != nil {
		return err
	}
	if err := settings.Wait(); err != nil {
		return settingsError{err}
	}
	// A map: a binary search of a million ids took twice the CPU of its
	// making and lookups.
	index := make(map[string]int, len(stored))
	for i, st := range stored {
		index[st.HouseholdID] = i
	}
	found := make([]bool, len(stored)) // each written by one household's restore
	restored, known, err := d.restoreSnapshot(ctx, now, f, cache, func(st rules.State) (rules.State, bool) {
		i, ok := index[st.HouseholdID]
		if !ok {
			return rules.State{HouseholdID: st.HouseholdID}, false
		}
		found[i] = true
		return stored[i], true
	})
	if err != nil {
		return err
	}
	// A state the snapshot has no household for: one registered since.
	for i, st := range stored {
		if !found[i] && d.restoreStored(st, now) {
			restored++
		}
	}
	// After the states, which hold the devices they knew, as from the
	// store: the engine adds those it lacks and takes every one's interval.
	var mended int
	if written > 0 {
		err = d.store.EachDeviceWrittenSince(ctx, f.Taken().Devices, func(rd registry.RegisteredDevice) error {
			cache.Remember(rd.Device)
			d.expect(d.storedDevice(rd, now))
			mended++
			return nil
		})
		if err != nil {
			return err
		}
	}
	d.devicesFromSnapshot.Set(1)
	d.log.Info("rules state loaded from the store, the devices from the snapshot", "restored", restored, "devices", known, "device_generation", f.Taken().Devices,
		"households_written_since", written, "devices_read", mended)
	return nil
}

// storedDevice is what the engine takes of a device read from the store at
// a start: expected to speak from its registration, or from now under the
// event clock (its first message before the clock starts).
func (d *Dispatcher) storedDevice(rd registry.RegisteredDevice, now time.Time) engineDevice {
	at := rd.CreatedAt
	if d.event != nil {
		at = now
	}
	return engineDevice{household: rd.HouseholdID, device: savedDevice(rd.Device), at: at}
}

// loadStore reads every household's state and every device from the store
// and restores them, once settings are applied.
// The states are restored while the devices are still being read, and the
// devices go to ingest's cache as they are read; the engine takes them
// after the states, which hold the devices they knew, so it keeps of each
// only what it needs meanwhile.
func (d *Dispatcher) loadStore(ctx context.Context, now time.Time, cache DeviceCache, settings *errgroup.Group) error {
	var (
		restored int
		// By half of the store's read, each appended to by its own goroutine.
		devices [2][]engineDevice
	)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		states, err := d.store.RuleStates(gctx)
		if err != nil {
			return err
		}
		if settings.Wait() != nil {
			return nil // joined below, once
		}
		for _, st := range states {
			if d.restoreStored(st, now) {
				restored++
			}
		}
		return nil
	})
	g.Go(func() error {
		_, n, err := d.store.Counts(gctx)
		if err != nil {
			return err
		}
		cache.Reserve(n)
		// The count is a hint only.
		devices[0], devices[1] = make([]engineDevice, 0, n/2+1), make([]engineDevice, 0, n/2+1)
		return d.store.EachRegisteredDevice(gctx, func(half int, rd registry.RegisteredDevice) error {
			cache.Remember(rd.Device)
			devices[half] = append(devices[half], d.storedDevice(rd, now))
			return nil
		})
	})
	if err := errors.Join(settings.Wait(), g.Wait()); err != nil {
		return err
	}
	for _, half := range devices {
		for _, dev := range half {
			d.expect(dev)
		}
	}
	d.log.Info("rules state loaded", "restored", restored, "devices", len(devices[0])+len(devices[1]))
	return nil
}

// restoreStored restores a household's state read from the store and
// says whether it did: one the engine cannot read is logged, and the
// household's countdowns start afresh, as one that did not decrypt.
func (d *Dispatcher) restoreStored(st rules.State, now time.Time) bool {
	if err := d.engine.Restore(st, now); err != nil {
		d.log.Error("rule state not restored; the household's countdowns start afresh", "household_id", st.HouseholdID, "err", err)
		return false
	}
	return true
}

// expect makes the engine expect messages from dev, as often as its every
// says, from its at on; for a device it knows, it takes every.
func (d *Dispatcher) expect(dev engineDevice) {
	d.engine.ExpectDevice(dev.household, dev.device, dev.at)
}

// engineDevice is what the engine takes of a registered device.
type engineDevice struct {
	household string
	device    rules.SavedDevice
	at        time.Time // expected to speak from
}

// savedDevice is what the engine keeps of a registered device.
func savedDevice(dev registry.Device) rules.SavedDevice {
	return rules.SavedDevice{ID: dev.ID, Kind: dev.Kind, Every: dev.ExpectedEvery}
}

// SavePart hands the state of each household of one of parts disjoint
// parts (part from 0 to parts-1) with its devices, for a snapshot at a
// clean stop, once the decision step has stopped: parts goroutines save
// every household at once (the state's data and the devices handed over
// are reused between calls). False (and nothing handed) when the last write
// of the rules' state failed: the store does not hold what the engine
// does, and a snapshot would claim it did.
func (d *Dispatcher) SavePart(part, parts int, yield func(rules.State, []rules.SavedDevice) bool) bool {
	if d.commits.failing.Load() {
		return false
	}
	d.engine.SavePart(part, parts, yield)
	return true
}

// loadSettings applies the time zone, care level, overrides and away
// periods of every household that has any: the rest run on the defaults,
// and a million of them are not read from the store to learn that.
func (d *Dispatcher) loadSettings(ctx context.Context, now time.Time) error {
	// A self_care profile applies to every household that has no level
	// set apart, so then every household is read.
	fields, err := d.store.HouseholdRuleFields(ctx, len(d.levels[registry.CareSelfCare]) > 0, d.engine.DefaultLocation().String())
	if err != nil {
		return err
	}
	overrides, err := d.store.AllHouseholdThresholds(ctx)
	if err != nil {
		return err
	}
	var since time.Time
	if !now.IsZero() {
		since = now.Add(-awayLookback)
	}
	periods, err := d.store.AwayPeriodsEndingAfter(ctx, since)
	if err != nil {
		return err
	}
	away := make(map[string][]registry.AwayPeriod)
	for _, p := range periods {
		away[p.HouseholdID] = append(away[p.HouseholdID], p)
	}
	// Overrides and away periods belong to registered households only (a
	// deletion sweeps them): one missing from fields has the defaults there.
	ids := make(map[string]bool, len(fields)+len(overrides)+len(away))
	for id := range fields {
		ids[id] = true
	}
	for id := range overrides {
		ids[id] = true
	}
	for id := range away {
		ids[id] = true
	}
	applied := 0
	for id := range ids {
		f := fields[id]
		if f.Timezone == "" && len(overrides[id]) == 0 && len(away[id]) == 0 && len(d.levels[f.CareLevel.OrDefault()]) == 0 {
			continue
		}
		if err := d.apply(id, f.Timezone, f.CareLevel, overrides[id], away[id]); err != nil {
			return err
		}
		applied++
	}
	d.log.Info("rules settings loaded", "households", applied, "overrides", len(overrides), "away_periods", len(periods))
	return nil
}

// apply hands the engine a household's settings: its time zone (empty: the
// monitor's default), its care level's thresholds under its own overrides,
// and away periods. A time zone this machine does not know, or overrides
// out of today's ranges (stored by an earlier version), are logged and left
// out: the household keeps being watched on the defaults rather than not at
// all.
func (d *Dispatcher) apply(id, tz string, level registry.CareLevel, overrides rules.Thresholds, away []registry.AwayPeriod) error {
	st := rules.Settings{Overrides: d.withLevel(level, overrides)}
	if tz != "" {
		loc, err := registry.LoadLocation(tz)
		if err != nil {
			d.log.Error("household time zone unknown here; it runs on the default time zone", "household_id", id, "timezone", tz, "err", err)
		}
		st.Location = loc
	}
	for _, p := range away {
		st.Away = append(st.Away, rules.Period{From: p.From, Until: p.Until})
	}
	if err := d.engine.SetHousehold(id, st); err != nil {
		d.log.Error("household threshold overrides refused; it runs on the global thresholds until they are put again",
			"household_id", id, "err", err)
		// The level's profile was checked at start: keep it if it alone is good.
		st.Overrides = d.withLevel(level, nil)
		if err := d.engine.SetHousehold(id, st); err == nil {
			return nil
		}
		st.Overrides = nil
		if err := d.engine.SetHousehold(id, st); err != nil {
			return fmt.Errorf("apply rule settings of household %s: %w", id, err)
		}
	}
	return nil
}

// HouseholdChanged reads a household's rule settings from the store and
// applies them: call it after storing a change of its time zone, threshold
// overrides or away periods. Racing calls leave the engine as stored last,
// and a household being deleted is not brought back.
func (d *Dispatcher) HouseholdChanged(ctx context.Context, householdID string) error {
	d.settingsMu.Lock()
	defer d.settingsMu.Unlock()
	d.forget.mu.RLock()
	gone := d.forget.deleted(householdID)
	d.forget.mu.RUnlock()
	if gone {
		return nil
	}
	h, err := d.store.Household(ctx, householdID)
	if err != nil {
		return fmt.Errorf("load household %s: %w", householdID, err)
	}
	overrides, err := d.store.HouseholdThresholds(ctx, householdID)
	if err != nil {
		return err
	}
	// Every period: a household has few, and an old one is harmless.
	away, err := d.store.AwayPeriodsOf(ctx, householdID, time.Time{})
	if err != nil {
		return err
	}
	return d.apply(householdID, h.Timezone, h.CareLevel, overrides, away)
}

// withLevel is a household's thresholds over the global ones: its care
// level's profile with its own overrides on top, parameter by parameter.
func (d *Dispatcher) withLevel(level registry.CareLevel, overrides rules.Thresholds) rules.Thresholds {
	profile := d.levels[level.OrDefault()]
	if len(profile) == 0 {
		return overrides
	}
	if len(overrides) == 0 {
		// The level's own, shared by its households (neither the engine nor
		// this package writes to it): a copy each was about 560 bytes
		// of heap a household (docs/performance.md, "Thirty-seventh round").
		return profile
	}
	merged := make(rules.Thresholds, len(profile)+len(overrides))
	for _, t := range []rules.Thresholds{profile, overrides} {
		for rule, params := range t {
			if merged[rule] == nil {
				merged[rule] = make(map[string]any, len(params))
			}
			for name, v := range params {
				merged[rule][name] = v
			}
		}
	}
	return merged
}

// LevelThresholds is the thresholds profile of a care level: what its
// households' rules run with where they have no override of their own.
func (d *Dispatcher) LevelThresholds(level registry.CareLevel) rules.Thresholds {
	profile := d.levels[level.OrDefault()]
	if profile == nil {
		return rules.Thresholds{}
	}
	return profile
}

// DeviceRegistered makes the engine expect messages from a new device from
// now on (the monitor's clock), so one that never speaks goes offline, as
// often as it is expected to report; for a device it knows, it takes the
// new expected_every.
func (d *Dispatcher) DeviceRegistered(dev registry.Device) {
	d.expect(engineDevice{household: dev.HouseholdID, device: savedDevice(dev), at: d.clock.Now()})
}

// Monitoring is how well a household is watched: ok, degraded or
// unmonitored, and its stale welfare signals.
func (d *Dispatcher) Monitoring(householdID string) rules.Monitoring {
	return d.engine.Monitoring(householdID, d.clock.Now())
}

// SetConfig replaces the global thresholds, e.g. when the config file
// changes: every countdown is looked at again, so a lower threshold can fire
// at once.
func (d *Dispatcher) SetConfig(c rules.Config) error { return d.engine.SetConfig(c) }

// CheckThresholds checks household overrides with the engine's own
// validation: every unknown rule or parameter, wrong unit or out-of-range
// value is named.
func (d *Dispatcher) CheckThresholds(t rules.Thresholds) error {
	_, err := d.engine.Config().With(t)
	return err
}

// Thresholds lists every rule parameter in force for a household, its
// overrides applied.
func (d *Dispatcher) Thresholds(householdID string) rules.Thresholds {
	return d.engine.Effective(householdID).Thresholds()
}

// Location is a household's time zone, as the rules read it: ingest reads
// the local times some devices stamp (Tasmota's) in it.
func (d *Dispatcher) Location(householdID string) *time.Location {
	return d.engine.Location(householdID)
}

// Status reports the live status of a household's devices.
func (d *Dispatcher) Status(householdID string) []rules.DeviceStatus {
	return d.engine.Status(householdID, d.clock.Now())
}

// Baseline is what the rules learned of a household's motion.
func (d *Dispatcher) Baseline(householdID string) rules.Baseline {
	return d.engine.Baseline(householdID)
}
