package app_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/app"
	"github.com/eldersafe/eldersafe/app/apptest"
	"github.com/eldersafe/eldersafe/journal"
)

// With checkpoint.journal a motion's PUBACK means it is in the journal. A
// clean stop leaves the households it changed to the snapshot and keeps the
// journal; a start without checkpoint.journal, even with no snapshot to
// read, replays that journal, writes what it holds to the store and
// removes it.
func TestJournal_StopLeavesItToTheSnapshot(t *testing.T) {
	dataDir := t.TempDir()
	m := apptest.Start(t, func(cfg *app.Config) { cfg.DataDir, cfg.Checkpoint.Journal = dataDir, true })
	m.MustCall("POST", "/api/v1/grids", map[string]any{"id": "g1", "name": "Grid 1"}, 201, nil)
	m.MustCall("POST", "/api/v1/households", map[string]any{"id": "h1", "name": "Li Guiying", "address": "Room 401", "grid_id": "g1"}, 201, nil)
	var dev struct {
		Secret string `json:"secret"`
	}
	m.MustCall("POST", "/api/v1/devices", map[string]any{"id": "pir-1", "kind": "motion_sensor", "household_id": "h1"}, 201, &dev)
	pir := m.Device("pir-1", dev.Secret)
	at := time.Now().Add(-time.Minute).Truncate(time.Second)
	apptest.Publish(t, pir, "eldersafe/v1/devices/pir-1/event", map[string]any{"ts": at.UnixMilli(), "seq": 1, "motion": true, "room": "kitchen"})
	dir := filepath.Join(dataDir, "journal")
	for _, when := range []string{"before", "after"} {
		if pending, err := journal.Pending(dir); err != nil || !pending {
			t.Fatalf("journal %s a clean stop holds the acknowledged motion: %v, %v; want true", when, pending, err)
		}
		if when == "before" {
			if err := m.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, run := range []string{"draining the journal", "from the store"} {
		cfg := app.DefaultConfig()
		cfg.DataDir = dataDir
		if err := os.Remove(cfg.SnapshotPath()); err != nil {
			t.Fatalf("%s: %v", run, err)
		}
		m := apptest.Start(t, func(cfg *app.Config) { cfg.DataDir = dataDir })
		var got struct {
			Devices []struct {
				ID     string `json:"id"`
				Status struct {
					LastSeen *time.Time `json:"last_seen"`
				} `json:"status"`
			} `json:"devices"`
		}
		m.MustCall("GET", "/api/v1/households/h1", nil, 200, &got)
		if len(got.Devices) != 1 || got.Devices[0].Status.LastSeen == nil || !got.Devices[0].Status.LastSeen.Equal(at) {
			t.Fatalf("%s: devices %+v; want pir-1 last seen at %s", run, got.Devices, at)
		}
		if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("%s: journal still there (%v)", run, err)
		}
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
