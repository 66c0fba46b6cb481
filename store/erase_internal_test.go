package store

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
	"github.com/eldersafe/eldersafe/tasks"
)

func mustDo(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// openForTest opens a fresh store for t, closed when t ends.
func openForTest(t *testing.T) *DB {
	t.Helper()
	db, err := OpenForTest(t, t.TempDir())
	mustDo(t, err)
	t.Cleanup(func() { db.Close() })
	return db
}

// TestDeleteHouseholdSweepsTablesItDoesNotKnow: a table added later that
// names a household, a user or a device is swept without anyone listing it;
// a tombstone is invisible to lookups and counts but keeps the grid of the
// tasks for the SLA report.
func TestDeleteHouseholdSweepsTablesItDoesNotKnow(t *testing.T) {
	ctx := context.Background()
	db := openForTest(t)
	mustDo(t, db.CreateGrid(ctx, registry.Grid{ID: "g1", Name: "G"}))
	for _, id := range []string{"h1", "h2"} {
		mustDo(t, db.CreateHousehold(ctx, registry.Household{ID: id, Name: "Name " + id, Address: "Addr " + id, GridID: "g1", Timezone: "Asia/Shanghai"}))
		mustDo(t, db.CreateDevice(ctx, registry.Device{ID: "d-" + id, Kind: registry.Wristband, HouseholdID: id, SecretHash: "x"}))
		_, err := db.CreateUser(ctx, registry.User{ID: "fam-" + id, Role: registry.RoleFamily, HouseholdID: id, PasswordHash: "x"})
		mustDo(t, err)
	}
	for _, ddl := range []string{
		`CREATE TABLE later_notes (household_id TEXT NOT NULL, note TEXT NOT NULL)`,
		`CREATE TABLE later_home_refs (home TEXT NOT NULL REFERENCES households (id), note TEXT NOT NULL)`,
		`CREATE TABLE later_user_refs (who TEXT NOT NULL REFERENCES users (id), note TEXT NOT NULL)`,
		`CREATE TABLE later_device_refs (dev TEXT NOT NULL REFERENCES devices (id), note TEXT NOT NULL)`,
	} {
		_, err := db.w.ExecContext(ctx, ddl)
		mustDo(t, err)
	}
	for _, id := range []string{"h1", "h2"} {
		for _, ins := range []struct{ q, v string }{
			{`INSERT INTO later_notes (household_id, note) VALUES (?, 'n')`, id},
			{`INSERT INTO later_home_refs (home, note) VALUES (?, 'n')`, id},
			{`INSERT INTO later_user_refs (who, note) VALUES (?, 'n')`, "fam-" + id},
			{`INSERT INTO later_device_refs (dev, note) VALUES (?, 'n')`, "d-" + id},
		} {
			_, err := db.w.ExecContext(ctx, ins.q, ins.v)
			mustDo(t, err)
		}
	}
	mustDo(t, db.SaveCheckpoint(ctx, []rules.State{{HouseholdID: "h1", Data: []byte("d-h1")}, {HouseholdID: "h2", Data: []byte("d-h2")}}, time.Time{}))

	er, err := db.DeleteHousehold(ctx, "h1", time.Now(), "op")
	mustDo(t, err)
	for _, table := range []string{"later_notes", "later_home_refs", "later_user_refs", "later_device_refs", "devices", "users", "rule_state", "households"} {
		if er.Rows[table] != 1 {
			t.Errorf("rows deleted from %s: %d, want 1 (all: %v)", table, er.Rows[table], er.Rows)
		}
	}
	// h2 untouched.
	for _, table := range []string{"later_notes", "later_home_refs", "later_user_refs", "later_device_refs"} {
		var n int
		mustDo(t, db.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+table).Scan(&n))
		if n != 1 {
			t.Errorf("%s has %d rows, want h2's 1", table, n)
		}
	}
	if _, err := db.Household(ctx, "h2"); err != nil {
		t.Errorf("h2: %v", err)
	}

	// The tombstone: there, with the grid, invisible.
	var tomb, grid string
	mustDo(t, db.r.QueryRowContext(ctx, `SELECT id, grid_id FROM households WHERE deleted_at IS NOT NULL`).Scan(&tomb, &grid))
	if !registry.IsDeleted(tomb) || grid != "g1" || registry.ValidateID("id", tomb) == nil {
		t.Errorf("tombstone %q in grid %q", tomb, grid)
	}
	if _, err := db.Household(ctx, tomb); !errors.Is(err, registry.ErrNotFound) {
		t.Errorf("Household(tombstone): %v, want not found", err)
	}
	if n, _, _ := db.Counts(ctx); n != 1 {
		t.Errorf("Counts: %d households, want 1", n)
	}
	fields, err := db.HouseholdRuleFields(ctx, true, "")
	mustDo(t, err)
	if len(fields) != 1 || fields["h2"].Timezone != "Asia/Shanghai" {
		t.Errorf("time zones %v", fields)
	}
	if _, err := db.DeleteHousehold(ctx, "h1", time.Now(), "op"); !errors.Is(err, registry.ErrNotFound) {
		t.Errorf("second deletion: %v, want not found", err)
	}
	if _, err := db.DeleteHousehold(ctx, tomb, time.Now(), "op"); !errors.Is(err, registry.ErrNotFound) {
		t.Errorf("deleting the tombstone: %v, want not found", err)
	}
	// Its id is free again.
	mustDo(t, db.CreateHousehold(ctx, registry.Household{ID: "h1", Name: "New", Address: "A", GridID: "g1"}))
}

