package store_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/tasks"
)

func TestRegistry_CreateAndLookup(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	seed(t, db)

	grid := registry.Grid{ID: "g2", Name: "Grid two", SupervisorID: "not-yet-registered"}
	worker := registry.Worker{ID: "w9", Name: "Zhao", Phone: "+8613900000001", GridIDs: []string{"g2", "g1"}, Role: registry.RoleGridWorker, PushURL: "https://push.example/w9", Lang: "en", CreatedAt: t0}
	household := registry.Household{ID: "h9", Name: "Chen", Address: "9 Lane", GridID: "g2", Timezone: "Europe/Paris", CareLevel: registry.CareSemi,
		Contacts: []registry.Contact{
			{Name: "Son", Relation: "son", Phone: "+8613700000001", Lang: "en", Channels: []string{registry.ChannelSMS, registry.ChannelLog}},
			{Name: "Niece", Relation: "niece", PushURL: "https://ntfy.example/x", Channels: []string{registry.ChannelPush}},
		}}
	device := registry.Device{ID: "d9", Kind: registry.Wristband, HouseholdID: "h9", SecretHash: "$2a$10$hash", Source: registry.SourceNative, Location: "卧室"}

	tests := []struct {
		name   string
		create func() error
		lookup func() (any, error)
		want   any
	}{
		{"Grid", func() error { return db.CreateGrid(ctx, grid) }, func() (any, error) { return db.Grid(ctx, "g2") }, grid},
		{"Worker", func() error { return db.CreateWorker(ctx, worker) }, func() (any, error) { return db.Worker(ctx, "w9") }, worker},
		{"Household", func() error { return db.CreateHousehold(ctx, household) }, func() (any, error) { return db.Household(ctx, "h9") }, household},
		{"Device", func() error { return db.CreateDevice(ctx, device) }, func() (any, error) { return db.Device(ctx, "d9") }, device},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.create(); err != nil {
				t.Fatalf("create: %v", err)
			}
			got, err := tt.lookup()
			if err != nil {
				t.Fatalf("lookup: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("lookup = %+v\nwant %+v", got, tt.want)
			}
			if err := tt.create(); !errors.Is(err, registry.ErrConflict) {
				t.Errorf("second create: %v, want ErrConflict", err)
			}
		})
	}
}

func TestRegistry_Defaults(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	must(t, db.CreateGrid(ctx, registry.Grid{ID: "g1", Name: "G"}))

	before := time.Now().Add(-time.Second)
	must(t, db.CreateWorker(ctx, registry.Worker{ID: "op", Name: "Operator", Role: registry.RoleOperator}))
	w, err := db.Worker(ctx, "op")
	must(t, err)
	if w.CreatedAt.Before(before) || w.CreatedAt.After(time.Now().Add(time.Second)) || w.CreatedAt.Location() != time.UTC {
		t.Errorf("CreatedAt = %v, want now in UTC", w.CreatedAt)
	}
	if w.GridIDs == nil || len(w.GridIDs) != 0 {
		t.Errorf("GridIDs = %#v, want an empty non-nil slice", w.GridIDs)
	}

	// Repeated grid ids are stored once.
	must(t, db.CreateWorker(ctx, registry.Worker{ID: "w1", Name: "W", Role: registry.RoleGridWorker, GridIDs: []string{"g1", "g1"}}))
	w, err = db.Worker(ctx, "w1")
	must(t, err)
	if !reflect.DeepEqual(w.GridIDs, []string{"g1"}) {
		t.Errorf("GridIDs = %v, want [g1]", w.GridIDs)
	}

	must(t, db.CreateHousehold(ctx, registry.Household{ID: "h1", Name: "H", Address: "A", GridID: "g1"}))
	h, err := db.Household(ctx, "h1")
	must(t, err)
	if h.Contacts == nil || len(h.Contacts) != 0 || h.Timezone != "" {
		t.Errorf("household = %+v, want empty non-nil contacts and no timezone", h)
	}
}

