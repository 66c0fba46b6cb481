package api

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/eldersafe/eldersafe/registry"
)

func (a *API) gridRoutes(rt *router) {
	rt.handle("POST /api/v1/grids", a.createGrid, allow(registry.RoleOperator))
}

// gridRequest is the body of POST /api/v1/grids.
type gridRequest struct {
	ID             string `json:"id"`
	Name           string `json:"name"`
	SupervisorID   string `json:"supervisor_id"`
	BackupWorkerID string `json:"backup_worker_id"`
}

func (a *API) createGrid(w http.ResponseWriter, r *http.Request) error {
	var req gridRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	g := registry.Grid{ID: req.ID, Name: req.Name, SupervisorID: req.SupervisorID, BackupWorkerID: req.BackupWorkerID}
	if err := validation(g.Validate()); err != nil {
		return err
	}
	if err := a.opts.Registry.CreateGrid(r.Context(), g); err != nil {
		return createError("grid", g.ID, err)
	}
	a.writeJSON(w, r, http.StatusCreated, g)
	return nil
}

// validation turns domain validation errors into one 400 naming every field
// at fault, or nil when there are none.
func validation(errs ...error) error {
	err := errors.Join(errs...)
	if err == nil {
		return nil
	}
	return &apiError{status: http.StatusBadRequest, code: codeInvalid,
		msg: strings.ReplaceAll(err.Error(), "\n", "; "), err: err}
}

// createError words a failed create: a taken id is a 409 naming it; the rest
// (an unknown reference: 400; the store's message names the field) goes to
// classify as it is.
func createError(what, id string, err error) error {
	if errors.Is(err, registry.ErrConflict) {
		return &apiError{status: http.StatusConflict, code: codeConflict,
			msg: fmt.Sprintf("%s %q already exists", what, id), err: err}
	}
	return err
}

// clip shortens a client's value quoted back in an error message.
func clip(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return strings.ToValidUTF8(s[:max], "") + "..."
}
