package store_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
	"github.com/eldersafe/eldersafe/store"
)

// byHousehold is states in the order of their households: RuleStates hands
// them in the table's.
func byHousehold(states []rules.State) []rules.State {
	slices.SortFunc(states, func(a, b rules.State) int { return strings.Compare(a.HouseholdID, b.HouseholdID) })
	return states
}

// TestSaveCheckpointInStatements: a batch of more states than one statement
// takes, two households in it twice (once within one statement's rows,
// once apart), saves each household once, with its later state: PostgreSQL
// refuses a statement that updates a row twice.
func TestSaveCheckpointInStatements(t *testing.T) {
	ctx := context.Background()
	db := openDB(t, t.TempDir())
	var batch, want []rules.State
	for i := range 150 {
		st := rules.State{HouseholdID: fmt.Sprintf("h%03d", i), Data: fmt.Appendf(nil, "first %d", i)}
		batch, want = append(batch, st), append(want, st)
	}
	batch = slices.Insert(batch, 100, rules.State{HouseholdID: "h070", Data: []byte("second 70")})
	batch = append(batch, rules.State{HouseholdID: "h010", Data: []byte("second 10")})
	want[70].Data, want[10].Data = []byte("second 70"), []byte("second 10")
	must(t, db.SaveCheckpoint(ctx, batch, time.Time{}))
	got, err := db.RuleStates(ctx)
	must(t, err)
	if !reflect.DeepEqual(byHousehold(got), want) {
		t.Errorf("RuleStates = %+v\nwant %+v", got, want)
	}
}

func TestRuleStates(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db := openDB(t, dir)

	if got, err := db.RuleStates(ctx); err != nil || got == nil || len(got) != 0 {
		t.Fatalf("RuleStates on an empty store = %v, %v; want an empty list", got, err)
	}
	must(t, db.SaveCheckpoint(ctx, nil, time.Time{}))
	must(t, db.SaveCheckpoint(ctx, []rules.State{
		{HouseholdID: "h2", Data: []byte(`{"v":1,"newest":2}`)},
		{HouseholdID: "h1", Data: []byte(`{"v":1,"newest":1}`)},
	}, time.Time{}))
	// A second batch replaces h1 and adds h3; h2 is untouched.
	must(t, db.SaveCheckpoint(ctx, []rules.State{
		{HouseholdID: "h1", Data: []byte(`{"v":1,"newest":10}`)},
		{HouseholdID: "h3", Data: []byte(`{"v":1}`)},
	}, time.Time{}))
	want := []rules.State{
		{HouseholdID: "h1", Data: []byte(`{"v":1,"newest":10}`)},
		{HouseholdID: "h2", Data: []byte(`{"v":1,"newest":2}`)},
		{HouseholdID: "h3", Data: []byte(`{"v":1}`)},
	}
	got, err := db.RuleStates(ctx)
	must(t, err)
	if !reflect.DeepEqual(byHousehold(got), want) {
		t.Errorf("RuleStates = %+v\nwant %+v", got, want)
	}

	// Binary data round-trips byte for byte.
	binary := []byte{2, 0, 0xff, 0xfe, 'x', 0, 0x80}
	must(t, db.SaveCheckpoint(ctx, []rules.State{{HouseholdID: "h4", Data: binary}}, time.Time{}))
	want = append(want, rules.State{HouseholdID: "h4", Data: binary})

	// They survive a reopen.
	must(t, db.Close())
	db2, err := store.OpenForTest(t, dir)
	must(t, err)
	defer db2.Close()
	got, err = db2.RuleStates(ctx)
	must(t, err)
	if !reflect.DeepEqual(byHousehold(got), want) {
		t.Errorf("after reopen RuleStates = %+v\nwant %+v", got, want)
	}
}

