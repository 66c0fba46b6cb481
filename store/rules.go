package store

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
)

// What the rules engine keeps across restarts: its checkpointed state, the
// households' threshold overrides and away periods.

// SaveCheckpoint writes a checkpoint in one transaction: every household's
// state in states and, unless it is zero, the event clock; either all of it
// is saved or none is.
func (db *DB) SaveCheckpoint(ctx context.Context, states []rules.State, eventClock time.Time) error {
	if len(states) == 0 && eventClock.IsZero() {
		return nil
	}
	now := toMS(db.now())
	err := db.write(ctx, func(tx *sql.Tx) error {
		if !eventClock.IsZero() {
			if err := setSetting(ctx, tx, settingEventClock, formatEventClock(eventClock), now); err != nil {
				return err
			}
		}
		if len(states) == 0 {
			return nil
		}
		ctx := rowsContext(ctx)
		// The generation moves first, and its row stays locked until the
		// commit: the states are tagged with a generation no transaction
		// committed after this one has below it (migration 00082).
		var generation int64
		if err := tx.QueryRowContext(ctx, `UPDATE state_generation SET n = n + 1 WHERE id = 1 RETURNING n`).Scan(&generation); err != nil {
			return fmt.Errorf("move the state generation: %w", err)
		}
		// Up to batchRows states a statement: on PostgreSQL a statement is
		// a round trip to the server, which a commit of thousands of states
		// paid for each (docs/performance.md, "Thirty-fifth round").
		b := newUpsertBatch(tx, "rule_state", "household_id, data, updated_at, generation",
			` ON CONFLICT (household_id) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at, generation = excluded.generation`)
		defer b.close()
		// The driver copies what it binds: the states of a flush are sealed
		// into buffers the next flush's reuse (without a cipher, nothing is
		// written to them).
		sealed := make([][]byte, min(len(states), batchRows))
		for _, st := range states {
			i, err := b.reserve(ctx, st.HouseholdID)
			if err != nil {
				return err
			}
			// It holds each wristband's last heart rate.
			sealed[i], err = db.fields.sealBlob(sealed[i][:0], st.Data, ruleStateAAD(st.HouseholdID))
			if err != nil {
				return err
			}
			if err := b.add(st.HouseholdID, nonNil(sealed[i]), now, generation); err != nil {
				return err
			}
		}
		return b.flush(ctx)
	})
	if err != nil {
		return fmt.Errorf("save rule state of %d households: %w", len(states), err)
	}
	return nil
}

// nonNil binds an empty BLOB rather than NULL.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// RuleStates loads every household's saved rule state, in no particular
// order; one that does not decrypt is logged and left out. The two halves
// of the households are read at once, each on a connection of its own: at
// a million households either is seconds of the driver's work and of
// decrypting on one core (docs/performance.md, "Thirty-second round").
// They are two reads, not one: a start reads the states before anything
// writes them. On PostgreSQL each half may scan the whole heap; not
// measured there.
func (db *DB) RuleStates(ctx context.Context) ([]rules.State, error) {
	// Sized first: a state a household at most.
	n, _, err := db.Counts(ctx)
	if err != nil {
		return nil, fmt.Errorf("load rule states: %w", err)
	}
	// The first household of the second half, from the households' key
	// index; any id splits the states in two, an even split only saves
	// more time.
	var half string
	err = db.r.QueryRowContext(ctx, `SELECT id FROM households ORDER BY id LIMIT 1 OFFSET ?`, n/2).Scan(&half)
	if errors.Is(err, sql.ErrNoRows) {
		half = "" // none registered: every state, if any, is in the second half
	} else if err != nil {
		return nil, fmt.Errorf("load rule states: %w", err)
	}
	// The first half has room for both: appending the second copies only
	// that.
	first, second := make([]rules.State, 0, n), make([]rules.State, 0, n-n/2)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) {
		first, err = db.ruleStates(gctx, false, half, first)
		return err
	})
	g.Go(func() (err error) {
		second, err = db.ruleStates(gctx, true, half, second)
		return err
	})
	if err := g.Wait(); err != nil {
		return nil, fmt.Errorf("load rule states: %w", err)
	}
	return append(first, second...), nil
}

