package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/eldersafe/eldersafe/registry"
)

// CreateUser registers a person who logs in. Its worker or household must
// exist.
func (db *DB) CreateUser(ctx context.Context, u registry.User) (registry.User, error) {
	if err := u.Validate(); err != nil {
		return registry.User{}, err
	}
	u.CreatedAt = db.now().UTC().Truncate(time.Millisecond)
	err := db.write(ctx, func(tx *sql.Tx) error {
		if err := conflict(ctx, tx, `SELECT 1 FROM users WHERE id = ?`, u.ID); err != nil {
			return err
		}
		if u.WorkerID != "" {
			if err := reference(ctx, tx, "worker_id", u.WorkerID, `SELECT 1 FROM workers WHERE id = ?`); err != nil {
				return err
			}
		}
		if u.HouseholdID != "" {
			if err := reference(ctx, tx, "household_id", u.HouseholdID, `SELECT 1 FROM households WHERE id = ?`); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO users (id, role, worker_id, household_id, password_hash, created_at, created_by) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			u.ID, u.Role, u.WorkerID, u.HouseholdID, u.PasswordHash, toMS(u.CreatedAt), u.CreatedBy)
		return insertError(err)
	})
	if err != nil {
		return registry.User{}, fmt.Errorf("create user %s: %w", u.ID, err)
	}
	return u, nil
}

const userCols = `id, role, worker_id, household_id, password_hash, created_at, created_by`

// User looks up a user, with its password hash.
func (db *DB) User(ctx context.Context, id string) (registry.User, error) {
	u, err := scanUser(db.r.QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return registry.User{}, fmt.Errorf("user %s: %w", id, registry.ErrNotFound)
	}
	if err != nil {
		return registry.User{}, fmt.Errorf("load user %s: %w", id, err)
	}
	return u, nil
}

// WorkerUsers lists the users tied to a worker record, by id.
func (db *DB) WorkerUsers(ctx context.Context, workerID string) ([]registry.User, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+userCols+` FROM users WHERE worker_id = ? ORDER BY id`, workerID)
	if err != nil {
		return nil, fmt.Errorf("list users of worker %s: %w", workerID, err)
	}
	defer rows.Close()
	var out []registry.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("list users of worker %s: %w", workerID, err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list users of worker %s: %w", workerID, err)
	}
	return out, nil
}

// keepExpiredSessions is how long a session is kept after it expired, so
// that a request still carrying its token is known to be that user's (and
// audited as such) rather than a stranger's.
const keepExpiredSessions = 7 * 24 * time.Hour

// CreateSession stores a session by its token's hash until expires.
func (db *DB) CreateSession(ctx context.Context, tokenHash, userID string, expires time.Time) error {
	err := db.write(ctx, func(tx *sql.Tx) error {
		now := db.now()
		// Sessions long expired are of no use to anyone: drop them on the way.
		if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE expires_at <= ?`, toMS(now.Add(-keepExpiredSessions))); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)`,
			tokenHash, userID, toMS(now), toMS(expires))
		return insertError(err)
	})
	if err != nil {
		return fmt.Errorf("create session for %s: %w", userID, err)
	}
	return nil
}

// SessionUser is the user of a session that has not expired at now. A
// session that has is ended at its first use after expiry, which is
// answered with *registry.ExpiredSessionError naming its user; from then on
// its token is unknown (registry.ErrNotFound), like one never issued. So
// each session names its user in a refusal at most once.
func (db *DB) SessionUser(ctx context.Context, tokenHash string, now time.Time) (registry.User, error) {
	var (
		u                registry.User
		created, expires int64
	)
	err := db.r.QueryRowContext(ctx, `SELECT u.id, u.role, u.worker_id, u.household_id, u.password_hash, u.created_at, u.created_by, s.expires_at
		FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = ?`, tokenHash).
		Scan(&u.ID, &u.Role, &u.WorkerID, &u.HouseholdID, &u.PasswordHash, &created, &u.CreatedBy, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return registry.User{}, registry.ErrNotFound
	}
	if err != nil {
		return registry.User{}, fmt.Errorf("load session: %w", err)
	}
	u.CreatedAt = fromMS(created)
	if expires > toMS(now) {
		return u, nil
	}
	var ended int64
	err = db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE token_hash = ?`, tokenHash)
		if err != nil {
			return err
		}
		ended, err = res.RowsAffected()
		return err
	})
	switch {
	case err != nil:
		return registry.User{}, fmt.Errorf("end expired session of %s: %w", u.ID, err)
	case ended == 0: // a concurrent request ended it and reports it
		return registry.User{}, registry.ErrNotFound
	}
	return registry.User{}, &registry.ExpiredSessionError{User: u, Expired: fromMS(expires)}
}

func scanUser(s scanner) (registry.User, error) {
	var u registry.User
	var created int64
	err := s.Scan(&u.ID, &u.Role, &u.WorkerID, &u.HouseholdID, &u.PasswordHash, &created, &u.CreatedBy)
	u.CreatedAt = fromMS(created)
	return u, err
}
