package api

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/eldersafe/eldersafe/registry"
)

// Users keeps the people who log in and their sessions.
type Users interface {
	CreateUser(ctx context.Context, u registry.User) (registry.User, error)
	User(ctx context.Context, id string) (registry.User, error)
	CreateSession(ctx context.Context, tokenHash, userID string, expires time.Time) error
	SessionUser(ctx context.Context, tokenHash string, now time.Time) (registry.User, error)
	Worker(ctx context.Context, id string) (registry.Worker, error)
	// WorkerUsers lists the users tied to a worker record.
	WorkerUsers(ctx context.Context, workerID string) ([]registry.User, error)
}

// DefaultSessionTTL is how long a log-in lasts: a working day.
const DefaultSessionTTL = 12 * time.Hour

func (a *API) userRoutes(rt *router) {
	rt.handle("POST /api/v1/users", a.createUser, allow(registry.RoleOperator))
	rt.handle("POST /api/v1/login", a.login, public())
}

type userRequest struct {
	ID          string `json:"id"`
	Password    string `json:"password"`
	Role        string `json:"role"`
	WorkerID    string `json:"worker_id"`
	HouseholdID string `json:"household_id"`
}

func (a *API) createUser(w http.ResponseWriter, r *http.Request) error {
	var req userRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	p := principal(r.Context())
	if err := p.mayGiveRole("user", req.Role); err != nil {
		return err
	}
	u := registry.User{ID: req.ID, Role: req.Role, WorkerID: req.WorkerID, HouseholdID: req.HouseholdID, CreatedBy: p.ID}
	errs := []error{u.Validate()}
	hash, err := registry.HashPassword(req.Password, a.opts.PasswordCost)
	errs = append(errs, err)
	if err := validation(errs...); err != nil {
		return err
	}
	if err := a.workerLogin(r.Context(), p, u); err != nil {
		return err
	}
	u.PasswordHash = hash
	created, err := a.opts.Users.CreateUser(r.Context(), u)
	if err != nil {
		return createError("user", u.ID, err)
	}
	a.writeJSON(w, r, http.StatusCreated, created)
	return nil
}

// workerLogin checks the worker record a new login is tied to, if any: it
// must hold the login's role, since a grid worker's login on a supervisor's
// record would act as the supervisor; and only the admin may add a second
// login to a record, since that login would act as the worker and see what
// its assignee sees (an open fall's position). An unknown worker is left to
// the store, which names it.
func (a *API) workerLogin(ctx context.Context, p Principal, u registry.User) error {
	if u.WorkerID == "" {
		return nil
	}
	wk, err := a.opts.Users.Worker(ctx, u.WorkerID)
	if errors.Is(err, registry.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("load worker %s: %w", u.WorkerID, err)
	}
	if wk.Role != u.Role {
		return invalidf("worker_id: worker %q is a %s; a %s's login needs a %s's record", wk.ID, wk.Role, u.Role, u.Role)
	}
	if p.Role == RoleAdmin {
		return nil
	}
	logins, err := a.opts.Users.WorkerUsers(ctx, wk.ID)
	if err != nil {
		return err
	}
	if len(logins) > 0 {
		return errorf(http.StatusForbidden, codeForbidden, "worker %q already has a login (%s); only the admin may add another", wk.ID, logins[0].ID)
	}
	return nil
}

type loginRequest struct {
	ID       string `json:"id"`
	Password string `json:"password"`
}

type loginResponse struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
}

func (a *API) login(w http.ResponseWriter, r *http.Request) error {
	var req loginRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	// Clipped: a limiter per megabyte-long id would be memory for the taking.
	if err := a.logins.allow(r, clip(req.ID), a.wall.Now()); err != nil {
		return err
	}
	u, err := a.opts.Users.User(r.Context(), req.ID)
	switch {
	case errors.Is(err, registry.ErrNotFound):
		// A wrong id takes as long to refuse as a wrong password, so ids
		// cannot be told by timing. The hash cannot fail: New checked
		// the cost, and the password is long enough.
		dummy, _ := a.dummyHash()
		registry.CheckPassword(dummy, req.Password)
	case err != nil:
		return fmt.Errorf("log in %s: %w", clip(req.ID), err)
	}
	ok := err == nil && registry.CheckPassword(u.PasswordHash, req.Password)
	a.auditLogin(r, req.ID, u.Role, ok)
	if !ok {
		return &apiError{status: http.StatusUnauthorized, code: codeUnauthorized, msg: "wrong id or password", refusal: refusedLogin}
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return fmt.Errorf("log in %s: %w", u.ID, err)
	}
	token := base64.RawURLEncoding.EncodeToString(b)
	expires := a.wall.Now().Add(a.opts.SessionTTL).UTC().Truncate(time.Millisecond)
	if err := a.opts.Users.CreateSession(r.Context(), tokenHash(token), u.ID, expires); err != nil {
		return err
	}
	a.writeJSON(w, r, http.StatusOK, loginResponse{Token: token, ExpiresAt: expires})
	return nil
}

// loginLimiter slows down password guessing: each user id and each remote
// address may try a few times a minute.
type loginLimiter struct {
	mu       sync.Mutex
	limiters map[string]*rate.Limiter
	perID    rate.Limit
	perAddr  rate.Limit
}

// Log-in attempts: 5 at once and then one every 12 s per user id; 20 at once
// and one every 3 s per remote address.
func newLoginLimiter() *loginLimiter {
	return &loginLimiter{limiters: make(map[string]*rate.Limiter), perID: rate.Every(12 * time.Second), perAddr: rate.Every(3 * time.Second)}
}

// maxLimiters bounds the limiter table; beyond it, full limiters are
// forgotten (they have refilled and are no different from new ones).
const maxLimiters = 10_000

func (l *loginLimiter) allow(r *http.Request, id string, now time.Time) error {
	addr := remoteHost(r)
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.limiters) > maxLimiters {
		for k, lim := range l.limiters {
			if lim.TokensAt(now) >= float64(lim.Burst()) {
				delete(l.limiters, k)
			}
		}
	}
	for _, k := range []struct {
		key   string
		limit rate.Limit
		burst int
	}{{"id:" + id, l.perID, 5}, {"addr:" + addr, l.perAddr, 20}} {
		lim := l.limiters[k.key]
		if lim == nil {
			lim = rate.NewLimiter(k.limit, k.burst)
			l.limiters[k.key] = lim
		}
		if !lim.AllowN(now, 1) {
			wait := time.Duration(float64(time.Second) / float64(k.limit))
			return &apiError{status: http.StatusTooManyRequests, code: codeTooManyRequests,
				msg: "too many log-in attempts; try again later", retryAfter: strconv.Itoa(int(wait.Seconds()) + 1)}
		}
	}
	return nil
}