// ruleStates appends to states those of the households before half, or
// from half on: on SQLite a range of the table's key, in which it keeps
// them (migration 00077), so one run of its pages.
func (db *DB) ruleStates(ctx context.Context, fromHalf bool, half string, states []rules.State) ([]rules.State, error) {
	query := `SELECT household_id, data FROM rule_state WHERE household_id < ?`
	if fromHalf {
		query = `SELECT household_id, data FROM rule_state WHERE household_id >= ?`
	}
	rows, err := db.r.QueryContext(ctx, query, half)
	if err != nil {
		return nil, err
	}
	err = db.eachRuleState(rows, func(st rules.State) error {
		states = append(states, st)
		return nil
	})
	return states, err
}

// eachRuleState hands each state rows hold (household_id, data) to each,
// and closes rows; the state's data is each's to keep.
func (db *DB) eachRuleState(rows *sql.Rows, each func(rules.State) error) error {
	defer rows.Close()
	var (
		st rules.State
		// The stored state is read where the driver has it, not copied:
		// decrypting it makes the copy kept, and a million copies made
		// only to be dropped were a gigabyte for the collector.
		stored sql.RawBytes
		dest   = []any{&st.HouseholdID, &stored}
		err    error
	)
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		if st.Data, err = db.fields.openBlob(stored, ruleStateAAD(st.HouseholdID)); err != nil {
			// As for a state the engine cannot read: one household's
			// countdowns start afresh rather than the monitor not starting.
			db.logger.Error("rule state not restored; the household's countdowns start afresh", "household_id", st.HouseholdID, "err", err)
			continue
		}
		if !sealedBlob(stored) {
			st.Data = bytes.Clone(st.Data) // openBlob handed stored back
		}
		if err := each(st); err != nil {
			return err
		}
	}
	return rows.Err()
}

// HouseholdThresholds returns a household's threshold overrides; nil when it
// has none (or does not exist).
func (db *DB) HouseholdThresholds(ctx context.Context, householdID string) (rules.Thresholds, error) {
	var doc string
	err := db.r.QueryRowContext(ctx, `SELECT thresholds FROM household_thresholds WHERE household_id = ?`, householdID).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load thresholds of household %s: %w", householdID, err)
	}
	t, err := decodeThresholds(doc)
	if err != nil {
		return nil, fmt.Errorf("load thresholds of household %s: %w", householdID, err)
	}
	return t, nil
}

// AllHouseholdThresholds returns the overrides of every household that has some.
func (db *DB) AllHouseholdThresholds(ctx context.Context) (map[string]rules.Thresholds, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT household_id, thresholds FROM household_thresholds`)
	if err != nil {
		return nil, fmt.Errorf("load household thresholds: %w", err)
	}
	defer rows.Close()
	out := map[string]rules.Thresholds{}
	for rows.Next() {
		var id, doc string
		if err := rows.Scan(&id, &doc); err != nil {
			return nil, fmt.Errorf("load household thresholds: %w", err)
		}
		t, err := decodeThresholds(doc)
		if err != nil {
			return nil, fmt.Errorf("load thresholds of household %s: %w", id, err)
		}
		out[id] = t
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load household thresholds: %w", err)
	}
	return out, nil
}

// SetHouseholdThresholds replaces a household's overrides as a whole; empty
// overrides remove them. The store does not check them against the rules:
// its caller does. A household that does not exist is registry.ErrNotFound.
func (db *DB) SetHouseholdThresholds(ctx context.Context, householdID string, t rules.Thresholds) error {
	var doc []byte
	if len(t) > 0 {
		var err error
		if doc, err = json.Marshal(t); err != nil {
			return fmt.Errorf("set thresholds of household %s: encode: %w", householdID, err)
		}
	}
	err := db.write(ctx, func(tx *sql.Tx) error {
		found, err := exists(ctx, tx, `SELECT 1 FROM households WHERE id = ?`, householdID)
		if err != nil {
			return err
		}
		if !found {
			return registry.ErrNotFound
		}
		if doc == nil {
			_, err = tx.ExecContext(ctx, `DELETE FROM household_thresholds WHERE household_id = ?`, householdID)
			return err
		}
		_, err = tx.ExecContext(ctx, `
			INSERT INTO household_thresholds (household_id, thresholds, updated_at) VALUES (?, ?, ?)
			ON CONFLICT (household_id) DO UPDATE SET thresholds = excluded.thresholds, updated_at = excluded.updated_at`,
			householdID, string(doc), toMS(db.now()))
		return err
	})
	if err != nil {
		return fmt.Errorf("set thresholds of household %s: %w", householdID, err)
	}
	return nil
}

func decodeThresholds(doc string) (rules.Thresholds, error) {
	var t rules.Thresholds
	if err := json.Unmarshal([]byte(doc), &t); err != nil {
		return nil, fmt.Errorf("decode thresholds: %w", err)
	}
	return t, nil
}

// AddAwayPeriod records an away period of an existing household. CreatedAt
// is set to now when zero. A taken id is registry.ErrConflict; an unknown
// household registry.ErrUnknownReference.
func (db *DB) AddAwayPeriod(ctx context.Context, p registry.AwayPeriod) error {
	if err := p.Validate(); err != nil {
		return err
	}
	if p.CreatedAt.IsZero() {
		p.CreatedAt = db.now()
	}
	err := db.write(ctx, func(tx *sql.Tx) error { return insertAwayPeriod(ctx, tx, p) })
	if err != nil {
		return fmt.Errorf("add away period %s: %w", p.ID, err)
	}
	return nil
}

// insertAwayPeriod stores a checked away period in tx.
func insertAwayPeriod(ctx context.Context, tx querier, p registry.AwayPeriod) error {
	if err := conflict(ctx, tx, `SELECT 1 FROM away_periods WHERE id = ?`, p.ID); err != nil {
		return err
	}
	if err := reference(ctx, tx, "household_id", p.HouseholdID, `SELECT 1 FROM households WHERE id = ?`); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `
		INSERT INTO away_periods (id, household_id, from_at, until_at, reason, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		p.ID, p.HouseholdID, toMS(p.From), toMS(p.Until), p.Reason, toMS(p.CreatedAt))
	return insertError(err)
}

