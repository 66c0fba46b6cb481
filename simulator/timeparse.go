package simulator

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// maxDuration bounds every duration in a scenario: a year of simulated time
// is more than any rule needs, and keeps arithmetic far from overflow.
const maxDuration = 366 * 24 * time.Hour

// ParseDuration reads a duration as Go spells it, plus whole days in front:
// "90m", "33h12m", "7d", "1d12h".
func ParseDuration(s string) (time.Duration, error) {
	bad := fmt.Errorf("duration %q: want e.g. 90m, 33h12m, 7d or 1d12h", s)
	rest := strings.TrimSpace(s)
	var d time.Duration
	if i := strings.IndexByte(rest, 'd'); i >= 0 {
		n, err := strconv.ParseUint(rest[:i], 10, 16)
		if err != nil {
			return 0, bad
		}
		d = time.Duration(n) * 24 * time.Hour
		rest = rest[i+1:]
		if d > maxDuration {
			return 0, fmt.Errorf("duration %q: at most %d days", s, int(maxDuration/(24*time.Hour)))
		}
	}
	if rest != "" {
		if strings.HasPrefix(rest, "-") || strings.HasPrefix(rest, "+") {
			return 0, bad
		}
		x, err := time.ParseDuration(rest)
		if err != nil {
			return 0, bad
		}
		d += x
	} else if d == 0 && strings.TrimSpace(s) != "0d" {
		return 0, bad
	}
	if d > maxDuration {
		return 0, fmt.Errorf("duration %q: at most %d days", s, int(maxDuration/(24*time.Hour)))
	}
	return d, nil
}

// FormatDuration spells d the way ParseDuration reads it: "1d12h30m".
func FormatDuration(d time.Duration) string {
	if d == 0 {
		return "0s"
	}
	var b strings.Builder
	if d < 0 {
		b.WriteByte('-')
		d = -d
	}
	for _, u := range []struct {
		unit time.Duration
		name string
	}{{24 * time.Hour, "d"}, {time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}} {
		if n := d / u.unit; n > 0 {
			fmt.Fprintf(&b, "%d%s", n, u.name)
			d -= n * u.unit
		}
	}
	if d > 0 {
		fmt.Fprintf(&b, "%dms", d/time.Millisecond)
	}
	return b.String()
}

// When is a simulated moment as a scenario writes it: "day 2 09:12" (local
// time on the second day of the run), an offset from the start such as
// "33h12m", or an RFC 3339 time.
type When struct {
	raw    string
	day    int // 1-based; 0 when not a day-and-clock time
	minute int // of the day
	offset time.Duration
	abs    time.Time
}

var dayClock = regexp.MustCompile(`^day\s+(\d{1,3})\s+(\d{1,2}):(\d{2})$`)

// ParseWhen reads a simulated moment.
func ParseWhen(s string) (When, error) {
	s = strings.TrimSpace(s)
	if m := dayClock.FindStringSubmatch(s); m != nil {
		day, _ := strconv.Atoi(m[1])
		h, _ := strconv.Atoi(m[2])
		min, _ := strconv.Atoi(m[3])
		if day < 1 || h > 23 || min > 59 {
			return When{}, fmt.Errorf("time %q: want day N HH:MM with N from 1, HH:MM from 00:00 to 23:59", s)
		}
		return When{raw: s, day: day, minute: h*60 + min}, nil
	}
	if strings.HasPrefix(s, "day") {
		return When{}, fmt.Errorf("time %q: want day N HH:MM, e.g. day 2 09:12", s)
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return When{raw: s, abs: t}, nil
	}
	d, err := ParseDuration(s)
	if err != nil {
		return When{}, fmt.Errorf("time %q: want day N HH:MM, an offset from the start such as 33h12m, or an RFC 3339 time", s)
	}
	return When{raw: s, offset: d}, nil
}

// At is the moment in a run that starts at start, with days in loc.
func (w When) At(start time.Time, loc *time.Location) time.Time {
	switch {
	case w.day > 0:
		d := start.In(loc)
		return time.Date(d.Year(), d.Month(), d.Day()+w.day-1, 0, w.minute, 0, 0, loc)
	case !w.abs.IsZero():
		return w.abs
	default:
		return start.Add(w.offset)
	}
}

func (w When) String() string { return w.raw }

// ParseStart reads a run's start: an RFC 3339 time, a date (midnight in loc),
// or "now" (the wall clock, to the minute).
func ParseStart(s string, loc *time.Location, now func() time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "now" {
		return now().In(loc).Truncate(time.Minute), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.In(loc), nil
	}
	if t, err := time.ParseInLocation("2006-01-02", s, loc); err == nil {
		return t, nil
	}
	if t, err := time.ParseInLocation("2006-01-02 15:04", s, loc); err == nil {
		return t, nil
	}
	return time.Time{}, errors.New("start " + strconv.Quote(s) + ": want an RFC 3339 time, a date such as 2026-03-02, \"2026-03-02 06:00\" or now")
}
