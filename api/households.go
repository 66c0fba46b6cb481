package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
	"github.com/eldersafe/eldersafe/tasks"
)

func (a *API) householdRoutes(rt *router) {
	rt.handle("POST /api/v1/households", a.createHousehold, allow(registry.RoleOperator))
	rt.handle("GET /api/v1/households/{id}", a.getHousehold,
		allow(registry.RoleOperator, registry.RoleSupervisor, registry.RoleGridWorker, registry.RoleFamily))
}

// householdRequest is the body of POST /api/v1/households.
type householdRequest struct {
	ID           string           `json:"id"`
	Name         string           `json:"name"`
	Address      string           `json:"address"`
	GridID       string           `json:"grid_id"`
	Timezone     string           `json:"timezone"`
	Contacts     []contactRequest `json:"contacts"`
	MedicalNotes string           `json:"medical_notes"`
	// Privacy is the resident's word at registration (privacy.go); absent:
	// the defaults.
	Privacy registry.Privacy `json:"privacy"`
	// CareLevel is self_care (the default), semi or dependent.
	CareLevel string `json:"care_level"`
}

type contactRequest struct {
	Name       string   `json:"name"`
	Relation   string   `json:"relation"`
	Phone      string   `json:"phone"`
	PushURL    string   `json:"push_url"`
	Lang       string   `json:"lang"`
	Channels   []string `json:"channels"`
	QuietHours string   `json:"quiet_hours"`
}

func (a *API) createHousehold(w http.ResponseWriter, r *http.Request) error {
	var req householdRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	h := registry.Household{
		ID:           req.ID,
		Name:         req.Name,
		Address:      req.Address,
		GridID:       req.GridID,
		Timezone:     req.Timezone,
		Contacts:     make([]registry.Contact, 0, len(req.Contacts)),
		MedicalNotes: req.MedicalNotes,
		Privacy:      req.Privacy,
		CareLevel:    registry.CareLevel(req.CareLevel).OrDefault(),
	}
	for _, c := range req.Contacts {
		h.Contacts = append(h.Contacts, registry.Contact{
			Name: c.Name, Relation: c.Relation, Phone: c.Phone, PushURL: c.PushURL, Lang: c.Lang, Channels: c.Channels,
			QuietHours: c.QuietHours,
		})
	}
	if err := validation(h.Validate()); err != nil {
		return err
	}
	if err := a.opts.Registry.CreateHousehold(r.Context(), h); err != nil {
		return createError("household", h.ID, err)
	}
	a.householdRegistered(r.Context(), h)
	a.routineFor(r.Context(), h.ID)
	// The answer withholds sensitive fields like any read: what the
	// operator just typed is not shown back without a grant.
	d, err := a.disclose(r.Context(), h)
	if err != nil {
		return err
	}
	out := d.household(h)
	if err := a.recordUses(r, d); err != nil {
		return err
	}
	a.writeJSON(w, r, http.StatusCreated, out)
	return nil
}

// householdResponse is a household with its devices and what each last
// said, and the settings its rules run with.
type householdResponse struct {
	householdOut
	Devices []deviceStatusView `json:"devices"`
	rules.Monitoring
	householdRules
}

type deviceStatusView struct {
	ID   string              `json:"id"`
	Kind registry.DeviceKind `json:"kind"`
	// ExpectedEvery is set when the device reports at its own interval.
	ExpectedEvery string `json:"expected_every,omitempty"`
	Location      string `json:"location,omitempty"`
	// Status is null for a device never heard from.
	Status *statusView `json:"status"`
}

// statusView is rules.DeviceStatus without the device id it is filed under.
type statusView struct {
	LastSeen   time.Time      `json:"last_seen"`
	Online     bool           `json:"online"`
	BatteryPct *float64       `json:"battery_pct,omitempty"`
	Last       map[string]any `json:"last,omitempty"`
	// Redacted names the values of last withheld from the caller (privacy.go).
	Redacted []string `json:"redacted,omitempty"`
}

