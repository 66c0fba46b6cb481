package store

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
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
// transaction: a household refused (errs[i], ImportHousehold's error)
// leaves the others to be stored. One transaction for hundreds of
// households instead of one each, and their new rows inserted many to a
// statement, is what lets an import keep up thousands a second
// (docs/performance.md). A non-nil err means nothing was stored.
func (db *DB) ImportHouseholds(ctx context.Context, in []registry.HouseholdImport) (results []registry.ImportResult, errs []error, err error) {
	preps := make([]preparedImport, len(in))
	refused := make([]error, len(in))
	for i := range in {
		preps[i].stored, preps[i].privacy, refused[i] = db.prepareImport(in[i])
	}
	run := func(batched bool) error {
		results, errs = make([]registry.ImportResult, len(in)), slices.Clone(refused)
		return db.write(ctx, func(tx *sql.Tx) error {
			return db.importChunk(rowsContext(ctx), tx, in, preps, batched, results, errs)
		})
	}
	err = run(true)
	if errors.Is(err, errBatchRefused) {
		// A household of the chunk is refused, and a statement of many rows
		// does not say which: again, a household at a time, each in a
		// savepoint of its own. A chunk with a refusal costs two passes.
		err = run(false)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("import %d households: %w", len(in), err)
	}
	return results, errs, nil
}

// preparedImport is a household of an import as it is stored.
type preparedImport struct {
	stored  storedHousehold
	privacy string
}

// errBatchRefused ends an import's batched pass: one of its statements
// failed.
var errBatchRefused = errors.New("a household of the batch is refused")

// importChunk writes the households of in not refused already (errs) in tx.
// Batched, new households and their devices are queued and inserted many
// rows to a statement, and any refusal ends the pass with errBatchRefused
// (but for an unknown grid, told before anything is written); otherwise
// each household is written in a savepoint of its own, and a refusal is
// its errs[i].
func (db *DB) importChunk(ctx context.Context, tx *sql.Tx, in []registry.HouseholdImport, preps []preparedImport, batched bool, results []registry.ImportResult, errs []error) error {
	st, err := prepareImportStmts(ctx, tx)
	if err != nil {
		return err
	}
	defer st.close()
	known, err := db.importKnown(ctx, tx, in, errs)
	if err != nil {
		return err
	}
	w := &importWriter{tx: tx, st: st, known: known, now: toMS(db.now())}
	if batched {
		w.households = newRowBatch(tx, "households", householdInsertCols)
		defer w.households.close()
		w.devices = newRowBatch(tx, "devices", deviceInsertCols)
		defer w.devices.close()
	}
	for i := range in {
		h := in[i].Household
		switch {
		case errs[i] != nil:
			continue // refused before the transaction
		case !known.grids[h.GridID]:
			errs[i] = wrapImport(h.ID, unknownReference("grid_id", h.GridID))
			continue
		case batched:
			if err := w.importOne(ctx, in[i], preps[i], &results[i]); err != nil {
				return fmt.Errorf("%w: household %s: %w", errBatchRefused, h.ID, err)
			}
		default:
			errs[i] = savepoint(ctx, tx, func() error { return w.importOne(ctx, in[i], preps[i], &results[i]) })
		}
		switch {
		case errs[i] != nil:
			results[i] = registry.ImportResult{}
			errs[i] = wrapImport(h.ID, errs[i])
		case results[i].Created:
			known.households[h.ID] = true
		}
	}
	if err := w.flush(ctx); err != nil {
		return fmt.Errorf("%w: %w", errBatchRefused, err)
	}
	return nil
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
	if k.grids, err = db.registered(ctx, tx, `SELECT id FROM grids WHERE id `, uniqueStrings(grids)); err != nil {
		return importKnown{}, fmt.Errorf("registered grids: %w", err)
	}
	return k, nil
}