// EndAwayPeriod ends a household's away period at at, because the resident
// came back early or never left: a period not yet begun is deleted
// (removed), a current one ends at at. A period of another household, or
// none, is registry.ErrNotFound; one already over is registry.ErrConflict.
func (db *DB) EndAwayPeriod(ctx context.Context, householdID, id string, at time.Time) (p registry.AwayPeriod, removed bool, err error) {
	at = fromMS(toMS(at)) // as stored: UTC, to the millisecond
	err = db.write(ctx, func(tx *sql.Tx) error {
		found, err := scanAwayPeriods(tx.QueryContext(ctx, `SELECT `+awayCols+` FROM away_periods WHERE id = ? AND household_id = ?`, id, householdID))
		if err != nil {
			return err
		}
		if len(found) == 0 {
			return registry.ErrNotFound
		}
		p = found[0]
		switch {
		case !p.Until.After(at):
			return fmt.Errorf("it ended at %s: %w", p.Until.Format(time.RFC3339), registry.ErrConflict)
		case !p.From.Before(at):
			removed = true
			_, err = tx.ExecContext(ctx, `DELETE FROM away_periods WHERE id = ?`, id)
		default:
			p.Until = at
			_, err = tx.ExecContext(ctx, `UPDATE away_periods SET until_at = ? WHERE id = ?`, toMS(at), id)
		}
		return err
	})
	if err != nil {
		return registry.AwayPeriod{}, false, fmt.Errorf("end away period %s: %w", id, err)
	}
	return p, removed, nil
}

const awayCols = `id, household_id, from_at, until_at, reason, created_at`

// AwayPeriodsOf lists a household's away periods that end after endingAfter
// (all of them for a zero time), by start. Never nil.
func (db *DB) AwayPeriodsOf(ctx context.Context, householdID string, endingAfter time.Time) ([]registry.AwayPeriod, error) {
	out, err := db.awayPeriods(ctx, `SELECT `+awayCols+` FROM away_periods
		WHERE household_id = ? AND until_at > ? ORDER BY from_at, seq`, householdID, afterMS(endingAfter))
	if err != nil {
		return nil, fmt.Errorf("away periods of household %s: %w", householdID, err)
	}
	return out, nil
}

// AwayPeriodsEndingAfter lists every household's away periods that end after
// t, by household and start: what the rules engine needs at start-up.
func (db *DB) AwayPeriodsEndingAfter(ctx context.Context, t time.Time) ([]registry.AwayPeriod, error) {
	out, err := db.awayPeriods(ctx, `SELECT `+awayCols+` FROM away_periods
		WHERE until_at > ? ORDER BY household_id, from_at, seq`, afterMS(t))
	if err != nil {
		return nil, fmt.Errorf("away periods: %w", err)
	}
	return out, nil
}

