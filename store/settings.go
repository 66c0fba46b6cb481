package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Settings kept in the settings table.
const (
	settingAdminToken = "admin_token"
	settingEventClock = "event_clock"
)

// Setting reads a setting; false when it was never set.
func (db *DB) Setting(ctx context.Context, key string) (string, bool, error) {
	var value string
	err := db.r.QueryRowContext(ctx, `SELECT value FROM settings WHERE name = ?`, key).Scan(&value)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("read setting %s: %w", key, err)
	}
	return value, true, nil
}

// SetSetting creates or replaces a setting.
func (db *DB) SetSetting(ctx context.Context, key, value string) error {
	return db.write(ctx, func(tx *sql.Tx) error { return setSetting(ctx, tx, key, value, toMS(db.now())) })
}

// execer is a connection or a transaction.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

func setSetting(ctx context.Context, ex execer, key, value string, nowMS int64) error {
	_, err := ex.ExecContext(ctx, `
		INSERT INTO settings (name, value, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
		key, value, nowMS)
	if err != nil {
		return fmt.Errorf("write setting %s: %w", key, err)
	}
	return nil
}

// AdminToken is the generated admin token; false when none was generated yet.
func (db *DB) AdminToken(ctx context.Context) (string, bool, error) {
	return db.Setting(ctx, settingAdminToken)
}

// SaveAdminToken keeps a generated admin token.
func (db *DB) SaveAdminToken(ctx context.Context, token string) error {
	return db.SetSetting(ctx, settingAdminToken, token)
}

// EventClock is the saved event clock, zero when none was saved.
func (db *DB) EventClock(ctx context.Context) (time.Time, error) {
	v, ok, err := db.Setting(ctx, settingEventClock)
	if err != nil || !ok {
		return time.Time{}, err
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("read setting %s %q: %w", settingEventClock, v, err)
	}
	return t, nil
}

func formatEventClock(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
