package rules

import "time"

// DeviceStatus is what the engine last heard from one device.
type DeviceStatus struct {
	DeviceID string `json:"device_id"`
	// LastSeen is the event time of the newest message applied.
	LastSeen   time.Time `json:"last_seen"`
	Online     bool      `json:"online"`
	BatteryPct *float64  `json:"battery_pct,omitempty"`
	// Last holds the newest values the device reported, by payload field name.
	Last map[string]any `json:"last,omitempty"`
}
