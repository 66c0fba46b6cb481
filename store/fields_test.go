package store_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
	"github.com/eldersafe/eldersafe/store"
	"github.com/eldersafe/eldersafe/tasks"
)

// Sensitive values of the tests: none may appear in the database files.
const (
	relativePhone = "+8613912345678"
	medicalNotes  = "Insulin twice daily; allergic to penicillin"
	pushURL       = "https://push.example/secret-topic-4711"
	// Where the wristband said the resident fell, and the worker checked in.
	fallLat, fallLon       = 31.2304567, 121.4737012
	checkInLat, checkInLon = 31.2311119, 121.4744443
	// ruleState stands for the engine's saved state, which holds a
	// wristband's last heart rate: opaque bytes to the store.
	ruleState = "\x02heart rate 97 bpm"
	// A worker's notice links to where the resident fell.
	noticeText = "Li fell. Map: https://www.openstreetmap.org/?mlat=31.2304567&mlon=121.4737012"
)

var (
	fieldKey  = bytes.Repeat([]byte{7}, store.FieldKeySize)
	otherKey  = bytes.Repeat([]byte{8}, store.FieldKeySize)
	sensitive = []string{relativePhone, medicalNotes, pushURL, "Zhang Min",
		"31.2304567", "121.4737012", "31.2311119", "121.4744443", "heart rate 97 bpm"}
)

func openKeyed(tb testing.TB, dir string, key []byte) *store.DB {
	tb.Helper()
	db, err := store.OpenForTest(tb, dir, store.WithFieldKey(key))
	if err != nil {
		tb.Fatalf("Open(%s) with key: %v", dir, err)
	}
	return db
}

// writeSensitive registers h1 with a relative's phone and push URL and
// medical notes, a fall task with its position in the evidence (and a
// second piece of evidence without one), a check-in with the worker's
// position and an SMS notice to the relative, and the rules' state.
func writeSensitive(tb testing.TB, db *store.DB) {
	tb.Helper()
	ctx := context.Background()
	must(tb, db.CreateGrid(ctx, registry.Grid{ID: "g1", Name: "Grid one"}))
	must(tb, db.CreateHousehold(ctx, registry.Household{
		ID: "h1", Name: "Li", Address: "1 Road", GridID: "g1", MedicalNotes: medicalNotes,
		Contacts: []registry.Contact{{Name: "Zhang Min", Relation: "daughter", Phone: relativePhone, PushURL: pushURL,
			Channels: []string{registry.ChannelSMS, registry.ChannelPush}}},
	}))
	must(tb, db.CreateHousehold(ctx, registry.Household{ID: "h2", Name: "Sun", Address: "2 Road", GridID: "g1"}))
	must(tb, db.Update(ctx, func(tx tasks.Tx) error {
		if err := tx.InsertTask(ctx, newTask("t1", "h1", rules.RuleFall, t0)); err != nil {
			return err
		}
		if err := tx.AddEvidence(ctx, "t1", rules.Evidence{At: t0, DeviceID: "wb1", Summary: "wristband detected a fall",
			Values: map[string]any{"lat": fallLat, "lon": fallLon, "accuracy_m": 8.0}}); err != nil {
			return err
		}
		if err := tx.AddEvidence(ctx, "t1", rules.Evidence{At: t0, DeviceID: "wb1", Summary: "again", Values: map[string]any{"battery_pct": 80.0}}); err != nil {
			return err
		}
		if err := tx.AddTimeline(ctx, "t1", tasks.TimelineEntry{At: t0, Actor: "w1", Type: tasks.EntryCheckedIn,
			Data: map[string]any{"lat": checkInLat, "lon": checkInLon}}); err != nil {
			return err
		}
		n := newNotice("n1", "t1", t0)
		n.Channel, n.Address, n.Message = registry.ChannelSMS, relativePhone, noticeText
		if err := tx.Enqueue(ctx, n); err != nil {
			return err
		}
		// The same documents, many tasks at once: those with a position
		// sealed, in their order among the others.
		t2 := newTask("t2", "h2", rules.RuleFall, t0)
		t2.Evidence = []rules.Evidence{
			{At: t0, DeviceID: "wb2", Summary: "before", Values: map[string]any{"battery_pct": 70.0}},
			{At: t0, DeviceID: "wb2", Summary: "wristband detected a fall", Values: map[string]any{"lat": fallLat, "lon": fallLon}},
			{At: t0, DeviceID: "wb2", Summary: "after"},
		}
		t2.Timeline = []tasks.TimelineEntry{{At: t0, Actor: "w1", Type: tasks.EntryCheckedIn, Data: map[string]any{"lat": checkInLat, "lon": checkInLon}}}
		return tx.InsertTasks(ctx, []tasks.Task{t2})
	}))
	must(tb, db.SaveCheckpoint(ctx, []rules.State{{HouseholdID: "h1", Data: []byte(ruleState)}}, time.Time{}))
}

