package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/eldersafe/eldersafe/registry"
)

// Bounds on a clock tick's ts, as on a device message's (ingest): before 2000
// is a clock never set, after 9999 a unit mistake.
var (
	minTS = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTS = time.Date(9999, 12, 31, 23, 59, 59, 999_999_999, time.UTC)
)

func (a *API) clockRoutes(rt *router) {
	rt.handle("POST /api/v1/clock", a.advanceClock, allow(registry.RoleOperator))
}

// clockRequest is the body of POST /api/v1/clock: {"ts": RFC 3339 or Unix ms}.
type clockRequest struct {
	TS json.RawMessage `json:"ts"`
}

type clockResponse struct {
	TS time.Time `json:"ts"`
}

// advanceClock is a simulator tick (CONTRACT §8): it moves the event clock to
// ts, never backwards. Under the wall clock it is refused with 409 wall_clock.
func (a *API) advanceClock(w http.ResponseWriter, r *http.Request) error {
	if a.opts.EventClock == nil {
		return errorf(http.StatusConflict, codeWallClock, "the monitor runs on the wall clock; start it with --clock event to drive time")
	}
	var req clockRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	ts, err := parseTS(req.TS)
	if err != nil {
		return err
	}
	if err := a.opts.EventClock.Advance(ts); err != nil {
		return fmt.Errorf("advance clock to %s: %w", ts.Format(time.RFC3339Nano), err)
	}
	a.writeJSON(w, r, http.StatusOK, clockResponse{TS: ts})
	return nil
}

// parseTS reads ts as the MQTT payloads carry it: an RFC 3339 string with
// offset, or integer Unix milliseconds. The result is UTC.
func parseTS(raw json.RawMessage) (time.Time, error) {
	var t time.Time
	switch {
	case len(raw) == 0 || string(raw) == "null":
		return time.Time{}, invalidf("ts is required: an RFC 3339 time or integer Unix milliseconds")
	case raw[0] == '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return time.Time{}, invalidf("ts: %v", err)
		}
		p, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return time.Time{}, invalidf("ts %q: want RFC 3339 with offset, e.g. 2026-01-02T09:12:00+08:00", clip(s))
		}
		t = p
	default:
		ms, err := strconv.ParseInt(string(raw), 10, 64)
		if err != nil {
			return time.Time{}, invalidf("ts %s: want an RFC 3339 string or integer Unix milliseconds", clip(string(raw)))
		}
		t = time.UnixMilli(ms)
	}
	if t.Before(minTS) || t.After(maxTS) {
		return time.Time{}, invalidf("ts %s: must be between the years 2000 and 9999", clip(string(raw)))
	}
	return t.UTC(), nil
}
