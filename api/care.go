package api

import (
	"context"
	"fmt"
	"net/http"

	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
	"github.com/eldersafe/eldersafe/tasks"
)

// Care levels, routine visits and ratings (CONTRACT.md §13).
func (a *API) careRoutes(rt *router) {
	office := allow(registry.RoleOperator, registry.RoleSupervisor)
	rt.handle("PATCH /api/v1/households/{id}", a.patchHousehold, office)
	rt.handle("GET /api/v1/households/{id}/thresholds", a.getThresholds,
		allow(registry.RoleOperator, registry.RoleSupervisor, registry.RoleGridWorker))
	rt.handle("GET /api/v1/households/{id}/visits", a.familyVisits, allow(registry.RoleFamily))
	rt.handle("POST /api/v1/tasks/{id}/rating", a.rateTask, allow(registry.RoleFamily))
	rt.handle("GET /api/v1/reports/routine", a.routineReport, office, unaudited())
}

// householdPatch is the body of PATCH /api/v1/households/{id}: the settings
// that may change after registration. Absent fields stay as they are.
type householdPatch struct {
	CareLevel *string `json:"care_level"`
}

// patchHousehold changes a household's care level, applies its thresholds
// profile to the rules at once, and answers the household as GET does.
func (a *API) patchHousehold(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	var req householdPatch
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if req.CareLevel == nil {
		return invalidf("nothing to change: the body may set care_level")
	}
	level, err := registry.ParseCareLevel(*req.CareLevel)
	if err != nil {
		return validation(err)
	}
	if _, err := a.scopedHousehold(r.Context(), id); err != nil {
		return err
	}
	if err := a.opts.Registry.SetCareLevel(r.Context(), id, level); err != nil {
		return fmt.Errorf("store care level of household %s: %w", id, err)
	}
	if err := a.opts.Rules.HouseholdChanged(r.Context(), id); err != nil {
		return err
	}
	return a.getHousehold(w, r)
}

// careThresholds answers GET /api/v1/households/{id}/thresholds.
type careThresholds struct {
	thresholdsResponse
	CareLevel registry.CareLevel `json:"care_level"`
	// Level is the care level's profile: what the household runs with where
	// it has no override of its own.
	Level rules.Thresholds `json:"level"`
}

// getThresholds shows every rule parameter in force for a household, its own
// overrides, and its care level's profile beneath them.
func (a *API) getThresholds(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	h, err := a.scopedHousehold(r.Context(), id)
	if err != nil {
		return err
	}
	overrides, err := a.opts.RuleSettings.HouseholdThresholds(r.Context(), id)
	if err != nil {
		return fmt.Errorf("load thresholds of household %s: %w", id, err)
	}
	if overrides == nil {
		overrides = rules.Thresholds{}
	}
	level := h.CareLevel.OrDefault()
	a.writeJSON(w, r, http.StatusOK, careThresholds{
		thresholdsResponse: thresholdsResponse{Thresholds: a.opts.Rules.Thresholds(id), Overrides: overrides},
		CareLevel:          level,
		Level:              a.opts.Rules.LevelThresholds(level),
	})
	return nil
}

type visitsResponse struct {
	Visits []tasks.FamilyVisit `json:"visits"`
}

// familyVisits lists a family member's household's resolved visits, each
// with their own rating: what the family page offers to rate.
func (a *API) familyVisits(w http.ResponseWriter, r *http.Request) error {
	h, err := a.scopedHousehold(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	list, err := a.opts.Tasks.FamilyVisits(r.Context(), h, principal(r.Context()).ID)
	if err != nil {
		return err
	}
	a.writeJSON(w, r, http.StatusOK, visitsResponse{Visits: list})
	return nil
}

// ratingRequest is the body of POST /api/v1/tasks/{id}/rating.
type ratingRequest struct {
	Stars   int    `json:"stars"`
	Comment string `json:"comment"`
}

// rateTask records a family member's rating of a resolved visit of their
// household: 201 with the rating, 409 for a second one or a visit not yet
// resolved.
func (a *API) rateTask(w http.ResponseWriter, r *http.Request) error {
	var req ratingRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	p := principal(r.Context())
	if p.Role != registry.RoleFamily {
		return errorf(http.StatusForbidden, codeForbidden, "only a family member of the household rates its visits")
	}
	if err := validation(registry.CheckField("comment", registry.KindNote, req.Comment)); err != nil {
		return err
	}
	if _, err := a.scopedTask(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	rating, err := a.opts.Tasks.Rate(r.Context(), r.PathValue("id"), p.ID, req.Stars, req.Comment)
	if err != nil {
		return err
	}
	a.writeJSON(w, r, http.StatusCreated, rating)
	return nil
}

type routineResponse struct {
	Month string             `json:"month"`
	Rows  []tasks.RoutineRow `json:"rows"`
}

// routineReport answers GET /api/v1/reports/routine?month=YYYY-MM (default:
// the monitor's month): per grid, the routine visits due, done and overdue.
func (a *API) routineReport(w http.ResponseWriter, r *http.Request) error {
	q, err := queryParams(r, "month")
	if err != nil {
		return err
	}
	rows, month, err := a.opts.Tasks.RoutineReport(r.Context(), q["month"])
	if err != nil {
		return err
	}
	a.writeJSON(w, r, http.StatusOK, routineResponse{Month: month, Rows: rows})
	return nil
}

// routineFor schedules new households' routine visits for the rest of the
// month. The households are stored already, so a failure is logged (it
// names the household): the monthly pass schedules them next month.
func (a *API) routineFor(ctx context.Context, householdIDs ...string) {
	if len(householdIDs) == 0 {
		return
	}
	if _, err := a.opts.Tasks.ScheduleRoutineFor(ctx, householdIDs...); err != nil {
		a.log.Error("households registered but their routine visits of this month are not all scheduled", "households", len(householdIDs), "err", err)
	}
}
