package dispatch_test

import (
	"bytes"
	"context"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/dispatch"
	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
	"github.com/eldersafe/eldersafe/snapshot"
	"github.com/eldersafe/eldersafe/testkit"
)

// A start after a crash, with the snapshot of an earlier clean stop: its
// states are older than the store's, so they come from the store; its
// devices are the registered ones while no device was written since, and
// come from it. Once a device is written, everything comes from the store.
func TestLoad_SnapshotOlderThanTheStore(t *testing.T) {
	db := newStore(t)
	snap := snapshotFile(filepath.Join(t.TempDir(), snapshot.FileName))
	opts := func() dispatch.Options {
		return dispatch.Options{CheckpointInterval: time.Hour, Snapshot: snap}
	}
	loadedFrom := func(t *testing.T, e *env, states, devices float64) {
		t.Helper()
		for name, want := range map[string]float64{"eldersafe_rules_loaded_from_snapshot": states, "eldersafe_devices_loaded_from_snapshot": devices} {
			if got := testkit.MetricValue(t, e.reg, name); got != want {
				t.Errorf("%s = %v, want %v", name, got, want)
			}
		}
	}

	first := newEnvOn(t, db, opts())
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { first.d.Run(ctx) })
	first.handle(t, motion(t0.Add(time.Minute)))
	cancel()
	wg.Wait()
	snap.write(t, first, nil)
	want, _ := held(first)
	if len(want) == 0 {
		t.Fatal("no state of h1 to snapshot")
	}

	second := newEnvOn(t, db, opts())
	loadedFrom(t, second, 1, 1)
	if got, _ := held(second); !bytes.Equal(got, want) {
		t.Fatalf("state from the snapshot:\n% x\nwant\n% x", got, want)
	}
	second.run(t)
	// Each written before it is acknowledged: a crash after them keeps them.
	second.handle(t, motion(t0.Add(2*time.Minute)))
	second.handle(t, fall(t0.Add(3*time.Minute)))
	want, _ = held(second)

	third := newEnvOn(t, db, opts())
	loadedFrom(t, third, 0, 1)
	if got, _ := held(third); !bytes.Equal(got, want) {
		t.Fatalf("state after the crash:\n% x\nwant\n% x (the store's, not the snapshot's)", got, want)
	}

	if err := db.CreateDevice(context.Background(), registry.Device{ID: "door-1", Kind: registry.DoorSensor, HouseholdID: "h1", SecretHash: "x"}); err != nil {
		t.Fatal(err)
	}
	fourth := newEnvOn(t, db, opts())
	loadedFrom(t, fourth, 0, 0)
	var known []string
	fourth.engine.SaveAll(func(_ rules.State, devices []rules.SavedDevice) bool {
		for _, d := range devices {
			known = append(known, d.ID)
		}
		return true
	})
	slices.Sort(known)
	if want := []string{"door-1", "pir-1", "wb-1"}; !slices.Equal(known, want) {
		t.Fatalf("devices after one was registered: %v, want %v", known, want)
	}
}
