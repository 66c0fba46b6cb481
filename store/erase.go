package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/tasks"
)

// Erasure: DeleteHousehold removes a household and every personal detail the
// store holds of it, in one transaction, and keeps its tasks, anonymised, for
// the SLA report (see migrations/00007_erasure.sql).
//
// What goes:
//   - the household row (name, address, contacts, medical notes, privacy);
//   - its devices with their secrets' hashes, so the broker refuses them;
//   - its threshold overrides, away periods and saved rule state;
//   - the users tied to it (family) with their sessions;
//   - every other row that names the household or those users: found by
//     the schema, not by a list, so a table added later (grants, say) is
//     swept as well: any table with a household_id column or a foreign key
//     to households, users or devices.
//
// What stays, under the tombstone's anonymous id: each task's rule,
// severity, kind, state, assignee, outcome and times (open tasks are
// cancelled: nobody is left to visit); evidence keeps only its times;
// timeline entries keep their time, type and actor but not their message or
// data; notices keep channel, status, attempts and times but not recipient,
// address, title, message or error. The audit log is never rewritten: it
// records ids, never names, and who touched the household stays accountable.

// keptTables are anonymised rather than swept.
var keptTables = []string{"households", "tasks", "notices", "task_evidence", "task_timeline"}

// deletionNote is the reason on the timeline of a task cancelled because its
// household was deleted, and the error of a notice that will never be sent.
const deletionNote = "household deleted"