func TestHouseholdThresholds(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	seed(t, db)
	must(t, db.CreateHousehold(ctx, registry.Household{ID: "h2", Name: "Wu", Address: "2 Road", GridID: "g1"}))

	if got, err := db.HouseholdThresholds(ctx, "h1"); err != nil || got != nil {
		t.Fatalf("no overrides = %v, %v; want nil, nil", got, err)
	}
	first := rules.Thresholds{"water_no_use": {"hours": 10}, "no_motion": {"window": "08:00-21:00", "hours": 4.5}}
	must(t, db.SetHouseholdThresholds(ctx, "h1", first))
	// Numbers come back as float64, as from any JSON document.
	wantFirst := rules.Thresholds{"water_no_use": {"hours": 10.0}, "no_motion": {"window": "08:00-21:00", "hours": 4.5}}
	if got, err := db.HouseholdThresholds(ctx, "h1"); err != nil || !reflect.DeepEqual(got, wantFirst) {
		t.Errorf("HouseholdThresholds = %v, %v; want %v", got, err, wantFirst)
	}

	// A put replaces the whole set.
	second := rules.Thresholds{"battery_low": {"pct": 20.0}}
	must(t, db.SetHouseholdThresholds(ctx, "h1", second))
	must(t, db.SetHouseholdThresholds(ctx, "h2", rules.Thresholds{"no_exit": {"hours": 48.0}}))
	if got, err := db.HouseholdThresholds(ctx, "h1"); err != nil || !reflect.DeepEqual(got, second) {
		t.Errorf("after replace = %v, %v; want %v", got, err, second)
	}
	all, err := db.AllHouseholdThresholds(ctx)
	must(t, err)
	if want := map[string]rules.Thresholds{"h1": second, "h2": {"no_exit": {"hours": 48.0}}}; !reflect.DeepEqual(all, want) {
		t.Errorf("AllHouseholdThresholds = %v, want %v", all, want)
	}

	// Empty overrides clear them.
	must(t, db.SetHouseholdThresholds(ctx, "h1", rules.Thresholds{}))
	if got, err := db.HouseholdThresholds(ctx, "h1"); err != nil || got != nil {
		t.Errorf("after clearing = %v, %v; want nil", got, err)
	}
	all, err = db.AllHouseholdThresholds(ctx)
	must(t, err)
	if _, ok := all["h1"]; ok || len(all) != 1 {
		t.Errorf("AllHouseholdThresholds after clearing h1 = %v", all)
	}

	if err := db.SetHouseholdThresholds(ctx, "h404", second); !errors.Is(err, registry.ErrNotFound) {
		t.Errorf("overrides of an unknown household: %v, want ErrNotFound", err)
	}
}

