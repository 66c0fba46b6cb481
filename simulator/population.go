package simulator

import (
	"math/rand/v2"
	"time"
)

// A population (Scenario.Population) is a neighbourhood that lives as people
// do rather than as the rules expect: residents sleep late on Sundays, shower
// every other day, cook on gas, spend a day out or a weekend at their
// children's without telling anyone, have visitors, go to hospital, leave the
// wristband on its charger; devices are unplugged, stick or run flat; and
// now and then something real happens: a fall, a stroke, a tap left running.
// docs/trust.md gives the source of every rate.
//
// Each household draws its habits and its life from a stream of its own
// (the seed and its index), apart from the stream its days are planned
// with, so one seed makes one population.

// Rates of a population. Per-year rates are turned into a chance per day.
const (
	// Habits, the share of residents who have them (assumed).
	sundayLieInShare  = 0.6
	showerOtherShare  = 0.5
	gasShare          = 0.6
	forgetsBandShare  = 0.25     // often leaves the wristband on its charger
	bandOffDayOften   = 0.3      // a day's chance for them
	bandOffDaySeldom  = 0.03     // and for everyone else
	dayOutPerDay      = 1.0 / 15 // a day at a friend's, a trip: 8-12 h away, twice a month (assumed)
	weekendAwayChance = 0.15     // a weekend at the children's, per weekend (assumed)
	visitorPerDay     = 1.0 / 7
	hospitalPerYear   = 0.27 // NCHS: 573 ED visits a year per 1,000 aged 75-84; 47 % of older attenders admitted (HES 2015)
	hospitalToldShare = 0.5  // the family tells the office: an away period is recorded (assumed)

	// Devices (assumed: field figures were not found).
	unpluggedPerMonth = 0.02 // the power meter's plug pulled for 1-5 days
	batteryPerMonth   = 0.01 // a PIR's cell gives out
	stuckPerMonth     = 0.01 // a meter, a PIR or the door senses nothing for 2-7 days

	// Incidents.
	fallsPerYear      = 0.35 // WHO: 28-35 % of people over 65 fall each year, 32-42 % over 70
	fallDetected      = 0.8  // a worn detector's sensitivity in real life (Kangas 2015; Scheurer 2019)
	longLieShare      = 0.54 // Fleming & Brayne 2008: 54 % of falls ended with the person found on the floor
	strokesPerYear    = 0.01 // assumed, for people over 75
	tapsPerYear       = 0.1  // assumed
	falseFallPerMonth = 0.02 // a wristband knocked or dropped (assumed; see docs/trust.md)
	falseSOSPerMonth  = 0.02 // the button pressed by mistake (assumed)

	// A tap left running runs from tapMinMinutes to tapMaxMinutes, until the
	// resident closes it; one they close within tapIncident is no incident
	// (docs/trust.md#a-tap-closed-within-two-hours): the resident's own
	// busy hours (a shower, a load of washing, the dishes) show up to six
	// quarters of flow (maxHeavyRun), so no meter can tell it apart, and the
	// resident has seen to it before anyone could come.
	tapMinMinutes = 60
	tapMaxMinutes = 240
	tapIncident   = 2 * 3600 // seconds
)

const daySeconds = 24 * 3600

// life draws a household's habits and incidents. It is called before the
// household plans its first day.
type life struct {
	rng        *rand.Rand
	loc        *time.Location
	start, end int64
	// busy are spans in which the resident is away or already in trouble:
	// nothing else is drawn into them.
	busy [][2]int64
	out  []incident
}

