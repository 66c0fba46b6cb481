package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/eldersafe/eldersafe/clock"
	"github.com/eldersafe/eldersafe/dispatch"
	"github.com/eldersafe/eldersafe/registry"
)

func (a *API) clockRoutes(rt *router) {
	rt.handle("POST /api/v1/clock", a.advanceClock, allow(registry.RoleOperator), unaudited())
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
	now, err := a.opts.EventClock.Tick(r.Context(), ts)
	switch {
	case errors.Is(err, dispatch.ErrTooFarAhead):
		return invalidf("%v", err)
	case errors.Is(err, dispatch.ErrWallClock):
		return errorf(http.StatusConflict, codeWallClock, "%v", err)
	case err != nil:
		return fmt.Errorf("advance clock to %s: %w", ts.Format(time.RFC3339Nano), err)
	}
	a.writeJSON(w, r, http.StatusOK, clockResponse{TS: now})
	return nil
}

// parseTS reads ts as the MQTT payloads carry it, with the same bounds.
func parseTS(raw json.RawMessage) (time.Time, error) {
	t, err := clock.ParseTS(raw)
	if err != nil {
		return time.Time{}, invalidf("%v", err)
	}
	return t, nil
}