// registered runs selectWhere, a query of ids ending in the id column to
// match, on ids and returns the ids it found.
func (db *DB) registered(ctx context.Context, q querier, selectWhere string, ids []string) (map[string]bool, error) {
	found, err := strings1(ctx, q, selectWhere+db.dialect.inList(), listArg(ids))
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

// importWriter writes the households of an import's transaction; with
// households and devices set (a batched pass), new households' rows are
// queued in them.
type importWriter struct {
	tx                  *sql.Tx
	st                  *importStmts
	known               importKnown
	now                 int64
	households, devices *rowBatch
}

// flush inserts the rows queued, households before the devices that refer
// to them.
func (w *importWriter) flush(ctx context.Context) error {
	if w.households == nil {
		return nil
	}
	if err := w.households.flush(ctx); err != nil {
		return err
	}
	return w.devices.flush(ctx)
}

// importOne writes one household of an import and its devices.
func (w *importWriter) importOne(ctx context.Context, in registry.HouseholdImport, prep preparedImport, res *registry.ImportResult) error {
	// Sized for all: growing it a device at a time was 9 % of what a
	// 1,000,000-household import allocated.
	res.Added = make([]registry.Device, 0, len(in.Devices))
	if w.households != nil && !w.known.households[in.Household.ID] {
		return w.queueNew(ctx, in, prep, res)
	}
	// What follows reads and writes the tables: the rows queued go first.
	if err := w.flush(ctx); err != nil {
		return err
	}
	h := in.Household
	var err error
	switch {
	case !w.known.households[h.ID]:
		res.Created = true
		_, err = w.st.insertHousehold.ExecContext(ctx, householdArgs(h, prep.stored, prep.privacy, w.now)...)
	case in.SetMedicalNotes:
		_, err = w.tx.ExecContext(ctx,
			`UPDATE households SET name = ?, address = ?, grid_id = ?, timezone = ?, contacts = ?, medical_notes = ? WHERE id = ?`,
			h.Name, h.Address, h.GridID, h.Timezone, prep.stored.contacts, prep.stored.notes, h.ID)
	default:
		_, err = w.tx.ExecContext(ctx,
			`UPDATE households SET name = ?, address = ?, grid_id = ?, timezone = ?, contacts = ? WHERE id = ?`,
			h.Name, h.Address, h.GridID, h.Timezone, prep.stored.contacts, h.ID)
	}
	if err == nil && !res.Created && h.CareLevel != "" {
		// A file without the care_level column keeps the level set before.
		_, err = w.tx.ExecContext(ctx, `UPDATE households SET care_level = ? WHERE id = ?`, string(h.CareLevel), h.ID)
	}
	if err != nil {
		return insertError(err)
	}
	for _, d := range in.Devices {
		if err := w.writeDevice(ctx, d, in.NewSecretHashes[d.ID], res); err != nil {
			return err
		}
	}
	return nil
}

// queueNew queues the rows of a household new to the store and of its
// native devices; a device that refers to another (a gateway's) or has no
// secret is written as importDevice writes it, after the rows queued.
func (w *importWriter) queueNew(ctx context.Context, in registry.HouseholdImport, prep preparedImport, res *registry.ImportResult) error {
	res.Created = true
	if err := w.households.add(householdArgs(in.Household, prep.stored, prep.privacy, w.now)...); err != nil {
		return err
	}
	for _, d := range in.Devices {
		hash := cmp.Or(d.SecretHash, in.NewSecretHashes[d.ID])
		if !d.Native() || d.GatewayID != "" || hash == "" {
			if err := w.flush(ctx); err != nil {
				return err
			}
			if err := w.writeDevice(ctx, d, in.NewSecretHashes[d.ID], res); err != nil {
				return err
			}
			continue
		}
		if err := w.devices.add(deviceArgs(d, hash, w.now)...); err != nil {
			return err
		}
		res.Added = append(res.Added, d)
	}
	// Flushed by the households, whose rows the devices' refer to: a
	// flush when batchRows devices were queued sent the households of
	// each in three statements (8, 4 and 1 rows), and on PostgreSQL each
	// statement's triggers cost more than its rows.
	if w.households.queued() >= batchRows {
		return w.flush(ctx)
	}
	return nil
}

// writeDevice writes a device of an import, adding it to res.Added when it
// is new.
func (w *importWriter) writeDevice(ctx context.Context, d registry.Device, newHash string, res *registry.ImportResult) error {
	added, err := importDevice(ctx, w.tx, w.st, d, newHash, w.now)
	if added {
		res.Added = append(res.Added, d)
	}
	return err
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

const householdsIn = `SELECT id FROM households WHERE deleted_at IS NULL AND id `
