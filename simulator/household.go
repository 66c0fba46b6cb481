package simulator

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/eldersafe/eldersafe/registry"
)

// never is a time that does not come.
const never = math.MaxInt64

// What a pending message is.
const (
	motionOn uint8 = iota
	motionOff
	doorOpen
	doorClose
	fallEvent
	sosEvent
	garbageMsg
)

// pend is a message due at a moment: a PIR seeing the resident, the door,
// an alarm, a malformed message.
type pend struct {
	at   int64
	dev  uint8
	what uint8
	arg  uint16 // garbage: which malformed message
}

// heavyQuarter is the water a quarter hour must show for the monitor to see
// flow: 0.5 L/min (rules: minFlowLPM). maxHeavyRun is how many such quarters
// in a row a routine may make; the eighth would fire water_continuous_flow
// (2 h), so the seventh is put off by a quarter.
const (
	heavyQuarter = 7.5
	maxHeavyRun  = 6
)

// household is one simulated home: the resident, the devices, and what the
// scenario does to them.
type household struct {
	idx     int
	id      string // as the scenario names it
	fullID  string // as the monitor knows it
	profile *Profile
	habits  habits
	rng     *rand.Rand
	loc     *time.Location
	lat     float64
	lon     float64
	dev     [numDevices]device

	// The resident.
	place      place
	asleep     bool
	worn       bool
	heartRate  float64
	plan       dayPlan
	seg        int // next segment of plan to enter
	use        int // next water use of plan
	lastOutDay int64
	// halted is when the routine resumes after an incident stopped it
	// (immobile, hospital, leaves); 0 while it runs, never for good.
	halted  int64
	staysIn [2]int64
	// bandOff is when the wristband stays on its charger (band_off).
	bandOff [2]int64

	// The water meter: water is the register, carry what the flow guard put
	// off to the next quarter, heavy the run of quarters with flow.
	water    float64
	reported float64
	heavy    int
	tap      [2]int64
	tapAt    int64

	// The power meter: appliances run by the resident (watts) and by
	// themselves (the washing machine) on top of the fridge's base load.
	baseW   float64
	watts   float64
	machine [2]int64
	kwh     float64
	kwhAt   int64

	incidents []incident
	inc       int // next incident
	pending   []pend
	dup       [2]int64
	dupDev    int
	hold      [2]int64
	holdDev   int
	held      []Message

	// topics is "{prefix}/devices/", the start of every device topic.
	topics string
	last   struct {
		waterRise, motion, doorOpen int64
		message                     [numDevices]int64
	}

	// src is the source each device speaks, empty for eldersafe's own; the
	// gateway, when one of them needs it, publishes for them.
	src     [numDevices]registry.Source
	gateway string
}

// Anchors are what a household's expectations may be timed from: the last
// time the monitor could see each kind of activity.
type Anchors struct {
	// WaterRise is the ts of the last meter reading whose register was higher
	// than the one before.
	WaterRise time.Time
	// Motion and DoorOpen are the ts of the last motion: true and open: true.
	Motion, DoorOpen time.Time
	// Message is the ts of each device's last valid message, by device name.
	Message map[string]time.Time
	// Incidents are the household's incidents' times, in order.
	Incidents []time.Time
}

func newHousehold(idx int, id, fullID string, p *Profile, hb habits, seed uint64, loc *time.Location, start int64, topicPrefix string, src [numDevices]registry.Source) *household {
	h := &household{
		idx: idx, id: id, fullID: fullID, profile: p, habits: hb, loc: loc, topics: topicPrefix + "/devices/", src: src,
		rng:     rand.New(rand.NewPCG(seed, splitmix(uint64(idx)+1))),
		dupDev:  -1,
		holdDev: -1,
	}
	r := h.rng
	h.lat = 31.10 + r.Float64()*0.30
	h.lon = 121.30 + r.Float64()*0.40
	h.heartRate = 62 + r.Float64()*16
	// The fridge and standby loads: 40-48 W, 0.96-1.15 kWh a day, under the
	// power_no_use floor of 1.2 kWh, so a home where nothing else runs is
	// noticed.
	h.baseW = 40 + r.Float64()*8
	h.water = math.Round(50000 + r.Float64()*400000)
	h.reported = h.water
	h.kwh = math.Round((1000+r.Float64()*9000)*1000) / 1000
	h.kwhAt = start
	h.tapAt = start
	for i := range h.dev {
		d := &h.dev[i]
		d.id = fullID + "-" + roles[i].suffix
		d.next = start + r.Int64N(roles[i].period)
		level, rate := 40+r.Float64()*60, idleDrain
		switch i {
		case waterMeter, powerMeter:
			level, rate = 70+r.Float64()*30, meterDrain
		case wristband:
			level, rate = maxBattery, chargeRate // it spent the night on its charger
		}
		d.battery = battery{level: level, at: start, rate: rate}
	}
	if slices.ContainsFunc(src[:], needsGateway) {
		h.gateway = fullID + "-" + gatewaySuffix
	}
	h.lastOutDay = dayOf(start, loc).number() - 1
	h.replan(start, true)
	return h
}

