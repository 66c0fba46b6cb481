// Package rules is the streaming rules engine: it keeps per-household state in
// event time, notices what matters (a fall, an SOS press, hours without water)
// and emits alerts. It is pure: no I/O, no clock of its own; time comes in
// through readings' event times and through Advance.
package rules

import (
	"fmt"
	"hash/maphash"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eldersafe/eldersafe/registry"
)

// shardCount splits households over independently locked shards so ingest
// workers rarely wait on each other.
const shardCount = 64

// Rules with deadlines, as stored in the heap.
const (
	deadlineWaterNoUse uint8 = iota + 1
)

// Engine holds the state of every household and evaluates the rules.
// It is safe for concurrent use. Each device's readings should arrive in the
// order they are to be applied (ingest gives each device one worker); late ones
// are recognised by event time and never move state backwards.
type Engine struct {
	cfg    atomic.Pointer[Config]
	seed   maphash.Seed
	shards [shardCount]shard
}

type shard struct {
	mu         sync.Mutex
	households map[string]*household
	deadlines  deadlineHeap
}

type household struct {
	id      string
	water   waterState
	devices []*deviceState
}

// waterState follows the meter's cumulative register.
type waterState struct {
	seen     bool
	total    float64 // newest register value, litres
	lastTS   int64   // event time of the newest applied reading, Unix ns
	lastRise int64   // event time the register last rose (or was first seen)
	armed    int64   // due time of the pending heap entry, 0 when none
	firing   bool    // water_no_use has fired and not yet cleared
}

type deviceState struct {
	id       string
	kind     registry.DeviceKind
	lastSeen int64 // event time of the newest applied message, Unix ns
	offline  bool  // the device said so on its status stream
	battery  float64
	values   map[string]any
}

// NewEngine returns an engine running cfg.
func NewEngine(cfg Config) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("rules config: %w", err)
	}
	e := &Engine{seed: maphash.MakeSeed()}
	e.cfg.Store(&cfg)
	for i := range e.shards {
		e.shards[i].households = make(map[string]*household)
	}
	return e, nil
}

// Config is the configuration in force.
func (e *Engine) Config() Config { return *e.cfg.Load() }

func (e *Engine) shard(householdID string) *shard {
	return &e.shards[maphash.String(e.seed, householdID)%shardCount]
}

func (s *shard) household(id string) *household {
	h := s.households[id]
	if h == nil {
		h = &household{id: id}
		s.households[id] = h
	}
	return h
}

// Process applies one reading and returns the alerts it causes.
func (e *Engine) Process(r Reading) []Alert {
	cfg := e.cfg.Load()
	s := e.shard(r.HouseholdID)
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.household(r.HouseholdID)
	h.device(r.DeviceID, r.Kind).apply(r)

	switch {
	case r.Kind == registry.Wristband && r.Stream == Event:
		return wristbandEvent(r)
	case r.Kind == registry.WaterMeter && r.TotalLiters != nil:
		return s.water(h, r, cfg)
	}
	return nil
}

// Advance fires every deadline due at now and returns the alerts.
func (e *Engine) Advance(now time.Time) []Alert {
	cfg := e.cfg.Load()
	n := now.UnixNano()
	var alerts []Alert
	for i := range e.shards {
		s := &e.shards[i]
		s.mu.Lock()
		for {
			d, ok := s.deadlines.popDue(n)
			if !ok {
				break
			}
			if a, fired := s.fire(d, n, cfg); fired {
				alerts = append(alerts, a)
			}
		}
		s.mu.Unlock()
	}
	return alerts
}

func (s *shard) fire(d deadline, now int64, cfg *Config) (Alert, bool) {
	switch d.rule {
	case deadlineWaterNoUse:
		return s.waterDeadline(d, now, cfg)
	}
	return Alert{}, false
}

