package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/eldersafe/eldersafe/audit"
	"github.com/eldersafe/eldersafe/registry"
)

// Grants keeps the grants that let one person see a household's sensitive
// fields for a while (docs/privacy.md). *store.DB implements it.
type Grants interface {
	CreateGrant(ctx context.Context, g registry.Grant) error
	// Grants lists a household's grants, newest first.
	Grants(ctx context.Context, householdID string) ([]registry.Grant, error)
	// ActiveGrants lists the grants in force at now for userID on householdID.
	ActiveGrants(ctx context.Context, userID, householdID string, now time.Time) ([]registry.Grant, error)
	// RevokeGrant ends a grant in force at at. Unknown: registry.ErrNotFound;
	// no longer in force: registry.ErrConflict.
	RevokeGrant(ctx context.Context, id, by string, at time.Time) (registry.Grant, error)
}

func (a *API) grantRoutes(rt *router) {
	rt.handle("POST /api/v1/grants", a.createGrant, allow(registry.RoleSupervisor))
	rt.handle("GET /api/v1/grants", a.listGrants, allow(registry.RoleSupervisor))
	rt.handle("DELETE /api/v1/grants/{id}", a.revokeGrant, allow(registry.RoleSupervisor), selfAudited())
}

// revokeGrant answers DELETE /api/v1/grants/{id} with body {reason} (or the
// X-Access-Reason header): a supervisor ends a grant before its time (the
// case is closed, it went to the wrong person). Like a grant, the revocation
// is in the audit log before it takes effect; the grant's record stays,
// ending now, with who revoked it.
func (a *API) revokeGrant(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	reason, err := deleteReason(w, r)
	if err != nil {
		return err
	}
	p := principal(r.Context())
	if err := a.record(r, p, audit.Revoke, reason); err != nil {
		return err
	}
	g, err := a.opts.Grants.RevokeGrant(r.Context(), id, p.ID, a.wall.Now().UTC().Truncate(time.Millisecond))
	switch {
	case errors.Is(err, registry.ErrNotFound):
		return errorf(http.StatusNotFound, codeNotFound, "grant %q not found", clip(id))
	case errors.Is(err, registry.ErrConflict):
		return errorf(http.StatusConflict, codeConflict, "grant %q is no longer in force", clip(id))
	case err != nil:
		return err
	}
	a.writeJSON(w, r, http.StatusOK, grantView{Grant: g, Active: false})
	return nil
}

// grantRequest is the body of POST /api/v1/grants.
type grantRequest struct {
	UserID      string    `json:"user_id"`
	HouseholdID string    `json:"household_id"`
	Fields      []string  `json:"fields"`
	Reason      string    `json:"reason"`
	Until       time.Time `json:"until"`
}

// grantView is a grant with whether it is in force now.
type grantView struct {
	registry.Grant
	Active bool `json:"active"`
}