// populate gives household h of a run from start to end its habits and
// the incidents of its life.
func populate(seed uint64, idx int, loc *time.Location, start, end int64) (habits, []incident) {
	l := &life{rng: rand.New(rand.NewPCG(seed^0x5eed0f11fe, splitmix(uint64(idx)+1))), loc: loc, start: start, end: end}
	r := l.rng
	var hb habits
	if r.Float64() < sundayLieInShare {
		hb.sundayLieIn = 60 + r.IntN(91)
	}
	hb.showerEveryOther = r.Float64() < showerOtherShare
	hb.gas = r.Float64() < gasShare
	bandOff := bandOffDaySeldom
	if r.Float64() < forgetsBandShare {
		bandOff = bandOffDayOften
	}
	// Away first (it decides when the resident is home), then the
	// incidents that befall a resident at home, then the devices.
	for d := l.firstDay(); d < end; d += daySeconds {
		wd := time.Unix(d, 0).In(loc).Weekday()
		switch {
		case r.Float64() < hospitalPerYear/365:
			at, dur := d+l.clock(8, 20), int64(3+r.IntN(8))*daySeconds
			action := ActionLeaves
			if r.Float64() < hospitalToldShare {
				action = ActionHospital
			}
			l.add(incident{at: at, until: at + dur, action: action}, true)
		case wd == time.Saturday && r.Float64() < weekendAwayChance:
			at := d + l.clock(9, 11)
			l.add(incident{at: at, until: at + int64(30+r.IntN(27))*3600, action: ActionLeaves}, true)
		case r.Float64() < dayOutPerDay:
			at := d + l.clock(8, 10)
			l.add(incident{at: at, until: at + int64(8+r.IntN(5))*3600, action: ActionLeaves}, true)
		}
	}
	for d := l.firstDay(); d < end; d += daySeconds {
		if r.Float64() < visitorPerDay {
			at := d + l.clock(14, 17)
			l.add(incident{at: at, until: at + int64(60+r.IntN(121))*minute, action: ActionVisitor}, false)
		}
		off := r.Float64() < bandOff
		if off {
			at := d + l.clock(6, 7)
			l.add(incident{at: at, until: at + 15*3600, action: ActionBandOff}, false)
		}
		if r.Float64() < fallsPerYear/365 {
			l.fall(d, off)
		}
		if r.Float64() < strokesPerYear/365 {
			at := d + l.clock(7, 21)
			l.add(incident{at: at, until: at + int64(12+r.IntN(37))*3600, action: ActionImmobile, truth: TruthStroke}, true)
		}
		if r.Float64() < tapsPerYear/365 {
			at := d + l.clock(7, 21)
			until := at + int64(tapMinMinutes+r.IntN(tapMaxMinutes-tapMinMinutes+1))*minute
			truth := ActionTapRunning
			if until-at < tapIncident {
				truth = "" // closed by the resident: see tapIncident
			}
			l.add(incident{at: at, until: until, action: ActionTapRunning, truth: truth}, false)
		}
		if r.Float64() < falseFallPerMonth/30 && !off {
			l.add(incident{at: d + l.clock(8, 20), action: ActionFall}, false)
		}
		if r.Float64() < falseSOSPerMonth/30 && !off {
			l.add(incident{at: d + l.clock(8, 20), action: ActionSOS}, false)
		}
	}
	months := float64(end-start) / (30 * daySeconds)
	l.fault(unpluggedPerMonth*months, powerMeter, ActionDeviceOffline, 1, 5)
	l.fault(batteryPerMonth*months, firstPIR+r.IntN(numRooms), ActionBatteryDies, 0, 0)
	stuck := []int{waterMeter, powerMeter, doorSensor, firstPIR + int(kitchen), firstPIR + int(livingRoom)}
	l.fault(stuckPerMonth*months, stuck[r.IntN(len(stuck))], ActionSensorStuck, 2, 7)
	return hb, l.out
}

// firstDay is the local midnight that begins the run's first day.
func (l *life) firstDay() int64 { return dayOf(l.start, l.loc).at(0, l.loc) }

// clock draws a moment between two hours of a day, in seconds after midnight.
func (l *life) clock(from, to int) int64 {
	return int64(from)*3600 + l.rng.Int64N(int64(to-from)*3600)
}

// fall befalls the resident at home on the day that begins at d: the
// wristband reports it if worn and it notices; the resident gets up, or lies
// there until somebody comes.
func (l *life) fall(d int64, bandOff bool) {
	r := l.rng
	at := d + l.clock(8, 20)
	detected := !bandOff && r.Float64() < fallDetected
	var lie int64
	if r.Float64() < longLieShare {
		lie = int64(6+r.IntN(25)) * 3600 // until a call goes unanswered and someone comes
	}
	if l.overlaps(at, at+max(lie, 1)) {
		return
	}
	if detected {
		// The truth lasts while they lie there: a task raised meanwhile
		// (no motion) found them too.
		l.add(incident{at: at, until: at + lie, action: ActionFall, truth: ActionFall}, false)
	}
	if lie > 0 {
		truth := TruthFallUnreported
		if detected {
			truth = "" // the fall is the truth: one incident
		}
		l.add(incident{at: at, until: at + lie, action: ActionImmobile, truth: truth}, true)
	}
}

// fault draws whether a device fails in the run, with chance p, for
// between lo and hi days (0: for good).
func (l *life) fault(p float64, dev int, action string, lo, hi int) {
	r := l.rng
	if r.Float64() >= p {
		return
	}
	at := l.start + r.Int64N(max(1, l.end-l.start))
	var until int64
	if hi > 0 {
		until = at + int64(lo+r.IntN(hi-lo+1))*daySeconds
	}
	l.out = append(l.out, incident{at: at, until: until, action: action, dev: dev, truth: action})
}

// add keeps an incident inside the run and out of the busy spans; a
// blocking one (away, immobile) makes its span busy.
func (l *life) add(in incident, blocking bool) {
	if in.at < l.start || in.at >= l.end {
		return
	}
	until := max(in.until, in.at+1)
	if l.overlaps(in.at, until) {
		return
	}
	in.dev = -1
	if blocking {
		l.busy = append(l.busy, [2]int64{in.at, until})
	}
	l.out = append(l.out, in)
}

func (l *life) overlaps(from, until int64) bool {
	for _, b := range l.busy {
		if from < b[1] && until > b[0] {
			return true
		}
	}
	return false
}
