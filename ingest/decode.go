// Package ingest turns device MQTT messages into rules.Readings: it parses topics,
// decodes and validates payloads against the device contract (CONTRACT.md §2),
// or in the formats of off-the-shelf devices (§14), and spots repeated seqs. It does no I/O: the MQTT client, registry lookups, metrics
// and logging belong to the caller.
package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/eldersafe/eldersafe/clock"
	"github.com/eldersafe/eldersafe/jsonstr"
	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
)

// Reason says why a message was dropped. It is the reason label of
// eldersafe_ingest_rejected_total, so its values are part of the contract.
type Reason string

const (
	ReasonBadTopic      Reason = "bad_topic"
	ReasonUnknownDevice Reason = "unknown_device"
	ReasonBadJSON       Reason = "bad_json"
	ReasonInvalid       Reason = "invalid"
	ReasonTooLarge      Reason = "too_large"
	ReasonFutureTS      Reason = "future_ts"
	ReasonDuplicate     Reason = "duplicate"
)

// Reasons lists every Reason, so each label value can be exported at zero before
// the first rejection.
var Reasons = []Reason{
	ReasonBadTopic, ReasonUnknownDevice, ReasonBadJSON, ReasonInvalid,
	ReasonTooLarge, ReasonFutureTS, ReasonDuplicate,
}

// RejectError is a message dropped for Reason; Err says what exactly was wrong.
type RejectError struct {
	Reason Reason
	Err    error
}

func (e *RejectError) Error() string {
	if e.Err == nil {
		return string(e.Reason)
	}
	return string(e.Reason) + ": " + e.Err.Error()
}

func (e *RejectError) Unwrap() error { return e.Err }

// ReasonOf returns the Reason of the first *RejectError in err's tree, or "" when
// there is none.
func ReasonOf(err error) Reason {
	if re, ok := errors.AsType[*RejectError](err); ok {
		return re.Reason
	}
	return ""
}

func reject(reason Reason, format string, args ...any) error {
	return &RejectError{Reason: reason, Err: fmt.Errorf(format, args...)}
}

// MaxPayload is the largest payload accepted, in bytes (4 KiB).
const MaxPayload = 4096

const devicesPath = "/devices/"

// ParseTopic splits a device topic, {prefix}/devices/{device_id}/{stream}, where
// prefix has no trailing slash (e.g. "eldersafe/v1"). Anything else, including a
// device id that registry.ValidateID refuses, is rejected as ReasonBadTopic.
func ParseTopic(prefix, topic string) (deviceID string, stream rules.Stream, err error) {
	rest, ok := strings.CutPrefix(topic, prefix)
	if ok {
		rest, ok = strings.CutPrefix(rest, devicesPath)
	}
	if !ok {
		return "", "", reject(ReasonBadTopic, "topic %q: not under %s%s", topic, prefix, devicesPath)
	}
	id, s, ok := strings.Cut(rest, "/")
	if !ok {
		return "", "", reject(ReasonBadTopic, "topic %q: want %s%s{device_id}/{stream}", topic, prefix, devicesPath)
	}
	if err := registry.ValidateID("device id", id); err != nil {
		return "", "", &RejectError{Reason: ReasonBadTopic, Err: fmt.Errorf("topic %q: %w", topic, err)}
	}
	switch st := rules.Stream(s); st {
	case rules.Telemetry, rules.Event, rules.Status:
		return id, st, nil
	}
	return "", "", reject(ReasonBadTopic, "topic %q: stream %q: must be telemetry, event or status", topic, s)
}

// Message is a decoded payload: the reading plus the device's optional sequence
// number, which only deduplication needs.
type Message struct {
	// Reading has Kind, Stream, TS (UTC) and the payload's fields filled in;
	// DeviceID and HouseholdID are the caller's to set.
	Reading rules.Reading
	// Seq is the payload's seq, or for a source, which numbers nothing, a
	// fingerprint of the payload (DecodeSource).
	Seq    uint64
	HasSeq bool
}

// wire is a payload as sent. Fields stay raw so that each one's JSON type is
// checked only for the kinds and streams that carry it: a field that does not
// belong to the message is ignored like any unknown field, so devices can add
// fields without breaking older monitors.
type wire struct {
	TS          json.RawMessage `json:"ts"`
	Seq         json.RawMessage `json:"seq"`
	TotalLiters json.RawMessage `json:"total_liters"`
	FlowLPM     json.RawMessage `json:"flow_lpm"`
	Motion      json.RawMessage `json:"motion"`
	Room        json.RawMessage `json:"room"`
	Open        json.RawMessage `json:"open"`
	Event       json.RawMessage `json:"event"`
	CheckID     json.RawMessage `json:"check_id"`
	Lat         json.RawMessage `json:"lat"`
	Lon         json.RawMessage `json:"lon"`
	AccuracyM   json.RawMessage `json:"accuracy_m"`
	BatteryPct  json.RawMessage `json:"battery_pct"`
	Worn        json.RawMessage `json:"worn"`
	HeartRate   json.RawMessage `json:"heart_rate"`
	TotalKWh    json.RawMessage `json:"total_kwh"`
	PowerW      json.RawMessage `json:"power_w"`
	Online      json.RawMessage `json:"online"`
}

