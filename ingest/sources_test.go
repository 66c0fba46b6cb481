package ingest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/clock"
	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
)

// testSources has every source on, under its default root.
var testSources = Sources{Zigbee2MQTT: "zigbee2mqtt", Tasmota: "tele", Wmbusmeters: "wmbusmeters"}

// sourceTopicCases drives TestSourcesParse and seeds FuzzSourcesParse.
var sourceTopicCases = []struct {
	topic string
	want  SourceTopic
	ok    bool
}{
	{"zigbee2mqtt/0x00158d0001a2b3c4", SourceTopic{z2m, "0x00158d0001a2b3c4", roleReading}, true},
	{"zigbee2mqtt/h1/Kitchen PIR", SourceTopic{z2m, "h1/Kitchen PIR", roleReading}, true},
	{"zigbee2mqtt/h1/Kitchen PIR/availability", SourceTopic{z2m, "h1/Kitchen PIR", roleDevice}, true},
	{"zigbee2mqtt/h1/Kitchen PIR/set", SourceTopic{z2m, "h1/Kitchen PIR", roleCommand}, true},
	{"zigbee2mqtt/h1/Kitchen PIR/get/state", SourceTopic{z2m, "h1/Kitchen PIR", roleCommand}, true},
	{"zigbee2mqtt/bridge/state", SourceTopic{z2m, "", roleBridge}, true},
	{"zigbee2mqtt/bridge", SourceTopic{z2m, "", roleBridge}, true},
	{"zigbee2mqtt/bridge/request/permit_join", SourceTopic{z2m, "", roleBridge}, true},
	{"zigbee2mqtt/availability", SourceTopic{}, false},
	{"zigbee2mqtt/", SourceTopic{z2m, "", roleReading}, false},
	{"zigbee2mqtt", SourceTopic{}, false},
	{"zigbee2mqttx/pir", SourceTopic{}, false},
	{"tele/tasmota_5E9A1B/SENSOR", SourceTopic{tasmo, "tasmota_5E9A1B", roleReading}, true},
	{"tele/tasmota_5E9A1B/LWT", SourceTopic{tasmo, "tasmota_5E9A1B", roleDevice}, true},
	{"tele/tasmota_5E9A1B/STATE", SourceTopic{tasmo, "tasmota_5E9A1B", roleDevice}, true},
	{"tele/tasmota_5E9A1B/SENSOR/x", SourceTopic{}, false},
	{"tele//SENSOR", SourceTopic{}, false},
	{"tele/tasmota_5E9A1B", SourceTopic{}, false},
	{"stat/tasmota_5E9A1B/POWER", SourceTopic{}, false},
	{"wmbusmeters/33225544", SourceTopic{wmbus, "33225544", roleReading}, true},
	{"wmbusmeters/33225544/x", SourceTopic{}, false},
	{"wmbusmeters/", SourceTopic{}, false},
	{"wmbusmeters_alarm", SourceTopic{}, false},
	{"eldersafe/v1/devices/wb-1/event", SourceTopic{}, false},
}

func TestSourcesParse(t *testing.T) {
	for _, tc := range sourceTopicCases {
		got, ok := testSources.Parse(tc.topic)
		if ok != tc.ok || ok && got != tc.want {
			t.Errorf("Parse(%q) = %+v, %t; want %+v, %t", tc.topic, got, ok, tc.want, tc.ok)
		}
	}
	if _, ok := (Sources{Tasmota: "tele"}).Parse("zigbee2mqtt/pir"); ok {
		t.Error("a source left off parses its topics")
	}
	if _, ok := (Sources{Zigbee2MQTT: "home/zigbee"}).Parse("home/zigbee/pir"); !ok {
		t.Error("a root of two levels does not parse")
	}
}

