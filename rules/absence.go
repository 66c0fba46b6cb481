package rules

import (
	"fmt"
	"time"
)

// absence is a rule that fires when something has not happened for a while.
// They are the welfare rules: an away household opens none of them.
type absence struct {
	rule string
	bit  uint8
	// sensor must keep reporting for the rule to fire: silence is
	// device_offline's business, never evidence of inactivity.
	sensor kind
	// athome: the rule watches a resident at home, so it waits while they
	// are presumed out, until they come back or outCeiling passes.
	athome bool
}

var absences = []absence{
	{RuleWaterNoUse, firingWaterNoUse, waterMeter, true},
	{RuleNoMotion, firingNoMotion, motionSensor, true},
	{RuleNoExit, firingNoExit, doorSensor, false},
	{RulePowerNoUse, firingPowerNoUse, powerMeter, true},
	{RuleUnusualQuiet, firingUnusualQuiet, motionSensor, false},
	{RuleLateWake, firingLateWake, motionSensor, false},
}

// outCeiling is how long a resident presumed out is believed out. A day
// out, a morning to the evening, stays under it; past it, out overnight or
// from the morning to past 22:00 without anyone told, is worth a question:
// a resident may have fallen on a walk (a fall out of doors leaves the home
// looking left), or opened the door and collapsed in the hall, out of the
// PIRs' sight. The alerts it brings carry no corroboration, so the family
// is asked first, and answers for a weekend at theirs.
const outCeiling = 14 * time.Hour

// base is when the countdown started, 0 when it is not running.
func (a absence) base(h *household, cfg *Config) int64 {
	presumed := cfg.Enabled(SwitchPresumedOut)
	switch a.rule {
	case RuleWaterNoUse:
		return h.sinceBack(h.lastUse, presumed)
	case RuleNoMotion:
		if h.out() && !presumed {
			return 0 // as before the ceiling: paused for as long as it lasts
		}
		return max(h.lastMotion, h.motionSince)
	case RuleNoExit:
		if h.doorSince == 0 {
			return 0
		}
		return max(h.lastOpen, h.doorSince)
	case RuleUnusualQuiet, RuleLateWake:
		// Silent until learned; a sensor back from silence has not proved
		// the home quiet meanwhile.
		if h.out() || !h.learned.ready() || h.lastMotion < h.motionSince {
			return 0
		}
		return h.lastMotion
	default:
		return h.sinceBack(h.powerStart, presumed)
	}
}

// sinceBack is a running countdown's start, or the resident's return home if
// later (unless presumed out is turned off): what went unused while they
// were out says nothing of them.
func (h *household) sinceBack(start int64, presumed bool) int64 {
	if start == 0 || !presumed {
		return start
	}
	return max(start, h.back)
}

// out reports whether the resident is presumed out: the door opened after the
// last motion. Nobody moving in an empty home is not a welfare concern; the
// next motion (coming home) restarts the countdown. A home without a PIR
// cannot tell.
func (h *household) out() bool {
	return h.motionSince != 0 && h.lastOpen > h.lastMotion
}

// threshold is how long the countdown runs from base, counting only waking
// hours for no_motion.
func (a absence) threshold(h *household, cfg *Config, loc *time.Location, base int64) int64 {
	switch a.rule {
	case RuleUnusualQuiet:
		return h.learned.quietDue(base, cfg, loc)
	case RuleLateWake:
		return h.learned.wakeDue(base, cfg, loc)
	case RuleWaterNoUse:
		return base + int64(cfg.WaterNoUse)
	case RuleNoMotion:
		return cfg.NoMotionWindow.after(time.Unix(0, base), cfg.NoMotion, loc).UnixNano()
	case RuleNoExit:
		return base + int64(cfg.NoExit)
	default:
		return base + int64(cfg.PowerNoUse)
	}
}

// due is when the rule fires unless something happens first, or never. An
// away period that overlaps the countdown restarts it from the period's end.
func (a absence) due(h *household, cfg *Config, loc *time.Location) int64 {
	base := a.base(h, cfg)
	if base == 0 {
		return never
	}
	due := a.threshold(h, cfg, loc, base)
	for _, p := range h.awayPeriods() {
		if p.until <= base {
			continue
		}
		if p.from >= due {
			break
		}
		base = p.until
		due = a.threshold(h, cfg, loc, base)
	}
	if a.athome && h.out() && cfg.Enabled(SwitchPresumedOut) {
		due = max(due, h.lastOpen+int64(outCeiling))
	}
	return due
}

