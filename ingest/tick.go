package ingest

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/eldersafe/eldersafe/clock"
)

// DecodeTick reads a simulator clock tick, {"ts": ...}, with ts in either of
// the forms a device payload may use. A tick more than clock.MaxFuture after now is
// refused: it would drag the event clock into the future.
func DecodeTick(payload []byte, now time.Time) (time.Time, error) {
	if len(payload) > MaxPayload {
		return time.Time{}, reject(ReasonTooLarge, "tick is %d bytes, limit %d", len(payload), MaxPayload)
	}
	var w struct {
		TS json.RawMessage `json:"ts"`
	}
	if err := json.Unmarshal(payload, &w); err != nil {
		return time.Time{}, &RejectError{Reason: ReasonBadJSON, Err: fmt.Errorf("tick: %w", err)}
	}
	ts, err := ParseTS(w.TS)
	if err != nil {
		return time.Time{}, err
	}
	if !now.IsZero() && ts.After(now.Add(clock.MaxFuture)) {
		return time.Time{}, reject(ReasonFutureTS, "tick %s is more than 7 days after now", ts.Format(time.RFC3339))
	}
	return ts, nil
}
