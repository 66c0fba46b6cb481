package rules

import (
	"fmt"
	"math"
	"slices"
	"time"
	"unique"

	"github.com/eldersafe/eldersafe/registry"
)

// Welfare rules that fired and have not cleared, as bits of household.firing.
const (
	firingWaterNoUse uint8 = 1 << iota
	firingContinuousFlow
	firingNoMotion
	firingNoExit
	firingPowerNoUse
	firingUnusualQuiet
	firingLateWake
	firingUnmonitored
)

// firingMotion are the rules a long quiet fires: the baseline learns
// nothing from a quiet during which one of them fired.
const firingMotion = firingNoMotion | firingUnusualQuiet | firingLateWake

// Device flags.
const (
	hasA uint8 = 1 << iota
	hasB
	hasBool
	boolValue
	saidOffline
	firingOffline
	firingBattery
)

// batteryHysteresis is how far above the threshold a battery must recharge to
// clear battery_low, so a reading hovering at the threshold does not flap.
const batteryHysteresis = 5

// Water flows "without a pause" only while every report shows the register
// rising at least this fast and no report is further apart than maxFlowGap:
// a busy morning of short uses does not look like a running tap, and a gap in
// the reports cannot prove there was no pause.
const (
	minFlowLPM = 0.5
	maxFlowGap = int64(time.Hour)
)

// household is the rules' state for one home. Times are Unix nanoseconds of
// event time; 0 means never. It is kept small: a million of them must fit in
// memory (docs/performance.md).
type household struct {
	id       string
	settings *settings // nil: global thresholds, default zone, never away
	devices  []device

	armed   int64 // due time of the pending heap entry, 0 when none
	newest  int64 // newest event time applied
	firing  uint8
	isDirty bool

	lastUse     int64     // a water register last rose (or the first meter was heard)
	lastMotion  int64     // PIR saw motion
	motionSince int64     // the first PIR was heard
	lastOpen    int64     // the entrance door opened
	doorSince   int64     // the first door sensor was heard
	back        int64     // the resident came home: the first motion after the door opened
	powerStart  int64     // start of the current power_no_use window
	powerUsed   float64   // kWh used since powerStart
	learned     *baseline // nil until the first motion
	// applied is the sequence number of the last of its readings the
	// engine's journal recorded (journal.go); 0 without one.
	applied uint64
}

type settings struct {
	cfg       *Config // effective thresholds; nil: the global ones
	overrides Thresholds
	loc       *time.Location
	away      []span // sorted by from
}

type span struct{ from, until int64 }

// device is what one device last said. a and b hold its kind's two numbers:
// water total_liters and flow_lpm; power total_kwh and power_w; wristband
// heart_rate.
type device struct {
	id string
	// room is where a PIR said it is, one copy of each name for all
	// devices (a million households' PIRs name a handful of rooms); zero
	// until it says.
	room      unique.Handle[string]
	lastSeen  int64 // newest message applied, for ordering
	lastAlive int64 // newest message that showed the device alive
	a, b      float64
	aAt       int64 // when a was read: the meters' previous register reading
	flowStart int64 // water: start of the current run of flow
	battery   float32
	every     uint16 // expected_every in minutes; 0: the kind's (health.go)
	kind      kind
	flags     uint8
}

// roomName is the room the device last said it is in, or "".
func (d *device) roomName() string {
	if d.room == (unique.Handle[string]{}) {
		return ""
	}
	return d.room.Value()
}

// kind is a device kind in one byte: registry.DeviceKinds[kind-1].
type kind uint8

var (
	waterMeter   = kindOf(registry.WaterMeter)
	motionSensor = kindOf(registry.MotionSensor)
	doorSensor   = kindOf(registry.DoorSensor)
	wristband    = kindOf(registry.Wristband)
	powerMeter   = kindOf(registry.PowerMeter)
)

func kindOf(k registry.DeviceKind) kind { return kind(slices.Index(registry.DeviceKinds, k) + 1) }

