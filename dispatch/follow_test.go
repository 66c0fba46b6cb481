package dispatch_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/dispatch"
	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
	"github.com/eldersafe/eldersafe/snapshot"
)

// A standby loads the store's state, then follows what the leader writes:
// the states it saves, the devices registered and the households erased
// since; at its takeover it reads every household's settings again.
func TestStandbyFollowsTheLeader(t *testing.T) {
	ctx := context.Background()
	db := newStore(t)
	must(t, db.SetHouseholdThresholds(ctx, "h1", rules.Thresholds{"no_motion": {"hours": 5.0}}))
	leader := newEnvOn(t, db, dispatch.Options{})
	leader.run(t)
	semi := map[registry.CareLevel]rules.Thresholds{registry.CareSemi: {"no_motion": {"hours": 9.0}}}
	snap := snapshotFile(filepath.Join(t.TempDir(), snapshot.FileName))
	standby := newEnvOn(t, db, dispatch.Options{Standby: true, CareLevels: semi, Snapshot: snap})
	// The standby's last clean stop left a snapshot (this one is not read).
	must(t, os.WriteFile(string(snap), []byte("the households of the standby's last clean stop"), 0o600))
	snapshotLeft := func() bool {
		_, err := os.Stat(string(snap))
		return err == nil
	}

	lastSeen := func(householdID, deviceID string) (time.Time, bool) {
		for _, s := range standby.d.Status(householdID) {
			if s.DeviceID == deviceID {
				return s.LastSeen, true
			}
		}
		return time.Time{}, false
	}
	follow := func() {
		t.Helper()
		if err := standby.d.Follow(ctx, &standby.cache); err != nil {
			t.Fatal(err)
		}
	}

	// The leader's writes once the standby has loaded.
	moved := t0.Add(time.Minute)
	durable, err := leader.d.Handle(ctx, motion(moved))
	if err != nil || !closedWithin(durable, 5*time.Second) {
		t.Fatalf("motion: %v, or not durable", err)
	}
	for _, err := range []error{
		db.CreateHousehold(ctx, registry.Household{ID: "h2", Name: "Zhao Lan", Address: "3 Xingfu Road", GridID: "g1"}),
		db.CreateDevice(ctx, registry.Device{ID: "door-2", Kind: registry.DoorSensor, HouseholdID: "h2", SecretHash: "x"}),
		db.CreateHousehold(ctx, registry.Household{ID: "h3", Name: "Sun Li", Address: "5 Xingfu Road", GridID: "g1"}),
		db.CreateDevice(ctx, registry.Device{ID: "pir-3", Kind: registry.MotionSensor, HouseholdID: "h3", SecretHash: "x"}),
	} {
		must(t, err)
	}
	if at, _ := lastSeen("h1", "pir-1"); !at.IsZero() {
		t.Fatalf("pir-1 seen at %v before the standby followed", at)
	}

	follow()
	if n := followedStates(t, standby); n != 1 {
		t.Errorf("eldersafe_standby_states_followed_total %v, want 1: h1's", n)
	}
	if at, _ := lastSeen("h1", "pir-1"); !at.Equal(moved) {
		t.Errorf("pir-1 last seen %v once followed, want the leader's %v", at, moved)
	}
	if _, known := lastSeen("h2", "door-2"); !known {
		t.Error("door-2, registered since the load, not expected once followed")
	}
	if !slices.Contains(standby.cache.remembered(), "door-2") {
		t.Errorf("cached devices %v, want door-2 among them", standby.cache.remembered())
	}
	if !snapshotLeft() {
		t.Fatal("the standby's snapshot shredded with no household erased")
	}

	if _, err := db.DeleteHousehold(ctx, "h2", t0, "test"); err != nil {
		t.Fatal(err)
	}
	follow()
	if st := standby.d.Status("h2"); len(st) != 0 {
		t.Errorf("erased h2 still known once followed: %v", st)
	}
	if slices.Contains(standby.cache.remembered(), "door-2") {
		t.Errorf("cached devices %v once h2 was erased, want no door-2", standby.cache.remembered())
	}
	if _, known := lastSeen("h3", "pir-3"); !known {
		t.Error("h3 forgotten with the erasure of h2")
	}
	if snapshotLeft() {
		t.Error("the standby's snapshot, which holds h2, left after h2 was erased")
	}

	// Erased and registered again under its id between two reads: a new
	// household, which keeps nothing of the old one's.
	if _, err := db.DeleteHousehold(ctx, "h3", t0, "test"); err != nil {
		t.Fatal(err)
	}
	must(t, db.CreateHousehold(ctx, registry.Household{ID: "h3", Name: "Qian Hua", Address: "5 Xingfu Road", GridID: "g1"}))
	must(t, db.CreateDevice(ctx, registry.Device{ID: "pir-9", Kind: registry.MotionSensor, HouseholdID: "h3", SecretHash: "x"}))
	follow()
	var known []string
	for _, s := range standby.d.Status("h3") {
		known = append(known, s.DeviceID)
	}
	if !slices.Equal(known, []string{"pir-9"}) {
		t.Errorf("h3 registered again knows %v, want only its new pir-9", known)
	}
	if cached := standby.cache.remembered(); slices.Contains(cached, "pir-3") || !slices.Contains(cached, "pir-9") {
		t.Errorf("cached devices %v, want pir-9 and not the old h3's pir-3", cached)
	}
	if at, _ := lastSeen("h1", "pir-1"); !at.Equal(moved) {
		t.Errorf("pir-1 last seen %v after another household was erased, want %v still", at, moved)
	}

	// Settings are followed too: an override removed, one set, a care
	// level's profile, an away period.
	must(t, db.SetHouseholdThresholds(ctx, "h1", nil))
	must(t, db.SetHouseholdThresholds(ctx, "h3", rules.Thresholds{"no_motion": {"hours": 7.0}}))
	noMotion := func(householdID string) any { return standby.d.Thresholds(householdID)["no_motion"]["hours"] }
	if got := noMotion("h1"); got != 5.0 {
		t.Fatalf("h1's no_motion hours %v before the standby followed, want its override as loaded, 5", got)
	}
	follow()
	if got, want := noMotion("h1"), rules.DefaultConfig().Thresholds()["no_motion"]["hours"]; got != want {
		t.Errorf("h1's no_motion hours %v once followed, want the default %v: its override was removed", got, want)
	}
	if got := noMotion("h3"); got != 7.0 {
		t.Errorf("h3's no_motion hours %v once followed, want its override, 7", got)
	}
	// A care level set, and a household registered in one: its settings
	// come with its devices, which no write of settings noted.
	must(t, db.SetCareLevel(ctx, "h1", registry.CareSemi))
	must(t, db.CreateHousehold(ctx, registry.Household{ID: "h4", Name: "Li Na", Address: "9 Xingfu Road", GridID: "g1", CareLevel: registry.CareSemi}))
	must(t, db.CreateDevice(ctx, registry.Device{ID: "pir-4", Kind: registry.MotionSensor, HouseholdID: "h4", SecretHash: "x"}))
	follow()
	for _, id := range []string{"h1", "h4"} {
		if got := noMotion(id); got != 9.0 {
			t.Errorf("%s's no_motion hours %v once followed, want semi's, 9", id, got)
		}
	}

	// Erased with its override and registered again with no device
	// between two reads: nothing of the erased household is kept.
	// Beside it, h1's settings change: h1 is rebuilt from the store too,
	// its state and devices with its settings.
	if _, err := db.DeleteHousehold(ctx, "h3", t0, "test"); err != nil {
		t.Fatal(err)
	}
	must(t, db.CreateHousehold(ctx, registry.Household{ID: "h3", Name: "Zhou Mei", Address: "5 Xingfu Road", GridID: "g1"}))
	must(t, db.SetHouseholdThresholds(ctx, "h1", rules.Thresholds{"no_motion": {"hours": 4.0}}))
	follow()
	if at, _ := lastSeen("h1", "pir-1"); !at.Equal(moved) {
		t.Errorf("pir-1 last seen %v once h1's settings changed beside an erasure, want %v still", at, moved)
	}
	if got := noMotion("h1"); got != 4.0 {
		t.Errorf("h1's no_motion hours %v, want its new override, 4", got)
	}
	if st := standby.d.Status("h3"); len(st) != 0 {
		t.Errorf("h3 registered again with no device knows %v, want none", st)
	}
	if got, want := noMotion("h3"), rules.DefaultConfig().Thresholds()["no_motion"]["hours"]; got != want {
		t.Errorf("h3 registered again: no_motion hours %v, want the default %v, not the erased household's 7", got, want)
	}
}

func followedStates(t *testing.T, e *env) float64 {
	t.Helper()
	families, err := e.reg.Gather()
	must(t, err)
	for _, f := range families {
		if f.GetName() == "eldersafe_standby_states_followed_total" {
			return f.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatal("no eldersafe_standby_states_followed_total")
	return 0
}

func TestFollowIsAStandbys(t *testing.T) {
	e := newEnv(t)
	if err := e.d.Follow(context.Background(), &e.cache); err == nil {
		t.Error("Follow of a decision step that is no standby's: no error")
	}
}
