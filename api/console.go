package api

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/eldersafe/eldersafe/registry"
)

// consoleRoutes serve the web console (Options.Console) at / and its assets
// under /static/, both public: the console logs in through POST
// /api/v1/login. GET /api/v1/me tells it who is logged in.
func (a *API) consoleRoutes(rt *router) {
	rt.handle("GET /api/v1/me", a.me, allow(anyRole), unaudited())
	if a.opts.Console == nil {
		return
	}
	serve := func(w http.ResponseWriter, r *http.Request) error {
		a.opts.Console.ServeHTTP(w, r)
		return nil
	}
	rt.handle("GET /{$}", serve)
	rt.handle("GET /static/", serve)
}

// meResponse is who the caller is, as far as the console needs to know.
type meResponse struct {
	ID   string `json:"id"`
	Role string `json:"role"`
	// Name is the name of the worker the caller acts as.
	Name        string   `json:"name,omitempty"`
	WorkerID    string   `json:"worker_id,omitempty"`
	GridIDs     []string `json:"grid_ids,omitempty"`
	HouseholdID string   `json:"household_id,omitempty"`
	// Now is the monitor's clock (event time under --clock event), null
	// before the event clock has started; the console counts deadlines
	// down from it.
	Now *time.Time `json:"now"`
	// Timezone is the monitor's configured location: the zone of a
	// household without its own, in which the console shows its times.
	Timezone string `json:"timezone,omitempty"`
}

// me answers GET /api/v1/me: the caller's id, role and what they act as.
func (a *API) me(w http.ResponseWriter, r *http.Request) error {
	p := principal(r.Context())
	resp := meResponse{ID: p.ID, Role: p.Role, WorkerID: p.WorkerID, GridIDs: p.GridIDs, HouseholdID: p.HouseholdID, Timezone: a.opts.Timezone}
	if now := a.opts.Clock.Now(); !now.IsZero() {
		now = now.UTC()
		resp.Now = &now
	}
	if p.WorkerID != "" && a.opts.Users != nil {
		wk, err := a.opts.Users.Worker(r.Context(), p.WorkerID)
		switch {
		case err == nil:
			resp.Name = wk.Name
		case !errors.Is(err, registry.ErrNotFound):
			return fmt.Errorf("load worker %s: %w", p.WorkerID, err)
		}
	}
	a.writeJSON(w, r, http.StatusOK, resp)
	return nil
}