func (a *API) getHousehold(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	h, err := a.scopedHousehold(r.Context(), id)
	if err != nil {
		return err
	}
	devices, err := a.opts.Registry.DevicesOf(r.Context(), id)
	if err != nil {
		return fmt.Errorf("load devices of household %s: %w", id, err)
	}
	statuses := make(map[string]rules.DeviceStatus)
	for _, st := range a.opts.Status(id) {
		statuses[st.DeviceID] = st
	}
	hr, err := a.householdRules(r.Context(), id)
	if err != nil {
		return fmt.Errorf("load rule settings of household %s: %w", id, err)
	}
	disc, err := a.disclose(r.Context(), h)
	if err != nil {
		return err
	}
	family := principal(r.Context()).Role == registry.RoleFamily
	resp := householdResponse{Devices: make([]deviceStatusView, 0, len(devices)), Monitoring: a.opts.Rules.Monitoring(id), householdRules: hr}
	if !family {
		resp.householdOut = disc.household(h)
	}
	for _, d := range devices {
		v := deviceStatusView{ID: d.ID, Kind: d.Kind, ExpectedEvery: registry.FormatEvery(d.ExpectedEvery), Location: d.Location}
		// The engine knows a registered device before it speaks (it expects
		// its messages); until then it has no status to show.
		if st, ok := statuses[d.ID]; ok && !st.LastSeen.IsZero() {
			v.Status = disc.status(d.Kind, st)
		}
		resp.Devices = append(resp.Devices, v)
	}
	if err := a.recordUses(r, disc); err != nil {
		return err
	}
	if family {
		// A family sees how the home is doing, not the office's records:
		// no contacts' numbers, thresholds or away reasons.
		open, err := a.familyTasks(r.Context(), h.ID)
		if err != nil {
			return err
		}
		a.writeJSON(w, r, http.StatusOK, familyHouseholdResponse{ID: h.ID, Name: h.Name, Devices: resp.Devices, Monitoring: resp.Monitoring, OpenTasks: open})
		return nil
	}
	a.writeJSON(w, r, http.StatusOK, resp)
	return nil
}

// familyHouseholdResponse is what a family member sees of their household.
type familyHouseholdResponse struct {
	ID      string             `json:"id"`
	Name    string             `json:"name"`
	Devices []deviceStatusView `json:"devices"`
	rules.Monitoring
	// OpenTasks are what the office is doing about the home now, so that
	// a family is never shown "all devices online" alone during an alarm.
	OpenTasks []familyTask `json:"open_tasks"`
}

// familyTask is an open task as its family sees it: what happened, how far
// it got and who is coming; not the evidence, notes or position.
type familyTask struct {
	ID       string         `json:"id"`
	Rule     string         `json:"rule"`
	Severity rules.Severity `json:"severity"`
	State    tasks.State    `json:"state"`
	OpenedAt time.Time      `json:"opened_at"`
	// Assignee is the name of the worker on the way; empty while the office
	// arranges it.
	Assignee string `json:"assignee,omitempty"`
}

// familyTasks lists a household's open tasks, newest first.
func (a *API) familyTasks(ctx context.Context, householdID string) ([]familyTask, error) {
	list, err := a.opts.Tasks.Tasks(ctx, tasks.Filter{HouseholdID: householdID, Limit: 50})
	if err != nil {
		return nil, fmt.Errorf("load tasks of household %s: %w", householdID, err)
	}
	out := []familyTask{}
	for _, t := range list {
		if t.State.Closed() {
			continue
		}
		ft := familyTask{ID: t.ID, Rule: t.Rule, Severity: t.Severity, State: t.State, OpenedAt: t.OpenedAt}
		if t.AssigneeID != "" {
			wk, err := a.opts.Users.Worker(ctx, t.AssigneeID)
			if err != nil && !errors.Is(err, registry.ErrNotFound) {
				return nil, fmt.Errorf("load worker %s: %w", t.AssigneeID, err)
			}
			ft.Assignee = wk.Name
		}
		out = append(out, ft)
	}
	return out, nil
}

// householdView makes empty lists encode as [] rather than null.
func householdView(h registry.Household) registry.Household {
	contacts := make([]registry.Contact, len(h.Contacts))
	for i, c := range h.Contacts {
		if c.Channels == nil {
			c.Channels = []string{}
		}
		contacts[i] = c
	}
	h.Contacts = contacts
	return h
}