func TestAwayPeriods(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	seed(t, db)
	must(t, db.CreateHousehold(ctx, registry.Household{ID: "h2", Name: "Wu", Address: "2 Road", GridID: "g1"}))

	day := 24 * time.Hour
	period := func(id, household string, from, until time.Duration) registry.AwayPeriod {
		return registry.AwayPeriod{ID: id, HouseholdID: household, From: t0.Add(from), Until: t0.Add(until), Reason: "hospital", CreatedAt: t0}
	}
	// Added out of order: lists come back by start.
	late := period("a-late", "h1", 10*day, 12*day)
	past := period("a-past", "h1", -10*day, -5*day)
	current := period("a-now", "h1", -day, 2*day)
	other := period("a-other", "h2", 0, day)
	for _, p := range []registry.AwayPeriod{late, past, current, other} {
		must(t, db.AddAwayPeriod(ctx, p))
	}

	tests := []struct {
		name string
		list func() ([]registry.AwayPeriod, error)
		want []registry.AwayPeriod
	}{
		{"OfHouseholdAll", func() ([]registry.AwayPeriod, error) { return db.AwayPeriodsOf(ctx, "h1", time.Time{}) }, []registry.AwayPeriod{past, current, late}},
		{"OfHouseholdCurrentAndFuture", func() ([]registry.AwayPeriod, error) { return db.AwayPeriodsOf(ctx, "h1", t0) }, []registry.AwayPeriod{current, late}},
		{"EndingExactlyAtIsOver", func() ([]registry.AwayPeriod, error) { return db.AwayPeriodsOf(ctx, "h1", t0.Add(2*day)) }, []registry.AwayPeriod{late}},
		{"OfHouseholdNone", func() ([]registry.AwayPeriod, error) { return db.AwayPeriodsOf(ctx, "h1", t0.Add(20*day)) }, []registry.AwayPeriod{}},
		{"EndingAfter", func() ([]registry.AwayPeriod, error) { return db.AwayPeriodsEndingAfter(ctx, t0.Add(-6*day)) }, []registry.AwayPeriod{past, current, late, other}},
		{"EndingAfterNow", func() ([]registry.AwayPeriod, error) { return db.AwayPeriodsEndingAfter(ctx, t0.Add(time.Hour)) }, []registry.AwayPeriod{current, late, other}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.list()
			must(t, err)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}

	t.Run("CreatedAtDefaultsToNow", func(t *testing.T) {
		p := period("a-stamped", "h2", 3*day, 4*day)
		p.CreatedAt = time.Time{}
		before := time.Now().Add(-time.Second)
		must(t, db.AddAwayPeriod(ctx, p))
		got, err := db.AwayPeriodsOf(ctx, "h2", t0.Add(2*day))
		must(t, err)
		if len(got) != 1 || got[0].CreatedAt.Before(before) {
			t.Errorf("got %+v, want a created_at of now", got)
		}
	})
	t.Run("Conflict", func(t *testing.T) {
		if err := db.AddAwayPeriod(ctx, late); !errors.Is(err, registry.ErrConflict) {
			t.Errorf("same id again: %v, want ErrConflict", err)
		}
	})
	t.Run("UnknownHousehold", func(t *testing.T) {
		if err := db.AddAwayPeriod(ctx, period("a-x", "h404", 0, day)); !errors.Is(err, registry.ErrUnknownReference) {
			t.Errorf("unknown household: %v, want ErrUnknownReference", err)
		}
	})
	t.Run("Invalid", func(t *testing.T) {
		p := period("a-bad", "h1", day, 0)
		if err := db.AddAwayPeriod(ctx, p); err == nil {
			t.Error("until before from accepted")
		}
	})
	t.Run("End", func(t *testing.T) {
		db := newDB(t)
		seed(t, db)
		must(t, db.CreateHousehold(ctx, registry.Household{ID: "h2", Name: "Wu", Address: "2 Road", GridID: "g1"}))
		for _, p := range []registry.AwayPeriod{late, past, current, other} {
			must(t, db.AddAwayPeriod(ctx, p))
		}
		// A current period ends now and is kept; a future one is removed.
		got, removed, err := db.EndAwayPeriod(ctx, "h1", current.ID, t0)
		must(t, err)
		want := current
		want.Until = t0
		if removed || !reflect.DeepEqual(got, want) {
			t.Errorf("ended %+v (removed %v), want %+v", got, removed, want)
		}
		if _, removed, err = db.EndAwayPeriod(ctx, "h1", late.ID, t0); err != nil || !removed {
			t.Errorf("future period: removed %v, %v; want removed", removed, err)
		}
		all, err := db.AwayPeriodsOf(ctx, "h1", time.Time{})
		must(t, err)
		if len(all) != 2 || all[0].ID != past.ID || all[1].ID != current.ID || !all[1].Until.Equal(t0) {
			t.Errorf("h1's periods %+v, want the past one and the current one ending at %s", all, t0)
		}
		for _, tt := range []struct {
			name, household, id string
			want                error
		}{
			{"AlreadyOver", "h1", past.ID, registry.ErrConflict},
			{"EndedJustNow", "h1", current.ID, registry.ErrConflict},
			{"AnotherHouseholds", "h1", other.ID, registry.ErrNotFound},
			{"Removed", "h1", late.ID, registry.ErrNotFound},
		} {
			if _, _, err := db.EndAwayPeriod(ctx, tt.household, tt.id, t0); !errors.Is(err, tt.want) {
				t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
			}
		}
		if all, _ := db.AwayPeriodsOf(ctx, "h2", time.Time{}); len(all) != 1 {
			t.Errorf("h2's periods %+v, want its own untouched", all)
		}
	})
}

func TestEachRegisteredDeviceAndZones(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	seed(t, db)
	must(t, db.CreateHousehold(ctx, registry.Household{ID: "h2", Name: "Wu", Address: "2 Road", GridID: "g1", Timezone: "Europe/Paris"}))
	before := time.Now().Add(-time.Second)
	must(t, db.CreateDevice(ctx, registry.Device{ID: "d2", Kind: registry.DoorSensor, HouseholdID: "h2"}))
	must(t, db.CreateDevice(ctx, registry.Device{ID: "d1", Kind: registry.WaterMeter, HouseholdID: "h1", SecretHash: "x", Location: "kitchen"}))

	devices := registeredDevices(t, db)
	if len(devices) != 2 || devices[0].ID != "d1" || devices[0].Kind != registry.WaterMeter || devices[0].HouseholdID != "h1" ||
		devices[1].ID != "d2" || devices[1].Kind != registry.DoorSensor {
		t.Fatalf("EachRegisteredDevice handed %+v", devices)
	}
	if devices[0].SecretHash != "" || devices[0].Location != "" {
		t.Errorf("d1 handed with its secret's hash %q and location %q; a start needs neither", devices[0].SecretHash, devices[0].Location)
	}
	for _, d := range devices {
		if d.CreatedAt.Before(before) || d.CreatedAt.After(time.Now()) || d.CreatedAt.Location() != time.UTC {
			t.Errorf("device %s created at %v, want now in UTC", d.ID, d.CreatedAt)
		}
	}
}

// registeredDevices is what EachRegisteredDevice hands, sorted by id. It
// fails the test if a half is handed from two goroutines at once (the race
// detector finds that), or if more than one device came in only one half.
func registeredDevices(t *testing.T, db *store.DB) []registry.RegisteredDevice {
	t.Helper()
	var halves [2][]registry.RegisteredDevice
	must(t, db.EachRegisteredDevice(context.Background(), func(half int, d registry.RegisteredDevice) error {
		halves[half] = append(halves[half], d)
		return nil
	}))
	if len(halves[0])+len(halves[1]) > 1 && (len(halves[0]) == 0 || len(halves[1]) == 0) {
		t.Errorf("devices handed in halves of %d and %d, want both", len(halves[0]), len(halves[1]))
	}
	devices := append(halves[0], halves[1]...)
	slices.SortFunc(devices, func(a, b registry.RegisteredDevice) int { return strings.Compare(a.ID, b.ID) })
	return devices
}

// registeredIDs is the ids of registeredDevices.
func registeredIDs(t *testing.T, db *store.DB) []string {
	t.Helper()
	var ids []string
	for _, d := range registeredDevices(t, db) {
		ids = append(ids, d.ID)
	}
	return ids
}

// TestEachRegisteredDeviceOnce: every device is handed once, none from an
// empty table, and both halves are read when the first rows are gone.
func TestEachRegisteredDeviceOnce(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	if got := registeredIDs(t, db); len(got) != 0 {
		t.Fatalf("no device registered, handed %q", got)
	}
	seed(t, db)
	must(t, db.CreateHousehold(ctx, registry.Household{ID: "h2", Name: "Wu", Address: "2 Road", GridID: "g1"}))
	var want []string
	for i := range 9 {
		id, household := fmt.Sprintf("d%d", i), "h1"
		if i < 5 {
			household = "h2"
		}
		must(t, db.CreateDevice(ctx, registry.Device{ID: id, Kind: registry.MotionSensor, HouseholdID: household}))
		want = append(want, id)
	}
	if got := registeredIDs(t, db); !slices.Equal(got, want) {
		t.Errorf("handed %q, want %q", got, want)
	}
	// The first five rows gone: on SQLite a split at half the largest
	// rowid would leave the first half empty.
	if _, err := db.DeleteHousehold(ctx, "h2", time.Now(), "op1"); err != nil {
		t.Fatal(err)
	}
	if got := registeredIDs(t, db); !slices.Equal(got, want[5:]) {
		t.Errorf("after h2's erasure handed %q, want %q", got, want[5:])
	}
}

// TestHouseholdRuleFields: a start reads the time zone and care level of
// the households set apart from the defaults, or of every household; a
// deleted one is in neither, and one registered with the monitor's own
// zone is set apart by its care level only.
func TestHouseholdRuleFields(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	seed(t, db) // h1: no zone, self_care
	for _, h := range []registry.Household{
		{ID: "h2", Timezone: "Europe/Paris"},
		{ID: "h3", CareLevel: registry.CareSemi},
		{ID: "h4", CareLevel: registry.CareDependent, Timezone: "Asia/Tokyo"},
		{ID: "h5", CareLevel: registry.CareSelfCare},
		{ID: "h6", Timezone: "Asia/Shanghai"},
		{ID: "h7", Timezone: "Asia/Shanghai"},
		{ID: "h8", Timezone: "Asia/Shanghai", CareLevel: registry.CareSemi},
	} {
		h.Name, h.Address, h.GridID = "Wu", "2 Road", "g1"
		must(t, db.CreateHousehold(ctx, h))
	}
	if _, err := db.DeleteHousehold(ctx, "h6", time.Now(), "op"); err != nil {
		t.Fatal(err)
	}
	apart := map[string]registry.RuleFields{
		"h2": {Timezone: "Europe/Paris", CareLevel: registry.CareSelfCare},
		"h3": {CareLevel: registry.CareSemi},
		"h4": {Timezone: "Asia/Tokyo", CareLevel: registry.CareDependent},
		"h8": {Timezone: "Asia/Shanghai", CareLevel: registry.CareSemi},
	}
	every := maps.Clone(apart)
	every["h1"] = registry.RuleFields{CareLevel: registry.CareSelfCare}
	every["h5"] = registry.RuleFields{CareLevel: registry.CareSelfCare}
	every["h7"] = registry.RuleFields{Timezone: "Asia/Shanghai", CareLevel: registry.CareSelfCare}
	for _, c := range []struct {
		everyHousehold bool
		want           map[string]registry.RuleFields
	}{{false, apart}, {true, every}} {
		got, err := db.HouseholdRuleFields(ctx, c.everyHousehold, "Asia/Shanghai")
		must(t, err)
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("HouseholdRuleFields(%t) = %v, want %v", c.everyHousehold, got, c.want)
		}
	}
}

