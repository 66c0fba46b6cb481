package store_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
	"github.com/eldersafe/eldersafe/store"
	"github.com/eldersafe/eldersafe/tasks"
)

// t0 is a time with millisecond precision in UTC: it round-trips equal.
var t0 = time.Date(2025, 3, 14, 9, 12, 30, 123_000_000, time.UTC)

func openDB(tb testing.TB, dir string) *store.DB {
	tb.Helper()
	db, err := store.OpenForTest(tb, dir)
	if err != nil {
		tb.Fatalf("Open(%s): %v", dir, err)
	}
	tb.Cleanup(func() {
		if err := db.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return db
}

func newDB(tb testing.TB) *store.DB {
	tb.Helper()
	return openDB(tb, tb.TempDir())
}

func must(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}

// seed registers grid g1 with worker w1 and household h1 (one family contact on log).
func seed(tb testing.TB, db *store.DB) {
	tb.Helper()
	ctx := context.Background()
	must(tb, db.CreateGrid(ctx, registry.Grid{ID: "g1", Name: "Grid one", SupervisorID: "sup1", BackupWorkerID: "w2"}))
	must(tb, db.CreateWorker(ctx, registry.Worker{ID: "w1", Name: "Wang", Phone: "+8613800000001", GridIDs: []string{"g1"}, Role: registry.RoleGridWorker}))
	must(tb, db.CreateHousehold(ctx, registry.Household{
		ID: "h1", Name: "Li", Address: "1 Road", GridID: "g1",
		Contacts: []registry.Contact{{Name: "Daughter", Relation: "daughter", Channels: []string{registry.ChannelLog}}},
	}))
}

func newTask(id, household, rule string, opened time.Time) tasks.Task {
	return tasks.Task{
		ID: id, HouseholdID: household, Rule: rule, Severity: rules.High, Kind: rules.Visit, State: tasks.Open,
		AssigneeID: "w1", OpenedAt: opened, AckDueAt: opened.Add(30 * time.Minute), ResolveDueAt: opened.Add(72 * time.Hour),
	}
}

func insertTask(tb testing.TB, db *store.DB, t tasks.Task) {
	tb.Helper()
	must(tb, db.Update(context.Background(), func(tx tasks.Tx) error { return tx.InsertTask(context.Background(), t) }))
}

func TestOpen(t *testing.T) {
	t.Run("CreatesPrivateDataDir", func(t *testing.T) {
		store.SQLiteOnly(t)
		dir := filepath.Join(t.TempDir(), "data", "nested")
		openDB(t, dir)
		fi, err := os.Stat(dir)
		must(t, err)
		if perm := fi.Mode().Perm(); perm != 0o700 {
			t.Errorf("data dir mode = %o, want 700", perm)
		}
		if _, err := os.Stat(filepath.Join(dir, store.FileName)); err != nil {
			t.Errorf("database file: %v", err)
		}
	})
	t.Run("OddPath", func(t *testing.T) {
		store.SQLiteOnly(t)
		dir := filepath.Join(t.TempDir(), "a dir?with#odd%chars")
		db := openDB(t, dir)
		must(t, db.SetSetting(context.Background(), "k", "v"))
		if _, err := os.Stat(filepath.Join(dir, store.FileName)); err != nil {
			t.Errorf("database file not where expected: %v", err)
		}
	})
	t.Run("NoDataDir", func(t *testing.T) {
		if _, err := store.Open(context.Background(), "", nil); err == nil {
			t.Fatal("Open(\"\") succeeded")
		}
	})
	t.Run("ReopenKeepsData", func(t *testing.T) {
		dir := t.TempDir()
		ctx := context.Background()
		db, err := store.OpenForTest(t, dir)
		must(t, err)
		seed(t, db)
		insertTask(t, db, newTask("t1", "h1", rules.RuleFall, t0))
		must(t, db.SetSetting(ctx, "event_clock", "123"))
		must(t, db.Close())

		// Twice: migrations already applied must be a no-op.
		for i := range 2 {
			db, err := store.OpenForTest(t, dir)
			if err != nil {
				t.Fatalf("reopen %d: %v", i, err)
			}
			if _, err := db.Household(ctx, "h1"); err != nil {
				t.Errorf("reopen %d: household: %v", i, err)
			}
			if _, err := db.Task(ctx, "t1"); err != nil {
				t.Errorf("reopen %d: task: %v", i, err)
			}
			if v, ok, err := db.Setting(ctx, "event_clock"); err != nil || !ok || v != "123" {
				t.Errorf("reopen %d: setting = %q, %v, %v", i, v, ok, err)
			}
			must(t, db.Close())
		}
	})
}

func TestSettings(t *testing.T) {
	db := newDB(t)
	ctx := context.Background()
	if v, ok, err := db.Setting(ctx, "admin_token"); err != nil || ok || v != "" {
		t.Fatalf("unset setting = %q, %v, %v; want \"\", false, nil", v, ok, err)
	}
	for _, v := range []string{"first", "second", ""} {
		must(t, db.SetSetting(ctx, "admin_token", v))
		got, ok, err := db.Setting(ctx, "admin_token")
		if err != nil || !ok || got != v {
			t.Errorf("after SetSetting(%q): %q, %v, %v", v, got, ok, err)
		}
	}
}

func TestClosedDB(t *testing.T) {
	db, err := store.OpenForTest(t, t.TempDir())
	must(t, err)
	must(t, db.Close())
	if _, err := db.Grid(context.Background(), "g1"); err == nil || errors.Is(err, registry.ErrNotFound) {
		t.Errorf("Grid on a closed DB: %v, want a non-NotFound error", err)
	}
}
