package main

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// TestCrashMotion: motion and heartbeats acknowledged right before a
// kill -9 still count after the restart, so no_motion neither raises a
// false alarm nor comes late. Under the event clock each run is one day of
// a fresh household with a PIR, Asia/Shanghai: heartbeats every hour,
// motion at 08:00 and 13:01, SIGKILL right after the 13:01 PUBACK,
// restart. At 14:30 no no_motion task may exist (had the 13:01 motion been
// forgotten, it would be due at 14:00 from the 08:00 one); with heartbeats
// on to 19:00, a tick at 19:02 must find it open (due at 19:01). That it
// opens also shows the first check can fail.
func TestCrashMotion(t *testing.T) {
	eachCrashBroker(t, []string{"--clock", "event", "--simulation"}, func(t *testing.T, r crashRig) {
		var tally motionTally
		for run := range r.settings.runs {
			// The household registered at 07:00 starts its countdown then.
			day := motionDay0.AddDate(0, 0, run)
			r.m.tick(at(day, 7, 0))
			tally.add(t, r.m.motionRun(r.b, r.push, run, day, nextMotionKill(r.rng, run)))
		}
		t.Logf("%s: %s", r.b.name, tally)
		if tally.falseAlarms+tally.late > 0 {
			t.Errorf("%s: acknowledged messages were forgotten (seed %d): %s", r.b.name, r.settings.seed, tally)
		}
	})
}

// motionDay0 is the first run's day. Each run is one day later; a start in
// the past keeps even 1,000 runs behind the wall clock.
var motionDay0 = time.Date(2023, 1, 2, 0, 0, 0, 0, shanghai())

func shanghai() *time.Location {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		panic(err) // time/tzdata is linked into the binary under test and this package
	}
	return loc
}

// at is hh:mm of day in the household's zone.
func at(day time.Time, hh, mm int) time.Time {
	return time.Date(day.Year(), day.Month(), day.Day(), hh, mm, 0, 0, day.Location())
}

// motionKill is how a run reaches the kill.
type motionKill struct {
	// paced waits morningSaved between the 13:00 heartbeat and the 13:01
	// motion, as the morning was long past; otherwise the whole
	// morning comes back to back and every message of it is at stake.
	paced bool
	// delay is from the 13:01 PUBACK to the kill. Mosquitto acknowledges
	// before the monitor has the message, so only a later kill catches the
	// monitor between handling it and keeping what it learnt.
	delay time.Duration
}

// morningSaved is longer than the monitor's checkpoint interval (1 s), so
// a monitor that saves its rules' state periodically has saved the morning.
const morningSaved = 1500 * time.Millisecond

// nextMotionKill alternates paced and back-to-back mornings, and kills at
// once, within 5 ms or within 300 ms of the PUBACK in turn: six runs cover
// every pair.
func nextMotionKill(rng *rand.Rand, run int) motionKill {
	k := motionKill{paced: run%2 == 0}
	switch run % 3 {
	case 1:
		k.delay = durationN(rng, 5*time.Millisecond)
	case 2:
		k.delay = durationN(rng, 300*time.Millisecond)
	}
	return k
}

func (k motionKill) String() string {
	morning := "back-to-back morning"
	if k.paced {
		morning = "morning saved " + morningSaved.String() + " before"
	}
	return fmt.Sprintf("%s, kill %v after the 13:01 PUBACK", morning, k.delay.Round(time.Microsecond))
}

// tick moves the event clock with POST /api/v1/clock.
func (m *crashMonitor) tick(ts time.Time) {
	m.t.Helper()
	m.api.must("POST", "/api/v1/clock", map[string]any{"ts": ts.Format(time.RFC3339)}, 200, nil)
}

// pir is a household's motion sensor: its connection and message counter.
type pir struct {
	t                     *testing.T
	b                     crashBroker
	household, id, secret string
	c                     mqtt.Client
	seq                   int
}

// publish sends one message and waits for its PUBACK.
func (p *pir) publish(stream string, ts time.Time, field string, value any) {
	p.t.Helper()
	p.seq++
	payload := fmt.Appendf(nil, `{"ts":%q,"seq":%d,%q:%v}`, ts.Format(time.RFC3339), p.seq, field, value)
	if tok := p.c.Publish(p.b.topic(p.id, stream), 1, false, payload); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		p.t.Fatalf("%s %s at %s: not acknowledged: %v", p.id, stream, ts.Format("15:04"), tok.Error())
	}
}

func (p *pir) heartbeat(ts time.Time) {
	p.t.Helper()
	p.publish("telemetry", ts, "battery_pct", 90)
}

func (p *pir) motion(ts time.Time) {
	p.t.Helper()
	p.publish("event", ts, "motion", true)
}

