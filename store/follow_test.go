package store_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
	"github.com/eldersafe/eldersafe/store"
)

// changes is what one ChangesSince handed over.
type changes struct {
	generation uint64
	removed    bool
	states     map[string]string
	devices    []string
}

func changesSince(t *testing.T, db *store.DB, since uint64) changes {
	t.Helper()
	c := changes{states: map[string]string{}}
	// Settings written before the read are not this helper's: what they
	// bring is TestSettingsChangedSince's.
	settingsSince, err := db.SettingsGeneration(context.Background())
	must(t, err)
	c.generation, _, c.removed, err = db.ChangesSince(context.Background(), since, settingsSince,
		func(st rules.State) error { c.states[st.HouseholdID] = string(st.Data); return nil },
		func(rd registry.RegisteredDevice) error { c.devices = append(c.devices, rd.ID); return nil },
		func(string, registry.RuleFields, rules.Thresholds, []registry.AwayPeriod) error { return nil })
	must(t, err)
	slices.Sort(c.devices)
	return c
}

func TestChangesSince(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	seed(t, db) // h1
	must(t, db.SaveCheckpoint(ctx, []rules.State{{HouseholdID: "h1", Data: []byte("loaded")}}, time.Time{}))
	loaded := changesSince(t, db, 0)
	if want := map[string]string{"h1": "loaded"}; !maps.Equal(loaded.states, want) || loaded.removed {
		t.Fatalf("since 0: states %v, removed %v; want %v, false", loaded.states, loaded.removed, want)
	}

	if c := changesSince(t, db, loaded.generation); c.generation != loaded.generation || len(c.states)+len(c.devices) != 0 || c.removed {
		t.Fatalf("nothing written: %+v, want generation %d and nothing", c, loaded.generation)
	}

	must(t, db.CreateHousehold(ctx, registry.Household{ID: "h2", Name: "Zhao", Address: "2 Road", GridID: "g1"}))
	must(t, db.CreateDevice(ctx, registry.Device{ID: "d2", Kind: registry.MotionSensor, HouseholdID: "h2", SecretHash: "s"}))
	must(t, db.CreateDevice(ctx, registry.Device{ID: "d3", Kind: registry.DoorSensor, HouseholdID: "h2", SecretHash: "s"}))
	must(t, db.SaveCheckpoint(ctx, []rules.State{{HouseholdID: "h1", Data: []byte("moved")}, {HouseholdID: "h2", Data: []byte("new")}}, time.Time{}))
	written := changesSince(t, db, loaded.generation)
	if want := map[string]string{"h1": "moved", "h2": "new"}; !maps.Equal(written.states, want) {
		t.Errorf("states written since %d: %v, want %v", loaded.generation, written.states, want)
	}
	if want := []string{"d2", "d3"}; !slices.Equal(written.devices, want) || written.removed {
		t.Errorf("devices written since %d: %v (removed %v), want %v", loaded.generation, written.devices, written.removed, want)
	}
	if written.generation <= loaded.generation {
		t.Errorf("generation %d after writes, want above %d", written.generation, loaded.generation)
	}
	// A household given a device comes whole: its state too, unchanged.
	must(t, db.CreateDevice(ctx, registry.Device{ID: "d4", Kind: registry.DoorSensor, HouseholdID: "h1", SecretHash: "s"}))
	given := changesSince(t, db, written.generation)
	if want := map[string]string{"h1": "moved"}; !maps.Equal(given.states, want) || !slices.Equal(given.devices, []string{"d4"}) {
		t.Errorf("since a device was given to h1: states %v, devices %v; want %v, [d4]", given.states, given.devices, want)
	}
	written = given
	// The event clock alone is no state.
	must(t, db.SaveCheckpoint(ctx, nil, t0))
	if c := changesSince(t, db, written.generation); len(c.states) != 0 {
		t.Errorf("states after the event clock alone: %v, want none", c.states)
	}

	if _, err := db.DeleteHousehold(ctx, "h2", t0, "test"); err != nil {
		t.Fatal(err)
	}
	erased := changesSince(t, db, written.generation)
	if !erased.removed || len(erased.states)+len(erased.devices) != 0 {
		t.Errorf("after an erasure: %+v, want removed and no state or device", erased)
	}
	if c := changesSince(t, db, erased.generation); c.removed {
		t.Error("removed again since the read that saw the erasure")
	}
	// A checkpoint taken just before the erasure saved h2's state anew;
	// the monitor deletes it once its engine forgot h2, and a standby that
	// followed the state must learn to forget it too.
	must(t, db.SaveCheckpoint(ctx, []rules.State{{HouseholdID: "h2", Data: []byte("late")}}, time.Time{}))
	late := changesSince(t, db, erased.generation)
	if !maps.Equal(late.states, map[string]string{"h2": "late"}) {
		t.Fatalf("a state saved after the erasure: %v, want h2's", late.states)
	}
	must(t, db.DeleteRuleState(ctx, "h2"))
	if c := changesSince(t, db, late.generation); !c.removed {
		t.Error("the erased household's late state deleted: not removed")
	}
	must(t, db.DeleteRuleState(ctx, "h2"))
	if c := changesSince(t, db, changesSince(t, db, 0).generation); c.removed {
		t.Error("no state left to delete: removed all the same")
	}
	ids, err := db.RegisteredHouseholdIDs(ctx)
	must(t, err)
	if got := slices.Sorted(maps.Keys(ids)); !slices.Equal(got, []string{"h1"}) {
		t.Errorf("registered households %v, want [h1]: the erased one and its tombstone are not", got)
	}
}

