package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
)

// ChangesSince reads, in one read transaction, what was written since the
// state generation since and the settings generation settingsSince, for a
// standby that follows the leader's writes (migrations 00082, 00083): it
// hands each rule state written since, and that of every household whose
// devices were registered or changed, or whose settings were written (or
// which was registered), since, to state (one that does not decrypt is
// logged and left out, as at a start), then every device of those
// households to device, then the settings of those households to settings (its time zone and care level, its
// threshold overrides, nil for none, and its away periods). Together, all the store holds of a
// household erased and registered again under its id since. It returns
// the generations it read at, from which the next read follows: what is
// committed after this read is above them (SaveCheckpoint), and removed
// says a household was erased since; which, no row left can tell.
func (db *DB) ChangesSince(ctx context.Context, since, settingsSince uint64, state func(rules.State) error, device func(registry.RegisteredDevice) error,
	settings func(householdID string, f registry.RuleFields, overrides rules.Thresholds, away []registry.AwayPeriod) error) (generation, settingsGeneration uint64, removed bool, err error) {
	err = db.read(ctx, func(tx *sql.Tx) error {
		var erased uint64
		if err := tx.QueryRowContext(ctx, `SELECT n, households_removed, settings FROM state_generation WHERE id = 1`).Scan(&generation, &erased, &settingsGeneration); err != nil {
			return err
		}
		removed = erased > since
		if generation == since && settingsGeneration == settingsSince {
			return nil
		}
		// The households given a device, or whose settings were written
		// (or which was registered), since: all the store holds of them.
		const written = `(SELECT household_id FROM device_changes WHERE generation > ?
			UNION SELECT household_id FROM settings_changes WHERE generation > ?)`
		rows, err := tx.QueryContext(ctx, `SELECT household_id, data FROM rule_state WHERE generation > ?
			UNION ALL
			SELECT household_id, data FROM rule_state WHERE generation <= ? AND household_id IN `+written,
			since, since, since, settingsSince)
		if err != nil {
			return err
		}
		if err := db.eachRuleState(rows, state); err != nil {
			return err
		}
		if err := eachRegisteredIn(ctx, tx, device, `SELECT `+registeredDeviceCols+` FROM devices WHERE household_id IN `+written, since, settingsSince); err != nil {
			return err
		}
		return settingsChangedIn(ctx, tx, written, since, settingsSince, settings)
	})
	if err != nil {
		return 0, 0, false, fmt.Errorf("changes since generations %d and %d: %w", since, settingsSince, err)
	}
	return generation, settingsGeneration, removed, nil
}

// RegisteredHouseholdIDs is the set of every registered household's id:
// a standby's engine drops the households it knows that are not, once an
// erasure was written.
func (db *DB) RegisteredHouseholdIDs(ctx context.Context) (map[string]struct{}, error) {
	list, err := strings1(ctx, db.r, `SELECT id FROM households WHERE deleted_at IS NULL`)
	if err != nil {
		return nil, fmt.Errorf("registered households: %w", err)
	}
	ids := make(map[string]struct{}, len(list))
	for _, id := range list {
		ids[id] = struct{}{}
	}
	return ids, nil
}

// SettingsGeneration is the settings generation (migration 00083): a
// standby reads it before the settings it loads, and follows from it.
func (db *DB) SettingsGeneration(ctx context.Context) (uint64, error) {
	var g uint64
	if err := db.r.QueryRowContext(ctx, `SELECT settings FROM state_generation WHERE id = 1`).Scan(&g); err != nil {
		return 0, fmt.Errorf("settings generation: %w", err)
	}
	return g, nil
}

// settingsChangedIn hands each registered household of written, a
// subquery of household ids taking since and settingsSince, to each with
// its rule settings: time zone, care level, threshold overrides, away
// periods.
func settingsChangedIn(ctx context.Context, tx *sql.Tx, written string, since, settingsSince uint64,
	each func(householdID string, f registry.RuleFields, overrides rules.Thresholds, away []registry.AwayPeriod) error) error {
	periods, err := scanAwayPeriods(tx.QueryContext(ctx, `SELECT `+awayCols+` FROM away_periods
		WHERE household_id IN `+written+` ORDER BY household_id, from_at, seq`, since, settingsSince))
	if err != nil {
		return err
	}
	away := make(map[string][]registry.AwayPeriod)
	for _, p := range periods {
		away[p.HouseholdID] = append(away[p.HouseholdID], p)
	}
	rows, err := tx.QueryContext(ctx, `SELECT h.id, h.timezone, h.care_level, coalesce(t.thresholds, '')
		FROM households h LEFT JOIN household_thresholds t ON t.household_id = h.id
		WHERE h.deleted_at IS NULL AND h.id IN `+written, since, settingsSince)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id, doc string
			f       registry.RuleFields
		)
		if err := rows.Scan(&id, &f.Timezone, &f.CareLevel, &doc); err != nil {
			return err
		}
		var overrides rules.Thresholds
		if doc != "" {
			if overrides, err = decodeThresholds(doc); err != nil {
				return fmt.Errorf("thresholds of household %s: %w", id, err)
			}
		}
		if err := each(id, f, overrides, away[id]); err != nil {
			return err
		}
	}
	return rows.Err()
}
