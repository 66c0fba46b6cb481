package store_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/eldersafe/eldersafe/registry"
)

// TestRegistry_Sources: devices that speak their own formats are found by
// their topic, one device per topic, behind a registered gateway only; an
// import cannot change what a device's topic is.
func TestRegistry_Sources(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	seed(t, db)
	gw := registry.Device{ID: "gw1", Kind: registry.Gateway, HouseholdID: "h1", SecretHash: "x"}
	pir := registry.Device{ID: "pir1", Kind: registry.MotionSensor, HouseholdID: "h1", SecretHash: "x",
		Source: registry.SourceZigbee2MQTT, SourceTopic: "h1/Kitchen PIR", GatewayID: "gw1"}
	plug := registry.Device{ID: "plug1", Kind: registry.PowerMeter, HouseholdID: "h1", SecretHash: "x",
		Source: registry.SourceTasmota, SourceTopic: "tasmota_5E9A1B"}
	must(t, db.CreateDevice(ctx, gw))
	must(t, db.CreateDevice(ctx, pir))
	must(t, db.CreateDevice(ctx, plug))

	got, err := db.SourceDevice(ctx, registry.SourceZigbee2MQTT, "h1/Kitchen PIR")
	must(t, err)
	if !reflect.DeepEqual(got, pir) {
		t.Errorf("SourceDevice = %+v, want %+v", got, pir)
	}
	if got, err := db.Device(ctx, "gw1"); err != nil || got.Source != registry.SourceNative {
		t.Errorf("gateway: %+v, %v; want source native", got, err)
	}
	for _, miss := range []struct {
		src   registry.Source
		topic string
	}{{registry.SourceZigbee2MQTT, "h1/Hall PIR"}, {registry.SourceWmbusmeters, "tasmota_5E9A1B"}, {registry.SourceNative, ""}} {
		if _, err := db.SourceDevice(ctx, miss.src, miss.topic); !errors.Is(err, registry.ErrNotFound) {
			t.Errorf("SourceDevice(%s, %q): %v, want ErrNotFound", miss.src, miss.topic, err)
		}
	}

	refused := []struct {
		name string
		d    registry.Device
		want error
		text string
	}{
		{"topic taken", registry.Device{ID: "pir2", Kind: registry.MotionSensor, HouseholdID: "h1", Source: registry.SourceZigbee2MQTT, SourceTopic: "h1/Kitchen PIR"},
			registry.ErrConflict, "pir1"},
		{"unknown gateway", registry.Device{ID: "pir3", Kind: registry.MotionSensor, HouseholdID: "h1", Source: registry.SourceZigbee2MQTT, SourceTopic: "h1/Hall", GatewayID: "gw9"},
			registry.ErrUnknownReference, "gateway_id"},
		{"gateway is no gateway", registry.Device{ID: "pir4", Kind: registry.MotionSensor, HouseholdID: "h1", Source: registry.SourceZigbee2MQTT, SourceTopic: "h1/Hall", GatewayID: "plug1"},
			registry.ErrUnknownReference, "plug1"},
	}
	for _, tt := range refused {
		if err := db.CreateDevice(ctx, tt.d); !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.text) {
			t.Errorf("%s: %v, want %v naming %q", tt.name, err, tt.want, tt.text)
		}
	}
	// The same topic on another source is another device's.
	must(t, db.CreateDevice(ctx, registry.Device{ID: "wm1", Kind: registry.WaterMeter, HouseholdID: "h1", SecretHash: "x",
		Source: registry.SourceWmbusmeters, SourceTopic: "tasmota_5E9A1B", GatewayID: "gw1"}))

	h, err := db.Household(ctx, "h1")
	must(t, err)
	moved := pir
	moved.SourceTopic = "h1/Hall PIR"
	if _, err := db.ImportHousehold(ctx, registry.HouseholdImport{Household: h, Devices: []registry.Device{moved}}); err == nil || !strings.Contains(err.Error(), "cannot change") {
		t.Errorf("import moving a device's topic: %v, want it refused", err)
	}
	res, err := db.ImportHousehold(ctx, registry.HouseholdImport{Household: h, Devices: []registry.Device{
		pir, {ID: "door1", Kind: registry.DoorSensor, HouseholdID: "h1", SecretHash: "x", Source: registry.SourceZigbee2MQTT, SourceTopic: "h1/Door", GatewayID: "gw1"},
	}})
	must(t, err)
	if len(res.Added) != 1 || res.Added[0].ID != "door1" {
		t.Errorf("import added %+v, want door1 alone", res.Added)
	}
	if d, err := db.SourceDevice(ctx, registry.SourceZigbee2MQTT, "h1/Door"); err != nil || d.ID != "door1" || d.GatewayID != "gw1" {
		t.Errorf("imported door: %+v, %v", d, err)
	}
	_, err = db.ImportHousehold(ctx, registry.HouseholdImport{Household: h, Devices: []registry.Device{
		{ID: "door2", Kind: registry.DoorSensor, HouseholdID: "h1", SecretHash: "x", Source: registry.SourceZigbee2MQTT, SourceTopic: "h1/Door"},
	}})
	if de, ok := errors.AsType[*registry.DeviceError](err); !ok || de.DeviceID != "door2" || !errors.Is(err, registry.ErrConflict) {
		t.Errorf("import of a taken topic: %v, want a conflict of door2", err)
	}
}