func (k kind) name() registry.DeviceKind {
	if k == 0 || int(k) > len(registry.DeviceKinds) {
		return ""
	}
	return registry.DeviceKinds[k-1]
}

func (h *household) config(global *Config) *Config {
	if h.settings != nil && h.settings.cfg != nil {
		return h.settings.cfg
	}
	return global
}

func (h *household) dirty(s *shard) {
	if !h.isDirty {
		h.isDirty = true
		s.dirty = append(s.dirty, h)
	}
}

func (h *household) find(id string) int {
	for i := range h.devices {
		if h.devices[i].id == id {
			return i
		}
	}
	return -1
}

func (h *household) add(id string, k registry.DeviceKind) *device {
	h.grow(1)
	h.devices = append(h.devices, device{id: id, kind: kindOf(k), battery: float32(math.NaN())})
	return &h.devices[len(h.devices)-1]
}

// expect adds sd to h (of s, locked) unless h knows it, expected to speak
// from at (zero: from its first message), and sets its interval. It
// returns the device, and whether it was added or its interval changed:
// then the household's countdowns may have moved. A device of no known
// kind is not added: nil, false.
func (h *household) expect(s *shard, sd SavedDevice, at time.Time) (*device, bool) {
	every := uint16(min(sd.Every/time.Minute, 1<<16-1))
	if i := h.find(sd.ID); i >= 0 {
		d := &h.devices[i]
		changed := d.every != every
		d.every = every
		return d, changed
	}
	if !sd.Kind.Valid() {
		return nil, false
	}
	d := h.add(sd.ID, sd.Kind)
	d.every = every
	if !at.IsZero() {
		d.lastAlive = at.UnixNano()
		h.track(d.kind, d.lastAlive)
		h.dirty(s)
	}
	return d, true
}

// grow makes room for exactly n more devices. Not doubled: devices are
// added rarely and a million households' spare capacity would be most of
// the engine's memory; a household given its five devices at once (a
// restart) is one allocation, not five growing ones.
func (h *household) grow(n int) {
	if n > cap(h.devices)-len(h.devices) {
		devices := make([]device, len(h.devices), len(h.devices)+n)
		copy(devices, h.devices)
		h.devices = devices
	}
}

// track starts a sensor's countdown the first time its kind is heard.
func (h *household) track(k kind, ts int64) {
	switch k {
	case waterMeter:
		if h.lastUse == 0 {
			h.lastUse = ts
		}
	case motionSensor:
		if h.motionSince == 0 {
			h.motionSince = ts
		}
	case doorSensor:
		if h.doorSince == 0 {
			h.doorSince = ts
		}
	case powerMeter:
		if h.powerStart == 0 {
			h.powerStart = ts
		}
	}
}

// backFromSilence restarts the countdowns of event sensors: a PIR or door
// sensor that was silent may have missed what happened, unlike a meter, whose
// register tells what was used meanwhile.
func (h *household) backFromSilence(k kind, ts int64) {
	switch k {
	case motionSensor:
		h.motionSince = max(h.motionSince, ts)
	case doorSensor:
		h.doorSince = max(h.doorSince, ts)
	}
}