func TestRegistry_Errors(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	seed(t, db)

	tests := []struct {
		name    string
		err     error
		want    error  // errors.Is target; nil: a validation error
		mention string // the error text must contain this
	}{
		{"GridInvalid", db.CreateGrid(ctx, registry.Grid{ID: "bad id", Name: "x"}), nil, "id"},
		{"WorkerInvalidRole", db.CreateWorker(ctx, registry.Worker{ID: "w5", Name: "x", Role: "boss"}), nil, "role"},
		{"WorkerUnknownGrid", db.CreateWorker(ctx, registry.Worker{ID: "w5", Name: "x", Role: registry.RoleGridWorker, GridIDs: []string{"g1", "g404"}}), registry.ErrUnknownReference, `grid_ids "g404"`},
		{"WorkerConflict", db.CreateWorker(ctx, registry.Worker{ID: "w1", Name: "x", Role: registry.RoleGridWorker}), registry.ErrConflict, "w1"},
		{"HouseholdUnknownGrid", db.CreateHousehold(ctx, registry.Household{ID: "h5", Name: "x", Address: "y", GridID: "g404"}), registry.ErrUnknownReference, `grid_id "g404"`},
		{"HouseholdConflict", db.CreateHousehold(ctx, registry.Household{ID: "h1", Name: "x", Address: "y", GridID: "g1"}), registry.ErrConflict, "h1"},
		{"DeviceUnknownHousehold", db.CreateDevice(ctx, registry.Device{ID: "d5", Kind: registry.WaterMeter, HouseholdID: "h404"}), registry.ErrUnknownReference, `household_id "h404"`},
		{"DeviceInvalidKind", db.CreateDevice(ctx, registry.Device{ID: "d5", Kind: "toaster", HouseholdID: "h1"}), nil, "kind"},
		{"GridNotFound", second(db.Grid(ctx, "g404")), registry.ErrNotFound, "g404"},
		{"WorkerNotFound", second(db.Worker(ctx, "w404")), registry.ErrNotFound, "w404"},
		{"HouseholdNotFound", second(db.Household(ctx, "h404")), registry.ErrNotFound, "h404"},
		{"DeviceNotFound", second(db.Device(ctx, "d404")), registry.ErrNotFound, "d404"},
		{"DevicesOfNotFound", second(db.DevicesOf(ctx, "h404")), registry.ErrNotFound, "h404"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.err == nil {
				t.Fatal("no error")
			}
			if tt.want != nil && !errors.Is(tt.err, tt.want) {
				t.Errorf("error %q does not wrap %q", tt.err, tt.want)
			}
			if tt.want == nil {
				for _, sentinel := range []error{registry.ErrConflict, registry.ErrNotFound, registry.ErrUnknownReference} {
					if errors.Is(tt.err, sentinel) {
						t.Errorf("validation error %q wraps %q", tt.err, sentinel)
					}
				}
			}
			if !strings.Contains(tt.err.Error(), tt.mention) {
				t.Errorf("error %q does not mention %q", tt.err, tt.mention)
			}
		})
	}

	// Nothing of the failed creates was stored.
	if _, err := db.Worker(ctx, "w5"); !errors.Is(err, registry.ErrNotFound) {
		t.Errorf("worker w5 after failed create: %v", err)
	}
	if hh, dd, err := db.Counts(ctx); err != nil || hh != 1 || dd != 0 {
		t.Errorf("Counts = %d, %d, %v; want 1, 0", hh, dd, err)
	}
}

func second[T any](_ T, err error) error { return err }

func TestRegistry_DevicesOfAndCounts(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	seed(t, db)
	must(t, db.CreateHousehold(ctx, registry.Household{ID: "h2", Name: "x", Address: "y", GridID: "g1"}))

	devices, err := db.DevicesOf(ctx, "h1")
	must(t, err)
	if devices == nil || len(devices) != 0 {
		t.Errorf("DevicesOf without devices = %#v, want empty non-nil", devices)
	}
	for _, d := range []registry.Device{
		{ID: "h1-water", Kind: registry.WaterMeter, HouseholdID: "h1"},
		{ID: "h1-band", Kind: registry.Wristband, HouseholdID: "h1", SecretHash: "s"},
		{ID: "h2-door", Kind: registry.DoorSensor, HouseholdID: "h2"},
	} {
		must(t, db.CreateDevice(ctx, d))
	}
	devices, err = db.DevicesOf(ctx, "h1")
	must(t, err)
	var ids []string
	for _, d := range devices {
		ids = append(ids, d.ID)
	}
	if !reflect.DeepEqual(ids, []string{"h1-band", "h1-water"}) {
		t.Errorf("DevicesOf(h1) = %v, want [h1-band h1-water]", ids)
	}
	hh, dd, err := db.Counts(ctx)
	if err != nil || hh != 2 || dd != 3 {
		t.Errorf("Counts = %d, %d, %v; want 2, 3", hh, dd, err)
	}
}

func TestRegistry_PrimaryWorker(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	for _, g := range []string{"g1", "g2"} {
		must(t, db.CreateGrid(ctx, registry.Grid{ID: g, Name: g}))
	}
	// Registered in this order; CreatedAt deliberately disagrees with it.
	for _, w := range []registry.Worker{
		{ID: "sup", Name: "Supervisor", Role: registry.RoleSupervisor, GridIDs: []string{"g1"}, CreatedAt: t0.Add(-3 * time.Hour)},
		{ID: "other", Name: "Other grid", Role: registry.RoleGridWorker, GridIDs: []string{"g2"}, CreatedAt: t0.Add(-2 * time.Hour)},
		{ID: "op", Name: "Operator", Role: registry.RoleOperator, GridIDs: []string{"g1"}, CreatedAt: t0.Add(-time.Hour)},
		{ID: "first", Name: "First", Role: registry.RoleGridWorker, GridIDs: []string{"g2", "g1"}, CreatedAt: t0.Add(time.Hour)},
		{ID: "second", Name: "Second", Role: registry.RoleGridWorker, GridIDs: []string{"g1"}, CreatedAt: t0},
	} {
		must(t, db.CreateWorker(ctx, w))
	}
	must(t, db.CreateGrid(ctx, registry.Grid{ID: "g3", Name: "unstaffed"}))

	tests := []struct {
		grid    string
		want    string
		wantErr error
	}{
		{"g1", "first", nil},
		{"g2", "other", nil},
		{"g3", "", registry.ErrNotFound},
		{"g404", "", registry.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.grid, func(t *testing.T) {
			var got registry.Worker
			err := db.Update(ctx, func(tx tasks.Tx) error {
				var err error
				got, err = tx.PrimaryWorker(ctx, tt.grid)
				return err
			})
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("PrimaryWorker(%s) error = %v, want %v", tt.grid, err, tt.wantErr)
				}
				return
			}
			must(t, err)
			if got.ID != tt.want {
				t.Errorf("PrimaryWorker(%s) = %s, want %s", tt.grid, got.ID, tt.want)
			}
			if len(got.GridIDs) == 0 || got.Name == "" {
				t.Errorf("PrimaryWorker(%s) = %+v, want the whole worker", tt.grid, got)
			}
		})
	}
}