// splitmix spreads small integers over 64 bits, so neighbouring households'
// PCG streams do not start alike.
func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func (h *household) running() bool { return h.halted == 0 }

// segStart is when the next segment of the routine begins.
func (h *household) segStart() int64 {
	if !h.running() {
		return never
	}
	if h.seg < len(h.plan.segs) {
		return h.plan.segs[h.seg].start
	}
	return h.plan.nextWake
}

// nextAt is the time of the household's next event.
func (h *household) nextAt() int64 {
	t := int64(never)
	if h.inc < len(h.incidents) {
		t = h.incidents[h.inc].at
	}
	if h.halted != 0 {
		t = min(t, h.halted)
	}
	t = min(t, h.segStart())
	if len(h.held) > 0 {
		t = min(t, h.hold[1])
	}
	if len(h.pending) > 0 {
		t = min(t, h.pending[0].at)
	}
	for i := range h.dev {
		if !h.dev[i].dead {
			t = min(t, h.dev[i].next)
		}
	}
	return t
}

// step handles the household's earliest event, which is at t (nextAt), and
// appends what it sends to out. The order among events at the same moment is
// fixed: incidents, the routine, released messages, pending messages, then
// telemetry by device.
func (h *household) step(t int64, out *[]Message) {
	switch {
	case h.inc < len(h.incidents) && h.incidents[h.inc].at <= t:
		h.inc++
		h.apply(h.incidents[h.inc-1], out)
	case h.halted != 0 && h.halted <= t:
		h.halted = 0
		h.replan(t, false)
	case h.segStart() <= t:
		if h.seg >= len(h.plan.segs) {
			h.newDay()
		}
		h.seg++
		h.enter(t, h.plan.segs[h.seg-1])
	case len(h.held) > 0 && h.hold[1] <= t:
		h.release(out)
	case len(h.pending) > 0 && h.pending[0].at <= t:
		p := h.pending[0]
		h.pending = h.pending[1:]
		h.sendPending(t, p, out)
	default:
		for i := range h.dev {
			if d := &h.dev[i]; !d.dead && d.next <= t {
				d.next += roles[i].period
				h.telemetry(t, i, out)
				return
			}
		}
	}
}

// newDay plans the day that begins now, as the resident wakes.
func (h *household) newDay() {
	date, wake := h.plan.nextDate, h.plan.nextWake
	daysIn := int(date.number() - h.lastOutDay - 1)
	h.plan = planDay(h.rng, h.profile, h.habits, h.loc, date, wake, daysIn, h.mayNotGoOut)
	h.seg, h.use = 0, 0
	h.machine = h.plan.machine
	if h.plan.wentOut {
		h.lastOutDay = date.number()
	}
}

func (h *household) mayNotGoOut(t int64) bool { return within(h.staysIn, t) }

