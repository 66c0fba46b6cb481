package rules

import (
	"fmt"
	"math"
	"time"
)

// Learned baselines: what a household's motion usually looks like, so that
// unusual_quiet and late_wake compare a home with itself rather than with a
// fixed threshold (CONTRACT.md §12, docs/rules.md#learned-baselines).
//
// A household's baseline is allocated at its first motion and stays 56
// bytes, whatever its age:
//   - quiet: for each of the 24 hours of the day (local time), the usual
//     longest quiet span (time since the last motion) seen in that hour, in
//     6-minute steps. Pooled over the weekdays: an hour of the week is seen
//     once a week, so two weeks would learn it from two samples, and a night
//     without a trip to the toilet after two with one looked unusual;
//   - wake: for each weekday, the usual first activity of the day in 6-minute
//     steps after 04:00: the last motion before noon that ended a quiet of at
//     least two hours, i.e. the end of the night's sleep (a trip to the
//     bathroom at 05:00 followed by more sleep is not getting up).
//
// "Usual" is an average that rises fast and falls slowly (a value above
// counts one half, one below one eighth): nearer a high percentile than a
// mean, since a baseline set too low sends workers to homes where all is well.
type baseline struct {
	quiet   [hoursPerDay]uint8
	wake    [7]uint8
	hourMax uint8  // longest quiet so far in the hour of the last motion
	today   uint8  // the current day's wake so far, or unlearned
	days    uint16 // days on which a wake was seen
	hourEnd int64  // end of the local hour of the last motion; 0 before the first
	dayEnd  int64  // end of the day (next dayStartHour) of the last motion
}

const (
	hoursPerDay = 24
	// quantum is the step of learned spans and times: a byte holds 25.4 h.
	quantum         = 6 * time.Minute
	unlearned uint8 = math.MaxUint8
	// learnDays of learned wakes before either rule speaks.
	learnDays = 14
	// dayStartHour (local) begins a day: waking at 03:00 is a bad night, not
	// an early day.
	dayStartHour = 4
	// A wake is a motion within wakeWithin of the day's start that ends a
	// quiet of at least sleepAtLeast.
	wakeWithin   = 8 * time.Hour
	sleepAtLeast = 2 * time.Hour
	// A quiet longer than maxLearnedGap (a weekend away without an away
	// period, a dead sensor) teaches nothing.
	maxLearnedGap = 24 * time.Hour
)

func newBaseline() *baseline {
	b := &baseline{today: unlearned}
	for i := range b.quiet {
		b.quiet[i] = unlearned
	}
	for i := range b.wake {
		b.wake[i] = unlearned
	}
	return b
}

func (b *baseline) ready() bool { return b != nil && b.days >= learnDays }

// quantise turns a duration into steps of quantum, capped below unlearned.
func quantise(d int64) uint8 {
	return uint8(min(max(d, 0)/int64(quantum), int64(unlearned-1)))
}

// fold moves a usual value towards one just seen.
func fold(usual *uint8, seen uint8) {
	switch {
	case *usual == unlearned:
		*usual = seen
	case seen > *usual:
		*usual += (seen - *usual + 1) / 2
	default:
		*usual -= (*usual - seen + 4) / 8
	}
}

