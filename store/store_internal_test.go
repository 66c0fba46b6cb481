package store

import (
	"context"
	"strings"
	"testing"
)

// TestPragmas checks that every connection of both pools runs with the DSN's settings.
func TestPragmas(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	want := map[string]string{
		"journal_mode": "wal",
		"foreign_keys": "1",
		"busy_timeout": "5000",
		"synchronous":  "1", // NORMAL
	}
	for pool, q := range map[string]querier{"writer": db.w, "reader": db.r} {
		for pragma, v := range want {
			var got string
			if err := q.QueryRowContext(ctx, "PRAGMA "+pragma).Scan(&got); err != nil {
				t.Fatalf("%s: PRAGMA %s: %v", pool, pragma, err)
			}
			if !strings.EqualFold(got, v) {
				t.Errorf("%s: PRAGMA %s = %s, want %s", pool, pragma, got, v)
			}
		}
	}
	if _, err := db.r.ExecContext(ctx, `INSERT INTO settings (name, value, updated_at) VALUES ('x', 'y', 0)`); err == nil {
		t.Error("the read pool accepted a write")
	}
}