// wires are Decode's wires, used again: a new one and its fields' bytes
// were 600 of the 944 bytes a water reading's decoding allocated, the most
// a message allocated once the broker's own were gone (docs/performance.md,
// "Thirty-ninth round").
var wires = sync.Pool{New: func() any { return new(wire) }}

// reset empties every field, keeping its bytes' room for the next payload:
// a field the next one leaves out is absent, not this one's.
// TestWireReset holds it to every field of wire.
func (w *wire) reset() {
	for _, f := range [...]*json.RawMessage{
		&w.TS, &w.Seq, &w.TotalLiters, &w.FlowLPM, &w.Motion, &w.Room, &w.Open, &w.Event, &w.CheckID,
		&w.Lat, &w.Lon, &w.AccuracyM, &w.BatteryPct, &w.Worn, &w.HeartRate, &w.TotalKWh, &w.PowerW, &w.Online,
	} {
		*f = (*f)[:0]
	}
}

// Decode validates a payload that a device of kind sent on stream, against the
// field table of CONTRACT.md §2. now bounds ts from above (at most clock.MaxFuture
// ahead); a zero now, as under an event clock that has seen no ts yet, skips that
// bound. A null field counts as absent. Every error is a *RejectError.
func Decode(kind registry.DeviceKind, stream rules.Stream, payload []byte, now time.Time) (Message, error) {
	if err := jsonObject(payload); err != nil {
		return Message{}, err
	}
	w := wires.Get().(*wire)
	defer func() {
		w.reset()
		wires.Put(w)
	}()
	if err := json.Unmarshal(payload, w); err != nil {
		return Message{}, &RejectError{Reason: ReasonBadJSON, Err: fmt.Errorf("payload: %w", err)}
	}
	if !kind.Valid() {
		return Message{}, reject(ReasonInvalid, "device kind %q: unknown", kind)
	}

	m := Message{Reading: rules.Reading{Kind: kind, Stream: stream}}
	ts, err := ParseTS(w.TS)
	if err != nil {
		return Message{}, err
	}
	m.Reading.TS = ts
	if !absent(w.Seq) {
		seq, err := strconv.ParseUint(string(w.Seq), 10, 64)
		if err != nil {
			return Message{}, reject(ReasonInvalid, "seq: must be an unsigned 64-bit integer, got %s", w.Seq)
		}
		m.Seq, m.HasSeq = seq, true
	}
	if err := decodeFields(w, &m.Reading); err != nil {
		return Message{}, err
	}
	// Last, so a message that is wrong in several ways counts as invalid: that is
	// a firmware bug, future_ts a clock problem.
	if err := notFuture(ts, now); err != nil {
		return Message{}, err
	}
	return m, nil
}

// jsonObject checks what every payload must be before its fields are read:
// at most MaxPayload bytes of UTF-8 holding one JSON object.
func jsonObject(payload []byte) error {
	if len(payload) > MaxPayload {
		return reject(ReasonTooLarge, "payload is %d bytes, limit %d", len(payload), MaxPayload)
	}
	// encoding/json would silently replace invalid UTF-8 in strings.
	if !utf8.Valid(payload) {
		return reject(ReasonBadJSON, "payload is not valid UTF-8")
	}
	// encoding/json leaves a struct untouched for a top-level null.
	if trimmed := bytes.TrimLeft(payload, " \t\r\n"); len(trimmed) == 0 || trimmed[0] != '{' {
		return reject(ReasonBadJSON, "payload is not a JSON object")
	}
	return nil
}

// notFuture rejects a ts more than clock.MaxFuture after now; a zero now,
// as under an event clock that has seen no ts yet, bounds nothing.
func notFuture(ts, now time.Time) error {
	if !now.IsZero() && ts.After(now.Add(clock.MaxFuture)) {
		return reject(ReasonFutureTS, "ts %s is more than 7 days after now (%s)",
			ts.Format(time.RFC3339Nano), now.UTC().Format(time.RFC3339Nano))
	}
	return nil
}

// ParseTS reads a payload's ts (clock.ParseTS); a missing or malformed one
// is rejected as invalid.
func ParseTS(raw json.RawMessage) (time.Time, error) {
	t, err := clock.ParseTS(raw)
	if err != nil {
		return time.Time{}, &RejectError{Reason: ReasonInvalid, Err: err}
	}
	return t, nil
}

