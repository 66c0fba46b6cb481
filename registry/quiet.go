package registry

import (
	"fmt"
	"strings"
	"time"
)

// QuietHours is a daily span of a household's local time during which a
// family contact is not woken for anything short of urgent, such as
// "22:00-07:00". An end before the start crosses midnight.
//
// It is parsed here rather than with rules.ParseWindow because rules imports
// registry.
type QuietHours struct {
	start, end int // minutes after midnight
}

// ParseQuietHours reads "HH:MM-HH:MM" (00:00 to 23:59, start and end differ).
func ParseQuietHours(s string) (QuietHours, error) {
	from, to, ok := strings.Cut(s, "-")
	if !ok {
		return QuietHours{}, fmt.Errorf("quiet_hours %q: want HH:MM-HH:MM", s)
	}
	start, err := minuteOfDay(from)
	if err != nil {
		return QuietHours{}, fmt.Errorf("quiet_hours %q: %w", s, err)
	}
	end, err := minuteOfDay(to)
	if err != nil {
		return QuietHours{}, fmt.Errorf("quiet_hours %q: %w", s, err)
	}
	if start == end {
		return QuietHours{}, fmt.Errorf("quiet_hours %q: start and end must differ", s)
	}
	return QuietHours{start: start, end: end}, nil
}

func minuteOfDay(s string) (int, error) {
	digit := func(i int) int { return int(s[i] - '0') }
	if len(s) != 5 || s[2] != ':' || strings.Trim(s[:2]+s[3:], "0123456789") != "" {
		return 0, fmt.Errorf("time %q: want HH:MM", s)
	}
	h, m := digit(0)*10+digit(1), digit(3)*10+digit(4)
	if h > 23 || m > 59 {
		return 0, fmt.Errorf("time %q: want 00:00 to 23:59", s)
	}
	return h*60 + m, nil
}

// Until reports whether t falls within the quiet hours in loc and, if so,
// when they end. The end is the wall-clock time in loc, so a daylight-saving
// change that night moves it with the clocks.
func (q QuietHours) Until(t time.Time, loc *time.Location) (time.Time, bool) {
	lt := t.In(loc)
	minute := lt.Hour()*60 + lt.Minute()
	endDay := 0
	switch {
	case q.start < q.end && minute >= q.start && minute < q.end:
	case q.start > q.end && minute >= q.start: // before midnight: the quiet ends tomorrow
		endDay = 1
	case q.start > q.end && minute < q.end:
	default:
		return time.Time{}, false
	}
	return time.Date(lt.Year(), lt.Month(), lt.Day()+endDay, 0, q.end, 0, 0, loc), true
}
