package app_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/app"
	"github.com/eldersafe/eldersafe/app/apptest"
	"github.com/eldersafe/eldersafe/store"
)

// TestSensitiveFieldsEncryptedAtRest: what the API took in as a relative's
// phone number and medical notes, where a wristband said its wearer fell,
// where the worker checked in and the wristband's heart rate are nowhere in
// the database files in plaintext, the monitor reads them back after a
// restart, and a monitor started with another key refuses to start instead
// of failing at the first alarm.
func TestSensitiveFieldsEncryptedAtRest(t *testing.T) {
	const (
		phone                  = "+8613655554444"
		notes                  = "Pacemaker; no MRI"
		fallLat, fallLon       = 31.2304567, 121.4737012
		checkInLat, checkInLon = 31.2311119, 121.4744443
		heartRate              = 97.25
	)
	dataDir := t.TempDir()
	same := func(c *app.Config) { c.DataDir = dataDir }

	m := startMonitor(t, "", same)
	m.MustCall("POST", "/api/v1/grids", map[string]any{"id": "g1", "name": "Grid 1"}, 201, nil)
	m.MustCall("POST", "/api/v1/households", map[string]any{"id": "h1", "name": "Li Na", "address": "401", "grid_id": "g1",
		"medical_notes": notes,
		"contacts":      []map[string]any{{"name": "Li Wei", "relation": "son", "phone": phone, "channels": []string{"sms"}}}}, 201, nil)
	secrets := m.household("h2", newPushServer(t), newPushServer(t), map[string]string{"wb-2": "wristband"})
	band := m.Device("wb-2", secrets["wb-2"])
	now := time.Now().UTC().Truncate(time.Millisecond)
	apptest.Publish(t, band, "eldersafe/v1/devices/wb-2/telemetry", map[string]any{"ts": now.Add(-time.Minute).UnixMilli(), "heart_rate": heartRate})
	apptest.Publish(t, band, "eldersafe/v1/devices/wb-2/event", map[string]any{"ts": now.UnixMilli(), "event": "fall", "lat": fallLat, "lon": fallLon})
	var fall []task
	apptest.Eventually(t, "fall task", func() bool { fall = m.tasks("rule=fall"); return len(fall) == 1 })
	m.MustCall("POST", "/api/v1/tasks/"+fall[0].ID+"/ack", map[string]any{"worker_id": "w-h2"}, 200, nil)
	m.MustCall("POST", "/api/v1/tasks/"+fall[0].ID+"/checkin", map[string]any{"worker_id": "w-h2", "lat": checkInLat, "lon": checkInLon}, 200, nil)
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}

	files, err := filepath.Glob(filepath.Join(dataDir, store.FileName+"*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("database files: %v, %v", files, err)
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{phone, notes, "31.2304567", "121.4737012", "31.2311119", "121.4744443"} {
			if bytes.Contains(raw, []byte(s)) {
				t.Errorf("%s holds %q in plaintext", filepath.Base(f), s)
			}
		}
		// The rules' saved state holds the heart rate as a float64.
		if bytes.Contains(raw, binary.LittleEndian.AppendUint64(nil, math.Float64bits(heartRate))) {
			t.Errorf("%s holds the heart rate in plaintext", filepath.Base(f))
		}
	}

	// The same key (the generated key file) reads it back; the admin sees it.
	m = startMonitor(t, "", same)
	var h struct {
		MedicalNotes string `json:"medical_notes"`
		Contacts     []struct {
			Phone string `json:"phone"`
		} `json:"contacts"`
	}
	m.MustCall("GET", "/api/v1/households/h1", nil, 200, &h)
	if h.MedicalNotes != notes || len(h.Contacts) != 1 || h.Contacts[0].Phone != phone {
		t.Errorf("household after a restart: %+v", h)
	}
	type values map[string]any
	var got struct {
		Evidence []struct {
			Values values `json:"values"`
		} `json:"evidence"`
		Timeline []struct {
			Data values `json:"data"`
		} `json:"timeline"`
	}
	m.MustCall("GET", "/api/v1/tasks/"+fall[0].ID, nil, 200, &got)
	if len(got.Evidence) == 0 || got.Evidence[0].Values["lat"] != fallLat || got.Evidence[0].Values["lon"] != fallLon {
		t.Errorf("evidence after a restart: %+v", got.Evidence)
	}
	checkedIn := false
	for _, e := range got.Timeline {
		checkedIn = checkedIn || e.Data["lat"] == checkInLat && e.Data["lon"] == checkInLon
	}
	if !checkedIn {
		t.Errorf("no check-in position in the timeline after a restart: %+v", got.Timeline)
	}
	var household struct {
		Devices []struct {
			Status struct {
				Last map[string]any `json:"last"`
			} `json:"status"`
		} `json:"devices"`
	}
	m.MustCall("GET", "/api/v1/households/h2", nil, 200, &household)
	if len(household.Devices) != 1 || household.Devices[0].Status.Last["heart_rate"] != heartRate {
		t.Errorf("wristband after a restart: %+v", household.Devices)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}

	cfg := app.DefaultConfig()
	cfg.HTTP.Addr, cfg.MQTT.Broker.Addr, cfg.DataDir, cfg.Auth.AdminToken = "127.0.0.1:0", "127.0.0.1:0", dataDir, adminToken
	cfg.Security.Key = base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32))
	other, err := app.Start(context.Background(), cfg, slog.New(slog.DiscardHandler), io.Discard)
	if err == nil {
		other.Close()
		t.Fatal("a monitor with another key started")
	}
	if !strings.Contains(err.Error(), "security.key") {
		t.Errorf("start with another key: %v, want an error naming security.key", err)
	}
}