// replan makes the resident's day afresh from t: at the start of the run, and
// when the routine resumes after an incident. The resident goes from wherever
// they are to where the new plan has them.
func (h *household) replan(t int64, initial bool) {
	date := dayOf(t, h.loc)
	p := h.profile
	wake := h.habits.wake(h.rng, p, h.loc, date)
	var plan dayPlan
	if t < wake {
		plan = dayPlan{segs: []segment{{start: t, place: bedroom, flags: asleep | bandOff}}, nextWake: wake, nextDate: date}
	} else {
		daysIn := int(date.number() - h.lastOutDay - 1)
		plan = planDay(h.rng, p, h.habits, h.loc, date, wake, daysIn, h.mayNotGoOut)
	}
	i := max(0, sortSearch(len(plan.segs), func(i int) bool { return plan.segs[i].start > t })-1)
	plan.segs[i].start = t
	for _, s := range plan.segs[i:] {
		if s.place == outside {
			h.lastOutDay = date.number()
			break
		}
	}
	h.plan, h.seg = plan, i+1
	h.use = sortSearch(len(plan.uses), func(i int) bool { return plan.uses[i].at >= t })
	h.machine = plan.machine
	if h.machine[1] <= t {
		h.machine = [2]int64{}
	}
	s := plan.segs[i]
	if initial {
		h.place, h.asleep = s.place, s.flags&asleep != 0
		h.watts = float64(s.watts)
		h.band(t, !h.asleep)
		return
	}
	// Whatever they were wearing, a resident who starts afresh awake has the
	// wristband on, and one who starts asleep has it charging.
	s.flags &^= bandOn | bandOff
	if s.flags&asleep != 0 {
		s.flags |= bandOff
	} else {
		s.flags |= bandOn
	}
	h.enter(t, s)
}

