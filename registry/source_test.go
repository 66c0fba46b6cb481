package registry

import (
	"strings"
	"testing"
)

func TestDevice_ValidateSource(t *testing.T) {
	dev := func(kind DeviceKind, src Source, topic, gateway string) Device {
		return Device{ID: "d1", Kind: kind, HouseholdID: "h1", Source: src, SourceTopic: topic, GatewayID: gateway}
	}
	tests := []struct {
		name    string
		d       Device
		wantErr string // empty: valid
	}{
		{"native by default", dev(MotionSensor, "", "", ""), ""},
		{"native spelt out", dev(MotionSensor, SourceNative, "", ""), ""},
		{"native with a source topic", dev(MotionSensor, SourceNative, "kitchen", ""), "source_topic: only"},
		{"native behind a gateway", dev(MotionSensor, "", "", "gw1"), "gateway_id: only"},
		{"gateway", dev(Gateway, "", "", ""), ""},
		{"gateway with a source", dev(Gateway, SourceZigbee2MQTT, "hub", ""), "a gateway is native"},
		{"zigbee PIR behind a gateway", dev(MotionSensor, SourceZigbee2MQTT, "h1/Kitchen PIR", "gw1"), ""},
		{"zigbee SOS button", dev(Wristband, SourceZigbee2MQTT, "0x00158d0001a2b3c4", "gw1"), ""},
		{"zigbee water meter", dev(WaterMeter, SourceZigbee2MQTT, "meter", ""), "zigbee2mqtt reports for motion_sensor, door_sensor, wristband"},
		{"zigbee without topic", dev(DoorSensor, SourceZigbee2MQTT, "", ""), "source_topic: required"},
		{"zigbee own gateway", dev(DoorSensor, SourceZigbee2MQTT, "door", "d1"), "its own gateway"},
		{"zigbee bad gateway id", dev(DoorSensor, SourceZigbee2MQTT, "door", "gw 1"), "gateway_id"},
		{"zigbee wildcard", dev(DoorSensor, SourceZigbee2MQTT, "door/#", ""), "wildcards"},
		{"zigbee plus", dev(DoorSensor, SourceZigbee2MQTT, "door+1", ""), "wildcards"},
		{"zigbee control character", dev(DoorSensor, SourceZigbee2MQTT, "door\n", ""), "control"},
		{"zigbee blank end", dev(DoorSensor, SourceZigbee2MQTT, "door ", ""), "blanks"},
		{"zigbee double slash", dev(DoorSensor, SourceZigbee2MQTT, "hall//door", ""), "empty topic level"},
		{"zigbee leading slash", dev(DoorSensor, SourceZigbee2MQTT, "/door", ""), "empty topic level"},
		{"zigbee ends in digits", dev(DoorSensor, SourceZigbee2MQTT, "door/2", ""), "/DIGITS"},
		{"zigbee digits alone", dev(DoorSensor, SourceZigbee2MQTT, "2", ""), ""},
		{"zigbee availability level", dev(DoorSensor, SourceZigbee2MQTT, "door/availability", ""), "Zigbee2MQTT's own"},
		{"zigbee bridge", dev(DoorSensor, SourceZigbee2MQTT, "bridge", ""), "Zigbee2MQTT's own"},
		{"zigbee set level", dev(DoorSensor, SourceZigbee2MQTT, "door/set/x", ""), "Zigbee2MQTT's own"},
		{"zigbee with its root", dev(DoorSensor, SourceZigbee2MQTT, "zigbee2mqtt/door", ""), "without the zigbee2mqtt/ topic root"},
		{"zigbee too long", dev(DoorSensor, SourceZigbee2MQTT, strings.Repeat("x", MaxSourceTopic+1), ""), "longer than"},
		{"tasmota plug", dev(PowerMeter, SourceTasmota, "tasmota_5E9A1B", ""), ""},
		{"tasmota two levels", dev(PowerMeter, SourceTasmota, "tele/plug", ""), "one topic level"},
		{"tasmota PIR", dev(MotionSensor, SourceTasmota, "plug", ""), "tasmota reports for power_meter"},
		{"wmbusmeters meter", dev(WaterMeter, SourceWmbusmeters, "33225544", "gw1"), ""},
		{"wmbusmeters power meter", dev(PowerMeter, SourceWmbusmeters, "33225544", ""), "wmbusmeters reports for water_meter"},
		{"unknown source", dev(PowerMeter, "homie", "plug", ""), "must be native, zigbee2mqtt, tasmota or wmbusmeters"},
		{"unknown kind", dev("toaster", "", "", ""), "gateway"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.d.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("unexpected error %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("error %v, want one naming %q", err, tt.wantErr)
			}
		})
	}
}
