package api

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/eldersafe/eldersafe/audit"
)

// Refused requests leave a trace (docs/api.md, "Audit"): every refusal
// reaches the process log, as at most one WARN line per kind of refusal and
// interval; the refusal of a caller the monitor knows also reaches the
// audit log, with its reason.

// Kinds of refusal.
const (
	refusedNoToken      = "no_token"        // 401: no Authorization header, or not Bearer
	refusedUnknownToken = "unknown_token"   // 401: a token nobody was given (or an ended session's)
	refusedExpired      = "session_expired" // 401: a user's session that expired
	refusedLogin        = "login_failed"    // 401: a wrong id or password at log-in
	refusedForbidden    = "forbidden"       // 403: the role or the worker may not do this
	refusedOutOfScope   = "out_of_scope"    // 404 (400 for a reference): what the caller may not see
)

// refusalLogInterval is how often each kind of refusal may write a WARN line.
const refusalLogInterval = 10 * time.Second

// refused leaves the trace of a refused request, if ae is one: a WARN line,
// and an audit entry when the caller is known (authenticated, or an expired
// session). Strangers write no audit entry: a token nobody was given names
// nobody, and recording it would let anyone fill the audit log. A failed
// log-in has its entry already (auditLogin). An expired session names its
// user once, since the store ends it at that first use.
//
// A refusal found by the handler (out of scope, acting as another worker)
// follows the entry its request had before it was served: the first says
// what was asked, this one that it was refused, and why.
func (a *API) refused(r *http.Request, ae *apiError) {
	kind := ae.refusal
	if kind == "" && ae.status == http.StatusForbidden {
		kind = refusedForbidden
	}
	if kind == "" {
		return
	}
	var p Principal
	route, action := routeUnmatched, auditAction(r.Method)
	if info := infoFrom(r.Context()); info != nil {
		p, route = info.principal, info.route
		if info.action != "" {
			action = info.action
		}
	}
	why := ae.msg
	if ae.detail != "" {
		why = ae.detail
	}
	now := a.wall.Now()
	a.refusals.warn(r.Context(), now, kind, slog.Int("status", ae.status), slog.String("method", r.Method), slog.String("route", route),
		slog.String("path", clip(r.URL.Path)), slog.String("principal", p.ID), slog.String("remote", remoteHost(r)), slog.String("why", why))
	if p.ID == "" || a.opts.Audit == nil {
		return
	}
	e := audit.Entry{At: now, Actor: p.ID, Role: p.Role, Action: audit.Refuse, Object: auditObject(r), Remote: remoteHost(r),
		Reason: fmt.Sprintf("%s refused, %d %s: %s", action, ae.status, ae.code, why)}
	if err := a.opts.Audit(r.Context(), e); err != nil {
		// The request is refused either way; the log keeps what the audit log could not.
		a.log.Error("record a refused request in the audit log", "principal", p.ID, "path", clip(r.URL.Path), "reason", e.Reason, "err", err)
	}
}

// refusalLog writes a WARN line per kind of refusal at most once per
// interval, with a count of those held back since the last: a burst of bad
// tokens shows as one line every interval, not as a flood. (ingest's
// rejectLog does the same for device messages.)
type refusalLog struct {
	log   *slog.Logger
	every time.Duration
	mu    sync.Mutex
	last  map[string]time.Time
	held  map[string]int
}

func newRefusalLog(log *slog.Logger) *refusalLog {
	return &refusalLog{log: log, every: refusalLogInterval, last: map[string]time.Time{}, held: map[string]int{}}
}

func (l *refusalLog) warn(ctx context.Context, now time.Time, kind string, attrs ...slog.Attr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if last, ok := l.last[kind]; ok && now.Sub(last) < l.every {
		l.held[kind]++
		return
	}
	attrs = append(attrs, slog.String("reason", kind), slog.Int("suppressed_since_last", l.held[kind]))
	l.log.LogAttrs(ctx, slog.LevelWarn, "request refused", attrs...)
	l.last[kind], l.held[kind] = now, 0
}
