package store

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"time"

	"github.com/eldersafe/eldersafe/history"
)

// The readings roll-up (history.RollupStore), in tables reading_hourly and
// meter_registers (migrations/00008_history.sql).

var _ history.RollupStore = (*DB)(nil)

// AddReadingHours adds each hour's counts to the stored ones and saves the
// meters' registers, never moving one back in time, in one transaction.
// Up to batchRows rows a statement, as the rules' states
// (SaveCheckpoint): on PostgreSQL a statement is a round trip to the
// server (docs/performance.md, "Thirty-fifth round").
func (db *DB) AddReadingHours(ctx context.Context, hours []history.HouseholdHour, meters []history.MeterRegister) error {
	err := db.write(ctx, func(tx *sql.Tx) error {
		ctx := rowsContext(ctx)
		if err := addHours(ctx, tx, hours); err != nil {
			return err
		}
		return saveMeterRegisters(ctx, tx, db.dialect, meters)
	})
	if err != nil {
		return fmt.Errorf("add reading hours: %w", err)
	}
	return nil
}

func addHours(ctx context.Context, tx *sql.Tx, hours []history.HouseholdHour) error {
	b := newUpsertBatch(tx, "reading_hourly", "household_id, hour_at, water_liters, motion_events, door_openings, power_kwh", `
		ON CONFLICT (household_id, hour_at) DO UPDATE SET
			water_liters  = reading_hourly.water_liters  + excluded.water_liters,
			motion_events = reading_hourly.motion_events + excluded.motion_events,
			door_openings = reading_hourly.door_openings + excluded.door_openings,
			power_kwh     = reading_hourly.power_kwh     + excluded.power_kwh`)
	defer b.close()
	for _, h := range hours {
		at := toMS(h.Hour.Hour.UTC().Truncate(time.Hour))
		// No household id has an '@' (registry.ValidateID).
		if _, err := b.reserve(ctx, h.HouseholdID+"@"+strconv.FormatInt(at, 10)); err != nil {
			return err
		}
		if err := b.add(h.HouseholdID, at, h.WaterLiters, h.MotionEvents, h.DoorOpenings, h.PowerKWh); err != nil {
			return err
		}
	}
	return b.flush(ctx)
}

// saveMeterRegisters saves the registers, never moving one back in time. A
// meter stays in its household: the statement that saves the common case
// sets no household, so that SQLite leaves the index by household alone.
// Setting it anyway, to the same value, deleted and inserted its entry
// there: a second random page written for every meter read, which at
// 1,000,000 households wrote more than the rules' states did
// (docs/performance.md, "Fourteenth round"). A statement that saved fewer
// meters than it was given (an older reading, or a meter moved to another
// household) has each of its meters saved again on its own, where the
// rare one moved gets the second statement; one saved already is the same
// again.
func saveMeterRegisters(ctx context.Context, tx *sql.Tx, d *dialect, meters []history.MeterRegister) error {
	b := newUpsertBatch(tx, "meter_registers", "device_id, household_id, field, value, read_at", d.meterRegisterSaved)
	defer b.close()
	var moved *sql.Stmt
	defer func() {
		if moved != nil {
			moved.Close()
		}
	}()
	// Rare (a late reading, a meter moved), and then up to batchRows
	// statements more for the one meter not saved.
	b.saved = func(first, rows int, saved int64) error {
		if saved == int64(rows) {
			return nil
		}
		same, err := b.stmt(ctx, 1)
		if err != nil {
			return err
		}
		for _, m := range meters[first : first+rows] {
			at := toMS(m.At)
			res, err := same.ExecContext(ctx, m.DeviceID, m.HouseholdID, m.Field, m.Value, at)
			if err != nil {
				return fmt.Errorf("meter %s: %w", m.DeviceID, err)
			}
			if n, err := res.RowsAffected(); err != nil {
				return fmt.Errorf("meter %s: %w", m.DeviceID, err)
			} else if n > 0 {
				continue
			}
			if moved == nil {
				if moved, err = tx.PrepareContext(ctx, `UPDATE meter_registers SET household_id = ?, field = ?, value = ?, read_at = ?
					WHERE device_id = ? AND household_id <> ? AND (read_at <= ? OR field <> ?)`); err != nil {
					return err
				}
			}
			if _, err := moved.ExecContext(ctx, m.HouseholdID, m.Field, m.Value, at, m.DeviceID, m.HouseholdID, at, m.Field); err != nil {
				return fmt.Errorf("meter %s moved to household %s: %w", m.DeviceID, m.HouseholdID, err)
			}
		}
		return nil
	}
	for _, m := range meters {
		if _, err := b.reserve(ctx, m.DeviceID); err != nil {
			return err
		}
		if err := b.add(m.DeviceID, m.HouseholdID, m.Field, m.Value, toMS(m.At)); err != nil {
			return err
		}
	}
	return b.flush(ctx)
}

