package store

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"path/filepath"
	"regexp"
	"slices"
	"testing"
	"testing/fstest"

	"github.com/pressly/goose/v3"

	"github.com/eldersafe/eldersafe/history"
)

// TestMigration2: a database written at version 1 keeps its tasks and
// notices; every notice it had told of an opening, and no task had escalated.
func TestMigration2(t *testing.T) {
	SQLiteOnly(t)
	ctx := context.Background()
	dir := t.TempDir()
	v1, err := migrations.ReadFile("migrations/00001_init.sql")
	if err != nil {
		t.Fatal(err)
	}
	old := migratedTo(t, dir, fstest.MapFS{"00001_init.sql": {Data: v1}}, 1)
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
	db := reopened(t, old, dir)
	task, err := db.Task(ctx, "t1")
	if err != nil || task.EscalatedAt != nil {
		t.Errorf("task after migration: %+v, %v; want it, never escalated", task, err)
	}
	ns, err := db.Notifications(ctx, "t1")
	if err != nil || len(ns) != 1 || ns[0].Event != "opened" {
		t.Errorf("notices after migration: %+v, %v; want n1 with event opened", ns, err)
	}
}

// TestMigration77: the rules' states, kept by id from migration 00077 on,
// are the same states after it (read back in their ids' order, where they
// were in the order first written), and the copy does not move the state
// generation a snapshot of them was taken at.
func TestMigration77(t *testing.T) {
	SQLiteOnly(t)
	ctx := context.Background()
	dir := t.TempDir()
	old := migratedUpTo(t, dir, 76)
	written := []string{"h3", "h1", "h2"}
	for _, id := range written {
		if _, err := old.ExecContext(ctx, `INSERT INTO rule_state (household_id, data, updated_at) VALUES (?, ?, 0)`, id, []byte("state of "+id)); err != nil {
			t.Fatal(err)
		}
	}
	var generation uint64
	if err := old.QueryRowContext(ctx, `SELECT n FROM state_generation WHERE id = 1`).Scan(&generation); err != nil {
		t.Fatal(err)
	}
	db := reopened(t, old, dir)
	states, err := db.RuleStates(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, st := range states {
		if string(st.Data) != "state of "+st.HouseholdID {
			t.Errorf("state of %s after migration: %q", st.HouseholdID, st.Data)
		}
		got = append(got, st.HouseholdID)
	}
	if want := []string{"h1", "h2", "h3"}; !slices.Equal(got, want) {
		t.Errorf("states read in the order %v, want %v (kept by id)", got, want)
	}
	if n, _, err := db.Generations(ctx); err != nil || n != generation {
		t.Errorf("generation after migration %d, %v; want %d, unmoved", n, err, generation)
	}
}

// TestMigration80: a snapshot taken before migration 00080, with a device
// written after it, cannot be mended from the changes the store records
// from the migration on; one taken at the migration can.
func TestMigration80(t *testing.T) {
	SQLiteOnly(t)
	ctx := context.Background()
	dir := t.TempDir()
	old := migratedUpTo(t, dir, 79)
	devicesAt := func() uint64 {
		t.Helper()
		var g uint64
		if err := old.QueryRowContext(ctx, `SELECT devices FROM state_generation WHERE id = 1`).Scan(&g); err != nil {
			t.Fatal(err)
		}
		return g
	}
	before := devicesAt()
	for _, q := range []string{
		`INSERT INTO grids (id, name, created_at) VALUES ('g1', 'Grid one', 0)`,
		`INSERT INTO households (id, name, address, grid_id, timezone, contacts, created_at) VALUES ('h1', 'Li', '1 Road', 'g1', '', '[]', 0)`,
		`INSERT INTO devices (id, kind, household_id, secret_hash, created_at) VALUES ('d1', 'motion_sensor', 'h1', 's', 0)`,
	} {
		if _, err := old.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	at := devicesAt()
	db := reopened(t, old, dir)
	if got, known, err := db.DevicesWrittenSince(ctx, before); err != nil || known {
		t.Errorf("since before the migration, a device written: %v, %v, %v; want not known", got, known, err)
	}
	if got, known, err := db.DevicesWrittenSince(ctx, at); err != nil || !known || got != 0 {
		t.Errorf("since the migration: %v, %v, %v; want none, known", got, known, err)
	}
}

// TestMigration78: the meters' registers, kept by household and device
// from migration 00078 on, are the same registers after it, read back in
// that order, and a reading's upsert finds them by device as before.
func TestMigration78(t *testing.T) {
	SQLiteOnly(t)
	ctx := context.Background()
	dir := t.TempDir()
	old := migratedUpTo(t, dir, 77)
	written := []history.MeterRegister{
		{DeviceID: "a-wm", HouseholdID: "h3", Field: history.FieldTotalLiters},
		{DeviceID: "z-pm", HouseholdID: "h1", Field: history.FieldTotalKWh},
		{DeviceID: "c-wm", HouseholdID: "h2", Field: history.FieldTotalLiters},
		{DeviceID: "b-wm", HouseholdID: "h1", Field: history.FieldTotalLiters},
	}
	for i, m := range written {
		if _, err := old.ExecContext(ctx, `INSERT INTO meter_registers (device_id, household_id, field, value, read_at) VALUES (?, ?, ?, ?, ?)`,
			m.DeviceID, m.HouseholdID, m.Field, i, 1000); err != nil {
			t.Fatal(err)
		}
	}
	db := reopened(t, old, dir)
	if err := db.AddReadingHours(ctx, nil, []history.MeterRegister{
		{DeviceID: "c-wm", HouseholdID: "h2", Field: history.FieldTotalLiters, Meter: history.Meter{At: fromMS(2000), Value: 9}},
	}); err != nil {
		t.Fatal(err)
	}
	var got []string
	if err := db.EachMeterRegister(ctx, func(m history.MeterRegister) error {
		got = append(got, fmt.Sprintf("%s/%s %s %g", m.HouseholdID, m.DeviceID, m.Field, m.Value))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want := []string{"h1/b-wm total_liters 3", "h1/z-pm total_kwh 1", "h2/c-wm total_liters 9", "h3/a-wm total_liters 0"}
	if !slices.Equal(got, want) {
		t.Errorf("registers after migration and a reading:\n got %q\nwant %q (by household, then device)", got, want)
	}
}

// migratedUpTo is the SQLite database of dir, as the store's migrations up
// to version left it.
func migratedUpTo(t *testing.T, dir string, version int64) *sql.DB {
	t.Helper()
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	return migratedTo(t, dir, fsys, version)
}

// migratedTo is the SQLite database of dir, as the migrations of fsys up to
// version left it.
func migratedTo(t *testing.T, dir string, fsys fs.FS, version int64) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", dsn(filepath.Join(dir, FileName), false))
	if err != nil {
		t.Fatal(err)
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, db, fsys, goose.WithDisableGlobalRegistry(true), goose.WithLogger(goose.NopLogger()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(context.Background(), version); err != nil {
		t.Fatal(err)
	}
	return db
}

// reopened closes old, the database of dir, and opens it as the store,
// which applies the migrations it has not had.
func reopened(t *testing.T, old *sql.DB, dir string) *DB {
	t.Helper()
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := OpenForTest(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestToPostgres: how PostgreSQL reads a migration written for SQLite.
func TestToPostgres(t *testing.T) {
	tests := []struct{ name, sqlite, pg string }{
		{"Time", "at INTEGER NOT NULL,", "at BIGINT NOT NULL,"},
		{"Seq", "seq INTEGER PRIMARY KEY AUTOINCREMENT,", "seq BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"},
		{"Real", "lat REAL, lon REAL", "lat DOUBLE PRECISION, lon DOUBLE PRECISION"},
		{"Blob", "state BLOB NOT NULL", "state BYTEA NOT NULL"},
		{"WordsOnly", "intervals_INTEGER TEXT, REALM TEXT", "intervals_INTEGER TEXT, REALM TEXT"},
		{"PostgresOnly", "--postgres CREATE TABLE ha_lease (epoch BIGINT);", "CREATE TABLE ha_lease (epoch BIGINT);"},
		{"PostgresOnlyKeptVerbatim", "--postgres x INTEGER", "x INTEGER"},
		{"Lines", "a INTEGER,\n--postgres b TEXT\n-- c", "a BIGINT,\nb TEXT\n-- c"},
		{"SQLiteOnly", "a INTEGER;\n-- sqlite only {\nCREATE TRIGGER t BEGIN x; END;\n-- } sqlite only\n--postgres CREATE FUNCTION f();\nb TEXT",
			"a BIGINT;\nCREATE FUNCTION f();\nb TEXT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := toPostgres(tt.sqlite); got != tt.pg {
				t.Errorf("toPostgres(%q) = %q, want %q", tt.sqlite, got, tt.pg)
			}
		})
	}
}

// TestMigrationsReadByPostgres: what PostgreSQL reads of every migration
// spells no SQLite-only type (the PostgreSQL suite then applies them).
func TestMigrationsReadByPostgres(t *testing.T) {
	dir, err := fs.Sub(migrations, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	names, err := fs.Glob(postgresMigrations{dir}, "*.sql")
	if err != nil || len(names) == 0 {
		t.Fatalf("migrations: %v, %v", names, err)
	}
	sqliteOnly := regexp.MustCompile(`(?m)^[^-]*\b(INTEGER|REAL|BLOB|AUTOINCREMENT)\b`)
	for _, name := range names {
		b, err := fs.ReadFile(postgresMigrations{dir}, name)
		if err != nil {
			t.Fatal(err)
		}
		if m := sqliteOnly.Find(b); m != nil {
			t.Errorf("%s as PostgreSQL reads it: %q", name, m)
		}
	}
}
