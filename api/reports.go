package api

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/tasks"
)

func (a *API) reportRoutes(rt *router) {
	rt.handle("GET /api/v1/reports/sla", a.slaReport, allow(registry.RoleOperator, registry.RoleSupervisor), unaudited())
}

type slaResponse struct {
	Rows    []tasks.SLARow       `json:"rows"`
	Workers []tasks.SLAWorkerRow `json:"workers"`
}

// slaReport answers GET /api/v1/reports/sla?grid_id=&from=&to=: how fast
// tasks opened in [from, to) were acknowledged and resolved, per grid and
// severity, and how families rated them, per worker and grid. from and to
// are RFC 3339; to defaults to the monitor's now, from to 30 days before to.
func (a *API) slaReport(w http.ResponseWriter, r *http.Request) error {
	q, err := queryParams(r, "grid_id", "from", "to")
	if err != nil {
		return err
	}
	sq := tasks.SLAQuery{GridID: q["grid_id"]}
	errs := []error{registry.OptionalID("grid_id", sq.GridID)}
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"from", &sq.From}, {"to", &sq.To}} {
		s, ok := q[p.name]
		if !ok {
			continue
		}
		// An offset's '+' sent unescaped arrives as a space.
		t, err := time.Parse(time.RFC3339, strings.ReplaceAll(s, " ", "+"))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s %q: want an RFC 3339 time such as 2026-03-01T00:00:00Z", p.name, clip(s)))
		}
		*p.dst = t
	}
	if err := validation(errs...); err != nil {
		return err
	}
	rows, err := a.opts.Tasks.SLA(r.Context(), sq)
	if err != nil {
		return err
	}
	workers, err := a.opts.Tasks.SLAWorkers(r.Context(), sq)
	if err != nil {
		return err
	}
	if rows == nil {
		rows = []tasks.SLARow{}
	}
	a.writeJSON(w, r, http.StatusOK, slaResponse{Rows: rows, Workers: workers})
	return nil
}
