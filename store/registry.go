package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/eldersafe/eldersafe/registry"
)

// CreateGrid registers a grid. Its supervisor and backup worker may be workers
// registered later, so they are not checked.
func (db *DB) CreateGrid(ctx context.Context, g registry.Grid) error {
	if err := g.Validate(); err != nil {
		return err
	}
	err := db.write(ctx, func(tx *sql.Tx) error {
		if err := conflict(ctx, tx, `SELECT 1 FROM grids WHERE id = ?`, g.ID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx,
			`INSERT INTO grids (id, name, supervisor_id, backup_worker_id, created_at) VALUES (?, ?, ?, ?, ?)`,
			g.ID, g.Name, g.SupervisorID, g.BackupWorkerID, toMS(db.now()))
		return insertError(err)
	})
	if err != nil {
		return fmt.Errorf("create grid %s: %w", g.ID, err)
	}
	return nil
}

// CreateWorker registers a worker with the grids it serves, every one of which
// must exist. CreatedAt is set to now when zero. Registration order (not
// CreatedAt) decides a grid's primary worker.
func (db *DB) CreateWorker(ctx context.Context, w registry.Worker) error {
	if err := w.Validate(); err != nil {
		return err
	}
	if w.CreatedAt.IsZero() {
		w.CreatedAt = db.now()
	}
	err := db.write(ctx, func(tx *sql.Tx) error {
		if err := conflict(ctx, tx, `SELECT 1 FROM workers WHERE id = ?`, w.ID); err != nil {
			return err
		}
		grids := uniqueStrings(w.GridIDs)
		for _, g := range grids {
			if err := reference(ctx, tx, "grid_ids", g, `SELECT 1 FROM grids WHERE id = ?`); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx,
			`INSERT INTO workers (id, name, phone, role, push_url, lang, created_at, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			w.ID, w.Name, w.Phone, w.Role, w.PushURL, w.Lang, toMS(w.CreatedAt), w.CreatedBy)
		if err != nil {
			return insertError(err)
		}
		for i, g := range grids {
			if _, err := tx.ExecContext(ctx,
				`INSERT INTO worker_grids (worker_id, grid_id, position) VALUES (?, ?, ?)`, w.ID, g, i); err != nil {
				return insertError(err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("create worker %s: %w", w.ID, err)
	}
	return nil
}

// CreateHousehold registers a household in an existing grid.
func (db *DB) CreateHousehold(ctx context.Context, h registry.Household) error {
	if err := h.Validate(); err != nil {
		return err
	}
	contacts := h.Contacts
	if contacts == nil {
		contacts = []registry.Contact{}
	}
	cj, err := json.Marshal(contacts)
	if err != nil {
		return fmt.Errorf("create household %s: encode contacts: %w", h.ID, err)
	}
	stored, err := db.sealHousehold(h.ID, string(cj), h.MedicalNotes)
	if err != nil {
		return fmt.Errorf("create household %s: %w", h.ID, err)
	}
	privacy, err := encodePrivacy(h.Privacy)
	if err != nil {
		return fmt.Errorf("create household %s: %w", h.ID, err)
	}
	err = db.write(ctx, func(tx *sql.Tx) error {
		if err := conflict(ctx, tx, `SELECT 1 FROM households WHERE id = ?`, h.ID); err != nil {
			return err
		}
		if err := reference(ctx, tx, "grid_id", h.GridID, `SELECT 1 FROM grids WHERE id = ?`); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, insertHouseholdQuery, householdArgs(h, stored, privacy, toMS(db.now()))...)
		return insertError(err)
	})
	if err != nil {
		return fmt.Errorf("create household %s: %w", h.ID, err)
	}
	return nil
}

// householdInsertCols are the columns a new household's row is given, in
// householdArgs order.
const householdInsertCols = `id, name, address, grid_id, timezone, contacts, medical_notes, privacy, care_level, created_at`

// insertHouseholdQuery inserts a household.
var insertHouseholdQuery = insertRows("households", householdInsertCols, 1)

// householdArgs are insertHouseholdQuery's arguments for h, its contacts and
// notes as stored and its encoded privacy settings.
func householdArgs(h registry.Household, stored storedHousehold, privacy string, now int64) []any {
	return []any{h.ID, h.Name, h.Address, h.GridID, h.Timezone, stored.contacts, stored.notes, privacy, string(h.CareLevel.OrDefault()), now}
}

// CreateDevice registers a device of an existing household, with its secret's hash.
func (db *DB) CreateDevice(ctx context.Context, d registry.Device) error {
	if err := d.Validate(); err != nil {
		return err
	}
	err := db.write(ctx, func(tx *sql.Tx) error {
		if err := conflict(ctx, tx, `SELECT 1 FROM devices WHERE id = ?`, d.ID); err != nil {
			return err
		}
		if err := reference(ctx, tx, "household_id", d.HouseholdID, `SELECT 1 FROM households WHERE id = ?`); err != nil {
			return err
		}
		return insertDevice(ctx, tx, nil, d, toMS(db.now()))
	})
	if err != nil {
		return fmt.Errorf("create device %s: %w", d.ID, err)
	}
	return nil
}

// deviceInsertCols are the columns a new device's row is given, in
// deviceArgs order.
const deviceInsertCols = `id, kind, household_id, secret_hash, source, source_topic, gateway_id, expected_every_min, location, created_at`

// insertDeviceQuery inserts a device.
var insertDeviceQuery = insertRows("devices", deviceInsertCols, 1)

// deviceArgs are insertDeviceQuery's arguments for d with secret hash hash.
func deviceArgs(d registry.Device, hash string, now int64) []any {
	return []any{d.ID, string(d.Kind), d.HouseholdID, hash, string(sourceOf(d)), d.SourceTopic, d.GatewayID, int64(d.ExpectedEvery / time.Minute), d.Location, now}
}

// insertDevice checks what a device's source fields refer to and inserts
// it, with insert (insertDeviceQuery prepared) when not nil.
func insertDevice(ctx context.Context, tx *sql.Tx, insert *sql.Stmt, d registry.Device, now int64) error {
	if !d.Native() {
		var other string
		err := tx.QueryRowContext(ctx, `SELECT id FROM devices WHERE source = ? AND source_topic = ? AND source_topic <> ''`, string(d.Source), d.SourceTopic).Scan(&other)
		switch {
		case err == nil:
			return fmt.Errorf("source_topic %q of %s is device %s's: %w", d.SourceTopic, d.Source, other, registry.ErrTopicTaken)
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
	}
	if d.GatewayID != "" {
		if err := reference(ctx, tx, "gateway_id", d.GatewayID, `SELECT 1 FROM devices WHERE id = ? AND kind = '`+string(registry.Gateway)+`'`); err != nil {
			return err
		}
	}
	args := deviceArgs(d, d.SecretHash, now)
	var err error
	if insert != nil {
		_, err = insert.ExecContext(ctx, args...)
	} else {
		_, err = tx.ExecContext(ctx, insertDeviceQuery, args...)
	}
	return insertError(err)
}

// sourceOf is the source a device is stored with: native when it has none.
func sourceOf(d registry.Device) registry.Source {
	if d.Native() {
		return registry.SourceNative
	}
	return d.Source
}

// conflict returns registry.ErrConflict when query finds a row.
func conflict(ctx context.Context, q querier, query string, id string) error {
	found, err := exists(ctx, q, query, id)
	if err != nil {
		return err
	}
	if found {
		return registry.ErrConflict
	}
	return nil
}

// reference returns registry.ErrUnknownReference, naming field, when query finds no row.
func reference(ctx context.Context, q querier, field, id, query string) error {
	found, err := exists(ctx, q, query, id)
	if err != nil {
		return err
	}
	if !found {
		return unknownReference(field, id)
	}
	return nil
}

func unknownReference(field, id string) error {
	return fmt.Errorf("%s %q: %w", field, id, registry.ErrUnknownReference)
}

// insertError maps constraint failures that the checks before an insert should
// already have caught to the registry's sentinels.
func insertError(err error) error {
	switch {
	case err == nil:
		return nil
	case isUniqueViolation(err):
		return fmt.Errorf("%w: %w", registry.ErrConflict, err)
	case isForeignKeyViolation(err):
		return fmt.Errorf("%w: %w", registry.ErrUnknownReference, err)
	}
	return err
}

func uniqueStrings(in []string) []string {
	out := make([]string, 0, len(in))
	seen := make(map[string]bool, len(in))
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// Grid looks up a grid.
func (db *DB) Grid(ctx context.Context, id string) (registry.Grid, error) {
	return getGrid(ctx, db.r, id)
}

// Worker looks up a worker. GridIDs come back in the order registered, never nil.
func (db *DB) Worker(ctx context.Context, id string) (registry.Worker, error) {
	var w registry.Worker
	err := db.read(ctx, func(tx *sql.Tx) error {
		var err error
		w, err = getWorker(ctx, tx, id)
		return err
	})
	return w, err
}

// Household looks up a household, its sensitive fields decrypted. Contacts
// are never nil.
func (db *DB) Household(ctx context.Context, id string) (registry.Household, error) {
	return getHousehold(ctx, db.r, db.fields, id)
}

// Device looks up a device, with its secret's hash.
func (db *DB) Device(ctx context.Context, id string) (registry.Device, error) {
	d, err := scanDevice(db.r.QueryRowContext(ctx, `SELECT `+deviceCols+` FROM devices WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return registry.Device{}, fmt.Errorf("device %s: %w", id, registry.ErrNotFound)
	}
	if err != nil {
		return registry.Device{}, fmt.Errorf("load device %s: %w", id, err)
	}
	return d, nil
}

// SourceDevice looks up the device registered on a source's topic
// (CONTRACT.md §14), with its secret's hash. The query excludes the empty
// topic in so many words so that SQLite uses the partial index.
func (db *DB) SourceDevice(ctx context.Context, source registry.Source, topic string) (registry.Device, error) {
	d, err := scanDevice(db.r.QueryRowContext(ctx, `SELECT `+deviceCols+` FROM devices WHERE source = ? AND source_topic = ? AND source_topic <> ''`, string(source), topic))
	if errors.Is(err, sql.ErrNoRows) {
		return registry.Device{}, fmt.Errorf("%s device %q: %w", source, topic, registry.ErrNotFound)
	}
	if err != nil {
		return registry.Device{}, fmt.Errorf("load %s device %q: %w", source, topic, err)
	}
	return d, nil
}

// DevicesOf lists the devices of a household, ordered by id. A household that
// does not exist is registry.ErrNotFound; one without devices is an empty list.
func (db *DB) DevicesOf(ctx context.Context, householdID string) ([]registry.Device, error) {
	var devices []registry.Device
	err := db.read(ctx, func(tx *sql.Tx) error {
		found, err := exists(ctx, tx, `SELECT 1 FROM households WHERE id = ?`, householdID)
		if err != nil {
			return err
		}
		if !found {
			return registry.ErrNotFound
		}
		devices, err = queryDevices(ctx, tx, `WHERE household_id = ? ORDER BY id`, householdID)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("devices of household %s: %w", householdID, err)
	}
	return devices, nil
}

// Devices lists every device with its secret's hash, ordered by id.
func (db *DB) Devices(ctx context.Context) ([]registry.Device, error) {
	var devices []registry.Device
	err := db.read(ctx, func(tx *sql.Tx) error {
		var err error
		devices, err = queryDevices(ctx, tx, `ORDER BY id`)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list devices: %w", err)
	}
	return devices, nil
}

// queryDevices reads the devices that where (a WHERE and ORDER BY clause)
// selects.
func queryDevices(ctx context.Context, tx *sql.Tx, where string, args ...any) ([]registry.Device, error) {
	rows, err := tx.QueryContext(ctx, `SELECT `+deviceCols+` FROM devices `+where, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	devices := []registry.Device{} // none is an empty list, not null
	row := newDeviceRow()
	for rows.Next() {
		d, err := row.scan(rows)
		if err != nil {
			return nil, err
		}
		devices = append(devices, d)
	}
	return devices, rows.Err()
}

// Counts returns how many households and devices are registered. Triggers
// keep the numbers as rows come and go (migration 00038), so this reads two
// rows, however many households there are.
func (db *DB) Counts(ctx context.Context) (households, devices int, err error) {
	err = db.r.QueryRowContext(ctx,
		`SELECT (SELECT n FROM registry_counts WHERE name = 'households'), (SELECT n FROM registry_counts WHERE name = 'devices')`).Scan(&households, &devices)
	if err != nil {
		return 0, 0, fmt.Errorf("count households and devices: %w", err)
	}
	return households, devices, nil
}

func getGrid(ctx context.Context, q querier, id string) (registry.Grid, error) {
	var g registry.Grid
	err := q.QueryRowContext(ctx,
		`SELECT id, name, supervisor_id, backup_worker_id FROM grids WHERE id = ?`, id).
		Scan(&g.ID, &g.Name, &g.SupervisorID, &g.BackupWorkerID)
	if errors.Is(err, sql.ErrNoRows) {
		return registry.Grid{}, fmt.Errorf("grid %s: %w", id, registry.ErrNotFound)
	}
	if err != nil {
		return registry.Grid{}, fmt.Errorf("load grid %s: %w", id, err)
	}
	return g, nil
}

// getWorker reads two tables: q should be a transaction.
func getWorker(ctx context.Context, q querier, id string) (registry.Worker, error) {
	var (
		w       registry.Worker
		created int64
	)
	err := q.QueryRowContext(ctx,
		`SELECT id, name, phone, role, push_url, lang, created_at, created_by FROM workers WHERE id = ?`, id).
		Scan(&w.ID, &w.Name, &w.Phone, &w.Role, &w.PushURL, &w.Lang, &created, &w.CreatedBy)
	if errors.Is(err, sql.ErrNoRows) {
		return registry.Worker{}, fmt.Errorf("worker %s: %w", id, registry.ErrNotFound)
	}
	if err != nil {
		return registry.Worker{}, fmt.Errorf("load worker %s: %w", id, err)
	}
	w.CreatedAt = fromMS(created)
	w.GridIDs, err = workerGrids(ctx, q, id)
	if err != nil {
		return registry.Worker{}, fmt.Errorf("load worker %s: %w", id, err)
	}
	return w, nil
}

func workerGrids(ctx context.Context, q querier, workerID string) ([]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT grid_id FROM worker_grids WHERE worker_id = ? ORDER BY position`, workerID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	grids := []string{}
	for rows.Next() {
		var g string
		if err := rows.Scan(&g); err != nil {
			return nil, err
		}
		grids = append(grids, g)
	}
	return grids, rows.Err()
}

// primaryWorker is the first grid_worker registered with the grid.
func primaryWorker(ctx context.Context, q querier, gridID string) (registry.Worker, error) {
	var id string
	err := q.QueryRowContext(ctx, `
		SELECT w.id FROM workers w JOIN worker_grids wg ON wg.worker_id = w.id
		WHERE wg.grid_id = ? AND w.role = ?
		ORDER BY w.seq LIMIT 1`, gridID, registry.RoleGridWorker).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return registry.Worker{}, fmt.Errorf("primary worker of grid %s: %w", gridID, registry.ErrNotFound)
	}
	if err != nil {
		return registry.Worker{}, fmt.Errorf("find primary worker of grid %s: %w", gridID, err)
	}
	return getWorker(ctx, q, id)
}

// getHousehold loads a household and decrypts its sensitive fields with c.
func getHousehold(ctx context.Context, q querier, c *fieldCipher, id string) (registry.Household, error) {
	var (
		h                               registry.Household
		contacts, notes, privacy, level string
	)
	err := q.QueryRowContext(ctx,
		`SELECT id, name, address, grid_id, timezone, contacts, medical_notes, privacy, care_level FROM households WHERE id = ? AND deleted_at IS NULL`, id).
		Scan(&h.ID, &h.Name, &h.Address, &h.GridID, &h.Timezone, &contacts, &notes, &privacy, &level)
	h.CareLevel = registry.CareLevel(level)
	if errors.Is(err, sql.ErrNoRows) {
		return registry.Household{}, fmt.Errorf("household %s: %w", id, registry.ErrNotFound)
	}
	if err != nil {
		return registry.Household{}, fmt.Errorf("load household %s: %w", id, err)
	}
	if contacts, err = c.open(contacts, contactsAAD(id)); err != nil {
		return registry.Household{}, fmt.Errorf("load household %s: %w", id, err)
	}
	if h.MedicalNotes, err = c.open(notes, notesAAD(id)); err != nil {
		return registry.Household{}, fmt.Errorf("load household %s: %w", id, err)
	}
	if h.Privacy, err = decodePrivacy(privacy); err != nil {
		return registry.Household{}, fmt.Errorf("load household %s: %w", id, err)
	}
	if err := json.Unmarshal([]byte(contacts), &h.Contacts); err != nil {
		return registry.Household{}, fmt.Errorf("load household %s: decode contacts: %w", id, err)
	}
	if h.Contacts == nil {
		h.Contacts = []registry.Contact{}
	}
	return h, nil
}

const deviceCols = `id, kind, household_id, secret_hash, source, source_topic, gateway_id, expected_every_min, location`

func scanDevice(s scanner) (registry.Device, error) { return newDeviceRow().scan(s) }

// deviceRow scans deviceCols, or registeredDeviceCols, into places it
// keeps: a query of many devices scans each row into the same ones. At a
// start from the store that is 9,000,000 rows at a million households,
// and a destination made for each row was gigabytes of garbage for the
// collector (docs/performance.md, "Thirty-first round").
type deviceRow struct {
	d            registry.Device
	kind, source string
	everyMin     int64
	created      int64 // registeredDeviceCols only
	dest         []any
}

func newDeviceRow() *deviceRow {
	r := &deviceRow{}
	r.dest = []any{&r.d.ID, &r.kind, &r.d.HouseholdID, &r.d.SecretHash, &r.source, &r.d.SourceTopic, &r.d.GatewayID, &r.everyMin, &r.d.Location}
	return r
}

// registeredDeviceCols is what a start reads of a device: neither its
// secret's hash nor its location, and when it was registered. Each column
// costs the driver the connection's mutex: at a million households the
// two empty placeholders that kept deviceCols' order cost a start 2 of its
// 70 CPU-s (docs/performance.md, "Thirty-fourth round").
const registeredDeviceCols = `id, kind, household_id, source, source_topic, gateway_id, expected_every_min, created_at`

func newRegisteredDeviceRow() *deviceRow {
	r := &deviceRow{}
	r.dest = []any{&r.d.ID, &r.kind, &r.d.HouseholdID, &r.source, &r.d.SourceTopic, &r.d.GatewayID, &r.everyMin, &r.created}
	return r
}

func (r *deviceRow) scan(s scanner) (registry.Device, error) {
	if err := s.Scan(r.dest...); err != nil {
		return registry.Device{}, err
	}
	d := r.d
	d.Kind, d.Source, d.ExpectedEvery = registry.DeviceKind(r.kind), registry.Source(r.source), time.Duration(r.everyMin)*time.Minute
	return d, nil
}

// storedHousehold is a household's sensitive columns as stored.
type storedHousehold struct{ contacts, notes string }

// sealHousehold encrypts a household's contacts document and medical notes.
// No contacts ("[]") need no secrecy and stay readable.
func (db *DB) sealHousehold(id, contacts, notes string) (storedHousehold, error) {
	var (
		s   = storedHousehold{contacts: contacts}
		err error
	)
	if contacts != "[]" {
		if s.contacts, err = db.fields.seal(contacts, contactsAAD(id)); err != nil {
			return storedHousehold{}, err
		}
	}
	if s.notes, err = db.fields.seal(notes, notesAAD(id)); err != nil {
		return storedHousehold{}, err
	}
	return s, nil
}

// encodePrivacy is a household's privacy settings as stored: a JSON object,
// "{}" for the defaults.
func encodePrivacy(p registry.Privacy) (string, error) {
	if len(p) == 0 {
		return "{}", nil
	}
	b, err := json.Marshal(p)
	if err != nil {
		return "", fmt.Errorf("encode privacy: %w", err)
	}
	return string(b), nil
}

// decodePrivacy reads stored privacy settings; nil for the defaults.
func decodePrivacy(s string) (registry.Privacy, error) {
	if s == "" || s == "{}" {
		return nil, nil
	}
	var p registry.Privacy
	if err := json.Unmarshal([]byte(s), &p); err != nil {
		return nil, fmt.Errorf("decode privacy: %w", err)
	}
	return p, nil
}

// SetPrivacy replaces a household's privacy settings; empty ones restore the
// defaults.
func (db *DB) SetPrivacy(ctx context.Context, householdID string, p registry.Privacy) error {
	if err := p.Validate(); err != nil {
		return err
	}
	stored, err := encodePrivacy(p)
	if err != nil {
		return fmt.Errorf("set privacy of household %s: %w", householdID, err)
	}
	var n int64
	err = db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE households SET privacy = ? WHERE id = ?`, stored, householdID)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	switch {
	case err != nil:
		return fmt.Errorf("set privacy of household %s: %w", householdID, err)
	case n == 0:
		return fmt.Errorf("household %s: %w", householdID, registry.ErrNotFound)
	}
	return nil
}
