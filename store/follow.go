package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
)

// ChangesSince reads, in one read transaction, what was written since the
// state generation since, for a standby that follows the leader's writes
// (migration 00082): it hands each rule state written since, and that of
// every household whose devices were registered or changed since, to
// state (one that does not decrypt is logged and left out, as at a
// start), then every device of those households to device: together, all
// the store holds of them, which a household erased and registered again
// under its id since needs. It returns the generation it read at, from which the next
// read follows: a state committed after this read has a generation above
// it (SaveCheckpoint). removed says a household was erased since; which,
// no row left can tell.
func (db *DB) ChangesSince(ctx context.Context, since uint64, state func(rules.State) error, device func(registry.RegisteredDevice) error) (generation uint64, removed bool, err error) {
	err = db.read(ctx, func(tx *sql.Tx) error {
		var erased uint64
		if err := tx.QueryRowContext(ctx, `SELECT n, households_removed FROM state_generation WHERE id = 1`).Scan(&generation, &erased); err != nil {
			return err
		}
		removed = erased > since
		if generation == since {
			return nil
		}
		rows, err := tx.QueryContext(ctx, `SELECT household_id, data FROM rule_state WHERE generation > ?
			UNION ALL
			SELECT s.household_id, s.data FROM rule_state s JOIN device_changes c ON c.household_id = s.household_id
			WHERE c.generation > ? AND s.generation <= ?`, since, since, since)
		if err != nil {
			return err
		}
		if err := db.eachRuleState(rows, state); err != nil {
			return err
		}
		return eachRegisteredIn(ctx, tx, device, devicesWrittenSince, since)
	})
	if err != nil {
		return 0, false, fmt.Errorf("changes since generation %d: %w", since, err)
	}
	return generation, removed, nil
}

// RegisteredHouseholdIDs is the set of every registered household's id:
// a standby's engine drops the households it knows that are not, once an
// erasure was written.
func (db *DB) RegisteredHouseholdIDs(ctx context.Context) (map[string]struct{}, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT id FROM households WHERE deleted_at IS NULL`)
	if err != nil {
		return nil, fmt.Errorf("registered households: %w", err)
	}
	defer rows.Close()
	ids := make(map[string]struct{})
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("registered households: %w", err)
		}
		ids[id] = struct{}{}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("registered households: %w", err)
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

// SettingsChangedSince hands each registered household whose rule settings
// (time zone, care level, threshold overrides, away periods) were written
// since the settings generation since, or whose devices were since the
// state generation devicesSince (one registered since, whose settings no
// write has noted), to each with all of them, in one read; it returns the
// settings generation it read at, from which the next read follows.
func (db *DB) SettingsChangedSince(ctx context.Context, since, devicesSince uint64,
	each func(householdID string, f registry.RuleFields, overrides rules.Thresholds, away []registry.AwayPeriod) error) (uint64, error) {
	const changed = `(SELECT household_id FROM settings_changes WHERE generation > ?
		UNION SELECT household_id FROM device_changes WHERE generation > ?)`
	var generation uint64
	err := db.read(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, `SELECT settings FROM state_generation WHERE id = 1`).Scan(&generation); err != nil {
			return err
		}
		periods, err := scanAwayPeriods(tx.QueryContext(ctx, `SELECT `+awayCols+` FROM away_periods
			WHERE household_id IN `+changed+` ORDER BY household_id, from_at, seq`, since, devicesSince))
		if err != nil {
			return err
		}
		away := make(map[string][]registry.AwayPeriod)
		for _, p := range periods {
			away[p.HouseholdID] = append(away[p.HouseholdID], p)
		}
		rows, err := tx.QueryContext(ctx, `SELECT h.id, h.timezone, h.care_level, coalesce(t.thresholds, '')
			FROM households h LEFT JOIN household_thresholds t ON t.household_id = h.id
			WHERE h.deleted_at IS NULL AND h.id IN `+changed, since, devicesSince)
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
	})
	if err != nil {
		return 0, fmt.Errorf("settings changed since generation %d: %w", since, err)
	}
	return generation, nil
}
