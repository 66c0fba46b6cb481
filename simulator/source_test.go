package simulator

import (
	"strings"
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/registry"
)

// allSources puts every device that can on a source: the PIRs and the door
// on Zigbee2MQTT, the power meter on Tasmota, the water meter on
// wmbusmeters.
func allSources() map[string]registry.Source {
	src := map[string]registry.Source{
		"door_sensor": registry.SourceZigbee2MQTT,
		"power_meter": registry.SourceTasmota,
		"water_meter": registry.SourceWmbusmeters,
	}
	for _, name := range DeviceNames() {
		if strings.HasPrefix(name, "pir_") {
			src[name] = registry.SourceZigbee2MQTT
		}
	}
	return src
}

// TestSourcesSpeakTheirFormats: a device on a source sends nothing in
// eldersafe's format; each of its messages is one the monitor decodes
// without a rejection, from the device registered on its topic, sent over
// its gateway's connection when it has one; and ordinary days still open
// nothing.
func TestSourcesSpeakTheirFormats(t *testing.T) {
	sc := NewScenario(3)
	sc.Sources = allSources()
	sc.Duration = 3 * 24 * time.Hour
	w, err := NewWorld(sc, "eldersafe/v1", "sim-")
	if err != nil {
		t.Fatal(err)
	}
	reg := newReplayRegistry(w)
	gateways := map[string]string{} // device id → its gateway
	for _, h := range w.Neighbourhood().Households {
		if d := h.Devices[0]; d.Kind != string(registry.Gateway) || d.ID != h.FullID+"-gw" {
			t.Fatalf("%s: first device %+v, want its gateway", h.FullID, d)
		}
		for _, d := range h.Devices {
			if d.GatewayID != "" {
				gateways[d.ID] = d.GatewayID
			}
		}
	}
	bySource := map[registry.Source]int{}
	for {
		m, ok := w.Next()
		if !ok {
			break
		}
		if m.Device == "" || m.Away != nil {
			continue
		}
		msg, id, err := reg.decode(t, m, m.At)
		if err != nil {
			t.Fatalf("%s %s: %v", m.Topic, m.Payload, err)
		}
		st, onSource := replaySources.Parse(m.Topic)
		if want := sc.Sources[roleName(id)]; onSource != (want != "") || onSource && st.Source != want {
			t.Fatalf("%s's message on %s", id, m.Topic)
		}
		if gw := gateways[id]; gw != "" && m.Device != gw || gw == "" && m.Device != id {
			t.Fatalf("%s's message goes over %s's connection", id, m.Device)
		}
		if onSource {
			bySource[st.Source]++
			if !msg.HasSeq {
				t.Fatalf("%s: no fingerprint for dedup", m.Topic)
			}
		}
	}
	for _, src := range registry.Sources {
		if bySource[src] == 0 {
			t.Errorf("no %s message in three days", src)
		}
	}

	w, err = NewWorld(sc, "eldersafe/v1", "sim-")
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range replay(t, w) {
		t.Errorf("%s %s at %s: %s", a.HouseholdID, a.Rule, a.At.In(sc.Location).Format("Mon 01-02 15:04"), a.Evidence.Summary)
	}
}

// roleName is the scenario's name of a device id: sim-h1-pir-kitchen is
// pir_kitchen.
func roleName(id string) string {
	for _, r := range roles {
		if strings.HasSuffix(id, "-"+r.suffix) {
			return r.name
		}
	}
	return ""
}

func TestSourcesInScenarioFiles(t *testing.T) {
	tests := []struct {
		yaml, wantErr string
	}{
		{"households: {sources: {pir_hall: zigbee2mqtt, power_meter: tasmota, water_meter: wmbusmeters}}", ""},
		{"households: {sources: {pir_attic: zigbee2mqtt}}", `t.yaml:1: households.sources: unknown device "pir_attic"`},
		{"households: {sources: {pir_hall: homie}}", `t.yaml:1: households.sources: pir_hall: source "homie"`},
		{"households: {sources: {wristband: zigbee2mqtt}}", "t.yaml:1: households.sources: wristband: the simulated wristband"},
		{"households: {sources: {water_meter: tasmota}}", "t.yaml:1: households.sources: water_meter: tasmota reports no water_meter"},
		{"households:\n  sources: [pir_hall]\n", "t.yaml:2"},
	}
	for _, tt := range tests {
		sc, err := Decode("t.yaml", []byte(tt.yaml))
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("%q: %v", tt.yaml, err)
		case tt.wantErr == "" && sc.Sources["power_meter"] != registry.SourceTasmota:
			t.Errorf("%q: sources %v", tt.yaml, sc.Sources)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("%q: error %v, want %q", tt.yaml, err, tt.wantErr)
		}
	}
}