// learn takes a motion at ts after the one at prev. learnable says whether
// the quiet between them was the resident's own: not out, not away, not with
// a silent sensor, not while a motion rule had fired (an incident, or a
// false alarm the operator's feedback deals with). It reports whether the
// baseline became ready.
func (b *baseline) learn(prev, ts int64, loc *time.Location, learnable bool) bool {
	// prev must lie in the hour that ends at hourEnd: a saved state that
	// says otherwise (damaged) teaches nothing rather than walking its hours.
	learnable = learnable && prev != 0 && prev < b.hourEnd && b.hourEnd-prev <= int64(time.Hour) &&
		ts-prev <= int64(maxLearnedGap)
	if ts < b.hourEnd {
		if learnable {
			b.hourMax = max(b.hourMax, quantise(ts-prev))
			return b.sawWake(prev, ts)
		}
		return false
	}
	if learnable {
		// Each hour from the last motion's to ts's saw the quiet grow to its end.
		fold(&b.quiet[hourOf(prev, loc)], max(b.hourMax, quantise(b.hourEnd-prev)))
		for end := b.hourEnd + int64(time.Hour); end <= ts; end += int64(time.Hour) {
			fold(&b.quiet[hourOf(end-1, loc)], quantise(end-prev))
		}
	}
	b.hourEnd = hourEnd(ts, loc)
	b.hourMax = 0
	if learnable {
		b.hourMax = quantise(ts - prev)
	}
	if ts >= b.dayEnd {
		if b.today != unlearned {
			fold(&b.wake[weekdayOf(b.dayEnd-int64(20*time.Hour), loc)], b.today)
		}
		b.today = unlearned
		b.dayEnd = dayEnd(ts, loc)
	}
	if learnable {
		return b.sawWake(prev, ts)
	}
	return false
}

// sawWake records a motion at ts ending a quiet since prev as the day's wake
// if it ended a sleep and came before noon; the day is counted at once, and
// its wake folded into the weekday's when the next day begins (a later wake
// that morning replaces it). It reports whether the baseline became ready.
func (b *baseline) sawWake(prev, ts int64) bool {
	start := b.dayEnd - int64(24*time.Hour)
	if ts-prev < int64(sleepAtLeast) || ts < start || ts-start >= int64(wakeWithin) {
		return false
	}
	was := b.ready()
	if b.today == unlearned {
		b.days = min(b.days+1, math.MaxUint16)
	}
	b.today = quantise(ts - start)
	return !was && b.ready()
}

// quietDue is when unusual_quiet fires for a quiet that began at base: the
// first moment the quiet exceeds, times factor and at least the minimum, the
// usual longest quiet of the hour it is in; never if that does not happen
// before the day ends (dayStartHour). The rule watches the resident's day,
// not the night: a quiet that began in a sleeping hour (whose usual longest
// quiet is a sleep, sleepAtLeast or more) is the night, late_wake's to judge
// in the morning, and sleeping hours are passed over, so that going to bed
// early or sleeping in is not unusual quiet.
func (b *baseline) quietDue(base int64, cfg *Config, loc *time.Location) int64 {
	if !b.awake(hourOf(base, loc)) {
		return never
	}
	end := dayEnd(base, loc)
	for start := hourEnd(base, loc) - int64(time.Hour); start < end; start += int64(time.Hour) {
		hr := hourOf(start, loc)
		if !b.awake(hr) {
			continue
		}
		if at := base + b.quietNeed(b.quiet[hr], cfg); at < start+int64(time.Hour) {
			return max(at, start)
		}
	}
	return never
}

// awake reports whether the resident is usually up in hour hr: it was
// learned, and its usual longest quiet is shorter than a sleep.
func (b *baseline) awake(hr int) bool {
	u := b.quiet[hr]
	return u != unlearned && int64(u)*int64(quantum) < int64(sleepAtLeast)
}

// quietNeed is the quiet that is unusual in an hour whose usual longest is u.
func (b *baseline) quietNeed(u uint8, cfg *Config) int64 {
	return max(int64(float64(int64(u)*int64(quantum))*cfg.UnusualQuietFactor), int64(cfg.UnusualQuietMin))
}

// wakeDue is when late_wake fires after a last motion at base: on the first
// day whose usual wake less the margin comes after base, at that wake plus
// the margin. A motion from the usual wake less the margin on counts as up.
func (b *baseline) wakeDue(base int64, cfg *Config, loc *time.Location) int64 {
	margin := int64(cfg.LateWakeMargin)
	first := time.Unix(0, dayEnd(base, loc)).In(loc)
	for i := -1; i < 7; i++ {
		day := time.Date(first.Year(), first.Month(), first.Day()+i, dayStartHour, 0, 0, 0, loc)
		w := b.wake[monday(day.Weekday())]
		if w == unlearned {
			continue
		}
		if at := day.UnixNano() + int64(w)*int64(quantum); at-margin > base {
			return at + margin
		}
	}
	return never
}