func wristbandEvent(r Reading) []Alert {
	var rule, summary string
	switch r.Event {
	case EventFall:
		rule, summary = RuleFall, "wristband detected a fall"
	case EventSOS:
		rule, summary = RuleSOS, "SOS button pressed"
	default:
		return nil
	}
	values := map[string]any{}
	setFloat(values, "lat", r.Lat)
	setFloat(values, "lon", r.Lon)
	setFloat(values, "accuracy_m", r.AccuracyM)
	return []Alert{{
		HouseholdID: r.HouseholdID,
		Rule:        rule,
		Severity:    Critical,
		Kind:        Visit,
		At:          r.TS,
		Evidence:    Evidence{At: r.TS, DeviceID: r.DeviceID, Summary: summary, Values: values},
	}}
}

// water applies a meter reading: a rising register restarts the countdown and
// clears a firing alert; an unchanged one past the threshold fires.
func (s *shard) water(h *household, r Reading, cfg *Config) []Alert {
	w := &h.water
	ts := r.TS.UnixNano()
	total := *r.TotalLiters
	var alerts []Alert
	switch {
	case !w.seen:
		w.seen, w.total, w.lastRise = true, total, ts
	case ts <= w.lastTS:
		// Late or repeated: the newer reading already applied wins.
		return nil
	case total > w.total:
		w.total, w.lastRise = total, ts
		if w.firing {
			w.firing = false
			alerts = append(alerts, Alert{
				HouseholdID: h.id, Rule: RuleWaterNoUse, Severity: High, Kind: Visit, At: r.TS, Cleared: true,
				Evidence: Evidence{At: r.TS, DeviceID: r.DeviceID, Summary: fmt.Sprintf("water used again: register rose to %.1f L", total),
					Values: map[string]any{"total_liters": total}},
			})
		}
	case total < w.total:
		// The register went down: the meter was reset or replaced. That is no
		// evidence of use, so the countdown keeps running from the last rise.
		w.total = total
	}
	w.lastTS = ts
	if w.firing {
		return alerts
	}
	if ts-w.lastRise >= cfg.WaterNoUse.Nanoseconds() {
		return append(alerts, waterNoUseAlert(h, r.DeviceID, ts, cfg))
	}
	s.arm(h, w.lastRise+cfg.WaterNoUse.Nanoseconds())
	return alerts
}

// arm makes sure a heap entry will wake the household no later than due.
func (s *shard) arm(h *household, due int64) {
	if h.water.armed != 0 && h.water.armed <= due {
		return // an earlier entry will look again and re-arm
	}
	h.water.armed = due
	s.deadlines.push(deadline{due: due, hh: h, rule: deadlineWaterNoUse})
}

func (s *shard) waterDeadline(d deadline, now int64, cfg *Config) (Alert, bool) {
	h := d.hh
	w := &h.water
	if w.armed != d.due {
		return Alert{}, false // superseded by an earlier entry
	}
	w.armed = 0
	if w.firing {
		return Alert{}, false
	}
	if due := w.lastRise + cfg.WaterNoUse.Nanoseconds(); due > now {
		s.arm(h, due) // water was used since this entry was set
		return Alert{}, false
	}
	if now-w.lastTS >= cfg.DeviceOffline.Nanoseconds() {
		// A silent meter is not an unused one; its next reading looks again.
		return Alert{}, false
	}
	return waterNoUseAlert(h, h.waterMeterID(), now, cfg), true
}

func waterNoUseAlert(h *household, deviceID string, at int64, cfg *Config) Alert {
	w := &h.water
	w.firing = true
	since := time.Unix(0, w.lastRise).UTC()
	t := time.Unix(0, at).UTC()
	return Alert{
		HouseholdID: h.id, Rule: RuleWaterNoUse, Severity: High, Kind: Visit, At: t,
		Evidence: Evidence{
			At: t, DeviceID: deviceID,
			Summary: fmt.Sprintf("water register unchanged at %.1f L since %s (%s)", w.total, since.Format(time.RFC3339), t.Sub(since).Round(time.Minute)),
			Values:  map[string]any{"total_liters": w.total, "unchanged_since": since.Format(time.RFC3339), "threshold_hours": cfg.WaterNoUse.Hours()},
		},
	}
}

