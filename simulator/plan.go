package simulator

import (
	"math/rand/v2"
	"slices"
	"time"
)

// place is where the resident is: one of the rooms with a PIR, or out.
type place uint8

const (
	bedroom place = iota
	bathroom
	kitchen
	livingRoom
	hall
	outside
)

// numRooms is how many rooms have a PIR: every place but outside.
const numRooms = int(outside)

var roomNames = [numRooms]string{"bedroom", "bathroom", "kitchen", "living_room", "hall"}

// Segment flags.
const (
	asleep  uint8 = 1 << iota
	bandOn        // getting up: the wristband comes off its charger
	bandOff       // going to bed: the wristband goes on its charger
)

// segment is a stretch of the resident's day in one place.
type segment struct {
	start int64   // Unix seconds
	watts float32 // appliances the resident runs, above the base load
	place place
	flags uint8
}

// use is water drawn at a moment: a flush, a shower's worth, a sink of dishes.
type use struct {
	at     int64
	liters float32
}

// day is a calendar date in the household's zone.
type day struct {
	y int
	m time.Month
	d int
}

func dayOf(t int64, loc *time.Location) day {
	y, m, d := time.Unix(t, 0).In(loc).Date()
	return day{y, m, d}
}

// at is a clock time of the day, minutes after midnight; it may run past 24:00.
func (d day) at(minute int, loc *time.Location) int64 {
	return time.Date(d.y, d.m, d.d, 0, minute, 0, 0, loc).Unix()
}

func (d day) next() day {
	y, m, dd := time.Date(d.y, d.m, d.d+1, 12, 0, 0, 0, time.UTC).Date()
	return day{y, m, dd}
}

// number counts days, so that two dates can be subtracted.
func (d day) number() int64 {
	return time.Date(d.y, d.m, d.d, 12, 0, 0, 0, time.UTC).Unix() / 86400
}

const minute = 60 // seconds

// habits are what a population's residents do besides their profile; the
// zero value is the profile alone. They never draw from the household's
// random stream, so the same seed plans the same days with or without them.
type habits struct {
	// sundayLieIn is how many minutes later than usual the resident gets
	// up on Sundays.
	sundayLieIn int
	// showerEveryOther: a shower on every other day (even day numbers),
	// never on the others, instead of the profile's daily chance.
	showerEveryOther bool
	// gas: the stove and the water heater burn gas, so cooking and showers
	// use no power.
	gas bool
}

// wake is when the resident gets up on date.
func (hb habits) wake(rng *rand.Rand, p *Profile, loc *time.Location, date day) int64 {
	m := p.Wake[0] + rng.IntN(p.Wake[1]-p.Wake[0]+1)
	if time.Date(date.y, date.m, date.d, 12, 0, 0, 0, time.UTC).Weekday() == time.Sunday {
		m += hb.sundayLieIn
	}
	return date.at(m, loc)
}

// planner writes one resident's day as segments and water uses.
type planner struct {
	rng  *rand.Rand
	p    *Profile
	hb   habits
	loc  *time.Location
	segs []segment
	uses []use
	t    int64 // where the next segment starts
	// lastToilet is when the resident last went, so that no waking stretch
	// at home goes much beyond three hours without.
	lastToilet int64
	// machine is when the washing machine runs, [from, until); zero: not today.
	machine [2]int64
	// wentOut reports whether the day's plan has an outing.
	wentOut bool
}

// minutes draws a whole number of minutes in [lo, hi], in seconds.
func (b *planner) minutes(lo, hi int) int64 {
	return int64(lo+b.rng.IntN(hi-lo+1)) * minute
}

func (b *planner) liters(lo, hi float32) float32 {
	return lo + b.rng.Float32()*(hi-lo)
}

// seg appends a segment from b.t lasting dur. Lights add to the watts when
// the resident is up at home after dark.
func (b *planner) seg(pl place, dur int64, watts float32, flags uint8) int64 {
	start := b.t
	if pl != outside && flags&asleep == 0 {
		if h := time.Unix(start, 0).In(b.loc).Hour(); h >= 18 || h < 6 {
			watts += 40
		}
	}
	b.segs = append(b.segs, segment{start: start, place: pl, watts: watts, flags: flags})
	b.t += dur
	return start
}