// TestRuleStatesInHalves: the states read in two halves of the
// households, split at a registered one, are every state once, a state of
// a household not registered included.
func TestRuleStatesInHalves(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	must(t, db.CreateGrid(ctx, registry.Grid{ID: "g1", Name: "Grid one"}))
	var saved []rules.State
	for _, id := range []string{"h0", "h1", "h2", "h3", "h4", "h5"} {
		if id != "h0" {
			must(t, db.CreateHousehold(ctx, registry.Household{ID: id, Name: "Resident " + id, Address: "1 Road", GridID: "g1"}))
		}
		saved = append(saved, rules.State{HouseholdID: id, Data: []byte("state of " + id)})
	}
	must(t, db.SaveCheckpoint(ctx, saved, time.Time{}))
	got, err := db.RuleStates(ctx)
	must(t, err)
	if !reflect.DeepEqual(byHousehold(got), saved) {
		t.Errorf("RuleStates = %+v\nwant %+v", got, saved)
	}
}

// TestGenerations: every write of a rule state or a device moves the state
// generation a restart snapshot is checked against, and every write of a
// device (only) the device generation; a read moves neither.
func TestGenerations(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	seed(t, db) // h1
	lastStates, lastDevices, err := db.Generations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		name                string
		write               func() error
		states, devicesMove bool
	}{
		{"states read", func() error { _, err := db.RuleStates(ctx); return err }, false, false},
		{"state saved", func() error {
			return db.SaveCheckpoint(ctx, []rules.State{{HouseholdID: "h1", Data: []byte{3}}}, time.Time{})
		}, true, false},
		{"state saved again", func() error {
			return db.SaveCheckpoint(ctx, []rules.State{{HouseholdID: "h1", Data: []byte{3, 1}}}, time.Time{})
		}, true, false},
		{"event clock alone", func() error { return db.SaveCheckpoint(ctx, nil, time.Unix(1e9, 0)) }, false, false},
		{"device created", func() error {
			return db.CreateDevice(ctx, registry.Device{ID: "d1", Kind: registry.MotionSensor, HouseholdID: "h1", SecretHash: "s"})
		}, true, true},
		{"devices read", func() error {
			return db.EachRegisteredDevice(ctx, func(int, registry.RegisteredDevice) error { return nil })
		}, false, false},
		{"device's interval set", func() error {
			h, err := db.Household(ctx, "h1")
			if err != nil {
				return err
			}
			_, err = db.ImportHousehold(ctx, registry.HouseholdImport{Household: h, Devices: []registry.Device{
				{ID: "d1", Kind: registry.MotionSensor, HouseholdID: "h1", ExpectedEvery: 2 * time.Hour},
			}})
			return err
		}, true, true},
		{"state deleted", func() error { return db.DeleteRuleState(ctx, "h1") }, true, false},
		{"household and its device deleted", func() error {
			_, err := db.DeleteHousehold(ctx, "h1", time.Unix(2e9, 0), "test")
			return err
		}, true, true},
	} {
		if err := step.write(); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		states, devices, err := db.Generations(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if moved := states != lastStates; moved != step.states {
			t.Errorf("%s: state generation %d → %d, want moved=%v", step.name, lastStates, states, step.states)
		}
		if moved := devices != lastDevices; moved != step.devicesMove {
			t.Errorf("%s: device generation %d → %d, want moved=%v", step.name, lastDevices, devices, step.devicesMove)
		}
		// Taking the state generation's value, the device generation never
		// comes back to one it had while that one does not.
		if step.devicesMove && devices != states {
			t.Errorf("%s: device generation %d, want the state generation's %d", step.name, devices, states)
		}
		lastStates, lastDevices = states, devices
	}
}