// ReadingHours lists a household's stored hours in [from, to), oldest first.
func (db *DB) ReadingHours(ctx context.Context, householdID string, from, to time.Time) ([]history.Hour, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT hour_at, water_liters, motion_events, door_openings, power_kwh
		FROM reading_hourly WHERE household_id = ? AND hour_at >= ? AND hour_at < ? ORDER BY hour_at`,
		householdID, toMS(from), toMS(to))
	if err != nil {
		return nil, fmt.Errorf("reading hours of %s: %w", householdID, err)
	}
	defer rows.Close()
	var out []history.Hour
	for rows.Next() {
		var (
			h  history.Hour
			at int64
		)
		if err := rows.Scan(&at, &h.WaterLiters, &h.MotionEvents, &h.DoorOpenings, &h.PowerKWh); err != nil {
			return nil, fmt.Errorf("reading hours of %s: %w", householdID, err)
		}
		h.Hour = fromMS(at)
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading hours of %s: %w", householdID, err)
	}
	return out, nil
}

// EachMeterRegister calls each with every saved meter register, in the
// order the table keeps them (by household, migration 00078): sorted
// otherwise, SQLite read them through an index, a look into the table for
// each, and a start with 2,000,000 meters heard from spent 20 s on it
// (docs/performance.md). One at a time, so that a start does not hold them
// all twice.
func (db *DB) EachMeterRegister(ctx context.Context, each func(history.MeterRegister) error) error {
	err := db.scanMeterRegisters(ctx, each, `SELECT device_id, household_id, field, value, read_at FROM meter_registers`)
	if err != nil {
		return fmt.Errorf("meter registers: %w", err)
	}
	return nil
}

// CountMeterRegisters is how many meter registers are saved.
func (db *DB) CountMeterRegisters(ctx context.Context) (int, error) {
	var n int
	if err := db.r.QueryRowContext(ctx, `SELECT count(*) FROM meter_registers`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count meter registers: %w", err)
	}
	return n, nil
}

// scanMeterRegisters calls each with the registers query selects. The
// rows of a household, one after another, share one copy of its id, and
// none has a copy of its field's name.
func (db *DB) scanMeterRegisters(ctx context.Context, each func(history.MeterRegister) error, query string, args ...any) error {
	rows, err := db.r.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	var household, field sql.RawBytes
	var m history.MeterRegister
	for rows.Next() {
		var at int64
		if err := rows.Scan(&m.DeviceID, &household, &field, &m.Value, &at); err != nil {
			return err
		}
		if string(household) != m.HouseholdID {
			m.HouseholdID = string(household)
		}
		switch string(field) {
		case history.FieldTotalLiters:
			m.Field = history.FieldTotalLiters
		case history.FieldTotalKWh:
			m.Field = history.FieldTotalKWh
		default:
			return fmt.Errorf("meter %s: unknown register %q", m.DeviceID, field)
		}
		m.At = fromMS(at)
		if err := each(m); err != nil {
			return err
		}
	}
	return rows.Err()
}

// PruneReadingHours deletes the hours that start before before, and the
// registers last read before it. On SQLite it deletes pruneChunk rows a
// transaction: at a million households the hour that falls out of the
// roll-up every hour is a million rows, and deleted at once they held
// SQLite's one writer, and a fall's task waiting for it, for seconds
// (docs/performance.md, "Twenty-fourth round"). PostgreSQL's writers do
// not wait for one another.
func (db *DB) PruneReadingHours(ctx context.Context, before time.Time) (int64, error) {
	at := toMS(before)
	if db.dialect.postgres {
		var n int64
		err := db.write(ctx, func(tx *sql.Tx) error {
			var err error
			if n, err = deleted(ctx, tx, `DELETE FROM reading_hourly WHERE hour_at < ?`, at); err != nil {
				return err
			}
			_, err = tx.ExecContext(ctx, `DELETE FROM meter_registers WHERE read_at < ?`, at)
			return err
		})
		if err != nil {
			return 0, fmt.Errorf("prune reading hours: %w", err)
		}
		return n, nil
	}
	var hours int64
	for {
		n, err := db.deleteChunk(ctx, `DELETE FROM reading_hourly WHERE rowid IN (
			SELECT rowid FROM reading_hourly WHERE hour_at < ? LIMIT ?)`, at, pruneChunk)
		if err != nil {
			return hours, fmt.Errorf("prune reading hours: %w", err)
		}
		hours += n
		if n < pruneChunk {
			break
		}
	}
	// The registers have no index by read_at, which would be a second
	// page written for every meter read: they are walked in the order
	// they are kept, by household (migration 00078), the households of
	// about a chunk of them a transaction.
	for after := ""; ; {
		var last sql.NullString
		if err := db.r.QueryRowContext(ctx, `SELECT max(household_id) FROM (
			SELECT household_id FROM meter_registers WHERE household_id > ? ORDER BY household_id LIMIT ?)`, after, pruneChunk).Scan(&last); err != nil {
			return hours, fmt.Errorf("prune meter registers: %w", err)
		}
		if !last.Valid {
			return hours, nil
		}
		if _, err := db.deleteChunk(ctx, `DELETE FROM meter_registers WHERE household_id > ? AND household_id <= ? AND read_at < ?`,
			after, last.String, at); err != nil {
			return hours, fmt.Errorf("prune meter registers: %w", err)
		}
		after = last.String
	}
}

// pruneChunk is how many rows one of PruneReadingHours' transactions
// deletes at most on SQLite: a few milliseconds of the writer.
const pruneChunk = 2000

// deleteChunk runs a DELETE in a transaction of its own and says how many
// rows it deleted.
func (db *DB) deleteChunk(ctx context.Context, query string, args ...any) (n int64, err error) {
	err = db.write(ctx, func(tx *sql.Tx) error {
		n, err = deleted(ctx, tx, query, args...)
		return err
	})
	return n, err
}

// deleted runs a DELETE in tx and says how many rows it deleted.
func deleted(ctx context.Context, tx *sql.Tx, query string, args ...any) (int64, error) {
	res, err := tx.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// DeleteReadingHours deletes what the roll-up stored of a household: its
// hours and its meters' registers. DeleteHousehold sweeps them too; the
// roll-up calls this again once it has forgotten the household, for the
// transaction of its flush that was being written during the erasure. When
// that transaction had written rows, the write-ahead log is emptied as after
// an erasure.
func (db *DB) DeleteReadingHours(ctx context.Context, householdID string) error {
	var n int64
	err := db.write(ctx, func(tx *sql.Tx) error {
		hours, err := deleted(ctx, tx, `DELETE FROM reading_hourly WHERE household_id = ?`, householdID)
		if err != nil {
			return err
		}
		registers, err := deleted(ctx, tx, `DELETE FROM meter_registers WHERE household_id = ?`, householdID)
		n = hours + registers
		return err
	})
	if err != nil {
		return fmt.Errorf("delete reading hours of household %s: %w", householdID, err)
	}
	if n > 0 {
		db.flushWAL(ctx)
	}
	return nil
}