// TestSources_FiltersNameTheirDevice: every topic a device's publish filters
// let through is that device's (the other half of FuzzSourcesParse).
func TestSources_FiltersNameTheirDevice(t *testing.T) {
	devices := []registry.Device{
		{ID: "pir", Source: z2m, SourceTopic: "h1/Kitchen PIR"},
		{ID: "plug", Source: tasmo, SourceTopic: "tasmota_5E9A1B"},
		{ID: "meter", Source: wmbus, SourceTopic: "33225544"},
	}
	topics := []string{
		"zigbee2mqtt/h1/Kitchen PIR", "zigbee2mqtt/h1/Kitchen PIR/availability",
		"tele/tasmota_5E9A1B/SENSOR", "tele/tasmota_5E9A1B/LWT", "wmbusmeters/33225544",
		"zigbee2mqtt/h1/Kitchen PIR/set", "zigbee2mqtt/h1/Kitchen PIR/occupancy", "zigbee2mqtt/h1", "zigbee2mqtt/bridge/state",
		"tele/tasmota_5E9A1B/SENSOR/x", "wmbusmeters/33225544/x",
	}
	for _, d := range devices {
		filters := testSources.PublishFilters(d)
		if len(filters) == 0 {
			t.Fatalf("%s: no publish filters", d.ID)
		}
		for _, topic := range topics {
			st, ok := testSources.Parse(topic)
			own := ok && st.Source == d.Source && st.Name == d.SourceTopic && (st.role == roleReading || st.role == roleDevice)
			if got := matchesAny(filters, topic); got != own {
				t.Errorf("%s's filters %v match %q: %t, want %t", d.ID, filters, topic, got, own)
			}
		}
	}
	if f := (Sources{Tasmota: "tele"}).PublishFilters(devices[0]); f != nil {
		t.Errorf("filters %v of a source left off", f)
	}
	if f := (Sources{Tasmota: "tele"}).GatewayFilters(); f != nil {
		t.Errorf("gateway filters %v without Zigbee2MQTT", f)
	}
	alarm, telemetry := testSources.Filters()
	if !slices.Equal(alarm, []string{"zigbee2mqtt/#"}) || !slices.Equal(telemetry, []string{"tele/+/SENSOR", "wmbusmeters/+"}) {
		t.Errorf("subscriptions %v, %v", alarm, telemetry)
	}
}

// matchesAny reports whether an MQTT topic filter among filters matches topic.
func matchesAny(filters []string, topic string) bool {
	return slices.ContainsFunc(filters, func(f string) bool { return matchFilter(f, topic) })
}

// matchFilter is MQTT's topic matching: + is one level, a trailing # any
// number of levels, the parent included.
func matchFilter(filter, topic string) bool {
	fl, tl := strings.Split(filter, "/"), strings.Split(topic, "/")
	for i, f := range fl {
		switch {
		case f == "#":
			return true
		case i >= len(tl):
			return false
		case f != "+" && f != tl[i]:
			return false
		}
	}
	return len(fl) == len(tl)
}

// sourceRegistry is a registry of devices that counts its lookups.
type sourceRegistry struct {
	devices []registry.Device
	lookups int
}

func (r *sourceRegistry) Device(_ context.Context, id string) (registry.Device, error) {
	r.lookups++
	for _, d := range r.devices {
		if d.ID == id {
			return d, nil
		}
	}
	return registry.Device{}, registry.ErrNotFound
}

func (r *sourceRegistry) SourceDevice(_ context.Context, src registry.Source, topic string) (registry.Device, error) {
	r.lookups++
	for _, d := range r.devices {
		if d.Source == src && d.SourceTopic == topic {
			return d, nil
		}
	}
	return registry.Device{}, registry.ErrNotFound
}

// sourcesPipeline is a pipeline over a household h1 in Shanghai with a
// Zigbee2MQTT PIR and a wmbusmeters meter behind gateway gw, and a Tasmota
// plug of its own; it collects what it hands on.
func sourcesPipeline(t *testing.T) (*Pipeline, *sourceRegistry, *[]rules.Reading) {
	t.Helper()
	reg := &sourceRegistry{devices: []registry.Device{
		{ID: "gw", Kind: registry.Gateway, HouseholdID: "h1", Source: registry.SourceNative},
		{ID: "pir", Kind: registry.MotionSensor, HouseholdID: "h1", Source: z2m, SourceTopic: "h1/Kitchen PIR", GatewayID: "gw"},
		{ID: "meter", Kind: registry.WaterMeter, HouseholdID: "h1", Source: wmbus, SourceTopic: "33225544", GatewayID: "gw"},
		{ID: "plug", Kind: registry.PowerMeter, HouseholdID: "h1", Source: tasmo, SourceTopic: "tasmota_5E9A1B"},
		{ID: "band", Kind: registry.Wristband, HouseholdID: "h1", Source: registry.SourceNative},
	}}
	var got []rules.Reading
	p, err := NewPipeline(PipelineOptions{
		Prefix: "eldersafe/v1", Devices: reg, Sources: testSources,
		Zone: func(h string) *time.Location {
			if h != "h1" {
				t.Errorf("zone of %q asked", h)
			}
			return shanghai
		},
		Handle: func(_ context.Context, r rules.Reading) (<-chan struct{}, error) {
			got = append(got, r)
			return stored(), nil
		},
		Bound: clock.Func(func() time.Time { return testNow }),
	})
	if err != nil {
		t.Fatal(err)
	}
	return p, reg, &got
}