// apply records a reading and returns the alerts it causes at once, and
// whether a countdown may have come earlier so the household must be re-armed.
func (h *household) apply(r Reading, cfg *Config, loc *time.Location) (alerts []Alert, rearm bool) {
	ts := r.TS.UnixNano()
	i := h.find(r.DeviceID)
	if i < 0 {
		h.add(r.DeviceID, r.Kind)
		i = len(h.devices) - 1
		rearm = true
	}
	d := &h.devices[i]
	late := ts < d.lastSeen
	alive := r.Online == nil || *r.Online
	silent := false // the device was stale until this reading
	if alive {
		if d.lastAlive != 0 && ts-d.lastAlive >= d.staleAfter() {
			silent = true
			h.backFromSilence(d.kind, ts)
		}
		if d.lastAlive == 0 || ts-d.lastAlive >= d.staleAfter() {
			rearm = true // heard for the first time, or back from silence
		}
		d.lastAlive = max(d.lastAlive, ts)
		h.track(d.kind, ts)
		if d.flags&firingOffline != 0 {
			d.flags &^= firingOffline
			if !h.anyDevice(firingOffline) {
				alerts = append(alerts, h.cleared(RuleDeviceOffline, r, "device "+d.id+" is reporting again", nil))
			}
		}
		// The firing bit first: the summary is built only when it is needed.
		if h.firing&firingUnmonitored != 0 && slices.Contains(welfareKinds, d.kind) {
			alerts = h.clear(alerts, firingUnmonitored, RuleUnmonitored, r, "device "+d.id+" is reporting again")
		}
	}
	h.newest = max(h.newest, ts)
	if !late {
		d.lastSeen = ts
		if r.Online != nil {
			d.setFlag(saidOffline, !*r.Online)
		} else {
			d.flags &^= saidOffline
		}
	}

	switch {
	case r.Kind == registry.Wristband && r.Stream == Event:
		// An alarm is never dropped for being late: the task carries its time.
		if a, ok := wristbandAlarm(r); ok {
			alerts = append(alerts, a)
		}
	case r.Motion != nil && *r.Motion:
		if ts > h.lastMotion {
			returned := h.lastOpen > h.lastMotion && ts > h.lastOpen
			if h.learned == nil {
				h.learned = newBaseline()
			}
			learnable := !returned && !silent && h.firing&firingMotion == 0 && !h.awayDuring(h.lastMotion, ts)
			ready := h.learned.learn(h.lastMotion, ts, loc, learnable)
			h.lastMotion = ts
			if returned {
				h.back = ts
			}
			rearm = rearm || returned || ready
			alerts = h.clear(alerts, firingNoMotion, RuleNoMotion, r, "motion seen again")
			alerts = h.clear(alerts, firingUnusualQuiet, RuleUnusualQuiet, r, "motion seen again")
			alerts = h.clear(alerts, firingLateWake, RuleLateWake, r, "motion seen again")
		}
	case r.Open != nil && *r.Open:
		if ts > h.lastOpen {
			h.lastOpen = ts
			alerts = h.clear(alerts, firingNoExit, RuleNoExit, r, "the entrance door opened")
		}
	}
	if late {
		// Values and registers already moved past this reading.
		return alerts, rearm
	}
	if r.Motion != nil {
		d.setBool(*r.Motion)
		if r.Room != "" {
			d.room = unique.Make(r.Room)
		}
	}
	if r.Open != nil {
		d.setBool(*r.Open)
	}
	if r.Worn != nil {
		d.setBool(*r.Worn)
	}
	if r.HeartRate != nil {
		d.setA(*r.HeartRate)
	}
	if r.TotalLiters != nil {
		alerts = h.water(alerts, d, r, ts, cfg)
	}
	if r.TotalKWh != nil {
		alerts = h.power(alerts, d, r, ts, cfg)
	}
	if r.BatteryPct != nil {
		alerts = h.battery(alerts, d, r, cfg)
	}
	return alerts, rearm
}

// water follows one meter's cumulative register: a rise is use; a run of
// rises is flow; a register going down is a reset or a replaced meter, which
// is no evidence of use.
func (h *household) water(alerts []Alert, d *device, r Reading, ts int64, cfg *Config) []Alert {
	total := *r.TotalLiters
	prev, prevTS, seen := d.a, d.aAt, d.flags&hasA != 0
	if seen && ts == prevTS {
		return alerts // the same reading again: it shows no interval
	}
	d.setA(total)
	d.aAt = ts
	if r.FlowLPM != nil {
		d.setB(*r.FlowLPM)
	}
	if !seen || total <= prev {
		d.flowStart = 0
		return h.clearFlow(alerts, r)
	}
	if ts > h.lastUse {
		h.lastUse = ts
		alerts = h.clear(alerts, firingWaterNoUse, RuleWaterNoUse, r, fmt.Sprintf("water used again: register rose to %.1f L", total))
	}
	gap := ts - prevTS
	flowing := gap > 0 && gap <= maxFlowGap && (total-prev)/time.Duration(gap).Minutes() >= minFlowLPM &&
		(r.FlowLPM == nil || *r.FlowLPM > 0)
	if !flowing {
		d.flowStart = 0
		return h.clearFlow(alerts, r)
	}
	if d.flowStart == 0 {
		d.flowStart = prevTS
	}
	if h.firing&firingContinuousFlow == 0 && ts-d.flowStart >= int64(cfg.WaterContinuousFlow) && cfg.Enabled(RuleWaterContinuousFlow) {
		h.firing |= firingContinuousFlow
		since := time.Unix(0, d.flowStart).UTC()
		alerts = append(alerts, h.alert(RuleWaterContinuousFlow, r.TS, d.id,
			fmt.Sprintf("water has been flowing since %s (%s); register at %.1f L", since.Format(time.RFC3339), r.TS.Sub(since).Round(time.Minute), total),
			map[string]any{"total_liters": total, "flowing_since": since.Format(time.RFC3339), "threshold_hours": cfg.WaterContinuousFlow.Hours()}))
	}
	return alerts
}

