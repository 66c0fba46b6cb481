package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
)

// RuleSettings keeps what operators set for a household's rules: threshold
// overrides and away periods. *store.DB implements it.
type RuleSettings interface {
	// HouseholdThresholds is nil for a household without overrides.
	HouseholdThresholds(ctx context.Context, householdID string) (rules.Thresholds, error)
	// SetHouseholdThresholds replaces the overrides; empty ones remove them.
	SetHouseholdThresholds(ctx context.Context, householdID string, t rules.Thresholds) error
	AddAwayPeriod(ctx context.Context, p registry.AwayPeriod) error
	// AwayPeriodsOf lists the periods ending after endingAfter (all for a zero time), by start.
	AwayPeriodsOf(ctx context.Context, householdID string, endingAfter time.Time) ([]registry.AwayPeriod, error)
	// EndAwayPeriod ends a period at at: one not yet begun is removed. Not
	// the household's: registry.ErrNotFound; already over: registry.ErrConflict.
	EndAwayPeriod(ctx context.Context, householdID, id string, at time.Time) (registry.AwayPeriod, bool, error)
}

// Rules is the decision step as the API drives it: it checks threshold
// overrides, applies a household's settings once they are stored, and learns
// of new devices. *dispatch.Dispatcher implements it.
type Rules interface {
	// CheckThresholds names every unknown rule or parameter, wrong unit or
	// out-of-range value of household overrides.
	CheckThresholds(t rules.Thresholds) error
	// Thresholds lists every rule parameter in force for a household.
	Thresholds(householdID string) rules.Thresholds
	// HouseholdChanged applies a household's rule settings as stored: its
	// time zone, overrides and away periods.
	HouseholdChanged(ctx context.Context, householdID string) error
	// DeviceRegistered makes the rules expect messages from a new device.
	DeviceRegistered(d registry.Device)
	// Baseline is what the rules learned of a household's motion.
	Baseline(householdID string) rules.Baseline
	// Monitoring is how well a household is watched (sensor health).
	Monitoring(householdID string) rules.Monitoring
	// LevelThresholds is a care level's thresholds profile.
	LevelThresholds(level registry.CareLevel) rules.Thresholds
}

func (a *API) ruleRoutes(rt *router) {
	rt.handle("PUT /api/v1/households/{id}/thresholds", a.putThresholds, allow(registry.RoleOperator, registry.RoleSupervisor))
	rt.handle("GET /api/v1/households/{id}/baseline", a.getBaseline,
		allow(registry.RoleOperator, registry.RoleSupervisor, registry.RoleGridWorker))
	// A grid worker is often the first to hear of a hospital stay.
	rt.handle("POST /api/v1/households/{id}/away", a.createAway,
		allow(registry.RoleOperator, registry.RoleSupervisor, registry.RoleGridWorker))
	// The resident came back early: welfare rules must watch again at once.
	rt.handle("DELETE /api/v1/households/{id}/away/{away_id}", a.endAway,
		allow(registry.RoleOperator, registry.RoleSupervisor, registry.RoleGridWorker))
}

// thresholdsResponse answers PUT /api/v1/households/{id}/thresholds.
type thresholdsResponse struct {
	// Thresholds lists every rule parameter in force for the household.
	Thresholds rules.Thresholds `json:"thresholds"`
	// Overrides are the household's own values, as last put.
	Overrides rules.Thresholds `json:"overrides"`
}

// putThresholds replaces a household's overrides as a whole: a parameter left
// out falls back to the global value, and {} clears every override. The body
// is checked by the rules engine's own validation before anything is stored.
func (a *API) putThresholds(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	var req rules.Thresholds
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if _, err := a.scopedHousehold(r.Context(), id); err != nil {
		return err
	}
	// The engine's own check: every unknown rule or parameter, wrong unit or
	// out-of-range value is named, and then nothing is stored.
	if err := a.opts.Rules.CheckThresholds(req); err != nil {
		return validation(err)
	}
	overrides := rules.Thresholds{}
	for rule, params := range req {
		if len(params) > 0 {
			overrides[rule] = params
		}
	}
	if err := a.opts.RuleSettings.SetHouseholdThresholds(r.Context(), id, overrides); err != nil {
		return fmt.Errorf("store thresholds of household %s: %w", id, err)
	}
	if err := a.opts.Rules.HouseholdChanged(r.Context(), id); err != nil {
		return err
	}
	a.writeJSON(w, r, http.StatusOK, thresholdsResponse{
		Thresholds: a.opts.Rules.Thresholds(id),
		Overrides:  overrides,
	})
	return nil
}

// awayRequest is the body of POST /api/v1/households/{id}/away.
type awayRequest struct {
	From   string `json:"from"`
	Until  string `json:"until"`
	Reason string `json:"reason"`
}

