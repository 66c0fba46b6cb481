package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
)

// HouseholdLister lists households without their sensitive fields;
// *store.DB implements it. The Registry is asked for it: without it, GET
// /api/v1/households does not exist.
type HouseholdLister interface {
	// Households lists by id, at most limit; gridIDs nil: every grid's,
	// empty: none.
	Households(ctx context.Context, gridIDs []string, limit int) ([]registry.Household, error)
}

// Household listing limits: ?limit= defaults to defaultHouseholdLimit.
const (
	defaultHouseholdLimit = 1000
	maxHouseholdLimit     = 5000
)

func (a *API) householdListRoutes(rt *router) {
	// A family member has their one household: GET /api/v1/households/{id}.
	rt.handle("GET /api/v1/households", a.listHouseholds,
		allow(registry.RoleOperator, registry.RoleSupervisor, registry.RoleGridWorker))
}

type householdListResponse struct {
	Households []householdListItem `json:"households"`
}

// householdListItem is a household as listed: where it is and how its
// devices are, without contacts or any other sensitive field.
type householdListItem struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Address  string `json:"address"`
	GridID   string `json:"grid_id"`
	Timezone string `json:"timezone,omitempty"`
	// CareLevel is self_care, semi or dependent.
	CareLevel registry.CareLevel `json:"care_level"`
	// Devices say whether each device is online and when it last spoke;
	// what it said is on GET /api/v1/households/{id}.
	Devices []deviceListView `json:"devices"`
}

type deviceListView struct {
	ID       string              `json:"id"`
	Kind     registry.DeviceKind `json:"kind"`
	Location string              `json:"location,omitempty"`
	// LastSeen is null for a device never heard from.
	LastSeen   *time.Time `json:"last_seen"`
	Online     bool       `json:"online"`
	BatteryPct *float64   `json:"battery_pct,omitempty"`
}

// listHouseholds answers GET /api/v1/households?grid_id=&limit=: the
// households the caller may see (a grid worker: those of their grids), by
// id, with each device's liveness.
func (a *API) listHouseholds(w http.ResponseWriter, r *http.Request) error {
	q, err := queryParams(r, "grid_id", "limit")
	if err != nil {
		return err
	}
	gridID := q["grid_id"]
	errs := []error{registry.OptionalID("grid_id", gridID)}
	limit := defaultHouseholdLimit
	if s, ok := q["limit"]; ok {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxHouseholdLimit {
			errs = append(errs, fmt.Errorf("limit %q: must be an integer from 1 to %d", clip(s), maxHouseholdLimit))
		}
		limit = n
	}
	if err := validation(errs...); err != nil {
		return err
	}
	grids := gridScope(principal(r.Context()))
	if gridID != "" {
		if grids == nil || slices.Contains(grids, gridID) {
			grids = []string{gridID}
		} else {
			grids = []string{} // a grid the caller does not serve: nothing to see
		}
	}
	list, err := a.opts.HouseholdList.Households(r.Context(), grids, limit)
	if err != nil {
		return err
	}
	resp := householdListResponse{Households: make([]householdListItem, 0, len(list))}
	for _, h := range list {
		devices, err := a.opts.Registry.DevicesOf(r.Context(), h.ID)
		if errors.Is(err, registry.ErrNotFound) {
			continue // deleted since it was listed
		}
		if err != nil {
			return fmt.Errorf("load devices of household %s: %w", h.ID, err)
		}
		resp.Households = append(resp.Households, householdListItem{
			ID: h.ID, Name: h.Name, Address: h.Address, GridID: h.GridID, Timezone: h.Timezone,
			CareLevel: h.CareLevel.OrDefault(), Devices: a.deviceLiveness(h.ID, devices),
		})
	}
	a.writeJSON(w, r, http.StatusOK, resp)
	return nil
}

// deviceLiveness is whether each device is online and when it last spoke,
// from the rules engine.
func (a *API) deviceLiveness(householdID string, devices []registry.Device) []deviceListView {
	statuses := make(map[string]rules.DeviceStatus)
	for _, st := range a.opts.Status(householdID) {
		statuses[st.DeviceID] = st
	}
	out := make([]deviceListView, 0, len(devices))
	for _, d := range devices {
		v := deviceListView{ID: d.ID, Kind: d.Kind, Location: d.Location}
		if st, ok := statuses[d.ID]; ok && !st.LastSeen.IsZero() {
			seen := st.LastSeen
			v.LastSeen, v.Online, v.BatteryPct = &seen, st.Online, st.BatteryPct
		}
		out = append(out, v)
	}
	return out
}
