package api

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// apiPrefix is where the JSON API lives; every route under it needs a token
// unless registered public.
const apiPrefix = "/api/v1"

// handlerFunc is a route's handler: it writes a success response itself and
// returns an error for everything else, which writeError turns into the
// contract's error body.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// routeConfig is what a route asks of the plumbing around it.
type routeConfig struct {
	// public routes need no bearer token (e.g. /healthz, later /api/v1/login).
	public bool
	// roles are the roles besides admin that may call the route. None: admin
	// only, so a role added later reaches nothing it was not granted.
	roles []string
	// unaudited routes touch no personal data (the clock, aggregate reports)
	// and leave no entry in the audit log.
	unaudited bool
	// action is the audit action recorded when it is not the method's
	// (audit.Export for an export).
	action string
	// selfAudited routes record their audit entry themselves, once they know
	// the reason their body gives, with recordReason before they touch anything.
	selfAudited bool
}

type routeOption func(*routeConfig)

// public exempts an /api/v1 route from bearer auth.
func public() routeOption { return func(c *routeConfig) { c.public = true } }

// unaudited keeps a route that touches no personal data out of the audit log.
func unaudited() routeOption { return func(c *routeConfig) { c.unaudited = true } }

// auditAs records the route's accesses as action instead of the method's.
func auditAs(action string) routeOption { return func(c *routeConfig) { c.action = action } }

// selfAudited leaves the audit entry to the handler (see routeConfig).
func selfAudited() routeOption { return func(c *routeConfig) { c.selfAudited = true } }

// allow opens a route to the given roles besides the admin, who may call every route.
func allow(roles ...string) routeOption {
	return func(c *routeConfig) { c.roles = append(c.roles, roles...) }
}

// router registers routes on a ServeMux and remembers which methods each path
// has, so that a wrong method answers 405 in JSON instead of the mux's text.
type router struct {
	a       *API
	mux     *http.ServeMux
	methods map[string][]string // path pattern → methods registered on it
	public  map[string]bool     // path pattern → every route on it is public
	paths   []string            // path patterns in registration order
}

func newRouter(a *API) *router {
	return &router{a: a, mux: http.NewServeMux(), methods: make(map[string][]string), public: make(map[string]bool)}
}

// handle registers h for pattern, which must be "METHOD /path". Routes under
// /api/v1 need a bearer token unless the public option is given; routes
// elsewhere (/healthz, /metrics) never do.
func (rt *router) handle(pattern string, h handlerFunc, opts ...routeOption) {
	method, path, ok := strings.Cut(pattern, " ")
	if !ok || method == "" || !strings.HasPrefix(path, "/") {
		panic(fmt.Sprintf("api: route %q: want \"METHOD /path\"", pattern))
	}
	cfg := routeConfig{public: !underAPI(path)}
	for _, o := range opts {
		o(&cfg)
	}
	rt.mux.Handle(pattern, rt.wrap(pattern, cfg, h))
	if _, seen := rt.methods[path]; !seen {
		rt.paths = append(rt.paths, path)
		rt.public[path] = true
	}
	rt.methods[path] = append(rt.methods[path], method)
	rt.public[path] = rt.public[path] && cfg.public
}

// wrap labels the request with its route, authenticates it when the route
// asks for that, and turns the handler's error into a response.
func (rt *router) wrap(pattern string, cfg routeConfig, h handlerFunc) http.Handler {
	var next http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			rt.a.writeError(w, r, err)
		}
	})
	if !cfg.public {
		next = rt.a.authenticated(cfg, next)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if info := infoFrom(r.Context()); info != nil {
			info.route, info.action = pattern, cfg.action
		}
		next.ServeHTTP(w, r)
	})
}

// finish adds the 405 answers for every registered path and the JSON 404 for
// unknown paths under /api/v1, and returns the mux.
func (rt *router) finish() http.Handler {
	for _, path := range rt.paths {
		allowed := slices.Clone(rt.methods[path])
		if slices.Contains(allowed, http.MethodGet) && !slices.Contains(allowed, http.MethodHead) {
			allowed = append(allowed, http.MethodHead) // a GET pattern also matches HEAD
		}
		allowHeader := strings.Join(allowed, ", ")
		// Open to whoever may call some method of the path.
		cfg := routeConfig{public: rt.public[path], roles: []string{anyRole}, unaudited: true}
		rt.mux.Handle(path, rt.wrap(path, cfg, func(w http.ResponseWriter, r *http.Request) error {
			w.Header().Set("Allow", allowHeader)
			return errorf(http.StatusMethodNotAllowed, codeMethodNotAllowed, "method %s not allowed on %s; allowed: %s", clip(r.Method), clip(r.URL.Path), allowHeader)
		}))
	}
	rt.mux.Handle(apiPrefix+"/", rt.wrap(apiPrefix+"/", routeConfig{roles: []string{anyRole}, unaudited: true}, func(w http.ResponseWriter, r *http.Request) error {
		return errorf(http.StatusNotFound, codeNotFound, "no route %s %s", clip(r.Method), clip(r.URL.Path))
	}))
	return rt.mux
}

func underAPI(path string) bool {
	return path == apiPrefix || strings.HasPrefix(path, apiPrefix+"/")
}