func TestRegistry_TxLookups(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	seed(t, db)
	err := db.Update(ctx, func(tx tasks.Tx) error {
		h, err := tx.Household(ctx, "h1")
		if err != nil || h.GridID != "g1" || len(h.Contacts) != 1 {
			t.Errorf("tx.Household = %+v, %v", h, err)
		}
		g, err := tx.Grid(ctx, "g1")
		if err != nil || g.BackupWorkerID != "w2" || g.SupervisorID != "sup1" {
			t.Errorf("tx.Grid = %+v, %v", g, err)
		}
		w, err := tx.Worker(ctx, "w1")
		if err != nil || !reflect.DeepEqual(w.GridIDs, []string{"g1"}) {
			t.Errorf("tx.Worker = %+v, %v", w, err)
		}
		for name, err := range map[string]error{
			"Household": second(tx.Household(ctx, "x")),
			"Grid":      second(tx.Grid(ctx, "x")),
			"Worker":    second(tx.Worker(ctx, "x")),
			"Task":      second(tx.Task(ctx, "x")),
		} {
			if !errors.Is(err, tasks.ErrNotFound) {
				t.Errorf("tx.%s(missing) = %v, want ErrNotFound", name, err)
			}
		}
		return nil
	})
	must(t, err)
}

// TestRegistry_CountsFollowWrites: the counts the triggers keep agree with
// the registry after every kind of write, failed ones included.
func TestRegistry_CountsFollowWrites(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	seed(t, db) // h1
	dev := func(id, household string) registry.Device {
		return registry.Device{ID: id, Kind: registry.MotionSensor, HouseholdID: household, SecretHash: "s"}
	}
	for _, step := range []struct {
		name                string
		write               func() error
		households, devices int
		wantErr             bool
	}{
		{"household created", func() error {
			return db.CreateHousehold(ctx, registry.Household{ID: "h2", Name: "x", Address: "y", GridID: "g1"})
		}, 2, 0, false},
		{"devices created", func() error {
			return errors.Join(db.CreateDevice(ctx, dev("d1", "h1")), db.CreateDevice(ctx, dev("d2", "h2")))
		}, 2, 2, false},
		{"household imported with devices", func() error {
			return second(db.ImportHousehold(ctx, registry.HouseholdImport{
				Household: registry.Household{ID: "h3", Name: "x", Address: "y", GridID: "g1"},
				Devices:   []registry.Device{dev("d3", "h3"), dev("d4", "h3")}}))
		}, 3, 4, false},
		{"household imported again: an update", func() error {
			return second(db.ImportHousehold(ctx, registry.HouseholdImport{
				Household: registry.Household{ID: "h3", Name: "z", Address: "y", GridID: "g1"},
				Devices:   []registry.Device{dev("d5", "h3")}}))
		}, 3, 5, false},
		{"an import refused whole (a device of another household)", func() error {
			return second(db.ImportHousehold(ctx, registry.HouseholdImport{
				Household: registry.Household{ID: "h4", Name: "x", Address: "y", GridID: "g1"},
				Devices:   []registry.Device{dev("d6", "h4"), dev("d1", "h4")}}))
		}, 3, 5, true},
		{"household deleted with its device", func() error {
			return second(db.DeleteHousehold(ctx, "h2", time.Time{}, "admin"))
		}, 2, 4, false},
		{"a missing household deleted", func() error {
			return second(db.DeleteHousehold(ctx, "h2", time.Time{}, "admin"))
		}, 2, 4, true},
	} {
		err := step.write()
		if (err != nil) != step.wantErr {
			t.Fatalf("%s: err = %v, want an error: %v", step.name, err, step.wantErr)
		}
		hh, dd, err := db.Counts(ctx)
		if err != nil || hh != step.households || dd != step.devices {
			t.Errorf("%s: Counts = %d, %d, %v; want %d, %d", step.name, hh, dd, err, step.households, step.devices)
		}
	}
}
