package app_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eldersafe/eldersafe/app"
	"github.com/eldersafe/eldersafe/store"
)

// TestSensitiveFieldsEncryptedAtRest: what the API took in as a relative's
// phone number and medical notes is nowhere in the database files in
// plaintext, the monitor reads it back after a restart, and a monitor started
// with another key refuses to start instead of failing at the first alarm.
func TestSensitiveFieldsEncryptedAtRest(t *testing.T) {
	const (
		phone = "+8613655554444"
		notes = "Pacemaker; no MRI"
	)
	dataDir := t.TempDir()
	same := func(c *app.Config) { c.DataDir = dataDir }

	m := startMonitor(t, "", same)
	m.MustCall("POST", "/api/v1/grids", map[string]any{"id": "g1", "name": "Grid 1"}, 201, nil)
	m.MustCall("POST", "/api/v1/households", map[string]any{"id": "h1", "name": "Li Na", "address": "401", "grid_id": "g1",
		"medical_notes": notes,
		"contacts":      []map[string]any{{"name": "Li Wei", "relation": "son", "phone": phone, "channels": []string{"sms"}}}}, 201, nil)
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
		for _, s := range []string{phone, notes} {
			if bytes.Contains(raw, []byte(s)) {
				t.Errorf("%s holds %q in plaintext", filepath.Base(f), s)
			}
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
