package api

import (
	"fmt"
	"net/http"
	"time"

	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
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
		v := deviceStatusView{ID: d.ID, Kind: d.Kind, ExpectedEvery: registry.FormatEvery(d.ExpectedEvery)}
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
		a.writeJSON(w, r, http.StatusOK, familyHouseholdResponse{ID: h.ID, Name: h.Name, Devices: resp.Devices, Monitoring: resp.Monitoring})
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
