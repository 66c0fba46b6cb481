package registry

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// QuietHours is a daily span of a household's local time during which a
// family contact is not woken for anything short of urgent, such as
// "22:00-07:00". An end before the start crosses midnight.
type QuietHours struct {
	start, end int // minutes after midnight
}

// ParseQuietHours reads "HH:MM-HH:MM" (00:00 to 23:59, start and end differ).
func ParseQuietHours(s string) (QuietHours, error) {
	start, end, err := ParseDailySpan(s, false)
	if err != nil {
		return QuietHours{}, fmt.Errorf("quiet_hours %s: %w", quote(s), err)
	}
	return QuietHours{start: start, end: end}, nil
}

// ParseDailySpan reads "HH:MM-HH:MM" into minutes after midnight: a span of
// every day, crossing midnight when the end comes before the start. Start
// and end differ; with endOfDay the end may be 24:00. It is the one parser of
// daily spans: quiet hours here, the rules' waking window.
func ParseDailySpan(s string, endOfDay bool) (start, end int, err error) {
	from, to, ok := strings.Cut(s, "-")
	if !ok {
		return 0, 0, errors.New("want HH:MM-HH:MM")
	}
	if start, err = minuteOfDay(from, false); err != nil {
		return 0, 0, err
	}
	if end, err = minuteOfDay(to, endOfDay); err != nil {
		return 0, 0, err
	}
	if start == end {
		return 0, 0, errors.New("start and end must differ")
	}
	return start, end, nil
}

func minuteOfDay(s string, endOfDay bool) (int, error) {
	digit := func(i int) int { return int(s[i] - '0') }
	if len(s) != 5 || s[2] != ':' || strings.Trim(s[:2]+s[3:], "0123456789") != "" {
		return 0, fmt.Errorf("time %q: want HH:MM", s)
	}
	h, m := digit(0)*10+digit(1), digit(3)*10+digit(4)
	if endOfDay && h == 24 && m == 0 {
		return 24 * 60, nil
	}
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
