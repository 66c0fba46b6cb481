package app_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/app"
	"github.com/eldersafe/eldersafe/app/apptest"
	"github.com/eldersafe/eldersafe/journal"
	"github.com/eldersafe/eldersafe/rules"
)

// With checkpoint.journal a motion's PUBACK means it is in the journal; a
// clean stop writes the states and empties it, so the next start, with or
// without the journal, has nothing to replay.
func TestJournal_CleanStopEmptiesIt(t *testing.T) {
	dataDir := t.TempDir()
	journaled := func(cfg *app.Config) { cfg.DataDir, cfg.Checkpoint.Journal = dataDir, true }
	m := apptest.Start(t, journaled)
	m.MustCall("POST", "/api/v1/grids", map[string]any{"id": "g1", "name": "Grid 1"}, 201, nil)
	m.MustCall("POST", "/api/v1/households", map[string]any{"id": "h1", "name": "Li Guiying", "address": "Room 401", "grid_id": "g1"}, 201, nil)
	var dev struct {
		Secret string `json:"secret"`
	}
	m.MustCall("POST", "/api/v1/devices", map[string]any{"id": "pir-1", "kind": "motion_sensor", "household_id": "h1"}, 201, &dev)
	pir := m.Device("pir-1", dev.Secret)
	apptest.Publish(t, pir, "eldersafe/v1/devices/pir-1/event", map[string]any{"ts": time.Now().UnixMilli(), "seq": 1, "motion": true, "room": "kitchen"})
	dir := filepath.Join(dataDir, "journal")
	if pending, err := journal.Pending(dir); err != nil || !pending {
		t.Fatalf("journal holds the acknowledged motion: %v, %v; want true", pending, err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if pending, err := journal.Pending(dir); err != nil || pending {
		t.Fatalf("journal after a clean stop holds readings: %v, %v; want none", pending, err)
	}
	apptest.Start(t, func(cfg *app.Config) { cfg.DataDir = dataDir })
}

// A journal a crash left with readings stops a start without
// checkpoint.journal: they would be lost.
func TestJournal_StartWithoutItRefusesWhatItHolds(t *testing.T) {
	dataDir := t.TempDir()
	j, err := journal.Open(filepath.Join(dataDir, "journal"), bytes.Repeat([]byte{1}, 32), 0)
	if err != nil {
		t.Fatal(err)
	}
	j.Append(rules.Reading{HouseholdID: "h1", DeviceID: "pir-1", Stream: rules.Event, TS: time.Now()})
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	cfg := app.DefaultConfig()
	cfg.DataDir, cfg.HTTP.Addr, cfg.MQTT.Broker.Addr = dataDir, "127.0.0.1:0", "127.0.0.1:0"
	m, err := app.Start(context.Background(), cfg, slog.New(slog.DiscardHandler), io.Discard)
	if err == nil {
		m.Close()
		t.Fatal("started without the journal it would lose")
	}
	if !strings.Contains(err.Error(), "checkpoint.journal: true") {
		t.Errorf("error %q does not say how to replay it", err)
	}
}
