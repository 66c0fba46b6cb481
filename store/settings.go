package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
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
	_, err := db.w.ExecContext(ctx, `
		INSERT INTO settings (name, value, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
		key, value, toMS(db.now()))
	if err != nil {
		return fmt.Errorf("write setting %s: %w", key, err)
	}
	return nil
}