// afterMS is t in milliseconds, with the zero time before every period.
func afterMS(t time.Time) int64 {
	if t.IsZero() {
		return -1 << 62
	}
	return toMS(t)
}

func (db *DB) awayPeriods(ctx context.Context, query string, args ...any) ([]registry.AwayPeriod, error) {
	return scanAwayPeriods(db.r.QueryContext(ctx, query, args...))
}

func scanAwayPeriods(rows *sql.Rows, err error) ([]registry.AwayPeriod, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []registry.AwayPeriod{}
	for rows.Next() {
		var (
			p                    registry.AwayPeriod
			from, until, created int64
		)
		if err := rows.Scan(&p.ID, &p.HouseholdID, &from, &until, &p.Reason, &created); err != nil {
			return nil, err
		}
		p.From, p.Until, p.CreatedAt = fromMS(from), fromMS(until), fromMS(created)
		out = append(out, p)
	}
	return out, rows.Err()
}

// setApart is what sets a household's rules apart from the defaults in its
// own row: a time zone of its own, a care level other than self_care. The
// partial index households_rule_fields (migration 00071) holds exactly
// these rows, and a query must spell the condition as the index does for
// either database to use it.
const setApart = `deleted_at IS NULL AND (timezone <> '' OR care_level NOT IN ('', 'self_care'))`

const ruleFieldsQuery = `SELECT id, timezone, care_level FROM households WHERE `

// setApartQuery reads the households set apart from the defaults of a
// monitor whose own zone is its one argument: a household registered with
// that zone and self_care is not.
const setApartQuery = ruleFieldsQuery + setApart + ` AND (timezone NOT IN ('', ?) OR care_level NOT IN ('', 'self_care'))`

// HouseholdRuleFields maps each registered household with a time zone of
// its own other than defaultZone, or a care level other than self_care, to
// both; with everyHousehold, every registered household. A start needs only
// the former unless self_care has a thresholds profile: a million
// households' rows are not read to learn that they have the defaults, nor
// when each is registered with the monitor's own zone.
func (db *DB) HouseholdRuleFields(ctx context.Context, everyHousehold bool, defaultZone string) (map[string]registry.RuleFields, error) {
	query, args := setApartQuery, []any{defaultZone}
	if everyHousehold {
		query, args = ruleFieldsQuery+`deleted_at IS NULL`, nil
	}
	rows, err := db.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("household time zones and care levels: %w", err)
	}
	defer rows.Close()
	out := map[string]registry.RuleFields{}
	for rows.Next() {
		var (
			id string
			f  registry.RuleFields
		)
		if err := rows.Scan(&id, &f.Timezone, &f.CareLevel); err != nil {
			return nil, fmt.Errorf("household time zones and care levels: %w", err)
		}
		out[id] = f
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("household time zones and care levels: %w", err)
	}
	return out, nil
}

// EachRegisteredDevice hands every device, with the time it was
// registered, to each, in no particular order and without its secret's
// hash or its location: a start needs neither (ingest's cache keeps
// neither, nor does the engine), and at a million households the hashes
// were 9,000,000 strings of 108 bytes read only to be dropped. A device is
// handed as it is read, not listed: at a million households a list of them
// was 1.4 GB for the collector to mark (docs/performance.md, "Thirty-first
// round"). Each is told which half a device is of (0 or 1), and is called
// from one goroutine a half, so that it can keep what it is handed by half
// without a lock. On SQLite the two halves of the table are read at once,
// each on a connection of its own: at a million households either is
// about 14 CPU-s of the driver's work (docs/performance.md, "Thirty-fourth
// round"). On PostgreSQL one read hands its rows to the halves in turn.
func (db *DB) EachRegisteredDevice(ctx context.Context, each func(half int, rd registry.RegisteredDevice) error) error {
	if err := db.registeredHalves(ctx, each); err != nil {
		return fmt.Errorf("list devices: %w", err)
	}
	return nil
}