// createGrant answers POST /api/v1/grants: a supervisor lets a named user see
// some sensitive fields of one household until a time at most 30 days ahead,
// for a reason. The grant is recorded in the audit log (action grant, the
// grant's reason) before it takes effect.
func (a *API) createGrant(w http.ResponseWriter, r *http.Request) error {
	var req grantRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	p := principal(r.Context())
	now := a.wall.Now().UTC().Truncate(time.Millisecond)
	g := registry.Grant{
		ID: uuid.Must(uuid.NewV7()).String(), UserID: req.UserID, HouseholdID: req.HouseholdID,
		Fields: req.Fields, Reason: strings.TrimSpace(req.Reason), GrantedBy: p.ID,
		CreatedAt: now, Until: req.Until.UTC().Truncate(time.Millisecond),
	}
	if err := validation(g.Validate()); err != nil {
		return err
	}
	h, err := a.scopedHousehold(r.Context(), g.HouseholdID)
	if err != nil {
		if ae, ok := errors.AsType[*apiError](err); ok && ae.status == http.StatusNotFound {
			return invalidf("household_id %q is not registered", clip(g.HouseholdID))
		}
		return err
	}
	if err := a.grantee(r.Context(), p, g.UserID, h); err != nil {
		return err
	}
	// Recorded first: a grant the audit log does not know of must not exist.
	if a.opts.Audit != nil {
		e := audit.Entry{At: now, Actor: p.ID, Role: p.Role, Action: audit.Grant,
			Object: fmt.Sprintf("households/%s/grants/%s?user_id=%s&fields=%s&until=%s", g.HouseholdID, g.ID, g.UserID,
				strings.Join(g.Fields, ","), g.Until.Format(time.RFC3339)),
			Remote: remoteHost(r), Reason: g.Reason}
		if err := a.opts.Audit(r.Context(), e); err != nil {
			return &apiError{status: http.StatusServiceUnavailable, code: codeUnavailable, msg: "the audit log cannot be written; try again later", err: err}
		}
	}
	if err := a.opts.Grants.CreateGrant(r.Context(), g); err != nil {
		return createError("grant", g.ID, err)
	}
	a.writeJSON(w, r, http.StatusCreated, grantView{Grant: g, Active: g.Active(a.wall.Now())})
	return nil
}

// grantee checks that userID is a user who sees household h at all (a
// grant shows fields of what a person already sees, it never widens their
// scope) and is not the granter under another name.
func (a *API) grantee(ctx context.Context, granter Principal, userID string, h registry.Household) error {
	u, err := a.opts.Users.User(ctx, userID)
	if errors.Is(err, registry.ErrNotFound) {
		return invalidf("user_id %q is not registered", clip(userID))
	}
	if err != nil {
		return fmt.Errorf("load user %s: %w", clip(userID), err)
	}
	if err := a.notSelf(ctx, granter, u); err != nil {
		return err
	}
	who := userPrincipal(u)
	if u.WorkerID != "" {
		wk, err := a.opts.Users.Worker(ctx, u.WorkerID)
		if err != nil && !errors.Is(err, registry.ErrNotFound) {
			return fmt.Errorf("load worker %s: %w", u.WorkerID, err)
		}
		who.GridIDs = wk.GridIDs
	}
	if !who.seesHousehold(h) {
		return invalidf("user_id %q does not see household %q (another grid or family): a grant does not widen what a person sees", clip(userID), h.ID)
	}
	return nil
}

// notSelf refuses a grant by a supervisor to themself, to another login of
// their worker record, or to whoever registered them or their worker
// record: separation of duties means the one who sees is never the one who
// decided they may (docs/privacy.md, "Threat model"). The admin token is the
// break-glass and grants anyone.
func (a *API) notSelf(ctx context.Context, granter Principal, u registry.User) error {
	if granter.Role == RoleAdmin {
		return nil
	}
	refuse := func(why string) error {
		return errorf(http.StatusForbidden, codeForbidden, "a supervisor grants others, not themself or who registered them: %s", why)
	}
	if u.ID == granter.ID {
		return refuse("user_id is the caller")
	}
	if granter.WorkerID != "" && u.WorkerID == granter.WorkerID {
		return refuse(fmt.Sprintf("%s is another login of worker %s", u.ID, granter.WorkerID))
	}
	me, err := a.opts.Users.User(ctx, granter.ID)
	if err != nil {
		return fmt.Errorf("load user %s: %w", granter.ID, err)
	}
	if me.CreatedBy == u.ID {
		return refuse(fmt.Sprintf("%s registered the caller", u.ID))
	}
	if granter.WorkerID == "" {
		return nil
	}
	wk, err := a.opts.Users.Worker(ctx, granter.WorkerID)
	switch {
	case errors.Is(err, registry.ErrNotFound):
		return nil
	case err != nil:
		return fmt.Errorf("load worker %s: %w", granter.WorkerID, err)
	case wk.CreatedBy == u.ID:
		return refuse(fmt.Sprintf("%s registered the caller's worker record %s", u.ID, wk.ID))
	}
	return nil
}

