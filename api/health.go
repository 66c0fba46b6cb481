package api

import (
	"context"
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

type statusBody struct {
	Status string       `json:"status"`
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
		a.writeJSON(w, r, http.StatusServiceUnavailable, statusBody{
			Status: "not_ready",
			Error:  &errorDetail{Code: codeNotReady, Message: err.Error()},
		})
		return nil
	}
	a.writeJSON(w, r, http.StatusOK, statusBody{Status: "ready"})
	return nil
}