// DeleteHousehold erases household id (see above). at is the monitor's now:
// it closes the household's open tasks. actor is who asked, for their
// timeline. A household that does not exist is registry.ErrNotFound.
func (db *DB) DeleteHousehold(ctx context.Context, id string, at time.Time, actor string) (registry.Erasure, error) {
	if at.IsZero() {
		at = db.now()
	}
	er := registry.Erasure{HouseholdID: id, Rows: map[string]int{}}
	err := db.write(ctx, func(tx *sql.Tx) error {
		var gridID string
		err := tx.QueryRowContext(ctx, `SELECT grid_id FROM households WHERE id = ? AND deleted_at IS NULL`, id).Scan(&gridID)
		if errors.Is(err, sql.ErrNoRows) {
			return registry.ErrNotFound
		}
		if err != nil {
			return err
		}
		anon, err := tombstoneID(ctx, tx)
		if err != nil {
			return err
		}
		// Inserted first: the tasks' foreign key must always hold.
		if _, err := tx.ExecContext(ctx, `INSERT INTO households (id, name, address, grid_id, timezone, contacts, created_at, deleted_at)
			VALUES (?, '', '', ?, '', '[]', ?, ?)`, anon, gridID, toMS(db.now()), toMS(db.now())); err != nil {
			return fmt.Errorf("tombstone: %w", err)
		}
		if er.DeviceIDs, err = strings1(ctx, tx, `SELECT id FROM devices WHERE household_id = ? ORDER BY id`, id); err != nil {
			return err
		}
		if er.UserIDs, err = strings1(ctx, tx, `SELECT id FROM users WHERE household_id = ? ORDER BY id`, id); err != nil {
			return err
		}
		if err := anonymiseTasks(ctx, tx, id, anon, at, actor, &er); err != nil {
			return err
		}
		if err := sweep(ctx, tx, db.dialect, id, er.UserIDs, er.DeviceIDs, er.Rows); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM households WHERE id = ?`, id)
		if err != nil {
			return fmt.Errorf("delete household row: %w", err)
		}
		n, _ := res.RowsAffected()
		er.Rows["households"] = int(n)
		return noteErasure(ctx, tx, true)
	})
	if err != nil {
		return registry.Erasure{}, fmt.Errorf("delete household %s: %w", id, err)
	}
	db.flushWAL(ctx)
	return er, nil
}

// noteErasure tells a standby that follows the store (migration 00082)
// that a household was erased: no row of it is left to tell. With
// devices, its devices went too, and the device generation moves with it,
// as for any change of the registered devices.
func noteErasure(ctx context.Context, tx *sql.Tx, devices bool) error {
	query := `UPDATE state_generation SET n = n + 1, households_removed = n + 1 WHERE id = 1`
	if devices {
		query = `UPDATE state_generation SET n = n + 1, devices = n + 1, households_removed = n + 1 WHERE id = 1`
	}
	if _, err := tx.ExecContext(ctx, query); err != nil {
		return fmt.Errorf("note the erasure: %w", err)
	}
	return nil
}

// tombstoneID picks an anonymous household id not yet taken.
func tombstoneID(ctx context.Context, tx *sql.Tx) (string, error) {
	for {
		b := make([]byte, 8)
		if _, err := rand.Read(b); err != nil {
			return "", fmt.Errorf("tombstone id: %w", err)
		}
		id := registry.DeletedPrefix + hex.EncodeToString(b)
		taken, err := exists(ctx, tx, `SELECT 1 FROM households WHERE id = ?`, id)
		if err != nil || !taken {
			return id, err
		}
	}
}

// anonymiseTasks moves a household's tasks and notices to its tombstone and
// clears what in them could name or locate anyone.
func anonymiseTasks(ctx context.Context, tx *sql.Tx, id, anon string, at time.Time, actor string, er *registry.Erasure) error {
	open, err := strings1(ctx, tx, `SELECT id FROM tasks WHERE household_id = ? AND state NOT IN (?, ?) ORDER BY seq`,
		id, string(tasks.Resolved), string(tasks.Cancelled))
	if err != nil {
		return err
	}
	res, err := tx.ExecContext(ctx, `UPDATE tasks SET household_id = ?, note = '' WHERE household_id = ?`, anon, id)
	if err != nil {
		return fmt.Errorf("anonymise tasks: %w", err)
	}
	n, _ := res.RowsAffected()
	er.Tasks = int(n)
	if _, err := tx.ExecContext(ctx, `UPDATE tasks SET state = ?, closed_at = ? WHERE household_id = ? AND state NOT IN (?, ?)`,
		string(tasks.Cancelled), toMS(at), anon, string(tasks.Resolved), string(tasks.Cancelled)); err != nil {
		return fmt.Errorf("cancel open tasks: %w", err)
	}
	er.TasksCancelled = len(open)
	const ofTombstone = `task_id IN (SELECT id FROM tasks WHERE household_id = ?)`
	if _, err := tx.ExecContext(ctx, `UPDATE task_evidence SET device_id = '', summary = '', values_json = NULL WHERE `+ofTombstone, anon); err != nil {
		return fmt.Errorf("clear evidence: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE task_timeline SET message = '', data_json = NULL WHERE `+ofTombstone, anon); err != nil {
		return fmt.Errorf("clear timelines: %w", err)
	}
	// A family's words about a visit could name them; the stars stay for the report.
	if _, err := tx.ExecContext(ctx, `UPDATE task_ratings SET comment = '' WHERE `+ofTombstone, anon); err != nil {
		return fmt.Errorf("clear ratings: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM routine_months WHERE household_id = ?`, id); err != nil {
		return fmt.Errorf("forget routine months: %w", err)
	}
	for _, taskID := range open {
		e := tasks.TimelineEntry{At: at, Actor: actor, Type: tasks.EntryCancelled, Message: deletionNote}
		// No cipher: the entry has no data, nothing in it to seal.
		if err := addTimeline(ctx, tx, nil, taskID, e); err != nil {
			return fmt.Errorf("cancel task %s: %w", taskID, err)
		}
	}
	// A pending notice would go to an address that is no longer there.
	res, err = tx.ExecContext(ctx, `UPDATE notices SET household_id = ?, recipient = '', address = '', title = '', message = '', actions = '',
			last_error = CASE WHEN status = ? THEN ? ELSE '' END,
			status = CASE WHEN status = ? THEN ? ELSE status END
		WHERE household_id = ? OR `+ofTombstone,
		anon, tasks.NoticePending, deletionNote, tasks.NoticePending, tasks.NoticeFailed, id, anon)
	if err != nil {
		return fmt.Errorf("anonymise notices: %w", err)
	}
	n, _ = res.RowsAffected()
	er.Notices = int(n)
	return nil
}

// sweep deletes every row, in any table but the kept ones, that names the
// household (a household_id column or a foreign key to households), one of
// its users or one of its devices (a foreign key to users or devices). Rows
// that refer to others are deleted before the rows they refer to.
func sweep(ctx context.Context, tx *sql.Tx, d *dialect, householdID string, userIDs, deviceIDs []string, counts map[string]int) error {
	tables, err := strings1(ctx, tx, d.tables)
	if err != nil {
		return fmt.Errorf("list tables: %w", err)
	}
	type target struct {
		table, column string
		values        []string
		// rank orders deletions: references to users and devices first, then
		// other rows of the household, then devices and users themselves.
		rank int
	}
	var targets []target
	for _, t := range tables {
		if slices.Contains(keptTables, t) {
			continue
		}
		cols, err := strings1(ctx, tx, d.columns, t)
		if err != nil {
			return fmt.Errorf("columns of %s: %w", t, err)
		}
		fks, err := foreignKeys(ctx, tx, d, t)
		if err != nil {
			return err
		}
		byHousehold := map[string]bool{}
		if slices.Contains(cols, "household_id") {
			byHousehold["household_id"] = true
		}
		for _, fk := range fks {
			switch fk.parent {
			case "households":
				byHousehold[fk.column] = true
			case "users":
				targets = append(targets, target{t, fk.column, userIDs, 0})
			case "devices":
				targets = append(targets, target{t, fk.column, deviceIDs, 0})
			}
		}
		rank := 1
		if t == "devices" || t == "users" {
			rank = 2
		}
		for _, col := range slices.Sorted(maps.Keys(byHousehold)) {
			targets = append(targets, target{t, col, []string{householdID}, rank})
		}
	}
	slices.SortStableFunc(targets, func(a, b target) int { return a.rank - b.rank })
	for _, tg := range targets {
		for _, v := range tg.values {
			res, err := tx.ExecContext(ctx, `DELETE FROM `+quoteIdent(tg.table)+` WHERE `+quoteIdent(tg.column)+` = ?`, v)
			if err != nil {
				return fmt.Errorf("delete from %s: %w", tg.table, err)
			}
			n, _ := res.RowsAffected()
			counts[tg.table] += int(n)
		}
	}
	for t, n := range counts {
		if n == 0 {
			delete(counts, t)
		}
	}
	return nil
}

type foreignKey struct{ column, parent string }

func foreignKeys(ctx context.Context, tx *sql.Tx, d *dialect, table string) ([]foreignKey, error) {
	rows, err := tx.QueryContext(ctx, d.foreignKeys, table)
	if err != nil {
		return nil, fmt.Errorf("foreign keys of %s: %w", table, err)
	}
	defer rows.Close()
	var out []foreignKey
	for rows.Next() {
		var fk foreignKey
		if err := rows.Scan(&fk.column, &fk.parent); err != nil {
			return nil, fmt.Errorf("foreign keys of %s: %w", table, err)
		}
		out = append(out, fk)
	}
	return out, rows.Err()
}

// quoteIdent quotes an SQL identifier read from the schema.
func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// strings1 runs a query of one text column and returns its values, never nil.
func strings1(ctx context.Context, q querier, query string, args ...any) ([]string, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// flushWAL moves every page of the write-ahead log into the database file
// and empties the log, so that older versions of the pages an erasure
// changed, still in the log, are gone from the disk too (secure_delete has
// already zeroed the deleted content in the new versions). A failure is
// logged: the erasure is committed, and the next checkpoint overwrites them.
func (db *DB) flushWAL(ctx context.Context) {
	if db.dialect.postgres {
		return // PostgreSQL recycles its WAL segments itself
	}
	db.checkpoints.mu.Lock()
	defer db.checkpoints.mu.Unlock()
	var busy, logged, moved int
	err := db.onWriter(ctx, func(w *sql.Conn) (err error) {
		busy, logged, moved, err = walCheckpoint(ctx, w, "TRUNCATE")
		return err
	})
	switch {
	case err != nil:
		db.logger.Warn("store: write-ahead log not emptied after an erasure", "err", err)
	case busy != 0:
		db.logger.Warn("store: write-ahead log not emptied after an erasure: readers were busy", "frames", logged, "moved", moved)
	}
}

// DeleteRuleState removes a household's saved rule state. DeleteHousehold
// does it too; the monitor calls this again once the rules engine has
// forgotten the household, in case a checkpoint taken just before saved it
// anew.
func (db *DB) DeleteRuleState(ctx context.Context, householdID string) error {
	err := db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM rule_state WHERE household_id = ?`, householdID)
		if err != nil {
			return err
		}
		// A state saved anew reached a standby, which must forget it too.
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return err
		}
		return noteErasure(ctx, tx, false)
	})
	if err != nil {
		return fmt.Errorf("delete rule state of household %s: %w", householdID, err)
	}
	return nil
}

// erasedAttempt is what is kept of a delivery attempt that ends after its
// notice's household was deleted: the outcome, not what it says (an error
// can quote an address, a timeline entry name the recipient); a notice that
// would be tried again fails instead.
func erasedAttempt(a tasks.Attempt) tasks.Attempt {
	if a.Status == tasks.NoticePending {
		a.Status = tasks.NoticeFailed
	}
	if a.LastError != "" {
		a.LastError = deletionNote
	}
	a.Entry.Message, a.Entry.Data = "", nil
	return a
}
