package app_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eldersafe/eldersafe/app"
	"github.com/eldersafe/eldersafe/broker"
	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/store"
)

// TestExportMosquitto_Sources: the exported ACL lets the monitor read the
// enabled sources, each gateway publish its bridge state and its devices'
// topics, a device that is its own client (a Tasmota plug) its own; a
// source that is off gets no line.
func TestExportMosquitto_Sources(t *testing.T) {
	ctx := context.Background()
	cfg := app.DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.MQTT.Username, cfg.MQTT.Password = "eldersafe-monitor", "monitor-secret-0123456789"
	cfg.Auth.AdminToken = "admin-token-0123456789"
	cfg.Sources.Zigbee2MQTT.Enabled, cfg.Sources.Tasmota.Enabled = true, true

	db, err := store.Open(ctx, cfg.DataDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range []error{
		db.CreateGrid(ctx, registry.Grid{ID: "g1", Name: "G"}),
		db.CreateHousehold(ctx, registry.Household{ID: "h1", Name: "Li", Address: "1 Road", GridID: "g1"}),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []registry.Device{
		{ID: "gw-1", Kind: registry.Gateway},
		{ID: "pir-1", Kind: registry.MotionSensor, Source: registry.SourceZigbee2MQTT, SourceTopic: "h1/Kitchen PIR", GatewayID: "gw-1"},
		{ID: "meter-1", Kind: registry.WaterMeter, Source: registry.SourceWmbusmeters, SourceTopic: "33225544", GatewayID: "gw-1"},
		{ID: "plug-1", Kind: registry.PowerMeter, Source: registry.SourceTasmota, SourceTopic: "tasmota_5E9A1B"},
		{ID: "wb-1", Kind: registry.Wristband},
	} {
		d.HouseholdID, d.SecretHash = "h1", "$sha256$x$y"
		if err := db.CreateDevice(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	dir := t.TempDir()
	if err := app.ExportMosquitto(ctx, cfg, dir, nil); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, broker.MosquittoACLFile))
	if err != nil {
		t.Fatal(err)
	}
	acl := string(data)
	for _, want := range []string{
		"user eldersafe-monitor\ntopic read eldersafe/v1/devices/#\ntopic read eldersafe/v1/sim/clock\ntopic read zigbee2mqtt/#\ntopic read tele/+/SENSOR\n",
		"user gw-1\ntopic write zigbee2mqtt/bridge/#\ntopic write zigbee2mqtt/h1/Kitchen PIR\ntopic write zigbee2mqtt/h1/Kitchen PIR/availability\n",
		"user plug-1\ntopic write tele/tasmota_5E9A1B/+\n",
	} {
		if !strings.Contains(acl, want) {
			t.Errorf("acl_file lacks\n%s\nin\n%s", want, acl)
		}
	}
	if strings.Contains(acl, "wmbusmeters") || strings.Contains(acl, "user wb-1") {
		t.Errorf("acl_file names a source that is off, or a native device:\n%s", acl)
	}
}
