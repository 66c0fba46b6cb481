package ingest

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
)

// testNow is the monitor's now in every decode test.
var testNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// ts0 is the ts most payloads carry, an hour before testNow:
// "2025-06-01T11:00:00Z" = 1748775600000 ms.
var ts0 = time.Date(2025, 6, 1, 11, 0, 0, 0, time.UTC)

func f64(v float64) *float64 { return &v }
func yes() *bool             { v := true; return &v }
func no() *bool              { v := false; return &v }

// padded returns a valid motion_sensor heartbeat of exactly n bytes, grown by an
// unknown field.
func padded(n int) string {
	const head, tail = `{"ts":1748775600000,"battery_pct":50,"pad":"`, `"}`
	return head + strings.Repeat("x", n-len(head)-len(tail)) + tail
}

// decodeCase is one payload and what Decode must make of it. For an accepted
// payload, want holds the payload fields: Kind and Stream are the case's, TS is
// ts0 unless ts is set. For a rejected one, reason is set, and an invalid payload
// names field in its error.
type decodeCase struct {
	name    string
	kind    registry.DeviceKind
	stream  rules.Stream
	payload string

	want    rules.Reading
	ts      time.Time
	seq     uint64
	hasSeq  bool
	reason  Reason
	inError string
}

// decodeCases drives TestDecode and seeds FuzzDecode.
var decodeCases = []decodeCase{
	// water_meter telemetry: total_liters required, flow_lpm and battery_pct optional.
	{name: "water full", kind: registry.WaterMeter, stream: rules.Telemetry,
		payload: `{"ts":"2025-06-01T11:00:00Z","seq":42,"total_liters":1234.5,"flow_lpm":0,"battery_pct":88}`,
		want:    rules.Reading{TotalLiters: f64(1234.5), FlowLPM: f64(0), BatteryPct: f64(88)}, seq: 42, hasSeq: true},
	{name: "water minimal ms ts", kind: registry.WaterMeter, stream: rules.Telemetry,
		payload: `{"ts":1748775600000,"total_liters":0}`,
		want:    rules.Reading{TotalLiters: f64(0)}},
	{name: "water ts with offset", kind: registry.WaterMeter, stream: rules.Telemetry,
		payload: `{"ts":"2025-06-01T19:00:00+08:00","total_liters":1e3}`,
		want:    rules.Reading{TotalLiters: f64(1000)}},
	{name: "water ts fractional seconds", kind: registry.WaterMeter, stream: rules.Telemetry,
		payload: `{"ts":"2025-06-01T11:00:00.250-03:00","total_liters":7}`,
		want:    rules.Reading{TotalLiters: f64(7)}, ts: time.Date(2025, 6, 1, 14, 0, 0, 250e6, time.UTC)},
	{name: "water null optional is absent", kind: registry.WaterMeter, stream: rules.Telemetry,
		payload: `{"ts":1748775600000,"total_liters":3,"flow_lpm":null,"seq":null}`,
		want:    rules.Reading{TotalLiters: f64(3)}},
	{name: "water missing total_liters", kind: registry.WaterMeter, stream: rules.Telemetry,
		payload: `{"ts":1748775600000,"flow_lpm":2}`, reason: ReasonInvalid, inError: "total_liters: required"},
	{name: "water total_liters null", kind: registry.WaterMeter, stream: rules.Telemetry,
		payload: `{"ts":1748775600000,"total_liters":null}`, reason: ReasonInvalid, inError: "total_liters: required"},
	{name: "water total_liters string", kind: registry.WaterMeter, stream: rules.Telemetry,
		payload: `{"ts":1748775600000,"total_liters":"12"}`, reason: ReasonInvalid, inError: "total_liters: must be a number"},
	{name: "water total_liters negative", kind: registry.WaterMeter, stream: rules.Telemetry,
		payload: `{"ts":1748775600000,"total_liters":-0.5}`, reason: ReasonInvalid, inError: "total_liters"},
	{name: "water total_liters not finite", kind: registry.WaterMeter, stream: rules.Telemetry,
		payload: `{"ts":1748775600000,"total_liters":1e999}`, reason: ReasonInvalid, inError: "total_liters"},
	{name: "water flow_lpm negative", kind: registry.WaterMeter, stream: rules.Telemetry,
		payload: `{"ts":1748775600000,"total_liters":1,"flow_lpm":-1}`, reason: ReasonInvalid, inError: "flow_lpm"},
	{name: "water flow_lpm bool", kind: registry.WaterMeter, stream: rules.Telemetry,
		payload: `{"ts":1748775600000,"total_liters":1,"flow_lpm":true}`, reason: ReasonInvalid, inError: "flow_lpm: must be a number"},
	{name: "water battery_pct over 100", kind: registry.WaterMeter, stream: rules.Telemetry,
		payload: `{"ts":1748775600000,"total_liters":1,"battery_pct":101}`, reason: ReasonInvalid, inError: "battery_pct"},
	{name: "water has no event stream", kind: registry.WaterMeter, stream: rules.Event,
		payload: `{"ts":1748775600000,"total_liters":1}`, reason: ReasonInvalid, inError: "water_meter"},

	// motion_sensor event, plus battery-only telemetry as its heartbeat.
	{name: "motion event", kind: registry.MotionSensor, stream: rules.Event,
		payload: `{"ts":"2025-06-01T11:00:00Z","motion":true,"room":"kitchen"}`,
		want:    rules.Reading{Motion: yes(), Room: "kitchen"}},
	{name: "motion event minimal", kind: registry.MotionSensor, stream: rules.Event,
		payload: `{"ts":1748775600000,"motion":false}`,
		want:    rules.Reading{Motion: no()}},
	{name: "motion room escaped and non-ASCII", kind: registry.MotionSensor, stream: rules.Event,
		payload: `{"ts":1748775600000,"motion":true,"room":"\u5ba2\u5385 / 客厅 \"A\""}`,
		want:    rules.Reading{Motion: yes(), Room: `客厅 / 客厅 "A"`}},
	{name: "motion heartbeat", kind: registry.MotionSensor, stream: rules.Telemetry,
		payload: `{"ts":1748775600000,"seq":7,"battery_pct":90}`,
		want:    rules.Reading{BatteryPct: f64(90)}, seq: 7, hasSeq: true},
	{name: "motion telemetry ts only", kind: registry.MotionSensor, stream: rules.Telemetry,
		payload: `{"ts":1748775600000}`},
	{name: "motion unknown fields ignored", kind: registry.MotionSensor, stream: rules.Event,
		payload: `{"fw":"1.2.3","ts":1748775600000,"motion":true,"extra":{"a":[1,{"b":null}]},"online":"n/a"}`,
		want:    rules.Reading{Motion: yes()}},
	{name: "motion missing motion", kind: registry.MotionSensor, stream: rules.Event,
		payload: `{"ts":1748775600000,"room":"hall"}`, reason: ReasonInvalid, inError: "motion: required"},
	{name: "motion as string", kind: registry.MotionSensor, stream: rules.Event,
		payload: `{"ts":1748775600000,"motion":"true"}`, reason: ReasonInvalid, inError: "motion: must be a boolean"},
	{name: "motion as number", kind: registry.MotionSensor, stream: rules.Event,
		payload: `{"ts":1748775600000,"motion":1}`, reason: ReasonInvalid, inError: "motion: must be a boolean"},
	{name: "motion room number", kind: registry.MotionSensor, stream: rules.Event,
		payload: `{"ts":1748775600000,"motion":true,"room":3}`, reason: ReasonInvalid, inError: "room: must be a string"},
	{name: "motion battery string", kind: registry.MotionSensor, stream: rules.Telemetry,
		payload: `{"ts":1748775600000,"battery_pct":"90%"}`, reason: ReasonInvalid, inError: "battery_pct: must be a number"},

	// door_sensor event.
	{name: "door open", kind: registry.DoorSensor, stream: rules.Event,
		payload: `{"ts":1748775600000,"open":true}`, want: rules.Reading{Open: yes()}},
	{name: "door closed, other kinds' fields ignored", kind: registry.DoorSensor, stream: rules.Event,
		payload: `{"ts":1748775600000,"open":false,"motion":"yes","total_liters":"x"}`, want: rules.Reading{Open: no()}},
	{name: "door heartbeat", kind: registry.DoorSensor, stream: rules.Telemetry,
		payload: `{"ts":1748775600000,"battery_pct":0}`, want: rules.Reading{BatteryPct: f64(0)}},
	{name: "door missing open", kind: registry.DoorSensor, stream: rules.Event,
		payload: `{"ts":1748775600000,"motion":true}`, reason: ReasonInvalid, inError: "open: required"},
	{name: "door battery negative", kind: registry.DoorSensor, stream: rules.Telemetry,
		payload: `{"ts":1748775600000,"battery_pct":-1}`, reason: ReasonInvalid, inError: "battery_pct"},

	// wristband event: event required, position optional.
	{name: "wristband fall", kind: registry.Wristband, stream: rules.Event,
		payload: `{"ts":"2025-06-01T19:00:00+08:00","seq":9,"event":"fall","lat":31.2304,"lon":121.4737,"accuracy_m":12}`,
		want:    rules.Reading{Event: rules.EventFall, Lat: f64(31.2304), Lon: f64(121.4737), AccuracyM: f64(12)}, seq: 9, hasSeq: true},
	{name: "wristband sos at bounds", kind: registry.Wristband, stream: rules.Event,
		payload: `{"ts":1748775600000,"event":"sos","lat":-90,"lon":180,"accuracy_m":0}`,
		want:    rules.Reading{Event: rules.EventSOS, Lat: f64(-90), Lon: f64(180), AccuracyM: f64(0)}},
	// A resident's answer to a check (CONTRACT.md §12).
	{name: "wristband ok answers a check", kind: registry.Wristband, stream: rules.Event,
		payload: `{"ts":"2025-06-01T19:00:00+08:00","event":"ok","check_id":"0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"}`,
		want:    rules.Reading{Event: rules.EventOK, CheckID: "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"}},
	{name: "wristband ok without check_id", kind: registry.Wristband, stream: rules.Event,
		payload: `{"ts":1748775600000,"event":"ok"}`, reason: ReasonInvalid, inError: "check_id: required"},
	{name: "wristband ok check_id number", kind: registry.Wristband, stream: rules.Event,
		payload: `{"ts":1748775600000,"event":"ok","check_id":7}`, reason: ReasonInvalid, inError: "check_id: must be a string"},
	{name: "wristband ok check_id blank", kind: registry.Wristband, stream: rules.Event,
		payload: `{"ts":1748775600000,"event":"ok","check_id":"  "}`, reason: ReasonInvalid, inError: "check_id"},
	{name: "wristband ok check_id too long", kind: registry.Wristband, stream: rules.Event,
		payload: `{"ts":1748775600000,"event":"ok","check_id":"` + strings.Repeat("x", 65) + `"}`, reason: ReasonInvalid, inError: "check_id"},
	{name: "wristband fall ignores check_id", kind: registry.Wristband, stream: rules.Event,
		payload: `{"ts":1748775600000,"event":"fall","check_id":"c-1"}`, want: rules.Reading{Event: rules.EventFall}},
	{name: "wristband missing event", kind: registry.Wristband, stream: rules.Event,
		payload: `{"ts":1748775600000,"lat":1}`, reason: ReasonInvalid, inError: "event: required"},
	{name: "wristband event wrong case", kind: registry.Wristband, stream: rules.Event,
		payload: `{"ts":1748775600000,"event":"FALL"}`, reason: ReasonInvalid, inError: "event"},
	{name: "wristband event unknown", kind: registry.Wristband, stream: rules.Event,
		payload: `{"ts":1748775600000,"event":"help"}`, reason: ReasonInvalid, inError: "event"},
	{name: "wristband event number", kind: registry.Wristband, stream: rules.Event,
		payload: `{"ts":1748775600000,"event":1}`, reason: ReasonInvalid, inError: "event: must be a string"},
	{name: "wristband lat out of range", kind: registry.Wristband, stream: rules.Event,
		payload: `{"ts":1748775600000,"event":"fall","lat":90.1}`, reason: ReasonInvalid, inError: "lat"},
	{name: "wristband lon out of range", kind: registry.Wristband, stream: rules.Event,
		payload: `{"ts":1748775600000,"event":"fall","lon":-180.5}`, reason: ReasonInvalid, inError: "lon"},
	{name: "wristband lat string", kind: registry.Wristband, stream: rules.Event,
		payload: `{"ts":1748775600000,"event":"fall","lat":"31.2"}`, reason: ReasonInvalid, inError: "lat: must be a number"},
	{name: "wristband accuracy negative", kind: registry.Wristband, stream: rules.Event,
		payload: `{"ts":1748775600000,"event":"sos","accuracy_m":-3}`, reason: ReasonInvalid, inError: "accuracy_m"},

	// wristband telemetry: every field optional.
	{name: "wristband telemetry full", kind: registry.Wristband, stream: rules.Telemetry,
		payload: `{"ts":1748775600000,"battery_pct":100,"worn":true,"heart_rate":72}`,
		want:    rules.Reading{BatteryPct: f64(100), Worn: yes(), HeartRate: f64(72)}},
	{name: "wristband telemetry not worn", kind: registry.Wristband, stream: rules.Telemetry,
		payload: `{"ts":1748775600000,"worn":false,"heart_rate":0}`,
		want:    rules.Reading{Worn: no(), HeartRate: f64(0)}},
	{name: "wristband worn string", kind: registry.Wristband, stream: rules.Telemetry,
		payload: `{"ts":1748775600000,"worn":"yes"}`, reason: ReasonInvalid, inError: "worn: must be a boolean"},
	{name: "wristband heart_rate over 300", kind: registry.Wristband, stream: rules.Telemetry,
		payload: `{"ts":1748775600000,"heart_rate":301}`, reason: ReasonInvalid, inError: "heart_rate"},

	// power_meter telemetry.
	{name: "power full", kind: registry.PowerMeter, stream: rules.Telemetry,
		payload: `{"ts":1748775600000,"total_kwh":5123.4,"power_w":-350,"battery_pct":55.5}`,
		want:    rules.Reading{TotalKWh: f64(5123.4), PowerW: f64(-350), BatteryPct: f64(55.5)}},
	{name: "power minimal", kind: registry.PowerMeter, stream: rules.Telemetry,
		payload: `{"ts":1748775600000,"total_kwh":0}`, want: rules.Reading{TotalKWh: f64(0)}},
	{name: "power missing total_kwh", kind: registry.PowerMeter, stream: rules.Telemetry,
		payload: `{"ts":1748775600000,"power_w":10}`, reason: ReasonInvalid, inError: "total_kwh: required"},
	{name: "power total_kwh negative", kind: registry.PowerMeter, stream: rules.Telemetry,
		payload: `{"ts":1748775600000,"total_kwh":-1}`, reason: ReasonInvalid, inError: "total_kwh"},
	{name: "power power_w string", kind: registry.PowerMeter, stream: rules.Telemetry,
		payload: `{"ts":1748775600000,"total_kwh":1,"power_w":"10W"}`, reason: ReasonInvalid, inError: "power_w: must be a number"},
	{name: "power has no event stream", kind: registry.PowerMeter, stream: rules.Event,
		payload: `{"ts":1748775600000,"total_kwh":1}`, reason: ReasonInvalid, inError: "power_meter"},

	// status, any kind.
	{name: "status online water", kind: registry.WaterMeter, stream: rules.Status,
		payload: `{"ts":1748775600000,"online":true}`, want: rules.Reading{Online: yes()}},
	{name: "status online motion", kind: registry.MotionSensor, stream: rules.Status,
		payload: `{"ts":1748775600000,"online":true}`, want: rules.Reading{Online: yes()}},
	{name: "status online door", kind: registry.DoorSensor, stream: rules.Status,
		payload: `{"ts":1748775600000,"online":true}`, want: rules.Reading{Online: yes()}},
	{name: "status offline wristband", kind: registry.Wristband, stream: rules.Status,
		payload: `{"ts":"2025-06-01T11:00:00Z","online":false}`, want: rules.Reading{Online: no()}},
	{name: "status offline power", kind: registry.PowerMeter, stream: rules.Status,
		payload: `{"ts":1748775600000,"online":false}`, want: rules.Reading{Online: no()}},
	{name: "status missing online", kind: registry.DoorSensor, stream: rules.Status,
		payload: `{"ts":1748775600000,"open":true}`, reason: ReasonInvalid, inError: "online: required"},
	{name: "status online string", kind: registry.DoorSensor, stream: rules.Status,
		payload: `{"ts":1748775600000,"online":"online"}`, reason: ReasonInvalid, inError: "online: must be a boolean"},

	// Kind and stream outside the contract.
	{name: "unknown kind", kind: "toaster", stream: rules.Telemetry,
		payload: `{"ts":1748775600000}`, reason: ReasonInvalid, inError: "toaster"},
	{name: "unknown stream", kind: registry.DoorSensor, stream: "config",
		payload: `{"ts":1748775600000}`, reason: ReasonInvalid, inError: "config"},

	// ts.
	{name: "ts missing", kind: registry.DoorSensor, stream: rules.Event,
		payload: `{"open":true}`, reason: ReasonInvalid, inError: "ts: required"},
	{name: "ts null", kind: registry.DoorSensor, stream: rules.Event,
		payload: `{"ts":null,"open":true}`, reason: ReasonInvalid, inError: "ts: required"},
	{name: "ts bool", kind: registry.DoorSensor, stream: rules.Event,
		payload: `{"ts":true,"open":true}`, reason: ReasonInvalid, inError: "ts"},
	{name: "ts object", kind: registry.DoorSensor, stream: rules.Event,
		payload: `{"ts":{"ms":1},"open":true}`, reason: ReasonInvalid, inError: "ts"},
	{name: "ts without offset", kind: registry.DoorSensor, stream: rules.Event,
		payload: `{"ts":"2025-06-01T11:00:00","open":true}`, reason: ReasonInvalid, inError: "ts"},
	{name: "ts date only", kind: registry.DoorSensor, stream: rules.Event,
		payload: `{"ts":"2025-06-01","open":true}`, reason: ReasonInvalid, inError: "ts"},
	{name: "ts digits in a string", kind: registry.DoorSensor, stream: rules.Event,
		payload: `{"ts":"1748775600000","open":true}`, reason: ReasonInvalid, inError: "ts"},
	{name: "ts fractional ms", kind: registry.DoorSensor, stream: rules.Event,
		payload: `{"ts":1748775600000.5,"open":true}`, reason: ReasonInvalid, inError: "ts"},
	{name: "ts exponent", kind: registry.DoorSensor, stream: rules.Event,
		payload: `{"ts":1.7487756e12,"open":true}`, reason: ReasonInvalid, inError: "ts"},
	{name: "ts negative", kind: registry.DoorSensor, stream: rules.Event,
		payload: `{"ts":-1,"open":true}`, reason: ReasonInvalid, inError: "ts"},
	{name: "ts overflows int64", kind: registry.DoorSensor, stream: rules.Event,
		payload: `{"ts":99999999999999999999,"open":true}`, reason: ReasonInvalid, inError: "ts"},
	{name: "ts in seconds lands in 1970", kind: registry.DoorSensor, stream: rules.Event,
		payload: `{"ts":1748775600,"open":true}`, reason: ReasonInvalid, inError: "before 2000"},
	{name: "ts unset clock", kind: registry.DoorSensor, stream: rules.Event,
		payload: `{"ts":"1970-01-01T00:00:42Z","open":true}`, reason: ReasonInvalid, inError: "before 2000"},
	{name: "ts just before 2000", kind: registry.DoorSensor, stream: rules.Event,
		payload: `{"ts":"1999-12-31T23:59:59.999Z","open":true}`, reason: ReasonInvalid, inError: "before 2000"},
	{name: "ts at 2000", kind: registry.DoorSensor, stream: rules.Event,
		payload: `{"ts":946684800000,"open":true}`, want: rules.Reading{Open: yes()},
		ts: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)},
	{name: "ts in microseconds", kind: registry.DoorSensor, stream: rules.Event,
		payload: `{"ts":1748775600000000,"open":true}`, reason: ReasonInvalid, inError: "after year 9999"},
	{name: "ts exactly 7 days ahead", kind: registry.DoorSensor, stream: rules.Event,
		payload: `{"ts":1749384000000,"open":true}`, want: rules.Reading{Open: yes()},
		ts: testNow.Add(7 * 24 * time.Hour)},
	{name: "ts 7 days and 1 ms ahead", kind: registry.DoorSensor, stream: rules.Event,
		payload: `{"ts":1749384000001,"open":true}`, reason: ReasonFutureTS},
	{name: "ts 8 days ahead as RFC 3339", kind: registry.DoorSensor, stream: rules.Event,
		payload: `{"ts":"2025-06-09T20:00:00+08:00","open":true}`, reason: ReasonFutureTS},
	{name: "ts in year 9999", kind: registry.DoorSensor, stream: rules.Event,
		payload: `{"ts":"9999-12-31T23:59:59Z","open":true}`, reason: ReasonFutureTS},
	{name: "invalid field wins over future ts", kind: registry.DoorSensor, stream: rules.Event,
		payload: `{"ts":1749384000001,"open":"yes"}`, reason: ReasonInvalid, inError: "open"},

	// seq.
	{name: "seq zero", kind: registry.DoorSensor, stream: rules.Event,
		payload: `{"ts":1748775600000,"seq":0,"open":true}`, want: rules.Reading{Open: yes()}, hasSeq: true},
	{name: "seq max uint64", kind: registry.DoorSensor, stream: rules.Event,
		payload: `{"ts":1748775600000,"seq":18446744073709551615,"open":true}`, want: rules.Reading{Open: yes()},
		seq: 1<<64 - 1, hasSeq: true},
	{name: "seq overflows uint64", kind: registry.DoorSensor, stream: rules.Event,
		payload: `{"ts":1748775600000,"seq":18446744073709551616,"open":true}`, reason: ReasonInvalid, inError: "seq"},
	{name: "seq negative", kind: registry.DoorSensor, stream: rules.Event,
		payload: `{"ts":1748775600000,"seq":-1,"open":true}`, reason: ReasonInvalid, inError: "seq"},
	{name: "seq fractional", kind: registry.DoorSensor, stream: rules.Event,
		payload: `{"ts":1748775600000,"seq":1.5,"open":true}`, reason: ReasonInvalid, inError: "seq"},
	{name: "seq string", kind: registry.DoorSensor, stream: rules.Event,
		payload: `{"ts":1748775600000,"seq":"5","open":true}`, reason: ReasonInvalid, inError: "seq"},

	// Not one JSON object.
	{name: "empty", kind: registry.DoorSensor, stream: rules.Event, payload: ``, reason: ReasonBadJSON},
	{name: "blank", kind: registry.DoorSensor, stream: rules.Event, payload: " \n\t", reason: ReasonBadJSON},
	{name: "not JSON", kind: registry.DoorSensor, stream: rules.Event, payload: `open=1`, reason: ReasonBadJSON},
	{name: "array", kind: registry.DoorSensor, stream: rules.Event,
		payload: `[{"ts":1748775600000,"open":true}]`, reason: ReasonBadJSON},
	{name: "top-level null", kind: registry.DoorSensor, stream: rules.Event, payload: `null`, reason: ReasonBadJSON},
	{name: "top-level string", kind: registry.DoorSensor, stream: rules.Event, payload: `"open"`, reason: ReasonBadJSON},
	{name: "top-level number", kind: registry.DoorSensor, stream: rules.Event, payload: `1748775600000`, reason: ReasonBadJSON},
	{name: "trailing garbage", kind: registry.DoorSensor, stream: rules.Event,
		payload: `{"ts":1748775600000,"open":true} x`, reason: ReasonBadJSON},
	{name: "two objects", kind: registry.DoorSensor, stream: rules.Event,
		payload: `{"ts":1748775600000,"open":true}{"ts":1748775600000,"open":false}`, reason: ReasonBadJSON},
	{name: "truncated", kind: registry.DoorSensor, stream: rules.Event,
		payload: `{"ts":1748775600000,"open":`, reason: ReasonBadJSON},
	{name: "single quotes", kind: registry.DoorSensor, stream: rules.Event,
		payload: `{'ts':1748775600000,'open':true}`, reason: ReasonBadJSON},
	{name: "NaN", kind: registry.WaterMeter, stream: rules.Telemetry,
		payload: `{"ts":1748775600000,"total_liters":NaN}`, reason: ReasonBadJSON},
	{name: "trailing comma", kind: registry.DoorSensor, stream: rules.Event,
		payload: `{"ts":1748775600000,"open":true,}`, reason: ReasonBadJSON},
	{name: "non-UTF-8 in a string", kind: registry.MotionSensor, stream: rules.Event,
		payload: "{\"ts\":1748775600000,\"motion\":true,\"room\":\"k\xffitchen\"}", reason: ReasonBadJSON},
	{name: "non-UTF-8 in an unknown field", kind: registry.DoorSensor, stream: rules.Event,
		payload: "{\"ts\":1748775600000,\"open\":true,\"x\":\"\xc3\x28\"}", reason: ReasonBadJSON},
	{name: "byte order mark", kind: registry.DoorSensor, stream: rules.Event,
		payload: "\xef\xbb\xbf{\"ts\":1748775600000,\"open\":true}", reason: ReasonBadJSON},
	{name: "surrounding whitespace", kind: registry.DoorSensor, stream: rules.Event,
		payload: " \r\n{\"ts\":1748775600000,\"open\":true}\n", want: rules.Reading{Open: yes()}},

	// Size.
	{name: "exactly 4 KiB", kind: registry.MotionSensor, stream: rules.Telemetry,
		payload: padded(MaxPayload), want: rules.Reading{BatteryPct: f64(50)}},
	{name: "one byte over 4 KiB", kind: registry.MotionSensor, stream: rules.Telemetry,
		payload: padded(MaxPayload + 1), reason: ReasonTooLarge},
	{name: "oversized garbage", kind: registry.MotionSensor, stream: rules.Telemetry,
		payload: strings.Repeat("\xff", 3*MaxPayload), reason: ReasonTooLarge},
}