// checkReadable reads back what writeSensitive wrote, decrypted.
func checkReadable(t *testing.T, db *store.DB) {
	t.Helper()
	ctx := context.Background()
	h, err := db.Household(ctx, "h1")
	if err != nil {
		t.Fatalf("Household: %v", err)
	}
	if h.MedicalNotes != medicalNotes || len(h.Contacts) != 1 || h.Contacts[0].Phone != relativePhone || h.Contacts[0].PushURL != pushURL {
		t.Errorf("household read back as %+v", h)
	}
	ns, err := db.Notifications(ctx, "t1")
	if err != nil || len(ns) != 1 || ns[0].Address != relativePhone || ns[0].Message != noticeText {
		t.Errorf("notices read back as %+v, %v", ns, err)
	}
	due, err := db.DueNotices(ctx, t0, 0)
	if err != nil || len(due) != 1 || due[0].Address != relativePhone || due[0].Message != noticeText {
		t.Errorf("due notices read back as %+v, %v", due, err)
	}
	task, err := db.Task(ctx, "t1")
	if err != nil || len(task.Evidence) != 2 || task.Evidence[0].Values["lat"] != fallLat || task.Evidence[0].Values["lon"] != fallLon ||
		task.Evidence[1].Values["battery_pct"] != 80.0 ||
		len(task.Timeline) != 1 || task.Timeline[0].Data["lat"] != checkInLat || task.Timeline[0].Data["lon"] != checkInLon {
		t.Errorf("task read back as %+v, %v", task, err)
	}
	t2, err := db.Task(ctx, "t2")
	if err != nil || len(t2.Evidence) != 3 || t2.Evidence[0].Summary != "before" || t2.Evidence[1].Values["lat"] != fallLat ||
		t2.Evidence[1].Values["lon"] != fallLon || t2.Evidence[2].Summary != "after" ||
		len(t2.Timeline) != 1 || t2.Timeline[0].Data["lat"] != checkInLat {
		t.Errorf("task inserted with others read back as %+v, %v", t2, err)
	}
	states, err := db.RuleStates(ctx)
	if err != nil || len(states) != 1 || string(states[0].Data) != ruleState {
		t.Errorf("rule states read back as %+v, %v", states, err)
	}
	// The rate limit finds the notice by its (encrypted) address.
	must(t, db.Update(ctx, func(tx tasks.Tx) error {
		key := ns[0].Key()
		if _, found, err := tx.LastNoticeAt(ctx, key); err != nil || !found {
			t.Errorf("LastNoticeAt(%+v) = %v, %v; want found", key, found, err)
		}
		key.Address = "+8613900000000"
		if _, found, err := tx.LastNoticeAt(ctx, key); err != nil || found {
			t.Errorf("LastNoticeAt(another address) = %v, %v; want not found", found, err)
		}
		th, err := tx.Household(ctx, "h1")
		if err != nil || th.Contacts[0].Phone != relativePhone || th.MedicalNotes != medicalNotes {
			t.Errorf("Tx.Household = %+v, %v", th, err)
		}
		return nil
	}))
}

func assertNoPlaintext(t *testing.T, dir string) {
	t.Helper()
	raw := store.RawContent(t, dir)
	for _, s := range sensitive {
		if bytes.Contains(raw, []byte(s)) {
			t.Errorf("the database files hold %q in plaintext", s)
		}
	}
	if !bytes.Contains(raw, []byte("enc:v1:")) {
		t.Error("no encrypted value in the database files")
	}
}

