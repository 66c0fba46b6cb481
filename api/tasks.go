package api

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
	"github.com/eldersafe/eldersafe/tasks"
)

// maxTaskLimit is the largest ?limit= of a task listing; without one the
// store's default applies (500).
const maxTaskLimit = 5000

func (a *API) taskRoutes(rt *router) {
	staff := allow(registry.RoleOperator, registry.RoleSupervisor, registry.RoleGridWorker)
	// Those who go to the home: a supervisor may step in for a grid worker.
	field := allow(registry.RoleSupervisor, registry.RoleGridWorker)
	rt.handle("GET /api/v1/tasks", a.listTasks, staff)
	rt.handle("POST /api/v1/tasks", a.createTask, staff)
	rt.handle("GET /api/v1/tasks/{id}", a.getTask, staff)
	rt.handle("POST /api/v1/tasks/{id}/ack", a.ackTask, field)
	rt.handle("POST /api/v1/tasks/{id}/checkin", a.checkInTask, field)
	rt.handle("POST /api/v1/tasks/{id}/resolve", a.resolveTask, field)
	rt.handle("POST /api/v1/tasks/{id}/handover", a.handoverTask, field)
	rt.handle("POST /api/v1/tasks/{id}/reassign", a.reassignTask, allow(registry.RoleOperator, registry.RoleSupervisor))
	rt.handle("POST /api/v1/tasks/{id}/reschedule", a.rescheduleTask, staff)
	rt.handle("POST /api/v1/tasks/{id}/cancel", a.cancelTask, allow(registry.RoleOperator, registry.RoleSupervisor))
}

type tasksResponse struct {
	Tasks []tasks.Task `json:"tasks"`
}

// listTasks answers GET /api/v1/tasks?state=&household_id=&rule=&assignee_id=&kind=&due_before=&limit=,
// newest first; due_before keeps the routine visits due before it.
func (a *API) listTasks(w http.ResponseWriter, r *http.Request) error {
	q, err := queryParams(r, "state", "household_id", "rule", "assignee_id", "kind", "due_before", "limit")
	if err != nil {
		return err
	}
	f := tasks.Filter{
		State:       tasks.State(q["state"]),
		HouseholdID: q["household_id"],
		Rule:        q["rule"],
		AssigneeID:  q["assignee_id"],
		Kind:        rules.TaskKind(q["kind"]),
		GridIDs:     gridScope(principal(r.Context())),
	}
	var errs []error
	if f.Kind != "" && !slices.Contains(tasks.Kinds, f.Kind) {
		errs = append(errs, fmt.Errorf("kind %q: must be one of visit, maintenance, routine_visit", clip(string(f.Kind))))
	}
	if s, ok := q["due_before"]; ok {
		// An offset's '+' sent unescaped arrives as a space.
		t, err := time.Parse(time.RFC3339, strings.ReplaceAll(s, " ", "+"))
		if err != nil {
			errs = append(errs, fmt.Errorf("due_before %q: want an RFC 3339 time such as 2026-03-08T00:00:00+08:00", clip(s)))
		}
		f.DueBefore = t
	}
	if f.State != "" && !f.State.Valid() {
		errs = append(errs, fmt.Errorf("state %q: must be one of open, acknowledged, on_site, resolved, escalated, cancelled", clip(string(f.State))))
	}
	if f.Rule != "" && !slices.Contains(rules.Names, f.Rule) {
		errs = append(errs, fmt.Errorf("rule %q: unknown", clip(f.Rule)))
	}
	errs = append(errs, registry.OptionalID("household_id", f.HouseholdID), registry.OptionalID("assignee_id", f.AssigneeID))
	if s, ok := q["limit"]; ok {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxTaskLimit {
			errs = append(errs, fmt.Errorf("limit %q: must be an integer from 1 to %d", clip(s), maxTaskLimit))
		}
		f.Limit = n
	}
	if err := validation(errs...); err != nil {
		return err
	}
	list, err := a.opts.Tasks.Tasks(r.Context(), f)
	if err != nil {
		return fmt.Errorf("list tasks: %w", err)
	}
	if list == nil {
		list = []tasks.Task{}
	}
	a.writeJSON(w, r, http.StatusOK, tasksResponse{Tasks: list})
	return nil
}