func TestDecode(t *testing.T) {
	for _, tc := range decodeCases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Decode(tc.kind, tc.stream, []byte(tc.payload), testNow)
			if tc.reason != "" {
				if err == nil {
					t.Fatalf("accepted %+v, want rejection %s", m.Reading, tc.reason)
				}
				if got := ReasonOf(err); got != tc.reason {
					t.Fatalf("reason %q (%v), want %q", got, err, tc.reason)
				}
				if !strings.HasPrefix(err.Error(), string(tc.reason)+": ") {
					t.Errorf("error %q does not start with its reason", err)
				}
				if !strings.Contains(err.Error(), tc.inError) {
					t.Errorf("error %q does not mention %q", err, tc.inError)
				}
				if !reflect.DeepEqual(m, Message{}) {
					t.Errorf("rejection returned a non-zero message %+v", m)
				}
				return
			}
			if err != nil {
				t.Fatalf("rejected: %v", err)
			}
			want := tc.want
			want.Kind, want.Stream, want.TS = tc.kind, tc.stream, ts0
			if !tc.ts.IsZero() {
				want.TS = tc.ts
			}
			if m.Reading.TS.Location() != time.UTC {
				t.Errorf("TS location %v, want UTC", m.Reading.TS.Location())
			}
			if !reflect.DeepEqual(m.Reading, want) {
				t.Errorf("reading\n got %s\nwant %s", show(m.Reading), show(want))
			}
			if m.Seq != tc.seq || m.HasSeq != tc.hasSeq {
				t.Errorf("seq %d (present %t), want %d (present %t)", m.Seq, m.HasSeq, tc.seq, tc.hasSeq)
			}
		})
	}
}

