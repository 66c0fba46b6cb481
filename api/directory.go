package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/eldersafe/eldersafe/registry"
)

// The office's directory: lists of grids, workers and users for the
// console's forms and names, and the edits of grids, workers and
// households after registration.

// Directory lists and edits what the office registered. *store.DB
// implements it.
type Directory interface {
	Grids(ctx context.Context) ([]registry.Grid, error)
	Workers(ctx context.Context) ([]registry.Worker, error)
	Users(ctx context.Context) ([]registry.User, error)
	// UpdateGrid and UpdateWorker replace what may change; an unknown id
	// is registry.ErrNotFound.
	UpdateGrid(ctx context.Context, g registry.Grid) error
	UpdateWorker(ctx context.Context, w registry.Worker) error
}

func (a *API) directoryRoutes(rt *router) {
	staff := allow(registry.RoleOperator, registry.RoleSupervisor, registry.RoleGridWorker)
	rt.handle("GET /api/v1/grids", a.listGrids, staff)
	rt.handle("PUT /api/v1/grids/{id}", a.updateGrid, allow(registry.RoleOperator))
	rt.handle("GET /api/v1/workers", a.listWorkers, staff)
	rt.handle("PUT /api/v1/workers/{id}", a.updateWorker, allow(registry.RoleOperator))
	// Supervisors grant access to users, so they need their ids.
	rt.handle("GET /api/v1/users", a.listUsers, allow(registry.RoleOperator, registry.RoleSupervisor))
	rt.handle("PUT /api/v1/households/{id}", a.updateHousehold, allow(registry.RoleOperator))
}

// listGrids answers GET /api/v1/grids: every grid, a grid worker's own.
func (a *API) listGrids(w http.ResponseWriter, r *http.Request) error {
	if _, err := queryParams(r); err != nil {
		return err
	}
	grids, err := a.opts.Directory.Grids(r.Context())
	if err != nil {
		return err
	}
	if scope := gridScope(principal(r.Context())); scope != nil {
		grids = slices.DeleteFunc(grids, func(g registry.Grid) bool { return !slices.Contains(scope, g.ID) })
	}
	a.writeJSON(w, r, http.StatusOK, struct {
		Grids []registry.Grid `json:"grids"`
	}{grids})
	return nil
}

// gridUpdate is the body of PUT /api/v1/grids/{id}.
type gridUpdate struct {
	Name           string `json:"name"`
	SupervisorID   string `json:"supervisor_id"`
	BackupWorkerID string `json:"backup_worker_id"`
}

func (a *API) updateGrid(w http.ResponseWriter, r *http.Request) error {
	var req gridUpdate
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	g := registry.Grid{ID: r.PathValue("id"), Name: req.Name, SupervisorID: req.SupervisorID, BackupWorkerID: req.BackupWorkerID}
	if err := validation(g.Validate()); err != nil {
		return err
	}
	if err := a.opts.Directory.UpdateGrid(r.Context(), g); err != nil {
		if errors.Is(err, registry.ErrNotFound) {
			return errorf(http.StatusNotFound, codeNotFound, "grid %q not found", clip(g.ID))
		}
		return err
	}
	a.writeJSON(w, r, http.StatusOK, g)
	return nil
}

// workerView is a worker as listed. A grid worker sees the colleagues of
// their grids by name, to hand a task over, without their numbers.
type workerView struct {
	ID      string   `json:"id"`
	Name    string   `json:"name"`
	Role    string   `json:"role"`
	GridIDs []string `json:"grid_ids"`
	Phone   string   `json:"phone,omitempty"`
	PushURL string   `json:"push_url,omitempty"`
	Lang    string   `json:"lang,omitempty"`
}

// listWorkers answers GET /api/v1/workers?grid_id=: every worker, or those
// of one grid; a grid worker's those sharing a grid with them.
func (a *API) listWorkers(w http.ResponseWriter, r *http.Request) error {
	q, err := queryParams(r, "grid_id")
	if err != nil {
		return err
	}
	if err := validation(registry.OptionalID("grid_id", q["grid_id"])); err != nil {
		return err
	}
	workers, err := a.opts.Directory.Workers(r.Context())
	if err != nil {
		return err
	}
	p := principal(r.Context())
	scope := gridScope(p)
	shares := func(grids []string) bool {
		return slices.ContainsFunc(grids, func(g string) bool {
			return (scope == nil || slices.Contains(scope, g)) && (q["grid_id"] == "" || g == q["grid_id"])
		})
	}
	out := []workerView{}
	for _, wk := range workers {
		if (scope != nil || q["grid_id"] != "") && !shares(wk.GridIDs) {
			continue
		}
		v := workerView{ID: wk.ID, Name: wk.Name, Role: wk.Role, GridIDs: wk.GridIDs}
		if scope == nil {
			v.Phone, v.PushURL, v.Lang = wk.Phone, wk.PushURL, wk.Lang
		}
		out = append(out, v)
	}
	a.writeJSON(w, r, http.StatusOK, struct {
		Workers []workerView `json:"workers"`
	}{out})
	return nil
}

