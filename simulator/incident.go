package simulator

import (
	"slices"
	"time"
)

// Actions a scenario's incidents may take.
const (
	ActionFall          = "fall"
	ActionSOS           = "sos"
	ActionImmobile      = "immobile"
	ActionHospital      = "hospital"
	ActionLeaves        = "leaves"
	ActionStaysIn       = "stays_in"
	ActionTapRunning    = "tap_left_running"
	ActionDeviceOffline = "device_offline"
	ActionBatteryDies   = "battery_dies"
	ActionGarbage       = "garbage"
	ActionDuplicates    = "duplicates"
	ActionOutOfOrder    = "out_of_order"
	ActionClockSkew     = "clock_skew"
	ActionSensorStuck   = "sensor_stuck"
	ActionBandOff       = "band_off"
	ActionVisitor       = "visitor"
)

// How an action takes a field.
const (
	no = iota
	optional
	required
)

// actionSpec says which fields an action takes and what it does.
type actionSpec struct {
	name string
	// device and duration say whether the action takes `device` and `for`.
	device, duration int
	// defaultFor is the duration when `for` is optional and left out; zero
	// means until the end of the run.
	defaultFor time.Duration
	// count: whether `count` applies.
	count bool
	doc   string
}

var actions = []actionSpec{
	{name: ActionFall, doc: "the wristband reports a fall (event fall, with the home's position)"},
	{name: ActionSOS, doc: "the resident presses the wristband's SOS button"},
	{name: ActionImmobile, duration: optional,
		doc: "the resident can no longer move: no motion, water or door; appliances off, so power falls to the base load; the wristband stays as it was (worn: it drains)"},
	{name: ActionHospital, duration: required,
		doc: "the resident is taken to hospital: the door opens, the home is empty, the wristband is left on its charger, and an away period is recorded through POST /api/v1/households/{id}/away; back home when `for` ends"},
	{name: ActionLeaves, duration: optional,
		doc: "like hospital, but nobody tells the service: no away period (a trip to family, a resident gone missing)"},
	{name: ActionStaysIn, duration: optional,
		doc: "the resident stops going out (a cold, bad weather) but otherwise lives as usual"},
	{name: ActionTapRunning, duration: optional, defaultFor: 3 * time.Hour,
		doc: "a tap is left running at 6 L/min"},
	{name: ActionDeviceOffline, device: required, duration: optional,
		doc: "the device stops sending (unplugged, out of range); it comes back when `for` ends"},
	{name: ActionBatteryDies, device: required,
		doc: "the device's battery fails: it drains at 6 % an hour whatever else happens, reports the falling level, and the device goes silent at 0 %"},
	{name: ActionGarbage, device: optional, duration: optional, defaultFor: time.Hour, count: true,
		doc: "the device (by default each device in turn) sends `count` (default 10) malformed messages spread over `for`: not JSON, truncated JSON, wrong types, a bad ts, an oversized payload, an unknown stream"},
	{name: ActionDuplicates, device: optional, duration: optional, defaultFor: 2 * time.Hour,
		doc: "every message of the household (or of `device`) is sent twice with the same seq, as a QoS 1 redelivery would"},
	{name: ActionOutOfOrder, device: optional, duration: optional, defaultFor: 30 * time.Minute,
		doc: "a gateway buffers the household's (or `device`'s) messages for `for` and then releases them shuffled, each with its own ts"},
	{name: ActionSensorStuck, device: required, duration: optional,
		doc: "the device keeps its heartbeat but senses nothing: a PIR or the door sends no events, a meter repeats its last register; when `for` ends it reads true again"},
	{name: ActionBandOff, duration: optional, defaultFor: 12 * time.Hour,
		doc: "the wristband is left on its charger: not worn, and a fall or SOS meanwhile reports nothing; worn again when the resident next gets up after `for`"},
	{name: ActionVisitor, duration: optional, defaultFor: 2 * time.Hour,
		doc: "someone visits: the door, the hall, motion in the living room while they stay, the door again as they leave; the resident's routine goes on"},
	{name: ActionClockSkew, device: required, duration: optional, defaultFor: time.Hour,
		doc: "the device's clock jumps a year ahead: its messages carry a far-future ts (the monitor rejects them as future_ts)"},
}

func actionByName(name string) (actionSpec, bool) {
	i := slices.IndexFunc(actions, func(a actionSpec) bool { return a.name == name })
	if i < 0 {
		return actionSpec{}, false
	}
	return actions[i], true
}

// ActionNames lists every action.
func ActionNames() []string {
	names := make([]string, len(actions))
	for i, a := range actions {
		names[i] = a.name
	}
	return names
}

// skew is how far ahead a clock_skew device stamps its messages: beyond the
// monitor's 7-day bound, so that they are refused, never believed.
const skew = 365 * 24 * 3600

// tapFlow is a tap left half open, in litres per minute.
const tapFlow = 6.0

// incident is an Incident resolved for one household.
type incident struct {
	at     int64
	until  int64 // 0: to the end of the run
	action string
	dev    int // -1: none given
	count  int
	// truth is what the incident is in the ground truth (Truth.Kind), or
	// empty when it is nothing the monitor should act on (a wristband
	// dropped on the floor reports a fall that is none).
	truth string
}

// truthOf is what a scripted incident is in the ground truth: what befalls
// the resident is an incident to visit, what befalls a device a fault to
// mend, and bad input or a life as usual nothing at all.
func truthOf(action string) string {
	switch action {
	case ActionFall, ActionSOS, ActionImmobile, ActionTapRunning, ActionDeviceOffline, ActionBatteryDies:
		return action
	}
	return ""
}