// show prints a reading with its pointers followed, for failure messages.
func show(r rules.Reading) string {
	v := reflect.ValueOf(r)
	var b strings.Builder
	for i := range v.NumField() {
		f := v.Field(i)
		if f.IsZero() {
			continue
		}
		if f.Kind() == reflect.Pointer {
			f = f.Elem()
		}
		fmt.Fprintf(&b, "%s=%v ", v.Type().Field(i).Name, f)
	}
	return b.String()
}

func TestDecode_ZeroNowSkipsFutureBound(t *testing.T) {
	payload := []byte(`{"ts":"2030-01-01T00:00:00Z","open":true}`)
	if _, err := Decode(registry.DoorSensor, rules.Event, payload, testNow); ReasonOf(err) != ReasonFutureTS {
		t.Fatalf("with now: got %v, want future_ts", err)
	}
	m, err := Decode(registry.DoorSensor, rules.Event, payload, time.Time{})
	if err != nil {
		t.Fatalf("with zero now: %v", err)
	}
	if want := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC); !m.Reading.TS.Equal(want) {
		t.Errorf("TS %v, want %v", m.Reading.TS, want)
	}
}

func TestRejectError(t *testing.T) {
	inner := errors.New("total_liters: required")
	err := fmt.Errorf("device wm-1: %w", &RejectError{Reason: ReasonInvalid, Err: inner})
	if got, want := err.Error(), "device wm-1: invalid: total_liters: required"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if ReasonOf(err) != ReasonInvalid {
		t.Errorf("ReasonOf(wrapped) = %q, want invalid", ReasonOf(err))
	}
	if !errors.Is(err, inner) {
		t.Error("errors.Is does not reach the detail through Unwrap")
	}
	if got := ReasonOf(errors.New("plain")); got != "" {
		t.Errorf("ReasonOf(plain error) = %q, want empty", got)
	}
	if ReasonOf(nil) != "" {
		t.Error("ReasonOf(nil) is not empty")
	}
	if got := (&RejectError{Reason: ReasonDuplicate}).Error(); got != "duplicate" {
		t.Errorf("Error() without detail = %q, want duplicate", got)
	}
}

