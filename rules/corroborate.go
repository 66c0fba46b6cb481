package rules

import (
	"fmt"
	"time"

	"github.com/eldersafe/eldersafe/registry"
)

// corroborate lists the kinds of signal that agree with welfare rule a over
// its span, from base to now: its own sensor's signal first, then each
// independent one that has been as quiet since base (CONTRACT.md §12). A
// welfare alert with more than one is dispatched at once; with one it is
// verified first. Only fresh sensors count: a stale one proves nothing.
//
// The pairs are those that say the resident is at home and not living: no
// water and no motion, no motion and no door opening since the last motion,
// no power and no motion. Nothing corroborates while the resident is
// presumed out (the door opened after the last motion; an alert then comes
// only after outCeiling): a weekend away is quiet on every sensor, and that
// is what verification is for.
//
// Motion agrees only with a quiet that is unusual for the home (unusual_quiet
// or late_wake would fire on it, or before the baseline is learned,
// no_motion): a night's sleep, a Sunday's lie-in, is quiet too, and 12 hours
// without water from a 21:30 wash to a 09:30 lie-in sent a worker at once.
//
// The learned baselines (unusual_quiet, late_wake) are never corroborated:
// they fire on a quiet unusual for the hour, mostly at night or early
// morning, when water and the door are quiet in every home. Counting those
// as agreement sent a worker at once for 7,463 false alarms in a month of
// 1,000 homes (docs/trust.md).
func (a absence) corroborate(h *household, base, now int64, cfg *Config, loc *time.Location) []string {
	signals := []string{registry.KindSignal(a.sensor.name())}
	if h.out() {
		return signals
	}
	motion := func() bool {
		return h.reporting(motionSensor, now, cfg) && h.motionSince != 0 &&
			h.motionSince <= base && h.lastMotion <= base && h.quietUnusual(now, cfg, loc)
	}
	water := func() bool {
		return h.reporting(waterMeter, now, cfg) && h.lastUse != 0 && h.lastUse <= base
	}
	door := func() bool {
		return h.reporting(doorSensor, now, cfg) && h.doorSince != 0 && h.doorSince <= base && h.lastOpen <= base
	}
	var others []kind
	switch a.rule {
	case RuleWaterNoUse, RulePowerNoUse, RuleNoExit:
		if motion() {
			others = append(others, motionSensor)
		}
	case RuleNoMotion:
		if water() {
			others = append(others, waterMeter)
		}
		if door() {
			others = append(others, doorSensor)
		}
	}
	for _, k := range others {
		signals = append(signals, registry.KindSignal(k.name()))
	}
	return signals
}

// quietUnusual reports whether the quiet since the last motion is unusual
// for the home: past when unusual_quiet or late_wake would fire on it, by
// its learned baseline, or before that is learned past no_motion's own
// threshold (hours of the waking window only).
func (h *household) quietUnusual(now int64, cfg *Config, loc *time.Location) bool {
	if !h.learned.ready() {
		return cfg.NoMotionWindow.after(time.Unix(0, h.lastMotion), cfg.NoMotion, loc).UnixNano() <= now
	}
	return min(h.learned.quietDue(h.lastMotion, cfg, loc), h.learned.wakeDue(h.lastMotion, cfg, loc)) <= now
}

// corroborated adds to a welfare alert the signals that agree with it, in
// its evidence too, so a worker sent at once sees why.
func (a absence) corroborated(alert Alert, h *household, base, now int64, cfg *Config, loc *time.Location) Alert {
	alert.Signals = a.corroborate(h, base, now, cfg, loc)
	if !alert.Corroborated() {
		return alert
	}
	alert.Evidence.Values["signals"] = alert.Signals
	alert.Evidence.Summary += fmt.Sprintf("; corroborated: %v quiet since %s too", alert.Signals[1:],
		time.Unix(0, base).UTC().Format(time.RFC3339))
	return alert
}
