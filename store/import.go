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

// ImportHousehold creates a household with its devices, or updates an
// existing one, in one transaction: its name, address, grid, time zone,
// contacts and (when given) care level are replaced (privacy settings and, unless SetMedicalNotes, medical
// notes are kept); devices are added, never removed. A device of another
// household, or one whose kind differs from the registered one, is a
// *registry.DeviceError; an unknown grid registry.ErrUnknownReference.
func (db *DB) ImportHousehold(ctx context.Context, in registry.HouseholdImport) (registry.ImportResult, error) {
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
		return registry.ImportResult{}, err
	}
	contacts := h.Contacts
	if contacts == nil {
		contacts = []registry.Contact{}
	}
	cj, err := json.Marshal(contacts)
	if err != nil {
		return registry.ImportResult{}, fmt.Errorf("import household %s: encode contacts: %w", h.ID, err)
	}
	stored, err := db.sealHousehold(h.ID, string(cj), h.MedicalNotes)
	if err != nil {
		return registry.ImportResult{}, fmt.Errorf("import household %s: %w", h.ID, err)
	}
	privacy, err := encodePrivacy(h.Privacy)
	if err != nil {
		return registry.ImportResult{}, fmt.Errorf("import household %s: %w", h.ID, err)
	}
	var res registry.ImportResult
	err = db.write(ctx, func(tx *sql.Tx) error {
		res = registry.ImportResult{}
		found, err := exists(ctx, tx, `SELECT 1 FROM households WHERE id = ? AND deleted_at IS NULL`, h.ID)
		if err != nil {
			return err
		}
		if err := reference(ctx, tx, "grid_id", h.GridID, `SELECT 1 FROM grids WHERE id = ?`); err != nil {
			return err
		}
		switch {
		case !found:
			res.Created = true
			_, err = tx.ExecContext(ctx,
				`INSERT INTO households (id, name, address, grid_id, timezone, contacts, medical_notes, privacy, care_level, created_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				h.ID, h.Name, h.Address, h.GridID, h.Timezone, stored.contacts, stored.notes, privacy, string(h.CareLevel.OrDefault()), toMS(db.now()))
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
		for _, d := range in.Devices {
			added, err := importDevice(ctx, tx, d, in.NewSecretHashes[d.ID], toMS(db.now()))
			if err != nil {
				return err
			}
			if added {
				res.Added = append(res.Added, d)
			}
		}
		return nil
	})
	if err != nil {
		return registry.ImportResult{}, fmt.Errorf("import household %s: %w", h.ID, err)
	}
	return res, nil
}

// importDevice registers a device (with newHash when it has no SecretHash)
// or, when the household has it already, replaces its secret's hash if one
// is given.
func importDevice(ctx context.Context, tx *sql.Tx, d registry.Device, newHash string, now int64) (added bool, err error) {
	old, err := scanDevice(tx.QueryRowContext(ctx, `SELECT `+deviceCols+` FROM devices WHERE id = ?`, d.ID))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		if d.SecretHash == "" {
			d.SecretHash = newHash
		}
		if d.SecretHash == "" {
			return false, &registry.DeviceError{DeviceID: d.ID, Err: errors.New("a new device needs a secret")}
		}
		if err := insertDevice(ctx, tx, d, now); err != nil {
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