func (db *DB) registeredHalves(ctx context.Context, each func(half int, rd registry.RegisteredDevice) error) error {
	// In the table's own order, not by id: ordered by id, SQLite walked the
	// key's index and sought each row in the table, a random read a device
	// (docs/performance.md, "Twenty-seventh round").
	query := `SELECT ` + registeredDeviceCols + ` FROM devices`
	if db.dialect.postgres {
		n := 0
		return db.eachRegistered(ctx, func(rd registry.RegisteredDevice) error {
			n++
			return each(n%2, rd)
		}, query)
	}
	// The halves by rowid, which SQLite keeps the rows in: any split is
	// right, an even one only saves more time.
	var mid int64
	if err := db.r.QueryRowContext(ctx, `SELECT coalesce(min(rowid) + (max(rowid) - min(rowid)) / 2, 0) FROM devices`).Scan(&mid); err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	for half, where := range []string{` WHERE rowid <= ?`, ` WHERE rowid > ?`} {
		g.Go(func() error {
			return db.eachRegistered(gctx, func(rd registry.RegisteredDevice) error { return each(half, rd) }, query+where, mid)
		})
	}
	return g.Wait()
}

// EachDeviceWrittenSince is EachRegisteredDevice for the devices of the
// households DevicesWrittenSince counts only, in one read: one query,
// which SQLite answers from devices' household index (a query a household
// made a start with 100,000 of them 4–7 s slower at a million:
// docs/performance.md, "Thirty-third round").
func (db *DB) EachDeviceWrittenSince(ctx context.Context, generation uint64, each func(registry.RegisteredDevice) error) error {
	err := db.eachRegistered(ctx, each, `SELECT `+registeredDeviceCols+` FROM devices
		WHERE household_id IN (SELECT household_id FROM device_changes WHERE generation > ?)`, generation)
	if err != nil {
		return fmt.Errorf("list devices written since %d: %w", generation, err)
	}
	return nil
}

// eachRegistered hands each device query reads, registeredDeviceCols, to
// each.
func (db *DB) eachRegistered(ctx context.Context, each func(registry.RegisteredDevice) error, query string, args ...any) error {
	return eachRegisteredIn(ctx, db.r, each, query, args...)
}

func eachRegisteredIn(ctx context.Context, q querier, each func(registry.RegisteredDevice) error, query string, args ...any) error {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	row := newRegisteredDeviceRow()
	for rows.Next() {
		d, err := row.scan(rows)
		if err != nil {
			return err
		}
		if err := each(registry.RegisteredDevice{Device: d, CreatedAt: fromMS(row.created)}); err != nil {
			return err
		}
	}
	return rows.Err()
}

// Generations are two numbers a restart snapshot is checked against, kept
// by triggers: states moves with every write of a rule state or a device
// (migration 00070), devices with every write of a device (00079). A
// snapshot taken at states n is what the store holds while states is
// still n; its devices are the registered ones while devices has not moved.
func (db *DB) Generations(ctx context.Context) (states, devices uint64, err error) {
	if err := db.r.QueryRowContext(ctx, `SELECT n, devices FROM state_generation WHERE id = 1`).Scan(&states, &devices); err != nil {
		return 0, 0, fmt.Errorf("store generations: %w", err)
	}
	return states, devices, nil
}

// HouseholdsErasedSince reports whether a household was erased since the
// state generation given: a snapshot taken before holds it.
func (db *DB) HouseholdsErasedSince(ctx context.Context, generation uint64) (bool, error) {
	var erased uint64
	if err := db.r.QueryRowContext(ctx, `SELECT households_removed FROM state_generation WHERE id = 1`).Scan(&erased); err != nil {
		return false, fmt.Errorf("households erased since %d: %w", generation, err)
	}
	return erased > generation, nil
}

// DevicesWrittenSince counts the households whose devices were registered
// or changed since the device generation given (migration 00080). False
// when that is not enough to know the registered devices from what they
// were at that generation: a device was removed, moved to another
// household, renamed or made another kind since, or the store's record of
// changes began later.
func (db *DB) DevicesWrittenSince(ctx context.Context, generation uint64) (households int, known bool, err error) {
	var removed, from uint64
	if err := db.r.QueryRowContext(ctx, `SELECT devices_removed, changes_from FROM state_generation WHERE id = 1`).Scan(&removed, &from); err != nil {
		return 0, false, fmt.Errorf("devices written since %d: %w", generation, err)
	}
	if removed > generation || from > generation {
		return 0, false, nil
	}
	if err := db.r.QueryRowContext(ctx, `SELECT count(*) FROM device_changes WHERE generation > ?`, generation).Scan(&households); err != nil {
		return 0, false, fmt.Errorf("devices written since %d: %w", generation, err)
	}
	return households, true, nil
}
