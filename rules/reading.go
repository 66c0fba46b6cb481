package rules

import (
	"time"

	"github.com/eldersafe/eldersafe/registry"
)

// Stream is the MQTT stream a reading came on.
type Stream string

const (
	Telemetry Stream = "telemetry"
	Event     Stream = "event"
	Status    Stream = "status"
)

// Wristband events.
const (
	EventFall = "fall"
	EventSOS  = "sos"
	// EventOK answers a check the monitor sent the wristband (CONTRACT.md
	// §12): the resident pressed "I am fine". It carries the check's id.
	EventOK = "ok"
)

// Reading is one validated device message, already tied to its household.
// Optional fields are pointers: absent is not the same as zero.
type Reading struct {
	DeviceID    string
	HouseholdID string
	Kind        registry.DeviceKind
	Stream      Stream
	// TS is the event time the device stamped on the message.
	TS time.Time

	TotalLiters *float64 // water_meter telemetry
	FlowLPM     *float64
	Motion      *bool // motion_sensor event
	Room        string
	Open        *bool  // door_sensor event
	Event       string // wristband event: fall, sos or ok
	CheckID     string // wristband ok: the check it answers
	Lat         *float64
	Lon         *float64
	AccuracyM   *float64
	BatteryPct  *float64 // any telemetry
	Worn        *bool
	HeartRate   *float64
	TotalKWh    *float64 // power_meter telemetry
	PowerW      *float64
	Online      *bool // status
}

// Alarm reports whether r is a fall or an SOS.
func (r Reading) Alarm() bool { return r.Event == EventFall || r.Event == EventSOS }
