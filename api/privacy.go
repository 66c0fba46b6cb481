package api

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"

	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
	"github.com/eldersafe/eldersafe/tasks"
)

// What an answer withholds (docs/privacy.md): sensitive fields without a
// grant in force, and the signals a resident's privacy settings keep from
// the caller's audience. A withheld value is left out, and the object that
// held it names it in "redacted", so that a client can tell "withheld" from
// "none".

// PrivacySettings keeps residents' privacy settings. *store.DB implements it.
type PrivacySettings interface {
	// SetPrivacy replaces a household's settings; empty ones restore the defaults.
	SetPrivacy(ctx context.Context, householdID string, p registry.Privacy) error
}

func (a *API) privacyRoutes(rt *router) {
	// On the resident's word, recorded by the office.
	rt.handle("PUT /api/v1/households/{id}/privacy", a.putPrivacy, allow(registry.RoleOperator))
}

// privacyResponse answers PUT /api/v1/households/{id}/privacy.
type privacyResponse struct {
	// Privacy is every signal with the audiences that see it, defaults
	// filled in for the signals the request left out.
	Privacy registry.Privacy `json:"privacy"`
}

// putPrivacy replaces a household's privacy settings as a whole, e.g.
// {"water": ["worker"], "location": []}: a signal left out takes its default,
// [] shows it to nobody, {} restores every default.
func (a *API) putPrivacy(w http.ResponseWriter, r *http.Request) error {
	var req registry.Privacy
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	h, err := a.scopedHousehold(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if err := validation(req.Validate()); err != nil {
		return err
	}
	if err := a.opts.Privacy.SetPrivacy(r.Context(), h.ID, req); err != nil {
		return fmt.Errorf("set privacy of household %s: %w", h.ID, err)
	}
	a.writeJSON(w, r, http.StatusOK, privacyResponse{Privacy: req.Effective()})
	return nil
}

// redactedKey names, inside evidence values and timeline data, the keys
// withheld from them.
const redactedKey = "redacted"

// householdOut is a household as the caller may see it.
type householdOut struct {
	registry.Household
	Contacts []contactOut `json:"contacts"`
	// Privacy is every signal with its audiences, defaults filled in.
	Privacy registry.Privacy `json:"privacy"`
	// Redacted names the household's fields withheld: medical_notes.
	Redacted []string `json:"redacted,omitempty"`
}

type contactOut struct {
	registry.Contact
	// Redacted names the contact's fields withheld: phone.
	Redacted []string `json:"redacted,omitempty"`
}

// household is h as the caller may see it; lists encode as [], never null.
func (d *disclosure) household(h registry.Household) householdOut {
	out := householdOut{Household: h, Contacts: make([]contactOut, 0, len(h.Contacts)), Privacy: h.Privacy.Effective()}
	out.Household.Contacts, out.Household.Privacy = nil, nil // shadowed by out's own
	for _, c := range h.Contacts {
		if c.Channels == nil {
			c.Channels = []string{}
		}
		co := contactOut{Contact: c}
		if c.Phone != "" && !d.field(registry.FieldPhone) {
			co.Phone, co.Redacted = "", []string{registry.FieldPhone}
		}
		out.Contacts = append(out.Contacts, co)
	}
	if h.MedicalNotes != "" && !d.field(registry.FieldMedicalNotes) {
		out.MedicalNotes, out.Redacted = "", []string{registry.FieldMedicalNotes}
	}
	return out
}

// status is what a device of kind last said, as the caller may see it: the
// values of a signal the caller's audience may not see are all withheld,
// heart rate and position without a grant. Whether the device is online and
// its battery stay: they are about the device, and its upkeep.
func (d *disclosure) status(kind registry.DeviceKind, st rules.DeviceStatus) *statusView {
	v := &statusView{LastSeen: st.LastSeen, Online: st.Online, BatteryPct: st.BatteryPct, Last: st.Last}
	if len(st.Last) == 0 {
		return v
	}
	if !d.signal(registry.KindSignal(kind)) {
		v.Last, v.Redacted = nil, slices.Sorted(maps.Keys(st.Last))
		return v
	}
	var withheld []string
	if _, ok := st.Last[registry.FieldHeartRate]; ok && !d.field(registry.FieldHeartRate) {
		withheld = append(withheld, registry.FieldHeartRate)
	}
	if hasAny(st.Last, registry.LocationKeys) && !d.field(registry.FieldLocation) {
		withheld = append(withheld, presentKeys(st.Last, registry.LocationKeys)...)
	}
	if len(withheld) > 0 {
		v.Last, v.Redacted = without(st.Last, withheld), withheld
	}
	return v
}

// task is t as the caller may see it: the position in its evidence and
// timeline (a wristband's, a worker's at check-in) only under a grant, or for
// the worker the task is assigned to while a fall or SOS is open, who must
// find the resident.
func (d *disclosure) task(t tasks.Task) tasks.Task {
	found := false
	for _, ev := range t.Evidence {
		found = found || hasAny(ev.Values, registry.LocationKeys)
	}
	for _, e := range t.Timeline {
		found = found || hasAny(e.Data, registry.LocationKeys)
	}
	if !found || d.findsResident(t) || d.field(registry.FieldLocation) {
		return t
	}
	evidence := make([]rules.Evidence, len(t.Evidence))
	for i, ev := range t.Evidence {
		if keys := presentKeys(ev.Values, registry.LocationKeys); len(keys) > 0 {
			ev.Values = without(ev.Values, keys)
			ev.Values[redactedKey] = keys
		}
		evidence[i] = ev
	}
	timeline := make([]tasks.TimelineEntry, len(t.Timeline))
	for i, e := range t.Timeline {
		if keys := presentKeys(e.Data, registry.LocationKeys); len(keys) > 0 {
			e.Data = without(e.Data, keys)
			e.Data[redactedKey] = keys
		}
		timeline[i] = e
	}
	if t.Evidence != nil {
		t.Evidence = evidence
	}
	if t.Timeline != nil {
		t.Timeline = timeline
	}
	return t
}

// findsResident reports whether the caller is the worker assigned to an open
// fall or SOS task, who sees its position without a grant (unless the
// resident keeps their location from workers).
func (d *disclosure) findsResident(t tasks.Task) bool {
	return d.p.WorkerID != "" && d.p.WorkerID == t.AssigneeID && !t.State.Closed() &&
		(t.Rule == rules.RuleFall || t.Rule == rules.RuleSOS) && d.signal(registry.SignalLocation)
}

// writeTask answers with t as the caller may see it, after recording the use
// of any grant that shows something in it.
func (a *API) writeTask(w http.ResponseWriter, r *http.Request, status int, t tasks.Task) error {
	h, err := a.opts.Registry.Household(r.Context(), t.HouseholdID)
	if err != nil {
		return fmt.Errorf("load household %s of task %s: %w", t.HouseholdID, t.ID, err)
	}
	d, err := a.disclose(r.Context(), h)
	if err != nil {
		return err
	}
	out := d.task(t)
	if err := a.recordUses(r, d); err != nil {
		return err
	}
	a.writeJSON(w, r, status, out)
	return nil
}

func hasAny(m map[string]any, keys []string) bool {
	for _, k := range keys {
		if _, ok := m[k]; ok {
			return true
		}
	}
	return false
}

// presentKeys are the keys of m among keys, in keys' order.
func presentKeys(m map[string]any, keys []string) []string {
	var out []string
	for _, k := range keys {
		if _, ok := m[k]; ok {
			out = append(out, k)
		}
	}
	return out
}

// without is a copy of m without keys.
func without(m map[string]any, keys []string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		if !slices.Contains(keys, k) {
			out[k] = v
		}
	}
	return out
}