// workerUpdate is the body of PUT /api/v1/workers/{id}. A worker's role
// does not change (their log-ins act in it): role, when given, must be the
// one registered.
type workerUpdate struct {
	Name    string   `json:"name"`
	Phone   string   `json:"phone"`
	GridIDs []string `json:"grid_ids"`
	Role    string   `json:"role"`
	PushURL string   `json:"push_url"`
	Lang    string   `json:"lang"`
}

func (a *API) updateWorker(w http.ResponseWriter, r *http.Request) error {
	var req workerUpdate
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	id := r.PathValue("id")
	old, err := a.opts.Users.Worker(r.Context(), id)
	if errors.Is(err, registry.ErrNotFound) {
		return errorf(http.StatusNotFound, codeNotFound, "worker %q not found", clip(id))
	}
	if err != nil {
		return fmt.Errorf("load worker %s: %w", clip(id), err)
	}
	if req.Role != "" && req.Role != old.Role {
		return invalidf("role %q: worker %s is a %s and stays one; register a new worker for another role", clip(req.Role), old.ID, old.Role)
	}
	wk := registry.Worker{ID: old.ID, Name: req.Name, Phone: req.Phone, GridIDs: req.GridIDs, Role: old.Role,
		PushURL: req.PushURL, Lang: req.Lang, CreatedAt: old.CreatedAt, CreatedBy: old.CreatedBy}
	if wk.GridIDs == nil {
		wk.GridIDs = []string{}
	}
	if err := validation(wk.Validate()); err != nil {
		return err
	}
	if err := a.opts.Directory.UpdateWorker(r.Context(), wk); err != nil {
		return err
	}
	a.writeJSON(w, r, http.StatusOK, wk)
	return nil
}

// listUsers answers GET /api/v1/users: who logs in, without passwords.
func (a *API) listUsers(w http.ResponseWriter, r *http.Request) error {
	if _, err := queryParams(r); err != nil {
		return err
	}
	users, err := a.opts.Directory.Users(r.Context())
	if err != nil {
		return err
	}
	a.writeJSON(w, r, http.StatusOK, struct {
		Users []registry.User `json:"users"`
	}{users})
	return nil
}

// householdUpdate is the body of PUT /api/v1/households/{id}. Contacts and
// medical notes left out are kept: the office may edit an address without
// a grant to see the numbers it would otherwise have to type again.
// Privacy settings have their own route.
type householdUpdate struct {
	Name         string            `json:"name"`
	Address      string            `json:"address"`
	GridID       string            `json:"grid_id"`
	Timezone     string            `json:"timezone"`
	Contacts     *[]contactRequest `json:"contacts"`
	MedicalNotes *string           `json:"medical_notes"`
}

func (a *API) updateHousehold(w http.ResponseWriter, r *http.Request) error {
	var req householdUpdate
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	h, err := a.scopedHousehold(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	h.Name, h.Address, h.GridID, h.Timezone = req.Name, req.Address, req.GridID, req.Timezone
	if req.Contacts != nil {
		h.Contacts = make([]registry.Contact, 0, len(*req.Contacts))
		for _, c := range *req.Contacts {
			h.Contacts = append(h.Contacts, registry.Contact{
				Name: c.Name, Relation: c.Relation, Phone: c.Phone, PushURL: c.PushURL, Lang: c.Lang, Channels: c.Channels,
				QuietHours: c.QuietHours,
			})
		}
	}
	if req.MedicalNotes != nil {
		h.MedicalNotes = *req.MedicalNotes
	}
	if err := validation(h.Validate()); err != nil {
		return err
	}
	in := registry.HouseholdImport{Household: h, SetMedicalNotes: req.MedicalNotes != nil}
	if _, err := a.opts.Households.ImportHousehold(r.Context(), in); err != nil {
		return fmt.Errorf("update household %s: %w", h.ID, err)
	}
	// The time zone may have changed, also to none.
	if err := a.opts.Rules.HouseholdChanged(r.Context(), h.ID); err != nil {
		a.log.Error("household updated but its rule settings are not applied until restart", "household_id", h.ID, "err", err)
	}
	d, err := a.disclose(r.Context(), h)
	if err != nil {
		return err
	}
	out := d.household(h)
	if err := a.recordUses(r, d); err != nil {
		return err
	}
	a.writeJSON(w, r, http.StatusOK, out)
	return nil
}
