package clock

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/eldersafe/eldersafe/jsonstr"
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
		s, err := jsonstr.Unquote(raw)
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