type grantsResponse struct {
	Grants []grantView `json:"grants"`
}

// listGrants answers GET /api/v1/grants?household_id=, newest first, in
// force or not.
func (a *API) listGrants(w http.ResponseWriter, r *http.Request) error {
	q, err := queryParams(r, "household_id")
	if err != nil {
		return err
	}
	id := q["household_id"]
	if err := validation(requiredID("household_id", id)); err != nil {
		return err
	}
	if _, err := a.scopedHousehold(r.Context(), id); err != nil {
		return err
	}
	list, err := a.opts.Grants.Grants(r.Context(), id)
	if err != nil {
		return fmt.Errorf("list grants: %w", err)
	}
	now := a.wall.Now()
	views := make([]grantView, 0, len(list))
	for _, g := range list {
		views = append(views, grantView{Grant: g, Active: g.Active(now)})
	}
	a.writeJSON(w, r, http.StatusOK, grantsResponse{Grants: views})
	return nil
}

// disclosure decides, for one caller and one household, which sensitive
// fields and privacy signals an answer may show, and remembers which grants
// showed something, so that each use is recorded (recordUses).
type disclosure struct {
	p      Principal
	h      registry.Household
	grants []registry.Grant
	// used: grant id → the fields it showed, in the order first shown.
	used  map[string][]string
	order []string
}

// disclose loads the caller's grants in force on h, by the API's clock.
func (a *API) disclose(ctx context.Context, h registry.Household) (*disclosure, error) {
	d := &disclosure{p: principal(ctx), h: h, used: map[string][]string{}}
	if d.p.Role == RoleAdmin {
		return d, nil
	}
	grants, err := a.opts.Grants.ActiveGrants(ctx, d.p.ID, h.ID, a.wall.Now())
	if err != nil {
		return nil, fmt.Errorf("load grants of %s on household %s: %w", d.p.ID, h.ID, err)
	}
	d.grants = grants
	return d, nil
}

// audience is the caller's privacy audience.
func (d *disclosure) audience() string {
	if d.p.Role == registry.RoleFamily {
		return registry.AudienceFamily
	}
	return registry.AudienceWorker
}

// signal reports whether the caller may see a signal by the resident's
// privacy settings. The bootstrap admin sees everything.
func (d *disclosure) signal(sig string) bool {
	return d.p.Role == RoleAdmin || sig == "" || d.h.Privacy.Visible(sig, d.audience())
}

// field reports whether the caller may see sensitive field f: the admin
// always; anyone else when the privacy settings let their audience see its
// signal and a grant in force covers it. Call it only for a value that is
// there to show: a grant that shows something is recorded as used.
func (d *disclosure) field(f string) bool {
	if d.p.Role == RoleAdmin {
		return true
	}
	if !d.signal(registry.FieldSignal(f)) {
		return false
	}
	for _, g := range d.grants {
		if g.Covers(f) {
			if _, seen := d.used[g.ID]; !seen {
				d.order = append(d.order, g.ID)
			}
			if !slices.Contains(d.used[g.ID], f) {
				d.used[g.ID] = append(d.used[g.ID], f)
			}
			return true
		}
	}
	return false
}

// recordUses writes one audit entry per grant that showed something in the
// answer to r, before the answer is sent.
func (a *API) recordUses(r *http.Request, d *disclosure) error {
	if a.opts.Audit == nil || d == nil {
		return nil
	}
	object := auditObject(r)
	for _, id := range d.order {
		e := audit.Entry{At: a.wall.Now(), Actor: d.p.ID, Role: d.p.Role, Action: audit.Read, Object: object,
			Remote: remoteHost(r), Reason: fmt.Sprintf("use of grant %s: %s of household %s", id, strings.Join(d.used[id], ", "), d.h.ID)}
		if err := a.opts.Audit(r.Context(), e); err != nil {
			return &apiError{status: http.StatusServiceUnavailable, code: codeUnavailable, msg: "the audit log cannot be written; try again later", err: err}
		}
	}
	return nil
}
