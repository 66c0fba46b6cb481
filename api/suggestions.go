package api

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"time"

	"github.com/eldersafe/eldersafe/feedback"
	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
	"github.com/eldersafe/eldersafe/tasks"
)

// Feedback keeps false alarms' reasons and the suggestions they make
// (CONTRACT.md §12, outcome feedback). *store.DB implements it.
type Feedback interface {
	RecordFalseAlarm(ctx context.Context, fa feedback.FalseAlarm, since time.Time) (int, error)
	AddSuggestion(ctx context.Context, s feedback.Suggestion) (feedback.Suggestion, bool, error)
	PendingSuggestions(ctx context.Context, householdID string) ([]feedback.Suggestion, error)
	Suggestion(ctx context.Context, id string) (feedback.Suggestion, error)
	DecideSuggestion(ctx context.Context, id, status, by string, at time.Time) error
	// FeedbackOf is a household's false alarms and suggestions, for its export.
	FeedbackOf(ctx context.Context, householdID string) ([]feedback.FalseAlarm, []feedback.Suggestion, error)
}

func (a *API) suggestionRoutes(rt *router) {
	rt.handle("GET /api/v1/suggestions", a.listSuggestions, allow(registry.RoleOperator, registry.RoleSupervisor))
	rt.handle("POST /api/v1/suggestions/{id}/approve", a.approveSuggestion, allow(registry.RoleOperator))
	rt.handle("POST /api/v1/suggestions/{id}/reject", a.rejectSuggestion, allow(registry.RoleOperator))
}

// learnFrom records a false alarm's reason and stores the suggestion it
// makes, if any. The task is resolved already: a failure here is logged,
// not the worker's concern.
func (a *API) learnFrom(ctx context.Context, t tasks.Task, reason string) {
	fa := feedback.FalseAlarm{TaskID: t.ID, HouseholdID: t.HouseholdID, Rule: t.Rule, Reason: reason, At: t.OpenedAt}
	if t.ClosedAt != nil {
		fa.At = *t.ClosedAt
	}
	recent, err := a.opts.Feedback.RecordFalseAlarm(ctx, fa, fa.At.Add(-feedback.Window))
	if err != nil {
		a.log.Error("false alarm's reason not recorded", "task_id", t.ID, "err", err)
		return
	}
	s, ok := feedback.Suggest(fa, recent, a.opts.Rules.Thresholds(t.HouseholdID))
	if !ok {
		return
	}
	if s, added, err := a.opts.Feedback.AddSuggestion(ctx, s); err != nil {
		a.log.Error("suggestion not stored", "task_id", t.ID, "err", err)
	} else if added {
		a.log.Info("suggestion made", "suggestion_id", s.ID, "household_id", s.HouseholdID, "rule", s.Rule, "param", s.Param)
	}
}

type suggestionsResponse struct {
	Suggestions []feedback.Suggestion `json:"suggestions"`
}

// listSuggestions answers GET /api/v1/suggestions[?household_id=]: the
// pending ones, oldest first.
func (a *API) listSuggestions(w http.ResponseWriter, r *http.Request) error {
	q, err := queryParams(r, "household_id")
	if err != nil {
		return err
	}
	list, err := a.opts.Feedback.PendingSuggestions(r.Context(), q["household_id"])
	if err != nil {
		return err
	}
	a.writeJSON(w, r, http.StatusOK, suggestionsResponse{Suggestions: list})
	return nil
}

// approveSuggestion applies a pending suggestion as the household's override
// of its parameter, on top of its other overrides; a device check changes no
// threshold and is recorded as taken on.
func (a *API) approveSuggestion(w http.ResponseWriter, r *http.Request) error {
	s, err := a.pendingSuggestion(r)
	if err != nil {
		return err
	}
	if s.Param != feedback.CheckDevice {
		old, err := a.opts.RuleSettings.HouseholdThresholds(r.Context(), s.HouseholdID)
		if err != nil {
			return err
		}
		overrides := rules.Thresholds{}
		for rule, params := range old {
			overrides[rule] = maps.Clone(params)
		}
		if overrides[s.Rule] == nil {
			overrides[s.Rule] = map[string]any{}
		}
		overrides[s.Rule][s.Param] = s.To
		// Bounds may have changed since it was made: the engine's check again.
		if err := a.opts.Rules.CheckThresholds(overrides); err != nil {
			return validation(err)
		}
		if err := a.opts.RuleSettings.SetHouseholdThresholds(r.Context(), s.HouseholdID, overrides); err != nil {
			return fmt.Errorf("store thresholds of household %s: %w", s.HouseholdID, err)
		}
		if err := a.opts.Rules.HouseholdChanged(r.Context(), s.HouseholdID); err != nil {
			return err
		}
	}
	return a.decide(w, r, s, feedback.Approved)
}

func (a *API) rejectSuggestion(w http.ResponseWriter, r *http.Request) error {
	s, err := a.pendingSuggestion(r)
	if err != nil {
		return err
	}
	return a.decide(w, r, s, feedback.Rejected)
}

func (a *API) pendingSuggestion(r *http.Request) (feedback.Suggestion, error) {
	s, err := a.opts.Feedback.Suggestion(r.Context(), r.PathValue("id"))
	if err != nil {
		return s, err
	}
	if s.Status != feedback.Pending {
		return s, errorf(http.StatusConflict, codeConflict, "suggestion %s was %s already", s.ID, s.Status)
	}
	return s, nil
}

func (a *API) decide(w http.ResponseWriter, r *http.Request, s feedback.Suggestion, status string) error {
	if err := a.opts.Feedback.DecideSuggestion(r.Context(), s.ID, status, principal(r.Context()).ID, a.wall.Now()); err != nil {
		return err
	}
	s.Status = status
	a.writeJSON(w, r, http.StatusOK, s)
	return nil
}

// checkReason checks a resolution's reason: one of feedback.Reasons, and
// only with outcome false_alarm.
func checkReason(outcome, reason string) error {
	switch {
	case reason == "":
		return nil
	case outcome != "false_alarm":
		return invalidf("reason goes with outcome false_alarm only")
	case !slices.Contains(feedback.Reasons, reason):
		return invalidf("reason %q: must be one of was_out, slept_late, visitor, sensor_fault, other", clip(reason))
	}
	return nil
}
