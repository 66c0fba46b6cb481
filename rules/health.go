package rules

import (
	"fmt"
	"time"

	"github.com/eldersafe/eldersafe/registry"
)

// Sensor health (CONTRACT.md §12): each device is expected to report at an
// interval, its kind's or its own (expected_every). One that missed
// staleMissed reports in a row is stale: what it last said no longer
// describes the home, so no welfare rule fires on it. A household whose
// every welfare signal is stale is unmonitored.

// staleMissed is how many expected reports a device may miss before it is
// stale: one late message is not a dead sensor.
const staleMissed = 3

// expectedEvery is how often a device of each kind reports unless it says
// otherwise: at least hourly, the heartbeat CONTRACT.md §3 asks of every
// device. The simulator's meters report every 15 minutes, but real ones
// (wmbusmeters) often hourly: a tighter interval would call them stale.
var expectedEvery = map[kind]time.Duration{
	waterMeter:   time.Hour,
	powerMeter:   time.Hour,
	motionSensor: time.Hour,
	doorSensor:   time.Hour,
	wristband:    time.Hour,
}

// welfareKinds are the sensors the welfare rules read, in the order
// stale_signals lists their signals.
var welfareKinds = []kind{waterMeter, motionSensor, doorSensor, powerMeter}

// Monitoring states of a household.
const (
	MonitoringOK          = "ok"
	MonitoringDegraded    = "degraded"
	MonitoringUnmonitored = "unmonitored"
)

// Monitoring is how well a household is watched: whether its welfare
// signals are fresh.
type Monitoring struct {
	// State is ok (every welfare signal fresh), degraded (some stale) or
	// unmonitored (every one stale, or none at all).
	State string `json:"monitoring"`
	// StaleSignals are the welfare signals (water, motion, door, power)
	// whose every device is stale.
	StaleSignals []string `json:"stale_signals"`
}

// staleAfter is how long the device may stay silent before it is stale.
func (d *device) staleAfter() int64 {
	every := expectedEvery[d.kind]
	if d.every != 0 {
		every = time.Duration(d.every) * time.Minute
	}
	return staleMissed * int64(every)
}

// offlineAfter is how long the device may stay silent before it is offline:
// device_offline's threshold, or longer for a device said to report rarely.
func (d *device) offlineAfter(cfg *Config) int64 {
	if d.every == 0 {
		return cfg.offlineAfter(d.kind == wristband)
	}
	return max(cfg.offlineAfter(d.kind == wristband), d.staleAfter())
}

func (d *device) fresh(now int64) bool {
	return d.lastAlive != 0 && now-d.lastAlive < d.staleAfter()
}

// watch reports, as of now, how many welfare signals the household has,
// which are stale (as a bit per welfareKinds), and the moment the last
// fresh one goes stale. A device heard before since counts as heard at
// since; one not expected yet (registered before the event clock started,
// never heard) does not count.
func (h *household) watch(now, since int64) (present int, stale uint8, allStaleAt int64) {
	for i, k := range welfareKinds {
		has, fresh := false, false
		for j := range h.devices {
			d := &h.devices[j]
			if d.kind != k || d.lastAlive == 0 {
				continue
			}
			has = true
			alive := max(d.lastAlive, since)
			if now-alive < d.staleAfter() {
				fresh = true
				allStaleAt = max(allStaleAt, alive+d.staleAfter())
			}
		}
		if has {
			present++
			if !fresh {
				stale |= 1 << i
			}
		}
	}
	return present, stale, allStaleAt
}

func staleSignals(stale uint8) []string {
	out := []string{}
	for i, k := range welfareKinds {
		if stale&(1<<i) != 0 {
			out = append(out, registry.KindSignal(k.name()))
		}
	}
	return out
}

// unmonitored fires when the household has welfare signals and every one is
// stale, counting only silence since the engine started: after a monitor
// down for hours, its devices get their time to report before a whole town
// of homes is called unmonitored.
func (h *household) unmonitored(now, since int64) (Alert, bool) {
	present, stale, _ := h.watch(now, since)
	if h.firing&firingUnmonitored != 0 || present == 0 || popcount(stale) != present {
		return Alert{}, false
	}
	h.firing |= firingUnmonitored
	signals := staleSignals(stale)
	return h.alert(RuleUnmonitored, time.Unix(0, now).UTC(), "",
		fmt.Sprintf("every welfare signal is stale (%v): no welfare rule can watch this home", signals),
		map[string]any{"stale_signals": signals}), true
}

func popcount(b uint8) int {
	n := 0
	for ; b != 0; b &= b - 1 {
		n++
	}
	return n
}

// Monitoring reports how well a household is watched as of now.
func (e *Engine) Monitoring(householdID string, now time.Time) Monitoring {
	s := e.shard(householdID)
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.households[householdID]
	if h == nil {
		return Monitoring{State: MonitoringUnmonitored, StaleSignals: []string{}}
	}
	present, stale, _ := h.watch(now.UnixNano(), 0)
	m := Monitoring{State: MonitoringOK, StaleSignals: staleSignals(stale)}
	switch {
	case present == 0 || len(m.StaleSignals) == present:
		m.State = MonitoringUnmonitored
	case stale != 0:
		m.State = MonitoringDegraded
	}
	return m
}
