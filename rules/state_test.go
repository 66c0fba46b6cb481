package rules

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/eldersafe/eldersafe/registry"
)

// restart checkpoints e and restores every saved household into a new engine,
// as a monitor does across a restart at now.
func restart(t *testing.T, e *Engine, saved map[string][]byte, now time.Time) *Engine {
	t.Helper()
	if err := e.Checkpoint(func(batch []State, _ bool) error {
		for _, st := range batch {
			saved[st.HouseholdID] = slices.Clone(st.Data) // the engine's memory, used again
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	next := newEngine(t)
	for id, data := range saved {
		if err := next.Restore(State{HouseholdID: id, Data: data}, now); err != nil {
			t.Fatal(err)
		}
	}
	return next
}

func TestRestartInTheMiddleOfACountdown(t *testing.T) {
	saved := map[string][]byte{}
	e := newEngine(t)
	if got := run(e, every(0, 11*h, 15*m, unchanged(100))); got != nil {
		t.Fatalf("before the restart: %q", got)
	}
	e = restart(t, e, saved, t0.Add(11*h+5*m))
	got := run(e, steps(every(11*h+15*m, 20*h, 15*m, unchanged(100))))
	if !slices.Equal(got, []string{"12h0m0s water_no_use"}) {
		t.Errorf("after the restart: %q, want water_no_use at hour 12 only", got)
	}

	// Restarting again, with the rule still firing, raises nothing new.
	e = restart(t, e, saved, t0.Add(20*h))
	if got := run(e, every(20*h+15*m, 30*h, 15*m, unchanged(100))); got != nil {
		t.Errorf("a fired rule fired again after a restart: %q", got)
	}
	if got := run(e, read(meter(31*h, 101))); !slices.Equal(got, []string{"31h0m0s !water_no_use"}) {
		t.Errorf("use after the restart: %q", got)
	}
}

func TestRestartKeepsEveryRulesState(t *testing.T) {
	saved := map[string][]byte{}
	e := newEngine(t)
	lowPower := power(0, 500)
	lowPower.BatteryPct = ptr(10.0)
	if got := run(e, steps(read(pir(0), door(-h), lowPower), every(0, 2*h, 15*m, powerRising(0.01), pirBeat, doorBeat))); !slices.Equal(got, []string{"0s battery_low"}) {
		t.Fatalf("before the restart: %q", got)
	}
	before := e.Status("h1", t0.Add(2*h))
	e = restart(t, e, saved, t0.Add(2*h))
	if after := e.Status("h1", t0.Add(2*h)); !reflect.DeepEqual(before, after) {
		t.Errorf("status changed across the restart:\n%+v\n%+v", before, after)
	}
	lowPower.TS, lowPower.BatteryPct, lowPower.TotalKWh = t0.Add(2*h+m), ptr(9.0), ptr(500.08)
	got := run(e, steps(read(lowPower), every(2*h+15*m, 30*h, 15*m, powerRising(0.01), pirBeat, doorBeat)))
	want := []string{"6h0m0s no_motion", "24h0m0s power_no_use"}
	if !slices.Equal(got, want) {
		t.Errorf("after the restart: %q, want %q (battery_low already fired before it)", got, want)
	}
}

func TestRestartAfterDowntime(t *testing.T) {
	// The monitor was down from 6h to 14h; the meter's register proves no use.
	saved := map[string][]byte{}
	e := newEngine(t)
	run(e, every(0, 6*h, 15*m, unchanged(100)))
	e = restart(t, e, saved, t0.Add(14*h))
	if got := run(e, read(meter(14*h, 100))); !slices.Equal(got, []string{"14h0m0s water_no_use"}) {
		t.Errorf("after downtime: %q", got)
	}
}

func TestCheckpointWritesOnlyWhatChanged(t *testing.T) {
	e := newEngine(t)
	run(e, read(meter(0, 1), pir(0)))
	count := func() int {
		n := 0
		if err := e.Checkpoint(func(b []State, _ bool) error { n = len(b); return nil }); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(); n != 1 {
		t.Fatalf("first checkpoint: %d households, want 1", n)
	}
	if n := count(); n != 0 {
		t.Fatalf("nothing changed, yet %d written", n)
	}
	run(e, read(meter(time.Minute, 2)))
	if err := e.Checkpoint(func([]State, bool) error { return errors.New("disk full") }); err == nil {
		t.Fatal("save error lost")
	}
	if n := count(); n != 1 {
		t.Fatalf("after a failed save: %d households, want 1 again", n)
	}
}

// TestCheckpointInParts: a checkpoint of many households is handed over in
// batches of at most checkpointPart, in the order of their ids, each
// encoded when it is taken: a household changed while an earlier batch is
// written is saved as it is then, not as it was when the checkpoint began;
// only the last batch is
// marked last; and when a batch fails, its households and those after it
// stay marked changed.
func TestCheckpointInParts(t *testing.T) {
	const n = 2*checkpointPart + 10
	e := newEngine(t)
	motion := func(i int, at time.Duration) Reading {
		r := pir(at)
		r.HouseholdID, r.DeviceID = fmt.Sprintf("h%04d", i), fmt.Sprintf("pir-%04d", i)
		return r
	}
	var first []Reading
	for i := range n {
		first = append(first, motion(i, 0))
	}
	run(e, read(first...))

	saved := map[string][]byte{}
	var (
		sizes []int
		lasts []bool
		order []string
	)
	changed := "" // a household of a later batch, moved while the first is written
	if err := e.Checkpoint(func(batch []State, last bool) error {
		sizes, lasts = append(sizes, len(batch)), append(lasts, last)
		for _, st := range batch {
			saved[st.HouseholdID] = slices.Clone(st.Data)
			order = append(order, st.HouseholdID)
		}
		if changed == "" {
			for i := range n {
				if id := fmt.Sprintf("h%04d", i); saved[id] == nil {
					changed = id
					e.Process(motion(i, time.Hour))
					break
				}
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(sizes, []int{checkpointPart, checkpointPart, 10}) || len(saved) != n {
		t.Fatalf("batches of %v, %d households, want %d, %d and 10 of %d", sizes, len(saved), checkpointPart, checkpointPart, n)
	}
	if !slices.Equal(lasts, []bool{false, false, true}) {
		t.Errorf("batches marked last %v, want only the third", lasts)
	}
	if !slices.IsSorted(order) {
		t.Errorf("households written in the order %v…, want their ids' (a store keeping them by id writes neighbours together)", order[:8])
	}
	next := newEngine(t)
	if err := next.Restore(State{HouseholdID: changed, Data: saved[changed]}, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got, want := next.Status(changed, t0.Add(time.Hour)), e.Status(changed, t0.Add(time.Hour)); !reflect.DeepEqual(got, want) {
		t.Errorf("%s, changed while an earlier batch was written, saved as it was before:\n%+v, want\n%+v", changed, got, want)
	}

	var later []Reading
	for i := range n {
		later = append(later, motion(i, 2*time.Hour))
	}
	run(e, read(later...))
	batches := 0
	if err := e.Checkpoint(func([]State, bool) error {
		if batches++; batches == 2 {
			return errors.New("disk full")
		}
		return nil
	}); err == nil {
		t.Fatal("save error lost")
	}
	count := 0
	if err := e.Checkpoint(func(b []State, _ bool) error { count += len(b); return nil }); err != nil {
		t.Fatal(err)
	}
	if count != n-checkpointPart {
		t.Errorf("after the second batch failed, the next checkpoint wrote %d households, want %d", count, n-checkpointPart)
	}
}

// TestCheckpointHouseholds: an alarm's households are written on their
// own; the next checkpoint writes the others, and them only if they
// changed again or their write failed.
func TestCheckpointHouseholds(t *testing.T) {
	e := newEngine(t)
	other := pir(0)
	other.HouseholdID, other.DeviceID = "h2", "pir-2"
	run(e, read(pir(0), other))
	written := func(take func(func([]State, bool) error) error) []string {
		t.Helper()
		var ids []string
		lastSeen := false
		if err := take(func(b []State, last bool) error {
			for _, st := range b {
				ids = append(ids, st.HouseholdID)
			}
			lastSeen = last
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if ids != nil && !lastSeen {
			t.Errorf("the batch of %v not marked last", ids)
		}
		slices.Sort(ids)
		return ids
	}
	only := func(ids ...string) func(func([]State, bool) error) error {
		return func(save func([]State, bool) error) error { return e.CheckpointHouseholds(ids, save) }
	}
	for _, c := range []struct {
		name string
		take func(func([]State, bool) error) error
		want []string
	}{
		{"the alarm's household, and one unknown", only("h1", "h9"), []string{"h1"}},
		{"again, unchanged", only("h1"), nil},
		{"the next checkpoint, the other", e.Checkpoint, []string{"h2"}},
	} {
		if got := written(c.take); !slices.Equal(got, c.want) {
			t.Errorf("%s: wrote %v, want %v", c.name, got, c.want)
		}
	}
	run(e, read(band(time.Minute, "fall")))
	if err := e.CheckpointHouseholds([]string{"h1"}, func([]State, bool) error { return errors.New("disk full") }); err == nil {
		t.Fatal("save error lost")
	}
	if got := written(e.Checkpoint); !slices.Equal(got, []string{"h1"}) {
		t.Errorf("after the alarm's write failed, the checkpoint wrote %v, want [h1]", got)
	}
	if got := written(e.Checkpoint); got != nil {
		t.Errorf("then %v, want nothing", got)
	}
}

func TestRestoreRefusesGarbage(t *testing.T) {
	e := newEngine(t)
	for _, data := range []string{"", "{", `{"v":99}`} {
		if err := e.Restore(State{HouseholdID: "h1", Data: []byte(data)}, t0); err == nil {
			t.Errorf("restored %q", data)
		}
	}
}

func TestSetConfigBringsDeadlinesEarlier(t *testing.T) {
	e := newEngine(t)
	run(e, every(0, 9*h, 15*m, unchanged(100)))
	c := DefaultConfig()
	c.WaterNoUse = 8 * h
	if err := e.SetConfig(c); err != nil {
		t.Fatal(err)
	}
	if got := names(e.Advance(t0.Add(9 * h))); !slices.Equal(got, []string{"9h0m0s water_no_use"}) {
		t.Errorf("after lowering the threshold to 8h at 9h: %v", got)
	}
	c.WaterNoUse = -1
	if err := e.SetConfig(c); err == nil || e.Config().WaterNoUse != 8*h {
		t.Errorf("invalid config: err %v, in force %v", err, e.Config().WaterNoUse)
	}
}

func TestHouseholdOverrides(t *testing.T) {
	e := newEngine(t)
	if err := e.SetHousehold("h1", Settings{Overrides: Thresholds{"water_no_use": {"hours": 10.0}}}); err != nil {
		t.Fatal(err)
	}
	other := func(at time.Duration) Reading { r := meter(at, 5); r.HouseholdID, r.DeviceID = "h2", "wm-2"; return r }
	var got []string
	for _, a := range runAlerts(e, every(0, 12*h, 15*m, unchanged(100), other)) {
		got = append(got, a.HouseholdID+" "+a.At.Sub(t0).String())
	}
	if !slices.Equal(got, []string{"h1 10h0m0s", "h2 12h0m0s"}) {
		t.Errorf("alerts = %q", got)
	}
	if e.Effective("h1").WaterNoUse != 10*h || e.Effective("h2").WaterNoUse != 12*h {
		t.Error("effective thresholds wrong")
	}

	// A global reload keeps the household's override on top.
	c := DefaultConfig()
	c.NoExit = 24 * h
	if err := e.SetConfig(c); err != nil {
		t.Fatal(err)
	}
	if eff := e.Effective("h1"); eff.WaterNoUse != 10*h || eff.NoExit != 24*h {
		t.Errorf("after reload: %+v", eff)
	}

	err := e.SetHousehold("h1", Settings{Overrides: Thresholds{"water_no_use": {"hours": -3.0}}})
	if err == nil || !strings.Contains(err.Error(), "water_no_use.hours") || e.Effective("h1").WaterNoUse != 10*h {
		t.Errorf("invalid override: %v, in force %v", err, e.Effective("h1").WaterNoUse)
	}
}

// TestEffectiveConfigsShared: households with the same overrides (a care
// level's profile) share one effective configuration, made afresh from a
// new global one; the same number as a string is no such override; and
// the configurations shared are bounded.
func TestEffectiveConfigsShared(t *testing.T) {
	e := newEngine(t)
	cfgOf := func(id string) *Config { return e.shard(id).households[id].settings.cfg }
	for _, id := range []string{"h1", "h2"} {
		if err := e.SetHousehold(id, Settings{Overrides: Thresholds{"water_no_use": {"hours": 10.0}}}); err != nil {
			t.Fatal(err)
		}
	}
	if cfgOf("h1") != cfgOf("h2") || cfgOf("h1").WaterNoUse != 10*h {
		t.Errorf("h1 and h2: %p and %p, water_no_use %v; want one configuration of 10h", cfgOf("h1"), cfgOf("h2"), cfgOf("h1").WaterNoUse)
	}
	// Refused overrides, however they spell, never pass for valid ones shared
	// before: each below would be given h4's configuration were they
	// spelt without quotes, types or their empty rules.
	if err := e.SetHousehold("h4", Settings{Overrides: Thresholds{"no_motion": {"window": "07:00-22:00"}, "water_no_use": {"hours": 10.0}}}); err != nil {
		t.Fatal(err)
	}
	if err := e.SetHousehold("h5", Settings{Overrides: Thresholds{"water_no_use": {}}}); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []Thresholds{
		{"water_no_use": {"hours": "10"}},
		{"no_motion": {"window": "07:00-22:00;water_no_use.hours=float64:10"}},
		{"no_motion": {"window=string:07:00-22:00;water_no_use.hours": 10.0}},
		{"no_motion.window=string:07:00-22:00;water_no_use": {"hours": 10.0}},
		{"bogus": {}},
	} {
		if err := e.SetHousehold("h3", Settings{Overrides: bad}); err == nil {
			t.Errorf("%v: accepted, want refused", bad)
		}
	}

	c := DefaultConfig()
	c.NoExit = 24 * h
	if err := e.SetConfig(c); err != nil {
		t.Fatal(err)
	}
	if cfgOf("h1") != cfgOf("h2") || cfgOf("h1").NoExit != 24*h || cfgOf("h1").WaterNoUse != 10*h {
		t.Errorf("after a reload: %p and %p, %+v", cfgOf("h1"), cfgOf("h2"), *cfgOf("h1"))
	}

	for i := range maxEffectiveConfigs + 10 {
		id := fmt.Sprint("own", i)
		hours := 10 + float64(i)/1000
		if err := e.SetHousehold(id, Settings{Overrides: Thresholds{"water_no_use": {"hours": hours}}}); err != nil {
			t.Fatal(err)
		}
		if got := e.Effective(id).WaterNoUse; got != time.Duration(hours*float64(h)) {
			t.Fatalf("%s: water_no_use %v, want %v hours", id, got, hours)
		}
	}
	if n := len(e.effective.byKey); n > maxEffectiveConfigs {
		t.Errorf("%d configurations shared, want at most %d", n, maxEffectiveConfigs)
	}
}

func TestRetractFiresAgain(t *testing.T) {
	e := newEngine(t)
	lowBattery := func(at time.Duration) Reading { r := meter(at, 100); r.BatteryPct = ptr(10.0); return r }
	alerts := runAlerts(e, every(0, 12*h, 15*m, lowBattery))
	if got := names(alerts); !slices.Equal(got, []string{"0s battery_low", "12h0m0s water_no_use"}) {
		t.Fatalf("alerts = %v", got)
	}
	for _, a := range alerts {
		e.Retract(a, t0.Add(12*h+time.Minute))
	}
	if got := e.Advance(t0.Add(12*h + 30*time.Second)); len(got) != 0 {
		t.Fatalf("fired again before the retry time: %v", names(got))
	}
	if got := names(e.Advance(t0.Add(12*h + time.Minute))); !slices.Equal(got, []string{"12h1m0s water_no_use"}) {
		t.Fatalf("a retracted absence alert did not fire again: %v", got)
	}
	if got := names(e.Process(lowBattery(12*h + 2*time.Minute))); !slices.Equal(got, []string{"12h2m0s battery_low"}) {
		t.Fatalf("a retracted battery alert did not fire again: %v", got)
	}
}

func TestOnlineDevices(t *testing.T) {
	t.Run("WentOffline", func(t *testing.T) {
		e := newEngine(t)
		run(e, read(meter(0, 1), band(0, EventSOS), heartbeat("wb-1", registry.Wristband, 0)))
		for _, c := range []struct {
			at   time.Duration
			want int
		}{{time.Hour, 2}, {3 * h, 1}, {7 * h, 0}} {
			e.Advance(t0.Add(c.at))
			if got := e.OnlineDevices(); got != c.want {
				t.Errorf("online devices after %v: %d, want %d (wristbands go offline after 2h, meters after 6h)", c.at, got, c.want)
			}
		}
	})
	// The counter kept per shard must agree, after every step, with a walk
	// asking each device whether it is online as of the clock's now.
	for _, c := range []struct {
		name  string
		steps []step
		// then runs after the steps, returning the engine to check.
		then func(t *testing.T, e *Engine) *Engine
	}{
		{"readings and silence", steps(every(0, 3*h, 15*m, unchanged(100), heartbeat1("pir-1", registry.MotionSensor)),
			read(band(h, EventSOS)), ticks(3*h, 10*h, 30*m), read(meter(10*h+m, 200))), nil},
		{"a last will, then back", steps(read(meter(0, 1), heartbeat("pir-1", registry.MotionSensor, 0),
			Reading{DeviceID: "wm-1", HouseholdID: "h1", Kind: registry.WaterMeter, Stream: Status, TS: t0.Add(h), Online: ptr(false)}),
			ticks(h, 2*h, 30*m), read(meter(2*h+m, 2))), nil},
		{"across a restart", steps(read(meter(0, 1), band(0, EventSOS)), ticks(0, 3*h, h)),
			func(t *testing.T, e *Engine) *Engine { return restart(t, e, map[string][]byte{}, t0.Add(3*h)) }},
		{"a retracted device_offline", steps(read(meter(0, 1), band(0, EventSOS))),
			func(t *testing.T, e *Engine) *Engine {
				for _, a := range e.Advance(t0.Add(3 * h)) {
					if a.Rule == RuleDeviceOffline {
						e.Retract(a, t0.Add(4*h))
					}
				}
				return e
			}},
		{"a household removed", steps(read(meter(0, 1), band(0, EventSOS))),
			func(t *testing.T, e *Engine) *Engine { e.Remove("h1"); return e }},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEngine(t)
			now := t0.Add(-time.Hour)
			for i, s := range c.steps {
				at := t0.Add(s.tick)
				if s.reading != nil {
					e.Process(*s.reading)
					at = s.reading.TS
				}
				now = maxTime(now, at)
				e.Advance(now)
				if got, want := e.OnlineDevices(), walkOnline(e, now); got != want {
					t.Fatalf("step %d (%v): %d devices online, a walk finds %d", i, at.Sub(t0), got, want)
				}
			}
			if c.then != nil {
				e = c.then(t, e)
				if got, want := e.OnlineDevices(), walkOnline(e, now); got != want {
					t.Fatalf("at the end: %d devices online, a walk finds %d", got, want)
				}
			}
		})
	}
}

// heartbeat1 is heartbeat as a device of every().
func heartbeat1(id string, kind registry.DeviceKind) func(time.Duration) Reading {
	return func(at time.Duration) Reading { return heartbeat(id, kind, at) }
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// walkOnline counts online devices the way eldersafe_devices_online did
// before it was a counter: every device of every household, as of now.
func walkOnline(e *Engine, now time.Time) int {
	global := e.cfg.Load()
	n := 0
	for i := range e.shards {
		s := &e.shards[i]
		s.mu.Lock()
		for _, h := range s.households {
			for j := range h.devices {
				if h.devices[j].online(now.UnixNano(), h.config(global)) {
					n++
				}
			}
		}
		s.mu.Unlock()
	}
	return n
}

func TestRemoveForgetsAHousehold(t *testing.T) {
	e := newEngine(t)
	run(e, every(0, 2*h, 15*m, unchanged(100)))
	e.Remove("h1")
	if st := e.Status("h1", t0.Add(2*h)); st != nil {
		t.Errorf("status after removal: %+v", st)
	}
	if got := run(e, ticks(2*h, 20*h, 15*m)); got != nil {
		t.Errorf("a removed household still fires: %q", got)
	}
	if err := e.Checkpoint(func(b []State, _ bool) error {
		for _, st := range b {
			if st.HouseholdID == "h1" {
				t.Error("a removed household is checkpointed")
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// TestRestoreHouseholdIsRestoreThenExpectDevice: restoring a household in
// one step, as a start from a snapshot does, leaves the engine as Restore,
// then ExpectDevice for each device did, and keeps the device ids handed
// over rather than copies.
func TestRestoreHouseholdIsRestoreThenExpectDevice(t *testing.T) {
	e := newEngine(t)
	run(e, steps(read(pir(0), door(0), power(0, 5), band(0, EventFall)), every(0, 3*h, 15*m, unchanged(100))))
	saved := map[string][]byte{}
	restart(t, e, saved, t0.Add(3*h))
	now := t0.Add(5 * h)
	var devices []SavedDevice
	e.SaveAll(func(_ State, known []SavedDevice) bool {
		for _, d := range known {
			devices = append(devices, SavedDevice{ID: strings.Clone(d.ID), Kind: d.Kind})
		}
		return true
	})
	devices[0].Every = 90 * time.Minute
	// Registered, never heard from: in no state yet.
	devices = append(devices, SavedDevice{ID: "new-pir", Kind: registry.MotionSensor, Every: 2 * time.Hour})
	states := []State{{HouseholdID: "h1", Data: saved["h1"]}, {HouseholdID: "h2"}}
	twoSteps, oneStep := newEngine(t), newEngine(t)
	for _, st := range states {
		if len(st.Data) > 0 {
			if err := twoSteps.Restore(st, now); err != nil {
				t.Fatal(err)
			}
		}
		for _, d := range devices {
			twoSteps.ExpectDevice(st.HouseholdID, d, now)
		}
		if err := oneStep.RestoreHousehold(st, devices, now); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []string{"h1", "h2"} {
		if a, b := twoSteps.Status(id, now), oneStep.Status(id, now); !reflect.DeepEqual(a, b) || len(b) != len(devices) {
			t.Errorf("%s: status %+v in one step, want %+v", id, b, a)
		}
	}
	if a, b := twoSteps.OnlineDevices(), oneStep.OnlineDevices(); a != b {
		t.Errorf("%d devices online in one step, want %d", b, a)
	}
	later := steps(ticks(5*h, 80*h, 30*m))
	// Sorted: the two engines' shards, and so h1 and h2, come in different orders.
	a, b := run(twoSteps, later), run(oneStep, later)
	slices.Sort(a)
	slices.Sort(b)
	if !slices.Equal(a, b) || len(b) == 0 {
		t.Errorf("alerts after restoring in one step %q, want %q", b, a)
	}
	oneStep.SaveAll(func(st State, known []SavedDevice) bool {
		for _, d := range known {
			i := slices.IndexFunc(devices, func(h SavedDevice) bool { return h.ID == d.ID })
			if i < 0 || unsafe.StringData(d.ID) != unsafe.StringData(devices[i].ID) {
				t.Errorf("%s: device %s is a copy of the id handed over", st.HouseholdID, d.ID)
			}
		}
		return true
	})
}

// TestSnapshotKeepsWhatIsUnwritten: a snapshot taken with a journal holds
// households the store lacks; restored from it, they, and only they, are
// what the next checkpoint writes, as they were.
func TestSnapshotKeepsWhatIsUnwritten(t *testing.T) {
	e := newEngine(t)
	other := pir(2 * m)
	other.HouseholdID, other.DeviceID = "h2", "pir-2"
	run(e, read(pir(m), other))
	if err := e.CheckpointHouseholds([]string{"h1"}, func([]State, bool) error { return nil }); err != nil {
		t.Fatal(err)
	}
	type saved struct {
		st      State
		devices []SavedDevice
	}
	var snapshot []saved
	e.SaveAll(func(st State, known []SavedDevice) bool {
		st.Data = slices.Clone(st.Data)
		snapshot = append(snapshot, saved{st, slices.Clone(known)})
		return true
	})
	next := newEngine(t)
	for _, s := range snapshot {
		if want := s.st.HouseholdID == "h2"; s.st.Unwritten != want {
			t.Errorf("%s saved unwritten: %v, want %v", s.st.HouseholdID, s.st.Unwritten, want)
		}
		if err := next.RestoreHousehold(s.st, s.devices, t0.Add(3*m)); err != nil {
			t.Fatal(err)
		}
	}
	var written []string
	if err := next.Checkpoint(func(batch []State, _ bool) error {
		for _, st := range batch {
			written = append(written, st.HouseholdID)
			i := slices.IndexFunc(snapshot, func(s saved) bool { return s.st.HouseholdID == st.HouseholdID })
			if !bytes.Equal(st.Data, snapshot[i].st.Data) {
				t.Errorf("%s written as\n% x\nwant\n% x", st.HouseholdID, st.Data, snapshot[i].st.Data)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(written, []string{"h2"}) {
		t.Errorf("checkpoint after the restore wrote %v, want [h2]", written)
	}
}

// TestRestoringARegisteredHouseholdAllocatesOnce: a restart restores a
// million households registered and not yet heard from, five devices each.
// Their device lists are allocated at their size, and the households
// themselves in blocks, so a household is one allocation, not six.
func TestRestoringARegisteredHouseholdAllocatesOnce(t *testing.T) {
	e := newEngine(t)
	const runs = 1000
	e.Reserve(4 * runs)
	var devices []SavedDevice
	for i, k := range registry.DeviceKinds {
		devices = append(devices, SavedDevice{ID: "d" + strconv.Itoa(i), Kind: k})
	}
	ids := make([]string, runs+1) // AllocsPerRun runs once more to warm up
	for i := range ids {
		ids[i] = "h" + strconv.Itoa(i)
	}
	next := 0
	allocs := testing.AllocsPerRun(runs, func() {
		if err := e.RestoreHousehold(State{HouseholdID: ids[next]}, devices, t0); err != nil {
			t.Fatal(err)
		}
		next++
	})
	if allocs > 1.2 {
		t.Errorf("%.2f allocations a household restored, want about 1", allocs)
	}
	if st := e.Status(ids[runs], t0); len(st) != len(devices) {
		t.Errorf("the last household restored has %d devices, want %d", len(st), len(devices))
	}
}

// TestStateSizeBoundsTheState: Checkpoint sizes its buffer by stateSize,
// which must not fall short of what appendState writes (a field added to
// one and not the other).
func TestStateSizeBoundsTheState(t *testing.T) {
	e := newEngine(t)
	lowPower := power(0, 500)
	lowPower.BatteryPct = ptr(10.0)
	run(e, steps(read(pir(0), door(-h), lowPower), every(0, 50*h, 15*m, powerRising(0.01), pirBeat, doorBeat, unchanged(100))))
	n := 0
	for i := range e.shards {
		for _, hh := range e.shards[i].households {
			n++
			if got, most := len(hh.appendState(nil)), hh.stateSize(); got > most {
				t.Errorf("household %s: %d bytes of state, stateSize %d", hh.id, got, most)
			}
		}
	}
	if n == 0 {
		t.Fatal("no household to measure")
	}
}

// TestRestoreKeepsAKnownDevicesInterval: a state restored over a household
// the engine knows (a standby following its leader's writes) keeps each
// device's own expected interval, which the saved state does not hold, as
// a start (Restore, then ExpectDevice) does.
func TestRestoreKeepsAKnownDevicesInterval(t *testing.T) {
	sixHourly := SavedDevice{ID: "pir-1", Kind: registry.MotionSensor, Every: 6 * h}
	leader := newEngine(t)
	leader.ExpectDevice("h1", sixHourly, t0)
	run(leader, read(pir(0)))
	var saved State
	leader.SaveAll(func(st State, _ []SavedDevice) bool {
		saved = State{HouseholdID: st.HouseholdID, Data: bytes.Clone(st.Data)}
		return true
	})
	following, started := newEngine(t), newEngine(t)
	following.ExpectDevice("h1", sixHourly, t0.Add(-h))
	if err := following.Restore(saved, t0.Add(m)); err != nil {
		t.Fatal(err)
	}
	if err := started.Restore(saved, t0.Add(m)); err != nil {
		t.Fatal(err)
	}
	started.ExpectDevice("h1", sixHourly, t0.Add(m))
	// Past device_offline's 6 h, within three of its own intervals.
	later := t0.Add(13 * h)
	if a, b := started.Status("h1", later), following.Status("h1", later); !reflect.DeepEqual(a, b) || !b[0].Online {
		t.Errorf("pir-1 13 hours after it spoke: %+v, want as after a start, online: %+v", b, a)
	}
}
