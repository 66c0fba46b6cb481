package registry

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Signals a resident's privacy settings govern: what the home's devices tell
// about their life.
const (
	SignalWater    = "water"
	SignalPower    = "power"
	SignalMotion   = "motion"
	SignalDoor     = "door"
	SignalLocation = "location" // the wristband's precise position
	SignalHealth   = "health"   // the wristband: heart rate, worn, fall and SOS
)

// LocationKeys are the values, in evidence, device status and timelines, that
// say precisely where someone is: what SignalLocation withholds.
var LocationKeys = []string{"lat", "lon", "accuracy_m"}

// Signals lists every signal, in the order they are shown.
var Signals = []string{SignalWater, SignalPower, SignalMotion, SignalDoor, SignalLocation, SignalHealth}

// Audiences a signal may be shown to.
const (
	// AudienceWorker is the community office: grid workers, supervisors and operators.
	AudienceWorker = "worker"
	// AudienceFamily is the resident's relatives: family users and contacts.
	AudienceFamily = "family"
)

// Audiences lists every audience.
var Audiences = []string{AudienceWorker, AudienceFamily}

// Privacy is a resident's word on who may see each signal: signal → audiences.
// A signal left out takes its default (DefaultPrivacy); an empty list shows it
// to nobody.
type Privacy map[string][]string

// DefaultPrivacy is what applies until a resident says otherwise: the
// community office sees every signal; the family sees how the home is doing
// (water, power, motion, door, health: they are told of falls) but not where
// the resident is.
func DefaultPrivacy() Privacy {
	return Privacy{
		SignalWater:    {AudienceWorker, AudienceFamily},
		SignalPower:    {AudienceWorker, AudienceFamily},
		SignalMotion:   {AudienceWorker, AudienceFamily},
		SignalDoor:     {AudienceWorker, AudienceFamily},
		SignalLocation: {AudienceWorker},
		SignalHealth:   {AudienceWorker, AudienceFamily},
	}
}

// Validate names every unknown signal and audience.
func (p Privacy) Validate() error {
	var errs []error
	for _, sig := range slices.Sorted(maps.Keys(p)) {
		if !slices.Contains(Signals, sig) {
			errs = append(errs, fmt.Errorf("privacy: unknown signal %s (known: %s)", quote(sig), strings.Join(Signals, ", ")))
			continue
		}
		if err := checkCount("privacy."+sig, len(p[sig]), len(Audiences)); err != nil {
			errs = append(errs, err)
			continue
		}
		for _, aud := range p[sig] {
			if !slices.Contains(Audiences, aud) {
				errs = append(errs, fmt.Errorf("privacy.%s: unknown audience %s (known: %s)", sig, quote(aud), strings.Join(Audiences, ", ")))
			}
		}
	}
	return errors.Join(errs...)
}

// Effective is every signal with its audiences, defaults filled in, each
// list sorted and without repeats, never nil.
func (p Privacy) Effective() Privacy {
	out := DefaultPrivacy()
	for sig, auds := range p {
		if _, known := out[sig]; !known {
			continue
		}
		list := []string{}
		for _, a := range Audiences {
			if slices.Contains(auds, a) {
				list = append(list, a)
			}
		}
		out[sig] = list
	}
	return out
}

// Visible reports whether audience may see signal. An unknown signal is
// visible to nobody.
func (p Privacy) Visible(signal, audience string) bool {
	if auds, ok := p[signal]; ok {
		return slices.Contains(auds, audience)
	}
	return slices.Contains(DefaultPrivacy()[signal], audience)
}

// KindSignal is the signal a device of kind k reports.
func KindSignal(k DeviceKind) string {
	switch k {
	case WaterMeter:
		return SignalWater
	case PowerMeter:
		return SignalPower
	case MotionSensor:
		return SignalMotion
	case DoorSensor:
		return SignalDoor
	case Wristband:
		return SignalHealth
	}
	return ""
}
