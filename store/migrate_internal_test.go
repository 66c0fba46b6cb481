package store

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"testing/fstest"

	"github.com/pressly/goose/v3"
)

// TestMigration2: a database written at version 1 keeps its tasks and
// notices; every notice it had told of an opening, and no task had escalated.
func TestMigration2(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	v1, err := migrations.ReadFile("migrations/00001_init.sql")
	if err != nil {
		t.Fatal(err)
	}
	old, err := sql.Open("sqlite", dsn(filepath.Join(dir, FileName), false))
	if err != nil {
		t.Fatal(err)
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, old, fstest.MapFS{"00001_init.sql": {Data: v1}},
		goose.WithDisableGlobalRegistry(true), goose.WithLogger(goose.NopLogger()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Up(ctx); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`INSERT INTO grids (id, name, created_at) VALUES ('g1', 'Grid', 0)`,
		`INSERT INTO households (id, name, address, grid_id, created_at) VALUES ('h1', 'Li', '1 Road', 'g1', 0)`,
		`INSERT INTO tasks (id, household_id, rule, severity, kind, state, opened_at, ack_due_at, resolve_due_at)
			VALUES ('t1', 'h1', 'fall', 'critical', 'visit', 'open', 0, 300000, 259200000)`,
		`INSERT INTO notices (id, task_id, household_id, rule, severity, channel, opened_at, created_at, status, next_attempt_at)
			VALUES ('n1', 't1', 'h1', 'fall', 'critical', 'log', 0, 0, 'sent', 0)`,
	} {
		if _, err := old.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}

	db, err := Open(ctx, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	task, err := db.Task(ctx, "t1")
	if err != nil || task.EscalatedAt != nil {
		t.Errorf("task after migration: %+v, %v; want it, never escalated", task, err)
	}
	ns, err := db.Notifications(ctx, "t1")
	if err != nil || len(ns) != 1 || ns[0].Event != "opened" {
		t.Errorf("notices after migration: %+v, %v; want n1 with event opened", ns, err)
	}
}
