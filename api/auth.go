package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/eldersafe/eldersafe/registry"
)

// RoleAdmin is the bootstrap admin: the holder of auth.admin_token, allowed
// everything.
const RoleAdmin = "admin"

// Principal is who made a request: set in the request's context by the auth
// middleware, read by handlers and the audit log with PrincipalFrom.
type Principal struct {
	// ID names the caller: "admin" for the admin token, else a user's id.
	ID string
	// Role is RoleAdmin or one of registry.UserRoles.
	Role string
	// WorkerID is the worker a grid worker or supervisor acts as.
	WorkerID string
	// GridIDs are the grids a grid worker sees.
	GridIDs []string
	// HouseholdID is the household a family member sees.
	HouseholdID string
}

// seesHousehold reports whether the caller may see household h at all.
// Operators and supervisors work for the whole community; a grid worker sees
// the grids of their worker record, a family member their own home.
func (p Principal) seesHousehold(h registry.Household) bool {
	switch p.Role {
	case RoleAdmin, registry.RoleOperator, registry.RoleSupervisor:
		return true
	case registry.RoleGridWorker:
		return slices.Contains(p.GridIDs, h.GridID)
	case registry.RoleFamily:
		return h.ID == p.HouseholdID
	}
	return false
}

// actsAs checks that the caller may act as worker workerID: a worker acts as
// themself; the admin (bootstrap and tests) as anyone.
func (p Principal) actsAs(workerID string) error {
	if p.Role == RoleAdmin || (p.WorkerID != "" && p.WorkerID == workerID) {
		return nil
	}
	return errorf(http.StatusForbidden, codeForbidden, "%s may act only as their own worker record, not as %q", p.ID, clip(workerID))
}

// adminOnlyRoles are the roles only the admin may give, to a worker or a
// user: a supervisor grants access to sensitive fields and an operator
// registers people, so an operator who could make either could give itself
// what its own role withholds (docs/privacy.md, "Threat model").
var adminOnlyRoles = []string{registry.RoleSupervisor, registry.RoleOperator}

// mayGiveRole checks that the caller may register a worker or user (what)
// with role.
func (p Principal) mayGiveRole(what, role string) error {
	if p.Role == RoleAdmin || !slices.Contains(adminOnlyRoles, role) {
		return nil
	}
	return errorf(http.StatusForbidden, codeForbidden, "only the admin may give role %s to a %s", role, what)
}

type principalKey struct{}

// PrincipalFrom returns the authenticated caller of a request.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

func withPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// verifier turns a bearer token into a principal. ok is false when the token
// is not one the verifier knows; err is for a verifier that could not tell
// (its store failed).
type verifier interface {
	verify(ctx context.Context, token string) (p Principal, ok bool, err error)
}

// adminVerifier accepts the configured admin token. Both sides are hashed
// before the constant-time comparison, so neither the token's content nor its
// length leaks through timing.
type adminVerifier struct{ sum [sha256.Size]byte }

func newAdminVerifier(token string) adminVerifier {
	return adminVerifier{sum: sha256.Sum256([]byte(token))}
}

func (v adminVerifier) verify(_ context.Context, token string) (Principal, bool, error) {
	got := sha256.Sum256([]byte(token))
	if subtle.ConstantTimeCompare(got[:], v.sum[:]) != 1 {
		return Principal{}, false, nil
	}
	return Principal{ID: registry.AdminID, Role: RoleAdmin}, true, nil
}

// sessionVerifier accepts the tokens of logged-in users. Only the token's
// SHA-256 is stored, so a copy of the database holds no usable token.
type sessionVerifier struct {
	users Users
	now   func() time.Time
}

func (v sessionVerifier) verify(ctx context.Context, token string) (Principal, bool, error) {
	u, err := v.users.SessionUser(ctx, tokenHash(token), v.now())
	if errors.Is(err, registry.ErrNotFound) {
		return Principal{}, false, nil
	}
	if err != nil {
		return Principal{}, false, err
	}
	p := userPrincipal(u)
	if u.WorkerID != "" {
		w, err := v.users.Worker(ctx, u.WorkerID)
		if err != nil && !errors.Is(err, registry.ErrNotFound) {
			return Principal{}, false, err
		}
		p.GridIDs = w.GridIDs
	}
	return p, true, nil
}

// userPrincipal is who user u is, but for the grids of their worker record.
func userPrincipal(u registry.User) Principal {
	return Principal{ID: u.ID, Role: u.Role, WorkerID: u.WorkerID, HouseholdID: u.HouseholdID}
}

func tokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// anyRole in a route's roles lets every authenticated caller through (the 404
// and 405 answers).
const anyRole = "*"

// authenticated is the auth middleware: it requires a valid bearer token, puts
// its principal in the request's context, lets through the admin and the
// route's roles only, and records the access in the audit log.
func (a *API) authenticated(cfg routeConfig, next http.Handler) http.Handler {
	roles := cfg.roles
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := a.authenticate(r)
		if info := infoFrom(r.Context()); info != nil {
			// Known even when refused: an expired session names its user.
			info.principal = p
		}
		if err != nil {
			if ae, ok := errors.AsType[*apiError](err); ok && ae.challenge != "" {
				w.Header().Set("WWW-Authenticate", ae.challenge)
			}
			a.writeError(w, r, err)
			return
		}
		if p.Role != RoleAdmin && !slices.Contains(roles, anyRole) && !slices.Contains(roles, p.Role) {
			a.writeError(w, r, errorf(http.StatusForbidden, codeForbidden, "role %s may not do this", p.Role))
			return
		}
		if !cfg.unaudited && !cfg.selfAudited {
			if err := a.record(r, p, cfg.action, ""); err != nil {
				a.writeError(w, r, err)
				return
			}
		}
		next.ServeHTTP(w, r.WithContext(withPrincipal(r.Context(), p)))
	})
}

// authenticate checks the request's Authorization header (RFC 6750). A
// session that expired is refused, but its user is returned with the
// refusal, for the audit log.
func (a *API) authenticate(r *http.Request) (Principal, error) {
	header := r.Header.Get("Authorization")
	if header == "" {
		return Principal{}, unauthorized(refusedNoToken, `Bearer realm="eldersafe"`, "missing bearer token: send Authorization: Bearer <token>")
	}
	scheme, token, _ := strings.Cut(header, " ")
	token = strings.TrimSpace(token)
	if !strings.EqualFold(scheme, "Bearer") || token == "" {
		return Principal{}, unauthorized(refusedNoToken, `Bearer realm="eldersafe", error="invalid_request"`, "Authorization: want Bearer <token>")
	}
	for _, v := range a.verifiers {
		p, ok, err := v.verify(r.Context(), token)
		if ee, expired := errors.AsType[*registry.ExpiredSessionError](err); expired {
			ae := unauthorized(refusedExpired, `Bearer realm="eldersafe", error="invalid_token"`, "session expired: log in again")
			ae.detail = "session expired at " + ee.Expired.UTC().Format(time.RFC3339)
			return userPrincipal(ee.User), ae
		}
		if err != nil {
			return Principal{}, err
		}
		if ok {
			return p, nil
		}
	}
	return Principal{}, unauthorized(refusedUnknownToken, `Bearer realm="eldersafe", error="invalid_token"`, "invalid token")
}

func unauthorized(refusal, challenge, msg string) *apiError {
	return &apiError{status: http.StatusUnauthorized, code: codeUnauthorized, msg: msg, challenge: challenge, refusal: refusal}
}