func (b *planner) water(at int64, liters float32) {
	b.uses = append(b.uses, use{at: at, liters: liters})
}

func (b *planner) toilet() {
	s := b.seg(bathroom, b.minutes(4, 7), 0, 0)
	flush := float32(6)
	if b.rng.Float64() < 0.4 {
		flush = 3 // the small button
	}
	b.water(s+2*minute, flush)
	b.water(s+3*minute, b.liters(0.5, 1.5))
	b.lastToilet = s
}

func (b *planner) wash() {
	s := b.seg(bathroom, b.minutes(5, 8), 0, 0)
	b.water(s+2*minute, b.liters(3, 5))
}

// shower runs an electric water heater (unless it burns gas) and draws 35
// to 55 litres.
func (b *planner) shower() {
	var watts float32 = 1500
	if b.hb.gas {
		watts = 0
	}
	s := b.seg(bathroom, b.minutes(15, 22), watts, 0)
	b.water(s+3*minute, b.liters(14, 20))
	b.water(s+7*minute, b.liters(14, 20))
	b.water(s+11*minute, b.liters(7, 15))
}

// meal cooks (on an electric stove, unless it burns gas), eats and washes up.
func (b *planner) meal(cookLo, cookHi int, watts float32, dishes float32) {
	if b.hb.gas {
		watts = 0
	}
	s := b.seg(kitchen, b.minutes(cookLo, cookHi), watts, 0)
	b.water(s+2*minute, b.liters(1.5, 3))
	b.water(s+8*minute, b.liters(1.5, 3))
	eat := livingRoom
	if b.rng.Float64() < 0.4 {
		eat = kitchen
	}
	b.seg(eat, b.minutes(15, 30), 90, 0)
	s = b.seg(kitchen, b.minutes(8, 14), 0, 0)
	b.water(s+2*minute, b.liters(dishes*0.7, dishes*1.3))
}

// laundry loads the machine, which then fills three times over an hour on
// its own.
func (b *planner) laundry() {
	s := b.seg(bathroom, b.minutes(4, 7), 0, 0)
	b.machine = [2]int64{s + 5*minute, s + 65*minute}
	for i := range int64(3) {
		b.water(s+5*minute+i*20*minute, b.liters(12, 16))
	}
}

// home fills the time until `until` with what people do at home, never
// staying still long: a PIR sees the resident at least every 25 minutes
// (household.enter re-triggers it), and the toilet comes every two to three
// hours.
func (b *planner) home(until int64, laundry *bool) {
	for b.t < until {
		left := until - b.t
		switch {
		case left < 8*minute:
			b.seg(livingRoom, left, 0, 0)
			continue
		case b.t-b.lastToilet >= b.minutes(120, 180):
			b.toilet()
			continue
		case laundry != nil && *laundry:
			*laundry = false
			b.laundry()
			continue
		}
		var (
			pl    place
			dur   int64
			watts float32
		)
		switch r := b.rng.Float64(); {
		case r < 0.45:
			pl, dur, watts = livingRoom, b.minutes(30, 75), 90 // television or radio
		case r < 0.6:
			pl, dur, watts = kitchen, b.minutes(8, 15), 500 // the kettle, a snack
		case r < 0.8:
			pl, dur = bedroom, b.minutes(15, 40) // tidying, resting awake
		default:
			pl, dur = livingRoom, b.minutes(20, 45) // reading, a phone call
		}
		s := b.seg(pl, min(dur, left), watts, 0)
		if pl == kitchen {
			b.water(s+3*minute, b.liters(0.5, 1.5))
		}
	}
}

// outing leaves the home at leave for dur, then usually visits the toilet.
func (b *planner) outing(leave, dur int64, laundry *bool) {
	b.home(leave, laundry)
	b.seg(outside, dur, 0, 0)
	b.wentOut = true
	if b.rng.Float64() < 0.6 {
		b.toilet()
	}
}