func (h *household) clearFlow(alerts []Alert, r Reading) []Alert {
	for i := range h.devices {
		if h.devices[i].flowStart != 0 {
			return alerts // another meter is still running
		}
	}
	return h.clear(alerts, firingContinuousFlow, RuleWaterContinuousFlow, r, "water flow paused")
}

// power adds what a meter used to the current window; once the floor is
// reached the household is using power and a new window begins.
func (h *household) power(alerts []Alert, d *device, r Reading, ts int64, cfg *Config) []Alert {
	total := *r.TotalKWh
	if h.firing&firingPowerNoUse != 0 && ts-h.powerStart >= int64(cfg.PowerNoUse) {
		// Still under the floor over a whole window: it has not cleared.
		h.powerStart, h.powerUsed = ts, 0
	}
	if d.flags&hasA != 0 && total > d.a {
		h.powerUsed += total - d.a
	}
	d.setA(total)
	if r.PowerW != nil {
		d.setB(*r.PowerW)
	}
	if h.powerUsed >= cfg.PowerNoUseFloorKWh {
		h.powerStart, h.powerUsed = ts, 0
		alerts = h.clear(alerts, firingPowerNoUse, RulePowerNoUse, r, fmt.Sprintf("power use is back: register at %.2f kWh", total))
	}
	return alerts
}

func (h *household) battery(alerts []Alert, d *device, r Reading, cfg *Config) []Alert {
	pct := *r.BatteryPct
	d.battery = float32(pct)
	switch {
	case pct < cfg.BatteryLowPct && d.flags&firingBattery == 0 && cfg.Enabled(RuleBatteryLow):
		d.flags |= firingBattery
		alerts = append(alerts, h.alert(RuleBatteryLow, r.TS, d.id,
			fmt.Sprintf("battery of %s %s at %.0f%%", d.kind.name(), d.id, pct),
			map[string]any{"battery_pct": pct, "threshold_pct": cfg.BatteryLowPct}))
	case pct >= cfg.BatteryLowPct+batteryHysteresis && d.flags&firingBattery != 0:
		d.flags &^= firingBattery
		if !h.anyDevice(firingBattery) {
			alerts = append(alerts, h.cleared(RuleBatteryLow, r, fmt.Sprintf("battery of %s back at %.0f%%", d.id, pct), map[string]any{"battery_pct": pct}))
		}
	}
	return alerts
}

func (h *household) anyDevice(flag uint8) bool {
	for i := range h.devices {
		if h.devices[i].flags&flag != 0 {
			return true
		}
	}
	return false
}

// clear ends a firing welfare rule and reports it, so the open task records
// that the condition went away by itself.
func (h *household) clear(alerts []Alert, bit uint8, rule string, r Reading, summary string) []Alert {
	if h.firing&bit == 0 {
		return alerts
	}
	h.firing &^= bit
	return append(alerts, h.cleared(rule, r, summary, nil))
}

func (h *household) cleared(rule string, r Reading, summary string, values map[string]any) Alert {
	a := h.alert(rule, r.TS, r.DeviceID, summary, values)
	a.Cleared = true
	return a
}