// decodeFields fills r's payload fields for its kind and stream.
func decodeFields(w *wire, r *rules.Reading) error {
	var f fields
	switch r.Stream {
	case rules.Status:
		r.Online = f.boolean("online", w.Online, required)
	case rules.Telemetry:
		// Every kind may report its battery; for event-only sensors this alone is
		// the hourly heartbeat.
		r.BatteryPct = f.number("battery_pct", w.BatteryPct, optional, 0, 100)
		switch r.Kind {
		case registry.WaterMeter:
			r.TotalLiters = f.number("total_liters", w.TotalLiters, required, 0, math.Inf(1))
			r.FlowLPM = f.number("flow_lpm", w.FlowLPM, optional, 0, math.Inf(1))
		case registry.Wristband:
			r.Worn = f.boolean("worn", w.Worn, optional)
			r.HeartRate = f.number("heart_rate", w.HeartRate, optional, 0, 300)
		case registry.PowerMeter:
			r.TotalKWh = f.number("total_kwh", w.TotalKWh, required, 0, math.Inf(1))
			// Unbounded below: a home with solar panels can export power.
			r.PowerW = f.number("power_w", w.PowerW, optional, math.Inf(-1), math.Inf(1))
		}
	case rules.Event:
		switch r.Kind {
		case registry.MotionSensor:
			r.Motion = f.boolean("motion", w.Motion, required)
			r.Room = f.str("room", w.Room, optional)
		case registry.DoorSensor:
			r.Open = f.boolean("open", w.Open, required)
		case registry.Wristband:
			r.Event = f.str("event", w.Event, required)
			if f.err == nil && r.Event != rules.EventFall && r.Event != rules.EventSOS && r.Event != rules.EventOK {
				f.fail("event %q: must be %q, %q or %q", r.Event, rules.EventFall, rules.EventSOS, rules.EventOK)
			}
			if r.Event == rules.EventOK {
				r.CheckID = f.str("check_id", w.CheckID, required)
				if f.err == nil && (len(r.CheckID) > maxCheckID || strings.TrimSpace(r.CheckID) == "") {
					f.fail("check_id: 1 to %d bytes", maxCheckID)
				}
			}
			r.Lat = f.number("lat", w.Lat, optional, -90, 90)
			r.Lon = f.number("lon", w.Lon, optional, -180, 180)
			r.AccuracyM = f.number("accuracy_m", w.AccuracyM, optional, 0, math.Inf(1))
		default:
			return reject(ReasonInvalid, "%s devices send no event messages", r.Kind)
		}
	default:
		return reject(ReasonInvalid, "stream %q: must be telemetry, event or status", r.Stream)
	}
	return f.err
}

// maxCheckID bounds a check's id as a wristband echoes it: the monitor's
// are task ids (UUIDs, 36 bytes).
const maxCheckID = 64

type presence bool

const (
	optional presence = false
	required presence = true
)

// fields decodes payload fields, keeping the first error so that decodeFields
// reads as the contract's table rather than as a run of error checks.
type fields struct{ err error }

func (f *fields) fail(format string, args ...any) {
	if f.err == nil {
		f.err = reject(ReasonInvalid, format, args...)
	}
}

// present reports whether raw holds a value, failing when a required one is absent.
func (f *fields) present(name string, raw json.RawMessage, p presence) bool {
	if f.err != nil {
		return false
	}
	if absent(raw) {
		if p == required {
			f.fail("%s: required", name)
		}
		return false
	}
	return true
}

func (f *fields) number(name string, raw json.RawMessage, p presence, min, max float64) *float64 {
	if !f.present(name, raw, p) {
		return nil
	}
	if !isNumber(raw) {
		f.fail("%s: must be a number, got %s", name, jsonType(raw))
		return nil
	}
	v, err := strconv.ParseFloat(string(raw), 64)
	if err != nil { // only a range error can remain: the JSON is valid
		f.fail("%s: %s is not a finite number", name, raw)
		return nil
	}
	if v < min || v > max {
		f.fail("%s: %s is out of range [%g, %g]", name, raw, min, max)
		return nil
	}
	return &v
}

func (f *fields) boolean(name string, raw json.RawMessage, p presence) *bool {
	if !f.present(name, raw, p) {
		return nil
	}
	var v bool
	switch string(raw) {
	case "true":
		v = true
	case "false":
	default:
		f.fail("%s: must be a boolean, got %s", name, jsonType(raw))
		return nil
	}
	return &v
}

func (f *fields) str(name string, raw json.RawMessage, p presence) string {
	if !f.present(name, raw, p) {
		return ""
	}
	if raw[0] != '"' {
		f.fail("%s: must be a string, got %s", name, jsonType(raw))
		return ""
	}
	s, err := jsonstr.Unquote(raw)
	if err != nil {
		f.fail("%s: %w", name, err)
		return ""
	}
	return s
}

// absent reports whether a field was left out or sent as null.
func absent(raw json.RawMessage) bool {
	return len(raw) == 0 || string(raw) == "null"
}

func isNumber(raw json.RawMessage) bool {
	return len(raw) > 0 && (raw[0] == '-' || '0' <= raw[0] && raw[0] <= '9')
}

// jsonType names a valid, non-null JSON value's type for error messages.
func jsonType(raw json.RawMessage) string {
	switch raw[0] {
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case '{':
		return "object"
	case '[':
		return "array"
	}
	return "number"
}
