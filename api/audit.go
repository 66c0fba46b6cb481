package api

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/eldersafe/eldersafe/audit"
	"github.com/eldersafe/eldersafe/registry"
)

// AuditLog lists what the audit log recorded.
type AuditLog interface {
	Audit(ctx context.Context, actor, object string, limit int) ([]audit.Entry, error)
}

// ReasonHeader is where a client says why it accesses personal data; the
// reason is kept in the audit log next to who, what, when and from where.
const ReasonHeader = "X-Access-Reason"

func (a *API) auditRoutes(rt *router) {
	rt.handle("GET /api/v1/audit", a.listAudit, allow(registry.RoleSupervisor))
}

type auditResponse struct {
	Entries []audit.Entry `json:"entries"`
}

// listAudit answers GET /api/v1/audit?actor=&object=&limit=, newest first.
func (a *API) listAudit(w http.ResponseWriter, r *http.Request) error {
	q, err := queryParams(r, "actor", "object", "limit")
	if err != nil {
		return err
	}
	limit := 100
	if s, ok := q["limit"]; ok {
		if limit, err = strconv.Atoi(s); err != nil || limit < 1 || limit > 1000 {
			return invalidf("limit %q: must be an integer from 1 to 1000", clip(s))
		}
	}
	entries, err := a.opts.AuditLog.Audit(r.Context(), q["actor"], q["object"], limit)
	if err != nil {
		return fmt.Errorf("list audit log: %w", err)
	}
	a.writeJSON(w, r, http.StatusOK, auditResponse{Entries: entries})
	return nil
}

// record writes the audit entry of an authenticated request before it is
// served: who, what (the method and the path below /api/v1, with its query),
// when, from where and why (reason, else the client's X-Access-Reason, else
// the route). action is the method's (audit.Read for GET, ...) when empty.
func (a *API) record(r *http.Request, p Principal, action, reason string) error {
	if a.opts.Audit == nil {
		return nil
	}
	if action == "" {
		action = auditAction(r.Method)
	}
	// A reason from the handler is checked there; the header's is clipped.
	if reason == "" {
		reason = clip(r.Header.Get(ReasonHeader))
	}
	if reason == "" {
		if info := infoFrom(r.Context()); info != nil {
			reason = info.route
		}
	}
	e := audit.Entry{At: a.wall.Now(), Actor: p.ID, Role: p.Role, Action: action, Object: auditObject(r), Remote: remoteHost(r), Reason: reason}
	if err := a.opts.Audit(r.Context(), e); err != nil {
		// Unrecorded access to personal data is no access at all.
		return &apiError{status: http.StatusServiceUnavailable, code: codeUnavailable, msg: "the audit log cannot be written; try again later", err: err}
	}
	return nil
}

// auditObject is what a request touches, for the audit log: its path below
// /api/v1, with its query.
func auditObject(r *http.Request) string {
	object := strings.TrimPrefix(r.URL.Path, apiPrefix+"/")
	if r.URL.RawQuery != "" {
		object += "?" + r.URL.RawQuery
	}
	return clip(object)
}

// auditLogin records a log-in attempt, successful or not.
func (a *API) auditLogin(r *http.Request, id, role string, ok bool) {
	if a.opts.Audit == nil {
		return
	}
	outcome := "wrong id or password"
	if ok {
		outcome = "logged in"
	}
	e := audit.Entry{At: a.wall.Now(), Actor: clip(id), Role: role, Action: audit.Login, Object: "users/" + clip(id), Remote: remoteHost(r), Reason: outcome}
	if err := a.opts.Audit(r.Context(), e); err != nil {
		a.log.Error("record log-in in the audit log", "user", clip(id), "err", err)
	}
}

func auditAction(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead:
		return audit.Read
	case http.MethodPost:
		return audit.Create
	case http.MethodDelete:
		return audit.Delete
	default:
		return audit.Update
	}
}

func remoteHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
