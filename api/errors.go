package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/tasks"
)

// Error codes of the contract's error body. They are part of the API: clients
// branch on them, so they never change.
const (
	codeInvalid              = "invalid"
	codeBadJSON              = "bad_json"
	codeUnauthorized         = "unauthorized"
	codeForbidden            = "forbidden"
	codeNotFound             = "not_found"
	codeMethodNotAllowed     = "method_not_allowed"
	codeConflict             = "conflict"
	codeInvalidTransition    = "invalid_transition"
	codeWallClock            = "wall_clock"
	codeTooLarge             = "too_large"
	codeUnsupportedMediaType = "unsupported_media_type"
	codeNotReady             = "not_ready"
	codeUnavailable          = "unavailable"
	codeStandby              = "standby"
	codeTooManyRequests      = "too_many_requests"
	codeInternal             = "internal"
)

// apiError is an error with the status and body it answers with.
type apiError struct {
	status int
	code   string
	msg    string
	// err is the cause, logged (never sent) when status is 5xx.
	err error
	// challenge is the WWW-Authenticate header of a 401.
	challenge string
	// retryAfter is the Retry-After header of a 429, in seconds.
	retryAfter string
	// logged: the cause was already logged (a recovered panic).
	logged bool
	// refusal is the kind of a refused request (refusal.go), for the audit
	// and process logs; a 403 is refusedForbidden without saying so.
	// detail tells them what the answer does not (which grid an
	// out-of-scope household is in). Neither is ever sent.
	refusal, detail string
}

// keepRefusal gives e the refusal of from, an error e stands for.
func (e *apiError) keepRefusal(from *apiError) *apiError {
	e.refusal, e.detail = from.refusal, from.detail
	return e
}

func (e *apiError) Error() string { return e.code + ": " + e.msg }
func (e *apiError) Unwrap() error { return e.err }

func errorf(status int, code, format string, args ...any) *apiError {
	return &apiError{status: status, code: code, msg: fmt.Sprintf(format, args...)}
}

// invalidf is a 400 for a value that is wrong; the message names the field.
func invalidf(format string, args ...any) *apiError {
	return errorf(http.StatusBadRequest, codeInvalid, format, args...)
}

// classify maps any error a handler returns to its answer: an *apiError as
// is, the domain's errors by the contract, anything else to a 500 that hides
// the cause.
func classify(err error) *apiError {
	if ae, ok := errors.AsType[*apiError](err); ok {
		return ae
	}
	if ie, ok := errors.AsType[*tasks.InvalidError](err); ok {
		return &apiError{status: http.StatusBadRequest, code: codeInvalid, msg: ie.Msg, err: err}
	}
	if te, ok := errors.AsType[*tasks.TransitionError](err); ok {
		return &apiError{status: http.StatusConflict, code: codeInvalidTransition, msg: te.Error(), err: err}
	}
	if mbe, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return &apiError{status: http.StatusRequestEntityTooLarge, code: codeTooLarge,
			msg: fmt.Sprintf("request body larger than %d bytes", mbe.Limit), err: err}
	}
	switch {
	case errors.Is(err, registry.ErrConflict):
		return &apiError{status: http.StatusConflict, code: codeConflict, msg: err.Error(), err: err}
	case errors.Is(err, registry.ErrUnknownReference):
		return &apiError{status: http.StatusBadRequest, code: codeInvalid, msg: err.Error(), err: err}
	case errors.Is(err, registry.ErrNotFound):
		return &apiError{status: http.StatusNotFound, code: codeNotFound, msg: err.Error(), err: err}
	case errors.Is(err, context.DeadlineExceeded):
		return &apiError{status: http.StatusServiceUnavailable, code: codeUnavailable, msg: "timed out", err: err}
	}
	return &apiError{status: http.StatusInternalServerError, code: codeInternal, msg: "internal error", err: err}
}

// errorBody is the contract's error document.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// writeError answers with err's status and error body, logging server-side
// failures with their cause.
func (a *API) writeError(w http.ResponseWriter, r *http.Request, err error) {
	ae := classify(err)
	switch {
	case ae.status >= 500 && !ae.logged && r.Context().Err() != nil:
		// The client went away; its request was cut short, nothing is broken.
		a.log.Debug("http request abandoned", "method", r.Method, "path", r.URL.Path, "err", err)
	case ae.status >= 500 && !ae.logged:
		a.log.LogAttrs(r.Context(), slog.LevelError, "http request failed",
			slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Any("err", err))
	}
	a.refused(r, ae)
	if ae.retryAfter != "" {
		w.Header().Set("Retry-After", ae.retryAfter)
	}
	a.writeJSON(w, r, ae.status, errorBody{Error: errorDetail{Code: ae.code, Message: ae.msg}})
}