func TestReasons(t *testing.T) {
	want := []string{"bad_topic", "unknown_device", "bad_json", "invalid", "too_large", "future_ts", "duplicate"}
	if len(Reasons) != len(want) {
		t.Fatalf("Reasons has %d values, want %d", len(Reasons), len(want))
	}
	for i, r := range Reasons {
		if string(r) != want[i] {
			t.Errorf("Reasons[%d] = %q, want %q", i, r, want[i])
		}
	}
}

// topicCases drives TestParseTopic and seeds FuzzParseTopic; stream is empty for
// a topic that must be rejected.
var topicCases = []struct {
	prefix, topic string
	id            string
	stream        rules.Stream
}{
	{"eldersafe/v1", "eldersafe/v1/devices/wm-1/telemetry", "wm-1", rules.Telemetry},
	{"eldersafe/v1", "eldersafe/v1/devices/pir.kitchen_2/event", "pir.kitchen_2", rules.Event},
	{"eldersafe/v1", "eldersafe/v1/devices/hh:7:door/status", "hh:7:door", rules.Status},
	{"eldersafe/v1", "eldersafe/v1/devices/" + strings.Repeat("a", 64) + "/status", strings.Repeat("a", 64), rules.Status},
	{"acme/eldersafe/v1", "acme/eldersafe/v1/devices/W1/event", "W1", rules.Event},
	{"eldersafe/v1", "other/v1/devices/wm-1/telemetry", "", ""},
	{"acme/eldersafe/v1", "eldersafe/v1/devices/wm-1/telemetry", "", ""},
	{"eldersafe/v1", "/eldersafe/v1/devices/wm-1/telemetry", "", ""},
	{"eldersafe/v1", "eldersafe/v1devices/wm-1/telemetry", "", ""},
	{"eldersafe/v1", "eldersafe/v1/device/wm-1/telemetry", "", ""},
	{"eldersafe/v1", "eldersafe/v1/x/devices/wm-1/telemetry", "", ""},
	{"eldersafe/v1", "eldersafe/v1/devices/wm-1", "", ""},
	{"eldersafe/v1", "eldersafe/v1/devices/wm-1/", "", ""},
	{"eldersafe/v1", "eldersafe/v1/devices//telemetry", "", ""},
	{"eldersafe/v1", "eldersafe/v1/devices/wm 1/telemetry", "", ""},
	{"eldersafe/v1", "eldersafe/v1/devices/-wm/telemetry", "", ""},
	{"eldersafe/v1", "eldersafe/v1/devices/+/telemetry", "", ""},
	{"eldersafe/v1", "eldersafe/v1/devices/#", "", ""},
	{"eldersafe/v1", "eldersafe/v1/devices/" + strings.Repeat("a", 65) + "/status", "", ""},
	{"eldersafe/v1", "eldersafe/v1/devices/wm-1/Telemetry", "", ""},
	{"eldersafe/v1", "eldersafe/v1/devices/wm-1/alarm", "", ""},
	{"eldersafe/v1", "eldersafe/v1/devices/wm-1/telemetry/extra", "", ""},
	{"eldersafe/v1", "eldersafe/v1/devices/wm-1/telemetry/", "", ""},
	{"eldersafe/v1", "eldersafe/v1/sim/clock", "", ""},
	{"eldersafe/v1", "", "", ""},
}

