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

// Life is a span of a resident's everyday life that is no incident but
// decides how a check of the monitor's would be answered (docs/trust.md):
// away from home, at the family's, the wristband left on its charger, a
// visitor in.
type Life struct {
	HouseholdID string    `json:"household_id"`
	Kind        string    `json:"kind"`
	Start       time.Time `json:"start"`
	End         time.Time `json:"end"`
}

// Kinds of Life.
const (
	// LifeOut: a day out, a trip; nobody at home knows where.
	LifeOut = "out"
	// LifeWithFamily: a weekend or more at the children's (or a hospital
	// stay nobody told the office of, which the family knows of).
	LifeWithFamily = "with_family"
	// LifeAwayTold: an away period the office was told of.
	LifeAwayTold = "away_told"
	LifeBandOff  = "band_off"
	LifeVisitor  = "visitor"
)

// withFamilyAfter tells a stay with family from a day out: a day out
// lasts 8 to 12 hours, a weekend away 30 or more (population.go).
const withFamilyAfter = 24 * 3600

// Lives lists every span of everyday life of every household, by household
// and time.
func (w *World) Lives() []Life {
	var out []Life
	for _, h := range w.households {
		for _, in := range h.incidents {
			end := in.until
			if end == 0 || end > w.end {
				end = w.end
			}
			var kind string
			switch in.action {
			case ActionLeaves:
				kind = LifeOut
				if end-in.at >= withFamilyAfter {
					kind = LifeWithFamily
				}
			case ActionHospital:
				kind = LifeAwayTold
			case ActionBandOff:
				kind = LifeBandOff
			case ActionVisitor:
				kind = LifeVisitor
			default:
				continue
			}
			out = append(out, Life{HouseholdID: h.fullID, Kind: kind,
				Start: time.Unix(in.at, 0).In(w.sc.Location), End: time.Unix(end, 0).In(w.sc.Location)})
		}
	}
	return out
}