func (h *household) device(id string, kind registry.DeviceKind) *deviceState {
	for _, d := range h.devices {
		if d.id == id {
			return d
		}
	}
	d := &deviceState{id: id, kind: kind, battery: math.NaN()}
	h.devices = append(h.devices, d)
	return d
}

func (h *household) waterMeterID() string {
	for _, d := range h.devices {
		if d.kind == registry.WaterMeter {
			return d.id
		}
	}
	return ""
}

// apply records what a device said, unless a newer message already did.
func (d *deviceState) apply(r Reading) {
	ts := r.TS.UnixNano()
	if ts < d.lastSeen {
		return
	}
	d.lastSeen = ts
	if r.Online != nil {
		d.offline = !*r.Online
	} else {
		d.offline = false
	}
	if r.BatteryPct != nil {
		d.battery = *r.BatteryPct
	}
	if d.values == nil {
		d.values = make(map[string]any, 2)
	}
	// Plain assignments: this runs for every message, and a table of
	// pointers would be built anew each time.
	setFloat(d.values, "total_liters", r.TotalLiters)
	setFloat(d.values, "flow_lpm", r.FlowLPM)
	setFloat(d.values, "total_kwh", r.TotalKWh)
	setFloat(d.values, "power_w", r.PowerW)
	setFloat(d.values, "heart_rate", r.HeartRate)
	setBool(d.values, "motion", r.Motion)
	setBool(d.values, "open", r.Open)
	setBool(d.values, "worn", r.Worn)
	if r.Event != "" {
		d.values["event"] = r.Event
	}
}

func setFloat(m map[string]any, k string, v *float64) {
	if v != nil {
		m[k] = *v
	}
}

func setBool(m map[string]any, k string, v *bool) {
	if v != nil {
		m[k] = *v
	}
}

// Retract undoes the firing of an alert whose task could not be stored, so the
// rule looks again at the household's next reading or at retryAt, instead of
// believing somebody was told.
func (e *Engine) Retract(a Alert, retryAt time.Time) {
	if a.Cleared || a.Rule != RuleWaterNoUse {
		return // fall and sos keep no state: the unacknowledged message comes again
	}
	s := e.shard(a.HouseholdID)
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.households[a.HouseholdID]
	if h == nil || !h.water.firing {
		return
	}
	h.water.firing = false
	s.arm(h, retryAt.UnixNano())
}

// offlineAfter is how long a device of kind may stay silent before it is offline.
func (c *Config) offlineAfter(kind registry.DeviceKind) time.Duration {
	if kind == registry.Wristband {
		return c.WristbandOffline
	}
	return c.DeviceOffline
}

func (d *deviceState) online(now time.Time, cfg *Config) bool {
	return !d.offline && now.Sub(time.Unix(0, d.lastSeen)) < cfg.offlineAfter(d.kind)
}

// OnlineDevices counts the devices heard from recently enough to be online.
func (e *Engine) OnlineDevices(now time.Time) int {
	cfg := e.cfg.Load()
	n := 0
	for i := range e.shards {
		s := &e.shards[i]
		s.mu.Lock()
		for _, h := range s.households {
			for _, d := range h.devices {
				if d.online(now, cfg) {
					n++
				}
			}
		}
		s.mu.Unlock()
	}
	return n
}

// Status reports what each device of a household last said, as of now.
func (e *Engine) Status(householdID string, now time.Time) []DeviceStatus {
	cfg := e.cfg.Load()
	s := e.shard(householdID)
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.households[householdID]
	if h == nil {
		return nil
	}
	out := make([]DeviceStatus, 0, len(h.devices))
	for _, d := range h.devices {
		st := DeviceStatus{DeviceID: d.id, LastSeen: time.Unix(0, d.lastSeen).UTC(), Online: d.online(now, cfg)}
		if !math.IsNaN(d.battery) {
			b := d.battery
			st.BatteryPct = &b
		}
		if len(d.values) > 0 {
			st.Last = make(map[string]any, len(d.values))
			for k, v := range d.values {
				st.Last[k] = v
			}
		}
		out = append(out, st)
	}
	return out
}
