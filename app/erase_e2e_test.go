package app_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/eldersafe/eldersafe/app"
	"github.com/eldersafe/eldersafe/app/apptest"
	"github.com/eldersafe/eldersafe/snapshot"
	"github.com/eldersafe/eldersafe/store"
)

// TestDeletedHouseholdIsForgotten: once a household is deleted, its devices
// are disconnected and can no longer connect, and the monitor keeps no rule
// state of it, not even across a restart, nor the snapshot of the clean
// stop before, which held it.
func TestDeletedHouseholdIsForgotten(t *testing.T) {
	var dataDir string
	m := startMonitor(t, "", func(c *app.Config) { dataDir = c.DataDir })
	worker, family := newPushServer(t), newPushServer(t)
	secrets := m.household("h1", worker, family, map[string]string{"wb-1": "wristband"})
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	m = startMonitor(t, "", func(c *app.Config) { c.DataDir = dataDir })
	if got := m.Metric("eldersafe_rules_loaded_from_snapshot"); got != 1 {
		t.Fatalf("eldersafe_rules_loaded_from_snapshot = %v, want the clean stop's snapshot read", got)
	}
	snapshotPath := filepath.Join(dataDir, snapshot.FileName)
	if _, err := os.Stat(snapshotPath); err != nil {
		t.Fatalf("the snapshot read at start: %v", err)
	}
	band := m.Device("wb-1", secrets["wb-1"])
	apptest.Publish(t, band, "eldersafe/v1/devices/wb-1/telemetry", map[string]any{"ts": time.Now().UTC().Format(time.RFC3339), "battery_pct": 80})
	apptest.Eventually(t, "the band's message applied", func() bool {
		var h struct {
			Devices []struct {
				Status *struct{} `json:"status"`
			} `json:"devices"`
		}
		m.MustCall("GET", "/api/v1/households/h1", nil, 200, &h)
		return len(h.Devices) == 1 && h.Devices[0].Status != nil
	})
	if n := m.Metric("eldersafe_households"); n != 1 {
		t.Fatalf("eldersafe_households = %v", n)
	}

	m.MustCall("DELETE", "/api/v1/households/h1", map[string]any{"reason": "resident moved away"}, 200, nil)
	m.MustCall("GET", "/api/v1/households/h1", nil, 404, nil)
	if _, err := os.Stat(snapshotPath); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the snapshot holding the deleted household is left: %v", err)
	}
	apptest.Eventually(t, "the band disconnected", func() bool { return !band.IsConnectionOpen() })
	opts := mqtt.NewClientOptions().AddBroker(m.mqttURL).SetClientID("dev-wb-1-again").
		SetUsername("wb-1").SetPassword(secrets["wb-1"]).SetConnectTimeout(5 * time.Second).SetAutoReconnect(false)
	again := mqtt.NewClient(opts)
	if tok := again.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() == nil {
		again.Disconnect(0)
		t.Fatal("the deleted household's band connected again")
	}
	if n := m.Metric("eldersafe_households"); n != 0 {
		t.Errorf("eldersafe_households = %v after the deletion", n)
	}

	// Closing takes a last checkpoint: it must not save the household again.
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(context.Background(), dataDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	states, err := db.RuleStates(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range states {
		if st.HouseholdID == "h1" {
			t.Errorf("rule state of the deleted household saved: %d bytes", len(st.Data))
		}
	}
}
