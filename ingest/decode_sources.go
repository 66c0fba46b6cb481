package ingest

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"time"

	"github.com/eldersafe/eldersafe/clock"
	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
)

// DecodeSource validates a payload in a source's own format (CONTRACT.md
// §14) from a device of kind, into the same Message as Decode, with the same
// reasons. loc is the household's zone, in which a Tasmota Time without
// offset is read; now bounds ts as in Decode.
//
// Sources number no messages: Seq is a fingerprint of the payload instead,
// so that a duplicate is a byte-for-byte copy stamped with the same time
// (what a broker's redelivery or a gateway's resent buffer is), never two
// different reports within one millisecond.
func DecodeSource(src registry.Source, kind registry.DeviceKind, payload []byte, loc *time.Location, now time.Time) (Message, error) {
	if err := jsonObject(payload); err != nil {
		return Message{}, err
	}
	m := Message{Reading: rules.Reading{Kind: kind, Stream: rules.Telemetry}}
	var err error
	switch src {
	case registry.SourceZigbee2MQTT:
		err = decodeZigbee(payload, &m.Reading)
	case registry.SourceTasmota:
		err = decodeTasmota(payload, &m.Reading, loc)
	case registry.SourceWmbusmeters:
		err = decodeWmbus(payload, &m.Reading)
	default:
		err = reject(ReasonInvalid, "source %q: unknown", src)
	}
	if err != nil {
		return Message{}, err
	}
	if err := notFuture(m.Reading.TS, now); err != nil {
		return Message{}, err
	}
	h := fnv.New64a()
	h.Write(payload)
	m.Seq, m.HasSeq = h.Sum64(), true
	return m, nil
}

// unmarshal decodes a valid JSON object into a struct of raw fields: only
// a malformed document can fail.
func unmarshal(payload []byte, w any) error {
	if err := json.Unmarshal(payload, w); err != nil {
		return &RejectError{Reason: ReasonBadJSON, Err: fmt.Errorf("payload: %w", err)}
	}
	return nil
}

// zigbeeWire is what eldersafe reads of a Zigbee2MQTT device message: the
// device's state as its converter exposes it (zigbee-herdsman-converters),
// and last_seen, which Zigbee2MQTT adds when advanced.last_seen is set.
type zigbeeWire struct {
	LastSeen  json.RawMessage `json:"last_seen"`
	Battery   json.RawMessage `json:"battery"`
	Occupancy json.RawMessage `json:"occupancy"`
	Contact   json.RawMessage `json:"contact"`
	WaterLeak json.RawMessage `json:"water_leak"`
	Action    json.RawMessage `json:"action"`
}

// zigbeeSOS are the actions of SOS and panic buttons: "emergency" (Tuya
// TS0215A_sos, Heiman HS1RC-N), "sos" (Immax, Daewoo alarm remotes).
var zigbeeSOS = map[string]bool{"emergency": true, rules.EventSOS: true}

func decodeZigbee(payload []byte, r *rules.Reading) error {
	var w zigbeeWire
	if err := unmarshal(payload, &w); err != nil {
		return err
	}
	if absent(w.LastSeen) {
		return reject(ReasonInvalid, "last_seen: required: set advanced.last_seen to ISO_8601, ISO_8601_local or epoch in Zigbee2MQTT's configuration")
	}
	ts, err := clock.ParseTS(w.LastSeen)
	if err != nil {
		return reject(ReasonInvalid, "last_seen: %w", err)
	}
	r.TS = ts
	var f fields
	r.BatteryPct = f.number("battery", w.Battery, optional, 0, 100)
	switch r.Kind {
	case registry.MotionSensor:
		r.Motion = f.boolean("occupancy", w.Occupancy, optional)
		if r.Motion != nil {
			r.Stream = rules.Event
		}
	case registry.DoorSensor:
		// contact: true is a closed magnet, false an open door.
		if contact := f.boolean("contact", w.Contact, optional); contact != nil {
			r.Open, r.Stream = new(!*contact), rules.Event
		}
	case registry.Wristband:
		// SOS buttons and leak sensors; any other action (a single press of
		// a scene button) is a sign of life only.
		leak := f.boolean("water_leak", w.WaterLeak, optional)
		action := f.str("action", w.Action, optional)
		if leak != nil && *leak || zigbeeSOS[action] {
			r.Event, r.Stream = rules.EventSOS, rules.Event
		}
	default:
		return reject(ReasonInvalid, "zigbee2mqtt reports no %s", r.Kind)
	}
	return f.err
}

