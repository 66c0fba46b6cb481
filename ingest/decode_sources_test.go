package ingest

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
)

// shanghai is the households' zone in these tests: a Tasmota Time without
// offset is read in it.
var shanghai = mustZone("Asia/Shanghai")

func mustZone(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

// sum adds at run time, as the decoder does, so that a multi-channel total
// compares equal to the last bit.
func sum(xs ...float64) *float64 {
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return &s
}

// sourceCase is one payload in a source's format and what DecodeSource must
// make of it: the whole reading (Kind is the case's), or a rejection with its
// reason and a word of its error. The payload is testdata/{src}/{file}, or
// inline.
type sourceCase struct {
	name    string
	src     registry.Source
	kind    registry.DeviceKind
	file    string
	payload string

	want    rules.Reading
	reason  Reason
	inError string
}

func (c sourceCase) data(tb testing.TB) []byte {
	tb.Helper()
	if c.file == "" {
		return []byte(c.payload)
	}
	b, err := os.ReadFile(filepath.Join("testdata", string(c.src), c.file))
	if err != nil {
		tb.Fatal(err)
	}
	return []byte(strings.TrimSpace(string(b)))
}

const (
	z2m   = registry.SourceZigbee2MQTT
	tasmo = registry.SourceTasmota
	wmbus = registry.SourceWmbusmeters
)

// sourceCases drives TestDecodeSource and seeds FuzzDecodeSource.
var sourceCases = []sourceCase{
	// Zigbee2MQTT: occupancy → motion, contact → door (false is open),
	// water_leak and SOS actions → sos, battery → battery_pct, last_seen → ts
	// in each of its formats (ISO_8601, ISO_8601_local, epoch).
	{name: "z2m PIR occupancy, ISO_8601", src: z2m, kind: registry.MotionSensor, file: "aqara_rtcgq11lm_occupancy.json",
		want: rules.Reading{Stream: rules.Event, TS: ts0, Motion: yes(), BatteryPct: f64(100)}},
	{name: "z2m PIR cleared, ISO_8601_local", src: z2m, kind: registry.MotionSensor, file: "aqara_rtcgq11lm_cleared_local.json",
		want: rules.Reading{Stream: rules.Event, TS: ts0.Add(90 * time.Second), Motion: no(), BatteryPct: f64(100)}},
	{name: "z2m without last_seen (Zigbee2MQTT's default)", src: z2m, kind: registry.MotionSensor, file: "aqara_rtcgq11lm_no_last_seen.json",
		reason: ReasonInvalid, inError: "advanced.last_seen"},
	{name: "z2m door open, epoch", src: z2m, kind: registry.DoorSensor, file: "aqara_mccgq11lm_open_epoch.json",
		want: rules.Reading{Stream: rules.Event, TS: ts0, Open: yes(), BatteryPct: f64(91)}},
	{name: "z2m door closed", src: z2m, kind: registry.DoorSensor, file: "aqara_mccgq11lm_closed.json",
		want: rules.Reading{Stream: rules.Event, TS: ts0, Open: no(), BatteryPct: f64(91)}},
	{name: "z2m leak", src: z2m, kind: registry.Wristband, file: "aqara_sjcgq11lm_leak.json",
		want: rules.Reading{Stream: rules.Event, TS: ts0, Event: rules.EventSOS, BatteryPct: f64(100)}},
	{name: "z2m leak sensor dry: a heartbeat", src: z2m, kind: registry.Wristband, file: "aqara_sjcgq11lm_dry.json",
		want: rules.Reading{Stream: rules.Telemetry, TS: ts0, BatteryPct: f64(100)}},
	{name: "z2m SOS button, emergency", src: z2m, kind: registry.Wristband, file: "tuya_ts0215a_sos_emergency.json",
		want: rules.Reading{Stream: rules.Event, TS: ts0, Event: rules.EventSOS, BatteryPct: f64(100)}},
	{name: "z2m SOS button battery report", src: z2m, kind: registry.Wristband, file: "tuya_ts0215a_sos_battery.json",
		want: rules.Reading{Stream: rules.Telemetry, TS: ts0, BatteryPct: f64(97)}},
	{name: "z2m keypad, sos", src: z2m, kind: registry.Wristband, file: "immax_07505l_sos.json",
		want: rules.Reading{Stream: rules.Event, TS: ts0, Event: rules.EventSOS, BatteryPct: f64(90)}},
	{name: "z2m keypad, another action", src: z2m, kind: registry.Wristband, file: "immax_07505l_arm_away.json",
		want: rules.Reading{Stream: rules.Telemetry, TS: ts0, BatteryPct: f64(90)}},
	{name: "z2m PIR, linkquality alone", src: z2m, kind: registry.MotionSensor, payload: `{"linkquality":120,"last_seen":1748775600000}`,
		want: rules.Reading{Stream: rules.Telemetry, TS: ts0}},
	{name: "z2m PIR reports no contact", src: z2m, kind: registry.MotionSensor, payload: `{"contact":false,"last_seen":1748775600000}`,
		want: rules.Reading{Stream: rules.Telemetry, TS: ts0}},
	{name: "z2m null occupancy is absent", src: z2m, kind: registry.MotionSensor, payload: `{"occupancy":null,"last_seen":1748775600000}`,
		want: rules.Reading{Stream: rules.Telemetry, TS: ts0}},
	{name: "z2m occupancy as string", src: z2m, kind: registry.MotionSensor, payload: `{"occupancy":"ON","last_seen":1748775600000}`,
		reason: ReasonInvalid, inError: "occupancy: must be a boolean"},
	{name: "z2m battery over 100", src: z2m, kind: registry.DoorSensor, payload: `{"battery":180,"contact":true,"last_seen":1748775600000}`,
		reason: ReasonInvalid, inError: "battery"},
	{name: "z2m action not a string", src: z2m, kind: registry.Wristband, payload: `{"action":1,"last_seen":1748775600000}`,
		reason: ReasonInvalid, inError: "action: must be a string"},
	{name: "z2m last_seen relative", src: z2m, kind: registry.MotionSensor, payload: `{"occupancy":true,"last_seen":"5 minutes ago"}`,
		reason: ReasonInvalid, inError: "last_seen"},
	{name: "z2m last_seen before 2000", src: z2m, kind: registry.MotionSensor, payload: `{"occupancy":true,"last_seen":0}`,
		reason: ReasonInvalid, inError: "before 2000"},
	{name: "z2m last_seen far ahead", src: z2m, kind: registry.MotionSensor, payload: `{"occupancy":true,"last_seen":"2036-01-01T00:00:00.000Z"}`,
		reason: ReasonFutureTS},
	{name: "z2m water meter", src: z2m, kind: registry.WaterMeter, payload: `{"last_seen":1748775600000}`,
		reason: ReasonInvalid, inError: "zigbee2mqtt reports no water_meter"},
	{name: "z2m attribute output (not json)", src: z2m, kind: registry.MotionSensor, payload: `true`,
		reason: ReasonBadJSON},

	// Tasmota: ENERGY.Total (kWh) → total_kwh, ENERGY.Power → power_w, Time →
	// ts in the household's zone (or with the offset of SetOption52).
	{name: "tasmota plug", src: tasmo, kind: registry.PowerMeter, file: "localbytes_plug.json",
		want: rules.Reading{Stream: rules.Telemetry, TS: time.Date(2022, 1, 11, 13, 57, 38, 0, time.UTC), TotalKWh: f64(3.705), PowerW: f64(5)}},
	{name: "tasmota Sonoff POW, idle", src: tasmo, kind: registry.PowerMeter, file: "sonoff_pow_docs.json",
		want: rules.Reading{Stream: rules.Telemetry, TS: time.Date(2020, 3, 11, 9, 49, 33, 0, time.UTC), TotalKWh: f64(14.834), PowerW: f64(0)}},
	{name: "tasmota SetOption52 offset", src: tasmo, kind: registry.PowerMeter, file: "setoption52_offset.json",
		want: rules.Reading{Stream: rules.Telemetry, TS: ts0, TotalKWh: f64(514.153), PowerW: f64(56)}},
	{name: "tasmota two channels, SetOption129", src: tasmo, kind: registry.PowerMeter, file: "dual_channel.json",
		want: rules.Reading{Stream: rules.Telemetry, TS: time.Date(2022, 1, 7, 11, 43, 24, 0, time.UTC), TotalKWh: sum(0.005, 1.507), PowerW: sum(0, 26)}},
	{name: "tasmota before NTP sync", src: tasmo, kind: registry.PowerMeter, file: "clock_not_synced.json",
		reason: ReasonInvalid, inError: "before 2000"},
	{name: "tasmota sensor without ENERGY", src: tasmo, kind: registry.PowerMeter, file: "no_energy_si7021.json",
		reason: ReasonInvalid, inError: "ENERGY: required"},
	{name: "tasmota milliseconds", src: tasmo, kind: registry.PowerMeter, payload: `{"Time":"2025-06-01T19:00:00.250","ENERGY":{"Total":1}}`,
		want: rules.Reading{Stream: rules.Telemetry, TS: ts0.Add(250 * time.Millisecond), TotalKWh: f64(1)}},
	{name: "tasmota export is negative power", src: tasmo, kind: registry.PowerMeter, payload: `{"Time":"2025-06-01T19:00:00","ENERGY":{"Total":1,"Power":[-300,20]}}`,
		want: rules.Reading{Stream: rules.Telemetry, TS: ts0, TotalKWh: f64(1), PowerW: f64(-280)}},
	{name: "tasmota no Time", src: tasmo, kind: registry.PowerMeter, payload: `{"ENERGY":{"Total":1}}`,
		reason: ReasonInvalid, inError: "Time: required"},
	{name: "tasmota Time as epoch", src: tasmo, kind: registry.PowerMeter, payload: `{"Time":1748775600,"ENERGY":{"Total":1}}`,
		reason: ReasonInvalid, inError: "Time: must be a string"},
	{name: "tasmota Time unreadable", src: tasmo, kind: registry.PowerMeter, payload: `{"Time":"11/01/2022 21:57","ENERGY":{"Total":1}}`,
		reason: ReasonInvalid, inError: "Time"},
	{name: "tasmota ENERGY not an object", src: tasmo, kind: registry.PowerMeter, payload: `{"Time":"2025-06-01T19:00:00","ENERGY":3.7}`,
		reason: ReasonInvalid, inError: "ENERGY: must be an object"},
	{name: "tasmota negative Total", src: tasmo, kind: registry.PowerMeter, payload: `{"Time":"2025-06-01T19:00:00","ENERGY":{"Total":[1,-2]}}`,
		reason: ReasonInvalid, inError: "ENERGY.Total[1]"},
	{name: "tasmota empty Total", src: tasmo, kind: registry.PowerMeter, payload: `{"Time":"2025-06-01T19:00:00","ENERGY":{"Total":[]}}`,
		reason: ReasonInvalid, inError: "ENERGY.Total"},
	{name: "tasmota channels overflow", src: tasmo, kind: registry.PowerMeter, payload: `{"Time":"2025-06-01T19:00:00","ENERGY":{"Total":[1e308,1e308]}}`,
		reason: ReasonInvalid, inError: "not finite"},
	{name: "tasmota water meter", src: tasmo, kind: registry.WaterMeter, file: "localbytes_plug.json",
		reason: ReasonInvalid, inError: "tasmota reports no water_meter"},

	// wmbusmeters: total_m3 × 1000 → total_liters, timestamp (UTC) → ts.
	{name: "wmbus iPerl", src: wmbus, kind: registry.WaterMeter, file: "readme_iperl.json",
		want: rules.Reading{Stream: rules.Telemetry, TS: time.Date(2024, 3, 3, 18, 37, 0, 0, time.UTC), TotalLiters: f64(123529)}},
	{name: "wmbus Multical 21", src: wmbus, kind: registry.WaterMeter, file: "readme_multical21.json",
		want: rules.Reading{Stream: rules.Telemetry, TS: time.Date(2018, 2, 8, 9, 7, 22, 0, time.UTC), TotalLiters: f64(6388)}},
	{name: "wmbus driver test's placeholder time", src: wmbus, kind: registry.WaterMeter, file: "waterstarm_test_placeholder.json",
		reason: ReasonInvalid, inError: "before 2000"},
	{name: "wmbus heat meter", src: wmbus, kind: registry.WaterMeter, file: "readme_kamheat.json",
		reason: ReasonInvalid, inError: "total_m3: required"},
	{name: "wmbus total_m3 as string", src: wmbus, kind: registry.WaterMeter, payload: `{"total_m3":"1.5","timestamp":"2025-06-01T11:00:00Z"}`,
		reason: ReasonInvalid, inError: "total_m3: must be a number"},
	{name: "wmbus total_m3 too large for litres", src: wmbus, kind: registry.WaterMeter, payload: `{"total_m3":1e305,"timestamp":"2025-06-01T11:00:00Z"}`,
		reason: ReasonInvalid, inError: "out of range"},
	{name: "wmbus no timestamp", src: wmbus, kind: registry.WaterMeter, payload: `{"total_m3":1.5}`,
		reason: ReasonInvalid, inError: "timestamp"},
	{name: "wmbus power meter", src: wmbus, kind: registry.PowerMeter, file: "readme_iperl.json",
		reason: ReasonInvalid, inError: "wmbusmeters reports no power_meter"},

	// What every payload must be.
	{name: "not JSON", src: wmbus, kind: registry.WaterMeter, payload: `total_m3=1`, reason: ReasonBadJSON},
	{name: "truncated", src: tasmo, kind: registry.PowerMeter, payload: `{"Time":"2025-06-01T19:00:00","ENERGY":{"Total":1}`, reason: ReasonBadJSON},
	{name: "too large", src: z2m, kind: registry.MotionSensor, payload: `{"pad":"` + strings.Repeat("x", MaxPayload) + `"}`, reason: ReasonTooLarge},
	{name: "unknown source", src: "homie", kind: registry.PowerMeter, payload: `{}`, reason: ReasonInvalid, inError: "homie"},
}

func TestDecodeSource(t *testing.T) {
	for _, tc := range sourceCases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := DecodeSource(tc.src, tc.kind, tc.data(t), shanghai, testNow)
			if tc.reason != "" {
				if got := ReasonOf(err); got != tc.reason || !strings.Contains(errString(err), tc.inError) {
					t.Fatalf("err = %v (reason %q), want reason %q naming %q", err, got, tc.reason, tc.inError)
				}
				if re, ok := errors.AsType[*RejectError](err); !ok || re.Err == nil {
					t.Errorf("rejection %v says nothing of what was wrong", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			want := tc.want
			want.Kind = tc.kind
			if !reflect.DeepEqual(m.Reading, want) {
				t.Errorf("reading:\n got %s\nwant %s", show(m.Reading), show(want))
			}
			if !m.HasSeq || m.Reading.TS.Location() != time.UTC {
				t.Errorf("HasSeq %v, ts %v: want a payload fingerprint and a UTC time", m.HasSeq, m.Reading.TS)
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestDecodeSource_Fingerprint: the fingerprint that stands for a seq is the
// payload's: the same bytes give the same one, another report another.
func TestDecodeSource_Fingerprint(t *testing.T) {
	a := []byte(`{"occupancy":true,"last_seen":1748775600000}`)
	b := []byte(`{"occupancy":true,"battery":97,"last_seen":1748775600000}`)
	ma, err := DecodeSource(z2m, registry.MotionSensor, a, shanghai, testNow)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := DecodeSource(z2m, registry.MotionSensor, a, shanghai, testNow)
	mb, _ := DecodeSource(z2m, registry.MotionSensor, b, shanghai, testNow)
	if ma.Seq != again.Seq || ma.Seq == mb.Seq {
		t.Errorf("fingerprints %x, %x, %x: want the first two alike, the third other", ma.Seq, again.Seq, mb.Seq)
	}
}