func (a *API) createAway(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	var req awayRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if _, err := a.scopedHousehold(r.Context(), id); err != nil {
		return err
	}
	from, fromErr := parseTime("from", req.From)
	until, untilErr := parseTime("until", req.Until)
	p := registry.AwayPeriod{
		ID:          uuid.Must(uuid.NewV7()).String(),
		HouseholdID: id,
		From:        from,
		Until:       until,
		Reason:      req.Reason,
		CreatedAt:   a.wall.Now().UTC().Truncate(time.Millisecond),
	}
	if err := validation(fromErr, untilErr); err != nil {
		return err
	}
	if err := validation(p.Validate()); err != nil {
		return err
	}
	if err := a.opts.RuleSettings.AddAwayPeriod(r.Context(), p); err != nil {
		return fmt.Errorf("store away period of household %s: %w", id, err)
	}
	if err := a.opts.Rules.HouseholdChanged(r.Context(), id); err != nil {
		return err
	}
	a.writeJSON(w, r, http.StatusCreated, p)
	return nil
}

// endedAway answers DELETE /api/v1/households/{id}/away/{away_id}.
type endedAway struct {
	registry.AwayPeriod
	// Removed: the period had not begun and is gone; otherwise it now ends
	// at the monitor's present.
	Removed bool `json:"removed"`
}

// endAway ends an away period now: the household's countdowns restart from
// this moment, as at the end of any away period.
func (a *API) endAway(w http.ResponseWriter, r *http.Request) error {
	id, awayID := r.PathValue("id"), r.PathValue("away_id")
	if _, err := a.scopedHousehold(r.Context(), id); err != nil {
		return err
	}
	now, err := a.monitorNow()
	if err != nil {
		return err
	}
	p, removed, err := a.opts.RuleSettings.EndAwayPeriod(r.Context(), id, awayID, now.UTC().Truncate(time.Millisecond))
	switch {
	case errors.Is(err, registry.ErrNotFound):
		return errorf(http.StatusNotFound, codeNotFound, "away period %q of household %q not found", clip(awayID), clip(id))
	case errors.Is(err, registry.ErrConflict):
		return errorf(http.StatusConflict, codeConflict, "away period %q is already over", clip(awayID))
	case err != nil:
		return fmt.Errorf("end away period of household %s: %w", id, err)
	}
	if err := a.opts.Rules.HouseholdChanged(r.Context(), id); err != nil {
		return err
	}
	a.writeJSON(w, r, http.StatusOK, endedAway{AwayPeriod: p, Removed: removed})
	return nil
}

// monitorNow is the present of the rules and tasks: the event clock's under
// --clock event, which has none before its first event (409).
func (a *API) monitorNow() (time.Time, error) {
	now := a.opts.Clock.Now()
	if now.IsZero() {
		return now, errorf(http.StatusConflict, codeConflict, "the event clock has not started: send a device message or POST /api/v1/clock first")
	}
	return now, nil
}

// parseTime reads an RFC 3339 time with offset, as the store keeps it: UTC,
// to the millisecond.
func parseTime(field, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, fmt.Errorf("%s: required", field)
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s %q: want an RFC 3339 time with offset, e.g. 2026-03-01T09:00:00+08:00", field, clip(s))
	}
	return t.UTC().Truncate(time.Millisecond), nil
}

// householdRegistered tells the rules about a new household: its time zone
// and its care level's thresholds can differ from the defaults. The
// household is created already, so a failure is logged rather than answered.
func (a *API) householdRegistered(ctx context.Context, h registry.Household) {
	if h.Timezone == "" && len(a.opts.Rules.LevelThresholds(h.CareLevel)) == 0 {
		return
	}
	if err := a.opts.Rules.HouseholdChanged(ctx, h.ID); err != nil {
		a.log.Error("household registered but its time zone and care level are not applied until restart", "household_id", h.ID, "err", err)
	}
}

// householdRules is what GET /api/v1/households/{id} shows of a household's rules.
type householdRules struct {
	// Thresholds lists every rule parameter in force for the household.
	Thresholds rules.Thresholds `json:"thresholds"`
	Overrides  rules.Thresholds `json:"overrides"`
	// Away lists the current and future away periods, by start.
	Away []registry.AwayPeriod `json:"away"`
}

func (a *API) householdRules(ctx context.Context, id string) (householdRules, error) {
	overrides, err := a.opts.RuleSettings.HouseholdThresholds(ctx, id)
	if err != nil {
		return householdRules{}, err
	}
	if overrides == nil {
		overrides = rules.Thresholds{}
	}
	away, err := a.opts.RuleSettings.AwayPeriodsOf(ctx, id, a.opts.Clock.Now())
	if err != nil {
		return householdRules{}, err
	}
	if away == nil {
		away = []registry.AwayPeriod{}
	}
	return householdRules{Thresholds: a.opts.Rules.Thresholds(id), Overrides: overrides, Away: away}, nil
}

// baselineResponse answers GET /api/v1/households/{id}/baseline.
type baselineResponse struct {
	HouseholdID string `json:"household_id"`
	rules.Baseline
}

// getBaseline shows what unusual_quiet and late_wake compare the household
// with. It is its motion in all but name, so it follows the motion signal's
// privacy setting.
func (a *API) getBaseline(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	h, err := a.scopedHousehold(r.Context(), id)
	if err != nil {
		return err
	}
	disc, err := a.disclose(r.Context(), h)
	if err != nil {
		return err
	}
	if !disc.signal(registry.SignalMotion) {
		return errorf(http.StatusForbidden, codeForbidden, "the resident's privacy settings withhold motion, which the baseline is learned from")
	}
	a.writeJSON(w, r, http.StatusOK, baselineResponse{HouseholdID: id, Baseline: a.opts.Rules.Baseline(id)})
	return nil
}
