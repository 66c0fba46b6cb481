package api

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/eldersafe/eldersafe/history"
	"github.com/eldersafe/eldersafe/registry"
)

func (a *API) chartRoutes(rt *router) {
	if a.opts.Charts == nil {
		return
	}
	rt.handle("GET /api/v1/households/{id}/charts", a.householdCharts,
		allow(registry.RoleOperator, registry.RoleSupervisor, registry.RoleGridWorker))
}

// defaultChartDays is the chart's length when ?days= is not given.
const defaultChartDays = 7

// chartTimeout bounds the history query behind one chart.
const chartTimeout = 15 * time.Second

// chartResponse is the answer of GET /api/v1/households/{id}/charts, the
// same whichever history answers it.
type chartResponse struct {
	HouseholdID string `json:"household_id"`
	// Source is where the hours come from: influxdb or rollup.
	Source string `json:"source"`
	Days   int    `json:"days"`
	// From and To bound the hours, [from, to); absent while the event
	// clock has not started (no hours then).
	From  time.Time      `json:"from,omitzero"`
	To    time.Time      `json:"to,omitzero"`
	Hours []history.Hour `json:"hours"`
}

// householdCharts answers GET /api/v1/households/{id}/charts?days=N: the
// household's water litres, motion events, door openings and power kWh per
// hour over the last N days (1 to 31, default 7) of the monitor's clock,
// up to the end of the current hour, every hour present.
func (a *API) householdCharts(w http.ResponseWriter, r *http.Request) error {
	q, err := queryParams(r, "days")
	if err != nil {
		return err
	}
	days := defaultChartDays
	if s, ok := q["days"]; ok {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > history.MaxChartDays {
			return invalidf("days %q: want a whole number from 1 to %d", clip(s), history.MaxChartDays)
		}
		days = n
	}
	id := r.PathValue("id")
	if _, err := a.scopedHousehold(r.Context(), id); err != nil {
		return err
	}
	var from, to time.Time
	if now := a.opts.Clock.Now(); !now.IsZero() {
		from, to = history.ChartRange(now, days)
	}
	ctx, cancel := context.WithTimeout(r.Context(), chartTimeout)
	defer cancel()
	c, err := a.opts.Charts.Chart(ctx, id, from, to)
	if err != nil {
		// Both wrapped: the answer is the apiError's, the log shows the cause.
		return fmt.Errorf("chart of household %s: %w: %w", id, errorf(http.StatusServiceUnavailable, codeUnavailable,
			"the readings history is unavailable; try again later"), err)
	}
	resp := chartResponse{HouseholdID: id, Source: c.Source, Days: days, From: from, To: to, Hours: c.Hours}
	if resp.Hours == nil {
		resp.Hours = []history.Hour{}
	}
	a.writeJSON(w, r, http.StatusOK, resp)
	return nil
}