func TestFields_EncryptedAtRest(t *testing.T) {
	dir := t.TempDir()
	db := openKeyed(t, dir, fieldKey)
	writeSensitive(t, db)
	checkReadable(t, db)
	assertNoPlaintext(t, dir) // while open: the WAL too
	must(t, db.Close())
	assertNoPlaintext(t, dir)

	db = openKeyed(t, dir, fieldKey)
	defer db.Close()
	checkReadable(t, db)
}

func TestFields_PlaintextEncryptedAtOpen(t *testing.T) {
	dir := t.TempDir()
	db, err := store.OpenForTest(t, dir)
	must(t, err)
	writeSensitive(t, db) // no key yet: as a version before encryption did
	must(t, db.Close())
	if raw := store.RawContent(t, dir); !bytes.Contains(raw, []byte(relativePhone)) {
		t.Fatal("without a key, the phone number should be stored as given")
	}

	db = openKeyed(t, dir, fieldKey)
	checkReadable(t, db)
	must(t, db.Close())
	assertNoPlaintext(t, dir)
}

func TestFields_WrongOrMissingKey(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db := openKeyed(t, dir, fieldKey)
	writeSensitive(t, db)
	must(t, db.Close())

	tests := []struct {
		name string
		open func() (*store.DB, error)
		// wantOpen names the error of Open; empty: Open succeeds and reads fail.
		wantOpen string
	}{
		{"wrong key", func() (*store.DB, error) { return store.OpenForTest(t, dir, store.WithFieldKey(otherKey)) }, "was security.key (or the key file) changed?"},
		{"short key", func() (*store.DB, error) { return store.OpenForTest(t, dir, store.WithFieldKey([]byte("short"))) }, "5 bytes, want 32"},
		{"no key", func() (*store.DB, error) { return store.OpenForTest(t, dir) }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, err := tt.open()
			if tt.wantOpen != "" {
				if err == nil {
					db.Close()
					t.Fatal("Open succeeded")
				}
				if !errors.Is(err, store.ErrFieldKey) || !strings.Contains(err.Error(), tt.wantOpen) {
					t.Fatalf("Open: %v, want ErrFieldKey naming %q", err, tt.wantOpen)
				}
				return
			}
			must(t, err)
			defer db.Close()
			// What holds no personal data still works.
			if _, err := db.Grid(ctx, "g1"); err != nil {
				t.Errorf("Grid: %v", err)
			}
			if _, err := db.Household(ctx, "h1"); !errors.Is(err, store.ErrFieldKey) || !strings.Contains(err.Error(), "opened without the key") {
				t.Errorf("Household without the key: %v, want ErrFieldKey", err)
			}
			if _, err := db.Notifications(ctx, "t1"); !errors.Is(err, store.ErrFieldKey) {
				t.Errorf("Notifications without the key: %v, want ErrFieldKey", err)
			}
			if _, err := db.Task(ctx, "t1"); !errors.Is(err, store.ErrFieldKey) {
				t.Errorf("Task without the key: %v, want ErrFieldKey", err)
			}
			if states, err := db.RuleStates(ctx); err != nil || len(states) != 0 {
				t.Errorf("RuleStates without the key: %+v, %v; want none (each logged)", states, err)
			}
			err = db.Update(ctx, func(tx tasks.Tx) error {
				return tx.AddEvidence(ctx, "t1", rules.Evidence{At: t0, Values: map[string]any{"lat": 1.0, "lon": 2.0}})
			})
			if !errors.Is(err, store.ErrFieldKey) {
				t.Errorf("AddEvidence with a position without the key: %v, want ErrFieldKey", err)
			}
			if err := db.SaveCheckpoint(ctx, []rules.State{{HouseholdID: "h1", Data: []byte{2}}}, time.Time{}); !errors.Is(err, store.ErrFieldKey) {
				t.Errorf("SaveCheckpoint without the key: %v, want ErrFieldKey", err)
			}
			// No plaintext is written next to encrypted values.
			err = db.CreateHousehold(ctx, registry.Household{ID: "h3", Name: "Wu", Address: "3 Road", GridID: "g1",
				Contacts: []registry.Contact{{Name: "Wu Lei", Relation: "son", Phone: "+8613700000000", Channels: []string{registry.ChannelSMS}}}})
			if !errors.Is(err, store.ErrFieldKey) {
				t.Errorf("CreateHousehold without the key: %v, want ErrFieldKey", err)
			}
		})
	}

	// The key still opens everything after the failed attempts.
	db = openKeyed(t, dir, fieldKey)
	defer db.Close()
	checkReadable(t, db)
}