// usualWake is the usual wake of the day that contains t, or zero.
func (b *baseline) usualWake(t int64, loc *time.Location) time.Time {
	start := time.Unix(0, dayEnd(t, loc)).In(loc).AddDate(0, 0, -1)
	w := b.wake[monday(start.Weekday())]
	if w == unlearned {
		return time.Time{}
	}
	return start.Add(time.Duration(w) * quantum)
}

// hourOf is the hour of the day of t in loc.
func hourOf(t int64, loc *time.Location) int { return time.Unix(0, t).In(loc).Hour() }

func weekdayOf(t int64, loc *time.Location) int { return monday(time.Unix(0, t).In(loc).Weekday()) }

// monday numbers weekdays from Monday.
func monday(d time.Weekday) int { return (int(d) + 6) % 7 }

// hourEnd is the end of the local hour that contains t.
func hourEnd(t int64, loc *time.Location) int64 {
	lt := time.Unix(0, t).In(loc)
	return time.Date(lt.Year(), lt.Month(), lt.Day(), lt.Hour()+1, 0, 0, 0, loc).UnixNano()
}

// dayEnd is the end of the day (at dayStartHour, local) that contains t.
func dayEnd(t int64, loc *time.Location) int64 {
	lt := time.Unix(0, t).In(loc)
	end := time.Date(lt.Year(), lt.Month(), lt.Day(), dayStartHour, 0, 0, 0, loc)
	if !end.After(lt) {
		end = time.Date(lt.Year(), lt.Month(), lt.Day()+1, dayStartHour, 0, 0, 0, loc)
	}
	return end.UnixNano()
}

// Baseline is what a household's motion usually looks like, as learned.
type Baseline struct {
	// DaysLearned counts days whose first activity was learned; the rules
	// speak from ReadyAfterDays on.
	DaysLearned    int  `json:"days_learned"`
	ReadyAfterDays int  `json:"ready_after_days"`
	Ready          bool `json:"ready"`
	// QuietHours is, for each hour of the day from 00:00, the usual longest
	// quiet span in hours; null until learned. unusual_quiet watches the
	// hours under SleepHours.
	QuietHours []*float64    `json:"quiet_hours"`
	SleepHours float64       `json:"sleep_hours"`
	Weekdays   []BaselineDay `json:"weekdays"`
}

// BaselineDay is one weekday of a baseline, in the household's local time.
type BaselineDay struct {
	Day string `json:"day"`
	// UsualWake is the usual first activity, "HH:MM"; empty until learned.
	UsualWake string `json:"usual_wake,omitempty"`
}

// Baseline reports what the engine learned of a household's motion.
func (e *Engine) Baseline(householdID string) Baseline {
	s := e.shard(householdID)
	s.mu.Lock()
	defer s.mu.Unlock()
	var b *baseline
	if h := s.households[householdID]; h != nil {
		b = h.learned
	}
	out := Baseline{ReadyAfterDays: learnDays, Ready: b.ready(), SleepHours: sleepAtLeast.Hours(),
		QuietHours: make([]*float64, hoursPerDay), Weekdays: make([]BaselineDay, 7)}
	if b == nil {
		b = newBaseline()
	}
	out.DaysLearned = int(b.days)
	for hr, u := range b.quiet {
		if u != unlearned {
			v := (time.Duration(u) * quantum).Hours()
			out.QuietHours[hr] = &v
		}
	}
	for d := range out.Weekdays {
		day := BaselineDay{Day: time.Weekday((d + 1) % 7).String()}
		if w := b.wake[d]; w != unlearned {
			m := dayStartHour*60 + int(w)*int(quantum/time.Minute)
			day.UsualWake = fmt.Sprintf("%02d:%02d", m/60%24, m%60)
		}
		out.Weekdays[d] = day
	}
	return out
}
