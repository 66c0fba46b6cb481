package simulator

import (
	"slices"
	"time"
)

// Truth is what really happened in a household, for measuring the monitor:
// an incident someone must go to (a fall, a stroke, a tap left running), or
// a fault of a device someone must mend. What the monitor should not act on
// (a day out, a wristband dropped on the floor) is no Truth.
type Truth struct {
	// HouseholdID is as the monitor knows it.
	HouseholdID string `json:"household_id"`
	// Kind is the action that caused it (fall, immobile, tap_left_running,
	// device_offline, ...) or, in a population, what it stands for
	// (TruthFallUnreported, TruthStroke).
	Kind string `json:"kind"`
	// Visit: someone must go to the resident; else a device needs care.
	Visit bool `json:"visit"`
	// Start and End bound it; a fall that the resident gets up from at once
	// has End == Start.
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// Kinds of truth a population draws besides the scripted actions' own.
const (
	// TruthFallUnreported is a fall the wristband did not report (left on
	// its charger, or it did not notice) that the resident does not get up
	// from: they lie where they fell.
	TruthFallUnreported = "fall_unreported"
	// TruthStroke is immobility after a stroke.
	TruthStroke = "stroke"
)

// faultKinds are the truths of a device, not of the resident.
var faultKinds = []string{ActionDeviceOffline, ActionBatteryDies, ActionSensorStuck}

// Truth lists every incident and fault of the run, by household and then
// time. Call it once the world is made; it does not change as the run goes.
func (w *World) Truth() []Truth {
	var out []Truth
	for _, h := range w.households {
		for _, in := range h.incidents {
			if in.truth == "" {
				continue
			}
			end := in.until
			switch {
			case end == 0 && (in.action == ActionFall || in.action == ActionSOS):
				end = in.at
			case end == 0 || end > w.end:
				end = w.end
			}
			end = max(end, in.at)
			out = append(out, Truth{
				HouseholdID: h.fullID, Kind: in.truth, Visit: !slices.Contains(faultKinds, in.truth),
				Start: time.Unix(in.at, 0).In(w.sc.Location), End: time.Unix(end, 0).In(w.sc.Location),
			})
		}
	}
	return out
}
