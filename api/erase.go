package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/eldersafe/eldersafe/audit"
	"github.com/eldersafe/eldersafe/feedback"
	"github.com/eldersafe/eldersafe/history"
	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
	"github.com/eldersafe/eldersafe/tasks"
)

// The resident's rights over their data: everything the monitor holds of a
// household, exported as one JSON document, and the household deleted with
// everything personal it left, its tasks kept anonymised for the statistics
// (docs/privacy.md, "Export and deletion").

// HouseholdData is what exporting, deleting and importing whole households
// need of the store beyond the Registry. *store.DB implements it.
type HouseholdData interface {
	// HouseholdUsers lists the users tied to a household (family).
	HouseholdUsers(ctx context.Context, householdID string) ([]registry.User, error)
	// HouseholdTaskIDs lists every task of a household, oldest first.
	HouseholdTaskIDs(ctx context.Context, householdID string) ([]string, error)
	// HouseholdAudit lists the audit entries about a household, oldest first.
	HouseholdAudit(ctx context.Context, householdID string) ([]audit.Entry, error)
	// HouseholdReadings returns the household's readings roll-up: its
	// stored hours, oldest first, and its meters' last registers.
	HouseholdReadings(ctx context.Context, householdID string) ([]history.Hour, []history.MeterRegister, error)
	// DeleteHousehold erases a household; at closes its open tasks, actor
	// is who asked. Unknown: registry.ErrNotFound. (Options.Erase, which
	// the monitor sets, also has it forget the household.)
	DeleteHousehold(ctx context.Context, id string, at time.Time, actor string) (registry.Erasure, error)
	// ImportHousehold creates or updates one household with its devices.
	ImportHousehold(ctx context.Context, in registry.HouseholdImport) (registry.ImportResult, error)
	// ImportHouseholds creates or updates households with their devices,
	// in one transaction with a savepoint each: errs[i] refuses in[i]
	// alone; err means nothing was stored.
	ImportHouseholds(ctx context.Context, in []registry.HouseholdImport) (results []registry.ImportResult, errs []error, err error)
	// ExistingHouseholds says which of ids are registered households.
	ExistingHouseholds(ctx context.Context, ids []string) (map[string]bool, error)
}

func (a *API) erasureRoutes(rt *router) {
	rt.handle("GET /api/v1/households/{id}/export", a.exportHousehold,
		allow(registry.RoleOperator, registry.RoleSupervisor), auditAs(audit.Export))
	rt.handle("DELETE /api/v1/households/{id}", a.deleteHousehold, allow(registry.RoleOperator), selfAudited())
}

// householdExport is everything the monitor holds of a household, its
// sensitive fields shown as to the caller anywhere else (privacy.go): all to
// the admin, to anyone else under a grant; a value withheld is named in a
// redacted list.
type householdExport struct {
	ExportedAt time.Time `json:"exported_at"`
	// Household is the registry record with contacts, medical notes and
	// privacy settings.
	Household householdOut `json:"household"`
	// Devices never show their secrets' hashes.
	Devices []registry.Device `json:"devices"`
	// Thresholds are the household's own overrides.
	Thresholds rules.Thresholds      `json:"thresholds"`
	Away       []registry.AwayPeriod `json:"away"`
	// Users tied to the household (family), without password hashes.
	Users []registry.User `json:"users"`
	// Grants are every grant of access to its sensitive fields, newest
	// first, in force, expired or revoked.
	Grants []grantView `json:"grants"`
	// RuleState is what the rules engine holds: each device's last message
	// (status null for a device never heard from).
	RuleState []deviceStatusView `json:"rule_state"`
	// Baseline is what the rules learned of its motion; absent when the
	// resident's privacy settings keep motion from the caller.
	Baseline *rules.Baseline `json:"baseline,omitempty"`
	// FalseAlarms are the reasons its false alarms were given, and
	// Suggestions what they suggested, decided or not (outcome feedback).
	FalseAlarms []feedback.FalseAlarm `json:"false_alarms"`
	Suggestions []feedback.Suggestion `json:"suggestions"`
	// Tasks come with their evidence and timeline, oldest first.
	Tasks []tasks.Task `json:"tasks"`
	// Notices are every message sent (or to be sent) about its tasks.
	Notices []exportNotice `json:"notices"`
	// Readings is the readings roll-up the store keeps (without InfluxDB;
	// with it, the readings are in InfluxDB).
	Readings readingsExport `json:"readings"`
	// Audit lists every recorded access to the household, its tasks and
	// users, this export included.
	Audit []audit.Entry `json:"audit"`
}