// A follower reading while two stores write at once (two monitors' worth of
// connections) ends with every household's last state, whatever order the
// writes committed in.
func TestChangesSinceMissesNoCommit(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	writers := []*store.DB{openDB(t, dir), openDB(t, dir)}
	follower := openDB(t, dir)
	const rounds, households = 60, 8
	var wg sync.WaitGroup
	for w, db := range writers {
		wg.Go(func() {
			for r := range rounds {
				batch := make([]rules.State, households)
				for h := range batch {
					batch[h] = rules.State{HouseholdID: fmt.Sprintf("w%d-h%d", w, h), Data: fmt.Appendf(nil, "round %d", r)}
				}
				if err := db.SaveCheckpoint(ctx, batch, time.Time{}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	followed := map[string]string{}
	var since uint64
	follow := func() {
		c := changesSince(t, follower, since)
		maps.Copy(followed, c.states)
		since = c.generation
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
		}
		follow()
	}
	follow()
	want := map[string]string{}
	stored, err := follower.RuleStates(ctx)
	must(t, err)
	for _, st := range stored {
		want[st.HouseholdID] = string(st.Data)
	}
	if len(want) != len(writers)*households || !maps.Equal(followed, want) {
		t.Errorf("followed %v\nwant the stored %v", followed, want)
	}
}

func TestSettingsChangedSince(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db := openDB(t, dir)
	seed(t, db) // h1
	h2 := registry.Household{ID: "h2", Name: "Zhao", Address: "2 Road", GridID: "g1"}
	must(t, db.CreateHousehold(ctx, h2))
	// changedSince describes each household handed over: time zone, care
	// level, overrides, away periods.
	changedSince := func(since, devicesSince uint64) (uint64, map[string]string) {
		t.Helper()
		got := map[string]string{}
		_, g, _, err := db.ChangesSince(ctx, devicesSince, since,
			func(rules.State) error { return nil },
			func(registry.RegisteredDevice) error { return nil },
			func(id string, f registry.RuleFields, overrides rules.Thresholds, away []registry.AwayPeriod) error {
				got[id] = fmt.Sprintf("%s|%s|%v|%d away", f.Timezone, f.CareLevel, overrides, len(away))
				return nil
			})
		must(t, err)
		return g, got
	}
	states := func() uint64 {
		n, _, err := db.Generations(ctx)
		must(t, err)
		return n
	}
	from, err := db.SettingsGeneration(ctx)
	must(t, err)
	if g, got := changedSince(from, states()); g != from || len(got) != 0 {
		t.Fatalf("nothing written: generation %d, %v; want %d and nothing", g, got, from)
	}

	must(t, db.SetHouseholdThresholds(ctx, "h1", rules.Thresholds{"no_motion": {"hours": 5.0}}))
	must(t, db.AddAwayPeriod(ctx, registry.AwayPeriod{ID: "a1", HouseholdID: "h2", From: t0, Until: t0.Add(48 * time.Hour), Reason: "hospital"}))
	must(t, db.SetCareLevel(ctx, "h2", registry.CareSemi))
	g1, got := changedSince(from, states())
	want := map[string]string{"h1": "|self_care|map[no_motion:map[hours:5]]|0 away", "h2": "|semi|map[]|1 away"}
	if !maps.Equal(got, want) || g1 <= from {
		t.Errorf("settings written: %v (generation %d after %d), want %v", got, g1, from, want)
	}

	// A rename is no change of settings; a time zone is, as a removed override.
	s1 := states()
	h2.Name = "Zhao Min"
	_, err = db.ImportHousehold(ctx, registry.HouseholdImport{Household: h2})
	must(t, err)
	if g, got := changedSince(g1, s1); g != g1 || len(got) != 0 {
		t.Errorf("a rename: generation %d, %v; want %d and nothing", g, got, g1)
	}
	h2.Timezone = "Asia/Urumqi"
	_, err = db.ImportHousehold(ctx, registry.HouseholdImport{Household: h2})
	must(t, err)
	must(t, db.SetHouseholdThresholds(ctx, "h1", nil))
	g2, got := changedSince(g1, s1)
	if want := map[string]string{"h1": "|self_care|map[]|0 away", "h2": "Asia/Urumqi|semi|map[]|1 away"}; !maps.Equal(got, want) {
		t.Errorf("a time zone set, an override removed: %v, want %v", got, want)
	}

	// A household given a device comes with its settings, none written.
	s2 := states()
	must(t, db.CreateDevice(ctx, registry.Device{ID: "d1", Kind: registry.MotionSensor, HouseholdID: "h1", SecretHash: "s"}))
	if _, got := changedSince(g2, s2); !maps.Equal(got, map[string]string{"h1": "|self_care|map[]|0 away"}) {
		t.Errorf("a device given to h1: %v, want h1's settings", got)
	}

	// A household registered is noted, as all of its settings are new;
	// an erasure's tombstone is not, and the erased household's note goes
	// with it.
	g3, _ := changedSince(g2, s2)
	must(t, db.CreateHousehold(ctx, registry.Household{ID: "h3", Name: "Sun", Address: "3 Road", GridID: "g1", CareLevel: registry.CareSemi}))
	if _, got := changedSince(g3, states()); !maps.Equal(got, map[string]string{"h3": "|semi|map[]|0 away"}) {
		t.Errorf("h3 registered: %v, want h3's settings", got)
	}
	if _, err := db.DeleteHousehold(ctx, "h2", t0, "test"); err != nil {
		t.Fatal(err)
	}
	if _, got := changedSince(from, s2); len(got) != 2 || got["h1"] == "" || got["h3"] == "" {
		t.Errorf("after h2's erasure: %v, want h1 and h3 alone", got)
	}
	var left int
	raw := store.RawSQL(t, dir)
	defer raw.Close()
	must(t, raw.QueryRowContext(ctx, `SELECT count(*) FROM settings_changes WHERE household_id NOT IN ('h1', 'h3')`).Scan(&left))
	if left != 0 {
		t.Errorf("%d notes of households not registered left, want none: the erasure keeps no id", left)
	}
}
