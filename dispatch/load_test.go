package dispatch_test

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/dispatch"
	"github.com/eldersafe/eldersafe/journal"
	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
	"github.com/eldersafe/eldersafe/snapshot"
	"github.com/eldersafe/eldersafe/testkit"
)

// A start after a crash, with the snapshot of an earlier clean stop: its
// states are older than the store's, so they come from the store; its
// devices come from it, with those of the households registered or given
// a device since read from the store. Once a household is erased,
// everything comes from the store.
func TestLoad_SnapshotOlderThanTheStore(t *testing.T) {
	db, opts, first := afterCleanStop(t, newStore(t))
	want, _ := held(first)
	if len(want) == 0 {
		t.Fatal("no state of h1 to snapshot")
	}

	second := newEnvOn(t, db, opts)
	loadedFrom(t, second, 1, 1)
	if got, _ := held(second); !bytes.Equal(got, want) {
		t.Fatalf("state from the snapshot:\n% x\nwant\n% x", got, want)
	}
	second.run(t)
	// Each written before it is acknowledged: a crash after them keeps them.
	second.handle(t, motion(t0.Add(2*time.Minute)))
	second.handle(t, fall(t0.Add(3*time.Minute)))
	want, _ = held(second)

	third := newEnvOn(t, db, opts)
	loadedFrom(t, third, 0, 1)
	if got, _ := held(third); !bytes.Equal(got, want) {
		t.Fatalf("state after the crash:\n% x\nwant\n% x (the store's, not the snapshot's)", got, want)
	}

	// A device registered in h1, and a household registered with its
	// devices, since the snapshot: read from the store, and mended into the
	// snapshot's devices.
	ctx := context.Background()
	must(t, db.CreateDevice(ctx, registry.Device{ID: "door-1", Kind: registry.DoorSensor, HouseholdID: "h1", SecretHash: "x"}))
	_, err := db.ImportHousehold(ctx, registry.HouseholdImport{
		Household: registry.Household{ID: "h2", Name: "Zhao Min", Address: "14 Xingfu Road", GridID: "g1"},
		Devices: []registry.Device{
			{ID: "wm-2", Kind: registry.WaterMeter, HouseholdID: "h2", SecretHash: "x", ExpectedEvery: 3 * time.Hour},
			{ID: "pir-2", Kind: registry.MotionSensor, HouseholdID: "h2", SecretHash: "x"},
		},
	})
	must(t, err)
	fourth := newEnvOn(t, db, opts)
	loadedFrom(t, fourth, 0, 1)
	got := households(fourth)
	if got, want := got["h1"].devices, []string{"door-1", "pir-1", "wb-1"}; !slices.Equal(got, want) {
		t.Errorf("h1's devices after one was registered: %v, want %v", got, want)
	}
	if h2 := got["h2"]; !slices.Equal(h2.devices, []string{"pir-2", "wm-2"}) || h2.every["wm-2"] != 3*time.Hour {
		t.Errorf("h2, registered since: %+v, want pir-2 and wm-2, wm-2 expected every 3h", h2)
	}
	if got, want := fourth.cache.remembered(), []string{"door-1", "pir-1", "pir-2", "wb-1", "wm-2"}; !slices.Equal(got, want) {
		t.Errorf("ingest told of %v, want %v (every device of h1 and h2)", got, want)
	}

	// h2's state stored, then a device registered in it: the state, which
	// knows pir-2 and wm-2 only, is restored before the devices are
	// mended, or it would drop door-2.
	fourth.run(t)
	on := true
	fourth.handle(t, rules.Reading{HouseholdID: "h2", DeviceID: "pir-2", Kind: registry.MotionSensor, Stream: rules.Event, TS: t0.Add(4 * time.Minute), Motion: &on})
	must(t, db.CreateDevice(ctx, registry.Device{ID: "door-2", Kind: registry.DoorSensor, HouseholdID: "h2", SecretHash: "x"}))
	fifth := newEnvOn(t, db, opts)
	loadedFrom(t, fifth, 0, 1)
	if h2 := households(fifth)["h2"]; len(h2.data) == 0 || !slices.Equal(h2.devices, []string{"door-2", "pir-2", "wm-2"}) {
		t.Errorf("h2, its state stored, then door-2 registered: %+v, want its state and door-2, pir-2, wm-2", h2)
	}

	// Erased since: everything comes from the store.
	_, err = db.DeleteHousehold(ctx, "h2", t0, "test")
	must(t, err)
	sixth := newEnvOn(t, db, opts)
	loadedFrom(t, sixth, 0, 0)
	got = households(sixth)
	if h2, ok := got["h2"]; ok {
		t.Errorf("h2, erased: %+v, want it gone", h2)
	}
	if got, want := got["h1"].devices, []string{"door-1", "pir-1", "wb-1"}; !slices.Equal(got, want) {
		t.Errorf("h1's devices after h2 was erased: %v, want %v", got, want)
	}
}