func sortSearch(n int, f func(int) bool) int {
	lo, hi := 0, n
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if !f(m) {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// enter moves the resident into segment s at t, with what the sensors see on
// the way: a PIR as they come into a room (and it clearing after they left),
// the hall and the door on the way out and back in.
func (h *household) enter(t int64, s segment) {
	h.powerTo(t)
	h.watts = float64(s.watts)
	from, to := h.place, s.place
	sleeping := s.flags&asleep != 0
	switch {
	case from == to:
		if h.asleep && !sleeping {
			h.push(t+30, firstPIR+int(to), motionOn)
		}
	case to == outside:
		// Out through the hall; the door opens after the last motion, so
		// the monitor presumes the home empty.
		h.push(t, firstPIR+int(hall), motionOn)
		h.push(t+30, doorSensor, doorOpen)
		h.push(t+40, doorSensor, doorClose)
		if from != hall {
			h.push(t+60, firstPIR+int(from), motionOff)
		}
		h.push(t+150, firstPIR+int(hall), motionOff)
	case from == outside:
		h.push(t, doorSensor, doorOpen)
		h.push(t+10, doorSensor, doorClose)
		h.push(t+20, firstPIR+int(hall), motionOn)
		if to != hall {
			h.push(t+45, firstPIR+int(to), motionOn)
			h.push(t+120, firstPIR+int(hall), motionOff)
		}
	default:
		h.push(t+10, firstPIR+int(to), motionOn)
		h.push(t+90, firstPIR+int(from), motionOff)
	}
	if s.flags&bandOn != 0 {
		h.band(t, true)
	}
	if s.flags&bandOff != 0 {
		h.band(t, false)
	}
	h.place, h.asleep = to, sleeping
	if !sleeping && to != outside {
		// Up and about: the room's PIR sees them every 8 to 25 minutes.
		until := h.segStart()
		for x := t + 8*minute + h.rng.Int64N(17*minute); x < until-minute; x += 8*minute + h.rng.Int64N(17*minute) {
			h.push(x, firstPIR+int(to), motionOn)
		}
	}
}

// band puts the wristband on, or on its charger; it stays there while
// band_off holds it.
func (h *household) band(t int64, on bool) {
	if on && within(h.bandOff, t) {
		return
	}
	h.worn = on
	rate := float64(chargeRate)
	if on {
		rate = wornDrain
	}
	h.dev[wristband].battery.setRate(t, rate)
}

// push queues a message due at `at`, keeping the queue in time order (and,
// among equal times, in the order pushed).
func (h *household) push(at int64, dev int, what uint8) {
	h.pushPend(pend{at: at, dev: uint8(dev), what: what})
}

func (h *household) pushPend(p pend) {
	i := sortSearch(len(h.pending), func(i int) bool { return h.pending[i].at > p.at })
	h.pending = slices.Insert(h.pending, i, p)
}

// halt stops the routine at t until `until` (never: for good): no more
// motion or door from the resident, no water, appliances off. A resident
// leaving who is already on the way out still opens the door.
func (h *household) halt(t, until int64, leaving bool) {
	h.halted = until
	h.pending = slices.DeleteFunc(h.pending, func(p pend) bool {
		return p.at >= t && (p.what == motionOn || p.what == doorOpen && !leaving)
	})
	h.plan.uses = h.plan.uses[:max(h.use, sortSearch(len(h.plan.uses), func(i int) bool { return h.plan.uses[i].at >= t }))]
	h.powerTo(t)
	h.watts = 0
	if h.machine[1] > t {
		h.machine[1] = max(h.machine[0], t)
	}
}

// apply starts an incident.
func (h *household) apply(in incident, out *[]Message) {
	t := in.at
	until := in.until
	if until == 0 {
		until = never
	}
	switch in.action {
	case ActionFall:
		h.push(t, wristband, fallEvent)
	case ActionSOS:
		h.push(t, wristband, sosEvent)
	case ActionImmobile:
		h.halt(t, until, false)
	case ActionHospital, ActionLeaves:
		h.halt(t, until, h.place == outside)
		if h.place != outside {
			h.enter(t, segment{start: t, place: outside})
		}
		h.band(t, false) // left at home on its charger
		if in.action == ActionHospital {
			*out = append(*out, Message{At: time.Unix(t, 0), Away: &Away{
				HouseholdID: h.fullID, From: time.Unix(t, 0).In(h.loc), Until: time.Unix(until, 0).In(h.loc),
				Reason: "hospital stay (simulated)",
			}})
		}
	case ActionStaysIn:
		h.staysIn = [2]int64{t, until}
		if h.running() {
			h.replan(t, false)
		}
	case ActionTapRunning:
		h.waterTo(t)
		h.tap = [2]int64{t, until}
	case ActionDeviceOffline:
		h.dev[in.dev].off = [2]int64{t, until}
	case ActionBatteryDies:
		b := &h.dev[in.dev].battery
		b.update(t)
		b.rate, b.dying = faultDrain, true
	case ActionGarbage:
		n := max(1, in.count)
		span := (until - t) / int64(n)
		for i := range n {
			dev := in.dev
			if dev < 0 {
				dev = i % numDevices
			}
			h.pushPend(pend{at: t + int64(i)*span, dev: uint8(dev), what: garbageMsg, arg: uint16(i)})
		}
	case ActionDuplicates:
		h.dup, h.dupDev = [2]int64{t, until}, in.dev
	case ActionOutOfOrder:
		h.hold, h.holdDev = [2]int64{t, until}, in.dev
	case ActionClockSkew:
		h.dev[in.dev].skew = [2]int64{t, until}
	case ActionSensorStuck:
		h.dev[in.dev].stuck = [2]int64{t, until}
	case ActionBandOff:
		h.band(t, false)
		h.bandOff = [2]int64{t, until}
	case ActionVisitor:
		h.visit(t, until)
	}
}

// visit brings someone in at t until `until`: the door and the hall as they
// come and go, the living room's PIR while they stay.
func (h *household) visit(t, until int64) {
	if until == never {
		until = t + 2*3600
	}
	h.push(t, doorSensor, doorOpen)
	h.push(t+10, doorSensor, doorClose)
	h.push(t+20, firstPIR+int(hall), motionOn)
	for x := t + 60; x < until; x += 5*minute + h.rng.Int64N(10*minute) {
		h.push(x, firstPIR+int(livingRoom), motionOn)
	}
	h.push(until-60, firstPIR+int(hall), motionOn)
	h.push(until-30, doorSensor, doorOpen)
	h.push(until-20, doorSensor, doorClose)
}

// release sends what the gateway held, shuffled.
func (h *household) release(out *[]Message) {
	h.rng.Shuffle(len(h.held), func(i, j int) { h.held[i], h.held[j] = h.held[j], h.held[i] })
	at := time.Unix(h.hold[1], 0)
	for _, m := range h.held {
		m.At = at
		*out = append(*out, m)
	}
	h.held = h.held[:0]
}

// waterTo runs the tap left running into the register up to t.
func (h *household) waterTo(t int64) {
	if from, to := max(h.tapAt, h.tap[0]), min(t, h.tap[1]); to > from && h.tap[1] > h.tap[0] {
		h.water += tapFlow * float64(to-from) / 60
	}
	h.tapAt = max(h.tapAt, t)
}

// readWater is the register at a report: the routine's uses up to t, unless
// six quarters in a row already showed flow, in which case this quarter's
// uses wait for the next one (the resident does the dishes a little later).
func (h *household) readWater(t int64) float64 {
	h.waterTo(t)
	end := h.use
	var q float64
	for end < len(h.plan.uses) && h.plan.uses[end].at <= t {
		q += float64(h.plan.uses[end].liters)
		end++
	}
	if q >= heavyQuarter && h.heavy >= maxHeavyRun {
		q, end = 0, h.use
	}
	h.use = end
	h.water += q
	if q >= heavyQuarter {
		h.heavy++
	} else {
		h.heavy = 0
	}
	return h.water
}

// powerTo adds the energy used up to t to the register.
func (h *household) powerTo(t int64) {
	if t <= h.kwhAt {
		return
	}
	wh := (h.baseW + h.watts) * float64(t-h.kwhAt) / 3600
	if from, to := max(h.kwhAt, h.machine[0]), min(t, h.machine[1]); to > from {
		wh += washerWatts * float64(to-from) / 3600
	}
	h.kwh += wh / 1000
	h.kwhAt = t
}

// washerWatts is the washing machine's draw while it runs.
const washerWatts = 400

func (h *household) powerNow(t int64) float64 {
	w := h.baseW + h.watts
	if t >= h.machine[0] && t < h.machine[1] {
		w += washerWatts
	}
	return w
}

// telemetry sends device i's periodic report.
func (h *household) telemetry(t int64, i int, out *[]Message) {
	d := &h.dev[i]
	d.battery.update(t)
	if d.battery.level <= deadBattery {
		d.dead = true
		return
	}
	battery := math.Round(d.battery.level)
	switch i {
	case waterMeter:
		liters := h.stuckAt(t, i, math.Round(h.readWater(t)*10)/10)
		rose := liters > h.reported
		if h.send(t, i, "telemetry", out, func(b payload) payload {
			return b.num("total_liters", liters, 1).num("battery_pct", battery, 0)
		}) && rose {
			h.reported = liters
			h.last.waterRise = max(h.last.waterRise, t)
		}
	case powerMeter:
		h.powerTo(t)
		kwh, w := h.stuckAt(t, i, math.Round(h.kwh*1000)/1000), math.Round(h.powerNow(t))
		h.send(t, i, "telemetry", out, func(b payload) payload {
			return b.num("total_kwh", kwh, 3).num("power_w", w, 0).num("battery_pct", battery, 0)
		})
	case wristband:
		worn, hr := h.worn, math.Round(h.heartRate+float64(h.rng.IntN(9)-4))
		if h.asleep {
			hr -= 8
		}
		h.send(t, i, "telemetry", out, func(b payload) payload {
			b = b.num("battery_pct", battery, 0).boolean("worn", worn)
			if worn {
				b = b.num("heart_rate", hr, 0)
			}
			return b
		})
	default:
		h.send(t, i, "telemetry", out, func(b payload) payload { return b.num("battery_pct", battery, 0) })
	}
}

// stuckAt is what meter i reports at t for the true register v: the
// register it showed when it stuck, while it is stuck.
func (h *household) stuckAt(t int64, i int, v float64) float64 {
	d := &h.dev[i]
	if !within(d.stuck, t) {
		d.frozen = 0
		return v
	}
	if d.frozen == 0 {
		d.frozen = v
	}
	return d.frozen
}

// sendPending sends a queued message.
func (h *household) sendPending(t int64, p pend, out *[]Message) {
	i := int(p.dev)
	if within(h.dev[i].stuck, t) && p.what != garbageMsg {
		return
	}
	if (p.what == fallEvent || p.what == sosEvent) && !h.worn && within(h.bandOff, t) {
		return // on its charger: nobody wears it to fall with
	}
	switch p.what {
	case motionOn, motionOff:
		on, room := p.what == motionOn, roomNames[i-firstPIR]
		if h.send(t, i, "event", out, func(b payload) payload { return b.boolean("motion", on).str("room", room) }) && on {
			h.last.motion = max(h.last.motion, t)
		}
	case doorOpen, doorClose:
		open := p.what == doorOpen
		if h.send(t, i, "event", out, func(b payload) payload { return b.boolean("open", open) }) && open {
			h.last.doorOpen = max(h.last.doorOpen, t)
		}
	case fallEvent, sosEvent:
		event := "fall"
		if p.what == sosEvent {
			event = "sos"
		}
		lat, lon := h.lat, h.lon
		if h.place == outside {
			// Out of the home the band reports where it is: a little away.
			lat, lon = lat+0.004, lon-0.003
		}
		if h.send(t, i, "event", out, func(b payload) payload {
			return b.str("event", event).num("lat", lat, 5).num("lon", lon, 5).num("accuracy_m", 8, 0)
		}) {
			for j := len(*out) - 1; j >= 0 && (*out)[j].Device == h.dev[i].id; j-- {
				(*out)[j].Alarm = true
			}
		}
	case garbageMsg:
		h.garbage(t, i, int(p.arg), out)
	}
}

// garbage sends one malformed message; none of them carries a seq, so the
// device's real messages are not taken for duplicates.
func (h *household) garbage(t int64, i int, n int, out *[]Message) {
	d := &h.dev[i]
	if d.dead || within(d.off, t) {
		return
	}
	ts := time.Unix(t, 0).In(h.loc).Format(time.RFC3339)
	stream := "telemetry"
	var body string
	switch n % 8 {
	case 0:
		body = "battery low!!"
	case 1:
		body = `{"ts":"` + ts + `","battery_pct":`
	case 2:
		body = `{"ts":"` + ts + `","battery_pct":"full"}`
	case 3:
		body = `{"ts":"yesterday","battery_pct":50}`
	case 4:
		body = `[1,2,3]`
	case 5:
		body = `{"ts":"` + ts + `","note":"` + strings.Repeat("x", 5000) + `"}`
	case 6:
		stream, body = "diary", `{"ts":"`+ts+`","battery_pct":50}`
	case 7:
		body = `{"ts":true}`
	}
	*out = append(*out, h.speak(i, Message{At: time.Unix(t, 0), Device: d.id, Topic: h.topic(d.id, stream), Payload: []byte(body)}))
}

// send writes a message from device i stamped t, unless the device is dead or
// offline, and reports whether it was sent with a true ts. It applies the
// incidents that bend messages: a skewed clock, a gateway holding them,
// duplicates.
func (h *household) send(t int64, i int, stream string, out *[]Message, fields func(payload) payload) bool {
	d := &h.dev[i]
	if d.dead || within(d.off, t) {
		return false
	}
	ts, skewed := t, within(d.skew, t)
	if skewed {
		ts += skew
	}
	d.seq++
	m := h.speak(i, Message{
		At:      time.Unix(t, 0),
		Device:  d.id,
		Topic:   h.topic(d.id, stream),
		Payload: fields(newPayload(ts, h.loc, d.seq)).end(),
	})
	if !skewed {
		h.seen(i, t)
	}
	if within(h.hold, t) && (h.holdDev < 0 || h.holdDev == i) {
		h.held = append(h.held, m)
		return !skewed
	}
	*out = append(*out, m)
	if within(h.dup, t) && (h.dupDev < 0 || h.dupDev == i) {
		*out = append(*out, m)
	}
	return !skewed
}

func (h *household) seen(i int, t int64) { h.last.message[i] = max(h.last.message[i], t) }

// Anchors reports the household's anchors as of now.
func (h *household) Anchors() Anchors {
	a := Anchors{
		WaterRise: unixOrZero(h.last.waterRise),
		Motion:    unixOrZero(h.last.motion),
		DoorOpen:  unixOrZero(h.last.doorOpen),
		Message:   make(map[string]time.Time, numDevices),
	}
	for i, t := range h.last.message {
		if t != 0 {
			a.Message[roles[i].name] = time.Unix(t, 0)
		}
	}
	for _, in := range h.incidents {
		a.Incidents = append(a.Incidents, time.Unix(in.at, 0))
	}
	return a
}

func unixOrZero(t int64) time.Time {
	if t == 0 {
		return time.Time{}
	}
	return time.Unix(t, 0)
}

// topic is a device's topic for stream.
func (h *household) topic(id, stream string) string { return h.topics + id + "/" + stream }