// readingsExport is a household's readings roll-up: water litres, motion
// events, door openings and power kWh per hour, and where each meter's
// register stood when last read, from which the next rise is counted.
type readingsExport struct {
	Hourly []history.Hour `json:"hourly"`
	Meters []meterExport  `json:"meters"`
}

type meterExport struct {
	DeviceID string `json:"device_id"`
	// Field is the register: total_liters or total_kwh.
	Field  string    `json:"field"`
	Value  float64   `json:"value"`
	ReadAt time.Time `json:"read_at"`
}

// exportNotice is a notice; its address (a phone number or push URL) is a
// relative's contact detail, shown like their phone.
type exportNotice struct {
	tasks.Notice
	Redacted []string `json:"redacted,omitempty"`
}

// exportHousehold answers GET /api/v1/households/{id}/export: one JSON
// document, offered as a file to save.
func (a *API) exportHousehold(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	id := r.PathValue("id")
	h, err := a.scopedHousehold(ctx, id)
	if err != nil {
		return err
	}
	d, err := a.disclose(ctx, h)
	if err != nil {
		return err
	}
	x := householdExport{ExportedAt: a.wall.Now().UTC(), Household: d.household(h)}
	if x.Devices, err = a.opts.Registry.DevicesOf(ctx, id); err != nil {
		return fmt.Errorf("export household %s: devices: %w", id, err)
	}
	statuses := make(map[string]rules.DeviceStatus)
	for _, st := range a.opts.Status(id) {
		statuses[st.DeviceID] = st
	}
	x.RuleState = make([]deviceStatusView, 0, len(x.Devices))
	for _, dev := range x.Devices {
		v := deviceStatusView{ID: dev.ID, Kind: dev.Kind}
		if st, ok := statuses[dev.ID]; ok && !st.LastSeen.IsZero() {
			v.Status = d.status(dev.Kind, st)
		}
		x.RuleState = append(x.RuleState, v)
	}
	if d.signal(registry.SignalMotion) {
		b := a.opts.Rules.Baseline(id)
		x.Baseline = &b
	}
	if x.FalseAlarms, x.Suggestions, err = a.opts.Feedback.FeedbackOf(ctx, id); err != nil {
		return fmt.Errorf("export household %s: feedback: %w", id, err)
	}
	if x.Thresholds, err = a.opts.RuleSettings.HouseholdThresholds(ctx, id); err != nil {
		return fmt.Errorf("export household %s: thresholds: %w", id, err)
	}
	if x.Away, err = a.opts.RuleSettings.AwayPeriodsOf(ctx, id, time.Time{}); err != nil {
		return fmt.Errorf("export household %s: away periods: %w", id, err)
	}
	if x.Users, err = a.opts.Households.HouseholdUsers(ctx, id); err != nil {
		return fmt.Errorf("export household %s: users: %w", id, err)
	}
	grants, err := a.opts.Grants.Grants(ctx, id)
	if err != nil {
		return fmt.Errorf("export household %s: grants: %w", id, err)
	}
	x.Grants = make([]grantView, 0, len(grants))
	for _, g := range grants {
		x.Grants = append(x.Grants, grantView{Grant: g, Active: g.Active(a.wall.Now())})
	}
	if x.Readings, err = a.exportReadings(ctx, id); err != nil {
		return fmt.Errorf("export household %s: %w", id, err)
	}
	taskIDs, err := a.opts.Households.HouseholdTaskIDs(ctx, id)
	if err != nil {
		return fmt.Errorf("export household %s: tasks: %w", id, err)
	}
	x.Tasks, x.Notices = make([]tasks.Task, 0, len(taskIDs)), []exportNotice{}
	for _, tid := range taskIDs {
		t, err := a.opts.Tasks.Task(ctx, tid)
		if err != nil {
			return fmt.Errorf("export household %s: task %s: %w", id, tid, err)
		}
		x.Tasks = append(x.Tasks, d.task(t))
		notices, err := a.opts.Notifications.Notifications(ctx, tid)
		if err != nil {
			return fmt.Errorf("export household %s: notices of task %s: %w", id, tid, err)
		}
		for _, n := range notices {
			out := exportNotice{Notice: n}
			if n.Address != "" && !d.field(registry.FieldPhone) {
				out.Address, out.Redacted = "", []string{"address"}
			}
			x.Notices = append(x.Notices, out)
		}
	}
	if x.Audit, err = a.opts.Households.HouseholdAudit(ctx, id); err != nil {
		return fmt.Errorf("export household %s: audit log: %w", id, err)
	}
	if x.Thresholds == nil {
		x.Thresholds = rules.Thresholds{}
	}
	if err := a.recordUses(r, d); err != nil {
		return err
	}
	// The id is a registry id: safe in a header.
	w.Header().Set("Content-Disposition", `attachment; filename="household-`+h.ID+`-export.json"`)
	a.writeJSON(w, r, http.StatusOK, x)
	return nil
}