// TestImportHousehold: create, then update in place; devices are added,
// never moved between households nor changed in kind.
func TestImportHousehold(t *testing.T) {
	ctx := context.Background()
	db := openForTest(t)
	mustDo(t, db.CreateGrid(ctx, registry.Grid{ID: "g1", Name: "G"}))
	mustDo(t, db.CreateHousehold(ctx, registry.Household{ID: "other", Name: "O", Address: "A", GridID: "g1"}))
	mustDo(t, db.CreateDevice(ctx, registry.Device{ID: "taken", Kind: registry.DoorSensor, HouseholdID: "other", SecretHash: "x"}))

	h := registry.Household{ID: "h1", Name: "Wu", Address: "1 Road", GridID: "g1", MedicalNotes: "notes",
		Contacts: []registry.Contact{{Name: "Wu Lei", Relation: "son", Channels: []string{"log"}}}}
	res, err := db.ImportHousehold(ctx, registry.HouseholdImport{Household: h, SetMedicalNotes: true,
		Devices:         []registry.Device{{ID: "band", Kind: registry.Wristband, HouseholdID: "h1"}},
		NewSecretHashes: map[string]string{"band": "hash-1"}})
	mustDo(t, err)
	if !res.Created || len(res.Added) != 1 {
		t.Fatalf("first import: %+v", res)
	}
	d, err := db.Device(ctx, "band")
	mustDo(t, err)
	if d.SecretHash != "hash-1" {
		t.Errorf("band's hash %q", d.SecretHash)
	}

	// Update: new name, notes kept, the band kept, its generated hash unused.
	h.Name, h.MedicalNotes = "Wu Fang", ""
	res, err = db.ImportHousehold(ctx, registry.HouseholdImport{Household: h,
		Devices:         []registry.Device{{ID: "band", Kind: registry.Wristband, HouseholdID: "h1"}},
		NewSecretHashes: map[string]string{"band": "hash-2"}})
	mustDo(t, err)
	if res.Created || len(res.Added) != 0 {
		t.Errorf("second import: %+v", res)
	}
	got, err := db.Household(ctx, "h1")
	mustDo(t, err)
	if got.Name != "Wu Fang" || got.MedicalNotes != "notes" {
		t.Errorf("updated: %+v", got)
	}
	if d, _ := db.Device(ctx, "band"); d.SecretHash != "hash-1" {
		t.Errorf("an existing device without a new secret got %q", d.SecretHash)
	}

	for name, dev := range map[string]registry.Device{
		"another household's device": {ID: "taken", Kind: registry.DoorSensor, HouseholdID: "h1", SecretHash: "x"},
		"another kind":               {ID: "band", Kind: registry.WaterMeter, HouseholdID: "h1", SecretHash: "x"},
		"no secret for a new device": {ID: "new", Kind: registry.WaterMeter, HouseholdID: "h1"},
	} {
		_, err := db.ImportHousehold(ctx, registry.HouseholdImport{Household: h, Devices: []registry.Device{dev}})
		var de *registry.DeviceError
		if !errors.As(err, &de) || de.DeviceID != dev.ID {
			t.Errorf("%s: %v, want a DeviceError of %s", name, err, dev.ID)
		}
	}
	// Nothing of a refused import was applied.
	h.Name = "Refused"
	_, err = db.ImportHousehold(ctx, registry.HouseholdImport{Household: h, Devices: []registry.Device{{ID: "taken", Kind: registry.DoorSensor, HouseholdID: "h1", SecretHash: "x"}}})
	if err == nil {
		t.Fatal("a device of another household was taken")
	}
	if got, _ := db.Household(ctx, "h1"); got.Name != "Wu Fang" {
		t.Errorf("a refused import renamed the household to %q", got.Name)
	}
	if _, err := db.ImportHousehold(ctx, registry.HouseholdImport{Household: registry.Household{ID: "h9", Name: "X", Address: "A", GridID: "g404"}}); !errors.Is(err, registry.ErrUnknownReference) || !strings.Contains(err.Error(), "g404") {
		t.Errorf("unknown grid: %v", err)
	}
}