func (h *household) alert(rule string, at time.Time, deviceID, summary string, values map[string]any) Alert {
	r, _ := Lookup(rule) // the engine raises only rules of Table (TestTable)
	return Alert{
		HouseholdID: h.id, Rule: rule, Severity: r.Severity, Kind: r.Kind, At: at,
		Evidence: Evidence{At: at, DeviceID: deviceID, Summary: summary, Values: values},
	}
}

func wristbandAlarm(r Reading) (Alert, bool) {
	var rule, summary string
	switch r.Event {
	case EventFall:
		rule, summary = RuleFall, "wristband detected a fall"
	case EventSOS:
		rule, summary = RuleSOS, "SOS button pressed"
	default:
		return Alert{}, false
	}
	values := map[string]any{}
	setFloat(values, "lat", r.Lat)
	setFloat(values, "lon", r.Lon)
	setFloat(values, "accuracy_m", r.AccuracyM)
	h := household{id: r.HouseholdID}
	return h.alert(rule, r.TS, r.DeviceID, summary, values), true
}

func setFloat(m map[string]any, k string, v *float64) {
	if v != nil {
		m[k] = *v
	}
}

// unfire forgets that rule fired, so it can fire again. It reports whether
// anything changed.
func (h *household) unfire(rule, deviceID string) bool {
	var bit uint8
	switch rule {
	case RuleWaterNoUse:
		bit = firingWaterNoUse
	case RuleWaterContinuousFlow:
		bit = firingContinuousFlow
	case RuleNoMotion:
		bit = firingNoMotion
	case RuleNoExit:
		bit = firingNoExit
	case RulePowerNoUse:
		bit = firingPowerNoUse
	case RuleUnusualQuiet:
		bit = firingUnusualQuiet
	case RuleLateWake:
		bit = firingLateWake
	case RuleUnmonitored:
		bit = firingUnmonitored
	case RuleDeviceOffline, RuleBatteryLow:
		flag := firingOffline
		if rule == RuleBatteryLow {
			flag = firingBattery
		}
		if i := h.find(deviceID); i >= 0 && h.devices[i].flags&flag != 0 {
			h.devices[i].flags &^= flag
			return true
		}
		return false
	default:
		return false // fall and sos keep no state: the unacknowledged message comes again
	}
	if h.firing&bit == 0 {
		return false
	}
	h.firing &^= bit
	if bit == firingContinuousFlow {
		// It fires from readings: the next rising one fires it again.
		return false
	}
	return true
}

// awayPeriods are the household's away periods, sorted by start.
func (h *household) awayPeriods() []span {
	if h.settings == nil {
		return nil
	}
	return h.settings.away
}

// awayDuring reports whether an away period overlaps from–to.
func (h *household) awayDuring(from, to int64) bool {
	for _, p := range h.awayPeriods() {
		if p.from < to && p.until > from {
			return true
		}
	}
	return false
}

func (d *device) setFlag(flag uint8, on bool) {
	if on {
		d.flags |= flag
	} else {
		d.flags &^= flag
	}
}

func (d *device) setA(v float64) { d.a = v; d.flags |= hasA }
func (d *device) setB(v float64) { d.b = v; d.flags |= hasB }
func (d *device) setBool(v bool) { d.flags |= hasBool; d.setFlag(boolValue, v) }

// online counts the household's devices that are up for
// eldersafe_devices_online: heard from, not saying they are offline, and not
// yet found silent past their threshold (device_offline, fired by Advance).
func (h *household) online() int {
	n := 0
	for i := range h.devices {
		if d := &h.devices[i]; d.lastSeen != 0 && d.flags&(saidOffline|firingOffline) == 0 {
			n++
		}
	}
	return n
}

func (d *device) online(now int64, cfg *Config) bool {
	// A registered device that never spoke is expected, not online.
	return d.flags&saidOffline == 0 && d.lastSeen != 0 && now-d.lastAlive < d.offlineAfter(cfg)
}
