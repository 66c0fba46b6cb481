package store

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/eldersafe/eldersafe/audit"
	"github.com/eldersafe/eldersafe/history"
	"github.com/eldersafe/eldersafe/registry"
)

// What an export of a household needs beyond the registry, task, grant and
// outbox lookups: its users, the ids of its tasks, its readings roll-up and
// the audit entries about it.

// HouseholdUsers lists the users tied to a household (family), by id, with
// their password hashes (registry.User never encodes them).
func (db *DB) HouseholdUsers(ctx context.Context, householdID string) ([]registry.User, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+userCols+` FROM users WHERE household_id = ? ORDER BY id`, householdID)
	if err != nil {
		return nil, fmt.Errorf("users of household %s: %w", householdID, err)
	}
	defer rows.Close()
	out := []registry.User{}
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("users of household %s: %w", householdID, err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("users of household %s: %w", householdID, err)
	}
	return out, nil
}

// HouseholdTaskIDs lists the ids of every task of a household, oldest first,
// without the listing limit of Tasks.
func (db *DB) HouseholdTaskIDs(ctx context.Context, householdID string) ([]string, error) {
	ids, err := strings1(ctx, db.r, `SELECT id FROM tasks WHERE household_id = ? ORDER BY opened_at, seq`, householdID)
	if err != nil {
		return nil, fmt.Errorf("tasks of household %s: %w", householdID, err)
	}
	return ids, nil
}

// HouseholdReadings returns what the readings roll-up holds of a household:
// its stored hours, oldest first, and the last register of each of its
// meters. Sums not yet flushed (at most the roll-up's flush interval, 5 s)
// are not in the store yet.
func (db *DB) HouseholdReadings(ctx context.Context, householdID string) ([]history.Hour, []history.MeterRegister, error) {
	hours, err := db.ReadingHours(ctx, householdID, time.Time{}, time.UnixMilli(math.MaxInt64))
	if err != nil {
		return nil, nil, err
	}
	var meters []history.MeterRegister
	err = db.scanMeterRegisters(ctx, func(m history.MeterRegister) error {
		meters = append(meters, m)
		return nil
	}, `SELECT device_id, household_id, field, value, read_at FROM meter_registers
		WHERE household_id = ? ORDER BY device_id`, householdID)
	if err != nil {
		return nil, nil, fmt.Errorf("meter registers of %s: %w", householdID, err)
	}
	return hours, meters, nil
}

// HouseholdAudit lists the audit entries about a household, oldest first:
// those whose object is the household or anything under it
// ("households/h1", "households/h1/export"), one of its tasks
// ("tasks/{id}/ack") or one of its users ("users/{id}"), or a listing
// filtered on it ("tasks?household_id=h1"), and what its users did.
func (db *DB) HouseholdAudit(ctx context.Context, householdID string) ([]audit.Entry, error) {
	var entries []audit.Entry
	err := db.read(ctx, func(tx *sql.Tx) error {
		taskIDs, err := strings1(ctx, tx, `SELECT id FROM tasks WHERE household_id = ?`, householdID)
		if err != nil {
			return err
		}
		userIDs, err := strings1(ctx, tx, `SELECT id FROM users WHERE household_id = ?`, householdID)
		if err != nil {
			return err
		}
		seen := map[int64]bool{}
		add := func(query string, args ...any) error {
			rows, err := tx.QueryContext(ctx, `SELECT `+auditCols+` FROM audit_log WHERE `+query, args...)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				e, err := scanAudit(rows)
				if err != nil {
					return err
				}
				if !seen[e.Seq] {
					seen[e.Seq] = true
					entries = append(entries, e)
				}
			}
			return rows.Err()
		}
		// Each object prefix is an index range: the object itself, then
		// what lies under it ('0' follows '/', '@' follows '?').
		prefixes := []string{"households/" + householdID}
		for _, id := range taskIDs {
			prefixes = append(prefixes, "tasks/"+id)
		}
		for _, id := range userIDs {
			prefixes = append(prefixes, "users/"+id)
		}
		for _, p := range prefixes {
			if err := add(`object = ? OR (object > ? AND object < ?) OR (object > ? AND object < ?)`,
				p, p+"/", p+"0", p+"?", p+"@"); err != nil {
				return err
			}
		}
		for _, id := range userIDs {
			if err := add(`actor = ?`, id); err != nil {
				return err
			}
		}
		// Listings filtered on the household: a scan, checked exactly below.
		rows, err := tx.QueryContext(ctx, `SELECT `+auditCols+` FROM audit_log WHERE object LIKE ? ESCAPE '\'`,
			"%"+likeEscaper.Replace("household_id="+householdID)+"%")
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			e, err := scanAudit(rows)
			if err != nil {
				return err
			}
			if !seen[e.Seq] && filtersOn(e.Object, householdID) {
				seen[e.Seq] = true
				entries = append(entries, e)
			}
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("audit of household %s: %w", householdID, err)
	}
	slices.SortFunc(entries, func(a, b audit.Entry) int { return cmp.Compare(a.Seq, b.Seq) })
	if entries == nil {
		entries = []audit.Entry{}
	}
	return entries, nil
}

// filtersOn reports whether an audit object ("tasks?household_id=h1&...")
// has the query parameter household_id=id.
func filtersOn(object, householdID string) bool {
	_, query, ok := strings.Cut(object, "?")
	if !ok {
		return false
	}
	q, err := url.ParseQuery(query)
	return err == nil && slices.Contains(q["household_id"], householdID)
}

// likeEscaper escapes LIKE's wildcards (with \ as the escape character),
// so that a pattern matches the text it was made of literally.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