// night sleeps until wake, with up to two trips to the toilet.
func (b *planner) night(wake int64) {
	b.seg(bedroom, b.minutes(3, 8), 0, 0)
	b.seg(bedroom, 0, 0, asleep|bandOff)
	var trips []int64
	switch r := b.rng.Float64(); {
	case r < 0.35:
	case r < 0.8:
		trips = []int64{b.t + 60*minute + b.rng.Int64N(max(1, wake-b.t-150*minute))}
	default:
		span := max(1, (wake-b.t-180*minute)/2)
		first := b.t + 60*minute + b.rng.Int64N(span)
		trips = []int64{first, first + 60*minute + b.rng.Int64N(span)}
	}
	for _, at := range trips {
		if at <= b.t || at+30*minute >= wake {
			continue
		}
		b.t = at
		b.toilet()
		b.seg(bedroom, 0, 0, asleep)
	}
	b.t = wake
}

// dayPlan is one resident day: from waking on date to waking the next day.
type dayPlan struct {
	segs     []segment
	uses     []use
	machine  [2]int64
	nextWake int64
	nextDate day
	wentOut  bool
}

// planDay plans the day that starts when the resident wakes on date. daysIn
// counts the whole days since the last outing; noOut reports whether the
// resident may not go out at a moment.
func planDay(rng *rand.Rand, p *Profile, hb habits, loc *time.Location, date day, wake int64, daysIn int, noOut func(int64) bool) dayPlan {
	b := &planner{rng: rng, p: p, hb: hb, loc: loc, t: wake, lastToilet: wake}
	draw := func(r [2]int) int { return r[0] + rng.IntN(r[1]-r[0]+1) }
	lunch := date.at(p.Lunch-20+rng.IntN(41), loc)
	dinner := date.at(p.Dinner-20+rng.IntN(41), loc)
	bed := date.at(draw(p.Bed), loc)
	shower := rng.Float64() < p.Shower
	if hb.showerEveryOther {
		shower = date.number()%2 == 0
	}
	morningShower := shower && rng.Float64() < p.MorningShower
	laundry := rng.Float64() < 0.3
	morningOut := rng.Float64() < p.MorningOut
	afternoonOut := rng.Float64() < p.AfternoonOut
	forced := daysIn >= p.MaxDaysIn
	outDur := int64(draw(p.OutMinutes)) * minute
	nap := rng.Float64() < p.Nap

	b.seg(bedroom, b.minutes(2, 5), 0, bandOn)
	b.toilet()
	b.wash()
	if morningShower {
		b.shower()
	}
	b.meal(12, 20, 700, 6)

	leave := max(b.t+b.minutes(10, 30), date.at(p.EarliestOut+rng.IntN(46), loc))
	if dur := min(outDur, lunch-25*minute-leave); (morningOut || (forced && !afternoonOut)) && dur >= 30*minute && !noOut(leave) {
		b.outing(leave, dur, &laundry)
	}
	b.home(lunch, &laundry)
	b.meal(20, 35, 900, 10)
	if nap {
		b.seg(bedroom, b.minutes(30, 90), 0, asleep)
		b.seg(bedroom, b.minutes(2, 5), 0, 0)
	}
	leave = b.t + b.minutes(15, 45)
	if dur := min(outDur, dinner-20*minute-leave); (afternoonOut || (forced && !b.wentOut)) && dur >= 30*minute && !noOut(leave) {
		b.outing(leave, dur, &laundry)
	}
	b.home(dinner, &laundry)
	b.meal(25, 40, 1000, 10)
	if shower && !morningShower {
		b.home(bed-80*minute, nil)
		b.shower()
	}
	b.home(bed-25*minute, nil)
	b.toilet()
	b.wash()
	next := date.next()
	nextWake := hb.wake(rng, p, loc, next)
	b.night(nextWake)

	slices.SortStableFunc(b.uses, func(x, y use) int { return int(x.at - y.at) })
	return dayPlan{segs: b.segs, uses: b.uses, machine: b.machine, nextWake: nextWake, nextDate: next, wentOut: b.wentOut}
}