// TestPipeline_Sources: a source's message reaches the rules as the same
// reading as a native one, from the device registered on its topic (looked
// up once); a copy is a duplicate, another report with the same time is
// not; a topic nobody is registered on is unknown_device, a source's other
// topics are no readings.
func TestPipeline_Sources(t *testing.T) {
	p, reg, got := sourcesPipeline(t)
	ctx := context.Background()
	occupancy := []byte(`{"battery":100,"occupancy":true,"last_seen":"2025-06-01T11:00:00.000Z"}`)
	steps := []struct {
		topic, payload string
		reason         Reason
	}{
		{"zigbee2mqtt/h1/Kitchen PIR", string(occupancy), ""},
		{"zigbee2mqtt/h1/Kitchen PIR", string(occupancy), ReasonDuplicate},
		{"zigbee2mqtt/h1/Kitchen PIR", `{"battery":99,"occupancy":true,"last_seen":"2025-06-01T11:00:00.000Z"}`, ""},
		{"tele/tasmota_5E9A1B/SENSOR", `{"Time":"2025-06-01T19:00:00","ENERGY":{"Total":514.153,"Power":56}}`, ""},
		{"wmbusmeters/33225544", `{"media":"water","total_m3":123.529,"timestamp":"2025-06-01T11:00:00Z"}`, ""},
		{"zigbee2mqtt/h1/Hall PIR", string(occupancy), ReasonUnknownDevice},
		{"zigbee2mqtt/h1/Kitchen PIR/availability", `{"state":"online"}`, ReasonBadTopic},
		{"zigbee2mqtt/bridge/state", `{"state":"online"}`, ReasonBadTopic},
		{"tele/tasmota_5E9A1B/SENSOR", `{"Time":"2025-06-01T19:00:00","ENERGY":{"Total":"a lot"}}`, ReasonInvalid},
		{"wmbusmeters/33225544", `{"total_m3":1,"timestamp":"2025-06-01T11:00:00Z","pad":"` + strings.Repeat("x", MaxPayload) + `"}`, ReasonTooLarge},
	}
	for i, s := range steps {
		_, err := p.Ingest(ctx, s.topic, []byte(s.payload))
		if ReasonOf(err) != s.reason || s.reason == "" && err != nil {
			t.Errorf("step %d, %s: %v, want reason %q", i, s.topic, err, s.reason)
		}
	}
	want := []rules.Reading{
		{DeviceID: "pir", HouseholdID: "h1", Kind: registry.MotionSensor, Stream: rules.Event, TS: ts0, Motion: yes(), BatteryPct: f64(100)},
		{DeviceID: "pir", HouseholdID: "h1", Kind: registry.MotionSensor, Stream: rules.Event, TS: ts0, Motion: yes(), BatteryPct: f64(99)},
		{DeviceID: "plug", HouseholdID: "h1", Kind: registry.PowerMeter, Stream: rules.Telemetry, TS: ts0, TotalKWh: f64(514.153), PowerW: f64(56)},
		{DeviceID: "meter", HouseholdID: "h1", Kind: registry.WaterMeter, Stream: rules.Telemetry, TS: ts0, TotalLiters: f64(123529)},
	}
	if len(*got) != len(want) {
		t.Fatalf("handed on %d readings, want %d", len(*got), len(want))
	}
	for i := range want {
		if show((*got)[i]) != show(want[i]) {
			t.Errorf("reading %d:\n got %s\nwant %s", i, show((*got)[i]), show(want[i]))
		}
	}
	// pir, plug, meter, once each; the unknown PIR on each of its messages.
	if reg.lookups != 4 {
		t.Errorf("%d registry lookups, want 4", reg.lookups)
	}

	// Once forgotten (its household deleted), the PIR is looked up again.
	p.ForgetDevices("pir")
	reg.devices = slices.DeleteFunc(reg.devices, func(d registry.Device) bool { return d.ID == "pir" })
	if _, err := p.Ingest(ctx, "zigbee2mqtt/h1/Kitchen PIR", occupancy); ReasonOf(err) != ReasonUnknownDevice {
		t.Errorf("a forgotten device's message: %v, want unknown_device", err)
	}
}