// motionResult is what one run saw.
type motionResult struct {
	run       int
	household string
	kill      motionKill
	early     *taskSummary // a no_motion task opened before 19:01: a false alarm
	late      bool         // none open by 19:02, although due at 19:01
}

// motionRun is one day of a new household; the clock is at its 07:00.
func (m *crashMonitor) motionRun(b crashBroker, push *pushReceiver, run int, day time.Time, kill motionKill) motionResult {
	m.t.Helper()
	r := motionResult{run: run, household: fmt.Sprintf("hm%d", run), kill: kill}
	p := &pir{t: m.t, b: b, household: r.household, id: fmt.Sprintf("pir%d", run)}
	p.secret = m.api.household(r.household, push, p.id, "motion_sensor")
	p.c = b.dial(m.t, p.id, p.secret)
	p.heartbeat(at(day, 7, 0))
	p.motion(at(day, 8, 0))
	for h := 9; h <= 13; h++ {
		p.heartbeat(at(day, h, 0))
	}
	if kill.paced {
		time.Sleep(morningSaved)
	}
	p.motion(at(day, 13, 1))
	time.Sleep(kill.delay) // at most 300 ms
	m.kill()
	p.c.Disconnect(0)
	m.restart()

	p.c = b.dial(m.t, p.id, p.secret)
	defer p.c.Disconnect(100)
	p.heartbeat(at(day, 14, 0))
	m.applied(p, at(day, 14, 0))
	m.tick(at(day, 14, 30))
	if tasks := m.api.tasks(r.household, "no_motion"); len(tasks) > 0 {
		r.early = &tasks[0]
		return r
	}
	for h := 15; h <= 19; h++ {
		p.heartbeat(at(day, h, 0))
	}
	m.applied(p, at(day, 19, 0))
	m.tick(at(day, 19, 2))
	var tasks []taskSummary
	if !within(firesWithin, func() bool { tasks = m.api.tasks(r.household, "no_motion"); return len(tasks) > 0 }) {
		r.late = true
	} else if tasks[0].OpenedAt.Before(at(day, 19, 1)) {
		r.early = &tasks[0] // opened after the 14:30 check, still before it was due
	}
	return r
}

// firesWithin bounds how long after the tick that passes its due time a
// task may take to open: the tick fires it before it is answered, unless
// ingest still applies older messages; then the next second's timer does.
const firesWithin = 3 * time.Second

// applied waits until the monitor has applied the sensor's message of ts,
// and so everything the sensor sent before it (Mosquitto redelivers the
// monitor's unacknowledged messages first, and a device's messages are
// applied in order): a tick after it cannot overtake any of them.
func (m *crashMonitor) applied(p *pir, ts time.Time) {
	m.t.Helper()
	if !within(settleTime, func() bool { return m.lastSeen(p.household, p.id).Equal(ts) }) {
		m.t.Fatalf("the %s message of %s is not applied after %v (last seen %s)", ts.Format("15:04"), p.id, settleTime, m.lastSeen(p.household, p.id))
	}
}

// lastSeen is the ts of the newest message the monitor applied from a device.
func (m *crashMonitor) lastSeen(householdID, deviceID string) time.Time {
	m.t.Helper()
	var h struct {
		Devices []struct {
			ID     string `json:"id"`
			Status *struct {
				LastSeen time.Time `json:"last_seen"`
			} `json:"status"`
		} `json:"devices"`
	}
	m.api.must("GET", "/api/v1/households/"+householdID, nil, 200, &h)
	for _, d := range h.Devices {
		if d.ID == deviceID && d.Status != nil {
			return d.Status.LastSeen
		}
	}
	return time.Time{}
}

// motionTally sums the runs of one broker.
type motionTally struct {
	runs, falseAlarms, late int
}

func (tl *motionTally) add(t *testing.T, r motionResult) {
	t.Helper()
	tl.runs++
	switch {
	case r.early != nil:
		tl.falseAlarms++
		t.Errorf("run %d (%s): FALSE ALARM: no_motion for %s opened at %s, due at 19:01 from the acknowledged 13:01 motion",
			r.run, r.kill, r.household, r.early.OpenedAt.In(motionDay0.Location()).Format("2006-01-02 15:04"))
	case r.late:
		tl.late++
		t.Errorf("run %d (%s): no no_motion for %s by 19:02, due at 19:01 from the acknowledged 13:01 motion and heartbeats: "+
			"the rule forgot what the sensor sent (or this check could not fail)", r.run, r.kill, r.household)
	}
}

func (tl motionTally) String() string {
	return fmt.Sprintf("%d crash runs: false no_motion alarms %d, no_motion not open when due %d (acknowledged messages forgotten)",
		tl.runs, tl.falseAlarms, tl.late)
}
