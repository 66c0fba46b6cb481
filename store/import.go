package store

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/eldersafe/eldersafe/registry"
)

// ImportHousehold creates a household with its devices, or updates an
// existing one, in one transaction: its name, address, grid, time zone,
// contacts and (when given) care level are replaced (privacy settings and,
// unless SetMedicalNotes, medical notes are kept); devices are added, never
// removed. A device of another
// household, or one whose kind differs from the registered one, is a
// *registry.DeviceError; an unknown grid registry.ErrUnknownReference.
func (db *DB) ImportHousehold(ctx context.Context, in registry.HouseholdImport) (registry.ImportResult, error) {
	res, errs, err := db.ImportHouseholds(ctx, []registry.HouseholdImport{in})
	if err != nil {
		return registry.ImportResult{}, err
	}
	return res[0], errs[0]
}

// ImportHouseholds imports households as ImportHousehold does, all in one
// transaction, each in a savepoint of its own: a household refused (errs[i],
// ImportHousehold's error) leaves the others to be stored. One transaction
// for hundreds of households instead of one each is what lets an import
// keep up thousands a second (docs/performance.md). A non-nil err means
// nothing was stored.
func (db *DB) ImportHouseholds(ctx context.Context, in []registry.HouseholdImport) (results []registry.ImportResult, errs []error, err error) {
	type prepared struct {
		stored  storedHousehold
		privacy string
	}
	preps := make([]prepared, len(in))
	errs = make([]error, len(in))
	for i := range in {
		preps[i].stored, preps[i].privacy, errs[i] = db.prepareImport(in[i])
	}
	results = make([]registry.ImportResult, len(in))
	err = db.write(ctx, func(tx *sql.Tx) error {
		ctx := rowsContext(ctx)
		st, err := prepareImportStmts(ctx, tx)
		if err != nil {
			return err
		}
		defer st.close()
		known, err := db.importKnown(ctx, tx, in, errs)
		if err != nil {
			return err
		}
		now := toMS(db.now())
		for i := range in {
			if errs[i] != nil {
				continue // refused before the transaction
			}
			errs[i] = savepoint(ctx, tx, func() error {
				return importOne(ctx, tx, st, known, in[i], preps[i].stored, preps[i].privacy, now, &results[i])
			})
			switch {
			case errs[i] != nil:
				results[i] = registry.ImportResult{}
				errs[i] = wrapImport(in[i].Household.ID, errs[i])
			case results[i].Created:
				known.households[in[i].Household.ID] = true
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("import %d households: %w", len(in), err)
	}
	return results, errs, nil
}

func wrapImport(id string, err error) error { return fmt.Errorf("import household %s: %w", id, err) }

// prepareImport checks a household of an import (its errors as they are)
// and encodes what it stores.
func (db *DB) prepareImport(in registry.HouseholdImport) (storedHousehold, string, error) {
	h := in.Household
	errs := []error{h.Validate()}
	for _, d := range in.Devices {
		if d.HouseholdID != h.ID {
			errs = append(errs, &registry.DeviceError{DeviceID: d.ID, Err: fmt.Errorf("household_id %q is not %q", d.HouseholdID, h.ID)})
		}
		if err := d.Validate(); err != nil {
			errs = append(errs, &registry.DeviceError{DeviceID: d.ID, Err: err})
		}
	}
	if err := errors.Join(errs...); err != nil {
		return storedHousehold{}, "", err
	}
	contacts := h.Contacts
	if contacts == nil {
		contacts = []registry.Contact{}
	}
	cj, err := json.Marshal(contacts)
	if err != nil {
		return storedHousehold{}, "", wrapImport(h.ID, fmt.Errorf("encode contacts: %w", err))
	}
	stored, err := db.sealHousehold(h.ID, string(cj), h.MedicalNotes)
	if err != nil {
		return storedHousehold{}, "", wrapImport(h.ID, err)
	}
	privacy, err := encodePrivacy(h.Privacy)
	if err != nil {
		return storedHousehold{}, "", wrapImport(h.ID, err)
	}
	return stored, privacy, nil
}

// importKnown is what of a chunk's households and grids the store holds
// when its transaction begins: two queries for the chunk rather than two
// for every household.
type importKnown struct {
	households, grids map[string]bool
}

func (db *DB) importKnown(ctx context.Context, tx *sql.Tx, in []registry.HouseholdImport, errs []error) (importKnown, error) {
	var households, grids []string
	for i := range in {
		if errs[i] == nil {
			households = append(households, in[i].Household.ID)
			grids = append(grids, in[i].Household.GridID)
		}
	}
	var (
		k   importKnown
		err error
	)
	if k.households, err = db.registered(ctx, tx, householdsIn, households); err != nil {
		return importKnown{}, fmt.Errorf("registered households: %w", err)
	}
	if k.grids, err = db.registered(ctx, tx, `SELECT id FROM grids WHERE id IN `, uniqueStrings(grids)); err != nil {
		return importKnown{}, fmt.Errorf("registered grids: %w", err)
	}
	return k, nil
}

// registered runs selectIn, a query of ids ending in "IN ", on ids (as one
// JSON array) and returns the ids it found.
func (db *DB) registered(ctx context.Context, q querier, selectIn string, ids []string) (map[string]bool, error) {
	arr, err := json.Marshal(ids)
	if err != nil {
		return nil, err
	}
	found, err := strings1(ctx, q, selectIn+`(`+db.dialect.jsonArray+`)`, string(arr))
	if err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(found))
	for _, id := range found {
		out[id] = true
	}
	return out, nil
}

// importStmts are the statements an import runs for every household and
// device, prepared once per transaction: parsing them again for each was a
// quarter of an import's CPU.
type importStmts struct {
	insertHousehold, device, insertDevice, insertNative *sql.Stmt
}

func prepareImportStmts(ctx context.Context, tx *sql.Tx) (*importStmts, error) {
	var (
		st   importStmts
		errs []error
	)
	prep := func(dst **sql.Stmt, query string) {
		var err error
		*dst, err = tx.PrepareContext(ctx, query)
		errs = append(errs, err)
	}
	prep(&st.insertHousehold, insertHouseholdQuery)
	prep(&st.device, `SELECT `+deviceCols+` FROM devices WHERE id = ?`)
	prep(&st.insertDevice, insertDeviceQuery)
	prep(&st.insertNative, insertDeviceQuery+` ON CONFLICT (id) DO NOTHING`)
	if err := errors.Join(errs...); err != nil {
		st.close()
		return nil, fmt.Errorf("prepare: %w", err)
	}
	return &st, nil
}

func (st *importStmts) close() {
	for _, s := range []*sql.Stmt{st.insertHousehold, st.device, st.insertDevice, st.insertNative} {
		if s != nil {
			s.Close()
		}
	}
}

// importOne writes one household of an import and its devices in tx.
func importOne(ctx context.Context, tx *sql.Tx, st *importStmts, known importKnown, in registry.HouseholdImport, stored storedHousehold, privacy string, now int64, res *registry.ImportResult) error {
	h := in.Household
	if !known.grids[h.GridID] {
		return unknownReference("grid_id", h.GridID)
	}
	found := known.households[h.ID]
	var err error
	switch {
	case !found:
		res.Created = true
		_, err = st.insertHousehold.ExecContext(ctx, householdArgs(h, stored, privacy, now)...)
	case in.SetMedicalNotes:
		_, err = tx.ExecContext(ctx,
			`UPDATE households SET name = ?, address = ?, grid_id = ?, timezone = ?, contacts = ?, medical_notes = ? WHERE id = ?`,
			h.Name, h.Address, h.GridID, h.Timezone, stored.contacts, stored.notes, h.ID)
	default:
		_, err = tx.ExecContext(ctx,
			`UPDATE households SET name = ?, address = ?, grid_id = ?, timezone = ?, contacts = ? WHERE id = ?`,
			h.Name, h.Address, h.GridID, h.Timezone, stored.contacts, h.ID)
	}
	if err == nil && !res.Created && h.CareLevel != "" {
		// A file without the care_level column keeps the level set before.
		_, err = tx.ExecContext(ctx, `UPDATE households SET care_level = ? WHERE id = ?`, string(h.CareLevel), h.ID)
	}
	if err != nil {
		return insertError(err)
	}
	// Sized for all: growing it a device at a time was 9 % of what a
	// 1,000,000-household import allocated.
	res.Added = make([]registry.Device, 0, len(in.Devices))
	for _, d := range in.Devices {
		added, err := importDevice(ctx, tx, st, d, in.NewSecretHashes[d.ID], now)
		if err != nil {
			return err
		}
		if added {
			res.Added = append(res.Added, d)
		}
	}
	return nil
}

// importDevice registers a device (with newHash when it has no SecretHash)
// or, when the household has it already, replaces its secret's hash if one
// is given.
func importDevice(ctx context.Context, tx *sql.Tx, st *importStmts, d registry.Device, newHash string, now int64) (added bool, err error) {
	if d.Native() && d.GatewayID == "" && cmp.Or(d.SecretHash, newHash) != "" {
		// Nothing to check before the insert: try it first, and look the
		// device up only if its id is taken (an import is mostly new devices).
		res, err := st.insertNative.ExecContext(ctx, deviceArgs(d, cmp.Or(d.SecretHash, newHash), now)...)
		if err != nil {
			return false, &registry.DeviceError{DeviceID: d.ID, Err: insertError(err)}
		}
		if n, err := res.RowsAffected(); err != nil || n == 1 {
			return err == nil, err
		}
	}
	old, err := scanDevice(st.device.QueryRowContext(ctx, d.ID))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		if d.SecretHash == "" {
			d.SecretHash = newHash
		}
		if d.SecretHash == "" {
			return false, &registry.DeviceError{DeviceID: d.ID, Err: errors.New("a new device needs a secret")}
		}
		if err := insertDevice(ctx, tx, st.insertDevice, d, now); err != nil {
			return false, &registry.DeviceError{DeviceID: d.ID, Err: err}
		}
		return true, nil
	case err != nil:
		return false, err
	case old.HouseholdID != d.HouseholdID:
		return false, &registry.DeviceError{DeviceID: d.ID, Err: fmt.Errorf("registered to another household: %w", registry.ErrConflict)}
	case old.Kind != d.Kind:
		return false, &registry.DeviceError{DeviceID: d.ID, Err: fmt.Errorf("registered as %s; a device's kind cannot change", old.Kind)}
	case sourceOf(old) != sourceOf(d) || old.SourceTopic != d.SourceTopic || old.GatewayID != d.GatewayID:
		return false, &registry.DeviceError{DeviceID: d.ID, Err: fmt.Errorf("registered with source %s, source_topic %q, gateway_id %q; they cannot change",
			sourceOf(old), old.SourceTopic, old.GatewayID)}
	}
	if d.SecretHash != "" {
		if _, err := tx.ExecContext(ctx, `UPDATE devices SET secret_hash = ? WHERE id = ?`, d.SecretHash, d.ID); err != nil {
			return false, err
		}
	}
	// An empty expected_every in the file keeps the one registered.
	if d.ExpectedEvery != 0 && d.ExpectedEvery != old.ExpectedEvery {
		_, err := tx.ExecContext(ctx, `UPDATE devices SET expected_every_min = ? WHERE id = ?`, int64(d.ExpectedEvery/time.Minute), d.ID)
		return false, err
	}
	return false, nil
}

// ExistingHouseholds says which of ids are registered households (deleted
// ones are not), in one query: an import tells creations from updates
// before it writes, for the audit log.
func (db *DB) ExistingHouseholds(ctx context.Context, ids []string) (map[string]bool, error) {
	out, err := db.registered(ctx, db.r, householdsIn, ids)
	if err != nil {
		return nil, fmt.Errorf("existing households: %w", err)
	}
	return out, nil
}

const householdsIn = `SELECT id FROM households WHERE deleted_at IS NULL AND id IN `