// TestImportHouseholdsChunk: one chunk's households are told apart by what
// the store held before it and what the chunk itself created: a household
// named twice is created, then updated; one of an unknown grid is refused
// alone.
func TestImportHouseholdsChunk(t *testing.T) {
	ctx := context.Background()
	db := openForTest(t)
	mustDo(t, db.CreateGrid(ctx, registry.Grid{ID: "g1", Name: "G"}))
	mustDo(t, db.CreateGrid(ctx, registry.Grid{ID: "g2", Name: "G2"}))
	mustDo(t, db.CreateHousehold(ctx, registry.Household{ID: "old", Name: "Old", Address: "A", GridID: "g1"}))
	hh := func(id, name, grid string) registry.HouseholdImport {
		return registry.HouseholdImport{Household: registry.Household{ID: id, Name: name, Address: "A", GridID: grid}}
	}
	results, errs, err := db.ImportHouseholds(ctx, []registry.HouseholdImport{
		hh("new", "First", "g1"), hh("new", "Second", "g2"), hh("lost", "L", "g404"), hh("old", "Old renamed", "g2"),
	})
	mustDo(t, err)
	for i, want := range []struct {
		created bool
		err     string
	}{{created: true}, {}, {err: `grid_id "g404"`}, {}} {
		if results[i].Created != want.created || (want.err == "") != (errs[i] == nil) || (errs[i] != nil && !strings.Contains(errs[i].Error(), want.err)) {
			t.Errorf("household %d: created %v, err %v; want created %v, err %q", i, results[i].Created, errs[i], want.created, want.err)
		}
	}
	for id, want := range map[string]string{"new": "Second", "old": "Old renamed"} {
		h, err := db.Household(ctx, id)
		mustDo(t, err)
		if h.Name != want || h.GridID != "g2" {
			t.Errorf("%s: %q in %s, want %q in g2", id, h.Name, h.GridID, want)
		}
	}
	if _, err := db.Household(ctx, "lost"); !errors.Is(err, registry.ErrNotFound) {
		t.Errorf("the refused household: %v, want not found", err)
	}
}

// TestAttemptAfterErasure: a notice whose household is deleted while it is
// being sent keeps the outcome of the attempt, not its words, and is not
// tried again.
func TestAttemptAfterErasure(t *testing.T) {
	ctx := context.Background()
	db := openForTest(t)
	mustDo(t, db.CreateGrid(ctx, registry.Grid{ID: "g1", Name: "G"}))
	mustDo(t, db.CreateHousehold(ctx, registry.Household{ID: "h1", Name: "N", Address: "A", GridID: "g1"}))
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	mustDo(t, db.Update(ctx, func(tx tasks.Tx) error {
		err := tx.InsertTask(ctx, tasks.Task{ID: "t1", HouseholdID: "h1", Rule: "fall", Severity: rules.Critical, Kind: rules.Visit,
			State: tasks.Open, OpenedAt: now, AckDueAt: now.Add(5 * time.Minute), ResolveDueAt: now.Add(72 * time.Hour)})
		if err != nil {
			return err
		}
		return tx.Enqueue(ctx, tasks.Notice{ID: "n1", TaskID: "t1", HouseholdID: "h1", Rule: "fall", Severity: "critical", Channel: "push",
			Recipient: "Li Wei", Address: "http://family.example/li", Message: "fall at N", OpenedAt: now, CreatedAt: now, NextAttemptAt: now})
	}))
	_, err := db.DeleteHousehold(ctx, "h1", now, "op")
	mustDo(t, err)
	mustDo(t, db.RecordAttempt(ctx, "n1", tasks.Attempt{Status: tasks.NoticePending, Attempts: 1, NextAttemptAt: now.Add(time.Second),
		LastError: `Post "http://family.example/li": connection refused`,
		Entry:     tasks.TimelineEntry{At: now, Actor: "notify", Type: "notice_failed", Message: "push to Li Wei failed", Data: map[string]any{"to": "Li Wei"}}}))
	var status, lastError string
	mustDo(t, db.r.QueryRowContext(ctx, `SELECT status, last_error FROM notices WHERE id = 'n1'`).Scan(&status, &lastError))
	if status != tasks.NoticeFailed || lastError != deletionNote {
		t.Errorf("notice: status %q, last_error %q", status, lastError)
	}
	var n int
	mustDo(t, db.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM task_timeline WHERE message LIKE '%Li Wei%' OR data_json LIKE '%Li Wei%'`).Scan(&n))
	if n != 0 {
		t.Errorf("%d timeline entries name the recipient", n)
	}
}