// Up to as many households given a device since the snapshot as a start
// mends with, it mends; one more, and it reads every device from the store.
func TestLoad_TooManyWrittenSince(t *testing.T) {
	for _, c := range []struct {
		max     int
		devices float64 // where they came from: 1 the snapshot, 0 the store
	}{{2, 1}, {1, 0}} {
		dispatch.SetMaxDevicesMended(t, c.max)
		db, opts, _ := afterCleanStop(t, newStore(t))
		ctx := context.Background()
		for _, h := range []string{"h2", "h3"} {
			_, err := db.ImportHousehold(ctx, registry.HouseholdImport{
				Household: registry.Household{ID: h, Name: "Resident " + h, Address: "14 Xingfu Road", GridID: "g1"},
				Devices:   []registry.Device{{ID: "pir-" + h, Kind: registry.MotionSensor, HouseholdID: h, SecretHash: "x"}},
			})
			must(t, err)
		}
		second := newEnvOn(t, db, opts)
		loadedFrom(t, second, 0, c.devices)
		if got := households(second); len(got["h2"].devices) != 1 || len(got["h3"].devices) != 1 {
			t.Errorf("mending at most %d: households registered since %+v, want each with its device", c.max, got)
		}
	}
}

// A start that mends the snapshot's devices holds what a start from the
// store holds: the same households, states and devices, each new device
// expected from the same time.
func TestLoad_MendedAsFromTheStore(t *testing.T) {
	ctx := context.Background()
	db, opts, _ := afterCleanStop(t, newStore(t))
	must(t, db.CreateDevice(ctx, registry.Device{ID: "door-1", Kind: registry.DoorSensor, HouseholdID: "h1", SecretHash: "x"}))
	_, err := db.ImportHousehold(ctx, registry.HouseholdImport{
		Household: registry.Household{ID: "h2", Name: "Zhao Min", Address: "14 Xingfu Road", GridID: "g1"},
		Devices:   []registry.Device{{ID: "wm-2", Kind: registry.WaterMeter, HouseholdID: "h2", SecretHash: "x", ExpectedEvery: 3 * time.Hour}},
	})
	must(t, err)
	mended := newEnvOn(t, db, opts)
	loadedFrom(t, mended, 0, 1)
	fromStore := newEnvOn(t, db, dispatch.Options{})
	loadedFrom(t, fromStore, 0, 0)
	got, want := households(mended), households(fromStore)
	if len(got) != len(want) {
		t.Errorf("mended: %d households, from the store %d", len(got), len(want))
	}
	for id, w := range want {
		if g := got[id]; !bytes.Equal(g.data, w.data) || !slices.Equal(g.devices, w.devices) || !maps.Equal(g.every, w.every) {
			t.Errorf("%s mended:\n%+v\nfrom the store:\n%+v", id, g, w)
		}
	}
}