func (a *API) getTask(w http.ResponseWriter, r *http.Request) error {
	t, err := a.scopedTask(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return a.writeTask(w, r, http.StatusOK, t)
}

type ackRequest struct {
	WorkerID string `json:"worker_id"`
}

func (a *API) ackTask(w http.ResponseWriter, r *http.Request) error {
	var req ackRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if err := a.actingOn(r, req.WorkerID); err != nil {
		return err
	}
	t, err := a.opts.Tasks.Ack(r.Context(), r.PathValue("id"), req.WorkerID)
	if err != nil {
		return err
	}
	return a.writeTask(w, r, http.StatusOK, t)
}

type checkInRequest struct {
	WorkerID string   `json:"worker_id"`
	Lat      *float64 `json:"lat"`
	Lon      *float64 `json:"lon"`
}

func (a *API) checkInTask(w http.ResponseWriter, r *http.Request) error {
	var req checkInRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if err := a.actingOn(r, req.WorkerID); err != nil {
		return err
	}
	t, err := a.opts.Tasks.CheckIn(r.Context(), r.PathValue("id"), req.WorkerID, req.Lat, req.Lon)
	if err != nil {
		return err
	}
	return a.writeTask(w, r, http.StatusOK, t)
}

type resolveRequest struct {
	WorkerID string `json:"worker_id"`
	Outcome  string `json:"outcome"`
	Note     string `json:"note"`
	// Reason says why a false alarm was one (feedback.Reasons); optional.
	Reason string `json:"reason"`
}

func (a *API) resolveTask(w http.ResponseWriter, r *http.Request) error {
	var req resolveRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if err := a.actingOn(r, req.WorkerID); err != nil {
		return err
	}
	if req.Outcome == "" {
		return invalidf("outcome is required: one of safe, needs_help, hospitalized, false_alarm, deceased, other")
	}
	if err := validation(registry.CheckField("note", registry.KindNote, req.Note), checkReason(req.Outcome, req.Reason)); err != nil {
		return err
	}
	t, err := a.opts.Tasks.Resolve(r.Context(), r.PathValue("id"), req.WorkerID, req.Outcome, req.Note)
	if err != nil {
		return err
	}
	if req.Reason != "" {
		a.learnFrom(r.Context(), t, req.Reason)
	}
	return a.writeTask(w, r, http.StatusOK, t)
}

// manualTaskRequest is the body of POST /api/v1/tasks: a resident phoned in.
type manualTaskRequest struct {
	HouseholdID string `json:"household_id"`
	Reason      string `json:"reason"`
	Severity    string `json:"severity"`
}

// createTask opens a manual task, rule manual, on the caller's word: 201 with
// the new task, or 200 with the household's open manual task when there is
// one already, the report added to its evidence.
func (a *API) createTask(w http.ResponseWriter, r *http.Request) error {
	var req manualTaskRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	errs := []error{requiredID("household_id", req.HouseholdID), registry.CheckField("reason", registry.KindReason, req.Reason)}
	if req.Severity == "" {
		errs = append(errs, errors.New("severity is required: one of critical, high, medium, low"))
	}
	if err := validation(errs...); err != nil {
		return err
	}
	if _, err := a.scopedHousehold(r.Context(), req.HouseholdID); err != nil {
		if ae, ok := errors.AsType[*apiError](err); ok && ae.status == http.StatusNotFound {
			return invalidf("household_id %q is not registered", req.HouseholdID).keepRefusal(ae)
		}
		return err
	}
	if _, err := a.monitorNow(); err != nil {
		return err
	}
	p := principal(r.Context())
	t, opened, err := a.opts.Tasks.OpenManual(r.Context(), req.HouseholdID, rules.Severity(req.Severity), req.Reason, p.ID)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if opened {
		status = http.StatusCreated
	}
	return a.writeTask(w, r, status, t)
}

type handoverRequest struct {
	FromWorkerID string `json:"from_worker_id"`
	ToWorkerID   string `json:"to_worker_id"`
	Reason       string `json:"reason"`
}

func (a *API) handoverTask(w http.ResponseWriter, r *http.Request) error {
	var req handoverRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if err := validation(requiredID("from_worker_id", req.FromWorkerID), requiredID("to_worker_id", req.ToWorkerID),
		registry.CheckField("reason", registry.KindReason, req.Reason)); err != nil {
		return err
	}
	if err := a.actingOn(r, req.FromWorkerID); err != nil {
		return err
	}
	t, err := a.opts.Tasks.Handover(r.Context(), r.PathValue("id"), req.FromWorkerID, req.ToWorkerID, req.Reason)
	if err != nil {
		return err
	}
	return a.writeTask(w, r, http.StatusOK, t)
}

type reassignRequest struct {
	ToWorkerID string `json:"to_worker_id"`
	Reason     string `json:"reason"`
}

// reassignTask moves a task to another worker on the office's word, who is
// named on its timeline: a handover the task's worker cannot make.
func (a *API) reassignTask(w http.ResponseWriter, r *http.Request) error {
	var req reassignRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if err := validation(requiredID("to_worker_id", req.ToWorkerID), registry.CheckField("reason", registry.KindReason, req.Reason)); err != nil {
		return err
	}
	if _, err := a.scopedTask(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	t, err := a.opts.Tasks.Reassign(r.Context(), r.PathValue("id"), req.ToWorkerID, req.Reason, principal(r.Context()).ID)
	if err != nil {
		return err
	}
	return a.writeTask(w, r, http.StatusOK, t)
}

type rescheduleRequest struct {
	DueAt  string `json:"due_at"`
	Reason string `json:"reason"`
}

// rescheduleTask moves a routine visit to another day on the caller's word,
// who is named on its timeline: a grid worker their own visit, the office
// (operators, supervisors) any.
func (a *API) rescheduleTask(w http.ResponseWriter, r *http.Request) error {
	var req rescheduleRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	due, dueErr := parseTime("due_at", req.DueAt)
	if err := validation(dueErr, registry.CheckField("reason", registry.KindReason, req.Reason)); err != nil {
		return err
	}
	if _, err := a.scopedTask(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	if _, err := a.monitorNow(); err != nil {
		return err
	}
	p := principal(r.Context())
	// The task's service checks the owner in the same transaction as the
	// move. A grid worker with no worker record sees no task to get here; one
	// with a record is named by it on the timeline, as for their other actions.
	actor, owner := p.ID, ""
	if p.Role == registry.RoleGridWorker {
		actor, owner = p.WorkerID, p.WorkerID
	}
	t, err := a.opts.Tasks.Reschedule(r.Context(), r.PathValue("id"), due, req.Reason, actor, owner)
	if err != nil {
		return err
	}
	return a.writeTask(w, r, http.StatusOK, t)
}

type cancelRequest struct {
	Reason string `json:"reason"`
}

// cancelTask closes a task on the caller's word, who is named on its timeline.
func (a *API) cancelTask(w http.ResponseWriter, r *http.Request) error {
	var req cancelRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if err := validation(registry.CheckField("reason", registry.KindReason, req.Reason)); err != nil {
		return err
	}
	if _, err := a.scopedTask(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	p := principal(r.Context())
	t, err := a.opts.Tasks.Cancel(r.Context(), r.PathValue("id"), p.ID, req.Reason)
	if err != nil {
		return err
	}
	return a.writeTask(w, r, http.StatusOK, t)
}

// actingOn checks a worker's action on the task of the request: a valid
// worker_id that is the caller's own, on a task the caller may see.
func (a *API) actingOn(r *http.Request, workerID string) error {
	if err := validation(requiredID("worker_id", workerID)); err != nil {
		return err
	}
	if _, err := a.scopedTask(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	return principal(r.Context()).actsAs(workerID)
}

// requiredID checks an id field that must be given.
func requiredID(field, id string) error {
	if id == "" {
		return fmt.Errorf("%s is required", field)
	}
	return registry.ValidateID(field, id)
}
