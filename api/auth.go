package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"net/http"
	"slices"
	"strings"
)

// RoleAdmin is the bootstrap admin: the holder of auth.admin_token, allowed
// everything.
const RoleAdmin = "admin"

// Principal is who made a request: set in the request's context by the auth
// middleware, read by handlers (and, later, the audit log) with PrincipalFrom.
type Principal struct {
	// ID names the caller: "admin" for the admin token, later a user's id.
	ID string
	// Role is RoleAdmin, later also operator, supervisor, grid_worker or family.
	Role string
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
// (its store failed). Users' session tokens will be a second verifier.
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
	return Principal{ID: "admin", Role: RoleAdmin}, true, nil
}

// anyRole in a route's roles lets every authenticated caller through (the 404
// and 405 answers).
const anyRole = "*"

// authenticated is the auth middleware: it requires a valid bearer token, puts
// its principal in the request's context, and lets through the admin and the
// given roles only.
func (a *API) authenticated(roles []string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := a.authenticate(r)
		if err != nil {
			if ae, ok := errors.AsType[*apiError](err); ok && ae.challenge != "" {
				w.Header().Set("WWW-Authenticate", ae.challenge)
			}
			a.writeError(w, r, err)
			return
		}
		if info := infoFrom(r.Context()); info != nil {
			info.principal = p.ID
		}
		if p.Role != RoleAdmin && !slices.Contains(roles, anyRole) && !slices.Contains(roles, p.Role) {
			a.writeError(w, r, errorf(http.StatusForbidden, codeForbidden, "role %s may not do this", p.Role))
			return
		}
		next.ServeHTTP(w, r.WithContext(withPrincipal(r.Context(), p)))
	})
}

// authenticate checks the request's Authorization header (RFC 6750).
func (a *API) authenticate(r *http.Request) (Principal, error) {
	header := r.Header.Get("Authorization")
	if header == "" {
		return Principal{}, unauthorized(`Bearer realm="eldersafe"`, "missing bearer token: send Authorization: Bearer <token>")
	}
	scheme, token, _ := strings.Cut(header, " ")
	token = strings.TrimSpace(token)
	if !strings.EqualFold(scheme, "Bearer") || token == "" {
		return Principal{}, unauthorized(`Bearer realm="eldersafe", error="invalid_request"`, "Authorization: want Bearer <token>")
	}
	for _, v := range a.verifiers {
		p, ok, err := v.verify(r.Context(), token)
		if err != nil {
			return Principal{}, err
		}
		if ok {
			return p, nil
		}
	}
	return Principal{}, unauthorized(`Bearer realm="eldersafe", error="invalid_token"`, "invalid token")
}

func unauthorized(challenge, msg string) *apiError {
	return &apiError{status: http.StatusUnauthorized, code: codeUnauthorized, msg: msg, challenge: challenge}
}