// exportReadings is the household's readings roll-up; lists encode as [].
func (a *API) exportReadings(ctx context.Context, householdID string) (readingsExport, error) {
	hours, meters, err := a.opts.Households.HouseholdReadings(ctx, householdID)
	if err != nil {
		return readingsExport{}, fmt.Errorf("readings roll-up: %w", err)
	}
	out := readingsExport{Hourly: hours, Meters: make([]meterExport, 0, len(meters))}
	if out.Hourly == nil {
		out.Hourly = []history.Hour{}
	}
	for _, m := range meters {
		out.Meters = append(out.Meters, meterExport{DeviceID: m.DeviceID, Field: m.Field, Value: m.Value, ReadAt: m.At})
	}
	return out, nil
}

// deleteRequest is the body of a DELETE that must say why: a household's
// erasure, a grant's revocation.
type deleteRequest struct {
	Reason string `json:"reason"`
}

// deleteReason reads why a DELETE is made: the body's reason or, without a
// body, the X-Access-Reason header. It is required, for the audit log.
func deleteReason(w http.ResponseWriter, r *http.Request) (string, error) {
	var req deleteRequest
	if err := decodeOptionalJSON(w, r, &req); err != nil {
		return "", err
	}
	reason := strings.TrimSpace(req.Reason)
	if reason == "" {
		reason = strings.TrimSpace(r.Header.Get(ReasonHeader))
	}
	if reason == "" {
		return "", invalidf("reason: required (the body's reason, or the %s header)", ReasonHeader)
	}
	if err := validation(registry.CheckField("reason", registry.KindReason, reason)); err != nil {
		return "", err
	}
	return reason, nil
}

// deleteHousehold answers DELETE /api/v1/households/{id} with body {reason}
// (or, without a body, the X-Access-Reason header): the household is erased
// (store.DeleteHousehold) and forgotten by the running monitor. The audit
// entry, with the reason, is written before anything is touched.
func (a *API) deleteHousehold(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	id := r.PathValue("id")
	reason, err := deleteReason(w, r)
	if err != nil {
		return err
	}
	p := principal(ctx)
	if err := a.record(r, p, audit.Delete, reason); err != nil {
		return err
	}
	if _, err := a.scopedHousehold(ctx, id); err != nil {
		return err
	}
	er, err := a.opts.Erase(ctx, id, a.opts.Clock.Now(), p.ID)
	if errors.Is(err, registry.ErrNotFound) {
		return errorf(http.StatusNotFound, codeNotFound, "household %q not found", clip(id))
	}
	if err != nil {
		return err
	}
	a.log.Info("household deleted", "household_id", id, "by", p.ID, "devices", len(er.DeviceIDs),
		"users", len(er.UserIDs), "tasks_anonymised", er.Tasks, "tasks_cancelled", er.TasksCancelled)
	a.writeJSON(w, r, http.StatusOK, er)
	return nil
}