// TestFields_BoundToTheirRow: an encrypted value copied into another row
// does not decrypt there, so ciphertexts cannot be swapped between households
// or pieces of evidence.
func TestFields_BoundToTheirRow(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		copy string
		read func(*store.DB) error
	}{
		{"contacts", `UPDATE households SET contacts = (SELECT contacts FROM households WHERE id = 'h1') WHERE id = 'h2'`,
			func(db *store.DB) error { _, err := db.Household(ctx, "h2"); return err }},
		{"evidence", `UPDATE task_evidence SET values_json = (SELECT values_json FROM task_evidence ORDER BY seq LIMIT 1) WHERE summary = 'again'`,
			func(db *store.DB) error { _, err := db.Task(ctx, "t1"); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			db := openKeyed(t, dir, fieldKey)
			writeSensitive(t, db)
			must(t, db.Close())
			raw := store.RawSQL(t, dir)
			if _, err := raw.Exec(tt.copy); err != nil {
				t.Fatal(err)
			}
			must(t, raw.Close())
			db = openKeyed(t, dir, fieldKey)
			defer db.Close()
			if err := tt.read(db); !errors.Is(err, store.ErrFieldKey) || !strings.Contains(err.Error(), "altered") {
				t.Errorf("read with a copied value: %v, want ErrFieldKey", err)
			}
		})
	}
}

func TestPrivacyAndGrants(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	seed(t, db)
	if h, err := db.Household(ctx, "h1"); err != nil || h.Privacy != nil {
		t.Fatalf("privacy of a new household: %v, %v; want nil (defaults)", h.Privacy, err)
	}
	must(t, db.SetPrivacy(ctx, "h1", registry.Privacy{"water": {"worker"}}))
	h, err := db.Household(ctx, "h1")
	if err != nil || h.Privacy.Visible("water", "family") || !h.Privacy.Visible("water", "worker") {
		t.Errorf("privacy after SetPrivacy: %v, %v", h.Privacy, err)
	}
	if err := db.SetPrivacy(ctx, "h404", nil); !errors.Is(err, registry.ErrNotFound) {
		t.Errorf("SetPrivacy of an unknown household: %v", err)
	}
	if err := db.SetPrivacy(ctx, "h1", registry.Privacy{"mood": nil}); err == nil {
		t.Error("SetPrivacy accepted an unknown signal")
	}

	if _, err := db.CreateUser(ctx, registry.User{ID: "gw1", Role: registry.RoleGridWorker, WorkerID: "w1", PasswordHash: "x"}); err != nil {
		t.Fatal(err)
	}
	g := registry.Grant{ID: "gr1", UserID: "gw1", HouseholdID: "h1", Fields: []string{registry.FieldPhone}, Reason: "visit",
		GrantedBy: "sv", CreatedAt: t0, Until: t0.Add(time.Hour)}
	must(t, db.CreateGrant(ctx, g))
	if err := db.CreateGrant(ctx, g); !errors.Is(err, registry.ErrConflict) {
		t.Errorf("same grant twice: %v", err)
	}
	bad := g
	bad.ID, bad.UserID = "gr2", "nobody"
	if err := db.CreateGrant(ctx, bad); !errors.Is(err, registry.ErrUnknownReference) {
		t.Errorf("grant to an unknown user: %v", err)
	}
	for _, c := range []struct {
		at   time.Time
		want int
	}{{t0.Add(-time.Second), 0}, {t0, 1}, {t0.Add(59 * time.Minute), 1}, {t0.Add(time.Hour), 0}} {
		got, err := db.ActiveGrants(ctx, "gw1", "h1", c.at)
		if err != nil || len(got) != c.want {
			t.Errorf("ActiveGrants at %s: %d, %v; want %d", c.at, len(got), err, c.want)
		}
	}
	list, err := db.Grants(ctx, "h1")
	if err != nil || len(list) != 1 || list[0].Reason != "visit" || list[0].Fields[0] != "phone" || !list[0].Until.Equal(g.Until) {
		t.Errorf("Grants = %+v, %v", list, err)
	}
}
