package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// routeUnmatched labels requests that matched no route (and the mux's own
// redirects), keeping the route label bounded.
const routeUnmatched = "unmatched"

// httpMetrics are the API's own metrics.
type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newHTTPMetrics(reg prometheus.Registerer) (*httpMetrics, error) {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "eldersafe_http_requests_total",
			Help: "HTTP requests answered, by route pattern and status code.",
		}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "eldersafe_http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by route pattern.",
			Buckets: []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route"}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("api metrics: %w", err)
		}
	}
	return m, nil
}

// requestInfo is filled in while a request travels down the chain and read by
// observe once it is answered.
type requestInfo struct {
	route string // the route pattern, e.g. "POST /api/v1/tasks/{id}/ack"
	// action is the route's audit action when it is not the method's.
	action string
	// principal is who made the request, once known: authenticated, or
	// refused with an expired session.
	principal Principal
}

type infoKey struct{}

func infoFrom(ctx context.Context) *requestInfo {
	info, _ := ctx.Value(infoKey{}).(*requestInfo)
	return info
}

// observe counts, times and logs (at debug) every request.
func (a *API) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		info := &requestInfo{}
		rec := &statusRecorder{ResponseWriter: w}
		defer func() {
			// Deferred so that an aborted request (http.ErrAbortHandler) is counted too.
			route := info.route
			if route == "" {
				route = routeUnmatched
			}
			status := rec.statusCode()
			elapsed := time.Since(start)
			a.metrics.requests.WithLabelValues(route, strconv.Itoa(status)).Inc()
			a.metrics.duration.WithLabelValues(route).Observe(elapsed.Seconds())
			attrs := []slog.Attr{
				slog.String("method", r.Method),
				slog.String("route", route),
				slog.String("path", r.URL.Path),
				slog.Int("status", status),
				slog.Duration("duration", elapsed),
				slog.Int64("bytes", rec.bytes),
			}
			if info.principal.ID != "" {
				attrs = append(attrs, slog.String("principal", info.principal.ID))
			}
			a.log.LogAttrs(r.Context(), slog.LevelDebug, "http request", attrs...)
		}()
		next.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), infoKey{}, info)))
	})
}

// recoverPanics turns a panic in a handler into a 500 JSON answer and a log
// entry, so that it neither reaches the client raw nor stops the server.
func (a *API) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w}
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
				panic(v) // the sanctioned way to abort a response; net/http handles it quietly
			}
			route := ""
			if info := infoFrom(r.Context()); info != nil {
				route = info.route
			}
			a.log.Error("panic in HTTP handler", "method", r.Method, "route", route, "path", r.URL.Path,
				"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			if rec.wroteHeader {
				// Part of a response is out: cut the connection rather than let the
				// client take a truncated body for a whole one.
				panic(http.ErrAbortHandler)
			}
			a.writeError(rec, r, &apiError{status: http.StatusInternalServerError, code: codeInternal,
				msg: "internal error", logged: true})
		}()
		next.ServeHTTP(rec, r)
	})
}

// statusRecorder remembers the status and size of a response.
type statusRecorder struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
	bytes       int64
}

func (s *statusRecorder) WriteHeader(code int) {
	if !s.wroteHeader && code >= 200 {
		s.status, s.wroteHeader = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if !s.wroteHeader {
		s.status, s.wroteHeader = http.StatusOK, true
	}
	n, err := s.ResponseWriter.Write(b)
	s.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer (Flush, deadlines).
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (s *statusRecorder) statusCode() int {
	if !s.wroteHeader {
		return http.StatusOK
	}
	return s.status
}
