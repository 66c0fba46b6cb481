package clock

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// MaxFuture is how far ahead of now a device's ts or a tick may be: beyond
// it the device's clock is wrong, and under the event clock such a time
// would drag now forward.
const MaxFuture = 7 * 24 * time.Hour

// Bounds on a ts. Before 2000 is a device whose clock was never set (it
// counts from 1970 or from its own epoch); after 9999 RFC 3339 cannot express
// the time, and a Unix milliseconds value that large is a unit mistake
// (micro- or nanoseconds).
var (
	minTS = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTS = time.Date(9999, 12, 31, 23, 59, 59, 999_999_999, time.UTC)
)

// ParseTS reads a time as devices and ticks carry it (CONTRACT §2): an RFC
// 3339 string with offset, or integer Unix milliseconds. The time is in UTC.
func ParseTS(raw json.RawMessage) (time.Time, error) {
	var t time.Time
	switch {
	case len(raw) == 0 || string(raw) == "null":
		return time.Time{}, fmt.Errorf("ts: required")
	case raw[0] == '"':
		s, err := unquote(raw)
		if err == nil {
			t, err = time.Parse(time.RFC3339, s)
		}
		if err != nil {
			return time.Time{}, fmt.Errorf("ts: want RFC 3339 with offset: %w", err)
		}
	case raw[0] == '-' || '0' <= raw[0] && raw[0] <= '9':
		ms, err := strconv.ParseInt(string(raw), 10, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("ts: %s is not integer Unix milliseconds", raw)
		}
		t = time.UnixMilli(ms)
	default:
		return time.Time{}, fmt.Errorf("ts: want an RFC 3339 string or integer Unix milliseconds, got %.20s", raw)
	}
	if err := CheckTS(t); err != nil {
		return time.Time{}, fmt.Errorf("ts %s: %w", raw, err)
	}
	return t.UTC(), nil
}

// unquote is the text of a JSON string. A time is plain ASCII, without
// escapes, and encoding/json's Unmarshal, which checks the whole value
// again first, was two thirds of parsing one (docs/performance.md,
// "Fortieth round"); anything else goes to it.
func unquote(raw json.RawMessage) (string, error) {
	if n := len(raw); n >= 2 && raw[n-1] == '"' && plain(raw[1:n-1]) {
		return string(raw[1 : n-1]), nil
	}
	var s string
	err := json.Unmarshal(raw, &s)
	return s, err
}

// plain says whether b is printable ASCII other than the quote and the
// backslash: what a JSON string holds as it is.
func plain(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// CheckTS bounds a time a device stamped, however it spelt it: from 2000 to
// the year 9999.
func CheckTS(t time.Time) error {
	if t.Before(minTS) {
		return errors.New("before 2000, device clock not set")
	}
	if t.After(maxTS) {
		return errors.New("after year 9999")
	}
	return nil
}