// A store older than the snapshot (its database restored from a backup
// taken before it) lacks devices the snapshot holds: the start reads
// every device from the store.
func TestLoad_StoreOlderThanTheSnapshot(t *testing.T) {
	ctx := context.Background()
	older := newStore(t) // as h1's store was before door-1
	db := newStore(t)
	must(t, db.CreateDevice(ctx, registry.Device{ID: "door-1", Kind: registry.DoorSensor, HouseholdID: "h1", SecretHash: "x"}))
	_, opts, _ := afterCleanStop(t, db)

	second := newEnvOn(t, older, opts)
	loadedFrom(t, second, 0, 0)
	if got, want := households(second)["h1"].devices, []string{"pir-1", "wb-1"}; !slices.Equal(got, want) {
		t.Errorf("h1's devices: %v, want the store's %v", got, want)
	}
}

// afterCleanStop is db in which h1 moved once, the snapshot of the clean
// stop that followed, the options of a decision step (no journal) that
// reads it, and the one stopped.
func afterCleanStop(t *testing.T, db *failing) (*failing, dispatch.Options, *env) {
	t.Helper()
	snap := snapshotFile(filepath.Join(t.TempDir(), snapshot.FileName))
	opts := dispatch.Options{CheckpointInterval: time.Hour, Snapshot: snap}
	first := newEnvOn(t, db, opts)
	stop(t, first, motion(t0.Add(time.Minute)))
	snap.write(t, first, nil)
	return db, opts, first
}

// loadedFrom checks where e's start took the states and the devices from:
// 1 the snapshot, 0 the store.
func loadedFrom(t *testing.T, e *env, states, devices float64) {
	t.Helper()
	for name, want := range map[string]float64{"eldersafe_rules_loaded_from_snapshot": states, "eldersafe_devices_loaded_from_snapshot": devices} {
		if got := testkit.MetricValue(t, e.reg, name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
}

// household is what e's engine holds of a household.
type household struct {
	data    []byte
	devices []string // sorted
	every   map[string]time.Duration
}

// households is every household of e's engine, as a snapshot takes it.
func households(e *env) map[string]household {
	out := map[string]household{}
	e.engine.SaveAll(func(st rules.State, devices []rules.SavedDevice) bool {
		h := household{data: slices.Clone(st.Data), every: map[string]time.Duration{}}
		for _, d := range devices {
			h.devices = append(h.devices, d.ID)
			h.every[d.ID] = d.Every
		}
		slices.Sort(h.devices)
		out[st.HouseholdID] = h
		return true
	})
	return out
}

// stop runs e until the readings are handled, then stops it, as a clean
// stop does before its snapshot.
func stop(t *testing.T, e *env, readings ...rules.Reading) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { e.d.Run(ctx) })
	for _, r := range readings {
		e.handle(t, r)
	}
	cancel()
	wg.Wait()
}