func TestParseTopic(t *testing.T) {
	for _, tc := range topicCases {
		t.Run(tc.topic, func(t *testing.T) {
			id, stream, err := ParseTopic(tc.prefix, tc.topic)
			if tc.stream == "" {
				if err == nil {
					t.Fatalf("accepted as %q %q, want bad_topic", id, stream)
				}
				if ReasonOf(err) != ReasonBadTopic {
					t.Fatalf("reason %q (%v), want bad_topic", ReasonOf(err), err)
				}
				if id != "" || stream != "" {
					t.Errorf("rejection returned %q %q", id, stream)
				}
				return
			}
			if err != nil {
				t.Fatalf("rejected: %v", err)
			}
			if id != tc.id || stream != tc.stream {
				t.Errorf("got %q %q, want %q %q", id, stream, tc.id, tc.stream)
			}
		})
	}
}

func BenchmarkDecode(b *testing.B) {
	for _, bc := range []struct {
		name    string
		kind    registry.DeviceKind
		stream  rules.Stream
		payload string
	}{
		{"water", registry.WaterMeter, rules.Telemetry, `{"ts":"2025-06-01T19:00:00+08:00","seq":42,"total_liters":1234.5,"flow_lpm":0.8,"battery_pct":88}`},
		{"motion", registry.MotionSensor, rules.Event, `{"ts":1748775600000,"seq":7,"motion":true,"room":"kitchen"}`},
		{"wristband", registry.Wristband, rules.Event, `{"ts":1748775600000,"event":"fall","lat":31.2304,"lon":121.4737,"accuracy_m":12}`},
	} {
		payload := []byte(bc.payload)
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(payload)))
			for b.Loop() {
				if _, err := Decode(bc.kind, bc.stream, payload, testNow); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkParseTopic(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := ParseTopic("eldersafe/v1", "eldersafe/v1/devices/wm-0001/telemetry"); err != nil {
			b.Fatal(err)
		}
	}
}