// TestPipeline_MayPublish: a source topic is its device's and its gateway's
// to publish to; a bridge topic every gateway's; a command topic nobody's.
func TestPipeline_MayPublish(t *testing.T) {
	p, _, _ := sourcesPipeline(t)
	ctx := context.Background()
	tests := []struct {
		id, topic string
		want      bool
	}{
		{"gw", "zigbee2mqtt/h1/Kitchen PIR", true},
		{"gw", "zigbee2mqtt/h1/Kitchen PIR/availability", true},
		{"pir", "zigbee2mqtt/h1/Kitchen PIR", true},
		{"gw", "zigbee2mqtt/h1/Kitchen PIR/set", false},
		{"gw", "zigbee2mqtt/h1/Hall PIR", false},
		{"gw", "zigbee2mqtt/bridge/state", true},
		{"plug", "zigbee2mqtt/bridge/state", false},
		{"band", "zigbee2mqtt/h1/Kitchen PIR", false},
		{"gw", "wmbusmeters/33225544", true},
		{"meter", "wmbusmeters/33225544", true},
		{"plug", "wmbusmeters/33225544", false},
		{"plug", "tele/tasmota_5E9A1B/SENSOR", true},
		{"plug", "tele/tasmota_5E9A1B/LWT", true},
		{"gw", "tele/tasmota_5E9A1B/SENSOR", false},
		{"plug", "stat/tasmota_5E9A1B/POWER", false},
		{"band", "eldersafe/v1/devices/band/event", false}, // the broker's own rule, not this one
	}
	for _, tt := range tests {
		if got := p.MayPublish(ctx, tt.id, tt.topic); got != tt.want {
			t.Errorf("MayPublish(%s, %q) = %t, want %t", tt.id, tt.topic, got, tt.want)
		}
	}
}

// TestIntake_SourceTopics: which source topics the intake takes, on which
// lane, and what an external broker's sessions subscribe to.
func TestIntake_SourceTopics(t *testing.T) {
	p, _, _ := sourcesPipeline(t)
	in, err := NewIntake(IntakeOptions{Prefix: "eldersafe/v1", Pipeline: p, EventWorkers: 16})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		topic       string
		takes, lane bool // lane: the alarm lane
	}{
		{"zigbee2mqtt/h1/Kitchen PIR", true, true},
		{"zigbee2mqtt/h1/Kitchen PIR/availability", false, false},
		{"zigbee2mqtt/bridge/state", false, false},
		{"tele/tasmota_5E9A1B/SENSOR", true, false},
		{"tele/tasmota_5E9A1B/LWT", false, false},
		{"wmbusmeters/33225544", true, false},
		{"eldersafe/v1/devices/band/event", true, true},
		{"eldersafe/v1/devices/band/telemetry", true, false},
		{"eldersafe/v1/devices/band", true, false},
		{"eldersafe/v1/sim/clock", true, false},
		{"homeassistant/status", false, false},
	}
	for _, tt := range tests {
		if got := in.Takes(tt.topic); got != tt.takes {
			t.Errorf("Takes(%q) = %t, want %t", tt.topic, got, tt.takes)
		}
		if got := in.IsEvent(tt.topic); got != tt.lane {
			t.Errorf("IsEvent(%q) = %t, want %t", tt.topic, got, tt.lane)
		}
	}
	if got := in.Filters(true); !slices.Equal(got, []string{"eldersafe/v1/devices/+/event", "zigbee2mqtt/#"}) {
		t.Errorf("alarm session's filters %v", got)
	}
	if got := in.Filters(false); !slices.Equal(got, []string{"eldersafe/v1/devices/+/telemetry", "eldersafe/v1/devices/+/status", "eldersafe/v1/sim/clock", "tele/+/SENSOR", "wmbusmeters/+"}) {
		t.Errorf("main session's filters %v", got)
	}

	// Two single-level Zigbee2MQTT names are two devices: they need not
	// share a worker, as they would if the last level were cut as a stream.
	workers := map[int]bool{}
	for i := range 20 {
		if _, err := in.Submit(context.Background(), fmt.Sprintf("zigbee2mqtt/pir-%d", i), nil, func() {}, 0); err != nil {
			t.Fatal(err)
		}
	}
	for i, q := range in.lanes[laneEvents].queues {
		if len(q) > 0 {
			workers[i] = true
		}
	}
	if len(workers) < 2 {
		t.Errorf("20 Zigbee2MQTT devices all went to one of %d alarm workers", len(in.lanes[laneEvents].queues))
	}
}