// With the snapshot's devices, the states come from the store: one the
// snapshot has no household for is restored too, and a household whose
// stored state cannot be read starts afresh with the snapshot's devices,
// rather than the start giving up the snapshot.
func TestLoad_StoredStatesTheSnapshotLacksOrCannotRead(t *testing.T) {
	ctx := context.Background()
	db, opts, first := afterCleanStop(t, newStore(t))
	h1 := households(first)["h1"]

	// A household without devices (the device generation stays) with a
	// state the snapshot lacks, and h1's state overwritten unreadable.
	if err := db.CreateHousehold(ctx, registry.Household{ID: "h9", Name: "Zhao Min", Address: "14 Xingfu Road", GridID: "g1"}); err != nil {
		t.Fatal(err)
	}
	if err := db.SaveCheckpoint(ctx, []rules.State{{HouseholdID: "h9", Data: h1.data}, {HouseholdID: "h1", Data: []byte{0xff, 0xff}}}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	second := newEnvOn(t, db, opts)
	loadedFrom(t, second, 0, 1)
	got := households(second)
	if h9 := got["h9"]; !bytes.Equal(h9.data, h1.data) {
		t.Errorf("h9, a stored state the snapshot lacks: %+v, want it restored: % x", h9, h1.data)
	}
	if got := got["h1"]; bytes.Equal(got.data, h1.data) || !slices.Equal(got.devices, h1.devices) {
		t.Errorf("h1, its stored state unreadable: %+v, want its devices %v and its countdowns afresh", got, h1.devices)
	}
}

// With the journal, a start with the snapshot's devices and the store's
// states replays the whole journal, not only what came after the
// snapshot's mark: the states the snapshot held that the store lacks are
// in the journal only.
func TestLoad_JournalReplayedWhole(t *testing.T) {
	ctx := context.Background()
	db, dir := newStore(t), t.TempDir()
	for _, err := range []error{
		db.CreateHousehold(ctx, registry.Household{ID: "h2", Name: "Sun Lan", Address: "16 Xingfu Road", GridID: "g1"}),
		db.CreateDevice(ctx, registry.Device{ID: "wb-2", Kind: registry.Wristband, HouseholdID: "h2", SecretHash: "x"}),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	opts, first := afterJournaledCleanStop(t, db, dir)
	want, unwritten := held(first)
	if !unwritten {
		t.Fatal("h1's motion written to the store at the stop; the test needs it left to the snapshot")
	}

	second := newEnvOn(t, db, opts(openJournal(t, dir)))
	second.run(t)
	// A fall's state is written before its PUBACK: the store's states move
	// on, not its devices. second is then left as a crash leaves it.
	second.handle(t, rules.Reading{HouseholdID: "h2", DeviceID: "wb-2", Kind: registry.Wristband, Stream: rules.Event, TS: t0.Add(2 * time.Minute), Event: "fall"})

	third := newEnvOn(t, db, opts(openJournal(t, dir)))
	loadedFrom(t, third, 0, 1)
	if got, _ := held(third); !bytes.Equal(got, want) {
		t.Fatalf("h1 after the crash:\n% x\nwant\n% x (its motion, in the journal only)", got, want)
	}
}

// With the journal, a reading of a device registered since the snapshot,
// in the journal only, is replayed after a crash: the mended devices are
// the engine's before the replay, which skips a device it does not know.
func TestLoad_JournaledReadingOfADeviceRegisteredSince(t *testing.T) {
	ctx := context.Background()
	db, dir := newStore(t), t.TempDir()
	opts, _ := afterJournaledCleanStop(t, db, dir)

	must(t, db.CreateDevice(ctx, registry.Device{ID: "door-1", Kind: registry.DoorSensor, HouseholdID: "h1", SecretHash: "x"}))
	second := newEnvOn(t, db, opts(openJournal(t, dir)))
	second.run(t)
	opened := true
	second.handle(t, rules.Reading{HouseholdID: "h1", DeviceID: "door-1", Kind: registry.DoorSensor, Stream: rules.Event, TS: t0.Add(2 * time.Minute), Open: &opened})
	want, _ := held(second)

	third := newEnvOn(t, db, opts(openJournal(t, dir)))
	loadedFrom(t, third, 0, 1)
	if got, _ := held(third); !bytes.Equal(got, want) {
		t.Fatalf("h1 after the crash:\n% x\nwant\n% x (door-1's opening, in the journal only)", got, want)
	}
}

// afterJournaledCleanStop is afterCleanStop with a journal in dir: the
// options of a decision step that reads the snapshot, given the journal
// opened again, and the one stopped (its journal closed).
func afterJournaledCleanStop(t *testing.T, db *failing, dir string) (func(*journal.Journal) dispatch.Options, *env) {
	t.Helper()
	snap := snapshotFile(filepath.Join(t.TempDir(), snapshot.FileName))
	opts := func(j *journal.Journal) dispatch.Options {
		return dispatch.Options{Journal: j, JournalCheckpoint: time.Hour, CheckpointInterval: time.Hour, Snapshot: snap}
	}
	j := openJournal(t, dir)
	first := newEnvOn(t, db, opts(j))
	stop(t, first, motion(t0.Add(time.Minute)))
	snap.write(t, first, j)
	must(t, j.Close())
	return opts, first
}

// TestLoad_ShredsASnapshotHoldingAnErasedHousehold: a start, leader or
// standby, shreds the snapshot of a clean stop taken before a household
// was erased (by another monitor while this one was down), once it has
// used what it could of it; one with no erasure since is kept, for a
// crash's start. A snapshot of another format is shredded too.
func TestLoad_ShredsASnapshotHoldingAnErasedHousehold(t *testing.T) {
	ctx := context.Background()
	for _, standby := range []bool{false, true} {
		t.Run(map[bool]string{false: "Leader", true: "Standby"}[standby], func(t *testing.T) {
			db := newStore(t)
			must(t, db.CreateHousehold(ctx, registry.Household{ID: "h2", Name: "Zhao Lan", Address: "3 Xingfu Road", GridID: "g1"}))
			must(t, db.CreateDevice(ctx, registry.Device{ID: "door-2", Kind: registry.DoorSensor, HouseholdID: "h2", SecretHash: "x"}))
			_, opts, _ := afterCleanStop(t, db)
			snap := opts.Snapshot.(snapshotFile)
			opts.Standby = standby
			exists := func() bool {
				_, err := os.Stat(string(snap))
				return err == nil
			}
			newEnvOn(t, db, opts)
			if !exists() {
				t.Fatal("the snapshot shredded by a start with no household erased since")
			}
			if _, err := db.DeleteHousehold(ctx, "h2", t0, "test"); err != nil {
				t.Fatal(err)
			}
			e := newEnvOn(t, db, opts)
			if exists() {
				t.Error("the snapshot holding erased h2 left by the start")
			}
			if hs := households(e); len(hs["h1"].devices) != 2 || len(hs["h2"].devices) != 0 {
				t.Errorf("households loaded %v, want h1's two devices and nothing of h2", hs)
			}
		})
	}
	t.Run("OlderFormat", func(t *testing.T) {
		db := newStore(t)
		snap := snapshotFile(filepath.Join(t.TempDir(), snapshot.FileName))
		must(t, os.WriteFile(string(snap), append([]byte("ESSNAP\x00\x04"), make([]byte, 200)...), 0o600))
		newEnvOn(t, db, dispatch.Options{Snapshot: snap})
		if _, err := os.Stat(string(snap)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("a snapshot of format 4 left by the start: %v", err)
		}
	})
}

// writeOnShred is the snapshot of a monitor whose clean stop writes a new
// snapshot just after a deletion's Forget shredded the old one.
type writeOnShred struct {
	snapshotFile
	t *testing.T
	e *env
}

func (s *writeOnShred) Shred() error {
	err := s.snapshotFile.Shred()
	s.write(s.t, s.e, nil)
	return err
}

// TestForget_ShredsOnceTheEngineForgot: Forget shreds the snapshot after
// the engine forgot the household, so that one written after the shredding
// does not hold it, and the next start does not bring it back.
func TestForget_ShredsOnceTheEngineForgot(t *testing.T) {
	ctx := context.Background()
	db := newStore(t)
	must(t, db.CreateHousehold(ctx, registry.Household{ID: "h2", Name: "Li Wei", Address: "3 Xingfu Road", GridID: "g1"}))
	must(t, db.CreateDevice(ctx, registry.Device{ID: "pir-2", Kind: registry.MotionSensor, HouseholdID: "h2", SecretHash: "x"}))
	snap := &writeOnShred{snapshotFile: snapshotFile(filepath.Join(t.TempDir(), snapshot.FileName)), t: t}
	e := newEnvOn(t, db, dispatch.Options{Snapshot: snap})
	snap.e = e
	stop(t, e, motion(t0.Add(time.Minute)))
	if _, err := db.DeleteHousehold(ctx, "h1", t0, "test"); err != nil {
		t.Fatal(err)
	}
	e.d.Forget(ctx, "h1")
	next := newEnvOn(t, db, dispatch.Options{Snapshot: snap.snapshotFile})
	loadedFrom(t, next, 1, 1)
	if hs := households(next); len(hs["h1"].devices) != 0 || len(hs["h2"].devices) != 1 {
		t.Errorf("households after the next start %v, want h2's device and nothing of erased h1", hs)
	}
}