// TestDevicesWrittenSince: the households whose devices were registered or
// changed since a device generation, whichever way they were written
// (one device, a household's import, a spreadsheet's); none known once a
// device was removed since. An erasure leaves no row naming the household.
func TestDevicesWrittenSince(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	seed(t, db) // h1
	generation := func() uint64 {
		t.Helper()
		_, devices, err := db.Generations(ctx)
		must(t, err)
		return devices
	}
	// The households counted, and those of the devices listed.
	since := func(g uint64) ([]string, bool) {
		t.Helper()
		n, known, err := db.DevicesWrittenSince(ctx, g)
		must(t, err)
		var households []string
		must(t, db.EachDeviceWrittenSince(ctx, g, func(rd registry.RegisteredDevice) error {
			if !slices.Contains(households, rd.HouseholdID) {
				households = append(households, rd.HouseholdID)
			}
			return nil
		}))
		if known && n != len(households) {
			t.Errorf("since %d: %d households counted, devices of %v listed", g, n, households)
		}
		slices.Sort(households)
		return households, known
	}
	must(t, db.CreateHousehold(ctx, registry.Household{ID: "h0", Name: "Sun", Address: "3 Road", GridID: "g1"}))
	must(t, db.CreateDevice(ctx, registry.Device{ID: "d0", Kind: registry.DoorSensor, HouseholdID: "h0", SecretHash: "s"}))
	g0 := generation()
	if got, known := since(g0); len(got) != 0 || !known {
		t.Errorf("since the start: %v, %v; want none, known", got, known)
	}
	must(t, db.CreateDevice(ctx, registry.Device{ID: "d1", Kind: registry.MotionSensor, HouseholdID: "h1", SecretHash: "s"}))
	g1 := generation()
	if _, err := db.ImportHousehold(ctx, registry.HouseholdImport{
		Household: registry.Household{ID: "h2", Name: "Zhao", Address: "2 Road", GridID: "g1"},
		Devices: []registry.Device{
			{ID: "d2", Kind: registry.WaterMeter, HouseholdID: "h2", SecretHash: "s"},
			{ID: "d3", Kind: registry.Wristband, HouseholdID: "h2", SecretHash: "s"},
		},
	}); err != nil {
		t.Fatal(err)
	}
	g2 := generation()
	h1, err := db.Household(ctx, "h1")
	must(t, err)
	if _, err := db.ImportHousehold(ctx, registry.HouseholdImport{Household: h1, Devices: []registry.Device{
		{ID: "d1", Kind: registry.MotionSensor, HouseholdID: "h1", ExpectedEvery: 2 * time.Hour},
	}}); err != nil {
		t.Fatal(err)
	}
	g3 := generation()
	// A spreadsheet's import, several households a transaction.
	_, errs, err := db.ImportHouseholds(ctx, []registry.HouseholdImport{
		{Household: registry.Household{ID: "h3", Name: "Qian", Address: "4 Road", GridID: "g1"},
			Devices: []registry.Device{{ID: "d4", Kind: registry.DoorSensor, HouseholdID: "h3", SecretHash: "s"}}},
		{Household: registry.Household{ID: "h4", Name: "Wu", Address: "5 Road", GridID: "g1"},
			Devices: []registry.Device{{ID: "d5", Kind: registry.PowerMeter, HouseholdID: "h4", SecretHash: "s"}}},
	})
	must(t, errors.Join(append(errs, err)...))
	g4 := generation()
	for _, c := range []struct {
		name  string
		since uint64
		want  []string
	}{
		{"a device registered, households imported, an interval set", g0, []string{"h1", "h2", "h3", "h4"}},
		{"households imported, an interval set", g1, []string{"h1", "h2", "h3", "h4"}},
		{"an interval set, a spreadsheet imported", g2, []string{"h1", "h3", "h4"}},
		{"a spreadsheet imported", g3, []string{"h3", "h4"}},
		{"nothing", g4, nil},
	} {
		if got, known := since(c.since); !slices.Equal(got, c.want) || !known {
			t.Errorf("%s: %v, %v; want %v, known", c.name, got, known, c.want)
		}
	}
	er, err := db.DeleteHousehold(ctx, "h2", time.Unix(2e9, 0), "test")
	must(t, err)
	if er.Rows["device_changes"] != 1 {
		t.Errorf("erasure deleted %d rows of device_changes, want h2's", er.Rows["device_changes"])
	}
	for _, g := range []uint64{g0, g4} {
		if got, known := since(g); known {
			t.Errorf("since %d, a household erased after: %v, known; want not known", g, got)
		}
	}
	if got, known := since(generation()); len(got) != 0 || !known {
		t.Errorf("since the erasure: %v, %v; want none, known", got, known)
	}
}
