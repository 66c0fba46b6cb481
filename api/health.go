package api

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// readyTimeout bounds a readiness check, so a hung dependency answers 503
// instead of holding the probe.
const readyTimeout = 3 * time.Second

func (a *API) healthRoutes(rt *router) {
	rt.handle("GET /healthz", a.healthz)
	rt.handle("GET /readyz", a.readyz)
	if a.opts.Metrics != nil {
		rt.handle("GET /metrics", func(w http.ResponseWriter, r *http.Request) error {
			a.opts.Metrics.ServeHTTP(w, r)
			return nil
		})
	}
}

// Statuses of GET /readyz besides "ready".
const (
	StatusNotReady = "not_ready"
	// StatusDegraded: the monitor runs but cannot store what it is told;
	// it holds device messages unacknowledged and retries (CONTRACT §11).
	StatusDegraded = "degraded"
	// StatusStandby: another monitor holds the leader lease and works;
	// this one answers reads and takes over when it dies (CONTRACT §15).
	StatusStandby = "standby"
)

// refuseOnStandby answers 503 to every request but a read while the
// monitor stands by.
func (a *API) refuseOnStandby(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
		default:
			if a.opts.Standby() {
				w.Header().Set("Retry-After", "5")
				a.writeError(w, r, errorf(http.StatusServiceUnavailable, codeStandby,
					"this monitor stands by and takes no writes; send them to the leader"))
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// Unready is why the monitor cannot do its work, as Options.Ready reports it
// when the status is other than not_ready.
type Unready struct {
	Status string
	Reason string
}

func (u *Unready) Error() string { return u.Status + ": " + u.Reason }

type statusBody struct {
	Status string `json:"status"`
	// Reason says why the monitor is not ready.
	Reason string       `json:"reason,omitempty"`
	Error  *errorDetail `json:"error,omitempty"`
}

// healthz answers while the process serves HTTP at all.
func (a *API) healthz(w http.ResponseWriter, r *http.Request) error {
	a.writeJSON(w, r, http.StatusOK, statusBody{Status: "ok"})
	return nil
}

// readyz answers 200 when the monitor can do its work (broker connected, store
// open), else 503 with the reason, in both the probe's shape and the
// contract's error shape.
func (a *API) readyz(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	if err := a.opts.Ready(ctx); err != nil {
		a.log.Debug("not ready", "err", err)
		body := statusBody{Status: StatusNotReady, Reason: err.Error()}
		if u, ok := errors.AsType[*Unready](err); ok {
			body.Status, body.Reason = u.Status, u.Reason
		}
		body.Error = &errorDetail{Code: codeNotReady, Message: body.Reason}
		a.writeJSON(w, r, http.StatusServiceUnavailable, body)
		return nil
	}
	a.writeJSON(w, r, http.StatusOK, statusBody{Status: "ready"})
	return nil
}
