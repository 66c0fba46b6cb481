package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/eldersafe/eldersafe/registry"
)

const grantCols = `id, user_id, household_id, fields, reason, granted_by, created_at, until_at, revoked_by`

// CreateGrant records a grant of access to a household's sensitive fields.
// Its user and household must exist. Grants are never deleted: one ends at
// its Until, or earlier when revoked, and the record stays for the audit.
func (db *DB) CreateGrant(ctx context.Context, g registry.Grant) error {
	if err := g.Validate(); err != nil {
		return err
	}
	if err := registry.ValidateID("id", g.ID); err != nil {
		return err
	}
	fields, err := json.Marshal(g.Fields)
	if err != nil {
		return fmt.Errorf("create grant %s: %w", g.ID, err)
	}
	err = db.write(ctx, func(tx *sql.Tx) error {
		if err := conflict(ctx, tx, `SELECT 1 FROM access_grants WHERE id = ?`, g.ID); err != nil {
			return err
		}
		if err := reference(ctx, tx, "user_id", g.UserID, `SELECT 1 FROM users WHERE id = ?`); err != nil {
			return err
		}
		if err := reference(ctx, tx, "household_id", g.HouseholdID, `SELECT 1 FROM households WHERE id = ?`); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO access_grants (`+grantCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, '')`,
			g.ID, g.UserID, g.HouseholdID, string(fields), g.Reason, g.GrantedBy, toMS(g.CreatedAt), toMS(g.Until))
		return insertError(err)
	})
	if err != nil {
		return fmt.Errorf("create grant %s: %w", g.ID, err)
	}
	return nil
}

// Grants lists a household's grants, newest first, in force or not.
func (db *DB) Grants(ctx context.Context, householdID string) ([]registry.Grant, error) {
	list, err := db.grants(ctx, `SELECT `+grantCols+` FROM access_grants WHERE household_id = ? ORDER BY seq DESC`, householdID)
	if err != nil {
		return nil, fmt.Errorf("list grants of household %s: %w", householdID, err)
	}
	return list, nil
}

// ActiveGrants lists the grants in force at now that let userID see
// sensitive fields of householdID, oldest first.
func (db *DB) ActiveGrants(ctx context.Context, userID, householdID string, now time.Time) ([]registry.Grant, error) {
	list, err := db.grants(ctx, `SELECT `+grantCols+` FROM access_grants
		WHERE user_id = ? AND household_id = ? AND until_at > ? AND created_at <= ? ORDER BY seq`,
		userID, householdID, toMS(now), toMS(now))
	if err != nil {
		return nil, fmt.Errorf("list grants of %s on household %s: %w", userID, householdID, err)
	}
	return list, nil
}

// RevokeGrant ends a grant at at, recording who ended it. An unknown grant
// is registry.ErrNotFound; one no longer in force registry.ErrConflict.
func (db *DB) RevokeGrant(ctx context.Context, id, by string, at time.Time) (registry.Grant, error) {
	var g registry.Grant
	err := db.write(ctx, func(tx *sql.Tx) error {
		list, err := scanGrants(tx.QueryContext(ctx, `SELECT `+grantCols+` FROM access_grants WHERE id = ?`, id))
		if err != nil {
			return err
		}
		if len(list) == 0 {
			return registry.ErrNotFound
		}
		g = list[0]
		if !g.Active(at) {
			return fmt.Errorf("not in force (until %s): %w", g.Until.Format(time.RFC3339), registry.ErrConflict)
		}
		g.Until, g.RevokedBy = at, by
		_, err = tx.ExecContext(ctx, `UPDATE access_grants SET until_at = ?, revoked_at = ?, revoked_by = ? WHERE id = ?`,
			toMS(at), toMS(at), by, id)
		return err
	})
	if err != nil {
		return registry.Grant{}, fmt.Errorf("revoke grant %s: %w", id, err)
	}
	return g, nil
}

func (db *DB) grants(ctx context.Context, query string, args ...any) ([]registry.Grant, error) {
	return scanGrants(db.r.QueryContext(ctx, query, args...))
}

func scanGrants(rows *sql.Rows, err error) ([]registry.Grant, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	list := []registry.Grant{}
	for rows.Next() {
		var (
			g              registry.Grant
			fields         string
			created, until int64
		)
		if err := rows.Scan(&g.ID, &g.UserID, &g.HouseholdID, &fields, &g.Reason, &g.GrantedBy, &created, &until, &g.RevokedBy); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(fields), &g.Fields); err != nil {
			return nil, fmt.Errorf("grant %s: decode fields: %w", g.ID, err)
		}
		g.CreatedAt, g.Until = fromMS(created), fromMS(until)
		list = append(list, g)
	}
	return list, rows.Err()
}