// tasmotaWire is a Tasmota tele/{topic}/SENSOR message: Time, and the ENERGY
// object of an energy monitoring plug (xdrv_03_energy.ino).
type tasmotaWire struct {
	Time   json.RawMessage `json:"Time"`
	Energy json.RawMessage `json:"ENERGY"`
}

type tasmotaEnergy struct {
	Total json.RawMessage `json:"Total"`
	Power json.RawMessage `json:"Power"`
}

// tasmotaLocal is Tasmota's Time without SetOption52: local time, no offset.
const tasmotaLocal = "2006-01-02T15:04:05"

func decodeTasmota(payload []byte, r *rules.Reading, loc *time.Location) error {
	if r.Kind != registry.PowerMeter {
		return reject(ReasonInvalid, "tasmota reports no %s", r.Kind)
	}
	var w tasmotaWire
	if err := unmarshal(payload, &w); err != nil {
		return err
	}
	var f fields
	timeStr := f.str("Time", w.Time, required)
	if f.err != nil {
		return f.err
	}
	// SetOption52 appends the offset; without it the time is the device's
	// local time, which is the household's.
	ts, err := time.Parse(time.RFC3339, timeStr)
	if err != nil {
		ts, err = time.ParseInLocation(tasmotaLocal, timeStr, loc)
	}
	if err != nil {
		return reject(ReasonInvalid, "Time %q: want %s, local time, or RFC 3339 with offset", timeStr, tasmotaLocal)
	}
	if err := clock.CheckTS(ts); err != nil {
		return reject(ReasonInvalid, "Time %q: %w", timeStr, err)
	}
	r.TS = ts.UTC()
	if !f.present("ENERGY", w.Energy, required) {
		return f.err
	}
	if w.Energy[0] != '{' {
		return reject(ReasonInvalid, "ENERGY: must be an object, got %s", jsonType(w.Energy))
	}
	var e tasmotaEnergy
	if err := unmarshal(w.Energy, &e); err != nil {
		return err
	}
	r.TotalKWh = f.channels("ENERGY.Total", e.Total, required, 0, math.Inf(1))
	r.PowerW = f.channels("ENERGY.Power", e.Power, optional, math.Inf(-1), math.Inf(1))
	return f.err
}

// channels reads a Tasmota energy value: one number, or one per channel of
// a multi-channel meter ([12,0]; Total too with SetOption129), summed for
// the whole home.
func (f *fields) channels(name string, raw json.RawMessage, p presence, min, max float64) *float64 {
	if !f.present(name, raw, p) {
		return nil
	}
	if raw[0] != '[' {
		return f.number(name, raw, p, min, max)
	}
	var values []json.RawMessage
	if err := json.Unmarshal(raw, &values); err != nil || len(values) == 0 {
		f.fail("%s: want a number or a non-empty array of numbers", name)
		return nil
	}
	sum := 0.0
	for i, v := range values {
		n := f.number(fmt.Sprintf("%s[%d]", name, i), v, required, min, max)
		if n == nil {
			return nil
		}
		sum += *n
	}
	if math.IsInf(sum, 0) {
		f.fail("%s: the channels' sum is not finite", name)
		return nil
	}
	return &sum
}

// wmbusWire is what eldersafe reads of a wmbusmeters JSON telegram: the
// water register in m³, and the time wmbusmeters received it (UTC).
type wmbusWire struct {
	Timestamp json.RawMessage `json:"timestamp"`
	TotalM3   json.RawMessage `json:"total_m3"`
}

func decodeWmbus(payload []byte, r *rules.Reading) error {
	if r.Kind != registry.WaterMeter {
		return reject(ReasonInvalid, "wmbusmeters reports no %s", r.Kind)
	}
	var w wmbusWire
	if err := unmarshal(payload, &w); err != nil {
		return err
	}
	ts, err := clock.ParseTS(w.Timestamp)
	if err != nil {
		return reject(ReasonInvalid, "timestamp: %w", err)
	}
	r.TS = ts
	var f fields
	if m3 := f.number("total_m3", w.TotalM3, required, 0, math.Inf(1)); m3 != nil {
		// To the millilitre: 123.529 m³ is 123529 L, not 123528.99999999999.
		liters := math.Round(*m3*1e6) / 1e3
		if math.IsInf(liters, 0) {
			f.fail("total_m3: %s is out of range", w.TotalM3)
		}
		r.TotalLiters = &liters
	}
	return f.err
}
