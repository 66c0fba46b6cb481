package rules

import (
	"math"
	"strconv"
	"time"
)

// DeviceStatus is what a device last said, for people looking at a household.
type DeviceStatus struct {
	DeviceID string `json:"device_id"`
	// LastSeen is the event time of the newest message applied.
	LastSeen   time.Time `json:"last_seen"`
	Online     bool      `json:"online"`
	BatteryPct *float64  `json:"battery_pct,omitempty"`
	// Last holds the newest values the device reported, by payload field name.
	Last map[string]any `json:"last,omitempty"`
}

// Status reports what each device of a household last said, as of now.
func (e *Engine) Status(householdID string, now time.Time) []DeviceStatus {
	global := e.cfg.Load()
	s := e.shard(householdID)
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.households[householdID]
	if h == nil {
		return nil
	}
	cfg := h.config(global)
	out := make([]DeviceStatus, 0, len(h.devices))
	for i := range h.devices {
		d := &h.devices[i]
		st := DeviceStatus{DeviceID: d.id, Online: d.online(now.UnixNano(), cfg)}
		if d.lastSeen != 0 {
			st.LastSeen = time.Unix(0, d.lastSeen).UTC()
		}
		if !math.IsNaN(float64(d.battery)) {
			b := widen(d.battery)
			st.BatteryPct = &b
		}
		st.Last = d.values()
		out = append(out, st)
	}
	return out
}

// valueNames are the payload fields behind a device's a, b and bool, by kind.
var valueNames = map[kind][3]string{
	waterMeter:   {"total_liters", "flow_lpm", ""},
	powerMeter:   {"total_kwh", "power_w", ""},
	wristband:    {"heart_rate", "", "worn"},
	motionSensor: {"", "", "motion"},
	doorSensor:   {"", "", "open"},
}

// values names what the device last reported by its payload fields.
func (d *device) values() map[string]any {
	names := valueNames[d.kind]
	m := make(map[string]any, 3)
	if d.flags&hasA != 0 && names[0] != "" {
		m[names[0]] = d.a
	}
	if d.flags&hasB != 0 && names[1] != "" {
		m[names[1]] = d.b
	}
	if d.flags&hasBool != 0 && names[2] != "" {
		m[names[2]] = d.flags&boolValue != 0
	}
	if room := d.roomName(); room != "" {
		m["room"] = room
	}
	if len(m) == 0 {
		return nil
	}
	return m
}

// widen is f as the float64 its shortest decimal reads as: a battery at
// 87.3 % shows 87.3, not 87.30000305175781.
func widen(f float32) float64 {
	v, _ := strconv.ParseFloat(strconv.FormatFloat(float64(f), 'g', -1, 32), 64)
	return v
}