func (a absence) alert(h *household, now int64, cfg *Config, loc *time.Location) Alert {
	at := time.Unix(0, now).UTC()
	since := time.Unix(0, a.base(h, cfg)).UTC()
	sinceText := since.Format(time.RFC3339)
	values := map[string]any{"since": sinceText}
	var summary string
	switch a.rule {
	case RuleWaterNoUse:
		m := h.deviceOf(waterMeter)
		values["total_liters"], values["threshold_hours"] = m.a, cfg.WaterNoUse.Hours()
		summary = fmt.Sprintf("water register unchanged at %.1f L since %s (%s)", m.a, sinceText, at.Sub(since).Round(time.Minute))
	case RuleNoMotion:
		values["threshold_hours"], values["window"] = cfg.NoMotion.Hours(), cfg.NoMotionWindow.String()
		summary = fmt.Sprintf("no motion since %s: %s of waking hours (%s)", sinceText, cfg.NoMotion, cfg.NoMotionWindow)
	case RuleNoExit:
		values["threshold_hours"] = cfg.NoExit.Hours()
		summary = fmt.Sprintf("the entrance door has not opened since %s (%s)", sinceText, at.Sub(since).Round(time.Minute))
	case RuleUnusualQuiet:
		usual := time.Duration(h.learned.quiet[hourOf(now, loc)]) * quantum
		values["usual_hours"], values["factor"], values["quiet_hours"] = usual.Hours(), cfg.UnusualQuietFactor, at.Sub(since).Hours()
		summary = fmt.Sprintf("no motion since %s (%s); at this hour the home is usually quiet at most %s", sinceText, at.Sub(since).Round(time.Minute), usual)
	case RuleLateWake:
		wake := h.learned.usualWake(now, loc)
		values["usual_wake"], values["margin_minutes"] = wake.Format("15:04"), cfg.LateWakeMargin.Minutes()
		summary = fmt.Sprintf("no motion since %s; usually up by %s", sinceText, wake.Format("15:04"))
	default:
		values["used_kwh"], values["floor_kwh"], values["threshold_hours"] = h.powerUsed, cfg.PowerNoUseFloorKWh, cfg.PowerNoUse.Hours()
		summary = fmt.Sprintf("%.2f kWh used since %s, under the floor of %.2f kWh", h.powerUsed, sinceText, cfg.PowerNoUseFloorKWh)
	}
	if h.out() {
		out := time.Unix(0, h.lastOpen).UTC().Format(time.RFC3339)
		values["out_since"] = out
		summary += fmt.Sprintf("; the door opened at %s and nobody has been seen since", out)
	}
	return a.corroborated(h.alert(a.rule, at, h.deviceOf(a.sensor).id, summary, values), h, a.base(h, cfg), now, cfg, loc)
}

// deviceOf is the household's first device of kind, preferring one that is
// reporting. Absence rules only run for kinds the household has.
func (h *household) deviceOf(k kind) *device {
	var found *device
	for i := range h.devices {
		d := &h.devices[i]
		if d.kind == k && (found == nil || d.lastAlive > found.lastAlive) {
			found = d
		}
	}
	if found == nil {
		return &device{}
	}
	return found
}

// reporting reports whether a device of kind k is fresh: a welfare rule
// never fires on stale input (health.go). With sensor health turned off it
// is enough that device_offline has not found them all silent.
func (h *household) reporting(k kind, now int64, cfg *Config) bool {
	health := cfg.Enabled(SwitchSensorHealth)
	for i := range h.devices {
		if d := &h.devices[i]; d.kind == k && (d.fresh(now) || !health && d.lastAlive != 0 && now-d.lastAlive < d.offlineAfter(cfg)) {
			return true
		}
	}
	return false
}

// evaluate fires every countdown due at now.
func (h *household) evaluate(now, since int64, cfg *Config, loc *time.Location) []Alert {
	var alerts []Alert
	for _, a := range absences {
		if !cfg.Enabled(a.rule) || h.firing&a.bit != 0 || a.due(h, cfg, loc) > now || !h.reporting(a.sensor, now, cfg) {
			continue
		}
		h.firing |= a.bit
		alerts = append(alerts, a.alert(h, now, cfg, loc))
		if a.rule == RulePowerNoUse {
			// To clear, the floor must be reached within one window from now.
			h.powerStart, h.powerUsed = now, 0
		}
	}
	for i := range h.devices {
		d := &h.devices[i]
		if !cfg.Enabled(RuleDeviceOffline) || d.flags&firingOffline != 0 || d.lastAlive == 0 || now-d.lastAlive < d.offlineAfter(cfg) {
			continue
		}
		d.flags |= firingOffline
		last := time.Unix(0, d.lastAlive).UTC()
		alerts = append(alerts, h.alert(RuleDeviceOffline, time.Unix(0, now).UTC(), d.id,
			fmt.Sprintf("%s %s silent since %s", d.kind.name(), d.id, last.Format(time.RFC3339)),
			map[string]any{"last_seen": last.Format(time.RFC3339), "kind": string(d.kind.name())}))
	}
	if a, ok := h.unmonitored(now, since); ok && cfg.Enabled(SwitchSensorHealth) {
		alerts = append(alerts, a)
	}
	return alerts
}

// nextDue is the earliest moment after now at which a countdown may fire, or
// never. A rule whose sensor fell silent waits for it to speak again.
func (h *household) nextDue(now, since int64, cfg *Config, loc *time.Location) int64 {
	next := int64(never)
	for _, a := range absences {
		if !cfg.Enabled(a.rule) || h.firing&a.bit != 0 {
			continue
		}
		due := a.due(h, cfg, loc)
		if due <= now && !h.reporting(a.sensor, now, cfg) {
			continue
		}
		next = min(next, due)
	}
	for i := range h.devices {
		if d := &h.devices[i]; cfg.Enabled(RuleDeviceOffline) && d.flags&firingOffline == 0 && d.lastAlive != 0 {
			next = min(next, d.lastAlive+d.offlineAfter(cfg))
		}
	}
	if h.firing&firingUnmonitored == 0 && cfg.Enabled(SwitchSensorHealth) {
		if present, _, allStaleAt := h.watch(now, since); present > 0 {
			next = min(next, max(allStaleAt, now))
		}
	}
	return next
}