// TestWireReset: a wire used again holds nothing of the payload before,
// whatever field wire gains.
func TestWireReset(t *testing.T) {
	var w wire
	v := reflect.ValueOf(&w).Elem()
	for i := range v.NumField() {
		f := v.Field(i)
		if f.Type() != reflect.TypeFor[json.RawMessage]() {
			t.Fatalf("wire.%s is a %s: reset empties json.RawMessage fields", v.Type().Field(i).Name, f.Type())
		}
		f.SetBytes([]byte(`"left over"`))
	}
	w.reset()
	for i := range v.NumField() {
		if f := v.Field(i); f.Len() != 0 {
			t.Errorf("wire.%s after reset: %s", v.Type().Field(i).Name, f.Bytes())
		}
	}
}

// A field one payload has and the next leaves out is absent from the next.
func TestDecodeForgetsThePayloadBefore(t *testing.T) {
	for range 3 {
		if _, err := Decode(registry.WaterMeter, rules.Telemetry, []byte(`{"ts":1748775600000,"total_liters":10,"flow_lpm":2.5,"battery_pct":50}`), testNow); err != nil {
			t.Fatal(err)
		}
		m, err := Decode(registry.WaterMeter, rules.Telemetry, []byte(`{"ts":1748775660000,"total_liters":11}`), testNow)
		if err != nil {
			t.Fatal(err)
		}
		if r := m.Reading; r.FlowLPM != nil || r.BatteryPct != nil || *r.TotalLiters != 11 {
			t.Fatalf("second reading: flow %v, battery %v, total %v; want none, none, 11", r.FlowLPM, r.BatteryPct, *r.TotalLiters)
		}
	}
}
