package api

import (
	"net/http"

	"github.com/eldersafe/eldersafe/registry"
)

func (a *API) workerRoutes(rt *router) {
	rt.handle("POST /api/v1/workers", a.createWorker, allow(registry.RoleOperator))
}

// workerRequest is the body of POST /api/v1/workers.
type workerRequest struct {
	ID      string   `json:"id"`
	Name    string   `json:"name"`
	Phone   string   `json:"phone"`
	GridIDs []string `json:"grid_ids"`
	Role    string   `json:"role"`
	PushURL string   `json:"push_url"`
	Lang    string   `json:"lang"`
}

func (a *API) createWorker(w http.ResponseWriter, r *http.Request) error {
	var req workerRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	p := principal(r.Context())
	if err := p.mayGiveRole("worker", req.Role); err != nil {
		return err
	}
	wk := registry.Worker{
		ID:      req.ID,
		Name:    req.Name,
		Phone:   req.Phone,
		GridIDs: req.GridIDs,
		Role:    req.Role,
		PushURL: req.PushURL,
		Lang:    req.Lang,
		// The first grid worker registered with a grid is its primary.
		CreatedAt: a.wall.Now().UTC(),
		CreatedBy: p.ID,
	}
	if wk.GridIDs == nil {
		wk.GridIDs = []string{}
	}
	if err := validation(wk.Validate()); err != nil {
		return err
	}
	if err := a.opts.Registry.CreateWorker(r.Context(), wk); err != nil {
		return createError("worker", wk.ID, err)
	}
	a.writeJSON(w, r, http.StatusCreated, wk)
	return nil
}
